/**
 * The hand-computed wire fixture tables under `bun test`: the same cases as
 * tests/wire/fixtures_test.ts, from the shared tests/wire/fixture_cases.ts.
 *
 * @module
 */

import { test } from "bun:test";
import { wireFixtureCases } from "../tests/wire/fixture_cases.ts";

for (const c of wireFixtureCases()) test(c.name, c.fn);
