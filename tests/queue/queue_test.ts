// PublisherQueue conformance (memory and file backends) and the
// FilePublisherQueue cases under `deno test`; bun-tests/queue_file.test.ts
// runs the same cases under `bun test`.

import { queueCases } from "./queue_cases.ts";

for (const c of queueCases) Deno.test(c.name, c.fn);
