/**
 * The main demo: connects to a broker, subscribes, publishes at QoS 0, 1 and 2
 * and prints each round trip. With no broker URL (first argument or
 * `MQTT_URL`), it starts a local mosquitto on a free loopback port and stops
 * it afterwards.
 *
 * ```sh
 * deno task demo                         # local mosquitto
 * deno task demo mqtt://127.0.0.1:1883   # your broker
 * ```
 *
 * @module
 */

import { Client, type Message } from "../mod.ts";
import { startBroker } from "../tests/_helpers/broker.ts";
import process from "node:process";

const given = process.argv[2] ?? process.env.MQTT_URL;
const local = given === undefined ? await startBroker() : undefined;
const url = given ?? local!.url;
console.log(local ? `started a local mosquitto at ${url}` : `using broker ${url}`);

const client = new Client({ broker: url, clientId: `demo-${crypto.randomUUID().slice(0, 8)}` });
try {
  const connack = await client.connect({ signal: AbortSignal.timeout(10_000) });
  console.log(
    `connected as ${client.clientId}: receiveMaximum ${connack.receiveMaximum}, ` +
      `maximumQoS ${connack.maximumQoS}, topicAliasMaximum ${connack.topicAliasMaximum}`,
  );
  const topic = `demo/${client.clientId}`;
  const sub = await client.subscribe([{ topic: `${topic}/#`, qos: 2 }]);
  const inbox = sub[Symbol.asyncIterator]();

  for (const qos of [0, 1, 2] as const) {
    const started = performance.now();
    const result = await client.publish({
      topic: `${topic}/qos${qos}`,
      payload: JSON.stringify({ hello: "world", qos }),
      qos,
      properties: { contentType: "application/json", userProperties: [["sent-by", "demo"]] },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      inbox.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no message within 5 s")), 5000);
      }),
    ]).finally(() => clearTimeout(timer));
    const m: Message = next.value;
    m.ack();
    const ms = (performance.now() - started).toFixed(2);
    console.log(
      `QoS ${qos}: published (reason 0x${result.reasonCode.toString(16).padStart(2, "0")}), ` +
        `received ${m.topic} ${m.text()} [qos ${m.qos}, ${m.properties.contentType}] round trip ${ms} ms`,
    );
  }
  await sub.unsubscribe();
  console.log("round trip OK");
} finally {
  await client.disconnect();
  await local?.[Symbol.asyncDispose]();
}
