/**
 * PacketIds under `deno test`; the cases live in packet_ids_cases.ts and run
 * unchanged under `bun test` (bun-tests/session.test.ts).
 *
 * @module
 */

import { packetIdsCases } from "./packet_ids_cases.ts";

for (const c of packetIdsCases) Deno.test(c.name, c.fn);
