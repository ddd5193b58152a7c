/**
 * The keep-alive schedule under `bun test`: the same cases as
 * tests/client/keepalive_test.ts, from tests/client/keepalive_cases.ts.
 *
 * @module
 */

import { test } from "bun:test";
import { keepAliveCases } from "../tests/client/keepalive_cases.ts";

for (const c of keepAliveCases) test(c.name, c.fn);
