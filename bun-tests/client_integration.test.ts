// Client against a real mosquitto, under `bun test`: the cases of
// tests/integration/client_cases.ts, also run by tests/integration/client_test.ts.
import { test } from "bun:test";
import { cases } from "../tests/integration/client_cases.ts";

const TIMEOUT_MS = 60_000;

for (const c of cases) test(c.name, c.fn, TIMEOUT_MS);
