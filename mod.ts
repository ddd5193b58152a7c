/**
 * `@mqttv5/client`: a fast, ergonomic MQTT v5 client for Deno, Bun and Node.
 *
 * One {@linkcode Client} per session, with the supervisor always on: after
 * `connect()` every unexpected loss is repaired (reconnect with backoff,
 * in-flight QoS 1/2 replayed with DUP=1, subscriptions re-issued) until
 * `disconnect()`. Three subscribe shapes (async iterator, {@linkcode Queue},
 * callback) with per-subscription backpressure. The codec lives in
 * `@mqttv5/client/wire`; transports in `@mqttv5/client/transport/*`.
 *
 * @example Publish and subscribe
 * ```ts ignore
 * import { Client } from "@mqttv5/client";
 *
 * await using client = new Client({ broker: "mqtt://localhost:1883" });
 * await client.connect();
 * const sub = await client.subscribe([{ topic: "demo/#", qos: 1 }]);
 * await client.publish({ topic: "demo/hello", payload: "world", qos: 1 });
 * for await (const m of sub) {
 *   console.log(m.topic, m.text());
 *   m.ack();
 *   break;
 * }
 * ```
 *
 * @example Handle a codec error
 * ```ts
 * import { MqttError } from "@mqttv5/client";
 * import { PacketDecoder } from "@mqttv5/client/wire";
 *
 * try {
 *   // PUBLISH with QoS 3 is malformed [MQTT-3.3.1-4].
 *   new PacketDecoder().push(new Uint8Array([0x36, 0x00]));
 * } catch (err) {
 *   if (err instanceof MqttError) console.log(err.code, err.reasonCode); // protocol-error 129
 * }
 * ```
 *
 * @module
 */

import { setDefaultDial } from "./src/client/default_dial.ts";
import { setUnixPathCheck } from "./src/client/options.ts";
import { unixSocketPath } from "./src/transport/_endpoint.ts";

// A client without `dial` uses this runtime's transport (Deno, Bun or Node), loaded on
// first use. The web entry (web.ts) registers none.
setDefaultDial(() => import("./src/transport/mod.ts").then((m) => m.autoDial));
// unix:///path broker URLs: the runtime transports dial them (the web entry has none).
setUnixPathCheck(unixSocketPath);

export * from "./src/api.ts";
