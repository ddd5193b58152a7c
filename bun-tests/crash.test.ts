/**
 * Crash safety of Client + FileSessionStore across SIGKILLed child processes,
 * under `bun test`: the cases of tests/integration/crash_test.ts with the
 * children run by Bun (`bun tests/integration/_crash_child.ts`), plus one case
 * killed under Bun and resumed under Deno when Deno is installed.
 *
 * @module
 */

import { test } from "bun:test";
import { crashCases } from "../tests/integration/crash_test.ts";

for (const c of await crashCases("bun")) test(c.name, c.fn, 60_000);
