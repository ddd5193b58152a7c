// The supervisor against a real mosquitto behind the fault proxy, under
// `deno test` (sanitizers on). The cases live in supervisor_cases.ts and also
// run under `bun test` (bun-tests/supervisor.test.ts).

import { cases } from "./supervisor_cases.ts";

for (const c of cases) Deno.test(c.name, c.fn);
