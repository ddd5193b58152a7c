/**
 * A {@linkcode ClientGroup}: one full client (own session, own supervisor) per
 * independent broker, connected and disconnected together. `publish()`
 * dispatches by the group's policy (`"broadcast"` here: every member);
 * `subscribe()` merges what every member receives into one stream.
 *
 * For failover between interchangeable brokers under one session, use
 * `brokers` on a single `Client` instead (examples/set_brokers.ts).
 *
 * ```sh
 * deno run -A examples/client_group.ts                                                # starts two local mosquittos
 * deno run -A examples/client_group.ts mqtt://127.0.0.1:1883,mqtt://127.0.0.1:1884   # or MQTT_URL=a,b; also: bun examples/client_group.ts
 * ```
 *
 * @module
 */

import process from "node:process";
import { ClientGroup } from "../mod.ts";
import { startBroker } from "../tests/_helpers/broker.ts";

const given = process.argv[2] ?? process.env.MQTT_URL;
await using emeaBroker = given === undefined ? await startBroker() : undefined;
await using apacBroker = given === undefined ? await startBroker() : undefined;
const [emea, apac] = given?.split(",") ?? [emeaBroker!.url, apacBroker!.url];
if (apac === undefined) throw new Error("give two broker URLs, comma-separated");

const id = crypto.randomUUID().slice(0, 8);
await using group = new ClientGroup(
  [
    // Per-member options (credentials, TLS, ...) go in `options`.
    { broker: emea, name: "emea", options: { username: "emea-svc", password: "token-1" } },
    { broker: apac, name: "apac", options: { username: "apac-svc", password: "token-2" } },
  ],
  {
    shared: { clientId: `fanout-${id}`, keepAliveSeconds: 30 }, // ids made unique: -2 appended
    publishPolicy: "broadcast",
  },
);
await group.connect({ signal: AbortSignal.timeout(10_000) });
console.log(`connected members ${group.names().join(", ")}: ${emea} and ${apac}`);

const topic = `events/${id}/deploy`;
const sub = await group.subscribe([{ topic: `events/${id}/#`, qos: 1 }]);
const { results } = await group.publish({ topic, payload: "v42", qos: 1 });
console.log(`published ${topic} through ${[...results.keys()].join(" and ")}`);

// One copy per broker, merged into one stream.
const timer = setTimeout(() => sub.unsubscribe().catch(() => {}), 5_000); // ends the loop
let received = 0;
for await (const m of sub) {
  console.log(`received ${m.topic} ${m.text()}`);
  m.ack();
  if (++received === 2) break;
}
clearTimeout(timer);
if (received !== 2) throw new Error(`received ${received} of 2 copies within 5 s`);
