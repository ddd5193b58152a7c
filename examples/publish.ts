/**
 * Publish at QoS 1: `publish()` resolves once the broker's PUBACK arrived. If
 * the connection drops mid-flight, the call stays pending while the supervisor
 * reconnects and replays the message with DUP=1. A broker refusal (reason code
 * 0x80 and up) rejects with `MqttError` code `"publish-refused"`.
 *
 * ```sh
 * deno run -A examples/publish.ts                          # starts a local mosquitto
 * deno run -A examples/publish.ts mqtt://127.0.0.1:1883    # or MQTT_URL=...; also: bun examples/publish.ts
 * ```
 *
 * @module
 */

import process from "node:process";
import { Client, MqttError } from "../mod.ts";
import { startBroker } from "../tests/_helpers/broker.ts";

const given = process.argv[2] ?? process.env.MQTT_URL;
await using local = given === undefined ? await startBroker() : undefined;
const url = given ?? local!.url;

await using client = new Client({ broker: url });
const connack = await client.connect({ signal: AbortSignal.timeout(10_000) });
console.log(`connected to ${url}, broker allows QoS <= ${connack.maximumQoS}`);

try {
  const result = await client.publish(
    {
      topic: "events/example",
      payload: JSON.stringify({ value: 42 }),
      qos: 1,
      properties: { contentType: "application/json", messageExpiryInterval: 60 },
    },
    { signal: AbortSignal.timeout(5_000) },
  );
  // Below 0x80 is success; 0x10 "No matching subscribers" is the broker telling us nobody listens.
  console.log(`published events/example, PUBACK reason 0x${result.reasonCode.toString(16)}`);
} catch (err) {
  if (err instanceof MqttError && err.code === "publish-refused") {
    console.error(`the broker refused it: reason 0x${err.reasonCode?.toString(16)}`);
    process.exitCode = 1;
  } else {
    throw err;
  }
}
