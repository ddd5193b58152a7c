/**
 * Enhanced authentication, connectPacketBuilder and credential hygiene of
 * Client against the scripted FakeBroker, under `bun test`: the same cases as
 * tests/client/auth_test.ts, from the shared tests/client/auth_cases.ts.
 *
 * @module
 */

import { test } from "bun:test";
import { authCases } from "../tests/client/auth_cases.ts";

for (const c of authCases) test(c.name, c.fn);
