// wsDial() through a WebSocket bridge to a real mosquitto, under `deno test`
// (sanitizers on). The cases live in ws_cases.ts and also run under `bun test`
// (bun-tests/ws.test.ts).

import { cases } from "./ws_cases.ts";

for (const c of cases) Deno.test(c.name, c.fn);
