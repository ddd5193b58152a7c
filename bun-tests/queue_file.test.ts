/**
 * PublisherQueue conformance (memory and file backends) and the
 * FilePublisherQueue cases (durability, group commit, segments, recovery,
 * the lock) under `bun test`, where the file queue runs on node:fs/promises:
 * the cases of tests/queue/queue_cases.ts, also run by tests/queue/queue_test.ts.
 *
 * @module
 */

import { test } from "bun:test";
import { queueCases } from "../tests/queue/queue_cases.ts";

for (const c of queueCases) test(c.name, c.fn, c.timeoutMs ?? 60_000);
