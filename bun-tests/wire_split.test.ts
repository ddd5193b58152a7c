/**
 * The codec's client/server split under `bun test`: the same cases as
 * tests/wire/split_test.ts, from the shared tests/wire/split_cases.ts.
 *
 * @module
 */

import { test } from "bun:test";
import { splitCases } from "../tests/wire/split_cases.ts";

for (const c of splitCases()) test(c.name, c.fn);
