// The `conns` scenario of bench/e2e.ts: memory and idle CPU per connection.
//
//   deno run -A --no-lock --v8-flags=--expose-gc bench/e2e.ts --scenario conns --client ours --n 10000
//   bun bench/e2e.ts --scenario conns --client mqttjs --n 10000
//
// N clients connect to one mosquitto (`max_connections -1`), `--window` (100)
// at a time, and each subscribes to its own topic once. Reported: the time to
// connect and subscribe all of them, heap and RSS per connection after a full
// GC (deltas over a baseline taken before the first connect) right after the
// last SUBACK and again after `--idle-ms` (3000) of keep-alive, and the
// client's CPU per second over that idle time. The idle window starts
// SETTLE_MS after the full GC: the runtime's concurrent sweeping of what that
// GC freed (hundreds of MB after 10,000 handshakes) would otherwise be read as
// keep-alive cost (it was 2-4x the steady idle CPU over 10 s). Both clients use a 60 s keep
// alive (MQTT.js's default). The descriptor limit of this process (and so of
// the mosquitto it starts) is raised to its hard limit first; 10,000
// connections need 10,000 descriptors on each side. `--profile FILE` writes a CPU
// profile of the idle window (`bench/e2e_run.ts --summarize FILE` reads it).

import process from "node:process";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Client } from "../mod.ts";
import { type Options, type Result, RUNTIME, startBroker, startProfile } from "./e2e.ts";

const G = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
const KiB = 1024;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** Between the full GC after connecting and the idle window (see the header). */
const SETTLE_MS = 3000;

/** A full GC, twice with a pause between (finalizers and weak maps settle); false when none is exposed. */
async function fullGc(): Promise<boolean> {
  const once = () => {
    if (typeof G.gc === "function") G.gc();
    else if (G.Bun !== undefined) G.Bun.gc(true);
    else return false;
    return true;
  };
  if (!once()) return false;
  await sleep(50);
  once();
  await sleep(20);
  return true;
}

/** Raises this process's open-file soft limit to its hard limit (children inherit it). */
function raiseNoFile(): number {
  const r = spawnSync("prlimit", [
    "--pid",
    String(process.pid),
    "--nofile",
    "--raw",
    "-o",
    "HARD",
    "--noheadings",
  ], {
    encoding: "utf8",
  });
  const hard = Number(r.stdout?.trim());
  if (Number.isFinite(hard) && hard > 0) {
    spawnSync("prlimit", ["--pid", String(process.pid), `--nofile=${hard}:${hard}`]);
  }
  const s = spawnSync("prlimit", [
    "--pid",
    String(process.pid),
    "--nofile",
    "--raw",
    "-o",
    "SOFT",
    "--noheadings",
  ], {
    encoding: "utf8",
  });
  return Number(s.stdout?.trim()) || 0;
}

interface Conn {
  close(): Promise<void>;
}

interface MqttJsLike {
  connect(url: string, opts: object): {
    once(event: string, fn: (arg: unknown) => void): unknown;
    on(event: string, fn: (...args: unknown[]) => void): unknown;
    subscribeAsync(topic: string, opts: { qos: 0 | 1 | 2 }): Promise<unknown>;
    endAsync(force?: boolean): Promise<void>;
  };
}

async function loadMqttJs(): Promise<MqttJsLike> {
  const byName = (s: string) => import(s);
  let mod: { default?: MqttJsLike } & MqttJsLike;
  if (RUNTIME === "node") mod = createRequire(join(process.cwd(), "package.json"))("mqtt");
  else {
    try {
      mod = await byName("mqtt");
    } catch (err) {
      if (RUNTIME !== "deno") throw err;
      mod = await byName("npm:mqtt@5");
    }
  }
  return typeof mod.connect === "function" ? mod : mod.default!;
}

async function oursConn(url: string, topic: string): Promise<Conn> {
  const c = new Client({ broker: url, keepAliveSeconds: 60 });
  await c.connect();
  await c.subscribeCallback([{ topic, qos: 0 }], () => {});
  return { close: () => c.disconnect() };
}

async function mqttjsConn(m: MqttJsLike, url: string, topic: string): Promise<Conn> {
  const c = m.connect(url, { protocolVersion: 5, clean: true, keepalive: 60 });
  await new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("error", (e) => reject(e));
  });
  c.on("message", () => {});
  await c.subscribeAsync(topic, { qos: 0 });
  return { close: () => c.endAsync() };
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Runs `conns`: starts its own mosquitto unless --host is given. */
export async function runConns(o: Options): Promise<Result> {
  const noFile = raiseNoFile();
  const broker = o.host === undefined ? await startBroker(["max_connections -1"]) : undefined;
  const host = broker?.host ?? o.host!;
  const port = broker?.port ?? o.port;
  const url = `mqtt://${host}:${port}`;
  const m = o.client === "mqttjs" ? await loadMqttJs() : undefined;
  const base = `bench/conns/${Math.random().toString(36).slice(2, 10)}`;
  const conns: Conn[] = [];
  let error: string | undefined;
  try {
    const hasGc = await fullGc();
    const before = process.memoryUsage();
    const t0 = performance.now();
    for (let i = 0; i < o.n && error === undefined; i += o.window) {
      const batch: Promise<Conn>[] = [];
      for (let k = i; k < Math.min(o.n, i + o.window); k++) {
        const topic = `${base}/${k}`;
        batch.push(m !== undefined ? mqttjsConn(m, url, topic) : oursConn(url, topic));
      }
      const settled = await Promise.allSettled(batch);
      for (const s of settled) {
        if (s.status === "fulfilled") conns.push(s.value);
        else error ??= String((s.reason as Error)?.message ?? s.reason);
      }
    }
    const connectMs = performance.now() - t0;
    const n = conns.length;
    await fullGc();
    const up = process.memoryUsage();
    await sleep(SETTLE_MS);
    const prof = await startProfile(o.profile);
    const c0 = process.cpuUsage();
    const i0 = performance.now();
    await sleep(o.idleMs);
    const idleCpu = process.cpuUsage(c0);
    await prof?.stop();
    const idleS = (performance.now() - i0) / 1000;
    await fullGc();
    const idle = process.memoryUsage();
    const per = (a: number, b: number) => (n > 0 ? round((a - b) / n / KiB) : null);
    return {
      client: o.client,
      scenario: o.scenario,
      runtime: RUNTIME,
      n: o.n,
      pubRate: null,
      e2eRate: null,
      e2eMBps: null,
      lost: o.n - n,
      clientUsPerMsg: NaN,
      connected: n,
      connectMs: round(connectMs, 0),
      /** Heap per connection (KiB) after idleMs of keep-alive and a full GC: the headline figure. */
      heapKiBPerConn: per(idle.heapUsed, before.heapUsed),
      rssKiBPerConn: per(idle.rss, before.rss),
      externalKiBPerConn: per(idle.external ?? 0, before.external ?? 0),
      /** The same right after the last SUBACK. */
      heapKiBPerConnUp: per(up.heapUsed, before.heapUsed),
      rssKiBPerConnUp: per(up.rss, before.rss),
      /** Client CPU per wall-clock second while idle (ms/s). */
      idleCpuMsPerS: round((idleCpu.user + idleCpu.system) / 1000 / idleS, 2),
      idleMs: o.idleMs,
      batch: o.window,
      noFile,
      gc: hasGc,
      ...(error !== undefined ? { error } : {}),
    };
  } finally {
    for (let i = 0; i < conns.length; i += 500) {
      await Promise.allSettled(conns.slice(i, i + 500).map((c) => c.close()));
    }
    await broker?.stop();
  }
}
