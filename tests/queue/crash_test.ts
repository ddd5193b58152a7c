// Crash safety of the durable queue under `deno test`: 1,000 QoS 1 messages,
// 2 scenarios x 12 SIGKILLs with the session link plus a 4-kill unlinked
// control (see crash_cases.ts). bun-tests/queue_crash.test.ts runs them under Bun.

import { crashCases } from "./crash_cases.ts";

for (const c of crashCases()) Deno.test(c.name, c.fn);
