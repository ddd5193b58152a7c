// The transport cases (tests/transport/transport_cases.ts) under Bun, with
// bunDial (Bun.connect) and nodeDial (Bun's node:net / node:tls), against
// mosquitto. Deno runs the same cases in tests/transport/.

import { describe, test } from "bun:test";
import { bunDial } from "../src/transport/bun.ts";
import { nodeDial } from "../src/transport/node.ts";
import { autoDial, defaultDial, detectRuntime } from "../src/transport/mod.ts";
import { lingerCase } from "../tests/transport/linger_cases.ts";
import { runCase, TRANSPORT_CASES } from "../tests/transport/transport_cases.ts";
import assert from "node:assert/strict";

describe("bunDial()", () => {
  for (const c of TRANSPORT_CASES) test(c.name, () => runCase(c, bunDial), 30_000);
  test(
    "waits a moment before reading again when onData answers true; pause() still holds",
    () => lingerCase(bunDial),
    10_000,
  );
});

describe("nodeDial() under Bun", () => {
  for (const c of TRANSPORT_CASES) test(c.name, () => runCase(c, nodeDial), 30_000);
});

describe("autoDial()", () => {
  test("detectRuntime() is bun and defaultDial() loads bunDial", async () => {
    assert.equal(detectRuntime(), "bun");
    assert.equal(await defaultDial(), bunDial);
  });
  const plain = TRANSPORT_CASES.find((c) => c.name.startsWith("plain TCP: CONNECT"))!;
  test(plain.name, () => runCase(plain, autoDial), 30_000);
});
