// Every script in examples/ under Bun: `bun examples/<name>.ts`, each
// starting its own broker(s), exits 0 and prints its key lines. The list, the
// runner (3 at a time) and the checks are shared with tests/examples_test.ts.
// Every example runs under Bun: none is left out.

import { test } from "bun:test";
import process from "node:process";
import { check, EXAMPLES, runExamples, SCRIPT_TIMEOUT_MS } from "../tests/examples_test.ts";

const outcome = runExamples((name) => [process.execPath, [`examples/${name}.ts`]]);

for (const name of Object.keys(EXAMPLES)) {
  test(
    `examples/${name}.ts runs to completion`,
    async () => check(name, await outcome(name)),
    // Up to 3 scripts at a time run ahead of this one.
    SCRIPT_TIMEOUT_MS * Math.ceil(Object.keys(EXAMPLES).length / 3),
  );
}
