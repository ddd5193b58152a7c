/**
 * The codec's client/server split under `deno test`: the cases live in
 * split_cases.ts and run unchanged under `bun test`
 * (bun-tests/wire_split.test.ts).
 *
 * @module
 */

import { splitCases } from "./split_cases.ts";

for (const c of splitCases()) Deno.test(c.name, c.fn);
