/**
 * Client protocol behaviours against the scripted FakeBroker, under
 * `deno test`. The scenarios live in protocol_cases.ts and run unchanged under
 * `bun test` (bun-tests/client_protocol.test.ts).
 *
 * @module
 */

import { protocolCases } from "./protocol_cases.ts";

for (const c of protocolCases) Deno.test(c.name, c.fn);
