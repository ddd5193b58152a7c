/**
 * The coalescing writer under `deno test`; the cases live in writer_cases.ts
 * and run unchanged under `bun test` (bun-tests/client_writer.test.ts).
 *
 * @module
 */

import { writerCases } from "./writer_cases.ts";

for (const c of writerCases) Deno.test(c.name, c.fn);
