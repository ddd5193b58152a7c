// The supervisor against a real mosquitto behind the fault proxy, under
// `bun test`: the cases of tests/integration/supervisor_cases.ts, also run by
// tests/integration/supervisor_test.ts.
import { test } from "bun:test";
import { cases } from "../tests/integration/supervisor_cases.ts";

const TIMEOUT_MS = 60_000;

for (const c of cases) test(c.name, c.fn, TIMEOUT_MS);
