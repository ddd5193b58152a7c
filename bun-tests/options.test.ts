/**
 * Option validation under `bun test`: the same cases as
 * tests/client/options_test.ts, from the shared tests/client/options_cases.ts.
 *
 * @module
 */

import { test } from "bun:test";
import { optionsCases } from "../tests/client/options_cases.ts";

for (const c of optionsCases) test(c.name, c.fn);
