/**
 * Subscribe with an async iterator: matched messages arrive in a bounded
 * buffer (`buffer`, default 64). Every message must be `ack()`ed: at QoS 1/2
 * the broker's acknowledgement waits for it, in arrival order (MQTT §4.6).
 * When the buffer is full nothing is dropped: the client stops reading until
 * the loop catches up, which slows the broker (the default `dropPolicy:
 * "block"`).
 *
 * ```sh
 * deno run -A examples/subscribe.ts                          # starts a local mosquitto
 * deno run -A examples/subscribe.ts mqtt://127.0.0.1:1883    # or MQTT_URL=...; also: bun examples/subscribe.ts
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

// A full buffer of 256 slows the broker; nothing is lost ("block", the default).
const sub = await client.subscribe([{ topic: `${base}/#`, qos: 1 }], { buffer: 256 });
console.log(`subscribed to ${base}/# on ${url}`);

for (let i = 1; i <= 3; i++) {
  await client.publish({ topic: `${base}/${i}`, payload: `event ${i}`, qos: 1 });
}

const timer = setTimeout(() => sub.unsubscribe().catch(() => {}), 5_000); // ends the loop
let received = 0;
for await (const m of sub) {
  console.log(`received ${m.topic} ${m.text()} (qos ${m.qos})`);
  m.ack();
  if (++received === 3) break; // leaving the loop unsubscribes
}
clearTimeout(timer);
if (received !== 3) throw new Error(`received ${received} of 3 messages within 5 s`);
console.log("unsubscribed");
