// Child processes for the CLI tests: the CLI itself on the runtime that runs
// the tests (`deno run -A src/cli/mod.ts` under `deno test`, `bun
// src/cli/mod.ts` under `bun test`) and mosquitto's own clients.
//
// Runtime-neutral (node:child_process). Every process is awaited to its
// `close` event (exit and all pipes closed), so Deno's sanitizers stay on;
// every wait is bounded and names what it waited for.

import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli/mod.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** How long any single wait may take. */
export const WAIT_MS = 15_000;

/** A running child process. */
export interface Proc {
  /** stdout so far, as bytes. */
  stdoutBytes(): Uint8Array;
  /** stdout so far, as UTF-8. */
  readonly stdout: string;
  /** stderr so far, as UTF-8. */
  readonly stderr: string;
  /** Resolves with the exit status once the process exited and its pipes closed (a signal: 128 + n). */
  readonly done: Promise<number>;
  /** Waits until `pattern` appears on a stream. */
  waitFor(stream: "stdout" | "stderr", pattern: string | RegExp, what?: string): Promise<void>;
  /** Sends a signal. */
  kill(signal?: "SIGINT" | "SIGTERM" | "SIGKILL"): void;
  /** Closes our end of the stdout pipe, as `| head -1` does once it has its line. */
  closeStdout(): void;
}

/** Options of {@linkcode start}. */
export interface StartOptions {
  /** Written to stdin, which is then closed; without it stdin is empty. */
  stdin?: string | Uint8Array;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * Starts a process.
 *
 * @param command The executable.
 * @param args Its arguments.
 * @param options stdin content.
 * @returns The handle; await `done`.
 */
export function start(command: string, args: string[], options: StartOptions = {}): Proc {
  const child = spawn(command, args, { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout!.on("data", (c: Uint8Array) => {
    out.push(c);
    notify();
  });
  child.stderr!.on("data", (c: Uint8Array) => {
    err.push(c);
    notify();
  });
  let closed = false;
  const done = new Promise<number>((resolve) => {
    child.once("error", (e) => {
      err.push(new TextEncoder().encode(`spawn failed: ${e.message}\n`));
      closed = true;
      notify();
      resolve(-1);
    });
    child.once("close", (code, signal) => {
      closed = true;
      notify();
      resolve(code ?? 128 + (SIGNALS[signal ?? ""] ?? 0));
    });
  });
  child.stdin!.on("error", () => {}); // the child may exit before reading it all
  child.stdin!.end(options.stdin ?? "");
  const bytes = (parts: Uint8Array[]) => {
    const size = parts.reduce((n, p) => n + p.length, 0);
    const all = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return all;
  };
  const decoder = new TextDecoder();
  const proc: Proc = {
    stdoutBytes: () => bytes(out),
    get stdout() {
      return decoder.decode(bytes(out));
    },
    get stderr() {
      return decoder.decode(bytes(err));
    },
    done,
    waitFor(stream, pattern, what) {
      const has = () => {
        const text = stream === "stdout" ? proc.stdout : proc.stderr;
        return typeof pattern === "string" ? text.includes(pattern) : pattern.test(text);
      };
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (has()) finish();
          else if (closed) finish(new Error(`process exited before ${describe()}`));
        };
        const describe = () =>
          `${
            what ?? `${String(pattern)} on ${stream}`
          }\nstdout: ${proc.stdout}\nstderr: ${proc.stderr}`;
        const finish = (e?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (e) reject(e);
          else resolve();
        };
        const timer = setTimeout(
          () => finish(new Error(`timed out after ${WAIT_MS} ms waiting for ${describe()}`)),
          WAIT_MS,
        );
        waiters.add(check);
        check();
      });
    },
    closeStdout() {
      child.stdout!.destroy();
    },
    kill(signal = "SIGTERM") {
      // Not child.kill(): after it, Deno 2.9's node:child_process reports the signal
      // instead of the exit status of a child that handled the signal and exited.
      if (!closed && child.pid !== undefined) {
        try {
          process.kill(child.pid, signal);
        } catch {
          // already gone
        }
      }
    },
  };
  return proc;
}

/** Whether the tests run under Deno. */
const isDeno = (globalThis as { Deno?: unknown }).Deno !== undefined;

/**
 * Starts the CLI on the runtime running the tests.
 *
 * @param args The command and its arguments.
 * @param options stdin content.
 * @returns The handle.
 */
export function cli(args: string[], options: StartOptions = {}): Proc {
  return isDeno
    ? start(process.execPath, ["run", "-A", "--quiet", CLI, ...args], options)
    : start(process.execPath, [CLI, ...args], options);
}

/** The result of a finished process. */
export interface Finished {
  /** Exit status. */
  code: number;
  /** stdout as UTF-8. */
  stdout: string;
  /** stdout as bytes. */
  stdoutBytes: Uint8Array;
  /** stderr as UTF-8. */
  stderr: string;
}

/**
 * Waits for a process to end, killing it if it outlives `ms`.
 *
 * @param p The process.
 * @param what Names it in the failure.
 * @param ms The bound.
 * @returns Its status and output.
 */
export async function finished(p: Proc, what: string, ms = WAIT_MS): Promise<Finished> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  try {
    await Promise.race([
      p.done,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          timedOut = true;
          p.kill("SIGKILL");
          resolve();
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  const code = await p.done;
  if (timedOut) {
    throw new Error(
      `${what} did not exit within ${ms} ms\nstdout: ${p.stdout}\nstderr: ${p.stderr}`,
    );
  }
  return { code, stdout: p.stdout, stdoutBytes: p.stdoutBytes(), stderr: p.stderr };
}

/**
 * Runs the CLI to completion.
 *
 * @param args The command and its arguments.
 * @param options stdin content.
 * @returns Its status and output.
 */
export function run(args: string[], options: StartOptions = {}): Promise<Finished> {
  return finished(cli(args, options), `mqttv5 ${args.join(" ")}`);
}

/**
 * Starts `sub` with `-d` and waits until it is subscribed, so that nothing
 * published afterwards can be missed.
 *
 * @param args The arguments after `sub` (without `-d`).
 * @returns The running `sub`.
 */
export async function subscribed(args: string[]): Promise<Proc> {
  const p = cli(["sub", "-d", ...args]);
  try {
    await p.waitFor("stderr", /debug: subscribed\b/, "sub to be subscribed");
  } catch (err) {
    p.kill("SIGKILL");
    await p.done;
    throw err;
  }
  return p;
}
