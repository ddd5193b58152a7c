// The transport cases (transport_cases.ts) with denoDial, against mosquitto,
// and the runtime picker in src/transport/mod.ts.

import assert from "node:assert/strict";
import { denoDial } from "../../src/transport/deno.ts";
import { autoDial, defaultDial, detectRuntime } from "../../src/transport/mod.ts";
import { runCase, TRANSPORT_CASES } from "./transport_cases.ts";

for (const c of TRANSPORT_CASES) {
  Deno.test(
    `denoDial() ${c.name}`,
    () => runCase(c, denoDial, { abortedTlsHandshakeLingers: true }),
  );
}

Deno.test("detectRuntime() is deno and defaultDial() loads denoDial", async () => {
  assert.equal(detectRuntime(), "deno");
  assert.equal(await defaultDial(), denoDial);
  assert.equal(await defaultDial(), await defaultDial());
});

const plain = TRANSPORT_CASES.find((c) => c.name.startsWith("plain TCP: CONNECT"))!;
Deno.test(`autoDial() ${plain.name}`, () => runCase(plain, autoDial));
