/**
 * A publisher pool: `publisherPool: { size: 4 }` opens 4 extra publish-only
 * connections to the same broker and spreads `publish()` over them, lifting
 * throughput above what one socket carries. `routing: "hash-by-topic"` sends
 * each topic through one member, which keeps per-topic order. Pool members
 * use clean, non-persistent sessions: a drop mid-flight becomes at-least-once;
 * publish ledger-style work on a client without a pool.
 *
 * ```sh
 * deno run -A examples/publisher_pool.ts                          # starts a local mosquitto
 * deno run -A examples/publisher_pool.ts mqtt://127.0.0.1:1883    # or MQTT_URL=...; also: bun examples/publisher_pool.ts
 * ```
 *
 * @module
 */

import process from "node:process";
import { Client } from "../mod.ts";
import { startBroker } from "../tests/_helpers/broker.ts";

const given = process.argv[2] ?? process.env.MQTT_URL;
await using local = given === undefined ? await startBroker() : undefined;
const url = given ?? local!.url;

const id = crypto.randomUUID().slice(0, 8);
await using client = new Client({
  broker: url,
  clientId: `pool-${id}`, // members are pool-<id>-pub-1 ... -4 (publisherPool.clientId to change)
  publisherPool: { size: 4, routing: "hash-by-topic" },
  stats: true,
});
await client.connect({ signal: AbortSignal.timeout(10_000) });
// The members connect in the background once connect() resolved; until one is up, publish()
// falls back to the main connection (counted in stats().poolFallbacks). Wait for them here.
const deadline = Date.now() + 5_000;
while (!client.poolMembers.every((m) => m.connected)) {
  if (Date.now() > deadline) throw new Error("the pool did not connect within 5 s");
  await new Promise((resolve) => setTimeout(resolve, 10));
}
console.log(`connected to ${url} with a pool of ${client.poolMembers.length} publishers`);

// Subscriptions stay on the main connection.
const base = `events/${id}/tick`;
const sub = await client.subscribeQueue([{ topic: `${base}/+`, qos: 1 }]);

const N = 100;
const started = performance.now();
await Promise.all(
  Array.from(
    { length: N },
    (_, i) =>
      client.publish({ topic: `${base}/${i % 4}`, payload: JSON.stringify({ n: i }), qos: 1 }),
  ),
);
const ms = (performance.now() - started).toFixed(1);
console.log(`published ${N} QoS 1 messages over 4 topics in ${ms} ms`);

const lastPerTopic = new Map<string, number>();
for (let received = 0; received < N; received++) {
  const m = await sub.queue.dequeue({ signal: AbortSignal.timeout(5_000) });
  if (m === undefined) throw new Error(`received ${received} of ${N} within 5 s`);
  const { n } = m.json<{ n: number }>();
  // hash-by-topic: one member per topic, so each topic arrives in order.
  if (n < (lastPerTopic.get(m.topic) ?? -1)) throw new Error(`${m.topic} out of order`);
  lastPerTopic.set(m.topic, n);
  m.ack();
}
const perMember = client.poolMembers.map((m) => `${m.clientId}: ${m.stats().publishesSent}`);
console.log(`received all ${N}, in order per topic; sent by ${perMember.join(", ")}`);
console.log(`main connection: ${client.stats().poolFallbacks} fallbacks`);
