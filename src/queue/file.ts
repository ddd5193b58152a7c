/**
 * {@linkcode FilePublisherQueue}: a durable {@linkcode PublisherQueue} in a
 * directory, so that messages handed to a `QueuePublisher` survive a crash or
 * a power loss until the broker acknowledged them. It runs on Deno
 * (`Deno.*`), Node and Bun (`node:fs/promises`), through the same file layer
 * as `FileSessionStore`.
 *
 * ## On disk
 *
 * The directory holds `LOCK` (one process at a time: a second opener gets
 * `MqttError` code `store-failed` naming the holder) and append-only segment
 * files `seg-<first sequence number, 16 digits>.log`. A segment starts with
 * the 8 bytes `MQ5QSEG\x01` and continues with records, each framed as
 *
 * ```text
 * [u32 LE body length][u32 LE CRC32C of the body][body]
 * enqueue: [1][seq u64 LE][enqueuedAt f64 LE][id length u8][id UTF-8][encoded PUBLISH]
 * ack:     [2][count u32 LE][seq u64 LE] * count
 * ```
 *
 * The PUBLISH is the message encoded by the wire codec (packet identifier 1,
 * DUP 0: both are chosen per attempt when it is sent). Sequence numbers are
 * the tokens; they grow across restarts.
 *
 * A segment is self-contained: the ack of an entry is appended to the
 * segment that holds the entry, so a segment whose entries are all
 * acknowledged is deleted on its own, whatever its neighbours hold. New
 * entries go to the last segment; once it passes `segmentBytes` the next
 * entry starts a new one. The last segment is kept even when empty: its name
 * carries the sequence on.
 *
 * ## Writes: group commit
 *
 * `enqueue`, `ack` and `evictHead` put their record in the pending batch and
 * wait for it. One writer takes the whole batch, appends each segment's
 * records in one write, syncs every file it touched (`fdatasync`; the
 * directory too after creating a segment), then resolves every caller of the
 * batch. Calls made meanwhile form the next batch, so N concurrent enqueues
 * cost one sync, not N; a lone call is written at the next microtask, never
 * after a timer. An entry becomes visible to `peekBatch` only once its record
 * is synced, so nothing is sent that a crash could take back.
 *
 * ## Recovery
 *
 * {@linkcode FilePublisherQueue.open} reads every segment. A record that is
 * cut short, fails its CRC or does not decode ends that segment: what
 * precedes it is kept, the rest is skipped, reported in
 * {@linkcode FilePublisherQueue.recovered} and to `onCorruption`, and the
 * segment is rewritten without it (atomically), so that no record is ever
 * appended after garbage. When the damage is more than a torn last record the
 * original file is first kept as `<segment>.corrupt`.
 *
 * A failed write or sync leaves the files in an unknown state: the queue then
 * rejects every call with `MqttError` code `store-failed` until it is closed
 * and opened again.
 *
 * Memory: the index of every stored entry (a map entry per message) plus the
 * decoded messages of at most `cacheSegments` segments; other segments are
 * read back when `peekBatch` reaches them.
 *
 * @example Survive a restart
 * ```ts
 * import { FilePublisherQueue } from "@mqttv5/client/queue/file";
 *
 * const dir = await Deno.makeTempDir();
 * const q = await FilePublisherQueue.open(dir);
 * await q.enqueue({ publish: { topic: "meters/17", payload: "42", qos: 1 }, enqueuedAt: Date.now() });
 * await q.close();
 *
 * const again = await FilePublisherQueue.open(dir);
 * const { entries } = await again.peekBatch(10);
 * console.log(entries[0].publish.topic); // "meters/17"
 * await again.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import type { PublishOptions } from "../client/types.ts";
import { MqttError } from "../errors.ts";
import { FRAME_HEAD, getU32, putU32, readFrame, sealFrame } from "../store/_frame.ts";
import {
  type DirLock,
  type FileHandle,
  joinPath,
  LockHeldError,
  runtimeFs,
  type StoreFs,
} from "../store/_fs.ts";
import { encodePacketInto, PacketDecoder, packetLength } from "../wire/mod.ts";
import type { PublishPacket, PublishProperties } from "../wire/mod.ts";
import type {
  PublisherQueue,
  QueueBatch,
  QueueCallOptions,
  QueueEntry,
  QueueToken,
} from "./publisher.ts";

export type {
  PublisherQueue,
  QueueBatch,
  QueueCallOptions,
  QueueEntry,
  QueueToken,
} from "./publisher.ts";
export type { PublishOptions } from "../client/types.ts";
export type { PublishProperties, QoS, UserProperty } from "../wire/mod.ts";
export { runtimeFs } from "../store/_fs.ts";
export type {
  DirLock,
  FileHandle,
  FsyncOptions,
  StoreFs,
  WriteFileAtomicOptions,
} from "../store/_fs.ts";

/**
 * What {@linkcode FilePublisherQueue.open} skipped in one segment that ended in a bad record.
 *
 * @example Log what a reopen skipped
 * ```ts
 * import { FilePublisherQueue, type QueueRecovery } from "@mqttv5/client/queue/file";
 *
 * const dir = await Deno.makeTempDir();
 * const report = (r: QueueRecovery) => console.warn(`${r.segment}: skipped ${r.skippedBytes} bytes`);
 * await using queue = await FilePublisherQueue.open(dir, { onCorruption: report });
 * console.log(await queue.len()); // 0
 * ```
 */
export interface QueueRecovery {
  /** The segment file (its name, e.g. `seg-0000000000000001.log`). */
  segment: string;
  /** Bytes of the segment that were not read (the bad record and everything after it). */
  skippedBytes: number;
  /** What was wrong, for a human: the kind of damage and where it was. */
  reason: string;
  /** The offset in the segment where reading stopped. */
  offset: number;
  /** Where the original segment was kept, when the damage was more than a torn last record. */
  preservedAs?: string;
}

/**
 * Options of {@linkcode FilePublisherQueue.open}.
 *
 * @example Keep more segments cached
 * ```ts
 * import type { FilePublisherQueueOptions } from "@mqttv5/client/queue/file";
 *
 * const options: FilePublisherQueueOptions = { cacheSegments: 8 };
 * ```
 */
export interface FilePublisherQueueOptions {
  /**
   * Sync every batch of records to the device before the calls that wrote
   * them resolve. Turn it off only where losing the last changes in a power
   * loss is acceptable (tests): a process crash still loses nothing.
   *
   * @default {true}
   */
  fsync?: boolean;
  /**
   * A segment that has reached this size takes no new entries (one entry
   * larger than this gets a segment of its own).
   *
   * @default {4194304}
   */
  segmentBytes?: number;
  /**
   * How many segments keep their decoded messages in memory; the others are
   * read back from disk when `peekBatch` reaches them.
   *
   * @default {4}
   */
  cacheSegments?: number;
  /** Called during {@linkcode FilePublisherQueue.open} for each segment that ended in a bad record. */
  onCorruption?: (recovery: QueueRecovery) => void;
  /**
   * The file-system layer. Defaults to the runtime's (`Deno.*` under Deno,
   * `node:fs/promises` under Node and Bun); tests pass an instrumented one.
   *
   * @default {the runtime's file system}
   */
  fs?: StoreFs;
}

/**
 * Counters of a {@linkcode FilePublisherQueue}, from {@linkcode FilePublisherQueue.stats}.
 *
 * @example Enqueues made together share one commit
 * ```ts
 * import { FilePublisherQueue } from "@mqttv5/client/queue/file";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await using queue = await FilePublisherQueue.open(dir);
 * const entry = (i: number) => ({ publish: { topic: `t/${i}`, qos: 1 as const }, enqueuedAt: Date.now() });
 * await Promise.all([1, 2, 3, 4].map((i) => queue.enqueue(entry(i))));
 * assert.ok(queue.stats.commits < 4);
 * ```
 */
export interface FilePublisherQueueStats {
  /** Batches written (one per group commit). */
  commits: number;
  /** File and directory syncs. */
  fsyncs: number;
  /** Records written (enqueues and ack records; one ack record covers a batch's acks of one segment). */
  records: number;
  /** Segment files now. */
  segments: number;
  /** Segment files deleted since open because every entry in them was acknowledged. */
  segmentsDeleted: number;
  /** Segment files read back from disk since open (cache misses). */
  segmentLoads: number;
  /** Entries stored now. */
  entries: number;
}

const MAGIC = new Uint8Array([0x4d, 0x51, 0x35, 0x51, 0x53, 0x45, 0x47, 0x01]); // "MQ5QSEG" 1
const OP_ENQUEUE = 1;
const OP_ACK = 2;
/** op + seq + enqueuedAt + id length. */
const ENQ_FIXED = 1 + 8 + 8 + 1;
/** Largest body: the fixed part, a 255-byte id, the largest MQTT packet. */
const MAX_BODY = ENQ_FIXED + 255 + 268_435_460;
const SEGMENT_RE = /^seg-(\d{16})\.log$/;
const RESOLVED: Promise<void> = Promise.resolve();
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function segmentName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, "0")}.log`;
}

function putSeq(b: Uint8Array, at: number, seq: number): void {
  putU32(b, at, seq >>> 0);
  putU32(b, at + 4, Math.floor(seq / 0x1_0000_0000));
}

function getSeq(b: Uint8Array, at: number): number {
  return getU32(b, at) + getU32(b, at + 4) * 0x1_0000_0000;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function closedError(dir: string): MqttError {
  return new MqttError("queue-closed", `The publisher queue in ${dir} is closed`);
}

/**
 * Encodes an enqueue record; returns it with the entry as the queue keeps it
 * in memory (its payload a view of the record).
 */
function enqueueFrame(seq: number, entry: QueueEntry): { frame: Uint8Array; kept: QueueEntry } {
  if (entry === null || typeof entry !== "object") {
    throw new TypeError("Cannot enqueue: the entry must be an object");
  }
  const p = entry.publish;
  if (p === null || typeof p !== "object" || typeof p.topic !== "string") {
    throw new TypeError("Cannot enqueue: entry.publish must be an object with a string topic");
  }
  if (typeof entry.enqueuedAt !== "number" || !Number.isFinite(entry.enqueuedAt)) {
    throw new TypeError(
      `Cannot enqueue: entry.enqueuedAt must be a finite number, got ${String(entry.enqueuedAt)}`,
    );
  }
  if (entry.id !== undefined && typeof entry.id !== "string") {
    throw new TypeError("Cannot enqueue: entry.id must be a string");
  }
  const id = entry.id === undefined ? new Uint8Array(0) : encoder.encode(entry.id);
  if (id.length > 255) {
    throw new RangeError(`Cannot enqueue: entry.id takes ${id.length} bytes, at most 255 fit`);
  }
  const raw = p.payload;
  const payload = raw === undefined
    ? new Uint8Array(0)
    : typeof raw === "string"
    ? encoder.encode(raw)
    : raw;
  if (!(payload instanceof Uint8Array)) {
    throw new TypeError("Cannot enqueue: the payload must be a Uint8Array or a string");
  }
  const qos = p.qos ?? 0;
  const properties = p.properties === undefined ? undefined : copyProperties(p.properties);
  const packet: PublishPacket = {
    type: 3,
    topic: p.topic,
    payload,
    qos,
    retain: p.retain === true,
    dup: false,
    properties,
  };
  if (qos > 0) packet.packetId = 1;
  const head = FRAME_HEAD + ENQ_FIXED + id.length;
  const frame = new Uint8Array(head + packetLength(packet));
  frame[FRAME_HEAD] = OP_ENQUEUE;
  putSeq(frame, FRAME_HEAD + 1, seq);
  new DataView(frame.buffer).setFloat64(FRAME_HEAD + 9, entry.enqueuedAt, true);
  frame[FRAME_HEAD + 17] = id.length;
  frame.set(id, FRAME_HEAD + ENQ_FIXED);
  encodePacketInto(packet, frame, head);
  sealFrame(frame);
  const publish: PublishOptions = {
    topic: p.topic,
    payload: frame.subarray(frame.length - payload.length),
    qos,
  };
  if (p.retain === true) publish.retain = true;
  if (properties !== undefined && Object.keys(properties).length > 0) {
    publish.properties = properties;
  }
  const kept: QueueEntry = { publish, enqueuedAt: entry.enqueuedAt };
  if (entry.id !== undefined) kept.id = entry.id;
  return { frame, kept };
}

function copyProperties(p: PublishProperties): PublishProperties {
  const c: PublishProperties = { ...p };
  if (p.userProperties !== undefined) c.userProperties = p.userProperties.map(([k, v]) => [k, v]);
  if (p.correlationData !== undefined) c.correlationData = p.correlationData.slice();
  if (p.subscriptionIdentifiers !== undefined) {
    c.subscriptionIdentifiers = [...p.subscriptionIdentifiers];
  }
  return c;
}

function ackFrame(seqs: number[]): Uint8Array {
  const frame = new Uint8Array(FRAME_HEAD + 5 + 8 * seqs.length);
  frame[FRAME_HEAD] = OP_ACK;
  putU32(frame, FRAME_HEAD + 1, seqs.length);
  let at = FRAME_HEAD + 5;
  for (const s of seqs) {
    putSeq(frame, at, s);
    at += 8;
  }
  return sealFrame(frame);
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A segment as read from disk. */
interface Scan {
  /** Live entries (enqueued, not acknowledged) in order; values only when decoded entries were asked for. */
  live: Map<number, QueueEntry | null>;
  /** Enqueue records in the segment. */
  total: number;
  /** The highest sequence number seen. */
  maxSeq: number;
  /** Bytes up to the end of the last good record. */
  validLength: number;
  bad: { reason: string; middle: boolean } | undefined;
}

function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Reads a segment's records (after the header); stops at the first bad one. */
function scan(bytes: Uint8Array, firstSeq: number, keep: boolean): Scan {
  const live = new Map<number, QueueEntry | null>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let pd = new PacketDecoder();
  let pos = MAGIC.length;
  let total = 0;
  let maxSeq = firstSeq - 1;
  let bad: Scan["bad"];
  while (pos < n) {
    const frame = readFrame(bytes, pos, 5, MAX_BODY);
    if (frame.bad !== undefined) {
      bad = frame.bad;
      break;
    }
    const { body, end } = frame;
    const len = body.length;
    const op = body[0];
    if (op === OP_ENQUEUE && len > ENQ_FIXED) {
      const seq = getSeq(body, 1);
      const idLen = body[17];
      if (seq <= maxSeq || !Number.isSafeInteger(seq) || ENQ_FIXED + idLen >= len) {
        bad = { reason: `malformed enqueue record (sequence ${seq})`, middle: true };
        break;
      }
      let entry: QueueEntry | undefined;
      try {
        const enqueuedAt = view.getFloat64(pos + FRAME_HEAD + 9, true);
        const id = idLen === 0
          ? undefined
          : decoder.decode(body.subarray(ENQ_FIXED, ENQ_FIXED + idLen));
        const packets = pd.push(body.subarray(ENQ_FIXED + idLen));
        const p = packets[0];
        if (packets.length === 1 && pd.buffered === 0 && p.type === 3) {
          const publish: PublishOptions = { topic: p.topic, payload: p.payload, qos: p.qos };
          if (p.retain) publish.retain = true;
          if (p.properties !== undefined && Object.keys(p.properties).length > 0) {
            publish.properties = p.properties;
          }
          entry = { publish, enqueuedAt };
          if (id !== undefined) entry.id = id;
        }
      } catch {
        entry = undefined;
      }
      if (entry === undefined) {
        pd = new PacketDecoder();
        bad = { reason: `undecodable message in the record of sequence ${seq}`, middle: true };
        break;
      }
      live.set(seq, keep ? entry : null);
      total++;
      maxSeq = seq;
    } else if (op === OP_ACK && len === 5 + 8 * getU32(body, 1)) {
      const count = getU32(body, 1);
      for (let i = 0; i < count; i++) live.delete(getSeq(body, 5 + 8 * i));
    } else {
      bad = { reason: `malformed record (type ${op}, ${len} bytes)`, middle: true };
      break;
    }
    pos = end;
  }
  if (bad !== undefined && bad.middle && isZero(bytes.subarray(pos))) {
    // A crash can leave the end of a file allocated but never written.
    bad = { reason: `zero-filled tail (${bad.reason})`, middle: false };
  }
  return { live, total, maxSeq, validLength: pos, bad };
}

interface Segment {
  readonly firstSeq: number;
  readonly name: string;
  readonly path: string;
  /** Stored entries not yet acknowledged, in order; `null` values when not loaded. */
  live: Map<number, QueueEntry | null>;
  /** Whether every value of `live` is present. */
  loaded: boolean;
  loading: Promise<void> | undefined;
  /** Enqueue records written or pending. */
  total: number;
  /** Enqueue records pending in a batch. */
  pendingEnq: number;
  /** File size, counting pending records. */
  bytes: number;
  /** Whether the file exists (its header written). */
  onDisk: boolean;
  handle: FileHandle | undefined;
  deleted: boolean;
}

/** What one batch writes to one segment. */
interface SegmentWrite {
  frames: Uint8Array[];
  bytes: number;
  added: [number, QueueEntry][];
  acks: number[];
}

interface Batch {
  writes: Map<Segment, SegmentWrite>;
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
  promise.catch(() => {});
  return { writes: new Map(), promise, resolve, reject };
}

function race<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * A crash-safe {@linkcode PublisherQueue} in a directory of append-only
 * segment files (see the module documentation for the format and the group
 * commit). Open it with {@linkcode FilePublisherQueue.open}; one process at a
 * time may hold a directory. Tokens are sequence numbers.
 *
 * @example With a QueuePublisher
 * ```ts ignore
 * import { Client, QueuePublisher } from "@mqttv5/client";
 * import { FilePublisherQueue } from "@mqttv5/client/queue/file";
 *
 * const queue = await FilePublisherQueue.open("./state/outbox");
 * if (queue.recovered.length > 0) console.warn("outbox damaged:", queue.recovered);
 * const client = new Client({ broker: "mqtt://localhost:1883", clientId: "meter-17" });
 * const publisher = new QueuePublisher(client, queue);
 * await publisher.publish({ topic: "meters/17", payload: "42", qos: 1 }); // on disk now
 * await client.connect();
 * ```
 */
export class FilePublisherQueue implements PublisherQueue, AsyncDisposable {
  readonly #fs: StoreFs;
  readonly #dir: string;
  readonly #lock: DirLock;
  readonly #fsync: boolean;
  readonly #segmentBytes: number;
  readonly #cacheSegments: number;
  readonly #recovered: QueueRecovery[];

  /** Segments in sequence order; the last one takes new entries. */
  #segments: Segment[];
  #nextSeq: number;
  #len = 0;

  #pending: Batch | undefined;
  #inflight: Batch | undefined;
  #draining: Promise<void> | undefined;
  #failed: MqttError | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  #stats = { commits: 0, fsyncs: 0, records: 0, segmentsDeleted: 0, segmentLoads: 0 };

  private constructor(
    fs: StoreFs,
    dir: string,
    lock: DirLock,
    options: FilePublisherQueueOptions | undefined,
    segments: Segment[],
    nextSeq: number,
    recovered: QueueRecovery[],
  ) {
    this.#fs = fs;
    this.#dir = dir;
    this.#lock = lock;
    this.#fsync = options?.fsync ?? true;
    this.#segmentBytes = options?.segmentBytes ?? 4 * 1024 * 1024;
    this.#cacheSegments = options?.cacheSegments ?? 4;
    this.#segments = segments;
    this.#nextSeq = nextSeq;
    this.#recovered = recovered;
    for (const s of segments) this.#len += s.live.size;
    if (segments.length === 0) this.#segments.push(this.#newSegment(nextSeq));
  }

  /**
   * Opens (creating when missing) the queue in `dir` and reads its segments.
   * Damaged segments are not an error: what precedes the first bad record of
   * each is kept and the rest reported in {@linkcode FilePublisherQueue.recovered}.
   *
   * @param dir The directory; created with its parents when missing.
   * @param options Sync, segment size, cache size, a corruption callback.
   * @returns The open queue, holding the directory's lock until
   * {@linkcode FilePublisherQueue.close}.
   * @throws {MqttError} With code `"store-failed"` when another process (or
   * another queue in this process) holds the directory, or on an I/O error.
   * @throws {RangeError} When an option is out of range.
   *
   * @example Usage
   * ```ts
   * import { FilePublisherQueue } from "@mqttv5/client/queue/file";
   *
   * const dir = await Deno.makeTempDir();
   * await using q = await FilePublisherQueue.open(dir, {
   *   onCorruption: (r) => console.warn(`${r.segment}: skipped ${r.skippedBytes} bytes: ${r.reason}`),
   * });
   * console.log(await q.len()); // 0
   * ```
   */
  static async open(dir: string, options?: FilePublisherQueueOptions): Promise<FilePublisherQueue> {
    const seg = options?.segmentBytes;
    if (seg !== undefined && !(Number.isInteger(seg) && seg >= 64)) {
      throw new RangeError(`segmentBytes must be an integer >= 64, got ${String(seg)}`);
    }
    const cache = options?.cacheSegments;
    if (cache !== undefined && !(Number.isInteger(cache) && cache >= 1)) {
      throw new RangeError(`cacheSegments must be a positive integer, got ${String(cache)}`);
    }
    const fs = options?.fs ?? await runtimeFs();
    let lock: DirLock;
    try {
      await fs.mkdirp(dir);
      lock = await fs.lock(dir);
    } catch (err) {
      const why = err instanceof LockHeldError ? err.message : `${dir}: ${message(err)}`;
      throw new MqttError("store-failed", `Cannot open the publisher queue: ${why}`, {
        cause: err,
      });
    }
    try {
      return await FilePublisherQueue.#openLocked(fs, dir, lock, options);
    } catch (err) {
      await fs.unlock(lock).catch(() => {});
      if (err instanceof MqttError) throw err;
      throw new MqttError(
        "store-failed",
        `Cannot open the publisher queue in ${dir}: ${message(err)}`,
        { cause: err },
      );
    }
  }

  static async #openLocked(
    fs: StoreFs,
    dir: string,
    lock: DirLock,
    options: FilePublisherQueueOptions | undefined,
  ): Promise<FilePublisherQueue> {
    const sync = options?.fsync ?? true;
    const cacheSegments = options?.cacheSegments ?? 4;
    const names = await fs.readDir(dir);
    for (const name of names) {
      if (name.endsWith(".tmp")) await fs.remove(joinPath(dir, name)); // a rewrite that crashed
    }
    const found = names
      .map((name) => ({ name, m: SEGMENT_RE.exec(name) }))
      .filter((x) => x.m !== null)
      .map((x) => ({ name: x.name, firstSeq: Number(x.m![1]) }))
      .sort((a, b) => a.firstSeq - b.firstSeq);
    const recovered: QueueRecovery[] = [];
    const segments: Segment[] = [];
    let maxSeq = 0;
    let loaded = 0;
    for (const { name, firstSeq } of found) {
      const path = joinPath(dir, name);
      const bytes = await fs.readFile(path);
      if (bytes === undefined) continue;
      maxSeq = Math.max(maxSeq, firstSeq - 1);
      const headerOk = bytes.length >= MAGIC.length && MAGIC.every((b, i) => bytes[i] === b);
      if (!headerOk) {
        const tornCreate = bytes.length < MAGIC.length && bytes.every((b, i) => MAGIC[i] === b);
        if (!tornCreate) {
          const kept = path + ".corrupt";
          await fs.writeFileAtomic(kept, bytes, { sync });
          const r: QueueRecovery = {
            segment: name,
            skippedBytes: bytes.length,
            reason: "not a queue segment (bad header)",
            offset: 0,
            preservedAs: kept,
          };
          recovered.push(r);
          options?.onCorruption?.(r);
        }
        await fs.remove(path); // holds no record
        continue;
      }
      const keep = loaded < cacheSegments;
      const s = scan(bytes, firstSeq, keep);
      maxSeq = Math.max(maxSeq, s.maxSeq);
      let size = bytes.length;
      if (s.bad !== undefined) {
        const r: QueueRecovery = {
          segment: name,
          skippedBytes: bytes.length - s.validLength,
          reason: `${s.bad.reason} at offset ${s.validLength}`,
          offset: s.validLength,
        };
        if (s.bad.middle) {
          const kept = path + ".corrupt";
          await fs.writeFileAtomic(kept, bytes, { sync });
          r.preservedAs = kept;
        }
        recovered.push(r);
        options?.onCorruption?.(r);
        await fs.writeFileAtomic(path, bytes.subarray(0, s.validLength), { sync });
        size = s.validLength;
      }
      if (keep && s.live.size > 0) loaded++;
      segments.push({
        firstSeq,
        name,
        path,
        live: s.live,
        loaded: keep || s.live.size === 0,
        loading: undefined,
        total: s.total,
        pendingEnq: 0,
        bytes: size,
        onDisk: true,
        handle: undefined,
        deleted: false,
      });
    }
    // Segments with nothing left to send, except the last (it carries the sequence on).
    const kept: Segment[] = [];
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i];
      if (i < segments.length - 1 && s.live.size === 0) await fs.remove(s.path);
      else kept.push(s);
    }
    return new FilePublisherQueue(fs, dir, lock, options, kept, maxSeq + 1, recovered);
  }

  /** Always `true`: the head is evicted by acknowledging it. */
  get canEvict(): boolean {
    return true;
  }

  /** What {@linkcode FilePublisherQueue.open} skipped, one report per damaged segment; empty when clean. */
  get recovered(): QueueRecovery[] {
    return this.#recovered;
  }

  /** The directory the queue lives in. */
  get dir(): string {
    return this.#dir;
  }

  /** Counters since open and the current size. */
  get stats(): FilePublisherQueueStats {
    return {
      ...this.#stats,
      segments: this.#segments.filter((s) => s.onDisk || s.pendingEnq > 0).length,
      entries: this.#len,
    };
  }

  /**
   * Appends an entry; resolves once its record is synced to disk (grouped
   * with the records of concurrent calls into one sync).
   *
   * @param entry The entry; its `id` (at most 255 bytes) is kept.
   * @param options `signal` stops waiting (the entry may still be stored).
   * @returns Resolves once the entry is durable.
   * @throws {MqttError} (as a rejection) `queue-closed` after close,
   * `store-failed` when a write fails (or an earlier one did).
   * @throws {TypeError} (as a rejection) For an entry that cannot be encoded.
   * @throws {unknown} (as a rejection) `signal.reason`, unchanged, when `options.signal` is
   * already aborted (checked first: nothing is stored) or aborts before the
   * entry is durable (it may still be stored).
   *
   * @example Usage
   * ```ts
   * import { FilePublisherQueue } from "@mqttv5/client/queue/file";
   *
   * const dir = await Deno.makeTempDir();
   * await using q = await FilePublisherQueue.open(dir);
   * // 64 concurrent enqueues share a handful of syncs.
   * await Promise.all(Array.from({ length: 64 }, (_, i) =>
   *   q.enqueue({ publish: { topic: `t/${i}`, qos: 1 }, enqueuedAt: Date.now() })));
   * console.log(await q.len(), q.stats.commits < 64); // 64 true
   * ```
   */
  enqueue(entry: QueueEntry, options?: QueueCallOptions): Promise<void> {
    const bad = this.#unusable(options?.signal);
    if (bad !== undefined) return Promise.reject(bad);
    const seq = this.#nextSeq;
    let encoded: { frame: Uint8Array; kept: QueueEntry };
    try {
      encoded = enqueueFrame(seq, entry);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#nextSeq++;
    const frame = encoded.frame;
    let tail = this.#segments[this.#segments.length - 1];
    if (tail.total > 0 && tail.bytes + frame.length > this.#segmentBytes) {
      tail = this.#newSegment(seq);
      this.#segments.push(tail);
    }
    tail.total++;
    tail.pendingEnq++;
    tail.bytes += frame.length;
    const batch = this.#pending ??= newBatch();
    const w = this.#writeOf(batch, tail);
    w.frames.push(frame);
    w.bytes += frame.length;
    w.added.push([seq, encoded.kept]);
    this.#schedule();
    return race(batch.promise, options?.signal);
  }

  /**
   * The oldest `n` entries with their tokens (sequence numbers), without
   * removing them. Reads segments back from disk when they are not cached.
   *
   * @param n How many at most; a non-negative integer.
   * @param options `signal` stops waiting.
   * @returns The entries, oldest first, and their tokens.
   * @throws {RangeError} (as a rejection) When `n` is not a non-negative integer.
   * @throws {MqttError} (as a rejection) `queue-closed`, `store-failed`.
   * @throws {unknown} (as a rejection) `signal.reason`, unchanged, when `options.signal` is
   * already aborted (checked first) or aborts while a segment is read.
   */
  async peekBatch(n: number, options?: QueueCallOptions): Promise<QueueBatch> {
    const bad = this.#unusable(options?.signal) ??
      (Number.isInteger(n) && n >= 0
        ? undefined
        : new RangeError(`peekBatch needs a non-negative integer, got ${String(n)}`));
    if (bad !== undefined) throw bad;
    const entries: QueueEntry[] = [];
    const tokens: QueueToken[] = [];
    if (n === 0) return { entries, tokens };
    let last = -1;
    const segments = this.#segments.slice();
    for (let i = 0; i < segments.length && entries.length < n; i++) {
      const seg = segments[i];
      if (seg.deleted || seg.live.size === 0) continue;
      for (let attempt = 0; !seg.loaded; attempt++) {
        if (attempt === 3) {
          throw new MqttError("store-failed", `${seg.name} does not hold the entries it should`);
        }
        await race(this.#load(seg), options?.signal);
        const again = this.#unusable(undefined);
        if (again !== undefined) throw again;
      }
      last = i;
      for (const [seq, entry] of seg.live) {
        if (entry === null) continue;
        entries.push(entry);
        tokens.push(seq);
        if (entries.length === n) break;
      }
    }
    this.#trimCache(last);
    return { entries, tokens };
  }

  /**
   * Removes the entry `token` names; resolves once the removal is synced.
   * Unknown tokens do nothing (resolving once earlier writes are done).
   *
   * @param token A token from {@linkcode FilePublisherQueue.peekBatch}.
   * @param options `signal` stops waiting.
   * @returns Resolves once the ack is durable.
   * @throws {MqttError} (as a rejection) `queue-closed`, `store-failed`.
   * @throws {unknown} (as a rejection) `signal.reason`, unchanged, when `options.signal` is
   * already aborted (checked first: the entry stays) or aborts before the
   * ack is durable (the entry is removed all the same).
   */
  ack(token: QueueToken, options?: QueueCallOptions): Promise<void> {
    const bad = this.#unusable(options?.signal);
    if (bad !== undefined) return Promise.reject(bad);
    const seg = typeof token === "number" ? this.#segmentOf(token) : undefined;
    if (seg === undefined || !seg.live.has(token as number)) {
      return race(this.#barrier(), options?.signal);
    }
    return race(this.#remove(seg, token as number), options?.signal);
  }

  /**
   * Removes the oldest entry and returns it, once the removal is synced.
   *
   * @param options `signal` stops waiting.
   * @returns The evicted entry, or `undefined` when the queue is empty.
   * @throws {MqttError} (as a rejection) `queue-closed`, `store-failed`.
   * @throws {unknown} (as a rejection) `signal.reason`, unchanged, when `options.signal` is
   * already aborted (checked first: the head stays) or aborts during the call
   * (once the removal is under way, the head is removed all the same).
   */
  async evictHead(options?: QueueCallOptions): Promise<QueueEntry | undefined> {
    for (;;) {
      const bad = this.#unusable(options?.signal);
      if (bad !== undefined) throw bad;
      const seg = this.#segments.find((s) => s.live.size > 0);
      if (seg === undefined) return undefined;
      if (!seg.loaded) {
        await race(this.#load(seg), options?.signal);
        continue;
      }
      const [seq, entry] = seg.live.entries().next().value as [number, QueueEntry];
      await race(this.#remove(seg, seq), options?.signal);
      return entry;
    }
  }

  /**
   * The number of stored (synced) entries.
   *
   * @param options `signal`: rejects with its reason when already aborted.
   * @returns The count.
   * @throws {MqttError} (as a rejection) `queue-closed`, `store-failed`.
   * @throws {unknown} (as a rejection) `signal.reason`, unchanged, when `options.signal` is
   * already aborted (checked first).
   */
  len(options?: QueueCallOptions): Promise<number> {
    const bad = this.#unusable(options?.signal);
    if (bad !== undefined) return Promise.reject(bad);
    return Promise.resolve(this.#len);
  }

  /**
   * Waits for the writes in flight, closes the files and releases the
   * directory's lock. Later calls reject with `queue-closed`. Idempotent.
   *
   * @returns Resolves once the lock is released.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /**
   * The same as {@linkcode FilePublisherQueue.close}, for `await using`.
   *
   * @returns Resolves once pending writes are durable and the lock is released.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // -------------------------------------------------------------------------

  async #close(): Promise<void> {
    this.#closed = true;
    while (this.#draining !== undefined) await this.#draining;
    let first: unknown;
    for (const s of this.#segments) {
      if (s.handle === undefined) continue;
      const h = s.handle;
      s.handle = undefined;
      await this.#fs.close(h).catch((err) => first ??= err);
    }
    await this.#fs.unlock(this.#lock).catch((err) => first ??= err);
    if (first !== undefined) {
      throw new MqttError("store-failed", `Closing the publisher queue in ${this.#dir} failed`, {
        cause: first,
      });
    }
  }

  /** What to reject with, if anything: an aborted signal's reason comes first. */
  #unusable(signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return signal.reason;
    if (this.#closed) return closedError(this.#dir);
    if (this.#failed !== undefined) return this.#failed;
    return undefined;
  }

  #newSegment(firstSeq: number): Segment {
    const name = segmentName(firstSeq);
    const loaded = this.#segments.filter((s) => s.loaded && s.live.size > 0).length;
    return {
      firstSeq,
      name,
      path: joinPath(this.#dir, name),
      live: new Map(),
      loaded: loaded < this.#cacheSegments,
      loading: undefined,
      total: 0,
      pendingEnq: 0,
      bytes: MAGIC.length,
      onDisk: false,
      handle: undefined,
      deleted: false,
    };
  }

  #segmentOf(seq: number): Segment | undefined {
    const segs = this.#segments;
    let lo = 0;
    let hi = segs.length - 1;
    let found: Segment | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (segs[mid].firstSeq <= seq) {
        found = segs[mid];
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  #writeOf(batch: Batch, seg: Segment): SegmentWrite {
    let w = batch.writes.get(seg);
    if (w === undefined) {
      w = { frames: [], bytes: 0, added: [], acks: [] };
      batch.writes.set(seg, w);
    }
    return w;
  }

  /** Forgets a live entry now and appends its ack to the pending batch. */
  #remove(seg: Segment, seq: number): Promise<void> {
    seg.live.delete(seq);
    this.#len--;
    const batch = this.#pending ??= newBatch();
    this.#writeOf(batch, seg).acks.push(seq);
    this.#schedule();
    return batch.promise;
  }

  #barrier(): Promise<void> {
    return this.#pending?.promise ?? this.#inflight?.promise ?? RESOLVED;
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
          await this.#commit(batch);
        } catch (err) {
          this.#failed ??= new MqttError(
            "store-failed",
            `Writing the publisher queue in ${this.#dir} failed (${message(err)}); ` +
              "it refuses every call until it is opened again",
            { cause: err },
          );
          batch.reject(this.#failed);
          break;
        } finally {
          this.#inflight = undefined;
        }
        batch.resolve();
        try {
          await this.#reap();
        } catch (err) {
          this.#failed ??= new MqttError(
            "store-failed",
            `Deleting an acknowledged segment in ${this.#dir} failed (${message(err)})`,
            { cause: err },
          );
        }
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

  async #commit(batch: Batch): Promise<void> {
    const fs = this.#fs;
    let created = false;
    const handles: FileHandle[] = [];
    // allSettled, not all: a failed segment write must not let close() run while the
    // other segments' writes are still in flight on their handles.
    const written = await Promise.allSettled(
      [...batch.writes].map(async ([seg, w]) => {
        const parts: Uint8Array[] = [];
        let total = w.bytes;
        if (!seg.onDisk) {
          parts.push(MAGIC);
          total += MAGIC.length;
          created = true;
        }
        parts.push(...w.frames);
        if (w.acks.length > 0) {
          const a = ackFrame(w.acks);
          parts.push(a);
          total += a.length;
          seg.bytes += a.length;
          this.#stats.records++;
        }
        this.#stats.records += w.frames.length;
        seg.handle ??= await fs.openAppend(seg.path);
        await fs.write(seg.handle, concat(parts, total));
        handles.push(seg.handle);
      }),
    );
    for (const r of written) if (r.status === "rejected") throw r.reason;
    this.#stats.commits++;
    if (this.#fsync) {
      await Promise.all(handles.map((h) => fs.fsync(h)));
      this.#stats.fsyncs += handles.length;
      if (created) {
        await fs.syncDir(this.#dir);
        this.#stats.fsyncs++;
      }
    }
    // Durable: the new entries become visible, in sequence order.
    for (const [seg, w] of batch.writes) {
      seg.onDisk = true;
      seg.pendingEnq -= w.added.length;
      for (const [seq, entry] of w.added) seg.live.set(seq, seg.loaded ? entry : null);
      this.#len += w.added.length;
    }
  }

  /** Deletes the segments (but the last) whose entries are all acknowledged. */
  async #reap(): Promise<void> {
    const segs = this.#segments;
    const last = segs[segs.length - 1];
    for (const s of segs) {
      if (s === last || s.live.size > 0 || s.pendingEnq > 0 || s.loading !== undefined) continue;
      if (this.#pending?.writes.has(s)) continue;
      s.deleted = true;
    }
    const dead = segs.filter((s) => s.deleted);
    if (dead.length === 0) return;
    this.#segments = segs.filter((s) => !s.deleted);
    for (const s of dead) {
      if (s.handle !== undefined) {
        const h = s.handle;
        s.handle = undefined;
        await this.#fs.close(h);
      }
      if (s.onDisk) await this.#fs.remove(s.path);
      this.#stats.segmentsDeleted++;
    }
  }

  /** Reads a segment back from disk and fills in its live entries. */
  #load(seg: Segment): Promise<void> {
    seg.loading ??= (async () => {
      try {
        this.#stats.segmentLoads++;
        const bytes = await this.#fs.readFile(seg.path);
        if (bytes === undefined) {
          throw new MqttError("store-failed", `${seg.path} vanished while it holds entries`);
        }
        // The last record may be half-written by a concurrent append: only
        // entries already live are taken, and those were synced before.
        const s = scan(bytes, seg.firstSeq, true);
        let missing = false;
        for (const [seq, v] of seg.live) {
          if (v !== null) continue;
          const e = s.live.get(seq);
          if (e === undefined || e === null) missing = true;
          else seg.live.set(seq, e);
        }
        seg.loaded = !missing;
      } finally {
        seg.loading = undefined;
      }
    })();
    return seg.loading;
  }

  /** Keeps at most `cacheSegments` segments decoded, preferring those nearest the head. */
  #trimCache(lastUsed: number): void {
    let loaded = 0;
    const segs = this.#segments;
    for (const s of segs) if (s.loaded && s.live.size > 0) loaded++;
    for (let i = segs.length - 1; i > lastUsed && loaded > this.#cacheSegments; i--) {
      const s = segs[i];
      if (!s.loaded || s.live.size === 0 || s.loading !== undefined) continue;
      for (const k of s.live.keys()) s.live.set(k, null);
      s.loaded = false;
      loaded--;
    }
  }
}
