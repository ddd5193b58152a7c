// `unix:///path/to/socket` broker URLs under Bun: the parse and endpoint unit
// cases, and the transport cases (UNIX_CASES in
// tests/transport/transport_cases.ts) with bunDial (Bun.connect({ unix })),
// nodeDial (Bun's node:net) and autoDial, against mosquitto's Unix socket
// listener. Deno runs the same cases in tests/transport/unix_test.ts,
// tests/transport/endpoint_test.ts and tests/client/options_unix_test.ts.

import { describe, test } from "bun:test";
import { bunDial } from "../src/transport/bun.ts";
import { nodeDial } from "../src/transport/node.ts";
import { autoDial } from "../src/transport/mod.ts";
import { runCase, UNIX_CASES } from "../tests/transport/transport_cases.ts";
import { endpointCases } from "../tests/transport/endpoint_cases.ts";
import { optionsUnixCases } from "../tests/client/options_unix_cases.ts";

describe("unix: URLs", () => {
  for (const c of optionsUnixCases) test(c.name, c.fn);
  for (const c of endpointCases) test(c.name, c.fn);
});

describe("bunDial() over a Unix socket", () => {
  for (const c of UNIX_CASES) test(c.name, () => runCase(c, bunDial), 30_000);
});

describe("nodeDial() under Bun over a Unix socket", () => {
  for (const c of UNIX_CASES) test(c.name, () => runCase(c, nodeDial), 30_000);
});

describe("autoDial() over a Unix socket", () => {
  const qos = UNIX_CASES.find((c) => c.name.startsWith("unix: Client subscribes"))!;
  test(qos.name, () => runCase(qos, autoDial), 30_000);
});
