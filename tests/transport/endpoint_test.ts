/**
 * Where the adapters dial (endpoint_cases.ts) under `deno test`; the cases
 * also run under `bun test` (bun-tests/transport_unix.test.ts).
 *
 * @module
 */

import { endpointCases } from "./endpoint_cases.ts";

for (const c of endpointCases) Deno.test(c.name, c.fn);
