/**
 * Codec micro benchmarks for runtimes without `Deno.bench`:
 *
 * ```sh
 * bun bench/wire_bench_bun.ts [--time-ms 1000]
 * ```
 *
 * Runs the cases of `wire_cases.ts` with a small timing loop (warm-up, then
 * interleaved samples of at least 5 ms each, `--time-ms` per case) and prints, per
 * group, the median time per operation, operations per second and the ratio
 * to the mqtt-packet baseline with the target (decode >= 5x, encode >= 3x).
 * Runtime-neutral, so `deno run -A bench/wire_bench_bun.ts` works as well.
 *
 * @module
 */

import { TARGET_RATIO, WIRE_BENCH_CASES, type WireBenchCase } from "./wire_cases.ts";

interface RuntimeGlobals {
  Bun?: { version: string };
  Deno?: { version: { deno: string; v8: string } };
  process?: { argv: string[]; versions?: Record<string, string> };
}

const g = globalThis as unknown as RuntimeGlobals;

function args(): string[] {
  return g.process?.argv.slice(2) ?? [];
}

function timeBudgetMs(): number {
  const a = args();
  const i = a.indexOf("--time-ms");
  const n = i >= 0 ? Number(a[i + 1]) : 1000;
  return Number.isFinite(n) && n > 0 ? n : 1000;
}

function runtimeName(): string {
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno} (v8 ${g.Deno.version.v8})`;
  return `node ${g.process?.versions?.node ?? "?"}`;
}

interface Result {
  case: WireBenchCase;
  nsPerOp: number;
  samples: number;
}

/** Warms `fn` up and returns an iteration count giving samples of >= 5 ms. */
function calibrate(fn: () => void, warmMs: number): number {
  let iterations = 1;
  const warmEnd = performance.now() + warmMs;
  while (performance.now() < warmEnd) {
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) fn();
    if (performance.now() - t0 < 5) iterations *= 2;
  }
  return iterations;
}

/**
 * Measures the cases of one group with interleaved samples (A, B, A, B, ...)
 * so that machine noise and frequency drift hit every case alike, then takes
 * the median time per operation of each.
 */
function measureGroup(cases: readonly WireBenchCase[], budgetMs: number): Result[] {
  const iterations = cases.map((c) => calibrate(c.fn, Math.min(300, budgetMs / 3)));
  const samples: number[][] = cases.map(() => []);
  const end = performance.now() + budgetMs * cases.length;
  while (performance.now() < end || samples[0].length < 10) {
    for (let k = 0; k < cases.length; k++) {
      const fn = cases[k].fn;
      const n = iterations[k];
      const t0 = performance.now();
      for (let i = 0; i < n; i++) fn();
      samples[k].push(((performance.now() - t0) * 1e6) / n);
    }
  }
  return cases.map((c, k) => {
    const s = samples[k].sort((a, b) => a - b);
    return { case: c, nsPerOp: s[s.length >> 1], samples: s.length };
  });
}

function fmtNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(1)} ns`;
}

function fmtOps(ns: number): string {
  return Math.round(1e9 / ns).toLocaleString("en-US");
}

const budget = timeBudgetMs();
console.log(`runtime: ${runtimeName()}; ${budget} ms per case; median of samples\n`);

const groups = new Map<string, WireBenchCase[]>();
for (const c of WIRE_BENCH_CASES) {
  const list = groups.get(c.group) ?? [];
  list.push(c);
  groups.set(c.group, list);
}

const summary: string[] = [];
let allMet = true;
for (const [group, cases] of groups) {
  console.log(`group ${group}`);
  const results = measureGroup(cases, budget);
  const base = results.find((r) => r.case.baseline);
  for (const r of results) {
    console.log(
      `  ${r.case.name.padEnd(54)} ${fmtNs(r.nsPerOp).padStart(11)}/op ` +
        `${fmtOps(r.nsPerOp).padStart(12)} ops/s  (${r.samples} samples)`,
    );
  }
  for (const ours of results.filter((r) => !r.case.baseline)) {
    if (base === undefined) break;
    const ratio = base.nsPerOp / ours.nsPerOp;
    const target = group.startsWith("decode") ? TARGET_RATIO.decode : TARGET_RATIO.encode;
    const met = ratio >= target;
    allMet &&= met;
    const line = `${ours.case.name}: ${ratio.toFixed(2)}x mqtt-packet (target >= ${target}x: ${
      met ? "met" : "NOT met"
    })`;
    console.log(`  => ${line}`);
    summary.push(line);
  }
  console.log("");
}
console.log("summary");
for (const line of summary) console.log(`  ${line}`);
console.log(allMet ? "all targets met" : "some targets NOT met");
