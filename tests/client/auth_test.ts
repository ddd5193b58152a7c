/**
 * Enhanced authentication (SCRAM-SHA-256 at CONNECT and re-authentication),
 * connectPacketBuilder and credential hygiene of Client against the scripted
 * FakeBroker, under `deno test`. The scenarios live in auth_cases.ts and run
 * unchanged under `bun test` (bun-tests/client_auth.test.ts).
 *
 * @module
 */

import { authCases } from "./auth_cases.ts";

for (const c of authCases) Deno.test(c.name, c.fn);
