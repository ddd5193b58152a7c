/**
 * Durable, ordered publishing with a {@linkcode QueuePublisher}:
 * `publish()` resolves once the queue stored the message, before any broker
 * round trip; a background drain sends the entries in order and removes each
 * only after the broker acknowledged it. Messages published while offline go
 * out once the client connects.
 *
 * Two parts:
 * 1. {@linkcode MemoryPublisherQueue}: publish while offline, connect, watch the drain.
 * 2. Across a restart: {@linkcode FilePublisherQueue} (the entries) and
 *    {@linkcode FileSessionStore} (the in-flight QoS 1/2 exchanges, linked to
 *    the entries through a {@linkcode LinkedSessionStore}) in a temporary
 *    directory. A first "process" queues messages and stops without ever
 *    connecting; a second one reopens the directory and delivers them.
 *
 * ```sh
 * deno run -A examples/queue_publisher.ts                          # starts a local mosquitto
 * deno run -A examples/queue_publisher.ts mqtt://127.0.0.1:1883    # or MQTT_URL=...; also: bun examples/queue_publisher.ts
 * ```
 *
 * @module
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import {
  Client,
  LinkedSessionStore,
  MemoryPublisherQueue,
  type Message,
  type Queue,
  QueuePublisher,
} from "../mod.ts";
import { FilePublisherQueue } from "../src/queue/file.ts";
import { FileSessionStore } from "../src/store/file.ts";
import { startBroker } from "../tests/_helpers/broker.ts";

const given = process.argv[2] ?? process.env.MQTT_URL;
await using local = given === undefined ? await startBroker() : undefined;
const url = given ?? local!.url;
const id = crypto.randomUUID().slice(0, 8);
const base = `events/${id}`;

// A separate client that watches what reaches the broker.
await using watcher = new Client({ broker: url });
await watcher.connect({ signal: AbortSignal.timeout(10_000) });
const seen = await watcher.subscribeQueue([{ topic: `${base}/#`, qos: 1 }]);

/** Receives `n` messages within 5 s. */
async function expect(queue: Queue<Message>, n: number, what: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const m = await queue.dequeue({ signal: AbortSignal.timeout(5_000) });
    if (m === undefined) throw new Error(`${what}: received ${i} of ${n} within 5 s`);
    console.log(`  received ${m.topic} ${m.text()}`);
    m.ack();
  }
}

/** One process's setup: the same directory, the same client id, every time. */
async function open(dir: string) {
  const session = new LinkedSessionStore(await FileSessionStore.open(join(dir, "session")));
  const queue = await FilePublisherQueue.open(join(dir, "queue"));
  const client = new Client({
    broker: url,
    clientId: `meter-${id}`,
    cleanStart: false, // resume the broker's session too
    store: session,
  });
  // Created before connect(), so that it sees restored exchanges complete.
  const publisher = new QueuePublisher(client, queue, { sessionStore: session });
  return { session, queue, client, publisher };
}

// Part 1: an in-memory queue.
{
  await using client = new Client({ broker: url, clientId: `queue-${id}` });
  const publisher = new QueuePublisher(client, new MemoryPublisherQueue(), {
    batchSize: 32,
    ttlMs: 24 * 3600_000, // older entries are dead-lettered instead of sent
    onDeadLetter: (entry, err) => console.warn("dead letter", entry.publish.topic, err.message),
  });
  for (let i = 1; i <= 3; i++) {
    await publisher.publish({ topic: `${base}/memory`, payload: `queued offline ${i}`, qos: 1 });
  }
  console.log(`memory queue: 3 messages stored while offline, ${publisher.stats().sent} sent`);
  await client.connect({ signal: AbortSignal.timeout(10_000) }); // the drain starts sending
  await expect(seen.queue, 3, "memory queue");
  await publisher.close({ signal: AbortSignal.timeout(5_000) }); // closes the queue too
  console.log(`memory queue: ${publisher.stats().acked} acked by the broker`);
}

// Part 2: a file queue and a file session store, across a "restart".
const dir = await mkdtemp(join(tmpdir(), "mqttv5-example-"));
try {
  {
    const first = await open(dir);
    for (let i = 1; i <= 3; i++) {
      await first.publisher.publish({ topic: `${base}/file`, payload: `reading ${i}`, qos: 1 });
    }
    console.log(`file queue: 3 messages synced to ${dir}, then the process stops`);
    await first.publisher.close(); // closes the queue; the entries stay on disk
    await first.client.disconnect();
    await first.session.close();
  }

  const second = await open(dir);
  try {
    console.log(`file queue: reopened with ${await second.queue.len()} entries; connecting`);
    await second.client.connect({ signal: AbortSignal.timeout(10_000) });
    await expect(seen.queue, 3, "file queue");
    await second.publisher.close({ signal: AbortSignal.timeout(5_000) });
    console.log(
      `file queue: ${second.publisher.stats().acked} acked; nothing left on disk to send`,
    );
  } finally {
    await second.publisher.close().catch(() => {});
    await second.client.disconnect();
    await second.session.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
