// Runs bench/e2e.ts for every scenario and client in fresh child processes,
// interleaved (ours, mqttjs, [raw], ours, mqttjs, ...), and prints markdown
// tables: median [min-max] per scenario and client, ratios ours/MQTT.js,
// latency percentiles p50/p90/p99 (every scenario with a per-message latency; see e2e.ts), and
// whether the targets are met. rr-same-conn runs our client once per subscribe
// shape (ours-iter, ours-queue, ours-callback), each compared with MQTT.js.
//
//   deno run -A --no-lock bench/e2e_run.ts --runtime deno [--reps 5] [--scenarios qos0,qos1-pipe]
//   deno run -A --no-lock bench/e2e_run.ts --runtime bun --out /tmp/bun.jsonl --md /tmp/bun.md
//   deno run -A --no-lock bench/e2e_run.ts --runtime node     (bundles bench/e2e.ts with deno bundle)
//   deno run -A --no-lock bench/e2e_run.ts --scale 0.1        (a quick first pass: n x 0.1)
//   deno run -A --no-lock bench/e2e_run.ts --scenarios rr-same-conn --reps 3 --scale 0.25
//   deno run -A --no-lock bench/e2e_run.ts --from /tmp/bun.jsonl   (tables from saved results)
//   deno run -A --no-lock bench/e2e_run.ts --summarize prof.cpuprofile [--top 25]
//   ... --keep-snapshot, then --snapshot DIR: measure several runtimes on one copy of src/
//
// One mosquitto (see startBroker in e2e.ts) serves all runs of one scenario
// and is restarted between scenarios; receive-raw needs none. The children run
// on a snapshot of mod.ts + src/ + bench/e2e.ts taken at start (--in-place to
// run the working tree), and each JSON line carries the hash of the src it measured.

import { fmtRate, median, parseArgs } from "./_util.ts";
import process from "node:process";
import { spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Broker, type Result, RUNTIME, SCENARIOS, srcHash, startBroker } from "./e2e.ts";

type ChildRuntime = "deno" | "bun" | "node";

interface Variant {
  /** Row label. */
  label: string;
  scenario: string;
  clients: string[];
  args?: string[];
}

const VARIANTS: Variant[] = [
  { label: "qos0", scenario: "qos0", clients: ["ours", "mqttjs"] },
  { label: "qos0-nosub", scenario: "qos0-nosub", clients: ["ours", "mqttjs"] },
  { label: "qos1-seq", scenario: "qos1-seq", clients: ["ours", "mqttjs", "raw"] },
  { label: "qos1-pipe", scenario: "qos1-pipe", clients: ["ours", "mqttjs"] },
  { label: "qos2-pipe", scenario: "qos2-pipe", clients: ["ours", "mqttjs"] },
  {
    label: "rr-same-conn",
    scenario: "rr-same-conn",
    clients: ["ours-iter", "ours-queue", "ours-callback", "mqttjs"],
  },
  { label: "big-qos0", scenario: "big-qos0", clients: ["ours", "mqttjs", "raw"] },
  { label: "receive-raw", scenario: "receive-raw", clients: ["ours", "mqttjs"] },
  {
    label: "receive-raw-subid",
    scenario: "receive-raw",
    clients: ["ours", "mqttjs"],
    args: ["--subid", "1"],
  },
  { label: "receive-raw-iter", scenario: "receive-raw-iter", clients: ["ours"] },
  {
    label: "receive-raw-iter-b64",
    scenario: "receive-raw-iter",
    clients: ["ours"],
    args: ["--buffer", "64"],
  },
  { label: "stall-heap", scenario: "stall-heap", clients: ["ours"] },
  { label: "conns", scenario: "conns", clients: ["ours", "mqttjs"] },
];

interface Row extends Result {
  label: string;
  rep: number;
  error?: string;
}

// ---------------------------------------------------------------------------
// Arguments

// ---------------------------------------------------------------------------
// Child processes

/** The repository root (this file lives in bench/). */
const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

/**
 * Copies mod.ts, src/ and bench/e2e.ts to a temporary directory (node_modules
 * linked), so that every run of the matrix measures the same library even if
 * the working tree changes meanwhile.
 */
function snapshot(): string {
  const dir = mkdtempSync(join(tmpdir(), "mqttv5-e2e-snap-"));
  cpSync(join(ROOT, "mod.ts"), join(dir, "mod.ts"));
  cpSync(join(ROOT, "src"), join(dir, "src"), { recursive: true });
  mkdirSync(join(dir, "bench"));
  cpSync(join(ROOT, "bench", "e2e.ts"), join(dir, "bench", "e2e.ts"));
  cpSync(join(ROOT, "bench", "_conns.ts"), join(dir, "bench", "_conns.ts"));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** Builds a Node bundle of bench/e2e.ts with `deno bundle`; returns its path. */
function bundleForNode(cwd: string): string {
  const dir = join(tmpdir(), "mqttv5-e2e-bundle");
  mkdirSync(dir, { recursive: true });
  const out = join(dir, "e2e.mjs");
  const r = spawnSync(
    "deno",
    ["bundle", "--no-lock", "--platform", "node", "-o", out, "bench/e2e.ts"],
    { encoding: "utf8", cwd },
  );
  if (r.status !== 0) throw new Error(`deno bundle failed:\n${r.stderr}`);
  return out;
}

function command(runtime: ChildRuntime, bundle: string | undefined, args: string[]): string[] {
  switch (runtime) {
    case "deno":
      return ["deno", "run", "-A", "--no-lock", "--v8-flags=--expose-gc", "bench/e2e.ts", ...args];
    case "bun":
      return ["bun", "bench/e2e.ts", ...args];
    case "node":
      return ["node", "--expose-gc", bundle!, ...args];
  }
}

function runChild(
  cmd: string[],
  cwd: string,
  timeoutMs: number,
): Promise<{ json?: Result; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd[0], cmd.slice(1), { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => out += d);
    child.stderr!.on("data", (d) => err += d);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = out.split("\n").reverse().find((l) => l.startsWith("{"));
      if (code === 0 && line !== undefined) {
        try {
          resolve({ json: JSON.parse(line) });
          return;
        } catch {
          // fall through
        }
      }
      const lines = (err || out).trim().split("\n").filter((l) => !/^\s+at /.test(l));
      const first = lines.find((l) => /error/i.test(l));
      resolve({
        error: `exit ${code ?? signal}: ${[first, ...lines.slice(-2)].filter(Boolean).join(" | ")}`,
      });
    });
  });
}

// ---------------------------------------------------------------------------
// Statistics and formatting

function nums(rows: Row[], key: string): number[] {
  return rows.map((r) => r[key]).filter((v): v is number => typeof v === "number");
}

function fmtNum(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** `ours`, or our client in one subscribe shape (`ours-iter`, `ours-queue`, `ours-callback`). */
function isOurs(client: string): boolean {
  return client === "ours" || client.startsWith("ours-");
}

function cell(xs: number[], fmt: (v: number) => string): string {
  if (xs.length === 0) return "–";
  if (xs.length === 1) return fmt(xs[0]);
  return `${fmt(median(xs))} [${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}]`;
}

/** A ratio: two decimals, two significant digits below 0.01 (a stalled rate is not "0.00x"). */
function fmtRatio(v: number): string {
  return v >= 0.01 || v === 0 ? v.toFixed(2) : v.toPrecision(2);
}

/** Ratio of medians, and the median [min-max] of the per-repetition (paired) ratios. */
function ratio(a: Row[], b: Row[], key: string): { med: number; text: string } | undefined {
  const xa = nums(a, key);
  const xb = nums(b, key);
  if (xa.length === 0 || xb.length === 0) return undefined;
  const med = median(xa) / median(xb);
  const paired: number[] = [];
  for (const ra of a) {
    const rb = b.find((r) => r.rep === ra.rep);
    const va = ra[key];
    const vb = rb?.[key];
    if (typeof va === "number" && typeof vb === "number" && vb > 0) paired.push(va / vb);
  }
  const p = paired.length > 1
    ? ` (paired ${fmtRatio(median(paired))} [${fmtRatio(Math.min(...paired))}–${
      fmtRatio(Math.max(...paired))
    }])`
    : "";
  return { med, text: `**${fmtRatio(med)}x**${p}` };
}

function ok(rows: Row[]): Row[] {
  return rows.filter((r) => r.error === undefined);
}

/** The markdown report for one runtime's rows. */
export function report(rows: Row[]): string {
  const out: string[] = [];
  const runtime = rows[0]?.runtime ?? "?";
  const labels = [...new Set(rows.map((r) => r.label))];
  const reps = Math.max(...rows.map((r) => r.rep));
  const srcs = [...new Set(rows.map((r) => r.src).filter((v) => v !== undefined))];
  const polyfills = [...new Set(rows.map((r) => r.polyfill).filter((v) => v !== undefined))];
  const load = nums(rows, "load1");
  out.push(
    `### ${runtime}: ${reps} interleaved repetitions, median [min–max]${
      load.length ? ` (1-min load average at run start: ${cell(load, fmtNum)})` : ""
    }${srcs.length ? `; src ${srcs.join(", ")}` : ""}${
      polyfills.length ? `; polyfilled for this runtime: ${polyfills.join(", ")}` : ""
    }\n`,
  );
  out.push(
    "| scenario | n x size | client | pub msg/s | e2e msg/s | e2e MB/s | lost | CPU µs/msg | broker CPU % |",
  );
  out.push("|---|---|---|---|---|---|---|---|---|");
  for (const label of labels) {
    const lr = rows.filter((r) => r.label === label);
    for (const client of [...new Set(lr.map((r) => r.client))]) {
      const all = lr.filter((r) => r.client === client);
      const cr = ok(all);
      const failed = all.length - cr.length;
      const first = cr[0] ?? all[0];
      out.push(
        `| ${label} | ${first.n} x ${first.size ?? "?"} | ${client}${
          failed ? ` (${failed} failed)` : ""
        } | ${cell(nums(cr, "pubRate"), fmtRate)} | ${cell(nums(cr, "e2eRate"), fmtRate)} | ${
          cell(nums(cr, "e2eMBps"), fmtNum)
        } | ${cell(nums(cr, "lost"), (v) => v.toFixed(0))} | ${
          cell(nums(cr, "clientUsPerMsg"), fmtNum)
        } | ${cell(nums(cr, "brokerCpuPct"), (v) => v.toFixed(0))} |`,
      );
    }
  }
  out.push("");
  out.push("Ratios (ratio of medians; paired = per-repetition ratio, median [min–max]):\n");
  out.push(
    "| scenario | e2e msg/s ours/other | pub msg/s ours/other | CPU/msg ours/other (lower is better) |",
  );
  out.push("|---|---|---|---|");
  for (const label of labels) {
    const lr = ok(rows.filter((r) => r.label === label));
    for (const kind of [...new Set(lr.map((r) => r.client))].filter(isOurs)) {
      const ours = lr.filter((r) => r.client === kind);
      const name = kind === "ours" ? label : `${label} ${kind}`;
      for (const other of ["mqttjs", "raw"]) {
        const o = lr.filter((r) => r.client === other);
        if (ours.length === 0 || o.length === 0) continue;
        const key = label.startsWith("big") ? "e2eMBps" : "e2eRate";
        out.push(
          `| ${name} (vs ${other}) | ${ratio(ours, o, key)?.text ?? "–"} | ${
            ratio(ours, o, "pubRate")?.text ?? "–"
          } | ${ratio(ours, o, "clientUsPerMsg")?.text ?? "–"} |`,
        );
      }
    }
  }
  const latency = latencyTables(rows);
  if (latency !== "") out.push(latency);
  const heap = ok(rows.filter((r) => r.scenario === "stall-heap"));
  if (heap.length > 0) {
    out.push("");
    out.push(
      "| stall-heap | heap growth after GC MiB | peak heap growth MiB | rss growth MiB | dropped |",
    );
    out.push("|---|---|---|---|---|");
    out.push(
      `| ours, ${heap[0].n} x ${heap[0].size ?? 1024} B | ${
        cell(nums(heap, "heapGrowthMiB"), fmtNum)
      } | ${cell(nums(heap, "peakHeapGrowthMiB"), fmtNum)} | ${
        cell(nums(heap, "rssGrowthMiB"), fmtNum)
      } | ${cell(nums(heap, "dropped"), (v) => v.toFixed(0))} |`,
    );
  }
  const conns = ok(rows.filter((r) => r.scenario === "conns"));
  if (conns.length > 0) {
    out.push("");
    out.push(
      "| conns (idle, one subscription each) | connect all, ms | heap KiB/conn | RSS KiB/conn | idle CPU ms/s |",
    );
    out.push("|---|---|---|---|---|");
    for (const client of [...new Set(conns.map((r) => r.client))]) {
      const cr = conns.filter((r) => r.client === client);
      out.push(
        `| ${client}, ${cr[0].n} connections | ${cell(nums(cr, "connectMs"), fmtNum)} | ${
          cell(nums(cr, "heapKiBPerConn"), fmtNum)
        } | ${cell(nums(cr, "rssKiBPerConn"), fmtNum)} | ${
          cell(nums(cr, "idleCpuMsPerS"), fmtNum)
        } |`,
      );
    }
  }
  out.push("");
  out.push(targets(rows));
  const errors = rows.filter((r) => r.error !== undefined);
  if (errors.length > 0) {
    out.push("\nFailed runs:\n");
    for (const e of errors) out.push(`- ${e.label} ${e.client} rep ${e.rep}: ${e.error}`);
  }
  return out.join("\n");
}

/**
 * Latency percentiles where the runs recorded them (each row's `latency` says
 * what was timed: qos1-seq publish call to PUBACK; rr-same-conn publish call to
 * the message back from the same connection's subscription; qos0, qos1-pipe,
 * qos2-pipe, big-qos0 publish call to receipt by the subscriber, one message in
 * 64), and ours/other ratios of p50 and p99.
 */
function latencyTables(rows: Row[]): string {
  const withLat = ok(rows).filter((r) => typeof r.p50Ms === "number");
  if (withLat.length === 0) return "";
  const out = [
    "",
    "Latency per message (publish->puback: publish call to PUBACK, every publish, one " +
    "outstanding; publish->message: publish call to the message back from the same " +
    "connection's subscription; publish->receive: publish call to receipt by the subscriber, " +
    "one message in 64, queues of the stream included), ms, median [min–max] over " +
    "repetitions (none in qos0-nosub, receive-raw*, stall-heap: see bench/e2e.ts):\n",
    "| scenario | client | timed | p50 ms | p90 ms | p99 ms | max ms | over 10 ms |",
    "|---|---|---|---|---|---|---|---|",
  ];
  const labels = [...new Set(withLat.map((r) => r.label))];
  for (const label of labels) {
    const lr = withLat.filter((r) => r.label === label);
    for (const client of [...new Set(lr.map((r) => r.client))]) {
      const cr = lr.filter((r) => r.client === client);
      out.push(
        `| ${label} | ${client} | ${cr[0].latency ?? "–"} | ${cell(nums(cr, "p50Ms"), fmtMs)} | ${
          cell(nums(cr, "p90Ms"), fmtMs)
        } | ${cell(nums(cr, "p99Ms"), fmtMs)} | ${cell(nums(cr, "maxMs"), fmtMs)} | ${
          cell(nums(cr, "over10Ms"), (v) => v.toFixed(0))
        } |`,
      );
    }
  }
  const ratios: string[] = [];
  for (const label of labels) {
    const lr = withLat.filter((r) => r.label === label);
    for (const kind of [...new Set(lr.map((r) => r.client))].filter(isOurs)) {
      const ours = lr.filter((r) => r.client === kind);
      for (const other of ["mqttjs", "raw"]) {
        const o = lr.filter((r) => r.client === other);
        if (o.length === 0) continue;
        ratios.push(
          `| ${label} ${kind} (vs ${other}) | ${ratio(ours, o, "p50Ms")?.text ?? "–"} | ${
            ratio(ours, o, "p99Ms")?.text ?? "–"
          } |`,
        );
      }
    }
  }
  if (ratios.length > 0) {
    out.push("", "| latency ours/other (lower is better) | p50 | p99 |", "|---|---|---|");
    out.push(...ratios);
  }
  return out.join("\n");
}

function targets(rows: Row[]): string {
  const get = (label: string, client: string) =>
    ok(rows.filter((r) => r.label === label && r.client === client));
  const lines = ["| target | measured | met? |", "|---|---|---|"];
  const yes = (b: boolean) => (b ? "yes" : "**no**");
  const q0 = ratio(get("qos0", "ours"), get("qos0", "mqttjs"), "clientUsPerMsg");
  const q0e = ratio(get("qos0", "ours"), get("qos0", "mqttjs"), "e2eRate");
  const bcpu = nums(get("qos0", "ours"), "brokerCpuPct");
  if (q0 !== undefined) {
    const ceiling = bcpu.length > 0 && median(bcpu) >= 85;
    lines.push(
      `| qos0: broker at its ceiling, CPU/msg <= 0.6x MQTT.js | CPU ${q0.med.toFixed(2)}x, e2e ${
        q0e?.med.toFixed(2)
      }x, broker CPU ${bcpu.length ? median(bcpu).toFixed(0) : "?"}% | ${
        yes(q0.med <= 0.6 && ceiling)
      }${ceiling ? "" : " (broker below 85% CPU)"} |`,
    );
  }
  const nosub = ratio(get("qos0-nosub", "ours"), get("qos0-nosub", "mqttjs"), "clientUsPerMsg");
  if (nosub !== undefined) {
    lines.push(
      `| qos0-nosub CPU/msg <= 0.5x | ${nosub.med.toFixed(2)}x | ${yes(nosub.med <= 0.5)} |`,
    );
  }
  for (const label of ["qos1-seq", "qos1-pipe", "qos2-pipe"]) {
    const r = ratio(get(label, "ours"), get(label, "mqttjs"), "e2eRate");
    if (r !== undefined) {
      lines.push(`| ${label} msg/s >= 1.5x | ${r.med.toFixed(2)}x | ${yes(r.med >= 1.5)} |`);
    }
  }
  const seqRaw = ratio(get("qos1-seq", "ours"), get("qos1-seq", "raw"), "e2eRate");
  const seqPeer = ratio(get("qos1-seq", "mqttjs"), get("qos1-seq", "raw"), "e2eRate");
  if (seqRaw !== undefined && seqPeer !== undefined) {
    lines.push(
      `| (qos1-seq floor: a raw socket publisher) | ours ${seqRaw.med.toFixed(2)}x raw, MQTT.js ${
        seqPeer.med.toFixed(2)
      }x raw | – |`,
    );
  }
  const big = ratio(get("big-qos0", "ours"), get("big-qos0", "raw"), "e2eMBps");
  if (big !== undefined) {
    lines.push(
      `| big-qos0 MB/s >= 0.95x raw writer | ${big.med.toFixed(2)}x | ${yes(big.med >= 0.95)} |`,
    );
  }
  for (const label of ["receive-raw", "receive-raw-iter"]) {
    const x = nums(get(label, "ours"), "e2eRate");
    if (x.length > 0) {
      lines.push(
        `| ${label} >= 1M msg/s | ${fmtRate(median(x))} msg/s (min ${fmtRate(Math.min(...x))}) | ${
          yes(median(x) >= 1e6)
        } |`,
      );
    }
  }
  const heap = nums(get("stall-heap", "ours"), "heapGrowthMiB");
  if (heap.length > 0) {
    lines.push(
      `| stall-heap <= 8 MiB | ${fmtNum(median(heap))} MiB (max ${fmtNum(Math.max(...heap))}) | ${
        yes(Math.max(...heap) <= 8)
      } |`,
    );
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------
// CPU profile summary (.cpuprofile from `e2e.ts --profile` or `bun --cpu-prof`)

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Self and inclusive time per function, as a markdown table. */
export function summarize(path: string, top: number): string {
  const prof = JSON.parse(readFileSync(path, "utf8")) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) byId.set(n.id, n);
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: ProfileNode) => {
    const f = n.callFrame;
    const url = f.url.replace(/^file:\/\/.*?\/(src|bench)\//, "$1/").replace(
      /^.*node_modules\//,
      "",
    );
    return `${f.functionName || "(anonymous)"} ${url ? `${url}:${f.lineNumber + 1}` : ""}`.trim();
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let sum = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i + 1] ?? prof.timeDeltas[i] ?? 0; // a sample's time is until the next one
    sum += dt;
    let node = byId.get(prof.samples[i]);
    if (node === undefined) continue;
    const k = key(node);
    self.set(k, (self.get(k) ?? 0) + dt);
    const seen = new Set<string>();
    while (node !== undefined) {
      const kk = key(node);
      if (!seen.has(kk)) {
        seen.add(kk);
        total.set(kk, (total.get(kk) ?? 0) + dt);
      }
      const p = parent.get(node.id);
      node = p === undefined ? undefined : byId.get(p);
    }
  }
  const table = (m: Map<string, number>, title: string) => {
    const rows = [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
    return [
      `| ${title} | ms | % |`,
      "|---|---|---|",
      ...rows.map(([k, v]) =>
        `| \`${k}\` | ${(v / 1000).toFixed(1)} | ${(v / sum * 100).toFixed(1)} |`
      ),
    ].join("\n");
  };
  return `Profile ${path}: ${(sum / 1000).toFixed(0)} ms sampled\n\n${
    table(self, "self time")
  }\n\n${table(total, "inclusive time")}\n`;
}

// ---------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const kv = parseArgs(RUNTIME === "deno" ? Deno.args : process.argv.slice(2));
  if (kv.has("summarize")) {
    console.log(summarize(kv.get("summarize")!, Number(kv.get("top") ?? 25)));
    return;
  }
  if (kv.has("from")) {
    const rows = readFileSync(kv.get("from")!, "utf8").split("\n").filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Row);
    console.log(report(rows));
    return;
  }
  const runtime = (kv.get("runtime") ?? "deno") as ChildRuntime;
  if (!["deno", "bun", "node"].includes(runtime)) throw new TypeError("--runtime deno|bun|node");
  const reps = Number(kv.get("reps") ?? 5);
  const scale = Number(kv.get("scale") ?? 1);
  const timeoutMs = Number(kv.get("timeout-s") ?? 300) * 1000;
  const wanted = kv.get("scenarios")?.split(",");
  const variants = VARIANTS.filter((v) => !wanted || wanted.includes(v.label));
  const outPath = kv.get("out");
  const inPlace = kv.get("in-place") === "true";
  const given = kv.get("snapshot"); // a directory made by an earlier --keep-snapshot run
  const cwd = inPlace ? ROOT : given ?? snapshot();
  const snapHash = srcHash(cwd);
  console.error(`measuring src ${snapHash}${inPlace ? " (in place)" : ` (snapshot in ${cwd})`}`);
  const bundle = runtime === "node" ? bundleForNode(cwd) : undefined;
  const rows: Row[] = [];
  for (const v of variants) {
    // conns starts its own mosquitto (max_connections -1, the descriptor limit raised).
    const needsBroker = SCENARIOS[v.scenario].kind !== "receive-raw" &&
      SCENARIOS[v.scenario].kind !== "receive-raw-iter" && SCENARIOS[v.scenario].kind !== "conns";
    let broker: Broker | undefined;
    if (needsBroker) broker = await startBroker();
    try {
      const n = Math.max(1, Math.round(SCENARIOS[v.scenario].n * scale));
      for (let rep = 1; rep <= reps; rep++) {
        for (const client of v.clients) {
          const args = ["--scenario", v.scenario, "--client", client, "--n", String(n)];
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
          args.push(...(v.args ?? []));
          const r = await runChild(command(runtime, bundle, args), cwd, timeoutMs);
          const row: Row = r.json !== undefined ? { ...r.json, label: v.label, rep } : {
            client,
            scenario: v.scenario,
            runtime,
            n,
            pubRate: null,
            e2eRate: null,
            e2eMBps: null,
            lost: null,
            clientUsPerMsg: NaN,
            label: v.label,
            rep,
            error: r.error,
          };
          rows.push(row);
          if (outPath !== undefined) appendFileSync(outPath, JSON.stringify(row) + "\n");
          console.error(`${v.label} ${client} #${rep}: ${r.error ?? JSON.stringify(r.json)}`);
        }
      }
    } finally {
      await broker?.stop();
    }
  }
  if (!inPlace && given === undefined && kv.get("keep-snapshot") !== "true") {
    rmSync(cwd, { recursive: true, force: true });
  }
  const now = srcHash(ROOT);
  const md = report(rows) +
    (now === snapHash ? "" : `\n\nNote: the working tree changed during the run (src ${now}).`);
  console.log(md);
  if (kv.has("md")) writeFileSync(kv.get("md")!, md + "\n");
}

await main();
process.exit(0);

/** Milliseconds: three decimals below 1 ms (sub-millisecond latencies). */
function fmtMs(v: number): string {
  return v < 1 ? v.toFixed(3) : fmtNum(v);
}
