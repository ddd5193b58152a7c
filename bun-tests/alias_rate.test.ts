// The autoTopicAlias / rateLimit scenarios of tests/integration/alias_rate_cases.ts under `bun test`.
import { test } from "bun:test";
import { aliasRateCases } from "../tests/integration/alias_rate_cases.ts";

for (const c of aliasRateCases) test(c.name, c.fn, 30_000);
