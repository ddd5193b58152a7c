// The `mqttv5` CLI against a real mosquitto, under `deno test` (sanitizers on):
// each case spawns `deno run -A src/cli/mod.ts`. The cases live in
// cli_cases.ts and also run under `bun test` (bun-tests/cli.test.ts).

import { cases } from "./cli_cases.ts";

for (const c of cases) Deno.test(c.name, c.fn);
