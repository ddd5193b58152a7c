/**
 * ClientOptions.autoTopicAlias under `bun test`: the same cases as
 * tests/client/auto_alias_test.ts, from tests/client/auto_alias_cases.ts.
 *
 * @module
 */

import { test } from "bun:test";
import { autoAliasCases } from "../tests/client/auto_alias_cases.ts";

for (const c of autoAliasCases) test(c.name, c.fn);
