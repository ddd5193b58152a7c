/**
 * ClientOptions.rateLimit under `deno test`. The scenarios live in
 * rate_limit_cases.ts and run unchanged under `bun test`
 * (bun-tests/rate_limit.test.ts).
 *
 * @module
 */

import { rateLimitCases } from "./rate_limit_cases.ts";

for (const c of rateLimitCases) Deno.test(c.name, c.fn);
