/**
 * Request / response (Client.request(), Client.serve(), the `rr` CLI) under
 * `bun test`: the FakeBroker cases of tests/client/request_cases.ts and the
 * mosquitto cases of tests/integration/request_cases.ts, as the Deno runners
 * tests/client/request_test.ts and tests/integration/request_test.ts run them.
 *
 * @module
 */

import { test } from "bun:test";
import { requestCases } from "../tests/client/request_cases.ts";
import { requestIntegrationCases } from "../tests/integration/request_cases.ts";

for (const c of requestCases) test(c.name, c.fn);
for (const c of requestIntegrationCases) test(c.name, c.fn, 30_000);
