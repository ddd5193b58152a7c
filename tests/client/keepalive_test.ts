/**
 * The keep-alive schedule under `deno test`; the cases live in
 * keepalive_cases.ts and run unchanged under `bun test`
 * (bun-tests/client_keepalive.test.ts).
 *
 * @module
 */

import { keepAliveCases } from "./keepalive_cases.ts";

for (const c of keepAliveCases) Deno.test(c.name, c.fn);
