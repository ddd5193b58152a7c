// Flow control, latency and shutdown on the defaults against a stock mosquitto,
// under `bun test`: the cases of tests/integration/flow_cases.ts, also run by
// tests/integration/flow_test.ts.
import { test } from "bun:test";
import { cases } from "../tests/integration/flow_cases.ts";

const TIMEOUT_MS = 60_000;

for (const c of cases) test(c.name, c.fn, TIMEOUT_MS);
