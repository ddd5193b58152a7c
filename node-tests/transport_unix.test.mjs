// `unix:///path/to/socket` broker URLs under Node itself: the Unix socket
// cases (UNIX_CASES of tests/transport/transport_cases.ts, as built into
// dist/node-tests/) with the built node:net adapter and with autoDial, against
// mosquitto's Unix socket listener. Deno runs the same cases in
// tests/transport/unix_test.ts, Bun in bun-tests/transport_unix.test.ts. The
// cases that drive a Client get the built one, which shares its MqttError
// class with the built adapter.

import { test } from "node:test";
import { Client } from "../dist/node/mod.js";
import { nodeDial } from "../dist/node/src/transport/node.js";
import { runCase, UNIX_CASES } from "../dist/node-tests/transport/transport_cases.js";

for (const c of UNIX_CASES) {
  test(`nodeDial() ${c.name}`, { timeout: 30_000 }, () => runCase(c, nodeDial, {}, Client));
}
