/**
 * MQTT over WebSocket (MQTT v5 §6): `ws://` and `wss://` broker URLs need
 * `dial: wsDial()`, a dial function on the web-standard `WebSocket` that
 * offers the `mqtt` subprotocol. Everything above the transport is the same
 * client. `wsDial({ headers })` adds handshake headers (Deno, Bun, Node; not
 * browsers).
 *
 * ```sh
 * deno run -A examples/websocket.ts                              # local mosquitto + a WebSocket bridge
 * deno run -A examples/websocket.ts ws://127.0.0.1:8080/mqtt     # or MQTT_URL=...; also: bun examples/websocket.ts
 * ```
 *
 * The Debian mosquitto has no WebSocket listener, so without a URL this
 * starts a small WebSocket-to-TCP bridge (tests/_helpers/ws_bridge.ts) in
 * front of a local mosquitto.
 *
 * @module
 */

import process from "node:process";
import { Client } from "../mod.ts";
import { wsDial } from "../src/transport/ws.ts";
import { startBroker } from "../tests/_helpers/broker.ts";
import { startWsBridge } from "../tests/_helpers/ws_bridge.ts";

const given = process.argv[2] ?? process.env.MQTT_URL;
await using local = given === undefined ? await startBroker() : undefined;
await using bridge = local === undefined ? undefined : await startWsBridge(local.url);
const url = given ?? bridge!.url;

await using client = new Client({
  broker: url,
  clientId: `ws-${crypto.randomUUID().slice(0, 8)}`,
  dial: wsDial({ headers: { "user-agent": "mqttv5-example" } }),
});
await client.connect({ signal: AbortSignal.timeout(10_000) });
console.log(`connected to ${url} over WebSocket as ${client.clientId}`);

const topic = `demo/${client.clientId}/ws`;
const sub = await client.subscribe([{ topic, qos: 1 }]);
await client.publish({ topic, payload: "over websocket", qos: 1 });

const timer = setTimeout(() => sub.unsubscribe().catch(() => {}), 5_000); // ends the loop
let received = 0;
for await (const m of sub) {
  console.log(`received ${m.topic} ${m.text()}`);
  m.ack();
  received++;
  break;
}
clearTimeout(timer);
if (received === 0) throw new Error("no message within 5 s");
