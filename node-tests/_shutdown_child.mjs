// A Node program that shuts down while calls it never awaited are still
// pending (see node-tests/flow.test.mjs): it must exit 0 with nothing on
// stderr. The same modes as tests/integration/_shutdown_child.ts.
//
//   node node-tests/_shutdown_child.mjs <broker url> <mode>

import { Client } from "../dist/node/mod.js";

const [url, mode] = process.argv.slice(2);
const client = new Client({ broker: url, clientId: `shutdown-${mode}-${Date.now()}` });
await client.connect();
if (mode === "unsubscribe") {
  const sub = await client.subscribe([{ topic: "shutdown/u", qos: 1 }]);
  void sub.unsubscribe();
} else if (mode === "publish") {
  void client.publish({ topic: "shutdown/p", payload: "1", qos: 1 });
  void client.publish({ topic: "shutdown/p", payload: "2", qos: 2 });
} else {
  throw new Error(`unknown mode ${mode}`);
}
await client.disconnect();
console.log("done");
