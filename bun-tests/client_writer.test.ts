/**
 * The coalescing writer under `bun test`: the same cases as
 * tests/client/writer_test.ts, from the shared tests/client/writer_cases.ts.
 *
 * @module
 */

import { test } from "bun:test";
import { writerCases } from "../tests/client/writer_cases.ts";

for (const c of writerCases) test(c.name, c.fn);
