// Cases for FileSessionStore, shared by tests/store/file_store_test.ts
// (Deno.test) and bun-tests/file_store.test.ts (bun:test).
//
// Runtime-neutral: node:fs, node:os, node:path and node:child_process serve
// both runtimes; the store itself picks its file-system layer (Deno.* under
// Deno, node:fs under Bun). Each case works in its own temporary directory,
// removed afterwards. Cases that need a second process write a tiny script
// into that directory and run it with the current runtime (`deno run -A` or
// `bun`); one runs it with the other runtime, to show the two lock methods
// exclude each other.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, truncate, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { MqttError } from "../../src/errors.ts";
import { MemorySessionStore, type StoredSession } from "../../src/session/store.ts";
import type { DirLock, FileHandle, FsyncOptions, StoreFs } from "../../src/store/_fs.ts";
import { LockHeldError, runtimeFs } from "../../src/store/_fs.ts";
import { FileSessionStore, type FileSessionStoreOptions } from "../../src/store/file.ts";
import { encodePacket, PacketType, type PublishPacket } from "../../src/wire/mod.ts";
import { Prng } from "../_helpers/prng.ts";

/** One case. */
export interface Case {
  name: string;
  fn: () => Promise<void>;
}

export const cases: Case[] = [];

function add(name: string, fn: () => Promise<void>): void {
  cases.push({ name, fn });
}

// ---------------------------------------------------------------------------
// Helpers

const RUNTIME = "Deno" in globalThis ? "deno" : "bun";
const LOG = "session.log";
const HEADER = 8;
const FRAME = 11; // length + CRC + op + packet id

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "mqttv5-store-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function publish(
  packetId: number,
  topic = `t/${packetId}`,
  payload = `p${packetId}`,
): PublishPacket {
  return {
    type: PacketType.Publish,
    topic,
    payload: new TextEncoder().encode(payload),
    qos: packetId % 2 === 0 ? 2 : 1,
    retain: packetId % 3 === 0,
    dup: false,
    packetId,
  };
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** A session in a comparable form: packets as their encoding. */
function normal(s: StoredSession): unknown {
  return {
    outbound: s.outbound.map((f) => [f.packetId, f.stage, hex(encodePacket(f.packet))]),
    inbound: s.inbound,
  };
}

/** The size of the log holding exactly `s`. */
function compactSize(s: StoredSession): number {
  let n = HEADER + FRAME * s.inbound.length;
  for (const f of s.outbound) {
    n += FRAME + encodePacket(f.packet).length + (f.stage === "pubrel" ? FRAME : 0);
  }
  return n;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<MqttError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof MqttError, `expected an MqttError, got ${String(err)}`);
    assert.equal(err.code, code);
    return err;
  }
  assert.fail(`expected a rejection with code ${code}`);
}

/** A pass-through StoreFs that counts calls and can fail or hold them. */
class InstrumentedFs implements StoreFs {
  readonly inner: StoreFs;
  writes = 0;
  fsyncs = 0;
  /** The next write writes half its bytes, then throws this. */
  failNextWrite: Error | undefined;
  /** The next fsync throws this. */
  failNextFsync: Error | undefined;
  /** While set, fsyncs wait for it. */
  fsyncGate: Promise<void> | undefined;
  /** Resolved when an fsync starts. */
  onFsync: (() => void) | undefined;
  /** While set, writeFileAtomic (compaction, recover()) waits for it. */
  atomicGate: Promise<void> | undefined;
  /** openAppend calls so far. */
  opens = 0;

  constructor(inner: StoreFs) {
    this.inner = inner;
  }

  get runtime(): StoreFs["runtime"] {
    return this.inner.runtime;
  }
  openAppend(path: string): Promise<FileHandle> {
    this.opens++;
    return this.inner.openAppend(path);
  }
  async write(handle: FileHandle, bytes: Uint8Array): Promise<void> {
    this.writes++;
    const err = this.failNextWrite;
    if (err !== undefined) {
      this.failNextWrite = undefined;
      await this.inner.write(handle, bytes.subarray(0, bytes.length >> 1));
      throw err;
    }
    await this.inner.write(handle, bytes);
  }
  async fsync(handle: FileHandle, options?: FsyncOptions): Promise<void> {
    this.fsyncs++;
    this.onFsync?.();
    if (this.fsyncGate !== undefined) await this.fsyncGate;
    const err = this.failNextFsync;
    if (err !== undefined) {
      this.failNextFsync = undefined;
      throw err;
    }
    await this.inner.fsync(handle, options);
  }
  close(handle: FileHandle): Promise<void> {
    return this.inner.close(handle);
  }
  readFile(path: string): Promise<Uint8Array | undefined> {
    return this.inner.readFile(path);
  }
  async writeFileAtomic(
    path: string,
    bytes: Uint8Array,
    options?: { sync?: boolean },
  ): Promise<void> {
    if (this.atomicGate !== undefined) await this.atomicGate;
    return this.inner.writeFileAtomic(path, bytes, options);
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
  remove(path: string): Promise<boolean> {
    return this.inner.remove(path);
  }
  readDir(path: string): Promise<string[]> {
    return this.inner.readDir(path);
  }
  mkdirp(path: string): Promise<void> {
    return this.inner.mkdirp(path);
  }
  syncDir(path: string): Promise<void> {
    return this.inner.syncDir(path);
  }
  lock(dir: string): Promise<DirLock> {
    return this.inner.lock(dir);
  }
  unlock(lock: DirLock): Promise<void> {
    return this.inner.unlock(lock);
  }
}

async function instrumented(): Promise<InstrumentedFs> {
  return new InstrumentedFs(await runtimeFs());
}

// --- child processes -------------------------------------------------------

const FILE_TS = new URL("../../src/store/file.ts", import.meta.url).href;

// The script a child runs: `<dir> <mode>`.
//   probe: open, print "opened" or "error <code>", close, exit.
//   hold:  open, print "opened" (or "error <code>" and exit), then close and
//          exit when a line arrives on stdin.
//   crash: open, then put flows 1, 2, 3 ... eight at a time, printing "ok <id>"
//          once each put resolved, until killed.
const CHILD = `
import process from "node:process";
import { FileSessionStore } from ${JSON.stringify(FILE_TS)};
const [dir, mode] = process.argv.slice(2);
let store;
try {
  store = await FileSessionStore.open(dir);
} catch (err) {
  console.log("error " + (err?.code ?? err));
  process.exit(0);
}
console.log("opened");
if (mode === "probe") {
  await store.close();
  process.exit(0);
}
if (mode === "hold") {
  process.stdin.once("data", async () => {
    await store.close();
    process.exit(0);
  });
}
if (mode === "crash") {
  const enc = new TextEncoder();
  for (let id = 1; id < 60000; id += 8) {
    const ids = [];
    for (let k = id; k < id + 8; k++) ids.push(k);
    await Promise.all(ids.map(async (k) => {
      await store.putOutbound(k, {
        type: 3, topic: "crash/" + k, payload: enc.encode("x".repeat(k % 300)),
        qos: 1, retain: false, dup: false, packetId: k,
      });
      console.log("ok " + k);
    }));
  }
}
`;

interface Child {
  proc: ChildProcess;
  /** Resolves with the next stdout line. */
  line(): Promise<string>;
  /** All stdout lines so far. */
  lines: string[];
  exited: Promise<number | null>;
}

function runtimeCommand(runtime: "deno" | "bun", script: string): [string, string[]] {
  if (runtime === RUNTIME) {
    return runtime === "deno"
      ? [process.execPath, ["run", "-A", "--quiet", script]]
      : [process.execPath, [script]];
  }
  return runtime === "deno" ? ["deno", ["run", "-A", "--quiet", script]] : ["bun", [script]];
}

async function startChild(
  dir: string,
  storeDir: string,
  mode: string,
  runtime: "deno" | "bun" = RUNTIME,
): Promise<Child> {
  const script = join(dir, `child-${mode}.mjs`);
  await writeFile(script, CHILD);
  const [cmd, args] = runtimeCommand(runtime, script);
  const proc = spawn(cmd, [...args, storeDir, mode], { stdio: ["pipe", "pipe", "inherit"] });
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let seen = 0;
  let buffer = "";
  proc.stdout!.setEncoding("utf8");
  proc.stdout!.on("data", (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
    while (waiters.length > 0 && seen < lines.length) waiters.shift()!(lines[seen++]);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    proc.once("error", reject);
    proc.once("close", (code) => {
      while (waiters.length > 0) waiters.shift()!("<exit>");
      resolve(code);
    });
  });
  return {
    proc,
    lines,
    exited,
    line() {
      if (seen < lines.length) return Promise.resolve(lines[seen++]);
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

async function commandExists(cmd: string): Promise<boolean> {
  return await new Promise((resolve) => {
    const p = spawn(cmd, ["--version"], { stdio: "ignore" });
    p.once("error", () => resolve(false));
    p.once("close", (code) => resolve(code === 0));
  });
}

// ---------------------------------------------------------------------------
// Round trips and order

add("FileSessionStore round-trips every operation across close and reopen", async () => {
  await withDir(async (dir) => {
    const mem = new MemorySessionStore();
    const store = await FileSessionStore.open(dir);
    assert.equal(store.recovered, undefined);
    assert.deepEqual(store.load(), { outbound: [], inbound: [] });
    const ops: [string, (s: MemorySessionStore | FileSessionStore) => unknown][] = [
      ["put 1", (s) => s.putOutbound(1, publish(1))],
      ["put 2", (s) => s.putOutbound(2, { ...publish(2), properties: { contentType: "a/b" } })],
      ["put 3", (s) => s.putOutbound(3, publish(3, "t/3", ""))],
      ["put 4", (s) => s.putOutbound(4, publish(4))],
      ["release 2", (s) => s.releaseOutbound(2)],
      ["release 4", (s) => s.releaseOutbound(4)],
      ["delete 3", (s) => s.deleteOutbound(3)],
      ["in 10", (s) => s.putInbound(10)],
      ["in 11", (s) => s.putInbound(11)],
      ["in 65535", (s) => s.putInbound(65535)],
      ["del in 11", (s) => s.deleteInbound(11)],
      ["clear in", (s) => s.clearInbound()],
      ["in 12", (s) => s.putInbound(12)],
      ["in 13", (s) => s.putInbound(13)],
      ["delete 4", (s) => s.deleteOutbound(4)],
      ["put 5", (s) => s.putOutbound(5, publish(5, "t/5", "x".repeat(70_000)))],
    ];
    for (const [name, op] of ops) {
      await op(store);
      await op(mem);
      assert.deepEqual(normal(store.load()), normal(mem.load()), `after ${name}`);
    }
    await store.close();
    const again = await FileSessionStore.open(dir);
    try {
      assert.equal(again.recovered, undefined);
      assert.deepEqual(normal(again.load()), normal(mem.load()));
      const loaded = again.load();
      assert.deepEqual(loaded.outbound.map((f) => [f.packetId, f.stage]), [
        [1, "publish"],
        [2, "pubrel"],
        [5, "publish"],
      ]);
      assert.equal(loaded.outbound[1].packet.properties?.contentType, "a/b");
      assert.equal(loaded.outbound[2].packet.payload.length, 70_000);
      assert.deepEqual(loaded.inbound, [12, 13]);
    } finally {
      await again.close();
    }
  });
});

add(
  "FileSessionStore load() keeps first-stored order; a put for a stored id moves it to the end",
  async () => {
    await withDir(async (dir) => {
      const store = await FileSessionStore.open(dir);
      for (const id of [5, 3, 9, 1]) await store.putOutbound(id, publish(id));
      await store.releaseOutbound(3);
      await store.putOutbound(3, publish(3, "t/3", "again")); // back to "publish", moved to the end
      const expect = [[5, "publish"], [9, "publish"], [1, "publish"], [3, "publish"]];
      assert.deepEqual(store.load().outbound.map((f) => [f.packetId, f.stage]), expect);
      await store.close();
      const again = await FileSessionStore.open(dir);
      const loaded = again.load().outbound;
      assert.deepEqual(loaded.map((f) => [f.packetId, f.stage]), expect);
      assert.equal(new TextDecoder().decode(loaded[3].packet.payload), "again");
      await again.close();
    });
  },
);

add("FileSessionStore applies concurrent calls in call order", async () => {
  await withDir(async (dir) => {
    const store = await FileSessionStore.open(dir);
    const mem = new MemorySessionStore();
    const script = (s: MemorySessionStore | FileSessionStore) => [
      s.putOutbound(1, publish(1)),
      s.putOutbound(2, publish(2)),
      s.deleteOutbound(1),
      s.putOutbound(1, publish(1, "t/1", "second")),
      s.releaseOutbound(2),
      s.putInbound(7),
      s.clearInbound(),
      s.putInbound(8),
      s.deleteInbound(8),
      s.putInbound(9),
    ];
    await Promise.all(script(store));
    script(mem);
    assert.deepEqual(normal(store.load()), normal(mem.load()));
    await store.close();
    const again = await FileSessionStore.open(dir);
    assert.deepEqual(normal(again.load()), normal(mem.load()));
    assert.deepEqual(again.load().outbound.map((f) => f.packetId), [2, 1]);
    await again.close();
  });
});

add("FileSessionStore load() returns packets the caller may change", async () => {
  await withDir(async (dir) => {
    const store = await FileSessionStore.open(dir);
    const p = publish(4, "t/4", "abc");
    await store.putOutbound(4, p);
    p.payload[0] = 0x7a; // the caller's buffer changes after the put
    const first = store.load().outbound[0].packet;
    assert.equal(new TextDecoder().decode(first.payload), "abc");
    first.payload[0] = 0x7a;
    first.dup = true;
    const second = store.load().outbound[0].packet;
    assert.equal(new TextDecoder().decode(second.payload), "abc");
    assert.equal(second.dup, false);
    await store.close();
  });
});

add("FileSessionStore rejects bad arguments without storing anything", async () => {
  await withDir(async (dir) => {
    const store = await FileSessionStore.open(dir);
    for (const id of [0, 65536, 1.5, -1, Number.NaN]) {
      await assert.rejects(store.putOutbound(id, publish(1)), RangeError);
      await assert.rejects(store.putInbound(id), RangeError);
      await assert.rejects(store.releaseOutbound(id), RangeError);
    }
    await assert.rejects(
      store.putOutbound(1, { type: PacketType.Puback, packetId: 1 } as unknown as PublishPacket),
      TypeError,
    );
    await assert.rejects(store.putOutbound(1, { ...publish(1), topic: "a/+" }), TypeError);
    assert.deepEqual(store.load(), { outbound: [], inbound: [] });
    assert.equal(store.stats.records, 0);
    await store.close();
  });
});

add(
  "FileSessionStore rejects calls after close() with code closed; close() is idempotent",
  async () => {
    await withDir(async (dir) => {
      const store = await FileSessionStore.open(dir);
      const pending = store.putInbound(1);
      const closing = store.close();
      await pending; // a change made before close is written
      await closing;
      await store.close();
      await rejectsWith(store.putInbound(2), "closed");
      await rejectsWith(store.deleteOutbound(2), "closed");
      assert.throws(() => store.load(), (err) => err instanceof MqttError && err.code === "closed");
      const again = await FileSessionStore.open(dir);
      assert.deepEqual(again.load().inbound, [1]);
      await again.close();
    });
  },
);

add(
  "FileSessionStore calls that change nothing write nothing and resolve after earlier writes",
  async () => {
    await withDir(async (dir) => {
      const fs = await instrumented();
      const store = await FileSessionStore.open(dir, { fs });
      await store.putInbound(1);
      const before = store.stats.records;
      await store.putInbound(1);
      await store.deleteInbound(2);
      await store.deleteOutbound(3);
      await store.releaseOutbound(3);
      assert.equal(store.stats.records, before);
      // A no-op issued while a write is held resolves only after that write.
      let release!: () => void;
      fs.fsyncGate = new Promise((r) => release = r);
      let putDone = false;
      let noopDone = false;
      const put = store.putInbound(5).then(() => putDone = true);
      const noop = store.deleteInbound(99).then(() => noopDone = true);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(putDone || noopDone, false);
      fs.fsyncGate = undefined;
      release();
      await Promise.all([put, noop]);
      await store.close();
    });
  },
);

// ---------------------------------------------------------------------------
// Group commit

add("FileSessionStore groups 100 concurrent putOutbound calls into far fewer fsyncs", async () => {
  await withDir(async (dir) => {
    const fs = await instrumented();
    const store = await FileSessionStore.open(dir, { fs });
    const puts: Promise<void>[] = [];
    for (let id = 1; id <= 100; id++) puts.push(store.putOutbound(id, publish(id)));
    await Promise.all(puts);
    assert.ok(store.stats.fsyncs <= 3, `${store.stats.fsyncs} fsyncs for 100 puts`);
    assert.equal(store.stats.fsyncs, fs.fsyncs);
    assert.equal(store.stats.writes, fs.writes);
    await store.close();
    const again = await FileSessionStore.open(dir);
    assert.equal(again.load().outbound.length, 100);
    await again.close();
  });
});

add(
  "FileSessionStore groups the calls made while an fsync is in flight into the next fsync",
  async () => {
    await withDir(async (dir) => {
      const fs = await instrumented();
      const store = await FileSessionStore.open(dir, { fs });
      let release!: () => void;
      fs.fsyncGate = new Promise((r) => release = r);
      const started = new Promise<void>((r) => fs.onFsync = r);
      const first = store.putOutbound(1, publish(1));
      await started; // the first record's fsync is in flight
      fs.onFsync = undefined;
      const rest: Promise<void>[] = [];
      for (let id = 2; id <= 51; id++) rest.push(store.putOutbound(id, publish(id)));
      rest.push(store.putInbound(7), store.deleteOutbound(2));
      let restDone = false;
      const all = Promise.all(rest).then(() => restDone = true);
      fs.fsyncGate = undefined;
      release();
      await first;
      await all;
      assert.equal(restDone, true);
      assert.equal(fs.fsyncs, 2);
      assert.equal(fs.writes, 2);
      assert.equal(store.load().outbound.length, 50);
      await store.close();
    });
  },
);

add("FileSessionStore writes a lone put at once, not after a timer", async () => {
  await withDir(async (dir) => {
    const fs = await instrumented();
    const store = await FileSessionStore.open(dir, { fs });
    let writesWhenTimerFired = -1;
    const t0 = performance.now();
    const put = store.putOutbound(1, publish(1));
    setTimeout(() => writesWhenTimerFired = fs.writes, 0);
    await put;
    const ms = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 1));
    assert.equal(writesWhenTimerFired, 1, "the write started before a 0 ms timer fired");
    assert.ok(ms < 1000, `a lone put took ${ms} ms`);
    await store.close();
  });
});

// ---------------------------------------------------------------------------
// Recovery

/** Builds a log with flows 1..n (each put on its own write) and returns the record offsets. */
async function logWith(dir: string, n: number): Promise<{ ends: number[]; size: number }> {
  const store = await FileSessionStore.open(dir);
  const ends: number[] = [];
  for (let id = 1; id <= n; id++) {
    await store.putOutbound(id, publish(id, `t/${id}`, "y".repeat(id * 10)));
    ends.push(store.stats.logBytes);
  }
  await store.close();
  return { ends, size: (await stat(join(dir, LOG))).size };
}

add("FileSessionStore skips and reports a torn tail, and appends cleanly after it", async () => {
  for (const cut of ["header", "body", "one byte"] as const) {
    await withDir(async (dir) => {
      const { ends } = await logWith(dir, 4);
      const start = ends[2]; // the fourth record starts here
      const at = cut === "header" ? start + 5 : cut === "body" ? start + 20 : ends[3] - 1;
      await truncate(join(dir, LOG), at);
      const reports: unknown[] = [];
      const store = await FileSessionStore.open(dir, { onCorruption: (r) => reports.push(r) });
      assert.ok(store.recovered !== undefined, cut);
      assert.equal(store.recovered.skippedBytes, at - start, cut);
      assert.equal(store.recovered.offset, start);
      assert.equal(store.recovered.preservedAs, undefined);
      assert.deepEqual(reports, [store.recovered]);
      assert.deepEqual(store.load().outbound.map((f) => f.packetId), [1, 2, 3]);
      await store.putOutbound(9, publish(9));
      await store.close();
      const again = await FileSessionStore.open(dir);
      assert.equal(again.recovered, undefined, "the bad bytes were cut off");
      assert.deepEqual(again.load().outbound.map((f) => f.packetId), [1, 2, 3, 9]);
      await again.close();
    });
  }
});

add("FileSessionStore treats a zero-filled tail as torn, not as damage", async () => {
  await withDir(async (dir) => {
    const { size } = await logWith(dir, 2);
    await truncate(join(dir, LOG), size + 4096); // allocated, never written
    const store = await FileSessionStore.open(dir);
    assert.equal(store.recovered?.offset, size);
    assert.equal(store.recovered?.skippedBytes, 4096);
    assert.equal(store.recovered?.preservedAs, undefined);
    assert.match(store.recovered.reason, /zero/);
    assert.deepEqual(store.load().outbound.map((f) => f.packetId), [1, 2]);
    await store.close();
    assert.equal((await stat(join(dir, LOG))).size, size);
  });
});

add(
  "FileSessionStore reports a bad CRC in the middle, stops reading there and keeps the original",
  async () => {
    await withDir(async (dir) => {
      const { ends, size } = await logWith(dir, 5);
      const path = join(dir, LOG);
      const bytes = new Uint8Array(await readFile(path));
      const original = bytes.slice();
      bytes[ends[1] + 15] ^= 0x01; // a bit of the third record's PUBLISH
      await writeFile(path, bytes);
      let report: unknown;
      const store = await FileSessionStore.open(dir, { onCorruption: (r) => report = r });
      const r = store.recovered;
      assert.ok(r !== undefined);
      assert.deepEqual(report, r);
      assert.equal(r.offset, ends[1]);
      assert.equal(r.skippedBytes, size - ends[1]);
      assert.match(r.reason, /CRC/);
      assert.deepEqual(store.load().outbound.map((f) => f.packetId), [1, 2]);
      assert.equal(r.preservedAs, join(dir, "session.log.corrupt"));
      const kept = new Uint8Array(await readFile(r.preservedAs));
      assert.equal(kept.length, original.length);
      assert.equal(hex(kept), hex(bytes));
      await store.putInbound(3);
      const expected = normal(store.load());
      await store.close();
      const again = await FileSessionStore.open(dir);
      assert.equal(again.recovered, undefined);
      assert.deepEqual(normal(again.load()), expected);
      await again.close();
    });
  },
);

add("FileSessionStore stops at a record with an impossible length and reports it", async () => {
  await withDir(async (dir) => {
    const { ends, size } = await logWith(dir, 3);
    const path = join(dir, LOG);
    const bytes = new Uint8Array(await readFile(path));
    bytes.set([0, 0, 0, 0], ends[0]); // the second record's length: 0
    await writeFile(path, bytes);
    const store = await FileSessionStore.open(dir);
    assert.equal(store.recovered?.offset, ends[0]);
    assert.equal(store.recovered?.skippedBytes, size - ends[0]);
    assert.deepEqual(store.load().outbound.map((f) => f.packetId), [1]);
    await store.close();
  });
});

add(
  "FileSessionStore refuses a file that is not a session log, and releases the lock",
  async () => {
    await withDir(async (dir) => {
      await writeFile(join(dir, LOG), "hello, world");
      await rejectsWith(FileSessionStore.open(dir), "store-failed");
      await rm(join(dir, LOG));
      const store = await FileSessionStore.open(dir); // the failed open let go of the lock
      await store.close();
    });
  },
);

add(
  "FileSessionStore removes the temp file of a compaction that crashed before its rename",
  async () => {
    await withDir(async (dir) => {
      await logWith(dir, 2);
      await writeFile(join(dir, `${LOG}.tmp`), "half a compaction");
      const store = await FileSessionStore.open(dir);
      assert.equal(store.recovered, undefined);
      assert.deepEqual(store.load().outbound.map((f) => f.packetId), [1, 2]);
      await assert.rejects(stat(join(dir, `${LOG}.tmp`)));
      await store.close();
    });
  },
);

// ---------------------------------------------------------------------------
// Compaction

add("FileSessionStore compaction keeps exactly the live records", async () => {
  await withDir(async (dir) => {
    const mem = new MemorySessionStore();
    const store = await FileSessionStore.open(dir, { compactDeadRecords: 20 });
    const both = async (f: (s: MemorySessionStore | FileSessionStore) => unknown) => {
      f(mem);
      await f(store);
    };
    for (let round = 0; round < 10; round++) {
      for (let id = 1; id <= 8; id++) await both((s) => s.putOutbound(id, publish(id)));
      for (let id = 1; id <= 8; id += 2) await both((s) => s.releaseOutbound(id));
      for (let id = 1; id <= 6; id++) await both((s) => s.deleteOutbound(id));
      for (let id = 100; id < 105; id++) await both((s) => s.putInbound(id + round));
      await both((s) => s.deleteInbound(100 + round));
    }
    const stats = store.stats;
    assert.ok(stats.compactions >= 2, `${stats.compactions} compactions`);
    assert.ok(stats.records - stats.liveRecords < 2 * 20 + stats.liveRecords);
    assert.deepEqual(normal(store.load()), normal(mem.load()));
    // An explicit compaction leaves nothing but the live records.
    await store.compact();
    assert.equal(store.stats.records, store.stats.liveRecords);
    const size = (await stat(join(dir, LOG))).size;
    assert.equal(size, compactSize(mem.load()));
    assert.equal(store.stats.logBytes, size);
    await store.close();
    const again = await FileSessionStore.open(dir);
    assert.equal(again.recovered, undefined);
    assert.deepEqual(normal(again.load()), normal(mem.load()));
    assert.equal(again.stats.records, again.stats.liveRecords);
    await again.close();
  });
});

add(
  "FileSessionStore compacts on dead bytes before dead records when payloads are large",
  async () => {
    await withDir(async (dir) => {
      const store = await FileSessionStore.open(dir, { compactDeadBytes: 64 * 1024 });
      for (let i = 0; i < 20; i++) {
        await store.putOutbound(1, publish(1, "big", "z".repeat(16 * 1024)));
      }
      assert.ok(store.stats.compactions >= 1);
      assert.ok(store.stats.logBytes < 100 * 1024, `${store.stats.logBytes} bytes`);
      await store.close();
      const again = await FileSessionStore.open(dir);
      assert.equal(again.load().outbound.length, 1);
      await again.close();
    });
  },
);

add("FileSessionStore compaction racing new calls loses none of them", async () => {
  await withDir(async (dir) => {
    const mem = new MemorySessionStore();
    const store = await FileSessionStore.open(dir, { compactDeadRecords: 5 });
    const all: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const id = (i % 13) + 1;
      const f = (s: MemorySessionStore | FileSessionStore) =>
        i % 3 === 2 ? s.deleteOutbound(id) : s.putOutbound(id, publish(id, `t/${i}`));
      f(mem);
      all.push(f(store) as Promise<void>);
      if (i % 17 === 0) await new Promise((r) => setTimeout(r, 0)); // let writes interleave
    }
    await Promise.all(all);
    assert.ok(store.stats.compactions >= 1);
    assert.deepEqual(normal(store.load()), normal(mem.load()));
    await store.close();
    const again = await FileSessionStore.open(dir);
    assert.deepEqual(normal(again.load()), normal(mem.load()));
    await again.close();
  });
});

add(
  "FileSessionStore matches MemorySessionStore over random operations, reopens and compactions",
  async () => {
    for (const seed of [1, 2, 3]) {
      await withDir(async (dir) => {
        const rng = new Prng(seed);
        const mem = new MemorySessionStore();
        const options: FileSessionStoreOptions = { fsync: false, compactDeadRecords: 16 };
        let store = await FileSessionStore.open(dir, options);
        try {
          for (let step = 0; step < 40; step++) {
            const calls: Promise<void>[] = [];
            const n = rng.range(1, 25);
            for (let k = 0; k < n; k++) {
              const id = rng.range(1, 24);
              const r = rng.int(100);
              let f: (s: MemorySessionStore | FileSessionStore) => unknown;
              if (r < 35) {
                const topic = `r/${rng.int(5)}`;
                const payload = "p".repeat(rng.int(300));
                f = (s) => s.putOutbound(id, publish(id, topic, payload));
              } else if (r < 50) f = (s) => s.releaseOutbound(id);
              else if (r < 65) f = (s) => s.deleteOutbound(id);
              else if (r < 82) f = (s) => s.putInbound(id);
              else if (r < 97) f = (s) => s.deleteInbound(id);
              else f = (s) => s.clearInbound();
              f(mem);
              calls.push(f(store) as Promise<void>);
            }
            await Promise.all(calls);
            assert.deepEqual(normal(store.load()), normal(mem.load()), `seed ${seed} step ${step}`);
            if (rng.bool(0.2)) {
              await store.close();
              store = await FileSessionStore.open(dir, options);
              assert.equal(store.recovered, undefined);
              assert.deepEqual(
                normal(store.load()),
                normal(mem.load()),
                `seed ${seed} reopen ${step}`,
              );
            }
          }
        } finally {
          await store.close();
        }
      });
    }
  },
);

// ---------------------------------------------------------------------------
// Failures

add(
  "FileSessionStore rejects the failed write and every later change with store-failed",
  async () => {
    await withDir(async (dir) => {
      const fs = await instrumented();
      const store = await FileSessionStore.open(dir, { fs });
      await store.putOutbound(1, publish(1));
      await store.putInbound(5);
      fs.failNextWrite = new Error("EIO: simulated");
      const a = store.putOutbound(2, publish(2, "t/2", "q".repeat(500)));
      const b = store.putInbound(6); // same batch
      const err = await rejectsWith(a, "store-failed");
      assert.equal((err.cause as Error).message, "EIO: simulated");
      await rejectsWith(b, "store-failed");
      await rejectsWith(store.putOutbound(3, publish(3)), "store-failed");
      await rejectsWith(store.deleteOutbound(1), "store-failed");
      await rejectsWith(store.releaseOutbound(1), "store-failed");
      await rejectsWith(store.putInbound(7), "store-failed");
      await rejectsWith(store.deleteInbound(5), "store-failed");
      await rejectsWith(store.clearInbound(), "store-failed");
      await rejectsWith(store.compact(), "store-failed");
      assert.throws(() => store.load(), (e) => e instanceof MqttError && e.code === "store-failed");
      // recover() reloads from disk (what the client's next connect does) and the store works again.
      await store.recover();
      const reloaded = store.load();
      assert.deepEqual(reloaded.outbound.map((f) => f.packetId), [1]);
      assert.deepEqual(reloaded.inbound, [5]);
      await store.putInbound(9);
      assert.deepEqual(store.load().inbound, [5, 9]);
      await store.deleteInbound(9);
      await store.close();
      // Reopened: recover() already cut the half-written batch (a torn tail) off.
      const again = await FileSessionStore.open(dir);
      assert.equal(again.recovered, undefined);
      assert.deepEqual(again.load().outbound.map((f) => f.packetId), [1]);
      assert.deepEqual(again.load().inbound, [5]);
      await again.putInbound(8);
      await again.close();
    });
  },
);

/**
 * A store holding inbound 1 whose write of inbound 2 failed, with a recover()
 * in progress that is held before it rewrites the log until `open()`.
 */
async function recoveringStore(dir: string) {
  const fs = await instrumented();
  const store = await FileSessionStore.open(dir, { fs });
  await store.putInbound(1);
  fs.failNextWrite = new Error("EIO: simulated");
  await rejectsWith(store.putInbound(2), "store-failed");
  let release!: () => void;
  fs.atomicGate = new Promise((resolve) => release = resolve);
  const recovering = store.recover();
  await new Promise((r) => setTimeout(r, 20));
  const open = () => {
    release();
    fs.atomicGate = undefined;
  };
  return { fs, store, recovering, open };
}

add(
  "FileSessionStore refuses changes while recover() rewrites the log, and works once it is done",
  async () => {
    await withDir(async (dir) => {
      const { store, recovering, open } = await recoveringStore(dir);
      // Mid-recovery: refused with the old error, and the store is not broken by it.
      await rejectsWith(store.putInbound(3), "store-failed");
      open();
      await recovering;
      await store.putInbound(4);
      assert.deepEqual(store.load().inbound, [1, 4]);
      await store.close();
      const again = await FileSessionStore.open(dir);
      assert.deepEqual(again.load().inbound, [1, 4]);
      await again.close();
    });
  },
);

add(
  "FileSessionStore.close() waits for a recover() in progress before releasing the lock",
  async () => {
    await withDir(async (dir) => {
      const { fs, store, recovering, open } = await recoveringStore(dir);
      let closed = false;
      const closing = store.close().then(() => closed = true);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(closed, false, "close() waits for the reload");
      open();
      await recovering;
      await closing;
      const opensAtClose = fs.opens;
      const next = await FileSessionStore.open(dir); // the lock is free only now
      await next.putInbound(7);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(fs.opens, opensAtClose, "the closed store opened nothing afterwards");
      assert.deepEqual(next.load().inbound, [1, 7]);
      await next.close();
    });
  },
);

add(
  "FileSessionStore treats a record length damaged in the middle as damage, not as a torn tail",
  async () => {
    await withDir(async (dir) => {
      const store = await FileSessionStore.open(dir);
      for (let id = 1; id <= 5; id++) await store.putInbound(id);
      await store.close();
      const path = join(dir, LOG);
      const bytes = new Uint8Array(await readFile(path));
      // Record 2's length (little endian, at its start) now runs past the end of the log.
      const at = HEADER + FRAME;
      bytes.set([200, 0, 0, 0], at);
      await writeFile(path, bytes);
      const again = await FileSessionStore.open(dir);
      try {
        assert.deepEqual(again.load().inbound, [1]);
        const r = again.recovered;
        assert.ok(r !== undefined, "reported");
        assert.match(r.reason, /whole records follow/);
        assert.ok(r.preservedAs !== undefined, "the damaged log is kept for inspection");
        assert.equal((await stat(r.preservedAs)).size, bytes.length);
      } finally {
        await again.close();
      }
    });
  },
);

add("FileSessionStore rejects changes after a failed fsync until reopened", async () => {
  await withDir(async (dir) => {
    const fs = await instrumented();
    const store = await FileSessionStore.open(dir, { fs });
    await store.putInbound(1);
    fs.failNextFsync = new Error("EIO: fsync");
    await rejectsWith(store.putInbound(2), "store-failed");
    await rejectsWith(store.putInbound(3), "store-failed");
    await store.close();
    const again = await FileSessionStore.open(dir, { fs });
    // The record whose fsync failed may or may not have reached the disk.
    assert.equal(again.load().inbound[0], 1);
    await again.putInbound(4);
    await again.close();
  });
});

add("FileSessionStore rejects a batch queued behind a failing write", async () => {
  await withDir(async (dir) => {
    const fs = await instrumented();
    const store = await FileSessionStore.open(dir, { fs });
    let release!: () => void;
    fs.fsyncGate = new Promise((r) => release = r);
    fs.failNextFsync = new Error("EIO: fsync");
    const started = new Promise<void>((r) => fs.onFsync = r);
    const first = store.putInbound(1);
    await started;
    const queued = store.putInbound(2);
    fs.fsyncGate = undefined;
    release();
    await rejectsWith(first, "store-failed");
    await rejectsWith(queued, "store-failed");
    await store.close();
  });
});

// ---------------------------------------------------------------------------
// The directory lock

add("FileSessionStore refuses a second open of the directory in the same process", async () => {
  await withDir(async (dir) => {
    const store = await FileSessionStore.open(dir);
    await rejectsWith(FileSessionStore.open(dir), "store-failed");
    await store.close();
    const again = await FileSessionStore.open(dir);
    await again.close();
  });
});

add(
  "FileSessionStore refuses a second process while the first holds the directory, until close()",
  async () => {
    await withDir(async (dir) => {
      const storeDir = join(dir, "store");
      const store = await FileSessionStore.open(storeDir);
      const probe = await startChild(dir, storeDir, "probe");
      assert.equal(await probe.line(), "error store-failed");
      assert.equal(await probe.exited, 0);
      await store.close();
      const probe2 = await startChild(dir, storeDir, "probe");
      assert.equal(await probe2.line(), "opened");
      assert.equal(await probe2.exited, 0);
      const again = await FileSessionStore.open(storeDir); // the child closed it
      await again.close();
    });
  },
);

add("FileSessionStore opens a directory whose holder process closed it or died", async () => {
  await withDir(async (dir) => {
    const storeDir = join(dir, "store");
    // A child holds it: we are refused, with the holder's pid in the message.
    const holder = await startChild(dir, storeDir, "hold");
    assert.equal(await holder.line(), "opened");
    const err = await rejectsWith(FileSessionStore.open(storeDir), "store-failed");
    assert.ok(err.message.includes(String(holder.proc.pid)), err.message);
    holder.proc.stdin!.write("close\n");
    assert.equal(await holder.exited, 0);
    const a = await FileSessionStore.open(storeDir);
    await a.close();
    // A child that is killed without closing leaves its lock file behind.
    const doomed = await startChild(dir, storeDir, "hold");
    assert.equal(await doomed.line(), "opened");
    await rejectsWith(FileSessionStore.open(storeDir), "store-failed");
    doomed.proc.kill("SIGKILL");
    await doomed.exited;
    doomed.proc.stdin!.destroy();
    await stat(join(storeDir, "LOCK")); // still there
    const b = await FileSessionStore.open(storeDir);
    await b.close();
  });
});

add("FileSessionStore locks exclude each other across Deno and Bun", async () => {
  const other = RUNTIME === "deno" ? "bun" : "deno";
  if (!(await commandExists(other))) {
    console.warn(`skipped: ${other} is not on PATH`);
    return;
  }
  await withDir(async (dir) => {
    const storeDir = join(dir, "store");
    const store = await FileSessionStore.open(storeDir);
    const probe = await startChild(dir, storeDir, "probe", other);
    assert.equal(await probe.line(), "error store-failed");
    await probe.exited;
    await store.close();
    const holder = await startChild(dir, storeDir, "hold", other);
    assert.equal(await holder.line(), "opened");
    await rejectsWith(FileSessionStore.open(storeDir), "store-failed");
    holder.proc.kill("SIGKILL");
    await holder.exited;
    holder.proc.stdin!.destroy();
    const again = await FileSessionStore.open(storeDir); // the other runtime's stale lock
    await again.close();
  });
});

// ---------------------------------------------------------------------------
// Crash

add("FileSessionStore keeps every put that resolved before the process was killed", async () => {
  await withDir(async (dir) => {
    const storeDir = join(dir, "store");
    const child = await startChild(dir, storeDir, "crash");
    assert.equal(await child.line(), "opened");
    let acked = 0;
    while (acked < 300) {
      const line = await child.line();
      assert.match(line, /^ok \d+$/);
      acked++;
    }
    child.proc.kill("SIGKILL");
    await child.exited;
    child.proc.stdin!.destroy();
    const resolved = child.lines.filter((l) => l.startsWith("ok ")).map((l) => Number(l.slice(3)));
    const store = await FileSessionStore.open(storeDir);
    try {
      const ids = store.load().outbound.map((f) => f.packetId);
      const have = new Set(ids);
      for (const id of resolved) assert.ok(have.has(id), `resolved put ${id} is missing`);
      // What was stored is a prefix of the calls, in call order.
      assert.deepEqual(ids, ids.map((_, i) => i + 1));
      for (const f of store.load().outbound) {
        assert.equal(f.packet.topic, `crash/${f.packetId}`);
        assert.equal(f.packet.payload.length, f.packetId % 300);
      }
    } finally {
      await store.close();
    }
  });
});

// ---------------------------------------------------------------------------
// The file-system layer on its own

add("runtimeFs() picks the implementation of the runtime it runs on", async () => {
  const fs = await runtimeFs();
  assert.equal(fs.runtime, RUNTIME);
  assert.equal(await runtimeFs(), fs);
});

add("runtimeFs() reads, appends, replaces atomically, lists and removes files", async () => {
  await withDir(async (dir) => {
    const fs = await runtimeFs();
    const sub = join(dir, "a", "b");
    await fs.mkdirp(sub);
    await fs.mkdirp(sub); // again: no error
    const path = join(sub, "f");
    assert.equal(await fs.readFile(path), undefined);
    const h = await fs.openAppend(path);
    await fs.write(h, new Uint8Array([1, 2]));
    await fs.write(h, new Uint8Array([3]));
    await fs.fsync(h);
    await fs.fsync(h, { metadata: true });
    await fs.close(h);
    assert.deepEqual([...(await fs.readFile(path))!], [1, 2, 3]);
    const h2 = await fs.openAppend(path);
    await fs.write(h2, new Uint8Array([4]));
    await fs.close(h2);
    assert.deepEqual([...(await fs.readFile(path))!], [1, 2, 3, 4]);
    await fs.writeFileAtomic(path, new Uint8Array([9]));
    await fs.writeFileAtomic(join(sub, "g"), new Uint8Array([8]), { sync: false });
    assert.deepEqual([...(await fs.readFile(path))!], [9]);
    assert.deepEqual((await fs.readDir(sub)).sort(), ["f", "g"]); // no temp file left
    await fs.rename(join(sub, "g"), join(sub, "h"));
    await fs.syncDir(sub);
    assert.equal(await fs.remove(join(sub, "h")), true);
    assert.equal(await fs.remove(join(sub, "h")), false);
    assert.deepEqual(await fs.readDir(sub), ["f"]);
  });
});

/** A lock file as another process would leave it. */
async function fakeLock(dir: string, text: string, ageMs = 0): Promise<void> {
  const path = join(dir, "LOCK");
  await writeFile(path, text);
  if (ageMs > 0) {
    const t = new Date(Date.now() - ageMs);
    await utimes(path, t, t);
  }
}

add("runtimeFs() lock() refuses a held directory and takes over stale lock files", async () => {
  await withDir(async (dir) => {
    const fs = await runtimeFs();
    const lock = await fs.lock(dir);
    await assert.rejects(fs.lock(dir), (err) => err instanceof LockHeldError);
    await fs.unlock(lock);
    await fs.unlock(lock); // idempotent
    await assert.rejects(stat(join(dir, "LOCK")));
    // A live process that is not ours (this one's parent) holds it.
    await fakeLock(dir, `${process.ppid} node 00\n`);
    await assert.rejects(fs.lock(dir), (err) => {
      assert.ok(err instanceof LockHeldError);
      assert.equal(err.holderPid, process.ppid);
      assert.equal(err.holderRuntime, "node");
      return true;
    });
    // A pid above the largest pid Linux hands out has no process.
    await fakeLock(dir, "4194305 node 00\n");
    await fs.unlock(await fs.lock(dir));
    // Our own pid, written before this process started: a previous life of it.
    await fakeLock(dir, `${process.pid} bun 00\n`, 3_600_000);
    await fs.unlock(await fs.lock(dir));
    // No readable owner: being created, unless it is old.
    await fakeLock(dir, "");
    await assert.rejects(fs.lock(dir), (err) => err instanceof LockHeldError);
    await fakeLock(dir, "", 60_000);
    await fs.unlock(await fs.lock(dir));
    // A crashed stealer's LOCK.steal does not block anybody.
    await writeFile(join(dir, "LOCK.steal"), "4194305 node 00\n");
    await fakeLock(dir, "4194305 node 01\n");
    const last = await fs.lock(dir);
    assert.deepEqual((await fs.readDir(dir)).sort(), ["LOCK"]);
    await fs.unlock(last);
  });
});
