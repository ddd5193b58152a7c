/**
 * StatusStream under `bun test`: the same cases as tests/client/status_test.ts,
 * from the shared tests/client/status_cases.ts.
 *
 * @module
 */

import { test } from "bun:test";
import { statusCases } from "../tests/client/status_cases.ts";

for (const c of statusCases) test(c.name, c.fn);
