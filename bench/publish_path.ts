// The publish path alone, without a socket or a broker: one Client over a fake
// connection that plays the broker in-process (CONNACK, SUBACK, PUBACK, PUBREC,
// PUBCOMP, and in rr mode the message echoed back to the client's own
// subscription), six rounds of N operations. Prints the best client CPU per
// operation in ns over rounds 2-6 (the first warms the JIT). It isolates what a
// publish costs in our code (the Client, the session, the writer, the codec)
// from the kernel and the broker, whose cost and noise dominate bench/e2e.ts: a
// change of 5 ns per publish there is 2-5% of the client's CPU and within that
// benchmark's run-to-run spread, here it is not. The fake broker is this file's
// own code, the same for every tree measured, and its CPU is counted with ours.
//
//   deno run -A --no-lock bench/publish_path.ts [--tree DIR] [--mode q0] [--n N]
//   bun bench/publish_path.ts --tree /work/bench-base --mode rr
//
// --mode q0   `await client.publish()` of one 64-byte QoS 0 message (default; N 2,000,000)
//        q1   QoS 1, 32 publishes in flight at a time, each answered by a PUBACK (N 400,000)
//        q2   QoS 2 the same way: PUBREC, then PUBCOMP for the client's PUBREL (N 200,000)
//        rr   rr-same-conn's callback shape: a QoS 1 publish to the client's own QoS 1
//             subscription, then its message in the callback (acked when it returns), one
//             round trip at a time (N 200,000); ns per round trip
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
  publish(message: { topic: string; payload: Uint8Array; qos: 0 | 1 | 2 }): Promise<unknown>;
  subscribeCallback(
    filters: { topic: string; qos: 1 }[],
    handler: (m: { payload: Uint8Array }) => void,
  ): Promise<unknown>;
}

type Mode = "q0" | "q1" | "q2" | "rr";

const CONNACK = new Uint8Array([0x20, 3, 0, 0, 0]);
const RESOLVED = Promise.resolve();
/** Publishes in flight at a time in modes q1 and q2. */
const WINDOW = 32;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function cpuMicros(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

const tree = arg("--tree", new URL("..", import.meta.url).pathname.replace(/\/$/, ""));
const mode = arg("--mode", "q0") as Mode;
if (!["q0", "q1", "q2", "rr"].includes(mode)) {
  throw new RangeError("--mode must be q0, q1, q2 or rr");
}
const n = Number(arg("--n", { q0: "2000000", q1: "400000", q2: "200000", rr: "200000" }[mode]));
if (!(Number.isInteger(n) && n > 0)) throw new RangeError("--n must be a positive integer");

const { Client } = await import(`${tree}/mod.ts`) as {
  Client: new (o: { broker: string; dial: () => Promise<FakeConn> }) => PublishingClient;
};

/** A 2-byte-body ack: PUBACK, PUBREC or PUBCOMP with packet id `pid`. */
function ack(out: number[], b0: number, pid: number): void {
  out.push(b0, 2, pid >> 8, pid & 0xff);
}

/**
 * The broker's answers to one write of the client (whole packets: the writer
 * never splits one across writes): CONNACK, SUBACK, PUBACK / PUBREC / PUBCOMP,
 * and in rr mode each PUBLISH again, to the client's own subscription.
 */
function answers(data: Uint8Array, echo: { pid: number }): Uint8Array | undefined {
  const out: number[] = [];
  let i = 0;
  while (i < data.length) {
    const b0 = data[i];
    let rl = 0;
    let mul = 1;
    let j = i + 1;
    for (;;) {
      const b = data[j++];
      rl += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 0x80;
    }
    const type = b0 >> 4;
    if (type === 1) {
      out.push(...CONNACK);
    } else if (type === 3) {
      const qos = (b0 >> 1) & 3;
      const at = j + 2 + ((data[j] << 8) | data[j + 1]);
      const pid = (data[at] << 8) | data[at + 1];
      if (qos === 1) ack(out, 0x40, pid);
      else if (qos === 2) ack(out, 0x50, pid);
      if (mode === "rr") {
        // The same PUBLISH (QoS 1, DUP 0) under the broker's own packet id.
        echo.pid = echo.pid === 65535 ? 1 : echo.pid + 1;
        out.push(0x32, ...data.subarray(i + 1, at), echo.pid >> 8, echo.pid & 0xff);
        out.push(...data.subarray(at + 2, j + rl));
      }
    } else if (type === 6) {
      ack(out, 0x70, (data[j] << 8) | data[j + 1]); // PUBREL -> PUBCOMP
    } else if (type === 8) {
      out.push(0x90, 4, data[j], data[j + 1], 0, 1); // SUBACK: granted QoS 1
    }
    i = j + rl;
  }
  return out.length === 0 ? undefined : new Uint8Array(out);
}

/** A connection to the in-process broker: answers arrive as one read, a microtask later. */
function dial(): Promise<FakeConn> {
  let onData: ((chunk: Uint8Array) => unknown) | undefined;
  const echo = { pid: 0 };
  return Promise.resolve({
    start(d) {
      onData = d;
    },
    write(data) {
      // QoS 0 writes need no answer: skip the scan (the q0 loop measures our path alone).
      if (mode !== "q0" || data[0] === 0x10) {
        const a = answers(data, echo);
        if (a !== undefined) queueMicrotask(() => onData?.(a));
      }
      return RESOLVED;
    },
    close() {},
  });
}

const client = new Client({ broker: "mqtt://publish-path.test", dial });
await client.connect();
const payload = new Uint8Array(64).fill(7);
const topic = "bench/path";
const q0 = { topic, payload, qos: 0 as const };
const q = { topic, payload, qos: (mode === "q2" ? 2 : 1) as 1 | 2 };

/** rr: the callback hands the message to the loop waiting for it. */
let waiter: (() => void) | undefined;
if (mode === "rr") {
  await client.subscribeCallback([{ topic, qos: 1 }], () => {
    const w = waiter;
    waiter = undefined;
    w?.();
  });
}

async function round(): Promise<void> {
  if (mode === "q0") {
    for (let i = 0; i < n; i++) await client.publish(q0);
  } else if (mode === "rr") {
    for (let i = 0; i < n; i++) {
      const got = new Promise<void>((resolve) => waiter = resolve);
      await client.publish(q);
      await got;
    }
  } else {
    const batch: Promise<unknown>[] = new Array(WINDOW);
    for (let i = 0; i < n; i += WINDOW) {
      for (let k = 0; k < WINDOW; k++) batch[k] = client.publish(q);
      await Promise.all(batch);
    }
  }
}

let best = Infinity;
for (let r = 0; r < 6; r++) {
  const c0 = cpuMicros();
  await round();
  const ns = ((cpuMicros() - c0) / n) * 1000;
  if (r > 0 && ns < best) best = ns;
}
console.log(JSON.stringify({ tree, mode, n, bestNsPerOp: Math.round(best * 10) / 10 }));
process.exit(0);
