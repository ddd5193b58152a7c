/**
 * Long run of the session engine model (`deno task model`), with progress.
 *
 * ```sh
 * deno task model [--seeds N] [--from S]     # seeds S .. S+N-1 (default 1,000,000 from 0)
 * deno task model --seed 12345 --trace       # one seed, every step printed
 * ```
 *
 * A failing seed prints the invariant it broke, the last steps of its trace
 * and the command that replays it; the run goes on (up to 10 reported) and
 * exits with 1.
 *
 * @module
 */

import { addStats, describeFailure, type ModelStats, replayCommand, runSeed } from "./model.ts";

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  if (i >= 0) return Deno.args[i + 1];
  const eq = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

function intFlag(name: string, fallback: number): number {
  const raw = flag(name);
  if (raw === undefined) return fallback;
  const n = Number(raw.replaceAll("_", ""));
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got "${raw}"`);
    Deno.exit(2);
  }
  return n;
}

const trace = Deno.args.includes("--trace");
const single = flag("seed") !== undefined;
const from = single ? intFlag("seed", 0) : intFlag("from", 0);
const seeds = single ? 1 : intFlag("seeds", 1_000_000);

if (single) {
  const r = runSeed(from, { trace: true });
  if (trace || !r.ok) console.log(r.trace.join("\n"));
  console.log(
    r.ok
      ? `seed ${from}: every invariant held (${r.stats.steps} steps)`
      : `seed ${from}: ${r.error}`,
  );
  Deno.exit(r.ok ? 0 : 1);
}

console.log(`session model: ${seeds} seeds from ${from}`);
const every = Math.max(1, Math.min(50_000, Math.ceil(seeds / 20)));
const t0 = performance.now();
let total: ModelStats | undefined;
const failed: number[] = [];
for (let i = 0; i < seeds; i++) {
  const seed = from + i;
  const r = runSeed(seed);
  if (total === undefined) total = { ...r.stats };
  else addStats(total, r.stats);
  if (!r.ok) {
    failed.push(seed);
    if (failed.length <= 10) console.error(`\n${describeFailure(r, {}, trace ? 0 : 80)}\n`);
  }
  if ((i + 1) % every === 0 || i + 1 === seeds) {
    const s = (performance.now() - t0) / 1000;
    console.log(
      `${i + 1} seeds (${(100 * (i + 1) / seeds).toFixed(1)}%) in ${s.toFixed(1)} s, ` +
        `${Math.round((i + 1) / s)}/s, ${failed.length} failed`,
    );
  }
}
const s = (performance.now() - t0) / 1000;
console.log(`done: ${seeds} seeds in ${s.toFixed(1)} s (${(1000 * s / seeds).toFixed(3)} ms/seed)`);
console.log(`reached: ${JSON.stringify(total)}`);
if (failed.length > 0) {
  console.error(`${failed.length} seeds failed: ${failed.slice(0, 20).join(", ")}`);
  console.error(`replay the first: ${replayCommand(failed[0])}`);
  Deno.exit(1);
}
