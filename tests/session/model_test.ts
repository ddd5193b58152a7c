/**
 * The session engine model under `deno test`; the cases live in
 * model_cases.ts and run unchanged under `bun test` (bun-tests/session.test.ts).
 * A longer run is `deno task model` (tests/session/model_main.ts).
 *
 * @module
 */

import { modelCases } from "./model_cases.ts";

for (const c of modelCases) Deno.test(c.name, c.fn);
