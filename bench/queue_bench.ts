// Durable publishing throughput: FilePublisherQueue enqueue rate with 1 and 64
// concurrent producers (group commit), and QueuePublisher drain throughput
// against mosquitto behind a relay that adds 25 ms to every round trip, with
// batchSize 16 and batchSize 1.
//
//   deno run -A bench/queue_bench.ts [--reps 3] [--latency 25] [--dir /path/on/the/disk/to/test]
//   bun bench/queue_bench.ts [--reps 3]
//
// Prints a markdown table (median [min-max] over the repetitions). Queues are
// created in a temporary directory (or under --dir: the enqueue rate is the
// disk's fsync rate, so test the disk you will run on). Each repetition uses a
// fresh queue; one mosquitto and one relay serve every drain run.

import { mkdtemp, rm } from "node:fs/promises";
import { connect as netConnect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { constantBackoff } from "../src/client/backoff.ts";
import { Client } from "../mod.ts";
import { FilePublisherQueue } from "../src/queue/file.ts";
import { QueuePublisher } from "../src/queue/publisher.ts";
import { startBroker } from "../tests/_helpers/broker.ts";

const RUNTIME = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const REPS = Number(arg("reps", "3"));
const LATENCY_MS = Number(arg("latency", "25"));
const BASE_DIR = arg("dir", tmpdir());
const PAYLOAD = new Uint8Array(64).fill(0x61);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A TCP relay that delays every chunk from the broker by `ms` (order kept): +ms per round trip. */
async function latencyRelay(
  targetPort: number,
  ms: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = netConnect({ host: "127.0.0.1", port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (d: Uint8Array) => upstream.write(d));
    upstream.on("data", (d: Uint8Array) => {
      const copy = new Uint8Array(d);
      setTimeout(() => {
        if (!client.destroyed) client.write(copy);
      }, ms);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => setTimeout(() => client.destroy(), ms));
  });
  const port = await new Promise<number>((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      resolve(typeof a === "object" && a !== null ? a.port : 0);
    });
  });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function withQueueDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(BASE_DIR, "mqttv5-queue-bench-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Sample {
  rate: number;
  note: string;
}

/** Enqueues `total` entries from `producers` concurrent loops; returns entries/s. */
function enqueueRate(producers: number, total: number): Promise<Sample> {
  return withQueueDir(async (dir) => {
    const q = await FilePublisherQueue.open(dir);
    try {
      await q.enqueue({ publish: { topic: "warm", qos: 1 }, enqueuedAt: Date.now() });
      const c0 = q.stats.commits;
      const f0 = q.stats.fsyncs;
      const per = Math.ceil(total / producers);
      const t0 = performance.now();
      await Promise.all(Array.from({ length: producers }, async (_, p) => {
        for (let i = 0; i < per; i++) {
          await q.enqueue({
            publish: { topic: `bench/${p}`, payload: PAYLOAD, qos: 1 },
            enqueuedAt: Date.now(),
          });
        }
      }));
      const ms = performance.now() - t0;
      const n = per * producers;
      const commits = q.stats.commits - c0;
      return {
        rate: n / (ms / 1000),
        note: `${n} entries, ${commits} commits (${(n / commits).toFixed(1)}/commit), ` +
          `${q.stats.fsyncs - f0} fsyncs`,
      };
    } finally {
      await q.close();
    }
  });
}

/** Fills a file queue offline, connects, and times the drain until every entry is acked. */
function drainRate(url: string, batchSize: number, total: number): Promise<Sample> {
  return withQueueDir(async (dir) => {
    const queue = await FilePublisherQueue.open(dir);
    const client = new Client({
      broker: url,
      clientId: `queue-bench-${batchSize}-${Date.now()}`,
      reconnectBackoff: constantBackoff(100),
    });
    const pub = new QueuePublisher(client, queue, { batchSize, idleIntervalMs: 20 });
    try {
      await Promise.all(
        Array.from(
          { length: total },
          (_, i) => pub.publish({ topic: `bench/drain/${i % 8}`, payload: PAYLOAD, qos: 1 }),
        ),
      );
      await client.connect();
      const t0 = performance.now();
      while (pub.stats().acked < total) await sleep(1);
      const ms = performance.now() - t0;
      return { rate: total / (ms / 1000), note: `${total} entries in ${ms.toFixed(0)} ms` };
    } finally {
      await pub.close();
      await client.disconnect();
    }
  });
}

function summary(samples: Sample[]): string {
  const rates = samples.map((s) => s.rate).sort((a, b) => a - b);
  const med = rates[Math.floor(rates.length / 2)];
  const f = (x: number) => x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(1);
  return `${f(med)} [${f(rates[0])}-${f(rates[rates.length - 1])}]`;
}

async function main(): Promise<void> {
  const rows: [string, string, string][] = [];
  const measure = async (label: string, run: () => Promise<Sample>) => {
    const samples: Sample[] = [];
    for (let r = 0; r < REPS; r++) samples.push(await run());
    rows.push([label, summary(samples), samples[samples.length - 1].note]);
    console.error(`${label}: ${summary(samples)} (${samples[samples.length - 1].note})`);
  };

  await measure("enqueue, 1 producer (msg/s)", () => enqueueRate(1, 500));
  await measure("enqueue, 64 concurrent producers (msg/s)", () => enqueueRate(64, 20_000));

  await using broker = await startBroker();
  const relay = await latencyRelay(broker.port, LATENCY_MS);
  try {
    await measure(
      `drain, batchSize 16, +${LATENCY_MS} ms RTT (msg/s)`,
      () => drainRate(relay.url, 16, 2000),
    );
    await measure(
      `drain, batchSize 1, +${LATENCY_MS} ms RTT (msg/s)`,
      () => drainRate(relay.url, 1, 150),
    );
  } finally {
    await relay.close();
  }

  console.log(`\n### ${RUNTIME}: median [min-max] of ${REPS}, queue directory under ${BASE_DIR}\n`);
  console.log("| case | rate | last run |");
  console.log("| --- | ---: | --- |");
  for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`);
}

await main();
