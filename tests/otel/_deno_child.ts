// Run by deno_builtin_test.ts with OTEL_DENO=true: instrument() with no providers, so
// the global ones are Deno's built-in OpenTelemetry, and no SDK is loaded. Publishes
// one QoS 1 message to itself (subscribeCallback), prints it, and waits for its
// standard input to close: Deno collects observable metrics at its periodic exports
// (OTEL_METRIC_EXPORT_INTERVAL), not at exit, so the parent closes it once it has
// seen them. Spans go out as they end, the rest at exit.
//
//   deno run -A tests/otel/_deno_child.ts <broker url> <topic>

import { Client } from "../../mod.ts";
import { instrument } from "../../src/otel/mod.ts";

const [url, topic] = Deno.args;
const client = new Client({ broker: url, clientId: "otel-deno-builtin", stats: true });
using _otel = instrument(client);
await client.connect();
const got = Promise.withResolvers<string>();
await client.subscribeCallback([{ topic, qos: 1 }], (m) => got.resolve(m.text()));
await client.publish({ topic, payload: "built in", qos: 1 });
console.log(await got.promise);
await client.disconnect();
for await (const _ of Deno.stdin.readable) {
  // until the parent closes it
}
