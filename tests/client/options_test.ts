/**
 * Option validation under `deno test`; the cases live in options_cases.ts and
 * also run under `bun test` (bun-tests/options.test.ts).
 *
 * @module
 */

import { optionsCases } from "./options_cases.ts";

for (const c of optionsCases) Deno.test(c.name, c.fn);
