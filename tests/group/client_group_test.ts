// ClientGroup against two real mosquitto instances, under `deno test`
// (sanitizers on). The cases live in client_group_cases.ts and also run under
// `bun test` (bun-tests/group.test.ts).

import { cases } from "./client_group_cases.ts";

for (const c of cases) Deno.test(c.name, c.fn);
