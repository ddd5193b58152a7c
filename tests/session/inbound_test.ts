/**
 * Inbound and InboundAcks under `deno test`; the cases live in
 * inbound_cases.ts and run unchanged under `bun test` (bun-tests/session.test.ts).
 *
 * @module
 */

import { inboundCases } from "./inbound_cases.ts";

for (const c of inboundCases) Deno.test(c.name, c.fn);
