// Flow control, latency and shutdown on the defaults, as built for Node
// (dist/node/), against mosquitto with its stock TCP settings: what
// tests/integration/flow_cases.ts checks under Deno and Bun.
//
//   deno run -A tools/build_node.ts && node --test node-tests/

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Client } from "../dist/node/mod.js";
import { startBroker } from "../dist/node-tests/_helpers/broker.js";
import { within } from "./_helpers.mjs";

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A broker for the test `t`, disposed when it ends. */
async function broker(t, options = {}) {
  const b = await startBroker(options);
  t.after(() => b[Symbol.asyncDispose]());
  return b;
}

/** A connected client, disconnected when the test `t` ends. */
async function connected(t, url, options = {}) {
  const client = new Client({ broker: url, connectTimeoutMs: 5000, ...options });
  t.after(() => client.disconnect());
  await client.connect();
  return client;
}

test("Client.subscribe() on the defaults delivers every QoS 1 message, in order, to a slow consumer (node:net, max_inflight_messages 0)", async (t) => {
  const b = await broker(t, { config: ["max_inflight_messages 0"] });
  const sub = await connected(t, b.url, { clientId: "slow", stats: true });
  const pub = await connected(t, b.url, { clientId: "pub" });
  const s = await sub.subscribe([{ topic: "slow/t", qos: 1 }]);
  const n = 300;
  const published = Promise.all(
    Array.from({ length: n }, (_, i) => pub.publish({ topic: "slow/t", payload: `${i}`, qos: 1 })),
  );
  const it = s[Symbol.asyncIterator]();
  const got = [];
  while (got.length < n) {
    const r = await within(it.next(), `message ${got.length}`);
    await delay(2);
    got.push(Number(r.value.text()));
    r.value.ack();
  }
  await within(published, "the publisher's PUBACKs");
  assert.deepEqual(got, Array.from({ length: n }, (_, i) => i));
  assert.equal(sub.stats().inboundDropped, 0);
  assert.ok(sub.stats().inboundBlocked > 0, "reading paused while the buffer was full");
});

test("Client round trips on one connection through subscribe() never wait out a delayed ACK (node:net, stock mosquitto)", async (t) => {
  const b = await broker(t);
  const client = await connected(t, b.url, { clientId: "rt" });
  const s = await client.subscribe([{ topic: "rt/t", qos: 1 }]);
  const it = s[Symbol.asyncIterator]();
  const times = [];
  for (let i = 0; i < 45; i++) {
    const started = performance.now();
    await client.publish({ topic: "rt/t", payload: `${i}`, qos: 1 });
    const r = await within(it.next(), `round trip ${i}`);
    if (i >= 5) times.push(performance.now() - started);
    assert.equal(r.value.text(), `${i}`);
    r.value.ack();
  }
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor(times.length / 2)];
  const p90 = times[Math.floor(times.length * 0.9)];
  assert.ok(p50 < 15, `median ${p50.toFixed(2)} ms: ${times.map((x) => x.toFixed(1))}`);
  assert.ok(p90 < 35, `p90 ${p90.toFixed(2)} ms: ${times.map((x) => x.toFixed(1))}`);
});

const CHILD = fileURLToPath(new URL("./_shutdown_child.mjs", import.meta.url));

for (const mode of ["unsubscribe", "publish"]) {
  test(`Client.disconnect() settles calls a Node program never awaited (${mode}): it exits 0`, async (t) => {
    const b = await broker(t);
    const r = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CHILD, b.url, mode], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => stdout += d);
      child.stderr.on("data", (d) => stderr += d);
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.once("error", reject);
      child.once("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.match(r.stdout, /done/);
  });
}
