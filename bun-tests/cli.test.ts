// The `mqttv5` CLI against a real mosquitto, under `bun test`: the cases of
// tests/cli/cli_cases.ts (also run by tests/cli/cli_test.ts), each spawning
// `bun src/cli/mod.ts`.
import { test } from "bun:test";
import { cases } from "../tests/cli/cli_cases.ts";

const TIMEOUT_MS = 60_000;

for (const c of cases) test(c.name, c.fn, TIMEOUT_MS);
