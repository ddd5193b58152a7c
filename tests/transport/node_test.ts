// The transport cases (transport_cases.ts) with nodeDial, under Deno's
// node:net / node:tls. bun-tests/transport.test.ts runs them under Bun.

import { nodeDial } from "../../src/transport/node.ts";
import { runCase, TRANSPORT_CASES } from "./transport_cases.ts";

for (const c of TRANSPORT_CASES) {
  Deno.test(`nodeDial() ${c.name}`, () => runCase(c, nodeDial, { pausedTlsStillReads: true }));
}
