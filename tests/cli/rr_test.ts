// `mqttv5 rr` against a real mosquitto, under `deno test` (sanitizers on):
// each case spawns `deno run -A src/cli/mod.ts`. The cases live in
// rr_cases.ts and also run under `bun test` (bun-tests/cli_rr.test.ts).

import { rrCases } from "./rr_cases.ts";

for (const c of rrCases) Deno.test(c.name, c.fn);
