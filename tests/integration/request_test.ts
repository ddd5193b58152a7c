/**
 * Request / response (Client.request(), Client.serve()) against a real
 * mosquitto, under `deno test`. The scenarios live in request_cases.ts and
 * run unchanged under `bun test` (bun-tests/request.test.ts).
 *
 * @module
 */

import { requestIntegrationCases } from "./request_cases.ts";

for (const c of requestIntegrationCases) Deno.test(c.name, c.fn);
