// Helpers shared by the queue test cases (tests/queue/*_cases.ts), which run
// under `deno test` and `bun test`. Runtime-neutral: node:* modules only.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { MqttError } from "../../src/errors.ts";
import type { DirLock, FileHandle, FsyncOptions, StoreFs } from "../../src/store/_fs.ts";

/** One case, registered by Deno.test or bun:test. */
export interface Case {
  name: string;
  fn: () => Promise<void>;
  /** Per-case timeout under bun:test, ms. */
  timeoutMs?: number;
}

/** The runtime running the tests. */
export const RUNTIME: "deno" | "bun" = "Deno" in globalThis ? "deno" : "bun";

export const delay = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** `p`, or a rejection naming `what` after `ms`; the timer never outlives the call. */
export async function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every few milliseconds until it holds. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

/** Runs `fn` in a fresh temporary directory, removed afterwards. */
export async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "mqttv5-queue-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Asserts that `p` rejects with an MqttError of `code`. */
export async function rejectsWith(p: Promise<unknown>, code: string): Promise<MqttError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof MqttError, `expected an MqttError ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    return err;
  }
  assert.fail(`expected a rejection with code ${code}`);
}

export const enc = new TextEncoder();
export const dec = new TextDecoder();

/** A pass-through StoreFs that records calls and can fail them. */
export class InstrumentedFs implements StoreFs {
  readonly inner: StoreFs;
  /** Every call, in order: "write <file>", "fsync <file>", "syncDir", ... */
  readonly log: string[] = [];
  fsyncs = 0;
  writes = 0;
  /** The next write writes half its bytes, then throws this. */
  failNextWrite: Error | undefined;
  /** While set, fsyncs wait for it. */
  fsyncGate: Promise<void> | undefined;

  constructor(inner: StoreFs) {
    this.inner = inner;
  }

  get runtime(): StoreFs["runtime"] {
    return this.inner.runtime;
  }
  openAppend(path: string): Promise<FileHandle> {
    return this.inner.openAppend(path);
  }
  /** Called before every write that does not fail; may delay it. */
  beforeWrite: ((path: string) => Promise<void>) | undefined;
  async write(handle: FileHandle, bytes: Uint8Array): Promise<void> {
    this.writes++;
    this.log.push(`write ${base(handle.path)}`);
    const err = this.failNextWrite;
    if (err !== undefined) {
      this.failNextWrite = undefined;
      await this.inner.write(handle, bytes.subarray(0, bytes.length >> 1));
      throw err;
    }
    await this.beforeWrite?.(handle.path);
    await this.inner.write(handle, bytes);
    this.writesDone++;
  }
  /** Writes that completed (not counting failed ones). */
  writesDone = 0;
  async fsync(handle: FileHandle, options?: FsyncOptions): Promise<void> {
    this.fsyncs++;
    if (this.fsyncGate !== undefined) await this.fsyncGate;
    await this.inner.fsync(handle, options);
    this.log.push(`fsync ${base(handle.path)}`);
  }
  close(handle: FileHandle): Promise<void> {
    return this.inner.close(handle);
  }
  readFile(path: string): Promise<Uint8Array | undefined> {
    return this.inner.readFile(path);
  }
  writeFileAtomic(path: string, bytes: Uint8Array, options?: { sync?: boolean }): Promise<void> {
    this.log.push(`rewrite ${base(path)}`);
    return this.inner.writeFileAtomic(path, bytes, options);
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
  remove(path: string): Promise<boolean> {
    this.log.push(`remove ${base(path)}`);
    return this.inner.remove(path);
  }
  readDir(path: string): Promise<string[]> {
    return this.inner.readDir(path);
  }
  mkdirp(path: string): Promise<void> {
    return this.inner.mkdirp(path);
  }
  async syncDir(path: string): Promise<void> {
    await this.inner.syncDir(path);
    this.log.push("syncDir");
  }
  lock(dir: string): Promise<DirLock> {
    return this.inner.lock(dir);
  }
  unlock(lock: DirLock): Promise<void> {
    return this.inner.unlock(lock);
  }
}

function base(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

// ---------------------------------------------------------------------------
// Child processes

/** A child process with its stdout split into lines. */
export interface Child {
  proc: ChildProcess;
  /** All stdout lines so far. */
  lines: string[];
  /** The next line not yet taken ("<exit>" once the child is gone). */
  line(): Promise<string>;
  /** Waits for a line that starts with `prefix`, skipping others. */
  lineStarting(prefix: string, ms?: number): Promise<string>;
  /** Calls `fn` for every line (those already read too). */
  onLine(fn: (line: string) => void): void;
  exited: Promise<number | null>;
  stderr(): string;
}

/** The command that runs a script with `runtime` (the current one by default). */
export function runtimeCommand(
  script: string,
  runtime: "deno" | "bun" = RUNTIME,
): [string, string[]] {
  if (runtime === RUNTIME) {
    return runtime === "deno"
      ? [process.execPath, ["run", "-A", "--quiet", script]]
      : [process.execPath, [script]];
  }
  return runtime === "deno" ? ["deno", ["run", "-A", "--quiet", script]] : ["bun", [script]];
}

/** Starts `script` with `args` under the current runtime. */
export function startChild(
  script: string,
  args: string[],
  runtime: "deno" | "bun" = RUNTIME,
): Child {
  const [cmd, pre] = runtimeCommand(script, runtime);
  const proc = spawn(cmd, [...pre, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  const listeners: ((line: string) => void)[] = [];
  let seen = 0;
  let buffer = "";
  let err = "";
  let gone = false;
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (chunk: string) => {
    err = (err + chunk).slice(-4000);
  });
  proc.stdout!.setEncoding("utf8");
  proc.stdout!.on("data", (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      lines.push(line);
      buffer = buffer.slice(nl + 1);
      for (const l of listeners) l(line);
    }
    while (waiters.length > 0 && seen < lines.length) waiters.shift()!(lines[seen++]);
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.once("error", () => resolve(-1));
    proc.once("close", (code) => {
      gone = true;
      while (waiters.length > 0) waiters.shift()!("<exit>");
      resolve(code);
    });
  });
  const line = (): Promise<string> => {
    if (seen < lines.length) return Promise.resolve(lines[seen++]);
    if (gone) return Promise.resolve("<exit>");
    return new Promise((resolve) => waiters.push(resolve));
  };
  return {
    proc,
    lines,
    exited,
    line,
    async lineStarting(prefix: string, ms = 10_000): Promise<string> {
      const deadline = Date.now() + ms;
      for (;;) {
        const l = await within(line(), `a line starting with "${prefix}"`, deadline - Date.now());
        if (l.startsWith(prefix)) return l;
        if (l === "<exit>") {
          throw new Error(`child exited before printing "${prefix}": ${err}`);
        }
      }
    },
    onLine(fn) {
      for (const l of lines) fn(l);
      listeners.push(fn);
    },
    stderr: () => err,
  };
}

/** Kills a child (SIGKILL) and waits for it, closing its pipes. */
export async function killChild(child: Child): Promise<void> {
  child.proc.kill("SIGKILL");
  await child.exited;
  child.proc.stdin?.destroy();
}
