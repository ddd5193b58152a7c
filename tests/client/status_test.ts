/**
 * StatusStream under `deno test`; the cases live in status_cases.ts and run
 * unchanged under `bun test` (bun-tests/client_status.test.ts).
 *
 * @module
 */

import { statusCases } from "./status_cases.ts";

for (const c of statusCases) Deno.test(c.name, c.fn);
