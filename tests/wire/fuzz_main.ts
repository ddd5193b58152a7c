/**
 * Long fuzz run of the PacketDecoder with progress output (`deno task fuzz`).
 *
 * ```sh
 * deno run -A tests/wire/fuzz_main.ts [--cases N] [--seed S] [--from I]
 * ```
 *
 * Defaults: 10,000,000 cases, a seed from the clock (printed, so a failure can
 * be replayed with `--seed S --from I --cases 1`).
 *
 * @module
 */

import { FuzzFailure, type FuzzStats, runFuzz } from "./fuzz_engine.ts";

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

const cases = intFlag("cases", 10_000_000);
const seed = intFlag("seed", Date.now() % 0x1_0000_0000) >>> 0;
const from = intFlag("from", 0);

console.log(`fuzzing PacketDecoder: ${cases} cases, seed ${seed}, from case ${from}`);

function report(s: FuzzStats): void {
  const rate = Math.round(s.cases / (s.elapsedMs / 1000));
  console.log(
    `${s.cases} cases (${(100 * s.cases / cases).toFixed(1)}%) in ` +
      `${(s.elapsedMs / 1000).toFixed(1)} s, ${rate}/s; threw ${s.threw} ` +
      `${JSON.stringify(s.reasonCodes)}; ${s.packets} packets re-encoded`,
  );
}

try {
  const stats = runFuzz({
    cases,
    seed,
    from,
    log: report,
    logEvery: Math.max(1, Math.min(100_000, Math.ceil(cases / 20))),
  });
  console.log(`done: no invariant broken. strategies ${JSON.stringify(stats.strategies)}`);
} catch (err) {
  if (err instanceof FuzzFailure) {
    console.error(err.message);
    console.error(`cause: ${err.cause instanceof Error ? err.cause.stack : String(err.cause)}`);
    console.error(
      `replay: deno run -A tests/wire/fuzz_main.ts --seed ${err.seed} --from ${err.caseIndex} --cases 1`,
    );
    Deno.exit(1);
  }
  throw err;
}
