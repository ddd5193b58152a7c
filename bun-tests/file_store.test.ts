// FileSessionStore under `bun test`, where its file-system layer is
// node:fs/promises: the cases of tests/store/file_store_cases.ts, also run by
// tests/store/file_store_test.ts.
import { test } from "bun:test";
import { cases } from "../tests/store/file_store_cases.ts";

const TIMEOUT_MS = 60_000;

for (const c of cases) test(c.name, c.fn, TIMEOUT_MS);
