/**
 * Subscribe into a {@linkcode Queue}. By default it holds up to 1024 messages
 * and then slows the broker, losing nothing (`dropPolicy: "block"`); here
 * `dropPolicy: "drop-oldest"` evicts (and acks) the head when `maxQueueSize`
 * is reached instead, so the freshest N messages survive. Consume with
 * `queue.dequeue({ signal })` (or `for await`); ack every message.
 *
 * ```sh
 * deno run -A examples/subscribe_queue.ts                          # starts a local mosquitto
 * deno run -A examples/subscribe_queue.ts mqtt://127.0.0.1:1883    # or MQTT_URL=...; also: bun examples/subscribe_queue.ts
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

await using client = new Client({
  broker: url,
  clientId: `example-${crypto.randomUUID().slice(0, 8)}`,
});
await client.connect({ signal: AbortSignal.timeout(10_000) });
const base = `events/${client.clientId}`;

await using sub = await client.subscribeQueue([{ topic: `${base}/#`, qos: 1 }], {
  maxQueueSize: 10_000,
  dropPolicy: "drop-oldest",
});
console.log(`subscribed to ${base}/# on ${url}`);

for (let i = 1; i <= 5; i++) {
  await client.publish({ topic: `${base}/${i}`, payload: `event ${i}`, qos: 1 });
}

let received = 0;
while (received < 5) {
  // undefined: the queue was closed (unsubscribed, disconnected) or the wait timed out.
  const m = await sub.queue.dequeue({ signal: AbortSignal.timeout(5_000) });
  if (m === undefined) throw new Error(`received ${received} of 5 messages within 5 s`);
  console.log(`received ${m.topic} ${m.text()} (${sub.queue.length} still queued)`);
  m.ack();
  received++;
}
