// QueuePublisher against mosquitto and the scripted broker, under `deno test`;
// bun-tests/queue_publisher.test.ts runs the same cases under `bun test`.

import { publisherCases } from "./publisher_cases.ts";

for (const c of publisherCases) Deno.test(c.name, c.fn);
