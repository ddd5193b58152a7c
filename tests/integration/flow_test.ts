// Flow control, latency and shutdown on the defaults against a stock mosquitto,
// under `deno test`. The cases live in flow_cases.ts and also run under
// `bun test` (bun-tests/flow.test.ts).

import { cases } from "./flow_cases.ts";

for (const c of cases) Deno.test(c.name, c.fn);
