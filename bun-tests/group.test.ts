// ClientGroup against two real mosquitto instances, under `bun test`: the cases
// of tests/group/client_group_cases.ts, also run by tests/group/client_group_test.ts.
import { test } from "bun:test";
import { cases } from "../tests/group/client_group_cases.ts";

const TIMEOUT_MS = 60_000;

for (const c of cases) test(c.name, c.fn, TIMEOUT_MS);
