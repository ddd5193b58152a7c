// Our client against itself: a base tree (another checkout, e.g. a git worktree
// of an earlier commit) and the current tree, measured with bench/e2e.ts in
// fresh child processes, interleaved in one run, on Deno or Bun. Prints a
// markdown table per metric: base and current median [min–max] over the
// rounds, the ratio current/base of the medians, the per-round (paired) ratios,
// in how many rounds the current tree did worse, and a permutation test (the
// ratio two equal trees would show at this run's spread, and p).
//
//   git worktree add /work/bench-base 95999c8 && ln -s "$PWD/node_modules" /work/bench-base/
//   deno task bench:compare --base /work/bench-base --runtime deno
//   deno run -A --no-lock bench/compare.ts --base /work/bench-base --runtime bun \
//     --out /tmp/cmp-bun.jsonl --md /tmp/cmp-bun.md
//   deno run -A --no-lock bench/compare.ts --base /work/bench-base --scenarios qos0-nosub --rounds 20
//   deno run -A --no-lock bench/compare.ts --from /tmp/cmp-bun.jsonl     (the tables again)
//   deno run -A --no-lock bench/compare.ts --base /work/bench-base --current /work/bench-base2
//     (two checkouts of one commit: the noise floor of this machine)
//
// Options:
//   --base DIR          the tree to compare against (required)
//   --current DIR       the tree under test (default: the tree this file is in)
//   --runtime deno|bun  default deno
//   --rounds N          recorded rounds per scenario (default 12)
//   --warmup-rounds N   unrecorded rounds first, per scenario (default 1)
//   --scenarios a,b     of qos0-nosub, qos1-pipe, qos2-pipe, receive-raw, rr-same-conn
//                       (default all five)
//   --rr-shapes a,b     rr-same-conn subscribe shapes: iter, queue, callback (default all)
//   --scale F           message counts x F (default 1: the counts of N below, 2-3x e2e.ts's
//                       defaults so that start-up and JIT warm-up weigh less; same for both trees)
//   --pin auto|none|split|same
//                       CPU affinity (taskset): split = child on CPU 0, broker on CPU 1; same =
//                       both on CPU 1; auto (default) = same for rr-same-conn, split otherwise
//   --harness own|current|base
//                       whose bench/e2e.ts the children run (default own: each tree its own;
//                       current/base: that tree's e2e.ts against each tree's mod.ts + src/)
//   --in-place          run the trees as they are instead of snapshots taken at start
//   --keep-snapshots    do not delete the snapshots at the end (their paths are printed)
//   --idle-pct P        before each run, wait until the machine was >= P% idle over 0.3 s
//                       (default 85; 0: do not wait); --idle-wait-s S gives up after S (20)
//   --max-other-pct P   a run during which other processes used more than P% of the machine
//                       (all CPUs; default 10) makes its round busy
//   --keep-busy         keep busy rounds (see below) in the table
//   --extra-rounds N    rounds run at most in place of busy ones, per scenario (default --rounds)
//   --budget-min M      no extra rounds for a scenario once its share of M minutes is used
//                       (default 10; shares weighted by runs per round)
//   --pause-ms MS       sleep between two child runs (default 0: the idle sample is a pause)
//   --timeout-s S       per child run (default 120)
//   --out FILE          append every run as a JSON line; --md FILE: write the report too
//
// Method. Each tree is copied at start (mod.ts, src/, bench/e2e.ts; node_modules
// linked) so that every round measures the same code even while someone edits
// the working tree; each JSON line names the src hash it measured. This process
// never loads the current tree's library (it may be mid-edit): startBroker,
// SCENARIOS and srcHash come from the base tree's e2e.ts. Per scenario one
// mosquitto (startBroker: the configuration e2e_run.ts uses) serves every run
// of both trees and is restarted between scenarios; receive-raw uses e2e.ts's
// in-process server. Message counts: N below x --scale, the same for both
// trees. Within a scenario the trees alternate ABBA: base then current in odd
// rounds, current then base in even rounds, so a slow drift of the machine
// does not favour either side. Only our client runs (no MQTT.js).
//
// The machine is shared (someone may run the test suite meanwhile): before
// each run the driver waits for an idle machine (--idle-pct), and during the
// run it counts the CPU time of every other process (/proc/stat minus this
// driver, the child it waits for and the broker). A round in which a run
// started on a busy machine or others took more than --max-other-pct is left
// out of the table (kept in --out, listed under the table; --keep-busy keeps
// it) and run again, up to --extra-rounds times per scenario.

import { fmtRate, median, parseArgs } from "./_util.ts";
import process from "node:process";
import { spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
// Types only: this process never loads the current tree's library (it may be mid-edit);
// startBroker, SCENARIOS and srcHash come from the base tree's e2e.ts at run time.
import type { Broker, Result } from "./e2e.ts";

type E2eModule = typeof import("./e2e.ts");

type Runtime = "deno" | "bun";
type Side = "base" | "current";

/** A metric of a result line. */
interface Metric {
  key: string;
  label: string;
  /** Whether a larger value is better (rates) or worse (CPU, latency). */
  higherIsBetter: boolean;
  fmt: (v: number) => string;
}

const CPU: Metric = {
  key: "clientUsPerMsg",
  label: "CPU µs/msg ↓",
  higherIsBetter: false,
  fmt: fmtNum,
};
const E2E: Metric = { key: "e2eRate", label: "e2e msg/s ↑", higherIsBetter: true, fmt: fmtRate };
const PUB: Metric = { key: "pubRate", label: "pub msg/s ↑", higherIsBetter: true, fmt: fmtRate };
/** Publish->receive latency, one message in 64 (bench/e2e.ts). */
const P50: Metric = { key: "p50Ms", label: "p50 ms ↓", higherIsBetter: false, fmt: fmtMs };
const P99: Metric = { key: "p99Ms", label: "p99 ms ↓", higherIsBetter: false, fmt: fmtMs };

/** One row group of the table: a scenario for one client kind of ours. */
interface Case {
  label: string;
  scenario: string;
  client: string;
  metrics: Metric[];
  /** Messages per run (x --scale) instead of the scenario's count in N. */
  n?: number;
  /** More arguments for bench/e2e.ts. */
  args?: string[];
}

const RR_METRICS: Metric[] = [
  { key: "p50Ms", label: "p50 ms ↓", higherIsBetter: false, fmt: fmtMs },
  { key: "p99Ms", label: "p99 ms ↓", higherIsBetter: false, fmt: fmtMs },
  { key: "e2eRate", label: "round trips/s ↑", higherIsBetter: true, fmt: fmtRate },
  { key: "clientUsPerMsg", label: "CPU µs/round trip ↓", higherIsBetter: false, fmt: fmtNum },
];

/**
 * Messages per run: the windows of e2e.ts's defaults (0.1-0.7 s here) are
 * short enough for start-up and JIT warm-up to move CPU/msg by 30%+. The
 * rr-same-conn rows measure 20,000 round trips after 2,000 unrecorded ones
 * (at 5,000 after 20, a one-time warm-up of ~20 ms CPU read as 4-10% per
 * round trip); what a new process pays in its first 2,000 round trips has its
 * own row, `rr-same-conn iter, cold`.
 */
const N: Record<string, number> = {
  "qos0-nosub": 600_000,
  "qos1-pipe": 200_000,
  "qos2-pipe": 60_000,
  "receive-raw": 3_000_000,
  "rr-same-conn": 20_000,
};

const CASES: Case[] = [
  { label: "qos0-nosub", scenario: "qos0-nosub", client: "ours", metrics: [CPU, PUB, E2E] },
  { label: "qos1-pipe", scenario: "qos1-pipe", client: "ours", metrics: [E2E, CPU, P50, P99] },
  { label: "qos2-pipe", scenario: "qos2-pipe", client: "ours", metrics: [E2E, CPU, P50, P99] },
  { label: "receive-raw", scenario: "receive-raw", client: "ours", metrics: [E2E, CPU] },
  ...["iter", "queue", "callback"].map((shape): Case => ({
    label: `rr-same-conn ${shape}`,
    scenario: "rr-same-conn",
    client: `ours-${shape}`,
    metrics: RR_METRICS,
    args: ["--warmup", "2000"],
  })),
  {
    label: "rr-same-conn iter, cold",
    scenario: "rr-same-conn",
    client: "ours-iter",
    metrics: RR_METRICS,
    n: 2_000,
    args: ["--warmup", "1"],
  },
];

interface Row extends Partial<Result> {
  label: string;
  side: Side;
  round: number;
  /** Position of this run within its round (0 or 1). */
  slot: number;
  /** CPU affinity of the child and the broker (see --pin). */
  pin?: string;
  tree: string;
  /** Idle share of the machine (%) over the 0.3 s before the run. */
  idleBefore?: number;
  /**
   * CPU time used during the run by processes other than this driver, the child
   * and the broker, in % of the machine (all CPUs).
   */
  otherPct?: number;
  error?: string;
}

// ---------------------------------------------------------------------------
// Arguments

function num(kv: Map<string, string>, key: string, d: number): number {
  const v = kv.get(key);
  if (v === undefined) return d;
  const x = Number(v);
  if (!Number.isFinite(x) || x < 0) throw new RangeError(`--${key} must be a number >= 0`);
  return x;
}

// ---------------------------------------------------------------------------
// Trees and child processes

/** The repository root this file belongs to (it lives in bench/). */
const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

function fileHash(path: string): string {
  try {
    return createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 12);
  } catch {
    return "?";
  }
}

/**
 * Copies a tree's mod.ts and src/, and `harness` as bench/e2e.ts, to a temporary
 * directory with node_modules linked (the tree's own, else this repository's).
 */
function snapshot(tree: string, harness: string, side: Side): string {
  // Names of one length ("base", "curr"): nothing but the library should differ between
  // the two sides, not even the length of the paths the runtime resolves.
  const dir = mkdtempSync(join(tmpdir(), `mqttv5-compare-${side === "base" ? "base" : "curr"}-`));
  cpSync(join(tree, "mod.ts"), join(dir, "mod.ts"));
  cpSync(join(tree, "src"), join(dir, "src"), { recursive: true });
  mkdirSync(join(dir, "bench"));
  cpSync(harness, join(dir, "bench", "e2e.ts"));
  // The harness's helper modules (bench/_conns.ts), where the harness has them.
  const conns = join(harness, "..", "_conns.ts");
  if (existsSync(conns)) cpSync(conns, join(dir, "bench", "_conns.ts"));
  const nm = existsSync(join(tree, "node_modules"))
    ? join(tree, "node_modules")
    : join(ROOT, "node_modules");
  symlinkSync(resolve(nm), join(dir, "node_modules"));
  return dir;
}

function command(runtime: Runtime, args: string[], cpu: number | undefined): string[] {
  const cmd = runtime === "deno"
    ? ["deno", "run", "-A", "--no-lock", "--v8-flags=--expose-gc", "bench/e2e.ts", ...args]
    : ["bun", "bench/e2e.ts", ...args];
  return cpu === undefined ? cmd : ["taskset", "-c", String(cpu), ...cmd];
}

type Pin = "none" | "split" | "same";

/**
 * CPUs of the child and the broker: `split` puts the child on CPU 0 and the
 * broker on CPU 1, `same` both on CPU 1 (a request/response then has no
 * cross-CPU wake-up, whose cost is bimodal); `none` leaves it to the scheduler.
 */
function cpusOf(pin: Pin): { child?: number; broker?: number } {
  if (pin === "split") return { child: 0, broker: 1 };
  if (pin === "same") return { child: 1, broker: 1 };
  return {};
}

/** Sets a running process's CPU affinity (all its threads); false if taskset failed. */
function pinPid(pid: number, cpu: number): boolean {
  return spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" })
    .status === 0;
}

/** The child run in progress, and what to undo on SIGINT / SIGTERM. */
let running: ReturnType<typeof spawn> | undefined;
const undo: (() => unknown)[] = [];

async function onSignal(): Promise<void> {
  running?.kill("SIGKILL");
  for (const u of undo.reverse()) {
    try {
      await u();
    } catch {
      // best effort
    }
  }
  process.exit(130);
}

function runChild(
  cmd: string[],
  cwd: string,
  timeoutMs: number,
): Promise<{ json?: Result; error?: string }> {
  return new Promise((done) => {
    const child = spawn(cmd[0], cmd.slice(1), { cwd, stdio: ["ignore", "pipe", "pipe"] });
    running = child;
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => out += d);
    child.stderr!.on("data", (d) => err += d);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      running = undefined;
      const line = out.split("\n").reverse().find((l) => l.startsWith("{"));
      if (code === 0 && line !== undefined) {
        try {
          const json = JSON.parse(line) as Result;
          // rr-same-conn reports a stalled loop in the line itself.
          if (typeof json.error === "string") done({ json, error: json.error });
          else done({ json });
          return;
        } catch {
          // fall through
        }
      }
      const lines = (err || out).trim().split("\n").filter((l) => !/^\s+at /.test(l));
      const first = lines.find((l) => /error/i.test(l));
      done({
        error: `exit ${code ?? signal}: ${[first, ...lines.slice(-2)].filter(Boolean).join(" | ")}`,
      });
    });
  });
}

function toFileUrl(path: string): string {
  return pathToFileURL(path).href;
}

/** [idle, total] jiffies of all CPUs from /proc/stat. */
function cpuJiffies(): [number, number] {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1)
      .map(Number);
    return [f[3] + (f[4] ?? 0), f.reduce((a, b) => a + b, 0)];
  } catch {
    return [NaN, NaN];
  }
}

/** CPU jiffies of a process (utime + stime, and with `children` its waited-for children's). */
function procJiffies(pid: number | "self", children = false): number {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ").map(Number);
    return f[11] + f[12] + (children ? f[13] + f[14] : 0); // utime stime cutime cstime
  } catch {
    return NaN;
  }
}

/**
 * Starts counting the machine's CPU time not spent by this process, its
 * children (the child run is waited for before `stop`) or `brokerPid`;
 * `stop()` gives it in % of the machine over the interval.
 */
function otherLoad(brokerPid: number | undefined): { stop(): number } {
  const [i0, t0] = cpuJiffies();
  const s0 = procJiffies("self", true);
  const b0 = brokerPid === undefined ? 0 : procJiffies(brokerPid);
  return {
    stop() {
      const [i1, t1] = cpuJiffies();
      const ours = procJiffies("self", true) - s0 +
        (brokerPid === undefined ? 0 : procJiffies(brokerPid) - b0);
      const busy = (t1 - t0) - (i1 - i0);
      if (!(t1 > t0)) return NaN;
      return Math.round(Math.max(0, busy - ours) / (t1 - t0) * 1000) / 10;
    },
  };
}

/** The machine's idle share in % over `ms` (NaN without /proc/stat). */
async function idlePct(ms: number): Promise<number> {
  const [i0, t0] = cpuJiffies();
  await sleep(ms);
  const [i1, t1] = cpuJiffies();
  return t1 > t0 ? Math.round(((i1 - i0) / (t1 - t0)) * 1000) / 10 : NaN;
}

/** Waits until the machine was >= pct idle over 0.3 s, or maxMs passed; returns the last sample. */
async function waitIdle(pct: number, maxMs: number): Promise<number> {
  const deadline = Date.now() + maxMs;
  let idle = await idlePct(300);
  while (!(idle >= pct) && !Number.isNaN(idle) && Date.now() < deadline) idle = await idlePct(300);
  return idle;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Statistics and formatting

function values(rows: Row[], key: string): number[] {
  return rows.map((r) => r[key]).filter((v): v is number => typeof v === "number" && v > 0);
}

function fmtNum(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

function spread(xs: number[], fmt: (v: number) => string): string {
  return xs.length === 0 ? "–" : `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
}

/**
 * Per-round ratios current/base of one metric (rounds where both sides have a
 * value), and in how many of them the current tree did worse.
 */
function paired(
  rows: Row[],
  m: Metric,
): { ratios: number[]; worse: number; pairs: [number, number][] } {
  const ratios: number[] = [];
  const pairs: [number, number][] = [];
  let worse = 0;
  const rounds = [...new Set(rows.map((r) => r.round))];
  for (const round of rounds) {
    const b = rows.find((r) => r.round === round && r.side === "base")?.[m.key];
    const c = rows.find((r) => r.round === round && r.side === "current")?.[m.key];
    if (typeof b !== "number" || typeof c !== "number" || !(b > 0) || !(c > 0)) continue;
    const q = c / b;
    ratios.push(q);
    pairs.push([b, c]);
    if (m.higherIsBetter ? q < 1 : q > 1) worse++;
  }
  return { ratios, worse, pairs };
}

/**
 * Paired permutation test of the ratio of medians: within each round the
 * labels base/current are swapped at random (all 2^k ways up to 14 rounds,
 * else 20,000 draws). Gives the two-sided p of the observed ratio and the
 * 2.5-97.5% range of the ratio over the permutations: the ratio that two
 * equal trees would show, given this run's spread.
 */
function permutation(pairs: [number, number][]): { p: number; lo: number; hi: number } {
  const k = pairs.length;
  const obs = Math.abs(Math.log(median(pairs.map((x) => x[1])) / median(pairs.map((x) => x[0]))));
  const exact = k <= 14;
  const draws = exact ? 2 ** k : 20_000;
  let seed = 0x2545f491;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const b: number[] = new Array(k);
  const c: number[] = new Array(k);
  const ratios: number[] = [];
  let atLeast = 0;
  for (let i = 0; i < draws; i++) {
    for (let j = 0; j < k; j++) {
      const swap = exact ? (i >> j) & 1 : random() < 0.5 ? 1 : 0;
      b[j] = pairs[j][swap];
      c[j] = pairs[j][1 - swap];
    }
    const r = median(c) / median(b);
    ratios.push(r);
    if (Math.abs(Math.log(r)) >= obs - 1e-12) atLeast++;
  }
  ratios.sort((x, y) => x - y);
  const at = (q: number) => ratios[Math.min(ratios.length - 1, Math.floor(q * ratios.length))];
  return { p: atLeast / draws, lo: at(0.025), hi: at(0.975) };
}

/** The markdown report of one run's rows (one runtime). */
export function report(rows: Row[], idleGate = 0, maxOther = 100, keepBusy = false): string {
  const out: string[] = [];
  const isBusy = (r: Row) => Number(r.idleBefore) < idleGate || Number(r.otherPct) > maxOther;
  const busyRounds = new Set(rows.filter(isBusy).map((r) => `${r.label}#${r.round}`));
  const good = rows.filter((r) =>
    r.error === undefined && (keepBusy || !busyRounds.has(`${r.label}#${r.round}`))
  );
  const runtime = rows[0]?.runtime ?? "?";
  const rounds = Math.max(
    0,
    ...[...new Set(good.map((r) => r.label))].map((l) =>
      new Set(good.filter((r) => r.label === l).map((r) => r.round)).size
    ),
  );
  const srcOf = (side: Side) =>
    [...new Set(rows.filter((r) => r.side === side).map((r) => r.src))].filter(Boolean).join(", ");
  const treeOf = (side: Side) => rows.find((r) => r.side === side)?.tree ?? "?";
  const load = rows.map((r) => r.load1).filter((v): v is number => typeof v === "number");
  out.push(
    `### ${runtime}: current/base, ${rounds} interleaved rounds (ABBA)\n\n` +
      `base ${treeOf("base")} (src ${srcOf("base")}), current ${treeOf("current")} (src ${
        srcOf("current")
      })${
        load.length
          ? `; 1-min load at run start ${fmtNum(median(load))} [${spread(load, fmtNum)}]`
          : ""
      }. current/base: ratio of the medians; paired: per-round current/base, median ` +
      `[min–max]; worse: rounds in which current did worse (↑ higher is better, ↓ lower); ` +
      `noise band: the 95% range of current/base with base and current swapped at random ` +
      `within rounds (what two equal trees would give, at this run's spread); p: two-sided, ` +
      `of that permutation test.\n`,
  );
  out.push(
    "| scenario | n | metric | base median | base min–max | current median | current min–max | current/base | paired | worse | noise band | p |",
  );
  out.push("|---|---|---|---|---|---|---|---|---|---|---|---|");
  const labels = [...new Set(rows.map((r) => r.label))];
  for (const label of labels) {
    const c = CASES.find((k) => k.label === label);
    if (c === undefined) continue;
    const lr = good.filter((r) => r.label === label);
    const base = lr.filter((r) => r.side === "base");
    const cur = lr.filter((r) => r.side === "current");
    const n = lr[0]?.n ?? rows.find((r) => r.label === label)?.n ?? "?";
    for (const m of c.metrics) {
      const xb = values(base, m.key);
      const xc = values(cur, m.key);
      if (xb.length === 0 && xc.length === 0) continue;
      const ratio = xb.length && xc.length ? median(xc) / median(xb) : NaN;
      const p = paired(lr, m);
      const perm = p.pairs.length >= 2 ? permutation(p.pairs) : undefined;
      out.push(
        `| ${label} | ${n} | ${m.label} | ${xb.length ? m.fmt(median(xb)) : "–"} | ${
          spread(xb, m.fmt)
        } | ${xc.length ? m.fmt(median(xc)) : "–"} | ${spread(xc, m.fmt)} | ${
          Number.isNaN(ratio) ? "–" : `**${ratio.toFixed(3)}**`
        } | ${
          p.ratios.length
            ? `${median(p.ratios).toFixed(3)} [${Math.min(...p.ratios).toFixed(3)}–${
              Math.max(...p.ratios).toFixed(3)
            }]`
            : "–"
        } | ${p.ratios.length ? `${p.worse}/${p.ratios.length}` : "–"} | ${
          perm ? `${perm.lo.toFixed(3)}–${perm.hi.toFixed(3)}` : "–"
        } | ${perm ? (perm.p < 0.001 ? "<0.001" : perm.p.toFixed(3)) : "–"} |`,
      );
    }
  }
  const pins = labels.map((l) => `${l} ${rows.find((r) => r.label === l)?.pin ?? "none"}`);
  out.push(
    `\nCPU pinning (split: child CPU 0, broker CPU 1; same: both CPU 1): ${pins.join("; ")}`,
  );
  if (busyRounds.size > 0) {
    const byLabel = new Map<string, number[]>();
    for (const k of busyRounds) {
      const [label, round] = k.split("#");
      byLabel.set(label, [...(byLabel.get(label) ?? []), Number(round)]);
    }
    out.push(
      `\nRounds with a busy machine (idle < ${idleGate}% before a run, or others' CPU > ${maxOther}% of the machine during one), ${
        keepBusy ? "kept" : "left out"
      }: ${[...byLabel].map(([l, rs]) => `${l} ${rs.sort((a, b) => a - b).join(",")}`).join("; ")}`,
    );
  }
  // Round trips only: a sampled publish->receive latency (qos1-pipe, qos2-pipe) includes the
  // stream's queues, where 10 ms says nothing about a delayed ACK.
  const withOver = good.filter((r) =>
    typeof r.over10Ms === "number" && r.latency !== "publish->receive"
  );
  if (withOver.some((r) => Number(r.over10Ms) > 0)) {
    // A delayed ACK (~40 ms) caught a round trip: counted, not hidden in the rates.
    const sum = (label: string, side: Side) => {
      const rs = withOver.filter((r) => r.label === label && r.side === side);
      const total = rs.reduce((a, r) => a + Number(r.over10Ms), 0);
      return `${total} in ${rs.filter((r) => Number(r.over10Ms) > 0).length}/${rs.length} runs`;
    };
    out.push(
      `\nRound trips over 10 ms (base; current): ${
        [...new Set(withOver.map((r) => r.label))].map((l) =>
          `${l} ${sum(l, "base")}; ${sum(l, "current")}`
        ).join(" | ")
      }`,
    );
  }
  const lost = good.filter((r) => typeof r.lost === "number" && r.lost > 0);
  if (lost.length > 0) {
    out.push(
      `\nRuns with lost messages: ${
        lost.map((r) => `${r.label} ${r.side} round ${r.round}: ${r.lost}`).join("; ")
      }`,
    );
  }
  const errors = rows.filter((r) => r.error !== undefined);
  if (errors.length > 0) {
    out.push("\nFailed runs (left out of the table):\n");
    for (const e of errors) out.push(`- ${e.label} ${e.side} round ${e.round}: ${e.error}`);
  }
  return out.join("\n");
}

// ---------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const kv = parseArgs(Deno.args);
  if (kv.has("from")) {
    const rows = readFileSync(kv.get("from")!, "utf8").split("\n").filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Row);
    const gate = num(kv, "idle-pct", 85);
    const maxOther = num(kv, "max-other-pct", 10);
    const keepBusy = kv.get("keep-busy") === "true";
    for (const rt of [...new Set(rows.map((r) => r.runtime))]) {
      console.log(report(rows.filter((r) => r.runtime === rt), gate, maxOther, keepBusy) + "\n");
    }
    return;
  }
  if (!kv.has("base")) throw new TypeError("--base DIR is required (see the header of this file)");
  const trees: Record<Side, string> = {
    base: resolve(kv.get("base")!),
    current: resolve(kv.get("current") ?? ROOT),
  };
  for (const t of Object.values(trees)) {
    if (!existsSync(join(t, "mod.ts")) || !existsSync(join(t, "bench", "e2e.ts"))) {
      throw new Error(`${t} has no mod.ts or bench/e2e.ts`);
    }
  }
  const runtime = (kv.get("runtime") ?? "deno") as Runtime;
  if (runtime !== "deno" && runtime !== "bun") throw new TypeError("--runtime deno|bun");
  const rounds = Math.max(1, Math.floor(num(kv, "rounds", 12)));
  const warmupRounds = Math.floor(num(kv, "warmup-rounds", 1));
  const scale = num(kv, "scale", 1);
  const pauseMs = num(kv, "pause-ms", 0);
  const timeoutMs = num(kv, "timeout-s", 120) * 1000;
  const idleGate = num(kv, "idle-pct", 85);
  const idleWaitMs = num(kv, "idle-wait-s", 20) * 1000;
  const budgetMs = num(kv, "budget-min", 10) * 60_000;
  const pinArg = kv.get("pin") ?? "auto";
  if (!["auto", "none", "split", "same"].includes(pinArg)) {
    throw new TypeError("--pin auto|none|split|same");
  }
  const canPin = pinArg !== "none" &&
    spawnSync("taskset", ["-c", "0", "true"], { stdio: "ignore" }).status === 0 &&
    cpus().length >= 2;
  if (pinArg !== "none" && !canPin) console.error("note: no taskset or one CPU: --pin none");
  const pinOf = (scenario: string): Pin =>
    !canPin
      ? "none"
      : pinArg === "auto"
      ? (scenario === "rr-same-conn" ? "same" : "split")
      : pinArg as Pin;
  const maxOther = num(kv, "max-other-pct", 10);
  const isBusy = (idleBefore: number, otherPct: number) =>
    idleBefore < idleGate || otherPct > maxOther;
  const keepBusy = kv.get("keep-busy") === "true";
  const extra = Math.floor(num(kv, "extra-rounds", rounds));
  const wanted = (kv.get("scenarios") ?? "qos0-nosub,qos1-pipe,qos2-pipe,receive-raw,rr-same-conn")
    .split(",");
  for (const w of wanted) {
    if (!CASES.some((c) => c.scenario === w)) {
      throw new TypeError(
        `unknown scenario "${w}"; one of ${[...new Set(CASES.map((c) => c.scenario))].join(", ")}`,
      );
    }
  }
  const shapes = (kv.get("rr-shapes") ?? "iter,queue,callback").split(",");
  const cases = CASES.filter((c) =>
    wanted.includes(c.scenario) &&
    (c.scenario !== "rr-same-conn" || shapes.includes(c.client.slice(5)))
  );
  const harnessOf = kv.get("harness") ?? "own";
  if (!["own", "current", "base"].includes(harnessOf)) {
    throw new TypeError("--harness own|current|base");
  }
  const harness = (side: Side) =>
    join(trees[harnessOf === "own" ? side : harnessOf as Side], "bench", "e2e.ts");
  const inPlace = kv.get("in-place") === "true";
  if (inPlace && harnessOf !== "own") throw new TypeError("--in-place runs each tree's own e2e.ts");
  // The broker configuration, scenario defaults and src hash come from the base tree's
  // e2e.ts: a committed tree that loads, while the current one may be mid-edit.
  const e2e = await import(toFileUrl(join(trees.base, "bench", "e2e.ts"))) as E2eModule;
  const { SCENARIOS, srcHash, startBroker } = e2e;
  const dirs: Record<Side, string> = inPlace ? { ...trees } : {
    base: snapshot(trees.base, harness("base"), "base"),
    current: snapshot(trees.current, harness("current"), "current"),
  };
  if (!inPlace && kv.get("keep-snapshots") !== "true") {
    undo.push(() =>
      Object.values(dirs).forEach((d) => rmSync(d, { recursive: true, force: true }))
    );
  }
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const hashes: Record<Side, string> = { base: srcHash(dirs.base), current: srcHash(dirs.current) };
  const harnessHashes: Record<Side, string> = {
    base: fileHash(join(dirs.base, "bench", "e2e.ts")),
    current: fileHash(join(dirs.current, "bench", "e2e.ts")),
  };
  const e2eHash = (side: Side) => harnessHashes[side];
  const sameHarness = e2eHash("base") === e2eHash("current");
  for (const side of ["base", "current"] as Side[]) {
    console.error(
      `${side}: ${trees[side]} src ${hashes[side]}, bench/e2e.ts ${e2eHash(side)}${
        inPlace ? " (in place)" : ` (snapshot ${dirs[side]})`
      }`,
    );
  }
  if (!sameHarness) {
    console.error(
      "note: the two trees run different bench/e2e.ts; --harness current (or base) runs one " +
        "harness against both libraries",
    );
  }
  const outPath = kv.get("out");
  const rows: Row[] = [];
  const t0 = performance.now();
  const weightAll = cases.length;
  let weightDone = 0;
  try {
    for (const scenario of [...new Set(cases.map((c) => c.scenario))]) {
      const sc = SCENARIOS[scenario];
      const needsBroker = sc.kind !== "receive-raw" && sc.kind !== "receive-raw-iter";
      const broker: Broker | undefined = needsBroker ? await startBroker() : undefined;
      if (broker !== undefined) undo.push(() => broker.stop());
      const pin = pinOf(scenario);
      const cpus = cpusOf(pin);
      weightDone += cases.filter((k) => k.scenario === scenario).length;
      const deadline = t0 + budgetMs * weightDone / weightAll;
      try {
        if (broker !== undefined && cpus.broker !== undefined && !pinPid(broker.pid, cpus.broker)) {
          throw new Error(`taskset could not pin the broker (pid ${broker.pid})`);
        }
        const n = Math.max(1, Math.round((N[scenario] ?? sc.n) * scale));
        // Rounds until `rounds` of them ran on an idle machine (at most `extra` more).
        let clean = 0;
        for (
          let round = 1 - warmupRounds;
          clean < rounds &&
          (round <= rounds || (round <= rounds + extra && performance.now() < deadline));
          round++
        ) {
          // ABBA over the clean rounds: base first in odd ones, current first in even ones.
          const order: Side[] = round < 1 || clean % 2 === 0
            ? ["base", "current"]
            : ["current", "base"];
          let busy = false;
          for (const c of cases.filter((k) => k.scenario === scenario)) {
            for (let slot = 0; slot < 2; slot++) {
              const side = order[slot];
              const args = [
                "--scenario",
                scenario,
                "--client",
                c.client,
                "--n",
                String(c.n === undefined ? n : Math.max(1, Math.round(c.n * scale))),
                ...(c.args ?? []),
              ];
              if (broker !== undefined) {
                args.push(
                  "--host",
                  broker.host,
                  "--port",
                  String(broker.port),
                  "--broker-pid",
                  String(broker.pid),
                );
              }
              if (pauseMs > 0) await sleep(pauseMs);
              const idleBefore = idleGate > 0 ? await waitIdle(idleGate, idleWaitMs) : 100;
              const load = otherLoad(broker?.pid);
              const r = await runChild(command(runtime, args, cpus.child), dirs[side], timeoutMs);
              const otherPct = load.stop();
              if (isBusy(idleBefore, otherPct)) busy = true;
              const tag = `${c.label} ${side} ${round < 1 ? "warm-up" : `round ${round}`}`;
              console.error(
                `${tag} (idle before ${idleBefore}%, others during ${otherPct}%): ${
                  r.error ?? JSON.stringify(r.json)
                }`,
              );
              if (round < 1) continue;
              const row: Row = {
                ...(r.json ?? { client: c.client, scenario, runtime, n }),
                pin,
                label: c.label,
                side,
                round,
                slot,
                tree: trees[side],
                idleBefore,
                otherPct,
                ...(r.error !== undefined ? { error: r.error } : {}),
              };
              rows.push(row);
              if (outPath !== undefined) appendFileSync(outPath, JSON.stringify(row) + "\n");
            }
          }
          if (round >= 1 && (!busy || keepBusy)) clean++;
          else if (round >= 1) {
            console.error(`${scenario} round ${round}: busy machine, not counted`);
          }
        }
        if (clean < rounds) {
          console.error(`${scenario}: only ${clean} of ${rounds} rounds on an idle machine`);
        }
      } finally {
        await broker?.stop();
        if (broker !== undefined) undo.pop();
      }
    }
  } finally {
    if (!inPlace && kv.get("keep-snapshots") !== "true") {
      for (const d of Object.values(dirs)) rmSync(d, { recursive: true, force: true });
    }
  }
  const minutes = (performance.now() - t0) / 60000;
  const notes: string[] = [];
  if (!sameHarness) {
    notes.push(
      `Note: different harnesses (bench/e2e.ts ${e2eHash("base")} in base, ${
        e2eHash("current")
      } in current).`,
    );
  }
  if (!inPlace) {
    for (const side of ["base", "current"] as Side[]) {
      const now = srcHash(trees[side]);
      if (now !== hashes[side]) {
        notes.push(
          `Note: ${
            trees[side]
          } changed during the run (src ${now}); measured: the snapshot taken at start (src ${
            hashes[side]
          }).`,
        );
      }
    }
  }
  const md = report(rows, idleGate, maxOther, keepBusy) +
    `\n\nWall time ${minutes.toFixed(1)} min; scale ${scale}.` +
    (notes.length ? "\n\n" + notes.join("\n") : "");
  console.log(md);
  if (kv.has("md")) writeFileSync(kv.get("md")!, md + "\n");
}

await main();
process.exit(0);

/** Milliseconds: three decimals below 1 ms (sub-millisecond latencies). */
function fmtMs(v: number): string {
  return v < 1 ? v.toFixed(3) : fmtNum(v);
}
