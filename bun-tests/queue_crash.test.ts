/**
 * Crash safety of QueuePublisher + FilePublisherQueue + FileSessionStore under
 * `bun test`: the scenarios of tests/queue/crash_cases.ts with the children
 * run by Bun, at half the kills of the Deno suite.
 *
 * @module
 */

import { test } from "bun:test";
import { crashCases } from "../tests/queue/crash_cases.ts";

for (const c of crashCases(0.5)) test(c.name, c.fn, c.timeoutMs ?? 120_000);
