// The client + SessionStore scenarios of tests/client/store_cases.ts under `bun test`.
import { test } from "bun:test";
import { storeCases } from "../tests/client/store_cases.ts";

for (const c of storeCases) test(c.name, c.fn, 30_000);
