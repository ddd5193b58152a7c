// Subscriptions at scale (issue #15 item 4): one client holding 100,000
// subscriptions, exact and wildcard, against MQTT.js in the same run.
//
//   deno run -A --no-lock bench/subs_scale.ts [--reps 3] [--n 100000] [--batch 1000] [--msgs 100000]
//   bun bench/subs_scale.ts [--reps 3]
//   ... --base /tmp/before   (also "ours-base": this bench run on another tree, e.g. the code
//                             before a change, with bench/, tests/_helpers/ and src/ copied there)
//
// The driver runs each measurement in a fresh child process of the same runtime
// (Deno children get --expose-gc), interleaved ours, mqttjs, ours, ..., and prints
// medians [min-max] as a markdown table. Each child prints one JSON line.
//
// The filters (n = 100,000) are a device fleet: 100 sites x 900 devices,
//   90,000 exact    fleet/s<i>/d<j>/telemetry
//    9,600 `+`      fleet/s<i>/d<j>/cmd/+        (96 devices per site)
//      100 `+`      fleet/s<i>/+/alarm
//      100 `#`      fleet/s<i>/#
//      200 `+`      fleet/+/d<j>/status         (j < 200)
// (scaled down proportionally by --n). Inbound topics cycle over 20,000 distinct
// names (more than the client's 4,096-topic match cache): 80% telemetry, 10%
// alarm, 10% cmd; every one matches at least two filters (its own and the site's `#`).
//
// Measured per client, each in its own process with its own stock-config mosquitto
// (the e2e bench's, see startBroker in bench/e2e.ts):
//   - subscribe time, batched: n/batch SUBSCRIBE packets of `batch` filters, all
//     issued at once (ours: subscribeCallback(chunk, handler) per chunk; MQTT.js:
//     subscribeAsync(chunk) per chunk);
//   - subscribe time, one filter per call: n calls, at most 256 awaiting SUBACK;
//   - heap after GC per subscription (heap with the subscriptions minus heap
//     connected without them, divided by n);
//   - end to end: `msgs` QoS 0 PUBLISHes from a raw socket in the same process
//     (pre-encoded, identical for both clients) through mosquitto to the client,
//     then a fence message; rate = msgs / (first write to fence received), and
//     client CPU per message (process CPU over the same span: includes the raw
//     publisher's writes, which are the same for both). The same with a single
//     `fleet/#` filter gives the baseline, so the difference is the cost of routing
//     among 100,000 filters (at the broker and in the client).
//   - in process, no broker: ours over a memory dial (tests/_helpers/fake_broker.ts):
//     the whole receive path (decode + route + handler) per message, with the
//     n filters and with the single filter, with and without the subscription
//     identifiers mosquitto adds; MQTT.js: the user-side routing a user writes
//     behind the 'message' event (see below), per message.
//
// What is compared for MQTT.js: it does not route per subscription; every
// message arrives on the one 'message' event with its topic. A user with many
// filters routes it: here a Map of exact topics to handlers plus a scan over the
// wildcard filters (pre-split into levels) — the common pattern (mqtt-match and
// similar matchers are per-filter checks). MQTT.js's own state per subscription
// (its resubscribe table) is included in its heap figure, and so is that
// user-side routing table.

import process from "node:process";
import { spawnSync } from "node:child_process";
import { connect as netConnect } from "node:net";
import { fileURLToPath } from "node:url";
import { Client } from "../mod.ts";
import { encodePacket } from "../src/wire/mod.ts";
import { TopicTrie } from "../src/topic/mod.ts";
import { median, parseArgs } from "./_util.ts";
import { RUNTIME, runtimeVersion, startBroker } from "./e2e.ts";
import { FakeBroker } from "../tests/_helpers/fake_broker.ts";

const G = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };

function gc(): void {
  if (typeof G.gc === "function") G.gc();
  else if (G.Bun !== undefined) G.Bun.gc(true);
  else throw new Error("no GC exposed: run Deno with --v8-flags=--expose-gc");
}

async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(20);
  }
  gc();
  return process.memoryUsage().heapUsed;
}

const started = performance.now();
/** Progress on stderr (the driver passes it through). */
function progress(what: string): void {
  console.error(`  [${((performance.now() - started) / 1000).toFixed(1)} s] ${what}`);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const FENCE = "bench/fence";
const PAYLOAD = new Uint8Array(16).fill(7);

// ---------------------------------------------------------------------------
// The fleet

/** The `n` filters, exact ones first; each filter's index is its position. */
function fleetFilters(n: number): string[] {
  const scale = n / 100_000;
  const sites = Math.max(1, Math.round(100 * scale));
  const out: string[] = [];
  const exactPerSite = Math.round(900 * scale * 100 / sites);
  for (let i = 0; i < sites; i++) {
    for (let j = 0; j < exactPerSite; j++) out.push(`fleet/s${i}/d${j}/telemetry`);
  }
  const cmdPerSite = Math.round(96 * scale * 100 / sites);
  for (let i = 0; i < sites; i++) {
    for (let j = 0; j < cmdPerSite; j++) out.push(`fleet/s${i}/d${j}/cmd/+`);
  }
  for (let i = 0; i < sites; i++) out.push(`fleet/s${i}/+/alarm`, `fleet/s${i}/#`);
  for (let j = 0; out.length < n; j++) out.push(`fleet/+/d${j}/status`);
  return out.slice(0, n);
}

/** 20,000 distinct inbound topics (fewer for small n), deterministic. */
function fleetTopics(n: number): string[] {
  const scale = n / 100_000;
  const sites = Math.max(1, Math.round(100 * scale));
  const devices = Math.round(900 * scale * 100 / sites);
  const cmdDevices = Math.max(1, Math.round(96 * scale * 100 / sites));
  let seed = 42;
  const rnd = (k: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % k;
  };
  const set = new Set<string>();
  const want = Math.min(20_000, Math.max(100, n / 5));
  while (set.size < want) {
    const s = rnd(sites);
    const r = rnd(10);
    if (r < 8) set.add(`fleet/s${s}/d${rnd(devices)}/telemetry`);
    else if (r === 8) set.add(`fleet/s${s}/d${rnd(devices)}/alarm`);
    else set.add(`fleet/s${s}/d${rnd(cmdDevices)}/cmd/reboot`);
  }
  return [...set];
}

function chunks<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

// ---------------------------------------------------------------------------
// The routing a MQTT.js user writes behind client.on("message")

class UserRouter {
  exact = new Map<string, (topic: string, payload: Uint8Array) => void>();
  wild: { levels: string[]; fn: (topic: string, payload: Uint8Array) => void }[] = [];

  add(filter: string, fn: (topic: string, payload: Uint8Array) => void): void {
    if (filter.includes("+") || filter.includes("#")) {
      this.wild.push({ levels: filter.split("/"), fn });
    } else this.exact.set(filter, fn);
  }

  route(topic: string, payload: Uint8Array): void {
    const fn = this.exact.get(topic);
    if (fn !== undefined) fn(topic, payload);
    const wild = this.wild;
    if (wild.length === 0) return;
    const t = topic.split("/");
    for (let i = 0; i < wild.length; i++) {
      if (levelsMatch(wild[i].levels, t)) wild[i].fn(topic, payload);
    }
  }
}

function levelsMatch(f: string[], t: string[]): boolean {
  for (let i = 0; i < f.length; i++) {
    const l = f[i];
    if (l === "#") return true;
    if (i >= t.length) return false;
    if (l !== "+" && l !== t[i]) return false;
  }
  return f.length === t.length;
}

// ---------------------------------------------------------------------------
// MQTT.js

interface MqttJsClient {
  subscribeAsync(topic: string | string[], opts: { qos: 0 }): Promise<unknown>;
  on(event: "message", fn: (topic: string, payload: Uint8Array) => void): unknown;
  once(event: string, fn: (arg: unknown) => void): unknown;
  endAsync(force?: boolean): Promise<void>;
}
interface MqttJs {
  connect(url: string, opts: { protocolVersion: 5; clean: boolean }): MqttJsClient;
}
const importByName = (specifier: string) => import(specifier);
async function mqttjsConnect(url: string): Promise<MqttJsClient> {
  let mod: { default?: MqttJs } & MqttJs;
  try {
    mod = await importByName("mqtt");
  } catch (err) {
    if (RUNTIME !== "deno") throw err;
    mod = await importByName("npm:mqtt@5");
  }
  const m = typeof mod.connect === "function" ? mod : mod.default!;
  const c = m.connect(url, { protocolVersion: 5, clean: true });
  await new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("error", (e) => reject(e));
  });
  return c;
}

// ---------------------------------------------------------------------------
// A raw publisher: pre-encoded QoS 0 frames on a plain socket

function frames(topics: string[], msgs: number, subIds?: (topic: string) => number[]): Uint8Array {
  const encoded = topics.map((topic) =>
    encodePacket({
      type: 3,
      topic,
      payload: PAYLOAD,
      qos: 0,
      retain: false,
      dup: false,
      properties: subIds ? { subscriptionIdentifiers: subIds(topic) } : {},
    })
  );
  let size = 0;
  for (let i = 0; i < msgs; i++) size += encoded[i % encoded.length].length;
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < msgs; i++) {
    const f = encoded[i % encoded.length];
    out.set(f, at);
    at += f.length;
  }
  return out;
}

const FENCE_FRAME = encodePacket({
  type: 3,
  topic: FENCE,
  payload: PAYLOAD,
  qos: 0,
  retain: false,
  dup: false,
  properties: {},
});

async function rawPublisher(port: number) {
  const s = netConnect({ host: "127.0.0.1", port });
  s.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    s.once("connect", () => resolve());
    s.once("error", reject);
  });
  const connack = new Promise<void>((resolve) => s.once("data", () => resolve()));
  s.write(encodePacket({ type: 1, clientId: "", cleanStart: true, keepAlive: 60, properties: {} }));
  await connack;
  s.on("data", () => {});
  return {
    send(bytes: Uint8Array) {
      s.write(bytes);
    },
    close() {
      s.destroy();
    },
  };
}

// ---------------------------------------------------------------------------
// Children

interface ChildResult {
  client: string;
  runtime: string;
  n: number;
  batch: number;
  msgs: number;
  /** Batched subscribe, ms. */
  subBatchMs: number;
  /** One filter per call, ms. */
  subSingleMs: number;
  /** Heap after GC per subscription, bytes (batched). */
  heapPerSubB: number;
  /** Heap after GC per subscription, bytes (one filter per call). */
  heapPerSubSingleB: number;
  /** End to end, messages/s with the n filters and with `fleet/#` alone. */
  e2eRate: number;
  e2eRateBase: number;
  /** Client process CPU per message, µs, with n filters and alone. */
  cpuUs: number;
  cpuUsBase: number;
  received: number;
  /** In process, µs per message (ours: memory dial; MQTT.js: user-side routing only). */
  inprocUs: number;
  inprocUsBase: number;
  /** Ours: the batched subscribe over the memory dial (SUBACK at once, no broker), ms. */
  inprocSubMs?: number;
  /** Ours: with the subscription identifiers a broker adds. */
  inprocSubIdUs?: number;
}

type Receiver = {
  /** Subscribes `filters` (batched or one per call); resolves when all are acked. */
  subscribe(filters: string[], batch: number): Promise<void>;
  close(): Promise<void>;
};

async function oursReceiver(
  url: string,
  onMessage: () => void,
  onFence: () => void,
): Promise<Receiver> {
  const client = new Client({ broker: url });
  await client.connect();
  const handler = () => onMessage();
  await client.subscribeCallback([FENCE], () => onFence());
  return {
    async subscribe(filters, batch) {
      if (batch > 1) {
        await Promise.all(chunks(filters, batch).map((c) => client.subscribeCallback(c, handler)));
      } else {
        await windowed(filters, (f) => client.subscribeCallback([f], handler));
      }
    },
    close: () => client.disconnect(),
  };
}

async function mqttjsReceiver(
  url: string,
  onMessage: () => void,
  onFence: () => void,
  router: UserRouter,
): Promise<Receiver> {
  const c = await mqttjsConnect(url);
  const handler = () => onMessage();
  c.on("message", (topic, payload) => {
    if (topic === FENCE) onFence();
    else router.route(topic, payload);
  });
  await c.subscribeAsync(FENCE, { qos: 0 });
  return {
    async subscribe(filters, batch) {
      if (batch > 1) {
        await Promise.all(
          chunks(filters, batch).map(async (ch) => {
            await c.subscribeAsync(ch, { qos: 0 });
            for (const f of ch) router.add(f, handler);
          }),
        );
      } else {
        await windowed(filters, async (f) => {
          await c.subscribeAsync(f, { qos: 0 });
          router.add(f, handler);
        });
      }
    },
    close: () => c.endAsync(),
  };
}

/** Runs `fn` for each item with at most 256 calls pending. */
async function windowed<T>(items: T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: 256 }, worker));
}

async function child(kind: "ours" | "mqttjs", n: number, batch: number, msgs: number) {
  const filters = fleetFilters(n);
  const topics = fleetTopics(n);
  const r: Partial<ChildResult> = { client: kind, runtime: runtimeVersion(), n, batch, msgs };

  // In process first (no broker).
  progress(`${kind}: in process`);
  if (kind === "ours") {
    r.inprocUsBase = await oursInProcess(["fleet/#"], topics, msgs, false);
    r.inprocUs = await oursInProcess(filters, topics, msgs, false);
    r.inprocSubMs = inprocSubMs;
    r.inprocSubIdUs = await oursInProcess(filters, topics, msgs, true);
  } else {
    r.inprocUsBase = userRouting(["fleet/#"], topics, msgs);
    r.inprocUs = userRouting(filters, topics, msgs);
  }

  progress(`${kind}: end to end`);
  const broker = await startBroker();
  try {
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const connectOne = (router: UserRouter, onMessage: () => void, onFence: () => void) =>
      kind === "ours"
        ? oursReceiver(url, onMessage, onFence)
        : mqttjsReceiver(url, onMessage, onFence, router);

    // End to end, baseline: `fleet/#` alone.
    {
      let received = 0;
      let fence: () => void = () => {};
      const rx = await connectOne(new UserRouter(), () => received++, () => fence());
      await rx.subscribe(["fleet/#"], 2);
      const e = await endToEnd(broker.port, topics, msgs, (f) => fence = f);
      r.e2eRateBase = e.rate;
      r.cpuUsBase = e.cpuUs;
      await rx.close();
    }

    // Batched subscribe, heap, end to end with the n filters.
    {
      let received = 0;
      let fence: () => void = () => {};
      const router = new UserRouter();
      const rx = await connectOne(router, () => received++, () => fence());
      const h0 = await heapAfterGc();
      const t0 = performance.now();
      await rx.subscribe(filters, batch);
      r.subBatchMs = performance.now() - t0;
      r.heapPerSubB = ((await heapAfterGc()) - h0) / n;
      const e = await endToEnd(broker.port, topics, msgs, (f) => fence = f);
      r.e2eRate = e.rate;
      r.cpuUs = e.cpuUs;
      r.received = received;
      await rx.close();
    }

    // One filter per call.
    progress(`${kind}: one filter per call`);
    {
      const router = new UserRouter();
      const rx = await connectOne(router, () => {}, () => {});
      const h0 = await heapAfterGc();
      const t0 = performance.now();
      await rx.subscribe(filters, 1);
      r.subSingleMs = performance.now() - t0;
      r.heapPerSubSingleB = ((await heapAfterGc()) - h0) / n;
      await rx.close();
    }
  } finally {
    await broker.stop();
  }
  console.log(JSON.stringify(r));
}

async function endToEnd(
  port: number,
  topics: string[],
  msgs: number,
  setFence: (f: () => void) => void,
): Promise<{ rate: number; cpuUs: number }> {
  const pub = await rawPublisher(port);
  const bytes = frames(topics, msgs);
  // Let the broker settle the subscriptions before timing.
  await sleep(200);
  const done = new Promise<void>((resolve) => setFence(resolve));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  pub.send(bytes);
  pub.send(FENCE_FRAME);
  await done;
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  pub.close();
  return { rate: msgs / (ms / 1000), cpuUs: (cpu.user + cpu.system) / msgs };
}

/** The time of the last batched subscribe over the memory dial, ms. */
let inprocSubMs = NaN;

/** Ours over a memory dial: µs per message for the whole receive path. */
async function oursInProcess(
  filters: string[],
  topics: string[],
  msgs: number,
  withSubIds: boolean,
): Promise<number> {
  progress(
    `in process: ${filters.length} filters${withSubIds ? ", subscription identifiers" : ""}`,
  );
  await using broker = new FakeBroker({ autoAckSubscribe: true, timeoutMs: 60_000 });
  const client = new Client({ broker: "mqtt://fake:1883", dial: broker.dial });
  await client.connect();
  const conn = await broker.nextConnection();
  let received = 0;
  let fence: () => void = () => {};
  const handler = () => received++;
  await client.subscribeCallback([FENCE], () => fence());
  // Subscription identifiers in the order the client takes them: 1 for the
  // fence, then one per SUBSCRIBE in call order.
  const batch = 1000;
  const parts = chunks(filters, batch);
  const t0 = performance.now();
  await Promise.all(parts.map((c) => client.subscribeCallback(c, handler)));
  inprocSubMs = performance.now() - t0;
  let subIds: ((topic: string) => number[]) | undefined;
  if (withSubIds) {
    const ref = new TopicTrie<number>();
    parts.forEach((c, k) => c.forEach((f) => ref.add(f, k + 2)));
    subIds = (topic) => [...new Set(ref.matches(topic))];
  }
  const rounds = 3;
  progress("in process: subscribed");
  const bytes = frames(topics, msgs, subIds);
  let best = Infinity;
  for (let i = 0; i < rounds; i++) {
    const done = new Promise<void>((resolve) => fence = resolve);
    const t0 = performance.now();
    conn.sendRaw(bytes);
    conn.sendRaw(FENCE_FRAME);
    await done;
    best = Math.min(best, performance.now() - t0);
  }
  await client.disconnect();
  if (received < msgs * rounds) throw new Error(`in process: ${received} < ${msgs * rounds}`);
  return best * 1000 / msgs;
}

/** MQTT.js: the user-side routing of `msgs` topics, µs per message. */
function userRouting(filters: string[], topics: string[], msgs: number): number {
  const router = new UserRouter();
  let hits = 0;
  for (const f of filters) router.add(f, () => hits++);
  // Topics as they come off the wire: fresh strings, not interned literals.
  const dec = new TextDecoder();
  const wire = topics.map((t) => dec.decode(new TextEncoder().encode(t)));
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < msgs; i++) router.route(wire[i % wire.length], PAYLOAD);
    best = Math.min(best, performance.now() - t0);
  }
  if (hits < msgs) throw new Error("user routing matched too little");
  return best * 1000 / msgs;
}

// ---------------------------------------------------------------------------
// Driver

function runChild(kind: string, args: string[], script: string): ChildResult {
  const self = script;
  const [cmd, pre] = RUNTIME === "deno"
    ? [Deno.execPath(), ["run", "-A", "--no-lock", "--v8-flags=--expose-gc", self]]
    : [process.execPath, [self]];
  const p = spawnSync(cmd, [...pre, "--child", kind, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 24,
  });
  const line = p.stdout.trim().split("\n").pop() ?? "";
  if (p.status !== 0 || !line.startsWith("{")) {
    throw new Error(`child ${kind} failed (${p.status}): ${p.stdout}`);
  }
  return JSON.parse(line);
}

function cell(rs: ChildResult[], key: keyof ChildResult, digits: number): string {
  const xs = rs.map((r) => r[key] as number).filter((x) => typeof x === "number");
  if (xs.length === 0) return "—";
  const f = (x: number) => x.toFixed(digits);
  return xs.length === 1
    ? f(xs[0])
    : `${f(median(xs))} [${f(Math.min(...xs))}-${f(Math.max(...xs))}]`;
}

async function main() {
  const argv = RUNTIME === "deno" ? Deno.args : process.argv.slice(2);
  const a = parseArgs(argv);
  const n = Number(a.get("n") ?? 100_000);
  const batch = Number(a.get("batch") ?? 1000);
  const msgs = Number(a.get("msgs") ?? 100_000);
  const kind = a.get("child");
  if (kind === "ours" || kind === "mqttjs") {
    await child(kind, n, batch, msgs);
    process.exit(0);
  }
  const reps = Number(a.get("reps") ?? 3);
  const clients = (a.get("clients") ?? "ours,mqttjs").split(",");
  // --base DIR: also our client from another tree (a snapshot of the code before a change).
  const base = a.get("base");
  const self = fileURLToPath(import.meta.url);
  const scripts = new Map(clients.map((c) => [c, self]));
  if (base !== undefined) {
    clients.unshift("ours-base");
    scripts.set("ours-base", `${base}/bench/subs_scale.ts`);
  }
  const pass = ["--n", `${n}`, "--batch", `${batch}`, "--msgs", `${msgs}`];
  const results = new Map<string, ChildResult[]>(clients.map((c) => [c, []]));
  for (let i = 0; i < reps; i++) {
    for (const c of clients) {
      const r = runChild(c === "ours-base" ? "ours" : c, pass, scripts.get(c)!);
      console.error(JSON.stringify({ label: c, ...r }));
      results.get(c)!.push(r);
    }
  }
  const rows: [string, keyof ChildResult, number][] = [
    [`subscribe ${n} filters, ${n / batch} SUBSCRIBEs of ${batch} at once (ms)`, "subBatchMs", 0],
    [`subscribe ${n} filters one per call, 256 pending (ms)`, "subSingleMs", 0],
    ["the batched subscribe in process, no broker (ms)", "inprocSubMs", 0],
    ["heap after GC per subscription, batched (bytes)", "heapPerSubB", 0],
    ["heap after GC per subscription, one per call (bytes)", "heapPerSubSingleB", 0],
    ["end to end with the filters (msg/s)", "e2eRate", 0],
    ["end to end with `fleet/#` alone (msg/s)", "e2eRateBase", 0],
    ["client CPU per message with the filters (µs)", "cpuUs", 2],
    ["client CPU per message with `fleet/#` alone (µs)", "cpuUsBase", 2],
    ["in process per message with the filters (µs)", "inprocUs", 3],
    ["in process per message with `fleet/#` alone (µs)", "inprocUsBase", 3],
    ["in process with subscription identifiers (µs)", "inprocSubIdUs", 3],
  ];
  console.log(`\n${runtimeVersion()}, n = ${n}, batch ${batch}, ${msgs} messages, ${reps} reps\n`);
  console.log(`| | ${clients.join(" | ")} |`);
  console.log(`| --- | ${clients.map(() => "---:").join(" | ")} |`);
  for (const [label, key, digits] of rows) {
    console.log(
      `| ${label} | ${clients.map((c) => cell(results.get(c)!, key, digits)).join(" | ")} |`,
    );
  }
}

await main();
