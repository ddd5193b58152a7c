// `mqttv5 rr` against a real mosquitto, under `bun test`: the cases of
// tests/cli/rr_cases.ts (also run by tests/cli/rr_test.ts), each spawning
// `bun src/cli/mod.ts`.
import { test } from "bun:test";
import { rrCases } from "../tests/cli/rr_cases.ts";

for (const c of rrCases) test(c.name, c.fn, 60_000);
