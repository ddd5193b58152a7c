/**
 * ClientOptions.autoTopicAlias under `deno test`. The scenarios live in
 * auto_alias_cases.ts and run unchanged under `bun test`
 * (bun-tests/auto_alias.test.ts).
 *
 * @module
 */

import { autoAliasCases } from "./auto_alias_cases.ts";

for (const c of autoAliasCases) Deno.test(c.name, c.fn);
