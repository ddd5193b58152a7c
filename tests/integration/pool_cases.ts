// The publisher pool (ClientOptions.publisherPool) against a real mosquitto:
// member identities, round-robin spread, per-topic order with hash-by-topic,
// fallback to the main connection, a refusal not retried elsewhere.
//
// Runtime-neutral: tests/integration/pool_test.ts (Deno) and
// bun-tests/pool.test.ts (Bun) run these cases.

import assert from "node:assert/strict";
import { Client, type DialFunc, type Message } from "../../mod.ts";
import { autoDial } from "../../src/transport/mod.ts";
import { startBroker } from "../_helpers/broker.ts";
import { fnv1a32 } from "../../src/client/_fnv.ts";
import { waitUntil } from "../_helpers/timing.ts";

/** One scenario. */
export interface PoolCase {
  name: string;
  fn: () => Promise<void>;
}

export const poolCases: PoolCase[] = [];
const add = (name: string, fn: () => Promise<void>) => poolCases.push({ name, fn });

add("Client publisherPool connects members with derived client ids, publish-only", async () => {
  await using broker = await startBroker();
  await using client = new Client({
    broker: broker.url,
    clientId: "pooled",
    publisherPool: { size: 3 },
    reconnectBackoff: () => 50,
  });
  await client.connect();
  await waitUntil(() => client.poolMembers.every((m) => m.connected), 5000, "members up");
  assert.deepEqual(client.poolMembers.map((m) => m.clientId), [
    "pooled-pub-1",
    "pooled-pub-2",
    "pooled-pub-3",
  ]);
  // The parent's session settings do not leak: members start clean with no session.
  for (const m of client.poolMembers) assert.equal(m.connack?.sessionPresent, false);
});

add("Client publisherPool round-robin spreads publishes over every member", async () => {
  await using broker = await startBroker();
  await using sub = new Client({ broker: broker.url, clientId: "rr-sub" });
  await sub.connect();
  let got = 0;
  await sub.subscribeCallback([{ topic: "rr/#", qos: 1 }], () => got++);
  await using client = new Client({
    broker: broker.url,
    clientId: "rr",
    stats: true,
    publisherPool: { size: 3, routing: "round-robin", clientId: (p, i) => `${p}/member-${i}` },
  });
  await client.connect();
  await waitUntil(() => client.poolMembers.every((m) => m.connected), 5000, "members up");
  await Promise.all(
    Array.from(
      { length: 30 },
      (_, i) => client.publish({ topic: `rr/${i}`, payload: `${i}`, qos: 1 }),
    ),
  );
  await waitUntil(() => got === 30, 5000, "all 30 delivered");
  const sent = client.poolMembers.map((m) => m.stats().publishesSent);
  assert.deepEqual(sent, [10, 10, 10]);
  assert.equal(client.stats().publishesSent, 0, "the main connection published nothing");
  assert.equal(client.stats().poolFallbacks, 0);
});

add(
  "Client publisherPool hash-by-topic keeps per-topic order and sticks each topic to one member",
  async () => {
    await using broker = await startBroker();
    await using sub = new Client({ broker: broker.url, clientId: "hash-sub" });
    await sub.connect();
    const seen = new Map<string, number[]>();
    await sub.subscribeCallback([{ topic: "h/#", qos: 1 }], (m: Message) => {
      const list = seen.get(m.topic) ?? [];
      list.push(Number(m.text()));
      seen.set(m.topic, list);
    });
    await using client = new Client({
      broker: broker.url,
      clientId: "hash",
      stats: true,
      publisherPool: { size: 4, routing: "hash-by-topic" },
    });
    await client.connect();
    await waitUntil(() => client.poolMembers.every((m) => m.connected), 5000, "members up");
    const topics = ["h/a", "h/b", "h/c", "h/d", "h/e", "h/f"];
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      for (const t of topics) all.push(client.publish({ topic: t, payload: `${i}`, qos: 1 }));
    }
    await Promise.all(all);
    await waitUntil(
      () => [...seen.values()].reduce((n, l) => n + l.length, 0) === 1200,
      10_000,
      "1200 delivered",
    );
    for (const t of topics) {
      assert.deepEqual(
        seen.get(t),
        Array.from({ length: 200 }, (_, i) => i),
        t,
      );
    }
    // Each member sent exactly the topics that hash to it.
    const expected = [0, 0, 0, 0];
    for (const t of topics) expected[fnv1a32(t) % 4] += 200;
    assert.deepEqual(client.poolMembers.map((m) => m.stats().publishesSent), expected);
  },
);

add(
  "Client publisherPool falls back to the main connection when no member is healthy",
  async () => {
    await using broker = await startBroker();
    await using sub = new Client({ broker: broker.url, clientId: "fb-sub" });
    await sub.connect();
    let got = 0;
    await sub.subscribeCallback([{ topic: "fb/#", qos: 1 }], () => got++);
    // The first dial (the main connection) goes through; every member's dial is refused.
    let dials = 0;
    const dial: DialFunc = (url, options) => {
      dials++;
      if (dials === 1) return autoDial(url, options);
      return Promise.reject(new Error("refused by the test"));
    };
    await using client = new Client({
      broker: broker.url,
      clientId: "fb",
      stats: true,
      dial,
      reconnectBackoff: () => 50,
      publisherPool: { size: 2 },
    });
    await client.connect();
    await waitUntil(() => dials >= 3, 2000, "members tried to connect");
    assert.ok(client.poolMembers.every((m) => !m.connected));
    await client.publish({ topic: "fb/1", payload: "x", qos: 1 });
    await client.publish({ topic: "fb/2", payload: "y", qos: 0 });
    await waitUntil(() => got === 2, 5000, "both delivered through the main connection");
    assert.equal(client.stats().poolFallbacks, 2);
    assert.equal(client.stats().publishesSent, 2);
  },
);

add("Client publisherPool does not retry a refusal on another member", async () => {
  // mosquitto announces a Maximum Packet Size of 200 in every CONNACK, so the member
  // the pool picked refuses an oversized publish; the parent must neither try the
  // other member nor fall back to the main connection.
  await using broker = await startBroker({ config: ["max_packet_size 200"] });
  await using client = new Client({
    broker: broker.url,
    clientId: "refuse",
    stats: true,
    publisherPool: { size: 2 },
  });
  await client.connect();
  await waitUntil(() => client.poolMembers.every((m) => m.connected), 5000, "members up");
  // The broker's Maximum Packet Size (200) is in every member's CONNACK: the member refuses
  // before the wire, and the parent does not try the other member or itself.
  await assert.rejects(
    client.publish({ topic: "big", payload: new Uint8Array(500), qos: 1 }),
    (e: Error & { code?: string }) => e.code === "packet-too-large",
  );
  const sent = client.poolMembers.map((m) => m.stats().publishesSent);
  assert.deepEqual(sent, [0, 0]);
  assert.equal(client.stats().publishesSent, 0);
  assert.equal(client.stats().poolFallbacks, 0);
});

add(
  "Client.connect() resolves with the pool's members connected, so the first publishes use them",
  async () => {
    await using broker = await startBroker();
    await using client = new Client({
      broker: broker.url,
      clientId: "ready",
      stats: true,
      publisherPool: { size: 3 },
    });
    await client.connect();
    assert.ok(
      client.poolMembers.every((m) => m.connected),
      "every member is up when connect() resolves",
    );
    await Promise.all(
      Array.from({ length: 9 }, (_, i) => client.publish({ topic: `r/${i}`, qos: 1 })),
    );
    assert.equal(client.stats().poolFallbacks, 0);
    assert.deepEqual(client.poolMembers.map((m) => m.stats().publishesSent), [3, 3, 3]);
  },
);
