// The publisher pool scenarios of tests/integration/pool_cases.ts under `bun test`.
import { test } from "bun:test";
import { poolCases } from "../tests/integration/pool_cases.ts";

for (const c of poolCases) test(c.name, c.fn, 30_000);
