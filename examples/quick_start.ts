/**
 * Quick start: connect, subscribe, publish, receive. The supervisor
 * (reconnect, replay, resubscribe) is implicit: once `connect()` resolves,
 * every connection loss is repaired until `disconnect()` (here: the end of the
 * `await using` scope).
 *
 * ```sh
 * deno run -A examples/quick_start.ts                          # starts a local mosquitto
 * deno run -A examples/quick_start.ts mqtt://127.0.0.1:1883    # or MQTT_URL=...; also: bun examples/quick_start.ts
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
console.log(`connected to ${url} as ${client.clientId}`);

// A topic of our own, so that a shared broker's other traffic stays out.
const base = `demo/${client.clientId}`;
const sub = await client.subscribe([{ topic: `${base}/#`, qos: 1 }]);
await client.publish({ topic: `${base}/hello`, payload: "world", qos: 1 });

const timer = setTimeout(() => sub.unsubscribe().catch(() => {}), 5_000); // ends the loop
let received = 0;
for await (const m of sub) {
  console.log(`received ${m.topic} ${m.text()}`);
  m.ack(); // every message from subscribe() is acked (QoS 1/2: the PUBACK waits for it)
  received++;
  break; // leaving the loop unsubscribes
}
clearTimeout(timer);
if (received === 0) throw new Error("no message within 5 s");
