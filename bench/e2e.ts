// End-to-end throughput of @mqttv5/client against MQTT.js (`mqtt` 5.x,
// protocolVersion 5) on the same local mosquitto, under Deno, Bun or Node.
//
//   deno run -A --no-lock --v8-flags=--expose-gc bench/e2e.ts --scenario qos0 [--client ours|mqttjs]
//   bun bench/e2e.ts --scenario qos1-pipe --client mqttjs
//   deno run -A --no-lock bench/e2e.ts --scenario big-qos0 --client raw --host 127.0.0.1 --port 1883
//   deno run -A --no-lock bench/e2e.ts --scenario rr-same-conn --client ours --shape iter --n 500
//
// Without --host it starts its own mosquitto on a free loopback port and stops
// it at the end. Each run prints one JSON line:
//   {"client","scenario","runtime","n","pubRate","e2eRate","e2eMBps","lost","clientUsPerMsg", ...}
// Latency percentiles per message in ms, with "latency" naming what was timed:
//   "p50Ms","p90Ms","p99Ms","maxMs","over10Ms" (the count above 10 ms), "latency":
//   qos1-seq      "publish->puback": every publish, call to PUBACK (one outstanding; raw too)
//   rr-same-conn  "publish->message": every round trip, publish call to the message in hand
//   qos0, qos1-pipe, qos2-pipe, big-qos0  "publish->receive": one message in 64 (LAT_EVERY)
//                 carries its sequence number in its first 4 payload bytes (a copy of the
//                 payload; the others start with 0xff), and the subscriber in the same
//                 process takes the time from that publish call to its receipt. Under a
//                 pipelined or QoS 0 stream this includes the queues (client, kernel,
//                 broker) the stream builds: the latency a message sees at that load.
//                 The raw writer's pre-encoded frames carry no stamp: no latency there.
//   none in qos0-nosub (no receiver), receive-raw and receive-raw-iter (pre-encoded
//   chunks written by this same process: no per-message send time), stall-heap (the
//   messages are dropped by design).
// `bench/e2e_run.ts` runs the matrix in fresh processes and prints the tables.
// (`--no-lock` keeps Deno from recording `npm:mqtt` in deno.lock while `mqtt`
// is not a devDependency; once it is, the bare `mqtt` import is used.)
//
// Scenarios (defaults; --n and --size override):
//   qos0         200k x 64 B QoS 0, publisher client + subscriber client
//   qos0-nosub   200k x 64 B QoS 0, no subscriber; ends with a QoS 1 fence publish
//   qos1-seq     20k x 64 B QoS 1, one outstanding (await each publish); --client raw:
//                one pre-encoded frame on a plain socket, waiting for each PUBACK (the floor)
//   qos1-pipe    100k x 64 B QoS 1, 64 outstanding (sliding window)
//   qos2-pipe    20k x 64 B QoS 2, 64 outstanding
//   rr-same-conn 2k x 64 B QoS 1 request/response on ONE connection: the client subscribes to
//                a topic at QoS 1, then per round trip publishes to it, awaits the PUBACK,
//                awaits the message from its own subscription and acks it. Latency = publish
//                call to message in hand; e2eRate = round trips/s. --client ours-iter |
//                ours-queue | ours-callback (subscribe() / subscribeQueue() /
//                subscribeCallback(); or --client ours --shape iter|queue|callback) | mqttjs.
//                The first --warmup (20) round trips are not recorded. Against a stock
//                mosquitto (Nagle on) a client that sends nothing until the application has
//                taken the message stalls on its kernel's delayed ACK (~40 ms per round trip).
//   big-qos0     100k x 16 KiB QoS 0; --client raw: pre-encoded frames on a plain socket
//   receive-raw  1M x 64 B QoS 0 from an in-process TCP server (no broker), subscribeCallback
//   receive-raw-iter  the same through a subscribe() iterator (--buffer, default n: no drops)
//   stall-heap   200k x 1 KiB QoS 0 into a subscribe() (buffer 64, drop-newest) nobody reads;
//                heap growth
//   conns        2k idle connections (--n), --window (100) connecting at a time, one subscription
//                each: connect time, heap and RSS per connection, idle CPU (bench/_conns.ts)

import process from "node:process";
import { type ChildProcess, spawn } from "node:child_process";
import { connect as netConnect, createServer, type Server, type Socket } from "node:net";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { Client, type Message } from "../mod.ts";
import { encodePacket } from "../src/wire/mod.ts";
import { runConns } from "./_conns.ts";

// ---------------------------------------------------------------------------
// Runtime

/** The runtime this process runs on. */
export type Runtime = "deno" | "bun" | "node";

interface BunSocketLike {
  write(data: Uint8Array): number;
  end(): void;
}
interface BunHandler {
  open?(s: BunSocketLike): void;
  data?(s: BunSocketLike, d: Uint8Array): void;
  drain?(s: BunSocketLike): void;
  close?(s: BunSocketLike): void;
  error?(s: BunSocketLike, e: Error): void;
}
interface BunLike {
  version: string;
  gc(force: boolean): void;
  connect(o: { hostname: string; port: number; socket: BunHandler }): Promise<BunSocketLike>;
  listen(o: { hostname: string; port: number; socket: BunHandler }): {
    port: number;
    stop(closeActive?: boolean): void;
  };
}
const G = globalThis as { Deno?: unknown; Bun?: BunLike; gc?: () => void };

/** `"deno"`, `"bun"` or `"node"`. */
export const RUNTIME: Runtime = G.Deno !== undefined
  ? "deno"
  : G.Bun !== undefined
  ? "bun"
  : "node";

/** `deno 2.9.6`, `bun 1.4.5`, `node v20...`. */
export function runtimeVersion(): string {
  if (RUNTIME === "deno") return `deno ${Deno.version.deno} (v8 ${Deno.version.v8})`;
  if (RUNTIME === "bun") return `bun ${G.Bun!.version}`;
  return `node ${process.version}`;
}

/**
 * A short hash of `mod.ts` and every file under `src/` in `root`, so that each
 * result names the library version it measured (the tree may change between runs).
 */
export function srcHash(root: string): string {
  const h = createHash("sha256");
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else h.update(path.slice(root.length)).update(readFileSync(path));
    }
  };
  try {
    h.update(readFileSync(join(root, "mod.ts")));
    walk(join(root, "src"));
  } catch {
    return "?";
  }
  return h.digest("hex").slice(0, 12);
}

/** The repository root this copy of e2e.ts belongs to (the working directory for a bundle). */
function repoRoot(): string {
  const url = import.meta.url;
  if (RUNTIME !== "node" && url.startsWith("file:")) {
    const path = decodeURIComponent(new URL("..", url).pathname);
    return path.endsWith("/") ? path.slice(0, -1) : path;
  }
  return process.cwd();
}

/** Runs a full GC when the runtime exposes one; returns whether it did. */
function gc(): boolean {
  if (typeof G.gc === "function") {
    G.gc();
    return true;
  }
  if (G.Bun !== undefined) {
    G.Bun.gc(true);
    return true;
  }
  return false;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------
// mosquitto

const MOSQUITTO = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"]
  .find((p) => existsSync(p)) ?? "mosquitto";

/** A mosquitto started by {@linkcode startBroker}. */
export interface Broker {
  host: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      s.removeAllListeners();
      s.on("error", () => {});
      s.destroy();
      resolve(ok);
    };
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

/**
 * Starts mosquitto on a free loopback port: anonymous, 1000 in-flight and
 * 1M queued messages per client so that the broker does not throttle.
 *
 * Its TCP settings stay stock: no `set_tcp_nodelay`, so mosquitto's sockets
 * run with Nagle's algorithm, as on the brokers users run. Do not add it: a
 * client whose acks wait for the application then pays the delayed-ACK stall
 * (rr-same-conn) here as it does in production, instead of hiding it.
 */
export async function startBroker(extraConf: string[] = []): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), "mqttv5-e2e-"));
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const conf = join(dir, "mosquitto.conf");
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        ...extraConf,
        "allow_anonymous true",
        "max_inflight_messages 1000",
        "max_queued_messages 1000000",
        `log_dest file ${join(dir, "mosquitto.log")}`,
        "log_type error",
        "log_type warning",
      ].join("\n") + "\n",
    );
    const child: ChildProcess = spawn(MOSQUITTO, ["-c", conf], { stdio: "ignore" });
    let exited = false;
    const exit = new Promise<void>((resolve) => {
      child.once("exit", () => {
        exited = true;
        resolve();
      });
      child.once("error", () => {
        exited = true;
        resolve();
      });
    });
    const deadline = Date.now() + 5000;
    while (!exited && Date.now() < deadline && !(await canConnect(port))) await sleep(20);
    if (exited) continue; // port taken meanwhile: try another
    if (Date.now() >= deadline) {
      child.kill("SIGKILL");
      await exit;
      break;
    }
    return {
      host: "127.0.0.1",
      port,
      pid: child.pid!,
      async stop() {
        if (!exited) {
          child.kill("SIGTERM");
          const t = setTimeout(() => child.kill("SIGKILL"), 3000);
          await exit;
          clearTimeout(t);
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  let log = "";
  try {
    log = readFileSync(join(dir, "mosquitto.log"), "utf8");
  } catch {
    // no log
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`Cannot start ${MOSQUITTO}: ${log}`);
}

/** CPU seconds (user + system) mosquitto has used, from /proc; NaN without a pid. */
function procCpuSeconds(pid: number): number {
  if (!(pid > 0)) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, USER_HZ = 100
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------
// MQTT.js

interface MqttJsClient {
  publish(
    topic: string,
    payload: Uint8Array,
    opts: { qos: 0 | 1 | 2 },
    cb: (err?: Error) => void,
  ): unknown;
  subscribeAsync(topic: string, opts: { qos: 0 | 1 | 2 }): Promise<unknown>;
  on(event: "message", fn: (topic: string, payload: Uint8Array) => void): unknown;
  once(event: string, fn: (arg: unknown) => void): unknown;
  endAsync(force?: boolean): Promise<void>;
}
interface MqttJs {
  connect(url: string, opts: { protocolVersion: 5; clean: boolean }): MqttJsClient;
}

let mqttjs: MqttJs | undefined;

/** A dynamic import that bundlers and the module graph leave alone (resolved at run time). */
const importByName = (specifier: string) => import(specifier);

async function loadMqttJs(): Promise<MqttJs> {
  if (mqttjs !== undefined) return mqttjs;
  let mod: { default?: MqttJs } & MqttJs;
  if (RUNTIME === "node") {
    // A bundle under /tmp cannot resolve bare specifiers: resolve from the working directory.
    mod = createRequire(join(process.cwd(), "package.json"))("mqtt");
  } else {
    try {
      mod = await importByName("mqtt");
    } catch (err) {
      if (RUNTIME !== "deno") throw err;
      mod = await importByName("npm:mqtt@5"); // until `mqtt` is a devDependency
    }
  }
  mqttjs = typeof mod.connect === "function" ? mod : mod.default!;
  return mqttjs;
}

async function mqttjsConnect(url: string): Promise<MqttJsClient> {
  const m = await loadMqttJs();
  const c = m.connect(url, { protocolVersion: 5, clean: true });
  await new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("error", (e) => reject(e));
  });
  return c;
}

// ---------------------------------------------------------------------------
// Plain sockets: the raw writer baseline and the in-process raw server.

interface RawConn {
  /** Writes all of `b`; resolves when the runtime took every byte. */
  write(b: Uint8Array): Promise<void>;
  close(): void;
}

interface RawServer {
  port: number;
  accepted: Promise<RawConn>;
  close(): void;
}

const RESOLVED = Promise.resolve();

/** Deno.Conn as a RawConn; `onData` gets views of one reused read buffer. */
function denoRaw(conn: Deno.Conn, onData: (b: Uint8Array) => void): RawConn {
  void (async () => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        onData(buf.subarray(0, n));
      }
    } catch {
      // closed
    }
  })();
  return {
    async write(b) {
      let off = 0;
      while (off < b.length) off += await conn.write(b.subarray(off));
    },
    close() {
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
}

/** A Bun socket as a RawConn (Bun's write() takes what it can; the rest goes on drain). */
class BunRaw implements RawConn {
  s: BunSocketLike | undefined;
  #pending: { b: Uint8Array; off: number; resolve: () => void } | null = null;
  constructor(readonly onData: (b: Uint8Array) => void) {}
  handler(onOpen?: (r: BunRaw) => void): BunHandler {
    return {
      open: (s) => {
        this.s = s;
        onOpen?.(this);
      },
      data: (_s, d) => this.onData(d),
      drain: () => this.#drain(),
      close: () => {},
      error: () => {},
    };
  }
  write(b: Uint8Array): Promise<void> {
    const n = this.s!.write(b);
    if (n === b.length) return RESOLVED;
    return new Promise((resolve) => {
      this.#pending = { b, off: Math.max(n, 0), resolve };
    });
  }
  #drain(): void {
    const p = this.#pending;
    if (p === null) return;
    const n = this.s!.write(p.b.subarray(p.off));
    if (n > 0) p.off += n;
    if (p.off >= p.b.length) {
      this.#pending = null;
      p.resolve();
    }
  }
  close(): void {
    try {
      this.s?.end();
    } catch {
      // already closed
    }
  }
}

function nodeRaw(s: Socket, onData: (b: Uint8Array) => void): RawConn {
  s.setNoDelay(true);
  s.on("data", (d: Uint8Array) => onData(d));
  s.on("error", () => {});
  return {
    write(b) {
      if (s.write(b)) return RESOLVED;
      return new Promise((resolve) => s.once("drain", () => resolve()));
    },
    close() {
      s.destroy();
    },
  };
}

async function rawConnect(
  host: string,
  port: number,
  onData: (b: Uint8Array) => void,
): Promise<RawConn> {
  if (RUNTIME === "deno") {
    const conn = await Deno.connect({ hostname: host, port });
    conn.setNoDelay(true);
    return denoRaw(conn, onData);
  }
  if (RUNTIME === "bun") {
    const r = new BunRaw(onData);
    r.s = await G.Bun!.connect({ hostname: host, port, socket: r.handler() });
    return r;
  }
  const s = netConnect({ host, port });
  await new Promise<void>((resolve, reject) => {
    s.once("connect", () => resolve());
    s.once("error", reject);
  });
  return nodeRaw(s, onData);
}

function rawListen(onData: (b: Uint8Array) => void): Promise<RawServer> {
  if (RUNTIME === "deno") {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = l.accept().then((c) => {
      c.setNoDelay(true);
      return denoRaw(c, onData);
    });
    return Promise.resolve({ port: l.addr.port, accepted, close: () => l.close() });
  }
  if (RUNTIME === "bun") {
    let onConn!: (r: RawConn) => void;
    const accepted = new Promise<RawConn>((resolve) => onConn = resolve);
    const r = new BunRaw(onData);
    const server = G.Bun!.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: r.handler(onConn),
    });
    return Promise.resolve({ port: server.port, accepted, close: () => server.stop(true) });
  }
  return new Promise((resolve) => {
    let onConn!: (r: RawConn) => void;
    const accepted = new Promise<RawConn>((res) => onConn = res);
    const server: Server = createServer((s) => onConn(nodeRaw(s, onData)));
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      resolve({ port, accepted, close: () => server.close() });
    });
  });
}

/** Splits a byte stream into MQTT control packets (small packets only). */
class FrameReader {
  #buf = new Uint8Array(0);
  constructor(readonly onPacket: (type: number, flags: number, body: Uint8Array) => void) {}
  push(chunk: Uint8Array): void {
    const all = new Uint8Array(this.#buf.length + chunk.length);
    all.set(this.#buf);
    all.set(chunk, this.#buf.length);
    let pos = 0;
    while (all.length - pos >= 2) {
      let rl = 0;
      let mul = 1;
      let i = pos + 1;
      for (; i < all.length; i++) {
        rl += (all[i] & 0x7f) * mul;
        mul *= 128;
        if (all[i] < 0x80) break;
      }
      if (i >= all.length) break;
      const end = i + 1 + rl;
      if (end > all.length) break;
      this.onPacket(all[pos] >> 4, all[pos] & 0x0f, all.subarray(i + 1, end));
      pos = end;
    }
    this.#buf = all.slice(pos);
  }
}

/** `count` copies of `frame` back to back, in one buffer of at most `limit` bytes. */
function repeatFrame(frame: Uint8Array, limit: number): { buf: Uint8Array; perWrite: number } {
  const perWrite = Math.max(1, Math.floor(limit / frame.length));
  const buf = new Uint8Array(perWrite * frame.length);
  for (let i = 0; i < perWrite; i++) buf.set(frame, i * frame.length);
  return { buf, perWrite };
}

/** Writes `n` copies of a frame, `perWrite` per socket write. */
async function blast(
  conn: RawConn,
  frame: Uint8Array,
  n: number,
  limit: number,
): Promise<void> {
  const { buf, perWrite } = repeatFrame(frame, limit);
  for (let left = n; left > 0;) {
    const k = Math.min(perWrite, left);
    await conn.write(k === perWrite ? buf : buf.subarray(0, k * frame.length));
    left -= k;
  }
}

const WRITE_LIMIT = 1024 * 1024;

// ---------------------------------------------------------------------------
// Counting at the subscriber

class Counter {
  n = 0;
  bytes = 0;
  /** performance.now() of the last receipt (exact when all arrived, else to ~20 ms). */
  tLast = 0;
  readonly done: Promise<void>;
  #resolve!: () => void;
  constructor(readonly target: number) {
    this.done = new Promise((resolve) => this.#resolve = resolve);
  }
  hit(len: number): void {
    this.bytes += len;
    if (++this.n === this.target) {
      this.tLast = performance.now();
      this.#resolve();
    }
  }
  /** Waits for every message, or until nothing arrived for `idleMs`. */
  async wait(idleMs: number): Promise<void> {
    if (this.n >= this.target) return;
    let seen = this.n;
    let changedAt = performance.now();
    let timer: ReturnType<typeof setInterval> | undefined;
    const idle = new Promise<void>((resolve) => {
      timer = setInterval(() => {
        const now = performance.now();
        if (this.n !== seen) {
          seen = this.n;
          changedAt = now;
        } else if (now - changedAt >= idleMs) {
          resolve();
        }
      }, 20);
    });
    await Promise.race([this.done, idle]);
    clearInterval(timer);
    if (this.n < this.target) this.tLast = changedAt;
  }
}

// ---------------------------------------------------------------------------
// Scenarios

/**
 * Client under test. `raw` is the plain-socket writer of big-qos0 and qos1-seq;
 * `ours-iter`, `ours-queue` and `ours-callback` are our client reading through
 * `subscribe()`, `subscribeQueue()` or `subscribeCallback()` (rr-same-conn).
 */
export type ClientKind = "ours" | "mqttjs" | "raw" | "ours-iter" | "ours-queue" | "ours-callback";

interface ScenarioDef {
  n: number;
  size: number;
  qos: 0 | 1 | 2;
  /** Outstanding publishes: 1 = await each. */
  window: number;
  sub: boolean;
  /** End with a QoS 1 publish whose PUBACK proves the broker took everything. */
  fence?: boolean;
  kind: "broker" | "receive-raw" | "receive-raw-iter" | "stall-heap" | "rr-same-conn" | "conns";
  clients: ClientKind[];
}

/** The scenarios and their defaults. */
export const SCENARIOS: Record<string, ScenarioDef> = {
  "qos0": {
    n: 200_000,
    size: 64,
    qos: 0,
    window: 1,
    sub: true,
    kind: "broker",
    clients: ["ours", "mqttjs"],
  },
  "qos0-nosub": {
    n: 200_000,
    size: 64,
    qos: 0,
    window: 1,
    sub: false,
    fence: true,
    kind: "broker",
    clients: ["ours", "mqttjs"],
  },
  "qos1-seq": {
    n: 20_000,
    size: 64,
    qos: 1,
    window: 1,
    sub: true,
    kind: "broker",
    clients: ["ours", "mqttjs", "raw"],
  },
  "qos1-pipe": {
    n: 100_000,
    size: 64,
    qos: 1,
    window: 64,
    sub: true,
    kind: "broker",
    clients: ["ours", "mqttjs"],
  },
  "qos2-pipe": {
    n: 20_000,
    size: 64,
    qos: 2,
    window: 64,
    sub: true,
    kind: "broker",
    clients: ["ours", "mqttjs"],
  },
  "rr-same-conn": {
    n: 2_000,
    size: 64,
    qos: 1,
    window: 1,
    sub: true,
    kind: "rr-same-conn",
    clients: ["ours-iter", "ours-queue", "ours-callback", "mqttjs"],
  },
  "big-qos0": {
    // 100k, not 20k: a 20k run lasts ~0.35 s, and on Bun the JIT's compiler threads then
    // took a third of the process's CPU (perf: JITWorker 33-37% of samples), which
    // counts against the client with more code to compile, not against the raw writer.
    n: 100_000,
    size: 16 * 1024,
    qos: 0,
    window: 1,
    sub: true,
    kind: "broker",
    clients: ["ours", "mqttjs", "raw"],
  },
  "receive-raw": {
    n: 1_000_000,
    size: 64,
    qos: 0,
    window: 1,
    sub: true,
    kind: "receive-raw",
    clients: ["ours", "mqttjs"],
  },
  "receive-raw-iter": {
    n: 1_000_000,
    size: 64,
    qos: 0,
    window: 1,
    sub: true,
    kind: "receive-raw-iter",
    clients: ["ours"],
  },
  "stall-heap": {
    n: 200_000,
    size: 1024,
    qos: 0,
    window: 1,
    sub: true,
    kind: "stall-heap",
    clients: ["ours"],
  },
  // n idle connections, one subscription each, --window at a time (bench/_conns.ts)
  "conns": {
    n: 2_000,
    size: 0,
    qos: 0,
    window: 100,
    sub: true,
    kind: "conns",
    clients: ["ours", "mqttjs"],
  },
};

/** Parsed command line. */
export interface Options {
  scenario: string;
  client: ClientKind;
  host: string | undefined;
  port: number;
  n: number;
  size: number;
  window: number;
  buffer: number;
  idleMs: number;
  brokerPid: number;
  profile: string | undefined;
  /** receive-raw: put this Subscription Identifier on every frame (0: none), like mosquitto does. */
  subId: number;
  /** rr-same-conn: round trips run before the measured ones, not recorded. */
  warmup: number;
}

/** One run's result: the JSON line. */
export interface Result {
  client: string;
  scenario: string;
  runtime: string;
  n: number;
  pubRate: number | null;
  e2eRate: number | null;
  e2eMBps: number | null;
  lost: number | null;
  clientUsPerMsg: number;
  [extra: string]: unknown;
}

interface Publisher {
  publish(topic: string, payload: Uint8Array, qos: 0 | 1 | 2): Promise<unknown>;
  close(): Promise<void>;
}

async function oursPublisher(url: string): Promise<Publisher> {
  const c = new Client({ broker: url });
  await c.connect();
  return {
    publish: (topic, payload, qos) => c.publish({ topic, payload, qos }),
    close: () => c.disconnect(),
  };
}

async function mqttjsPublisher(url: string): Promise<Publisher> {
  const c = await mqttjsConnect(url);
  return {
    publish: (topic, payload, qos) =>
      new Promise<void>((resolve, reject) =>
        c.publish(topic, payload, { qos }, (err) => (err ? reject(err) : resolve()))
      ),
    close: () => c.endAsync(),
  };
}

/**
 * n publishes with at most `window` unresolved (a ring of promises; 1 = await each).
 * With `lat` (window 1 only) it records each publish's latency in ms: call to resolution.
 * With `dl`, one publish in LAT_EVERY sends a stamped copy of the payload (publish->receive).
 */
async function publishLoop(
  pub: Publisher,
  topic: string,
  payload: Uint8Array,
  qos: 0 | 1 | 2,
  n: number,
  window: number,
  lat?: Float64Array,
  dl?: DeliveryLatency,
): Promise<void> {
  if (window <= 1) {
    if (lat === undefined && dl !== undefined) {
      for (let i = 0; i < n; i++) {
        await pub.publish(topic, i % LAT_EVERY === 0 ? dl.stamp(payload, i) : payload, qos);
      }
      return;
    }
    if (lat === undefined) {
      for (let i = 0; i < n; i++) await pub.publish(topic, payload, qos);
      return;
    }
    // One clock read per publish: the end of one is the start of the next.
    let t = performance.now();
    for (let i = 0; i < n; i++) {
      await pub.publish(topic, payload, qos);
      const t1 = performance.now();
      lat[i] = t1 - t;
      t = t1;
    }
    return;
  }
  const ring: Promise<unknown>[] = new Array(window);
  for (let i = 0; i < n; i++) {
    const k = i % window;
    if (i >= window) await ring[k];
    ring[k] = pub.publish(
      topic,
      dl !== undefined && i % LAT_EVERY === 0 ? dl.stamp(payload, i) : payload,
      qos,
    );
  }
  await Promise.all(ring.slice(0, Math.min(n, window)));
}

/** The raw writer: CONNECT, wait for CONNACK, then pre-encoded PUBLISH frames in 1 MiB writes. */
async function rawPublisher(host: string, port: number) {
  let onConnack!: () => void;
  let onRefused!: (e: Error) => void;
  const connacked = new Promise<void>((resolve, reject) => {
    onConnack = resolve;
    onRefused = reject;
  });
  let onPuback: (() => void) | undefined;
  const reader = new FrameReader((type, _flags, body) => {
    if (type === 2) body[1] === 0 ? onConnack() : onRefused(new Error(`CONNACK ${body[1]}`));
    else if (type === 4) onPuback?.();
  });
  const conn = await rawConnect(host, port, (b) => reader.push(b));
  await conn.write(
    encodePacket({ type: 1, clientId: "", cleanStart: true, keepAlive: 60, properties: {} }),
  );
  await connacked;
  return {
    run: (topic: string, payload: Uint8Array, n: number) =>
      blast(
        conn,
        encodePacket({ type: 3, topic, payload, qos: 0, retain: false, dup: false }),
        n,
        WRITE_LIMIT,
      ),
    /**
     * QoS 1, one outstanding: one pre-encoded frame, its packet id patched per message.
     * `lat` gets each message's write-to-PUBACK time in ms.
     */
    async seq(topic: string, payload: Uint8Array, n: number, lat?: Float64Array) {
      const frame = encodePacket({
        type: 3,
        topic,
        payload,
        qos: 1,
        packetId: 1,
        retain: false,
        dup: false,
      });
      const topicLen = new TextEncoder().encode(topic).length;
      let at = 1;
      while (frame[at] & 0x80) at++;
      at += 1 + 2 + topicLen; // fixed header, topic length, topic
      let t = performance.now();
      for (let i = 0; i < n; i++) {
        const id = (i % 65535) + 1;
        frame[at] = id >> 8;
        frame[at + 1] = id & 0xff;
        const acked = new Promise<void>((resolve) => onPuback = resolve);
        await conn.write(frame);
        await acked;
        const t1 = performance.now();
        if (lat !== undefined) lat[i] = t1 - t;
        t = t1;
      }
    },
    close: async () => {
      await conn.write(new Uint8Array([0xe0, 0x00]));
      await sleep(20);
      conn.close();
    },
  };
}

interface Subscriber {
  close(): Promise<void>;
}

async function oursSubscriber(
  url: string,
  topic: string,
  qos: 0 | 1 | 2,
  counter: Counter,
  dl?: DeliveryLatency,
): Promise<Subscriber> {
  const c = new Client({ broker: url });
  await c.connect();
  await c.subscribeCallback(
    [{ topic, qos }],
    dl === undefined ? (m: Message) => counter.hit(m.payload.length) : (m: Message) => {
      dl.received(m.payload);
      counter.hit(m.payload.length);
    },
  );
  return { close: () => c.disconnect() };
}

async function mqttjsSubscriber(
  url: string,
  topic: string,
  qos: 0 | 1 | 2,
  counter: Counter,
  dl?: DeliveryLatency,
): Promise<Subscriber> {
  const c = await mqttjsConnect(url);
  c.on(
    "message",
    dl === undefined ? (_t, payload) => counter.hit(payload.length) : (_t, payload) => {
      dl.received(payload);
      counter.hit(payload.length);
    },
  );
  await c.subscribeAsync(topic, { qos });
  return { close: () => c.endAsync() };
}

// -- CPU profile of the measured window (node:inspector; works under Deno) --

/** A CPU profile being taken: `stop()` writes it to its file. */
export interface Profiler {
  stop(): Promise<void>;
}

/**
 * Starts a CPU profile (node:inspector, 100 µs sampling) that `stop()` writes to `path`.
 *
 * @param path The .cpuprofile file; undefined: no profile.
 * @returns The profiler, or undefined.
 */
export async function startProfile(path: string | undefined): Promise<Profiler | undefined> {
  if (path === undefined) return undefined;
  const { Session } = await import("node:inspector");
  const s = new Session();
  s.connect();
  const post = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) =>
      s.post(method, params, (err: unknown, r: unknown) => (err ? reject(err) : resolve(r)))
    );
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 100 });
  await post("Profiler.start");
  return {
    async stop() {
      const r = await post("Profiler.stop") as { profile: unknown };
      writeFileSync(path, JSON.stringify(r.profile));
      s.disconnect();
    },
  };
}

function payloadOf(size: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = (i * 31 + 7) & 0xff;
  return p;
}

function round(v: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** One message in LAT_EVERY is stamped for publish->receive latency. */
const LAT_EVERY = 64;

/**
 * Publish->receive latency of a stream, sampled: message i with i % LAT_EVERY === 0
 * is published as a copy of the payload with i in its first 4 bytes (the shared
 * payload starts with 0xff: not stamped), and the time of its publish call is kept;
 * the subscriber (same process, same clock) checks the first byte of each message.
 */
class DeliveryLatency {
  readonly #sent: Float64Array;
  readonly samples: Float64Array;
  count = 0;
  /** @param copy copies a payload (Buffer.from for MQTT.js, which may keep it until written). */
  constructor(n: number, readonly copy: (p: Uint8Array) => Uint8Array) {
    const k = Math.ceil(n / LAT_EVERY);
    this.#sent = new Float64Array(k);
    this.samples = new Float64Array(k);
  }
  /** Marks the shared payload as not stamped (first byte 0xff; sequence numbers stay < 2^24). */
  static unmark(payload: Uint8Array): void {
    payload.fill(0xff, 0, Math.min(4, payload.length));
  }
  stamp(payload: Uint8Array, i: number): Uint8Array {
    const p = this.copy(payload);
    writeSeq(p, i);
    this.#sent[i / LAT_EVERY] = performance.now();
    return p;
  }
  received(p: Uint8Array): void {
    if (p.length < 4 || p[0] === 0xff) return;
    const k = readSeq(p) / LAT_EVERY;
    if (this.count < this.samples.length) {
      this.samples[this.count++] = performance.now() - this.#sent[k];
    }
  }
}

/** Latency fields of a result: percentiles of the samples in ms. */
export interface LatencyStats {
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** Samples above 10 ms (a delayed ACK on Linux waits ~40 ms). */
  over10Ms: number;
}

/** Percentiles (nearest rank) of the first `count` samples in ms, rounded to 1 µs. */
export function latencyStats(samples: Float64Array, count: number): LatencyStats {
  if (count <= 0) return { p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null, over10Ms: 0 };
  const s = samples.slice(0, count).sort(); // typed arrays sort numerically
  const at = (p: number) => round(s[Math.min(count, Math.max(1, Math.ceil(p * count))) - 1], 3);
  let over10Ms = 0;
  for (let i = count - 1; i >= 0 && s[i] > 10; i--) over10Ms++;
  return {
    p50Ms: at(0.5),
    p90Ms: at(0.9),
    p99Ms: at(0.99),
    maxMs: round(s[count - 1], 3),
    over10Ms,
  };
}

function perSecond(count: number, ms: number): number {
  return ms > 0 ? round(count / (ms / 1000)) : 0;
}

function topicFor(scenario: string): string {
  return `bench/${scenario}/${Math.random().toString(36).slice(2, 10)}`;
}

/** qos0, qos0-nosub, qos1-seq, qos1-pipe, qos2-pipe, big-qos0. */
async function runBrokerScenario(o: Options, host: string, port: number): Promise<Result> {
  const sc = SCENARIOS[o.scenario];
  const url = `mqtt://${host}:${port}`;
  const topic = topicFor(o.scenario);
  const payload = o.client === "mqttjs" ? Buffer.from(payloadOf(o.size)) : payloadOf(o.size);
  const counter = new Counter(o.n);
  // publish->receive, sampled, where a subscriber receives a stream (not qos1-seq, which
  // times each publish to its PUBACK; not the raw writer's pre-encoded frames).
  const dl = sc.sub && o.client !== "raw" && (sc.qos === 0 || o.window > 1)
    ? new DeliveryLatency(
      o.n,
      o.client === "mqttjs" ? (p) => Buffer.from(p) : (p) => p.slice(),
    )
    : undefined;
  if (dl !== undefined) DeliveryLatency.unmark(payload);
  let sub: Subscriber | undefined;
  if (sc.sub) {
    // The raw writer's messages are received by our client.
    sub = o.client === "mqttjs"
      ? await mqttjsSubscriber(url, topic, sc.qos, counter, dl)
      : await oursSubscriber(url, topic, sc.qos, counter, dl);
  }
  const raw = o.client === "raw" ? await rawPublisher(host, port) : undefined;
  const pub = raw !== undefined
    ? undefined
    : o.client === "mqttjs"
    ? await mqttjsPublisher(url)
    : await oursPublisher(url);
  gc();
  await sleep(50);
  // Per-publish latency where it costs one clock read per message: one outstanding
  // acknowledged publish (qos1-seq). With a window the completions are not observed
  // one by one, and a QoS 0 publish has nothing to wait for.
  const lat = sc.qos > 0 && o.window <= 1 ? new Float64Array(o.n) : undefined;
  const prof = await startProfile(o.profile);
  const b0 = procCpuSeconds(o.brokerPid);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  if (raw !== undefined && sc.qos === 1) await raw.seq(topic, payload, o.n, lat);
  else if (raw !== undefined) await raw.run(topic, payload, o.n);
  else await publishLoop(pub!, topic, payload, sc.qos, o.n, o.window, lat, dl);
  const tPub = performance.now();
  let tEnd = tPub;
  if (sc.fence) {
    await pub!.publish(`${topic}/fence`, payload, 1);
    tEnd = performance.now();
  }
  if (sub !== undefined) {
    await counter.wait(o.idleMs);
    tEnd = counter.tLast;
  }
  const cpu = process.cpuUsage(c0);
  const tDone = performance.now();
  const b1 = procCpuSeconds(o.brokerPid);
  await prof?.stop();
  await pub?.close();
  await raw?.close();
  await sub?.close();
  const received = sub !== undefined ? counter.n : o.n;
  const brokerCpuPct = Number.isNaN(b0) || Number.isNaN(b1)
    ? null
    : round(((b1 - b0) / ((tDone - t0) / 1000)) * 100);
  return {
    client: o.client,
    scenario: o.scenario,
    runtime: RUNTIME,
    n: o.n,
    pubRate: perSecond(o.n, tPub - t0),
    e2eRate: perSecond(received, tEnd - t0),
    e2eMBps: round((received * o.size) / ((tEnd - t0) / 1000) / 1e6, 2),
    lost: sub !== undefined ? o.n - counter.n : null,
    clientUsPerMsg: round((cpu.user + cpu.system) / o.n, 3),
    brokerCpuPct,
    size: o.size,
    window: o.window,
    ms: round(tEnd - t0, 1),
    ...(lat !== undefined ? { latency: "publish->puback", ...latencyStats(lat, o.n) } : {}),
    ...(dl !== undefined && dl.count > 0
      ? { latency: "publish->receive", ...latencyStats(dl.samples, dl.count) }
      : {}),
  };
}

/** An in-process server that answers CONNECT / SUBSCRIBE / UNSUBSCRIBE / PINGREQ. */
async function rawMqttServer() {
  let conn: RawConn | undefined;
  let onSubscribed!: () => void;
  const subscribed = new Promise<void>((resolve) => onSubscribed = resolve);
  const reader = new FrameReader((type, _flags, body) => {
    switch (type) {
      case 1: // CONNECT -> CONNACK, no properties
        void conn!.write(new Uint8Array([0x20, 0x03, 0x00, 0x00, 0x00]));
        break;
      case 8: // SUBSCRIBE -> SUBACK granting QoS 0 to one filter
        void conn!.write(new Uint8Array([0x90, 0x04, body[0], body[1], 0x00, 0x00])).then(() =>
          onSubscribed()
        );
        break;
      case 10: // UNSUBSCRIBE -> UNSUBACK, success
        void conn!.write(new Uint8Array([0xb0, 0x04, body[0], body[1], 0x00, 0x00]));
        break;
      case 12: // PINGREQ
        void conn!.write(new Uint8Array([0xd0, 0x00]));
        break;
      case 14: // DISCONNECT
        conn!.close();
        break;
    }
  });
  const server = await rawListen((b) => reader.push(b));
  return {
    port: server.port,
    subscribed,
    async accepted() {
      conn = await server.accepted;
      return conn;
    },
    close() {
      conn?.close();
      server.close();
    },
  };
}

function varintBytes(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return out;
}

/**
 * A QoS 0 PUBLISH carrying a Subscription Identifier property, as mosquitto
 * sends it to a client that subscribed with one (the encoder rightly refuses
 * to put this inbound-only property on an outbound PUBLISH).
 */
function publishWithSubId(topic: string, payload: Uint8Array, subId: number): Uint8Array {
  const t = new TextEncoder().encode(topic);
  const props = [0x0b, ...varintBytes(subId)];
  const body = [t.length >> 8, t.length & 0xff, ...t, ...varintBytes(props.length), ...props];
  const rl = body.length + payload.length;
  const head = [0x30, ...varintBytes(rl)];
  const out = new Uint8Array(head.length + rl);
  out.set(head);
  out.set(body, head.length);
  out.set(payload, head.length + body.length);
  return out;
}

/** receive-raw (subscribeCallback / MQTT.js on("message")) and receive-raw-iter (subscribe()). */
async function runReceiveRaw(o: Options): Promise<Result> {
  const sc = SCENARIOS[o.scenario];
  const iter = sc.kind === "receive-raw-iter";
  if (iter && o.client !== "ours") throw new Error(`${o.scenario} runs only with --client ours`);
  const topic = "bench/raw";
  const frame = o.subId > 0 ? publishWithSubId(topic, payloadOf(o.size), o.subId) : encodePacket({
    type: 3,
    topic,
    payload: payloadOf(o.size),
    qos: 0,
    retain: false,
    dup: false,
  });
  const server = await rawMqttServer();
  const url = `mqtt://127.0.0.1:${server.port}`;
  const counter = new Counter(o.n);
  const accepted = server.accepted();
  let close: () => Promise<void>;
  let consumer: Promise<void> | undefined;
  let stopIter: (() => Promise<void>) | undefined;
  if (o.client === "mqttjs") {
    const c = await mqttjsConnect(url);
    c.on("message", (_t, payload) => counter.hit(payload.length));
    await c.subscribeAsync(topic, { qos: 0 });
    close = () => c.endAsync(true);
  } else {
    const c = new Client({ broker: url, stats: true });
    await c.connect();
    if (iter) {
      const sub = await c.subscribe([topic], { buffer: o.buffer });
      consumer = (async () => {
        for await (const m of sub) {
          m.ack();
          counter.hit(m.payload.length);
          if (counter.n >= o.n) break;
        }
      })();
      stopIter = () => sub.unsubscribe();
    } else {
      await c.subscribeCallback([topic], (m: Message) => counter.hit(m.payload.length));
    }
    close = () => c.disconnect();
  }
  const conn = await accepted;
  await server.subscribed;
  gc();
  await sleep(50);
  const prof = await startProfile(o.profile);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await blast(conn, frame, o.n, WRITE_LIMIT);
  const tPub = performance.now();
  await counter.wait(o.idleMs);
  const cpu = process.cpuUsage(c0);
  await prof?.stop();
  if (counter.n < o.n) await stopIter?.();
  await consumer;
  await close();
  server.close();
  const tEnd = counter.tLast;
  return {
    client: o.client,
    scenario: o.scenario,
    runtime: RUNTIME,
    n: o.n,
    pubRate: perSecond(o.n, tPub - t0),
    e2eRate: perSecond(counter.n, tEnd - t0),
    e2eMBps: round((counter.n * o.size) / ((tEnd - t0) / 1000) / 1e6, 2),
    lost: o.n - counter.n,
    clientUsPerMsg: round((cpu.user + cpu.system) / o.n, 3),
    size: o.size,
    buffer: iter ? o.buffer : null,
    subId: o.subId,
    ms: round(tEnd - t0, 1),
  };
}

/** A subscribe() (default buffer) nobody reads while n messages arrive: heap after GC. */
async function runStallHeap(o: Options, host: string, port: number): Promise<Result> {
  if (o.client !== "ours") throw new Error("stall-heap runs only with --client ours");
  const url = `mqtt://${host}:${port}`;
  const topic = topicFor(o.scenario);
  const subClient = new Client({ broker: url, stats: true });
  await subClient.connect();
  // Default buffer 64, never read. Dropping, as in every earlier round: under the default
  // "block" policy the client stops reading after 64 and the broker holds the rest, so the
  // heap stays flat by construction; this measures what the drop path keeps.
  const sub = await subClient.subscribe([topic], { dropPolicy: "drop-newest" });
  const pub = await oursPublisher(url);
  const payload = payloadOf(o.size);
  const hasGc = gc();
  await sleep(50);
  gc();
  const before = process.memoryUsage();
  let peakHeap = before.heapUsed;
  const sampler = setInterval(() => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }, 25);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await publishLoop(pub, topic, payload, 0, o.n, 1);
  const tPub = performance.now();
  // Wait until the subscriber's client has taken every PUBLISH (or nothing came for idleMs).
  let seen = -1;
  let changedAt = performance.now();
  let tLast = changedAt;
  while (true) {
    const got = subClient.stats().inboundPublishes;
    const now = performance.now();
    if (got >= o.n) {
      tLast = now;
      break;
    }
    if (got !== seen) {
      seen = got;
      changedAt = now;
    } else if (now - changedAt >= o.idleMs) {
      tLast = changedAt;
      break;
    }
    await sleep(5);
  }
  const cpu = process.cpuUsage(c0);
  clearInterval(sampler);
  gc();
  await sleep(50);
  gc();
  const after = process.memoryUsage();
  const st = subClient.stats();
  await pub.close();
  await sub.unsubscribe().catch(() => {});
  await subClient.disconnect();
  return {
    client: o.client,
    scenario: o.scenario,
    runtime: RUNTIME,
    n: o.n,
    pubRate: perSecond(o.n, tPub - t0),
    e2eRate: perSecond(st.inboundPublishes, tLast - t0),
    e2eMBps: round((st.inboundPublishes * o.size) / ((tLast - t0) / 1000) / 1e6, 2),
    lost: o.n - st.inboundPublishes,
    clientUsPerMsg: round((cpu.user + cpu.system) / o.n, 3),
    size: o.size,
    heapGrowthMiB: round((after.heapUsed - before.heapUsed) / MiB, 2),
    peakHeapGrowthMiB: round((peakHeap - before.heapUsed) / MiB, 2),
    rssGrowthMiB: round((after.rss - before.rss) / MiB, 2),
    arrayBuffersGrowthMiB: after.arrayBuffers === undefined
      ? null
      : round((after.arrayBuffers - before.arrayBuffers) / MiB, 2),
    heapBeforeMiB: round(before.heapUsed / MiB, 2),
    heapAfterMiB: round(after.heapUsed / MiB, 2),
    dropped: st.inboundDropped,
    gc: hasGc,
  };
}

// ---------------------------------------------------------------------------
// rr-same-conn: request/response through the broker on one connection

/**
 * One client's side of rr-same-conn: a QoS 1 publish that resolves on its
 * PUBACK, and the next message of the same client's subscription, read the way
 * an application reads it (`T` is what the shape's read resolves to).
 */
interface RoundTripper<T> {
  publish(payload: Uint8Array): Promise<unknown>;
  next(): Promise<T>;
  /** The sequence number in the message's first 4 payload bytes; -1 when the subscription ended. */
  seqOf(m: T): number;
  /** Acks the message (a no-op where the client acks when the handler returns). */
  ack(m: T): void;
  close(): Promise<void>;
}

const readSeq = (p: Uint8Array) => ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;

function writeSeq(p: Uint8Array, seq: number): void {
  p[0] = seq >>> 24;
  p[1] = (seq >>> 16) & 0xff;
  p[2] = (seq >>> 8) & 0xff;
  p[3] = seq & 0xff;
}

/** Sequence numbers handed over by a message callback, waiting for the measuring loop. */
class Inbox {
  #items: number[] = [];
  #head = 0;
  #waiter: ((seq: number) => void) | null = null;
  put(seq: number): void {
    const w = this.#waiter;
    if (w !== null) {
      this.#waiter = null;
      w(seq);
    } else {
      this.#items.push(seq);
    }
  }
  take(): Promise<number> {
    if (this.#head < this.#items.length) {
      const v = this.#items[this.#head++];
      if (this.#head === this.#items.length) {
        this.#items.length = 0;
        this.#head = 0;
      }
      return Promise.resolve(v);
    }
    return new Promise((resolve) => this.#waiter = resolve);
  }
}

async function oursRoundTripper(
  url: string,
  topic: string,
  shape: "iter" | "queue" | "callback",
): Promise<RoundTripper<unknown>> {
  const c = new Client({ broker: url });
  await c.connect();
  const filters = [{ topic, qos: 1 as const }];
  const publish = (payload: Uint8Array) => c.publish({ topic, payload, qos: 1 });
  const close = () => c.disconnect();
  if (shape === "callback") {
    const inbox = new Inbox();
    // The handler runs on the read path; the client acks when it returns.
    await c.subscribeCallback(filters, (m: Message) => inbox.put(readSeq(m.payload)));
    const rt: RoundTripper<number> = {
      publish,
      next: () => inbox.take(),
      seqOf: (seq) => seq,
      ack() {},
      close,
    };
    return rt as RoundTripper<unknown>;
  }
  if (shape === "queue") {
    const { queue } = await c.subscribeQueue(filters);
    const rt: RoundTripper<Message | undefined> = {
      publish,
      next: () => queue.dequeue(),
      seqOf: (m) => (m === undefined ? -1 : readSeq(m.payload)),
      ack: (m) => m!.ack(),
      close,
    };
    return rt as RoundTripper<unknown>;
  }
  // What `for await (const m of sub)` does, one step per round trip.
  const it = (await c.subscribe(filters))[Symbol.asyncIterator]();
  const rt: RoundTripper<IteratorResult<Message>> = {
    publish,
    next: () => it.next(),
    seqOf: (r) => (r.done ? -1 : readSeq(r.value.payload)),
    ack: (r) => (r.value as Message).ack(),
    close,
  };
  return rt as RoundTripper<unknown>;
}

async function mqttjsRoundTripper(url: string, topic: string): Promise<RoundTripper<unknown>> {
  const c = await mqttjsConnect(url);
  const inbox = new Inbox();
  // MQTT.js sends the PUBACK for a delivery once its "message" listeners have run.
  c.on("message", (_t, payload) => inbox.put(readSeq(payload)));
  await c.subscribeAsync(topic, { qos: 1 });
  const rt: RoundTripper<number> = {
    publish: (payload) =>
      new Promise<void>((resolve, reject) =>
        c.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve()))
      ),
    next: () => inbox.take(),
    seqOf: (seq) => seq,
    ack() {},
    close: () => c.endAsync(),
  };
  return rt as RoundTripper<unknown>;
}

/** Progress of a round-trip loop, read by the stall watchdog. */
interface RoundTripProgress {
  /** Round trips completed (warm-up included). */
  count: number;
  /** Messages whose sequence number was not the one just published. */
  mismatched: number;
}

/**
 * Round trips `from` .. `to - 1`: publish (sequence number in the payload),
 * await the PUBACK, await the message, ack it. `lat[i]` gets round trip i's
 * latency in ms (publish call to message in hand) for i >= 0.
 */
async function roundTrips<T>(
  rt: RoundTripper<T>,
  payload: Uint8Array,
  from: number,
  to: number,
  lat: Float64Array,
  progress: RoundTripProgress,
): Promise<void> {
  for (let i = from; i < to; i++) {
    const seq = i >>> 0;
    writeSeq(payload, seq);
    const t = performance.now();
    await rt.publish(payload);
    const m = await rt.next();
    const t1 = performance.now();
    const got = rt.seqOf(m);
    if (got < 0) throw new Error(`the subscription ended after ${progress.count} round trips`);
    rt.ack(m);
    if (got !== seq) progress.mismatched++;
    if (i >= 0) lat[i] = t1 - t;
    progress.count++;
  }
}

/**
 * Resolves when `progress.count` has not moved for `idleMs` (a round trip
 * lost); `stop()` ends the watch.
 */
function stallWatch(progress: RoundTripProgress, idleMs: number) {
  let timer: ReturnType<typeof setInterval> | undefined;
  const stalled = new Promise<void>((resolve) => {
    let seen = progress.count;
    let changedAt = performance.now();
    timer = setInterval(() => {
      const now = performance.now();
      if (progress.count !== seen) {
        seen = progress.count;
        changedAt = now;
      } else if (now - changedAt >= idleMs) {
        resolve();
      }
    }, 50);
  });
  return { stalled, stop: () => clearInterval(timer) };
}

/**
 * rr-same-conn: one client subscribes to a topic at QoS 1, then n times in a
 * row publishes to it at QoS 1, awaits the PUBACK, awaits the message from its
 * own subscription and acks it. Latency per round trip: publish call to
 * message in hand. `--warmup` round trips before the measured ones are not
 * recorded.
 */
async function runRrSameConn(o: Options, host: string, port: number): Promise<Result> {
  if (o.size < 4) throw new RangeError("rr-same-conn needs --size >= 4 (a sequence number)");
  const url = `mqtt://${host}:${port}`;
  const topic = topicFor(o.scenario);
  const payload = o.client === "mqttjs" ? Buffer.from(payloadOf(o.size)) : payloadOf(o.size);
  const rt = o.client === "mqttjs"
    ? await mqttjsRoundTripper(url, topic)
    : await oursRoundTripper(url, topic, o.client.slice(5) as "iter" | "queue" | "callback");
  const lat = new Float64Array(o.n);
  const progress: RoundTripProgress = { count: 0, mismatched: 0 };
  let error: string | undefined;
  const loop = async (from: number, to: number) => {
    const watch = stallWatch(progress, o.idleMs);
    const run = roundTrips(rt, payload, from, to, lat, progress);
    run.catch(() => {}); // a stalled loop may fail after the race gave up on it
    const stalled = await Promise.race([run.then(() => false), watch.stalled.then(() => true)])
      .finally(watch.stop);
    if (stalled) throw new Error(`no round trip for ${o.idleMs} ms after ${progress.count}`);
  };
  let t0 = performance.now();
  let tEnd = t0;
  let c0 = process.cpuUsage();
  let b0 = NaN;
  let prof: Profiler | undefined;
  try {
    await loop(-o.warmup, 0);
    gc();
    await sleep(50);
    prof = await startProfile(o.profile);
    b0 = procCpuSeconds(o.brokerPid);
    c0 = process.cpuUsage();
    t0 = performance.now();
    await loop(0, o.n);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  tEnd = performance.now();
  const cpu = process.cpuUsage(c0);
  const b1 = procCpuSeconds(o.brokerPid);
  await prof?.stop();
  const done = Math.max(0, progress.count - o.warmup);
  if (error === undefined) await rt.close();
  return {
    client: o.client,
    scenario: o.scenario,
    runtime: RUNTIME,
    n: o.n,
    pubRate: null,
    e2eRate: perSecond(done, tEnd - t0), // round trips per second
    e2eMBps: null,
    lost: o.n - done,
    clientUsPerMsg: done > 0 ? round((cpu.user + cpu.system) / done, 3) : NaN,
    brokerCpuPct: Number.isNaN(b0) || Number.isNaN(b1)
      ? null
      : round(((b1 - b0) / ((tEnd - t0) / 1000)) * 100),
    size: o.size,
    warmup: o.warmup,
    latency: "publish->message",
    ...latencyStats(lat, done),
    mismatched: progress.mismatched,
    ms: round(tEnd - t0, 1),
    ...(error !== undefined ? { error } : {}),
  };
}

// ---------------------------------------------------------------------------
// CLI

const USAGE = `usage: e2e.ts --scenario S [--client ours|mqttjs|raw] [--host H --port P]
  [--n N] [--size B] [--window W] [--buffer B] [--idle-ms MS] [--broker-pid PID] [--profile FILE]
  [--subid ID]  (receive-raw*: frames carry a Subscription Identifier, as mosquitto's do)
  rr-same-conn: --client ours-iter|ours-queue|ours-callback|mqttjs (or --client ours --shape
  iter|queue|callback; default ours-iter) [--warmup N] (unrecorded round trips first, default 20)
scenarios: ${Object.keys(SCENARIOS).join(", ")}`;

/** Parses the command line (see USAGE). */
export function parseOptions(args: string[]): Options {
  const kv = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) throw new TypeError(`unexpected argument "${a}"\n${USAGE}`);
    const eq = a.indexOf("=");
    if (eq > 0) kv.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < args.length) kv.set(a.slice(2), args[++i]);
    else throw new TypeError(`${a} needs a value\n${USAGE}`);
  }
  const scenario = kv.get("scenario") ?? "";
  const sc = SCENARIOS[scenario];
  if (sc === undefined) throw new TypeError(`unknown scenario "${scenario}"\n${USAGE}`);
  let client = (kv.get("client") ?? "ours") as ClientKind;
  const shape = kv.get("shape");
  if (shape !== undefined) {
    // `--client ours --shape iter` is `--client ours-iter`.
    if (client !== "ours" || !["iter", "queue", "callback"].includes(shape)) {
      throw new TypeError(`--shape iter|queue|callback goes with --client ours\n${USAGE}`);
    }
    client = `ours-${shape}` as ClientKind;
  } else if (
    client === "ours" && !sc.clients.includes("ours") && sc.clients.includes("ours-iter")
  ) {
    client = "ours-iter";
  }
  if (!sc.clients.includes(client)) {
    throw new TypeError(`scenario ${scenario} runs with --client ${sc.clients.join("|")}`);
  }
  const num = (k: string, d: number) => {
    const v = kv.get(k);
    if (v === undefined) return d;
    const x = Number(v);
    if (!Number.isFinite(x) || x < 0) throw new RangeError(`--${k} must be a number >= 0`);
    return x;
  };
  return {
    scenario,
    client,
    host: kv.get("host"),
    port: num("port", 1883),
    n: Math.floor(num("n", sc.n)),
    size: Math.floor(num("size", sc.size)),
    window: Math.max(1, Math.floor(num("window", sc.window))),
    // receive-raw-iter: a buffer as large as the run, so that the rate is not hidden by drops
    // (pass --buffer 64 to see what the default buffer does).
    buffer: Math.max(1, Math.floor(num("buffer", num("n", sc.n)))),
    idleMs: num("idle-ms", 3000),
    brokerPid: num("broker-pid", 0),
    profile: kv.get("profile"),
    subId: Math.floor(num("subid", 0)),
    warmup: Math.floor(num("warmup", 20)),
  };
}

/** Runs one scenario for one client. */
export async function run(o: Options): Promise<Result> {
  const sc = SCENARIOS[o.scenario];
  if (sc.kind === "receive-raw" || sc.kind === "receive-raw-iter") return await runReceiveRaw(o);
  if (sc.kind === "conns") return await runConns(o);
  let broker: Broker | undefined;
  let host = o.host;
  let port = o.port;
  let pid = o.brokerPid;
  if (host === undefined) {
    broker = await startBroker();
    host = broker.host;
    port = broker.port;
    pid = broker.pid;
  }
  try {
    const opts = { ...o, brokerPid: pid };
    switch (sc.kind) {
      case "stall-heap":
        return await runStallHeap(opts, host, port);
      case "rr-same-conn":
        return await runRrSameConn(opts, host, port);
      default:
        return await runBrokerScenario(opts, host, port);
    }
  } finally {
    await broker?.stop();
  }
}

/** Whether this module is the entry point (Node 20 has no import.meta.main). */
function isMain(): boolean {
  const m = (import.meta as { main?: boolean }).main;
  if (m !== undefined) return m;
  const entry = process.argv[1] ?? "";
  return entry !== "" && import.meta.url.endsWith(entry.slice(entry.lastIndexOf("/")));
}

if (isMain()) {
  const args = RUNTIME === "deno" ? Deno.args : process.argv.slice(2);
  const o = parseOptions(args);
  const load1 = round(loadavg()[0], 2); // the machine is shared: keep the load next to the numbers
  const result = await run(o);
  console.log(JSON.stringify({ ...result, load1, src: srcHash(repoRoot()) }));
  // MQTT.js or a socket left half-closed must not keep the process alive.
  process.exit(0);
}
