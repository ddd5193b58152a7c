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

import { checkInt } from "../_internal/args.ts";
import { errorMessage } from "../_internal/error.ts";
import { MqttError } from "../errors.ts";
import type { SessionStore, StoredOutbound, StoredSession } from "../session/store.ts";
import { encodePacketInto, PacketDecoder, packetLength, PacketType } from "../wire/mod.ts";
import type { PublishPacket } from "../wire/mod.ts";
import { type DirLock, type FileHandle, joinPath, runtimeFs, type StoreFs } from "./_fs.ts";
import {
  type BadRecord,
  concat,
  FRAME_HEAD,
  hasMagic,
  openLocked,
  preserveDamaged,
  RecordLog,
  recoveryOf,
  scanRecords,
  sealFrame,
} from "./_log.ts";

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
const NOUN = "session store";
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

/** One outbound flow in memory: its stage and its putOutbound record, as written. */
interface Flow {
  stage: "publish" | "pubrel";
  frame: Uint8Array;
}

/** Records waiting to be written together. */
interface Batch {
  frames: Uint8Array[];
  bytes: number;
  records: number;
}

function newBatch(): Batch {
  return { frames: [], bytes: 0, records: 0 };
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
  if (!hasMagic(bytes, MAGIC)) {
    throw new MqttError(
      "store-failed",
      `Cannot open the session store in ${dir}: ${LOG_NAME} is not a session log (bad header)`,
    );
  }
  const decoder = new PacketDecoder();
  let records = 0;
  const scan = scanRecords(bytes, MAGIC.length, 3, MAX_BODY, (body, at, end) => {
    const len = body.length;
    const op = body[0];
    const id = (body[1] << 8) | body[2];
    const idOk = op === OP_CLEAR_INBOUND ? id === 0 : id !== 0;
    if (!idOk || (op !== OP_PUT_OUTBOUND && len !== 3)) {
      return { reason: `malformed record (op ${op}, packet id ${id}, ${len} bytes)`, middle: true };
    }
    const bad = applyRecord(outbound, inbound, decoder, body, bytes.subarray(at, end));
    if (bad === undefined) records++;
    return bad;
  });
  // Copies, so that the file's buffer (dead records and all) can go.
  for (const flow of outbound.values()) flow.frame = flow.frame.slice();
  const recovery = recoveryOf(scan, bytes.length);
  return { outbound, inbound, records, recovery, corruptMiddle: scan.bad?.middle ?? false };
}

/** Applies one well-formed record (`frame` is all of it) to the replayed state, or says why not. */
function applyRecord(
  outbound: Map<number, Flow>,
  inbound: Set<number>,
  decoder: PacketDecoder,
  body: Uint8Array,
  frame: Uint8Array,
): BadRecord | undefined {
  const op = body[0];
  const id = (body[1] << 8) | body[2];
  switch (op) {
    case OP_PUT_OUTBOUND: {
      let ok: boolean;
      try {
        ok = decodePublish(decoder, body.subarray(3)) !== undefined;
      } catch {
        ok = false;
      }
      if (!ok) {
        return { reason: `undecodable PUBLISH in the record of packet id ${id}`, middle: true };
      }
      outbound.delete(id);
      outbound.set(id, { stage: "publish", frame });
      return undefined;
    }
    case OP_RELEASE_OUTBOUND: {
      const flow = outbound.get(id);
      if (flow !== undefined) flow.stage = "pubrel";
      return undefined;
    }
    case OP_DELETE_OUTBOUND:
      outbound.delete(id);
      return undefined;
    case OP_PUT_INBOUND:
      inbound.add(id);
      return undefined;
    case OP_DELETE_INBOUND:
      inbound.delete(id);
      return undefined;
    case OP_CLEAR_INBOUND:
      inbound.clear();
      return undefined;
    default:
      return { reason: `unknown record type ${op}`, middle: true };
  }
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

  readonly #writer: RecordLog<Batch>;
  #reloading: Promise<void> | undefined;
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
    this.#writer = new RecordLog<Batch>({
      fs,
      dir,
      lock,
      noun: NOUN,
      empty: newBatch,
      write: (batch) => this.#commit(batch),
      failure: (err) =>
        new MqttError(
          "store-failed",
          `Writing the session store in ${dir} failed (${errorMessage(err)}); ` +
            "it refuses every change until recover() reloads it (or it is reopened)",
          { cause: err },
        ),
      // A recover() in progress rewrites and reopens the log: let it finish before the
      // log is closed and the lock released, or it would write under a lock held by nobody.
      settle: async () => {
        while (this.#reloading !== undefined) await this.#reloading.catch(() => {});
      },
      files: () => {
        const log = this.#log;
        this.#log = undefined;
        return log === undefined ? [] : [log];
      },
    });
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
      if (v !== undefined) checkInt(key, v, 1);
    }
    const fs = options?.fs ?? await runtimeFs();
    return await openLocked(
      fs,
      dir,
      NOUN,
      (lock) => FileSessionStore.#openLocked(fs, dir, lock, options),
    );
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
    if (recovery !== undefined && bytes !== undefined) {
      await preserveDamaged(fs, logPath, bytes, recovery, state.corruptMiddle, sync);
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
    if (this.#writer.closed) return Promise.reject(this.#unusable());
    if (this.#writer.failed === undefined) return Promise.resolve();
    return this.#reload();
  }

  /** Re-reads the log after a failed write; the store is usable again after it. */
  #reload(): Promise<void> {
    this.#reloading ??= (async () => {
      await this.#writer.idle();
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
        await this.#compact(); // a clean log without the torn tail, opened for append
        // Only now: a change made while the log was being rewritten and reopened is
        // refused with the old error instead of reaching a log that is not open.
        this.#writer.reset();
      } catch (err) {
        this.#writer.reset();
        throw this.#writer.fail(err);
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
    if (flow === undefined || flow.stage === "pubrel") return this.#writer.barrier();
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
    if (!this.#forget(packetId)) return this.#writer.barrier();
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
    if (this.#inbound.has(packetId)) return this.#writer.barrier();
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
    if (!this.#inbound.delete(packetId)) return this.#writer.barrier();
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
    if (this.#inbound.size === 0) return this.#writer.barrier();
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
    this.#forceCompact = true;
    return this.#writer.schedule();
  }

  /**
   * Waits for the writes in flight, then closes the log and releases the
   * directory's lock. Later calls reject with `MqttError` code `"closed"`.
   * Idempotent.
   *
   * @returns A promise that resolves once the lock is released.
   */
  close(): Promise<void> {
    return this.#writer.close();
  }

  /**
   * The same as {@linkcode FileSessionStore.close}, for `await using`.
   *
   * @returns Resolves once pending writes are durable and the lock is released.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // -------------------------------------------------------------------------

  #unusable(): MqttError | undefined {
    const failed = this.#writer.failed;
    if (failed !== undefined) return failed;
    if (this.#writer.closed) {
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

  #append(frame: Uint8Array): Promise<void> {
    const batch = this.#writer.gather();
    batch.frames.push(frame);
    batch.bytes += frame.length;
    batch.records++;
    this.#records++;
    this.#logBytes += frame.length;
    return this.#writer.schedule();
  }

  /** Writes a batch: appended to the log, or the whole log compacted. */
  async #commit(batch: Batch): Promise<void> {
    if (this.#forceCompact || this.#shouldCompact()) {
      this.#forceCompact = false;
      await this.#compact();
      return;
    }
    const log = this.#log;
    if (log === undefined) throw new Error("the log is not open");
    this.#writes++;
    await this.#fs.write(log, concat(batch.frames, batch.bytes));
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
    const pending = this.#writer.pending;
    this.#records = records + (pending?.records ?? 0);
    this.#logBytes = snapshot.length + (pending?.bytes ?? 0);
  }
}
