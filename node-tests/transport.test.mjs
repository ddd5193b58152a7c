// The transport contract cases (tests/transport/transport_cases.ts, as built
// into dist/node-tests/) with the built node:net / node:tls adapter, under
// Node itself. Deno runs the same cases through its node compatibility layer
// (tests/transport/node_test.ts), Bun through its own (bun-tests/transport.test.ts).
// The cases that drive a Client get the built one, which shares its MqttError
// class with the built adapter (the cases' bundle has a copy of its own).

import { test } from "node:test";
import { Client } from "../dist/node/mod.js";
import { nodeDial } from "../dist/node/src/transport/node.js";
import { runCase, TRANSPORT_CASES } from "../dist/node-tests/transport/transport_cases.js";

for (const c of TRANSPORT_CASES) {
  test(`nodeDial() ${c.name}`, { timeout: 30_000 }, () => runCase(c, nodeDial, {}, Client));
}
