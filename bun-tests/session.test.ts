/**
 * The session engine (src/session/) under `bun test`: the same cases as
 * tests/session/packet_ids_test.ts, outbound_test.ts, inbound_test.ts and
 * model_test.ts, from the shared tests/session/*_cases.ts.
 *
 * @module
 */

import { test } from "bun:test";
import { inboundCases } from "../tests/session/inbound_cases.ts";
import { modelCases } from "../tests/session/model_cases.ts";
import { outboundCases } from "../tests/session/outbound_cases.ts";
import { packetIdsCases } from "../tests/session/packet_ids_cases.ts";

for (const c of packetIdsCases) test(c.name, c.fn);
for (const c of outboundCases) test(c.name, c.fn);
for (const c of inboundCases) test(c.name, c.fn);
for (const c of modelCases) test(c.name, c.fn, 60_000);
