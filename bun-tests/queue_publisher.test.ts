/**
 * QueuePublisher against mosquitto and the scripted broker under `bun test`:
 * the cases of tests/queue/publisher_cases.ts, also run by
 * tests/queue/publisher_test.ts.
 *
 * @module
 */

import { test } from "bun:test";
import { publisherCases } from "../tests/queue/publisher_cases.ts";

for (const c of publisherCases) test(c.name, c.fn, c.timeoutMs ?? 60_000);
