// FileSessionStore under `deno test` (sanitizers on). The cases live in
// file_store_cases.ts and also run under `bun test` (bun-tests/file_store.test.ts).

import { cases } from "./file_store_cases.ts";

for (const c of cases) Deno.test(c.name, c.fn);
