/**
 * `unix:///path/to/socket` broker URLs under `deno test`; the cases live in
 * options_unix_cases.ts and also run under `bun test`
 * (bun-tests/transport_unix.test.ts).
 *
 * @module
 */

import { optionsUnixCases } from "./options_unix_cases.ts";

for (const c of optionsUnixCases) Deno.test(c.name, c.fn);
