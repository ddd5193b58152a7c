// Typed, jsonCodec() and msgpackCodec() under `deno test` (sanitizers on). The
// cases live in typed_cases.ts and also run under `bun test`
// (bun-tests/typed.test.ts).

import { cases } from "./typed_cases.ts";

for (const c of cases) Deno.test(c.name, c.fn);
