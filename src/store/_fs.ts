/**
 * The file-system layer of the file-backed stores: a small interface of our
 * own ({@linkcode StoreFs}) with one implementation on `Deno.*` and one on
 * `node:fs/promises` (Node and Bun), picked at run time by
 * {@linkcode runtimeFs}. Neither implementation loads the other: the Deno one
 * uses only the `Deno` global, the Node one imports `node:*` dynamically.
 *
 * It knows nothing about MQTT: the session store and the durable publish
 * queue both sit on it.
 *
 * ## Durability
 *
 * - {@linkcode StoreFs.fsync} is `fdatasync(2)` (`Deno.FsFile.syncData`,
 *   `FileHandle.datasync`) unless `metadata: true` asks for `fsync(2)`
 *   (`sync`). Appending grows the file, and `fdatasync` flushes the size
 *   change too, so it is enough for an append-only log.
 * - {@linkcode StoreFs.writeFileAtomic} writes `path + ".tmp"`, `fsync`s it,
 *   renames it over `path` and `fsync`s the directory, so a crash leaves
 *   either the old file or the new one, never a mix. Callers must not write
 *   the same path concurrently (hold the directory lock).
 *
 * ## The directory lock
 *
 * {@linkcode StoreFs.lock} makes a directory exclusive to one process (and,
 * inside a process, to one holder). The lock is a file `LOCK` created with
 * `O_CREAT | O_EXCL` holding `"<pid> <runtime> <token>"`, removed on unlock.
 * A process that finds it asks whether the holder is alive:
 *
 * - Deno also holds an exclusive `flock(2)` on the file
 *   (`Deno.FsFile.lock(true)`) for as long as it holds the lock, and probes
 *   others with `tryLock`. The kernel drops an flock when its process dies,
 *   however it dies, so a Deno holder is alive exactly when its flock is
 *   held: no stale locks, no confusion from a recycled pid. (An flock alone,
 *   without the `O_EXCL` file, would not exclude a Node or Bun process.)
 * - Node and Bun have no flock, so a holder is alive when its pid is
 *   (`process.kill(pid, 0)`, `Deno.kill(pid, 0)` under Deno, which needs
 *   `--allow-run`; without it the holder is assumed alive). A lock file older
 *   than this process that names this process's own pid is a leftover of an
 *   earlier process given the same pid (pid 1 in a restarted container).
 * - A lock file with no readable owner is being created, unless it is older
 *   than ten seconds.
 *
 * A stale lock file is removed by one opener at a time (under `LOCK.steal`,
 * itself an `O_EXCL` file) after checking that it has not changed, then
 * everybody races for `O_EXCL` again. The lock is advisory and local: it
 * does not work across hosts on a network file system.
 *
 * @module
 */

/**
 * An open file, as {@linkcode StoreFs.openAppend} returns it.
 *
 * @example Append and sync through the runtime's file layer
 * ```ts
 * import { runtimeFs } from "./_fs.ts";
 *
 * const fs = await runtimeFs();
 * const dir = await Deno.makeTempDir();
 * const handle = await fs.openAppend(`${dir}/log`);
 * await fs.write(handle, new Uint8Array([1, 2, 3]));
 * await fs.fsync(handle);
 * await fs.close(handle);
 * console.log((await fs.readFile(`${dir}/log`))?.length); // 3
 * ```
 */
export interface FileHandle {
  /** The path the file was opened with. */
  readonly path: string;
}

/**
 * A held directory lock, as {@linkcode StoreFs.lock} returns it.
 *
 * @example Hold a directory, then let it go
 * ```ts
 * import { runtimeFs } from "./_fs.ts";
 *
 * const fs = await runtimeFs();
 * const lock = await fs.lock(await Deno.makeTempDir());
 * console.log(lock.path.endsWith("LOCK")); // true
 * await fs.unlock(lock);
 * ```
 */
export interface DirLock {
  /** The locked directory, as given to {@linkcode StoreFs.lock}. */
  readonly dir: string;
  /** The lock file. */
  readonly path: string;
}

/**
 * Options of {@linkcode StoreFs.writeFileAtomic}.
 *
 * @example Replace a file atomically without the fsyncs (a scratch file)
 * ```ts
 * import { runtimeFs, type WriteFileAtomicOptions } from "@mqttv5/client/store/file";
 *
 * const fs = await runtimeFs();
 * const dir = await Deno.makeTempDir();
 * const options: WriteFileAtomicOptions = { sync: false };
 * await fs.writeFileAtomic(`${dir}/state`, new Uint8Array([1, 2]), options);
 * console.log((await fs.readFile(`${dir}/state`))?.length); // 2
 * ```
 */
export interface WriteFileAtomicOptions {
  /**
   * `fsync` the new file before the rename and the directory after it.
   * Without it the replacement is still atomic for other readers, but not
   * durable across a power loss.
   *
   * @default {true}
   */
  sync?: boolean;
}

/**
 * Options of {@linkcode StoreFs.fsync}.
 *
 * @example Flush data and metadata
 * ```ts
 * import { type FsyncOptions, runtimeFs } from "@mqttv5/client/store/file";
 *
 * const fs = await runtimeFs();
 * const handle = await fs.openAppend(`${await Deno.makeTempDir()}/log`);
 * await fs.write(handle, new Uint8Array([1]));
 * const full: FsyncOptions = { metadata: true }; // fsync(2), not fdatasync(2)
 * await fs.fsync(handle, full);
 * await fs.close(handle);
 * ```
 */
export interface FsyncOptions {
  /**
   * Flush every metadata change (`fsync(2)`), not only what is needed to
   * read the data back (`fdatasync(2)`).
   *
   * @default {false}
   */
  metadata?: boolean;
}

/**
 * The file operations the file-backed stores need. Paths use `/`. Every
 * method rejects with the runtime's own error on an I/O failure, except where
 * a "not found" result is part of the contract. Pass one as the `fs` option
 * of `FileSessionStore.open` or `FilePublisherQueue.open`, usually a wrapper
 * of {@linkcode runtimeFs} that observes or faults the I/O.
 *
 * @example Count the fsyncs of a session store
 * ```ts
 * import { FileSessionStore, runtimeFs, type StoreFs } from "@mqttv5/client/store/file";
 *
 * const base = await runtimeFs();
 * let fsyncs = 0;
 * const counting: StoreFs = {
 *   ...base,
 *   fsync(handle, options) {
 *     fsyncs++;
 *     return base.fsync(handle, options);
 *   },
 * };
 * const store = await FileSessionStore.open(await Deno.makeTempDir(), { fs: counting });
 * await store.putOutbound(1, {
 *   type: 3,
 *   topic: "t",
 *   payload: new Uint8Array(1),
 *   qos: 1,
 *   retain: false,
 *   dup: false,
 *   packetId: 1,
 * });
 * await store.close();
 * console.log(fsyncs > 0); // true
 * ```
 */
export interface StoreFs {
  /** The runtime the implementation runs on. */
  readonly runtime: "deno" | "node" | "bun";
  /**
   * Opens a file for appending, creating it when missing (without syncing
   * the directory: call {@linkcode StoreFs.syncDir} when the new entry must
   * survive a crash).
   *
   * @param path The file.
   * @returns The open file.
   */
  openAppend(path: string): Promise<FileHandle>;
  /**
   * Writes all of `bytes` at the end of the file.
   *
   * @param handle The file.
   * @param bytes The bytes to append.
   * @returns A promise that resolves once the bytes are written.
   */
  write(handle: FileHandle, bytes: Uint8Array): Promise<void>;
  /**
   * Flushes the file's data to the device (`fdatasync`, or `fsync` with `metadata`).
   *
   * @param handle The file.
   * @param options Whether to flush metadata too.
   * @returns A promise that resolves once the data is on the device.
   */
  fsync(handle: FileHandle, options?: FsyncOptions): Promise<void>;
  /**
   * Closes the file.
   *
   * @param handle The file.
   * @returns A promise that resolves once the file is closed.
   */
  close(handle: FileHandle): Promise<void>;
  /**
   * The whole file, or `undefined` when it does not exist.
   *
   * @param path The file.
   * @returns The contents, or `undefined`.
   */
  readFile(path: string): Promise<Uint8Array | undefined>;
  /**
   * Replaces `path` with `bytes` atomically: temp file, fsync, rename, directory fsync.
   *
   * @param path The file to replace.
   * @param bytes The new contents.
   * @param options Whether to sync.
   * @returns A promise that resolves once the file is replaced.
   */
  writeFileAtomic(path: string, bytes: Uint8Array, options?: WriteFileAtomicOptions): Promise<void>;
  /**
   * Renames a file, replacing `to`.
   *
   * @param from The current path.
   * @param to The new path.
   * @returns A promise that resolves once the file is renamed.
   */
  rename(from: string, to: string): Promise<void>;
  /**
   * Removes a file; `false` when it did not exist.
   *
   * @param path The file.
   * @returns `true` when a file was removed.
   */
  remove(path: string): Promise<boolean>;
  /**
   * The names of the entries of a directory.
   *
   * @param path The directory.
   * @returns The entry names.
   */
  readDir(path: string): Promise<string[]>;
  /**
   * Creates a directory and its missing parents.
   *
   * @param path The directory.
   * @returns A promise that resolves once the directory exists.
   */
  mkdirp(path: string): Promise<void>;
  /**
   * Flushes a directory's entries (after a create, rename or remove).
   *
   * @param path The directory.
   * @returns A promise that resolves once the entries are on the device.
   */
  syncDir(path: string): Promise<void>;
  /**
   * Takes the exclusive lock of a directory (which must exist).
   *
   * @param dir The directory.
   * @returns The held lock.
   * @throws {LockHeldError} When another process, or another holder in this
   * process, has it.
   */
  lock(dir: string): Promise<DirLock>;
  /**
   * Releases a lock taken by {@linkcode StoreFs.lock}.
   *
   * @param lock The lock.
   * @returns A promise that resolves once the lock is released.
   */
  unlock(lock: DirLock): Promise<void>;
}

/**
 * Raised by {@linkcode StoreFs.lock} when the directory is locked by someone
 * else. Its fields say who, when the lock file says so.
 */
export class LockHeldError extends Error {
  /** The lock file. */
  readonly path: string;
  /** The holder's process id, when known. */
  readonly holderPid?: number;
  /** The holder's runtime, when known. */
  readonly holderRuntime?: string;

  /**
   * Creates the error.
   *
   * @param path The lock file.
   * @param message What is locked and by whom.
   * @param holder The holder, when the lock file names one.
   */
  constructor(path: string, message: string, holder?: { pid: number; runtime: string }) {
    super(message);
    this.name = "LockHeldError";
    this.path = path;
    if (holder !== undefined) {
      this.holderPid = holder.pid;
      this.holderRuntime = holder.runtime;
    }
  }
}

let cached: Promise<StoreFs> | undefined;

/**
 * The {@linkcode StoreFs} of the runtime this code runs on: `Deno.*` under
 * Deno, `node:fs/promises` under Node and Bun. The first call loads it; later
 * calls return the same instance. Wrap it to observe or fault the stores'
 * I/O (see {@linkcode StoreFs}).
 *
 * @returns The file system.
 *
 * @example Read a file back through the runtime's layer
 * ```ts
 * import { runtimeFs } from "@mqttv5/client/store/file";
 *
 * const fs = await runtimeFs();
 * const dir = await Deno.makeTempDir();
 * await fs.writeFileAtomic(`${dir}/a`, new Uint8Array([7]));
 * console.log(fs.runtime, (await fs.readFile(`${dir}/a`))?.[0]); // deno 7
 * ```
 */
export function runtimeFs(): Promise<StoreFs> {
  cached ??= "Deno" in globalThis ? Promise.resolve(denoFs()) : nodeFs();
  return cached;
}

// ---------------------------------------------------------------------------
// Paths

/** `dir` + `/` + `name`. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") || dir.endsWith("\\") ? dir + name : `${dir}/${name}`;
}

function parentOf(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i < 0 ? "." : i === 0 ? path.slice(0, 1) : path.slice(0, i);
}

// ---------------------------------------------------------------------------
// The lock protocol, on primitives each runtime supplies.

const LOCK_NAME = "LOCK";
const STEAL_SUFFIX = ".steal";
/** A lock file with no readable owner this old is a crash between create and write. */
const UNOWNED_GRACE_MS = 10_000;
const LOCK_ATTEMPTS = 20;

interface Held {
  release(): Promise<void>;
}

interface LockIo {
  readonly pid: number;
  readonly runtime: string;
  /** When this process started (ms since the epoch), if the runtime can say. */
  readonly startedAtMs: number | undefined;
  /** `O_CREAT | O_EXCL`, then writes `text`; `null` when the file exists. */
  createExclusive(path: string, text: string): Promise<Held | null>;
  readText(path: string): Promise<string | undefined>;
  mtimeMs(path: string): Promise<number | undefined>;
  remove(path: string): Promise<boolean>;
  realPath(path: string): Promise<string>;
  /** `true` alive, `false` gone, `undefined` cannot tell. */
  pidAlive(pid: number): boolean | undefined;
  /** Whether some process holds an flock on `path`; `undefined` when it vanished. */
  flockHeld?(path: string): Promise<boolean | undefined>;
}

interface Holder {
  pid: number;
  runtime: string;
  token: string;
}

/** Lock keys (real paths of locked directories) held by this isolate. */
const heldHere = new Set<string>();

function randomToken(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function parseHolder(text: string): Holder | undefined {
  const m = /^(\d+) (\S+) (\S+)\n?$/.exec(text);
  if (m === null) return undefined;
  return { pid: Number(m[1]), runtime: m[2], token: m[3] };
}

type Verdict =
  | { state: "alive"; holder: Holder | undefined; why: string }
  | { state: "dead" }
  | { state: "gone" };

function holderPhrase(holder: Holder | undefined): string {
  return holder === undefined
    ? "is locked by another process"
    : `is locked by process ${holder.pid} (${holder.runtime})`;
}

async function judge(io: LockIo, path: string, text: string): Promise<Verdict> {
  const holder = parseHolder(text);
  if (io.flockHeld !== undefined) {
    const held = await io.flockHeld(path);
    if (held === undefined) return { state: "gone" };
    if (held) return { state: "alive", holder, why: holderPhrase(holder) };
    // A Deno holder keeps its flock for as long as it lives.
    if (holder?.runtime === "deno") return { state: "dead" };
  }
  if (holder === undefined) {
    const mtime = await io.mtimeMs(path);
    if (mtime === undefined) return { state: "gone" };
    return Date.now() - mtime < UNOWNED_GRACE_MS
      ? { state: "alive", holder, why: "is being locked by another process" }
      : { state: "dead" };
  }
  if (holder.pid === io.pid) {
    // Not ours (heldHere says so): another isolate of this process, or a
    // process before us that had the same pid.
    const mtime = await io.mtimeMs(path);
    if (mtime === undefined) return { state: "gone" };
    if (io.startedAtMs !== undefined && mtime < io.startedAtMs) return { state: "dead" };
    return {
      state: "alive",
      holder,
      why: "is locked by another thread or isolate of this process",
    };
  }
  const alive = io.pidAlive(holder.pid);
  if (alive === false) return { state: "dead" };
  return {
    state: "alive",
    holder,
    why: alive === undefined
      ? `${holderPhrase(holder)}, which may still be running (checking needs --allow-run; ` +
        "delete the lock file if it is not)"
      : `${holderPhrase(holder)}; close the store there first`,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Removes the stale lock file `lockPath` if it still holds `staleText`, one stealer at a time. */
async function steal(io: LockIo, lockPath: string, staleText: string, mine: string): Promise<void> {
  const stealPath = lockPath + STEAL_SUFFIX;
  const held = await io.createExclusive(stealPath, mine);
  if (held === null) {
    // Somebody else is stealing, or crashed while stealing.
    const text = await io.readText(stealPath);
    if (text !== undefined && (await judge(io, stealPath, text)).state === "dead") {
      if ((await io.readText(stealPath)) === text) await io.remove(stealPath);
    } else {
      await delay(5);
    }
    return;
  }
  try {
    if ((await io.readText(lockPath)) === staleText) await io.remove(lockPath);
  } finally {
    await held.release();
  }
}

async function acquire(io: LockIo, dir: string): Promise<{ key: string; held: Held }> {
  const path = joinPath(dir, LOCK_NAME);
  const key = await io.realPath(dir);
  if (heldHere.has(key)) {
    throw new LockHeldError(path, `${dir} is already locked in this process`);
  }
  heldHere.add(key);
  try {
    const mine = `${io.pid} ${io.runtime} ${randomToken()}\n`;
    for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
      const held = await io.createExclusive(path, mine);
      if (held !== null) return { key, held };
      const text = await io.readText(path);
      if (text === undefined) continue; // released meanwhile
      const verdict = await judge(io, path, text);
      if (verdict.state === "gone") continue;
      if (verdict.state === "alive") {
        throw new LockHeldError(
          path,
          `${dir} ${verdict.why} (lock file: ${path})`,
          verdict.holder,
        );
      }
      await steal(io, path, text, mine);
    }
    throw new LockHeldError(path, `${dir} cannot be locked: its lock file keeps changing`);
  } catch (err) {
    heldHere.delete(key);
    throw err;
  }
}

interface LockState extends DirLock {
  key: string;
  held: Held;
  released: boolean;
}

async function lockWith(io: LockIo, dir: string): Promise<DirLock> {
  const { key, held } = await acquire(io, dir);
  const lock: LockState = { dir, path: joinPath(dir, LOCK_NAME), key, held, released: false };
  return lock;
}

async function unlockWith(lock: DirLock): Promise<void> {
  const l = lock as LockState;
  if (l.released) return;
  l.released = true;
  try {
    await l.held.release();
  } finally {
    heldHere.delete(l.key);
  }
}

// ---------------------------------------------------------------------------
// Deno

interface DenoHandle extends FileHandle {
  file: Deno.FsFile;
}

function denoNotFound(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound;
}

async function denoWriteAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

async function denoSyncDir(path: string): Promise<void> {
  if (Deno.build.os === "windows") return; // directories cannot be opened for sync there
  const dir = await Deno.open(path, { read: true });
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}

async function denoRemove(path: string): Promise<boolean> {
  try {
    await Deno.remove(path);
    return true;
  } catch (err) {
    if (denoNotFound(err)) return false;
    throw err;
  }
}

function denoLockIo(): LockIo {
  return {
    pid: Deno.pid,
    runtime: "deno",
    startedAtMs: performance.timeOrigin,
    async createExclusive(path, text) {
      let file: Deno.FsFile;
      try {
        file = await Deno.open(path, { read: true, write: true, createNew: true });
      } catch (err) {
        if (err instanceof Deno.errors.AlreadyExists) return null;
        throw err;
      }
      try {
        // Blocks only while a prober holds it for a moment.
        await file.lock(true);
        await denoWriteAll(file, new TextEncoder().encode(text));
        await file.syncData();
      } catch (err) {
        file.close();
        await denoRemove(path);
        throw err;
      }
      return {
        async release() {
          try {
            await denoRemove(path);
          } finally {
            file.close(); // drops the flock
          }
        },
      };
    },
    async readText(path) {
      try {
        return await Deno.readTextFile(path);
      } catch (err) {
        if (denoNotFound(err)) return undefined;
        throw err;
      }
    },
    async mtimeMs(path) {
      try {
        return (await Deno.stat(path)).mtime?.getTime() ?? 0;
      } catch (err) {
        if (denoNotFound(err)) return undefined;
        throw err;
      }
    },
    remove: denoRemove,
    realPath: (path) => Deno.realPath(path),
    pidAlive(pid) {
      try {
        Deno.kill(pid, 0);
        return true;
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return false;
        if (err instanceof Deno.errors.PermissionDenied) return true; // EPERM: exists
        return undefined; // NotCapable: no --allow-run
      }
    },
    async flockHeld(path) {
      let file: Deno.FsFile;
      try {
        file = await Deno.open(path, { read: true, write: true });
      } catch (err) {
        if (denoNotFound(err)) return undefined;
        throw err;
      }
      try {
        const got = await file.tryLock(true);
        return !got;
      } finally {
        file.close();
      }
    },
  };
}

function denoFs(): StoreFs {
  const lockIo = denoLockIo();
  const raw = (h: FileHandle) => (h as DenoHandle).file;
  return {
    runtime: "deno",
    async openAppend(path) {
      const file = await Deno.open(path, { append: true, create: true });
      const handle: DenoHandle = { path, file };
      return handle;
    },
    write: (handle, bytes) => denoWriteAll(raw(handle), bytes),
    fsync: (handle, options) => options?.metadata ? raw(handle).sync() : raw(handle).syncData(),
    close(handle) {
      raw(handle).close();
      return Promise.resolve();
    },
    async readFile(path) {
      try {
        return await Deno.readFile(path);
      } catch (err) {
        if (denoNotFound(err)) return undefined;
        throw err;
      }
    },
    async writeFileAtomic(path, bytes, options) {
      const sync = options?.sync ?? true;
      const tmp = path + ".tmp";
      const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
      try {
        await denoWriteAll(file, bytes);
        if (sync) await file.sync();
      } catch (err) {
        file.close();
        await denoRemove(tmp).catch(() => {});
        throw err;
      }
      file.close();
      await Deno.rename(tmp, path);
      if (sync) await denoSyncDir(parentOf(path));
    },
    rename: (from, to) => Deno.rename(from, to),
    remove: denoRemove,
    async readDir(path) {
      const names: string[] = [];
      for await (const entry of Deno.readDir(path)) names.push(entry.name);
      return names;
    },
    mkdirp: (path) => Deno.mkdir(path, { recursive: true }),
    syncDir: denoSyncDir,
    lock: (dir) => lockWith(lockIo, dir),
    unlock: unlockWith,
  };
}

// ---------------------------------------------------------------------------
// Node and Bun

type NodeFsPromises = typeof import("node:fs/promises");
type NodeFileHandle = Awaited<ReturnType<NodeFsPromises["open"]>>;

interface NodeHandle extends FileHandle {
  file: NodeFileHandle;
}

function errCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err
    ? String((err as { code: unknown }).code)
    : undefined;
}

/** A plain `Uint8Array` over a `Buffer`'s bytes (`Buffer#slice` is a view, not a copy). */
function plain(buf: Uint8Array): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

async function nodeFs(): Promise<StoreFs> {
  const fs = await import("node:fs/promises");
  const { default: process } = await import("node:process");
  const runtime: "node" | "bun" = "Bun" in globalThis ? "bun" : "node";

  const writeAll = async (file: NodeFileHandle, bytes: Uint8Array): Promise<void> => {
    let off = 0;
    while (off < bytes.length) {
      const { bytesWritten } = await file.write(bytes, off, bytes.length - off);
      off += bytesWritten;
    }
  };
  const remove = async (path: string): Promise<boolean> => {
    try {
      await fs.unlink(path);
      return true;
    } catch (err) {
      if (errCode(err) === "ENOENT") return false;
      throw err;
    }
  };
  const syncDir = async (path: string): Promise<void> => {
    if (process.platform === "win32") return;
    const dir = await fs.open(path, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  };
  const raw = (h: FileHandle) => (h as NodeHandle).file;

  const lockIo: LockIo = {
    pid: process.pid,
    runtime,
    startedAtMs: Date.now() - process.uptime() * 1000,
    async createExclusive(path, text) {
      let file: NodeFileHandle;
      try {
        file = await fs.open(path, "wx");
      } catch (err) {
        if (errCode(err) === "EEXIST") return null;
        throw err;
      }
      try {
        await writeAll(file, new TextEncoder().encode(text));
        await file.datasync();
      } catch (err) {
        await file.close().catch(() => {});
        await remove(path);
        throw err;
      }
      await file.close();
      return { release: async () => void (await remove(path)) };
    },
    async readText(path) {
      try {
        return await fs.readFile(path, "utf8");
      } catch (err) {
        if (errCode(err) === "ENOENT") return undefined;
        throw err;
      }
    },
    async mtimeMs(path) {
      try {
        return (await fs.stat(path)).mtimeMs;
      } catch (err) {
        if (errCode(err) === "ENOENT") return undefined;
        throw err;
      }
    },
    remove,
    realPath: (path) => fs.realpath(path),
    pidAlive(pid) {
      try {
        process.kill(pid, 0);
        return true;
      } catch (err) {
        const code = errCode(err);
        if (code === "ESRCH") return false;
        if (code === "EPERM") return true;
        return undefined;
      }
    },
  };

  return {
    runtime,
    async openAppend(path) {
      const handle: NodeHandle = { path, file: await fs.open(path, "a") };
      return handle;
    },
    write: (handle, bytes) => writeAll(raw(handle), bytes),
    fsync: (handle, options) => options?.metadata ? raw(handle).sync() : raw(handle).datasync(),
    close: (handle) => raw(handle).close(),
    async readFile(path) {
      try {
        return plain(await fs.readFile(path));
      } catch (err) {
        if (errCode(err) === "ENOENT") return undefined;
        throw err;
      }
    },
    async writeFileAtomic(path, bytes, options) {
      const sync = options?.sync ?? true;
      const tmp = path + ".tmp";
      const file = await fs.open(tmp, "w");
      try {
        await writeAll(file, bytes);
        if (sync) await file.sync();
      } catch (err) {
        await file.close().catch(() => {});
        await remove(tmp).catch(() => false);
        throw err;
      }
      await file.close();
      await fs.rename(tmp, path);
      if (sync) await syncDir(parentOf(path));
    },
    rename: (from, to) => fs.rename(from, to),
    remove,
    readDir: (path) => fs.readdir(path),
    mkdirp: async (path) => void (await fs.mkdir(path, { recursive: true })),
    syncDir,
    lock: (dir) => lockWith(lockIo, dir),
    unlock: unlockWith,
  };
}
