/**
 * Drives the hand-computed fixture tables (fixtures.ts, error_fixtures.ts)
 * through the codec under `deno test`. The checks live in fixture_cases.ts and
 * run unchanged under `bun test` (bun-tests/wire_fixtures.test.ts).
 *
 * @module
 */

import { wireFixtureCases } from "./fixture_cases.ts";

for (const c of wireFixtureCases()) Deno.test(c.name, c.fn);
