// A program that shuts down while calls it never awaited are still pending, for
// flow_cases.ts: it must exit 0 with nothing on stderr (no unhandled
// rejection). Runs under the runtime of the test: `deno run -A` or `bun`.
//
//   _shutdown_child.ts <broker url> <mode>
//
// Modes:
//   unsubscribe     sub.unsubscribe() not awaited, then await disconnect()
//   publish         QoS 1 and QoS 2 publishes not awaited, then await disconnect()
//   subscribe       subscribe() not awaited, then await disconnect()
//   callback-reply  a subscribeCallback handler publishes a QoS 1 reply it cannot
//                   await; disconnect() while the reply waits for its PUBACK

import process from "node:process";
import { Client } from "../../mod.ts";

const [url, mode] = process.argv.slice(2);
const client = new Client({ broker: url, clientId: `shutdown-${mode}-${Date.now()}` });
await client.connect();

switch (mode) {
  case "unsubscribe": {
    const sub = await client.subscribe([{ topic: "shutdown/u", qos: 1 }]);
    void sub.unsubscribe();
    break;
  }
  case "publish":
    void client.publish({ topic: "shutdown/p", payload: "1", qos: 1 });
    void client.publish({ topic: "shutdown/p", payload: "2", qos: 2 });
    break;
  case "subscribe":
    void client.subscribe([{ topic: "shutdown/s", qos: 1 }]);
    break;
  case "callback-reply": {
    let replied!: () => void;
    const replying = new Promise<void>((resolve) => replied = resolve);
    await client.subscribeCallback([{ topic: "shutdown/req", qos: 1 }], (m) => {
      // A handler cannot await: the reply's promise is the program's only to drop.
      void client.publish({ topic: "shutdown/reply", payload: m.payload, qos: 1 });
      replied();
    });
    await client.publish({ topic: "shutdown/req", payload: "ping", qos: 1 });
    await replying;
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
await client.disconnect();
console.log("done");
