// wsDial() through a WebSocket bridge to a real mosquitto, under `bun test`:
// the cases of tests/transport/ws_cases.ts, also run by tests/transport/ws_test.ts.
import { test } from "bun:test";
import { cases } from "../tests/transport/ws_cases.ts";

const TIMEOUT_MS = 60_000;

for (const c of cases) test(c.name, c.fn, TIMEOUT_MS);
