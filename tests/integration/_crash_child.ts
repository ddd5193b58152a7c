// The child process of tests/integration/crash_test.ts: a Client with a
// FileSessionStore, run by the test with `deno run -A` or `bun`, killed with
// SIGKILL in the middle of its QoS 1/2 flows and started again on the same
// store directory.
//
//   deno run -A tests/integration/_crash_child.ts <storeDir> <port> <mode>
//   bun tests/integration/_crash_child.ts <storeDir> <port> <mode>
//
// Modes:
//   publish         connect (cleanStart false), publish QoS 1 #1-#5 and QoS 2 #6-#10, wait
//                   to be killed
//   resume          connect, publish nothing, wait until the store holds no outbound flow,
//                   disconnect, exit 0
//   receive         connect, subscribe to crash/in/# at QoS 2, wait to be killed
//   resume-inbound  connect, subscribe again, wait until the store holds no inbound
//                   identifier (and 200 ms more), disconnect, exit 0
//
// It reports on stdout, one line each, a word and a JSON value:
//   loaded {"outbound":[[id,stage],...],"inbound":[...]}   what the store held at open
//   connected {"sessionPresent":...}
//   acked {"n":k,"reasonCode":...}       publish #k resolved (failed {"n":k,"code":...} if not)
//   delivered {"topic":...,"payload":...,"dup":...,"qos":...}
//   subscribed {}
//   done {"outbound":[...],"inbound":[...]}                 the store after disconnect
// A failure prints `error {"message":...}` and exits 1; a child that is
// never killed gives up after 30 s (exit 3).

import process from "node:process";
import { Client, type Message } from "../../mod.ts";
import { FileSessionStore } from "../../src/store/file.ts";

const [dir, portText, mode] = process.argv.slice(2);

function report(word: string, value: unknown = {}): void {
  process.stdout.write(`${word} ${JSON.stringify(value)}\n`);
}

function summary(store: FileSessionStore): { outbound: [number, string][]; inbound: number[] } {
  const s = store.load();
  return {
    outbound: s.outbound.map((f) => [f.packetId, f.stage]),
    inbound: [...s.inbound].sort((a, b) => a - b),
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

async function main(): Promise<void> {
  if (dir === undefined || !/^\d+$/.test(portText ?? "") || mode === undefined) {
    throw new Error("usage: _crash_child.ts <storeDir> <port> <mode>");
  }
  const giveUp = setTimeout(() => {
    report("error", { message: "never killed" });
    process.exit(3);
  }, 30_000);

  const store = await FileSessionStore.open(dir);
  report("loaded", summary(store));
  const client = new Client({
    broker: `mqtt://127.0.0.1:${portText}`,
    clientId: "crash-child",
    cleanStart: false,
    sessionExpirySeconds: 3600,
    keepAliveSeconds: 0,
    reconnectBackoff: () => 50,
    store,
  });
  const connack = await client.connect({ signal: AbortSignal.timeout(10_000) });
  report("connected", { sessionPresent: connack.sessionPresent });

  const onMessage = (m: Message) =>
    report("delivered", { topic: m.topic, payload: m.text(), dup: m.dup, qos: m.qos });

  switch (mode) {
    case "publish": {
      for (let n = 1; n <= 10; n++) {
        client.publish({ topic: `crash/out/${n}`, payload: `message ${n}`, qos: n <= 5 ? 1 : 2 })
          .then(
            (r) => report("acked", { n, reasonCode: r.reasonCode }),
            (e) => report("failed", { n, code: (e as { code?: string }).code ?? String(e) }),
          );
      }
      return; // the open connection keeps the process alive until it is killed
    }
    case "receive": {
      await client.subscribeCallback([{ topic: "crash/in/#", qos: 2 }], onMessage);
      report("subscribed");
      return;
    }
    case "resume": {
      await until(() => store.load().outbound.length === 0, 10_000, "an empty outbound store");
      break;
    }
    case "resume-inbound": {
      await client.subscribeCallback([{ topic: "crash/in/#", qos: 2 }], onMessage);
      report("subscribed");
      await until(() => store.load().inbound.length === 0, 10_000, "an empty inbound store");
      await sleep(200); // a late (wrong) delivery would show up here
      break;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
  await client.disconnect();
  await store.close();
  const again = await FileSessionStore.open(dir);
  report("done", summary(again));
  await again.close();
  clearTimeout(giveUp);
  process.exit(0);
}

main().catch((err) => {
  report("error", { message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
