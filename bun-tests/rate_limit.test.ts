/**
 * ClientOptions.rateLimit under `bun test`: the same cases as
 * tests/client/rate_limit_test.ts, from tests/client/rate_limit_cases.ts.
 *
 * @module
 */

import { test } from "bun:test";
import { rateLimitCases } from "../tests/client/rate_limit_cases.ts";

for (const c of rateLimitCases) test(c.name, c.fn);
