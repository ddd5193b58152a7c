/**
 * Typed payloads: {@linkcode Typed} pairs a client with a {@linkcode Codec},
 * so `publish()` takes a value and subscriptions yield messages with a
 * decoded `value`. A payload that fails to decode is logged, acked and
 * dropped (counted in `typed.decodeFailures`).
 *
 * `jsonCodec()` (`@mqttv5/client/codec/json`) is used here;
 * `msgpackCodec()` (`@mqttv5/client/codec/msgpack`, on `@msgpack/msgpack`)
 * is a drop-in replacement for a compact binary encoding, and any
 * `{ encode(value): Uint8Array; decode(bytes): T }` object is a codec too.
 *
 * ```sh
 * deno run -A examples/typed.ts                          # starts a local mosquitto
 * deno run -A examples/typed.ts mqtt://127.0.0.1:1883    # or MQTT_URL=...; also: bun examples/typed.ts
 * ```
 *
 * @module
 */

import process from "node:process";
import { Client, Typed } from "../mod.ts";
import { jsonCodec } from "../src/codec/json.ts";
import { startBroker } from "../tests/_helpers/broker.ts";

interface Reading {
  device: string;
  temp: number;
}

const given = process.argv[2] ?? process.env.MQTT_URL;
await using local = given === undefined ? await startBroker() : undefined;
const url = given ?? local!.url;

await using client = new Client({
  broker: url,
  clientId: `typed-${crypto.randomUUID().slice(0, 8)}`,
});
await client.connect({ signal: AbortSignal.timeout(10_000) });
const base = `sensors/${client.clientId}`;

const typed = new Typed(client, jsonCodec<Reading>(), { logger: console });
const sub = await typed.subscribe([{ topic: `${base}/+`, qos: 1 }]);
console.log(`subscribed to ${base}/+ on ${url}`);

await typed.publish({ topic: `${base}/a1`, qos: 1 }, { device: "a1", temp: 22.5 });
await client.publish({ topic: `${base}/a2`, payload: "not json", qos: 1 }); // dropped on receipt
await typed.publish({ topic: `${base}/a3`, qos: 1 }, { device: "a3", temp: 19 });

const timer = setTimeout(() => sub.unsubscribe().catch(() => {}), 5_000); // ends the loop
let received = 0;
for await (const m of sub) {
  const reading: Reading = m.value; // decoded, safe to keep after ack()
  console.log(`received ${m.topic}: ${reading.device} at ${reading.temp} °C`);
  m.ack();
  if (++received === 2) break;
}
clearTimeout(timer);
if (received !== 2) throw new Error(`received ${received} of 2 readings within 5 s`);
console.log(`${typed.decodeFailures} payload failed to decode and was dropped`);
