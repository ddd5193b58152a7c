// The QoS 0 publish path alone, without a socket or a broker: one Client over a
// connection that answers CONNECT with a CONNACK and takes every write at once,
// then `await client.publish()` of one 64-byte message N times, six rounds. Prints
// the best client CPU per publish in ns over rounds 2-6 (the first warms the JIT).
// It isolates what a publish costs in our code (the Client, the publish path, the
// writer, the encoder) from the kernel and the broker, whose cost and noise
// dominate bench/e2e.ts qos0-nosub: a change of 5 ns per publish there is 2-5% of
// the client's CPU and within that benchmark's run-to-run spread, here it is not.
//
//   deno run -A --no-lock bench/publish_path.ts [--tree DIR] [--n 2000000]
//   bun bench/publish_path.ts --tree /work/bench-base
//
// --tree DIR: measure the checkout in DIR (its mod.ts) instead of this one, e.g. a
// git worktree of an earlier commit; run both trees alternately, several times each.

import process from "node:process";

interface FakeConn {
  start(onData: (chunk: Uint8Array) => unknown, onClose: (error?: Error) => void): void;
  write(data: Uint8Array): Promise<void>;
  close(): void;
}

interface PublishingClient {
  connect(): Promise<unknown>;
  publish(message: { topic: string; payload: Uint8Array; qos: 0 }): Promise<unknown>;
}

const CONNACK = new Uint8Array([0x20, 3, 0, 0, 0]);
const RESOLVED = Promise.resolve();

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function cpuMicros(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

const tree = arg("--tree", new URL("..", import.meta.url).pathname.replace(/\/$/, ""));
const n = Number(arg("--n", "2000000"));
if (!(Number.isInteger(n) && n > 0)) throw new RangeError("--n must be a positive integer");

const { Client } = await import(`${tree}/mod.ts`) as {
  Client: new (o: { broker: string; dial: () => Promise<FakeConn> }) => PublishingClient;
};

/** The first write is the CONNECT: answer it with a CONNACK; take every write at once. */
function dial(): Promise<FakeConn> {
  let onData: ((chunk: Uint8Array) => unknown) | undefined;
  let connected = false;
  return Promise.resolve({
    start(d) {
      onData = d;
    },
    write() {
      if (!connected) {
        connected = true;
        queueMicrotask(() => onData?.(CONNACK));
      }
      return RESOLVED;
    },
    close() {},
  });
}

const client = new Client({ broker: "mqtt://publish-path.test", dial });
await client.connect();
const message = { topic: "bench/q0", payload: new Uint8Array(64).fill(7), qos: 0 as const };
let best = Infinity;
for (let round = 0; round < 6; round++) {
  const c0 = cpuMicros();
  for (let i = 0; i < n; i++) await client.publish(message);
  const ns = ((cpuMicros() - c0) / n) * 1000;
  if (round > 0 && ns < best) best = ns;
}
console.log(JSON.stringify({ tree, n, bestNsPerPublish: Math.round(best * 10) / 10 }));
process.exit(0);
