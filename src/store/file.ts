/**
 * {@linkcode FileSessionStore}: a crash-safe {@linkcode SessionStore} in a
 * directory, for QoS 1/2 flows that must survive a process crash or a power
 * loss. It runs on Deno (`Deno.*`), Node and Bun (`node:fs/promises`).
 *
 * ## On disk
 *
 * The directory holds `session.log`, an append-only log, and `LOCK`, which
 * makes the directory exclusive to one process. The log starts with the 8
 * bytes `MQ5SLOG\x01` and continues with records, each framed as
 *
 * ```text
 * [u32 LE body length][u32 LE CRC32C of the body][body]
 * body = [op u8][packet id u16 BE][encoded PUBLISH, for op 1 only]
 * op   = 1 putOutbound, 2 releaseOutbound, 3 deleteOutbound,
 *        4 putInbound, 5 deleteInbound, 6 clearInbound (packet id 0)
 * ```
 *
 * {@linkcode FileSessionStore.open} replays the log into memory. A record
 * that is cut short, fails its CRC or does not decode ends the replay: what
 * came before it is kept, the rest is skipped and reported in
 * {@linkcode FileSessionStore.recovered} (and to `onCorruption`), never
 * thrown. The log is then rewritten without the bad bytes, so new records
 * are never appended after garbage. When the bad record is not simply a torn
 * tail, the original log is first kept as `session.log.corrupt`.
 *
 * ## Writes
 *
 * Every change is applied to memory at once, in call order, and appended to
 * the log; its promise resolves once the record is on disk (`fdatasync`).
 * Changes made while a write is in flight are grouped into the next write,
 * so N concurrent calls cost far fewer than N syncs (group commit); a lone
 * change is written at once, at the next microtask, never after a timer. A
 * call that changes nothing (deleting an unknown id) writes nothing and
 * resolves once every earlier change is on disk.
 *
 * When dead records (superseded or deleted) outnumber the live ones and pass
 * a threshold, the next write compacts instead: the live state is written to
 * a fresh log, which atomically replaces the old one (temp file, fsync,
 * rename, directory fsync).
 *
 * A failed write or sync leaves the log in an unknown state: the store then
 * rejects that change and every later one with `MqttError` code
 * `"store-failed"` until it is closed and opened again, which replays
 * whatever reached the disk.
 *
 * @example Keep in-flight QoS 1/2 state across restarts
 * ```ts
 * import { FileSessionStore } from "@mqttv5/client/store/file";
 * import { PacketType } from "@mqttv5/client/wire";
 *
 * const dir = await Deno.makeTempDir();
 * const store = await FileSessionStore.open(dir);
 * await store.putOutbound(1, {
 *   type: PacketType.Publish,
 *   topic: "orders/42",
 *   payload: new TextEncoder().encode("paid"),
 *   qos: 2,
 *   retain: false,
 *   dup: false,
 *   packetId: 1,
 * });
 * await store.releaseOutbound(1); // PUBREC arrived
 * await store.close();
 *
 * const again = await FileSessionStore.open(dir);
 * console.log(again.load().outbound.map((f) => [f.packetId, f.stage])); // [[1, "pubrel"]]
 * await again.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { MqttError } from "../errors.ts";
import type { SessionStore, StoredOutbound, StoredSession } from "../session/store.ts";
import { encodePacketInto, PacketDecoder, packetLength, PacketType } from "../wire/mod.ts";
import type { PublishPacket } from "../wire/mod.ts";
import { FRAME_HEAD, readFrame, sealFrame } from "./_frame.ts";
import {
  type DirLock,
  type FileHandle,
  joinPath,
  LockHeldError,
  runtimeFs,
  type StoreFs,
} from "./_fs.ts";

export type { SessionStore, StoredOutbound, StoredSession } from "../session/store.ts";
// The wire types a stored flow carries, so this entry point documents on its own.
export type {
  PacketType,
  PublishPacket,
  PublishProperties,
  QoS,
  UserProperty,
} from "../wire/mod.ts";
export { runtimeFs } from "./_fs.ts";
export type { DirLock, FileHandle, FsyncOptions, StoreFs, WriteFileAtomicOptions } from "./_fs.ts";

/**
 * What {@linkcode FileSessionStore.open} skipped when the log ended in a bad record.
 *
 * @example Report a recovery at open
 * ```ts
 * import { FileSessionStore, type StoreRecovery } from "@mqttv5/client/store/file";
 *
 * const dir = await Deno.makeTempDir();
 * const report = (r: StoreRecovery) => console.warn(`skipped ${r.skippedBytes} bytes: ${r.reason}`);
 * await using store = await FileSessionStore.open(dir, { onCorruption: report });
 * console.log(store.recovered); // undefined: a fresh log has nothing to skip
 * ```
 */
export interface StoreRecovery {
  /** Bytes of the log that were not replayed (the bad record and everything after it). */
  skippedBytes: number;
  /** What was wrong, for a human: the kind of damage and where it was. */
  reason: string;
  /** The offset in the log where the replay stopped. */
  offset: number;
  /**
   * Where the original log was kept, when the damage was more than a torn
   * last record (`<dir>/session.log.corrupt`); absent for a torn tail.
   */
  preservedAs?: string;
}

/**
 * Options of {@linkcode FileSessionStore.open}.
 *
 * @example Compact less often
 * ```ts
 * import type { FileSessionStoreOptions } from "@mqttv5/client/store/file";
 *
 * const options: FileSessionStoreOptions = { fsync: true, compactDeadBytes: 32 * 1024 * 1024 };
 * ```
 */
export interface FileSessionStoreOptions {
  /**
   * Sync every write to the device before its promise resolves. Turn it off
   * only where losing the last changes in a power loss is acceptable (tests):
   * the log stays consistent, since a torn tail is recovered, but recent
   * changes may be lost.
   *
   * @default {true}
   */
  fsync?: boolean;
  /**
   * Called during {@linkcode FileSessionStore.open} when the log ended in a
   * bad record; the same report is kept in {@linkcode FileSessionStore.recovered}.
   */
  onCorruption?: (recovery: StoreRecovery) => void;
  /**
   * Compact once at least this many records are dead (superseded or
   * deleted) and they outnumber the live ones.
   *
   * @default {1000}
   */
  compactDeadRecords?: number;
  /**
   * Compact once dead records take at least this many bytes and more than
   * the live ones (large payloads reach this before the record count).
   *
   * @default {8388608}
   */
  compactDeadBytes?: number;
  /**
   * The file-system layer. Defaults to the runtime's (`Deno.*` under Deno,
   * `node:fs/promises` under Node and Bun); tests pass an instrumented one.
   *
   * @default {the runtime's file system}
   */
  fs?: StoreFs;
}

/**
 * Counters of a {@linkcode FileSessionStore}, from {@linkcode FileSessionStore.stats}.
 *
 * @example Concurrent writes share one sync
 * ```ts
 * import { FileSessionStore } from "@mqttv5/client/store/file";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await using store = await FileSessionStore.open(dir);
 * await Promise.all([1, 2, 3, 4].map((id) => store.putInbound(id)));
 * assert.ok(store.stats.fsyncs < 4);
 * ```
 */
export interface FileSessionStoreStats {
  /** Log writes: one per group of changes. */
  writes: number;
  /** Syncs of the log after a write (one per write with `fsync` on). Compaction syncs are not counted. */
  fsyncs: number;
  /** Compactions since open (including one at open, when the log needed it). */
  compactions: number;
  /** Records in the log, counting those not yet written. */
  records: number;
  /** Records the current state needs; the rest are dead. */
  liveRecords: number;
  /** Size of the log in bytes, counting records not yet written. */
  logBytes: number;
}

const LOG_NAME = "session.log";
const CORRUPT_NAME = "session.log.corrupt";
/** "MQ5SLOG" and format version 1. */
const MAGIC = new Uint8Array([0x4d, 0x51, 0x35, 0x53, 0x4c, 0x4f, 0x47, 0x01]);
/** Frame head + op + packet id. */
const SMALL_FRAME = FRAME_HEAD + 3;
/** op + packet id + the largest MQTT packet (5-byte fixed header + 268,435,455). */
const MAX_BODY = 3 + 268_435_460;

const OP_PUT_OUTBOUND = 1;
const OP_RELEASE_OUTBOUND = 2;
const OP_DELETE_OUTBOUND = 3;
const OP_PUT_INBOUND = 4;
const OP_DELETE_INBOUND = 5;
const OP_CLEAR_INBOUND = 6;

const RESOLVED: Promise<void> = Promise.resolve();

/** Writes op and id into a frame whose body is filled, then its length and CRC. */
function seal(frame: Uint8Array, op: number, packetId: number): Uint8Array {
  frame[FRAME_HEAD] = op;
  frame[FRAME_HEAD + 1] = packetId >>> 8;
  frame[FRAME_HEAD + 2] = packetId & 0xff;
  return sealFrame(frame);
}

function smallFrame(op: number, packetId: number): Uint8Array {
  return seal(new Uint8Array(SMALL_FRAME), op, packetId);
}

function publishFrame(packetId: number, packet: PublishPacket): Uint8Array {
  if (packet === null || typeof packet !== "object" || packet.type !== PacketType.Publish) {
    throw new TypeError(
      `Cannot store outbound flow ${packetId}: expected a PUBLISH packet (type 3)`,
    );
  }
  const p = packet.qos > 0 && packet.packetId !== packetId ? { ...packet, packetId } : packet;
  const frame = new Uint8Array(SMALL_FRAME + packetLength(p));
  encodePacketInto(p, frame, SMALL_FRAME);
  return seal(frame, OP_PUT_OUTBOUND, packetId);
}

function checkId(packetId: number): RangeError | undefined {
  return Number.isInteger(packetId) && packetId >= 1 && packetId <= 0xffff
    ? undefined
    : new RangeError(`Packet id must be an integer from 1 to 65535, got ${String(packetId)}`);
}

function decodePublish(decoder: PacketDecoder, bytes: Uint8Array): PublishPacket | undefined {
  const packets = decoder.push(bytes);
  if (packets.length !== 1 || decoder.buffered !== 0) return undefined;
  const p = packets[0];
  return p.type === PacketType.Publish ? p : undefined;
}

function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One outbound flow in memory: its stage and its putOutbound record, as written. */
interface Flow {
  stage: "publish" | "pubrel";
  frame: Uint8Array;
}

/** Records waiting to be written together, and the promise their callers hold. */
interface Batch {
  frames: Uint8Array[];
  bytes: number;
  records: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { frames: [], bytes: 0, records: 0, promise, resolve, reject };
}

interface Replayed {
  outbound: Map<number, Flow>;
  inbound: Set<number>;
  records: number;
  recovery: StoreRecovery | undefined;
  /** The damage is more than a torn last record. */
  corruptMiddle: boolean;
}

/** Replays a log; stops at the first bad record. Throws only when the file is not a session log. */
function replay(bytes: Uint8Array, dir: string): Replayed {
  const outbound = new Map<number, Flow>();
  const inbound = new Set<number>();
  const n = bytes.length;
  if (n < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new MqttError(
      "store-failed",
      `Cannot open the session store in ${dir}: ${LOG_NAME} is not a session log (bad header)`,
    );
  }
  let decoder = new PacketDecoder();
  let records = 0;
  let pos = MAGIC.length;
  let bad: { reason: string; middle: boolean } | undefined;
  while (pos < n) {
    const frame = readFrame(bytes, pos, 3, MAX_BODY);
    if (frame.bad !== undefined) {
      bad = frame.bad;
      break;
    }
    const { body, end } = frame;
    const len = body.length;
    const op = body[0];
    const id = (body[1] << 8) | body[2];
    const idOk = op === OP_CLEAR_INBOUND ? id === 0 : id !== 0;
    if (!idOk || (op !== OP_PUT_OUTBOUND && len !== 3)) {
      bad = { reason: `malformed record (op ${op}, packet id ${id}, ${len} bytes)`, middle: true };
      break;
    }
    switch (op) {
      case OP_PUT_OUTBOUND: {
        let ok: boolean;
        try {
          ok = decodePublish(decoder, body.subarray(3)) !== undefined;
        } catch {
          ok = false;
        }
        if (!ok) {
          decoder = new PacketDecoder();
          bad = { reason: `undecodable PUBLISH in the record of packet id ${id}`, middle: true };
          break;
        }
        outbound.delete(id);
        outbound.set(id, { stage: "publish", frame: bytes.subarray(pos, end) });
        break;
      }
      case OP_RELEASE_OUTBOUND: {
        const flow = outbound.get(id);
        if (flow !== undefined) flow.stage = "pubrel";
        break;
      }
      case OP_DELETE_OUTBOUND:
        outbound.delete(id);
        break;
      case OP_PUT_INBOUND:
        inbound.add(id);
        break;
      case OP_DELETE_INBOUND:
        inbound.delete(id);
        break;
      case OP_CLEAR_INBOUND:
        inbound.clear();
        break;
      default:
        bad = { reason: `unknown record type ${op}`, middle: true };
    }
    if (bad !== undefined) break;
    records++;
    pos = end;
  }
  // Copies, so that the file's buffer (dead records and all) can go.
  for (const flow of outbound.values()) flow.frame = flow.frame.slice();
  if (bad !== undefined && bad.middle && isZero(bytes.subarray(pos))) {
    // A crash can leave the end of a file allocated but never written.
    bad = { reason: `zero-filled tail (${bad.reason})`, middle: false };
  }
  const recovery = bad === undefined ? undefined : {
    skippedBytes: n - pos,
    reason: `${bad.reason} at offset ${pos}`,
    offset: pos,
  };
  return { outbound, inbound, records, recovery, corruptMiddle: bad?.middle ?? false };
}

/**
 * A crash-safe {@linkcode SessionStore} backed by an append-only log in a
 * directory (see the module documentation for the format). Open it with
 * {@linkcode FileSessionStore.open}; one process at a time may hold a
 * directory.
 *
 * @example Pass it to a client
 * ```ts ignore
 * import { Client } from "@mqttv5/client";
 * import { FileSessionStore } from "@mqttv5/client/store/file";
 *
 * const store = await FileSessionStore.open("./state/session");
 * if (store.recovered) console.warn("session log damaged:", store.recovered.reason);
 * await using client = new Client({
 *   broker: "mqtt://localhost:1883",
 *   clientId: "meter-17",
 *   cleanStart: false,
 *   store,
 * });
 * await client.connect();
 * ```
 */
export class FileSessionStore implements SessionStore, AsyncDisposable {
  readonly #fs: StoreFs;
  readonly #dir: string;
  readonly #logPath: string;
  readonly #lock: DirLock;
  readonly #fsync: boolean;
  readonly #deadRecordsLimit: number;
  readonly #deadBytesLimit: number;
  readonly #recovered: StoreRecovery | undefined;

  #log: FileHandle | undefined;
  #outbound: Map<number, Flow>;
  #inbound: Set<number>;
  #pubrel = 0;
  #outboundBytes = 0;
  #records: number;
  #logBytes: number;

  #pending: Batch | undefined;
  #inflight: Batch | undefined;
  #draining: Promise<void> | undefined;
  #failed: MqttError | undefined;
  #reloading: Promise<void> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #forceCompact = false;

  #writes = 0;
  #fsyncs = 0;
  #compactions = 0;

  private constructor(
    fs: StoreFs,
    dir: string,
    lock: DirLock,
    options: FileSessionStoreOptions | undefined,
    state: Replayed,
    logBytes: number,
  ) {
    this.#fs = fs;
    this.#dir = dir;
    this.#logPath = joinPath(dir, LOG_NAME);
    this.#lock = lock;
    this.#fsync = options?.fsync ?? true;
    this.#deadRecordsLimit = options?.compactDeadRecords ?? 1000;
    this.#deadBytesLimit = options?.compactDeadBytes ?? 8 * 1024 * 1024;
    this.#recovered = state.recovery;
    this.#outbound = state.outbound;
    this.#inbound = state.inbound;
    for (const flow of state.outbound.values()) {
      this.#outboundBytes += flow.frame.length;
      if (flow.stage === "pubrel") this.#pubrel++;
    }
    this.#records = state.records;
    this.#logBytes = logBytes;
  }

  /**
   * Opens (creating when missing) the store in `dir` and replays its log.
   * A damaged log is not an error: the replay keeps what precedes the first
   * bad record and reports the rest in {@linkcode FileSessionStore.recovered}.
   *
   * @param dir The directory; created with its parents when missing.
   * @param options Sync, compaction thresholds, a corruption callback.
   * @returns The open store, holding the directory's lock until
   * {@linkcode FileSessionStore.close}.
   * @throws {MqttError} With code `"store-failed"` when another process (or
   * another store in this process) holds the directory, when `session.log`
   * is not a session log, or on an I/O error.
   *
   * @example Usage
   * ```ts
   * import { FileSessionStore } from "@mqttv5/client/store/file";
   *
   * const dir = await Deno.makeTempDir();
   * await using store = await FileSessionStore.open(dir, {
   *   onCorruption: (r) => console.warn(`skipped ${r.skippedBytes} bytes: ${r.reason}`),
   * });
   * await store.putInbound(9);
   * console.log(store.load().inbound); // [9]
   * ```
   */
  static async open(dir: string, options?: FileSessionStoreOptions): Promise<FileSessionStore> {
    for (const key of ["compactDeadRecords", "compactDeadBytes"] as const) {
      const v = options?.[key];
      if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
        throw new RangeError(`${key} must be a positive integer, got ${String(v)}`);
      }
    }
    const fs = options?.fs ?? await runtimeFs();
    let lock: DirLock;
    try {
      await fs.mkdirp(dir);
      lock = await fs.lock(dir);
    } catch (err) {
      const why = err instanceof LockHeldError ? err.message : `${dir}: ${message(err)}`;
      throw new MqttError("store-failed", `Cannot open the session store: ${why}`, { cause: err });
    }
    try {
      return await FileSessionStore.#openLocked(fs, dir, lock, options);
    } catch (err) {
      await fs.unlock(lock).catch(() => {});
      if (err instanceof MqttError) throw err;
      throw new MqttError(
        "store-failed",
        `Cannot open the session store in ${dir}: ${message(err)}`,
        { cause: err },
      );
    }
  }

  static async #openLocked(
    fs: StoreFs,
    dir: string,
    lock: DirLock,
    options: FileSessionStoreOptions | undefined,
  ): Promise<FileSessionStore> {
    const logPath = joinPath(dir, LOG_NAME);
    const sync = options?.fsync ?? true;
    await fs.remove(logPath + ".tmp"); // a compaction that crashed before its rename
    const bytes = await fs.readFile(logPath);
    let state: Replayed;
    if (bytes === undefined) {
      await fs.writeFileAtomic(logPath, MAGIC, { sync });
      state = {
        outbound: new Map(),
        inbound: new Set(),
        records: 0,
        recovery: undefined,
        corruptMiddle: false,
      };
    } else {
      state = replay(bytes, dir);
    }
    const store = new FileSessionStore(
      fs,
      dir,
      lock,
      options,
      state,
      bytes?.length ?? MAGIC.length,
    );
    const recovery = state.recovery;
    if (recovery !== undefined) {
      if (state.corruptMiddle && bytes !== undefined) {
        const kept = joinPath(dir, CORRUPT_NAME);
        await fs.writeFileAtomic(kept, bytes, { sync });
        recovery.preservedAs = kept;
      }
      options?.onCorruption?.(recovery);
    }
    if (recovery !== undefined || store.#shouldCompact()) {
      await store.#compact(); // cuts the bad bytes off, or the dead records
    } else {
      store.#log = await fs.openAppend(logPath);
    }
    return store;
  }

  /**
   * What the replay at open skipped, when the log ended in a bad record
   * (a torn write after a crash, or damage); `undefined` for a clean log.
   */
  get recovered(): StoreRecovery | undefined {
    return this.#recovered;
  }

  /** Write, sync and compaction counters, and the log's size. */
  get stats(): FileSessionStoreStats {
    return {
      writes: this.#writes,
      fsyncs: this.#fsyncs,
      compactions: this.#compactions,
      records: this.#records,
      liveRecords: this.#liveRecords(),
      logBytes: this.#logBytes,
    };
  }

  /** The directory the store lives in. */
  get dir(): string {
    return this.#dir;
  }

  /**
   * A copy of what the store holds: every change made so far, including
   * those whose write is still in flight.
   *
   * @returns Outbound flows in the order they were first stored (a flow
   * stored again under the same id moves to the end) and inbound identifiers.
   * Packets are decoded afresh from the stored records on every call (their
   * payloads are copies): changing one changes neither the store nor a later
   * `load()`.
   * @throws {MqttError} With code `"store-failed"` after a failed write (until
   * {@linkcode FileSessionStore.recover}), or `"closed"` after
   * {@linkcode FileSessionStore.close}.
   */
  load(): StoredSession {
    const bad = this.#unusable();
    if (bad !== undefined) throw bad;
    return this.#snapshot();
  }

  /**
   * After a failed write, reloads the store from disk (what reached it, a torn
   * tail cut off) so it accepts changes again. A client calls this before its
   * next connect; a healthy store is left alone.
   *
   * @returns Resolves once the store is usable.
   * @throws {MqttError} (as a rejection) `"store-failed"` when the disk still
   * fails, `"closed"` after close.
   *
   * @example Usage
   * ```ts
   * import { FileSessionStore } from "@mqttv5/client/store/file";
   *
   * const dir = await Deno.makeTempDir();
   * await using store = await FileSessionStore.open(dir);
   * await store.recover(); // nothing to do: the store is healthy
   * ```
   */
  recover(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#unusable());
    if (this.#failed === undefined) return Promise.resolve();
    return this.#reload();
  }

  /** Re-reads the log after a failed write; the store is usable again after it. */
  #reload(): Promise<void> {
    this.#reloading ??= (async () => {
      while (this.#draining !== undefined) await this.#draining.catch(() => {});
      if (this.#log !== undefined) {
        const log = this.#log;
        this.#log = undefined;
        await this.#fs.close(log).catch(() => {});
      }
      try {
        const bytes = await this.#fs.readFile(this.#logPath);
        const state = bytes === undefined ? undefined : replay(bytes, this.#dir);
        this.#outbound = state?.outbound ?? new Map();
        this.#inbound = state?.inbound ?? new Set();
        this.#pubrel = 0;
        this.#outboundBytes = 0;
        for (const flow of this.#outbound.values()) {
          this.#outboundBytes += flow.frame.length;
          if (flow.stage === "pubrel") this.#pubrel++;
        }
        this.#pending = undefined;
        await this.#compact(); // a clean log without the torn tail, opened for append
        // Only now: a change made while the log was being rewritten and reopened is
        // refused with the old error instead of reaching a log that is not open.
        this.#failed = undefined;
      } catch (err) {
        this.#failed = undefined;
        this.#fail(err);
        throw this.#failed;
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  #snapshot(): StoredSession {
    const decoder = new PacketDecoder();
    const outbound: StoredOutbound[] = [];
    for (const [packetId, flow] of this.#outbound) {
      // A copy, so that the packet's views never alias the stored record.
      const packet = decodePublish(decoder, flow.frame.slice(SMALL_FRAME));
      if (packet === undefined) throw new Error(`Stored PUBLISH ${packetId} does not decode`);
      outbound.push({ packetId, stage: flow.stage, packet });
    }
    return { outbound, inbound: [...this.#inbound] };
  }

  /**
   * Records an outbound QoS 1/2 PUBLISH, at the `"publish"` stage. A flow
   * already stored under `packetId` is replaced and moves to the end.
   *
   * @param packetId The packet identifier, 1 to 65535.
   * @param packet The PUBLISH (its `packetId` is taken from the first argument).
   * @returns A promise that resolves once the record is on disk.
   * @throws {RangeError} (as a rejection) For a bad packet id or a field of
   * the packet out of range; {@linkcode TypeError} for a packet that cannot
   * be encoded. Nothing is stored then.
   * @throws {MqttError} (as a rejection) With code `"store-failed"` when the
   * write fails or an earlier one did, `"closed"` after close.
   *
   * @example Usage
   * ```ts
   * import { FileSessionStore } from "@mqttv5/client/store/file";
   * import { PacketType } from "@mqttv5/client/wire";
   *
   * const dir = await Deno.makeTempDir();
   * await using store = await FileSessionStore.open(dir);
   * await store.putOutbound(3, {
   *   type: PacketType.Publish,
   *   topic: "a/b",
   *   payload: new Uint8Array([1]),
   *   qos: 1,
   *   retain: false,
   *   dup: false,
   *   packetId: 3,
   * });
   * console.log(store.load().outbound[0].stage); // "publish"
   * ```
   */
  putOutbound(packetId: number, packet: PublishPacket): Promise<void> {
    const bad = this.#unusable() ?? checkId(packetId);
    if (bad !== undefined) return Promise.reject(bad);
    let frame: Uint8Array;
    try {
      frame = publishFrame(packetId, packet);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#forget(packetId);
    this.#outbound.set(packetId, { stage: "publish", frame });
    this.#outboundBytes += frame.length;
    return this.#append(frame);
  }

  /**
   * Moves a flow to the `"pubrel"` stage (PUBREC received). The payload is
   * kept. Unknown ids and flows already there are left alone.
   *
   * @param packetId The packet identifier.
   * @returns A promise that resolves once the change is on disk.
   * @throws {MqttError} (as a rejection) As {@linkcode FileSessionStore.putOutbound}.
   */
  releaseOutbound(packetId: number): Promise<void> {
    const bad = this.#unusable() ?? checkId(packetId);
    if (bad !== undefined) return Promise.reject(bad);
    const flow = this.#outbound.get(packetId);
    if (flow === undefined || flow.stage === "pubrel") return this.#barrier();
    flow.stage = "pubrel";
    this.#pubrel++;
    return this.#append(smallFrame(OP_RELEASE_OUTBOUND, packetId));
  }

  /**
   * Forgets a finished flow.
   *
   * @param packetId The packet identifier.
   * @returns A promise that resolves once the change is on disk.
   * @throws {MqttError} (as a rejection) As {@linkcode FileSessionStore.putOutbound}.
   */
  deleteOutbound(packetId: number): Promise<void> {
    const bad = this.#unusable() ?? checkId(packetId);
    if (bad !== undefined) return Promise.reject(bad);
    if (!this.#forget(packetId)) return this.#barrier();
    return this.#append(smallFrame(OP_DELETE_OUTBOUND, packetId));
  }

  /**
   * Records an inbound QoS 2 packet identifier.
   *
   * @param packetId The packet identifier.
   * @returns A promise that resolves once the change is on disk.
   * @throws {MqttError} (as a rejection) As {@linkcode FileSessionStore.putOutbound}.
   */
  putInbound(packetId: number): Promise<void> {
    const bad = this.#unusable() ?? checkId(packetId);
    if (bad !== undefined) return Promise.reject(bad);
    if (this.#inbound.has(packetId)) return this.#barrier();
    this.#inbound.add(packetId);
    return this.#append(smallFrame(OP_PUT_INBOUND, packetId));
  }

  /**
   * Forgets an inbound QoS 2 packet identifier.
   *
   * @param packetId The packet identifier.
   * @returns A promise that resolves once the change is on disk.
   * @throws {MqttError} (as a rejection) As {@linkcode FileSessionStore.putOutbound}.
   */
  deleteInbound(packetId: number): Promise<void> {
    const bad = this.#unusable() ?? checkId(packetId);
    if (bad !== undefined) return Promise.reject(bad);
    if (!this.#inbound.delete(packetId)) return this.#barrier();
    return this.#append(smallFrame(OP_DELETE_INBOUND, packetId));
  }

  /**
   * Forgets every inbound identifier.
   *
   * @returns A promise that resolves once the change is on disk.
   * @throws {MqttError} (as a rejection) As {@linkcode FileSessionStore.putOutbound}.
   */
  clearInbound(): Promise<void> {
    const bad = this.#unusable();
    if (bad !== undefined) return Promise.reject(bad);
    if (this.#inbound.size === 0) return this.#barrier();
    this.#inbound.clear();
    return this.#append(smallFrame(OP_CLEAR_INBOUND, 0));
  }

  /**
   * Rewrites the log with only the live records now, whatever the
   * thresholds say; resolves once the new log is in place (and every earlier
   * change is on disk).
   *
   * @returns A promise that resolves after the compaction.
   * @throws {MqttError} (as a rejection) As {@linkcode FileSessionStore.putOutbound}.
   */
  compact(): Promise<void> {
    const bad = this.#unusable();
    if (bad !== undefined) return Promise.reject(bad);
    const batch = this.#pending ??= newBatch();
    this.#forceCompact = true;
    this.#schedule();
    return batch.promise;
  }

  /**
   * Waits for the writes in flight, then closes the log and releases the
   * directory's lock. Later calls reject with `MqttError` code `"closed"`.
   * Idempotent.
   *
   * @returns A promise that resolves once the lock is released.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /**
   * The same as {@linkcode FileSessionStore.close}, for `await using`.
   *
   * @returns Resolves once pending writes are durable and the lock is released.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    // A recover() in progress rewrites and reopens the log: let it finish before the
    // log is closed and the lock released, or it would write under a lock held by nobody.
    while (this.#reloading !== undefined) await this.#reloading.catch(() => {});
    while (this.#draining !== undefined) await this.#draining;
    let first: unknown;
    if (this.#log !== undefined) {
      const log = this.#log;
      this.#log = undefined;
      await this.#fs.close(log).catch((err) => first ??= err);
    }
    await this.#fs.unlock(this.#lock).catch((err) => first ??= err);
    if (first !== undefined) {
      throw new MqttError("store-failed", `Closing the session store in ${this.#dir} failed`, {
        cause: first,
      });
    }
  }

  // -------------------------------------------------------------------------

  #unusable(): MqttError | undefined {
    if (this.#failed !== undefined) return this.#failed;
    if (this.#closed) {
      return new MqttError("closed", `The session store in ${this.#dir} is closed`);
    }
    return undefined;
  }

  /** Removes an outbound flow from memory; whether there was one. */
  #forget(packetId: number): boolean {
    const old = this.#outbound.get(packetId);
    if (old === undefined) return false;
    this.#outbound.delete(packetId);
    this.#outboundBytes -= old.frame.length;
    if (old.stage === "pubrel") this.#pubrel--;
    return true;
  }

  #liveRecords(): number {
    return this.#outbound.size + this.#pubrel + this.#inbound.size;
  }

  #liveBytes(): number {
    return MAGIC.length + this.#outboundBytes + SMALL_FRAME * (this.#pubrel + this.#inbound.size);
  }

  #shouldCompact(): boolean {
    const live = this.#liveRecords();
    const dead = this.#records - live;
    if (dead >= this.#deadRecordsLimit && dead > live) return true;
    const liveBytes = this.#liveBytes();
    const deadBytes = this.#logBytes - liveBytes;
    return deadBytes >= this.#deadBytesLimit && deadBytes > liveBytes;
  }

  /** A promise that resolves once every change made so far is on disk. */
  #barrier(): Promise<void> {
    return this.#pending?.promise ?? this.#inflight?.promise ?? RESOLVED;
  }

  #append(frame: Uint8Array): Promise<void> {
    const batch = this.#pending ??= newBatch();
    batch.frames.push(frame);
    batch.bytes += frame.length;
    batch.records++;
    this.#records++;
    this.#logBytes += frame.length;
    this.#schedule();
    return batch.promise;
  }

  #schedule(): void {
    // A microtask, not a timer: the calls of this turn join the batch, and a
    // lone call is written at once.
    this.#draining ??= Promise.resolve().then(() => this.#drain());
  }

  /** Writes batches one at a time until none is pending. Never rejects. */
  async #drain(): Promise<void> {
    try {
      while (this.#pending !== undefined && this.#failed === undefined) {
        const batch = this.#pending;
        this.#pending = undefined;
        this.#inflight = batch;
        try {
          if (this.#forceCompact || this.#shouldCompact()) {
            this.#forceCompact = false;
            await this.#compact();
          } else {
            await this.#write(batch);
          }
        } catch (err) {
          this.#fail(err);
          batch.reject(this.#failed);
          break;
        } finally {
          this.#inflight = undefined;
        }
        batch.resolve();
      }
      if (this.#pending !== undefined && this.#failed !== undefined) {
        const pending = this.#pending;
        this.#pending = undefined;
        pending.reject(this.#failed);
      }
    } finally {
      this.#draining = undefined;
    }
  }

  async #write(batch: Batch): Promise<void> {
    const log = this.#log;
    if (log === undefined) throw new Error("the log is not open");
    let bytes: Uint8Array;
    if (batch.frames.length === 1) {
      bytes = batch.frames[0];
    } else {
      bytes = new Uint8Array(batch.bytes);
      let at = 0;
      for (const f of batch.frames) {
        bytes.set(f, at);
        at += f.length;
      }
    }
    this.#writes++;
    await this.#fs.write(log, bytes);
    if (this.#fsync) {
      this.#fsyncs++;
      await this.#fs.fsync(log);
    }
  }

  /**
   * Replaces the log with the live state as it is now (which includes every
   * change made so far: those of the batch being written too).
   */
  async #compact(): Promise<void> {
    // The snapshot is taken synchronously: changes made while it is written
    // go to the next batch, appended to the new log.
    const snapshot = new Uint8Array(this.#liveBytes());
    snapshot.set(MAGIC, 0);
    let at = MAGIC.length;
    for (const [packetId, flow] of this.#outbound) {
      snapshot.set(flow.frame, at);
      at += flow.frame.length;
      if (flow.stage === "pubrel") {
        snapshot.set(smallFrame(OP_RELEASE_OUTBOUND, packetId), at);
        at += SMALL_FRAME;
      }
    }
    for (const packetId of this.#inbound) {
      snapshot.set(smallFrame(OP_PUT_INBOUND, packetId), at);
      at += SMALL_FRAME;
    }
    const records = this.#liveRecords();
    const old = this.#log;
    this.#log = undefined;
    if (old !== undefined) await this.#fs.close(old).catch(() => {});
    await this.#fs.writeFileAtomic(this.#logPath, snapshot, { sync: this.#fsync });
    this.#log = await this.#fs.openAppend(this.#logPath);
    this.#compactions++;
    this.#records = records + (this.#pending?.records ?? 0);
    this.#logBytes = snapshot.length + (this.#pending?.bytes ?? 0);
  }

  #fail(err: unknown): void {
    this.#failed ??= new MqttError(
      "store-failed",
      `Writing the session store in ${this.#dir} failed (${message(err)}); ` +
        "it refuses every change until recover() reloads it (or it is reopened)",
      { cause: err },
    );
  }
}
