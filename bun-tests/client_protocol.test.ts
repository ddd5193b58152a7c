/**
 * Client protocol behaviours against the scripted FakeBroker, under
 * `bun test`: the same cases as tests/client/protocol_test.ts, from the shared
 * tests/client/protocol_cases.ts.
 *
 * @module
 */

import { test } from "bun:test";
import { protocolCases } from "../tests/client/protocol_cases.ts";

for (const c of protocolCases) test(c.name, c.fn);
