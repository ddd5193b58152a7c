// Every script in examples/ runs to completion, each starting its own
// broker(s) (no URL given), exits 0 and prints its key lines.
//
// Under `deno test` this registers one Deno.test per script, which spawns
// `deno run -A examples/<name>.ts`. bun-tests/examples.test.ts imports
// EXAMPLES and runExamples() from here and spawns `bun examples/<name>.ts`.
// Runtime-neutral otherwise (node:child_process).
//
// The scripts run 3 at a time: every process is started (through a limiter)
// when the first test runs, and each test awaits its own. A process thus
// starts before the test that awaits it: Deno's op and resource sanitizers
// are off for these tests.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** The most one script may take before it is killed. */
export const SCRIPT_TIMEOUT_MS = 30_000;
const CONCURRENCY = 3;

/** Each example and what its stdout must contain. */
export const EXAMPLES: Record<string, (string | RegExp)[]> = {
  demo: ["round trip OK"],
  codec_demo: ["5/5 packets round-tripped"],
  scram_auth: ["re-authenticated on the same connection", "wrong password: connect() rejected"],
  quick_start: [/received demo\/\S+\/hello world/],
  publish: ["published events/example"],
  subscribe: [/received \S+\/3 event 3/, "unsubscribed"],
  subscribe_queue: [/received \S+\/5 event 5/],
  subscribe_callback: [/received \S+\/lamp on/, /received \S+\/fan off/, "unsubscribed"],
  set_brokers: ["failover: connected", "server disconnect 0x9d", "redirected: reconnected"],
  client_group: [/(received \S+ v42[\s\S]*){2}/],
  publisher_pool: ["received all 100, in order per topic", "0 fallbacks"],
  queue_publisher: ["memory queue: 3 acked", "reopened with 3 entries", "file queue: 3 acked"],
  typed: ["a1 at 22.5", "a3 at 19", "1 payload failed to decode"],
  websocket: [/received \S+ over websocket/],
};

/** How one script ended. */
export interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs one script to completion (killed after SCRIPT_TIMEOUT_MS). */
function runOne(command: string, args: string[]): Promise<Outcome> {
  const env = { ...process.env };
  delete env.MQTT_URL; // no URL: the example starts its own broker
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    child.stdout!.on("data", (c: Uint8Array) => out.push(c));
    child.stderr!.on("data", (c: Uint8Array) => err.push(c));
    const timer = setTimeout(() => child.kill("SIGKILL"), SCRIPT_TIMEOUT_MS);
    const text = (parts: Uint8Array[]) => {
      const decoder = new TextDecoder();
      return parts.map((p) => decoder.decode(p, { stream: true })).join("") + decoder.decode();
    };
    const finish = (code: number | null, signal: string | null, extra = "") => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: text(out),
        stderr: text(err) + extra,
        ms: performance.now() - started,
      });
    };
    child.once("error", (e) => finish(null, null, `spawn failed: ${e.message}`));
    child.once("close", (code, signal) => finish(code, signal));
  });
}

/**
 * Starts every example, at most 3 at a time, on the first call; later calls
 * return the same promises.
 *
 * @param command The executable and arguments that run `examples/<name>.ts`.
 * @returns The outcome of each example, by name.
 */
export function runExamples(
  command: (name: string) => [string, string[]],
): (name: string) => Promise<Outcome> {
  let outcomes: Map<string, Promise<Outcome>> | undefined;
  return (name) => {
    if (outcomes === undefined) {
      outcomes = new Map();
      let free = CONCURRENCY;
      const waiting: (() => void)[] = [];
      for (const n of Object.keys(EXAMPLES)) {
        outcomes.set(
          n,
          (async () => {
            if (free > 0) free--;
            else await new Promise<void>((r) => waiting.push(r));
            try {
              const [exe, args] = command(n);
              return await runOne(exe, args);
            } finally {
              const wake = waiting.shift();
              if (wake) wake();
              else free++;
            }
          })(),
        );
      }
    }
    const outcome = outcomes.get(name);
    if (outcome === undefined) throw new Error(`no example ${name}`);
    return outcome;
  };
}

/**
 * Checks an outcome: exit code 0 and every expected line.
 *
 * @param name The example.
 * @param r How it ended.
 */
export function check(name: string, r: Outcome): void {
  const context = `examples/${name}.ts after ${r.ms.toFixed(0)} ms\nstdout:\n${r.stdout}\n` +
    `stderr:\n${r.stderr}`;
  assert.equal(r.code, 0, `exit code ${r.code} (signal ${r.signal}): ${context}`);
  for (const want of EXAMPLES[name]) {
    const ok = typeof want === "string" ? r.stdout.includes(want) : want.test(r.stdout);
    assert.ok(ok, `stdout lacks ${String(want)}: ${context}`);
  }
}

if ("Deno" in globalThis) {
  const outcome = runExamples((name) => [Deno.execPath(), ["run", "-A", `examples/${name}.ts`]]);
  for (const name of Object.keys(EXAMPLES)) {
    Deno.test({
      name: `examples/${name}.ts runs to completion`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => check(name, await outcome(name)),
    });
  }
}
