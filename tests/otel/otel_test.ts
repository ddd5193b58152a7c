// instrument() and messageContext() (src/otel/mod.ts) under `deno test` (sanitizers
// on). The cases live in otel_cases.ts and also run under `bun test`
// (bun-tests/otel.test.ts).

import { cases } from "./otel_cases.ts";

for (const c of cases) Deno.test(c.name, c.fn);
