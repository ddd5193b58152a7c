// The `unix:///path/to/socket` cases (UNIX_CASES in transport_cases.ts) with
// denoDial (Deno.connect({ transport: "unix" })), with nodeDial under Deno's
// node:net, and with autoDial, against mosquitto's Unix socket listener.
// bun-tests/transport_unix.test.ts runs them under Bun,
// node-tests/transport_unix.test.mjs under Node.

import { denoDial } from "../../src/transport/deno.ts";
import { nodeDial } from "../../src/transport/node.ts";
import { autoDial } from "../../src/transport/mod.ts";
import { runCase, UNIX_CASES } from "./transport_cases.ts";

for (const c of UNIX_CASES) Deno.test(`denoDial() ${c.name}`, () => runCase(c, denoDial));

for (const c of UNIX_CASES) Deno.test(`nodeDial() ${c.name}`, () => runCase(c, nodeDial));

const qos = UNIX_CASES.find((c) => c.name.startsWith("unix: Client subscribes"))!;
Deno.test(`autoDial() ${qos.name}`, () => runCase(qos, autoDial));
