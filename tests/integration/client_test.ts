// Client against a real mosquitto, under `deno test` (sanitizers on).
// The cases live in client_cases.ts and also run under `bun test`
// (bun-tests/client_integration.test.ts).

import { cases } from "./client_cases.ts";

for (const c of cases) Deno.test(c.name, c.fn);
