/**
 * Outbound under `deno test`; the cases live in outbound_cases.ts and run
 * unchanged under `bun test` (bun-tests/session.test.ts).
 *
 * @module
 */

import { outboundCases } from "./outbound_cases.ts";

for (const c of outboundCases) Deno.test(c.name, c.fn);
