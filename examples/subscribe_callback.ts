/**
 * Subscribe with a callback: the handler runs synchronously on the read path
 * and the message is acked when it returns. It must not block (a slow handler
 * delays everything behind it, PINGRESP included); hand long work to a queue
 * (`subscribeQueue`) instead. Remove it with `client.unsubscribe(token)`.
 *
 * ```sh
 * deno run -A examples/subscribe_callback.ts                          # starts a local mosquitto
 * deno run -A examples/subscribe_callback.ts mqtt://127.0.0.1:1883    # or MQTT_URL=...; also: bun examples/subscribe_callback.ts
 * ```
 *
 * @module
 */

import process from "node:process";
import { Client, type Message } from "../mod.ts";
import { startBroker } from "../tests/_helpers/broker.ts";

const given = process.argv[2] ?? process.env.MQTT_URL;
await using local = given === undefined ? await startBroker() : undefined;
const url = given ?? local!.url;

await using client = new Client({
  broker: url,
  clientId: `example-${crypto.randomUUID().slice(0, 8)}`,
});
await client.connect({ signal: AbortSignal.timeout(10_000) });
const base = `ctrl/${client.clientId}`;

const all = Promise.withResolvers<void>();
let received = 0;
const token = await client.subscribeCallback([{ topic: `${base}/+`, qos: 0 }], (m: Message) => {
  console.log(`received ${m.topic} ${m.text()}`);
  if (++received === 2) all.resolve();
});
console.log(`subscribed to ${base}/+ on ${url}`);

await client.publish({ topic: `${base}/lamp`, payload: "on" });
await client.publish({ topic: `${base}/fan`, payload: "off" });

const timer = setTimeout(
  () => all.reject(new Error(`received ${received} of 2 within 5 s`)),
  5_000,
);
try {
  await all.promise;
} finally {
  clearTimeout(timer);
}
await client.unsubscribe(token);
console.log("unsubscribed");
