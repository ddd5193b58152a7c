// The child process of tests/queue/crash_cases.ts: a QueuePublisher over a
// FilePublisherQueue, with (or without) a LinkedSessionStore over a
// FileSessionStore, publishing through a fault proxy. The test SIGKILLs it at
// random points and starts it again on the same directory.
//
//   deno run -A tests/queue/_crash_child.ts <dir> <brokerUrl> <mode> <todo.json> <linked>
//   bun tests/queue/_crash_child.ts <dir> <brokerUrl> <mode> <todo.json> <linked>
//
// It enqueues the message numbers listed in todo.json (QoS 1, topic
// crash/q/<n>, payload "<n>") that its queue does not hold already, 32 at a
// time, while the drain sends them. Modes: `run` keeps going until killed;
// `finish` waits until the queue is empty and nothing is in flight, closes
// everything and exits 0.
//
// It reports on stdout, one line each:
//   ready {"len":...,"restored":...}   the queue and the session store at open
//   connected
//   skip <n>                           already in the queue, not enqueued again
//   enq <n>                            publish(n) resolved: n is on disk
//   done {...}                         (finish) the publisher's counters
//   error {"message":...}              and exit 1

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { constantBackoff } from "../../src/client/backoff.ts";
import { Client } from "../../mod.ts";
import { FilePublisherQueue } from "../../src/queue/file.ts";
import { LinkedSessionStore } from "../../src/queue/linked_store.ts";
import { QueuePublisher } from "../../src/queue/publisher.ts";
import { FileSessionStore } from "../../src/store/file.ts";

const [dir, url, mode, todoPath, linkedArg] = process.argv.slice(2);
const linked = linkedArg === "linked";

function report(line: string): void {
  process.stdout.write(line + "\n");
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const giveUp = setTimeout(() => {
    report(`error {"message":"still running after 60 s"}`);
    process.exit(3);
  }, 60_000);
  const fileStore = await FileSessionStore.open(join(dir, "session"));
  const session = new LinkedSessionStore(fileStore);
  const queue = await FilePublisherQueue.open(join(dir, "queue"));
  const present = new Set<number>();
  const { entries } = await queue.peekBatch(await queue.len());
  for (const e of entries) present.add(Number(e.publish.topic.slice("crash/q/".length)));
  report(
    `ready ${JSON.stringify({ len: entries.length, flows: fileStore.load().outbound.length })}`,
  );

  const client = new Client({
    broker: url,
    clientId: "queue-crash-child",
    cleanStart: false,
    sessionExpirySeconds: 3600,
    keepAliveSeconds: 0,
    connectTimeoutMs: 2000,
    reconnectBackoff: constantBackoff(30),
    store: session,
  });
  // Created before connect(): it sees every restored flow complete.
  const pub = new QueuePublisher(client, queue, {
    sessionStore: linked ? session : undefined,
    batchSize: 16,
    publishTimeoutMs: 400,
    idleIntervalMs: 50,
    retryBackoff: () => 50,
  });
  for (;;) {
    try {
      await client.connect();
      break;
    } catch {
      await sleep(30);
    }
  }
  report("connected");

  const todo = (JSON.parse(await readFile(todoPath, "utf8")) as number[]).filter((n) => {
    if (!present.has(n)) return true;
    report(`skip ${n}`);
    return false;
  });
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < todo.length) {
      const n = todo[next++];
      await pub.publish({ topic: `crash/q/${n}`, payload: String(n), qos: 1 });
      report(`enq ${n}`);
    }
  }));
  if (mode !== "finish") return; // the drain keeps the process alive until it is killed

  for (;;) {
    const s = pub.stats();
    if ((await queue.len()) === 0 && s.inFlight === 0 && s.inSession === 0) break;
    await sleep(20);
  }
  const stats = pub.stats();
  await pub.close();
  await client.disconnect();
  await session.close();
  report(`done ${JSON.stringify(stats)}`);
  clearTimeout(giveUp);
  process.exit(0);
}

main().catch((err) => {
  report(`error ${JSON.stringify({ message: String((err as Error)?.stack ?? err) })}`);
  process.exit(1);
});
