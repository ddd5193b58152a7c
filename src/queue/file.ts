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

import { checkInt } from "../_internal/args.ts";
import { abortable } from "../_internal/async.ts";
import { errorMessage } from "../_internal/error.ts";
import { MqttError } from "../errors.ts";
import { type DirLock, type FileHandle, joinPath, runtimeFs, type StoreFs } from "../store/_fs.ts";
import {
  concat,
  hasMagic,
  openLocked,
  preserveDamaged,
  RecordLog,
  recoveryOf,
} from "../store/_log.ts";
import { ackFrame, enqueueFrame, MAGIC, scanSegment, SEGMENT_RE, segmentName } from "./_segment.ts";
import type { PublisherQueue, QueueCallOptions } from "./types.ts";
import type { QueueBatch, QueueEntry, QueueToken } from "./types.ts";

export type * from "./types.ts";
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

const NOUN = "publisher queue";

function closedError(dir: string): MqttError {
  return new MqttError("queue-closed", `The publisher queue in ${dir} is closed`);
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

/** What one batch writes, segment by segment. */
type Batch = Map<Segment, SegmentWrite>;

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
  readonly #fsync: boolean;
  readonly #segmentBytes: number;
  readonly #cacheSegments: number;
  readonly #recovered: QueueRecovery[];

  /** Segments in sequence order; the last one takes new entries. */
  #segments: Segment[];
  #nextSeq: number;
  #len = 0;

  readonly #writer: RecordLog<Batch>;

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
    this.#fsync = options?.fsync ?? true;
    this.#segmentBytes = options?.segmentBytes ?? 4 * 1024 * 1024;
    this.#cacheSegments = options?.cacheSegments ?? 4;
    this.#segments = segments;
    this.#nextSeq = nextSeq;
    this.#recovered = recovered;
    for (const s of segments) this.#len += s.live.size;
    if (segments.length === 0) this.#segments.push(this.#newSegment(nextSeq));
    this.#writer = new RecordLog<Batch>({
      fs,
      dir,
      lock,
      noun: NOUN,
      empty: () => new Map(),
      write: (batch) => this.#commit(batch),
      written: () =>
        this.#reap().catch((err) => {
          throw new MqttError(
            "store-failed",
            `Deleting an acknowledged segment in ${dir} failed (${errorMessage(err)})`,
            { cause: err },
          );
        }),
      failure: (err) =>
        new MqttError(
          "store-failed",
          `Writing the publisher queue in ${dir} failed (${errorMessage(err)}); ` +
            "it refuses every call until it is opened again",
          { cause: err },
        ),
      abandonable: true,
      files: () => {
        const handles: FileHandle[] = [];
        for (const s of this.#segments) {
          if (s.handle === undefined) continue;
          handles.push(s.handle);
          s.handle = undefined;
        }
        return handles;
      },
    });
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
    if (options?.segmentBytes !== undefined) checkInt("segmentBytes", options.segmentBytes, 64);
    if (options?.cacheSegments !== undefined) checkInt("cacheSegments", options.cacheSegments, 1);
    const fs = options?.fs ?? await runtimeFs();
    return await openLocked(
      fs,
      dir,
      NOUN,
      (lock) => FilePublisherQueue.#openLocked(fs, dir, lock, options),
    );
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
      if (!hasMagic(bytes, MAGIC)) {
        const tornCreate = bytes.length < MAGIC.length && bytes.every((b, i) => MAGIC[i] === b);
        if (!tornCreate) {
          const r: QueueRecovery = {
            segment: name,
            skippedBytes: bytes.length,
            reason: "not a queue segment (bad header)",
            offset: 0,
          };
          await preserveDamaged(fs, path, bytes, r, true, sync);
          recovered.push(r);
          options?.onCorruption?.(r);
        }
        await fs.remove(path); // holds no record
        continue;
      }
      const keep = loaded < cacheSegments;
      const s = scanSegment(bytes, firstSeq, keep);
      maxSeq = Math.max(maxSeq, s.maxSeq);
      let size = bytes.length;
      const damage = recoveryOf(s, bytes.length);
      if (damage !== undefined) {
        const r: QueueRecovery = { segment: name, ...damage };
        await preserveDamaged(fs, path, bytes, r, s.bad?.middle === true, sync);
        recovered.push(r);
        options?.onCorruption?.(r);
        await fs.writeFileAtomic(path, bytes.subarray(0, s.end), { sync });
        size = s.end;
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
    const w = this.#writeOf(this.#writer.gather(), tail);
    w.frames.push(frame);
    w.bytes += frame.length;
    w.added.push([seq, encoded.kept]);
    return abortable(this.#writer.schedule(), options?.signal);
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
        await abortable(this.#load(seg), options?.signal);
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
      return abortable(this.#writer.barrier(), options?.signal);
    }
    return abortable(this.#remove(seg, token as number), options?.signal);
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
        await abortable(this.#load(seg), options?.signal);
        continue;
      }
      const [seq, entry] = seg.live.entries().next().value as [number, QueueEntry];
      await abortable(this.#remove(seg, seq), options?.signal);
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
    return this.#writer.close();
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

  /** What to reject with, if anything: an aborted signal's reason comes first. */
  #unusable(signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return signal.reason;
    if (this.#writer.closed) return closedError(this.#dir);
    return this.#writer.failed;
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
    let w = batch.get(seg);
    if (w === undefined) {
      w = { frames: [], bytes: 0, added: [], acks: [] };
      batch.set(seg, w);
    }
    return w;
  }

  /** Forgets a live entry now and appends its ack to the pending batch. */
  #remove(seg: Segment, seq: number): Promise<void> {
    seg.live.delete(seq);
    this.#len--;
    this.#writeOf(this.#writer.gather(), seg).acks.push(seq);
    return this.#writer.schedule();
  }

  async #commit(batch: Batch): Promise<void> {
    const fs = this.#fs;
    let created = false;
    const handles: FileHandle[] = [];
    // allSettled, not all: a failed segment write must not let close() run while the
    // other segments' writes are still in flight on their handles.
    const written = await Promise.allSettled(
      [...batch].map(async ([seg, w]) => {
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
    for (const [seg, w] of batch) {
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
      if (this.#writer.pending?.has(s)) continue;
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
        const s = scanSegment(bytes, seg.firstSeq, true);
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
