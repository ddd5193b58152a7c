/**
 * Request / response (Client.request(), Client.serve()) against the scripted
 * FakeBroker, under `deno test`. The scenarios live in request_cases.ts and
 * run unchanged under `bun test` (bun-tests/request.test.ts).
 *
 * @module
 */

import { requestCases } from "./request_cases.ts";

for (const c of requestCases) Deno.test(c.name, c.fn);
