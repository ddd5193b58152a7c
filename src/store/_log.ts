/**
 * The record log under `FileSessionStore` (one `session.log`) and
 * `FilePublisherQueue` (one log per segment): everything the two share, so
 * that each keeps only its own records and what they mean.
 *
 * - Framing: `[u32 LE body length][u32 LE CRC32C of the body][body]`, and the
 *   reader that tells a torn tail from damage in the middle.
 * - Scanning at open: records up to the first bad one, a zero-filled tail
 *   counted as torn, the report of what was skipped, a copy of a file whose
 *   damage is more than a torn tail.
 * - The locked open of the directory (its `LOCK` file).
 * - {@linkcode RecordLog}: group commit (the records of the calls made while
 *   one write is in flight form the next write, so N concurrent calls cost
 *   one sync), the failed state after a bad write, and the close.
 *
 * Internal: not exported from any entry point.
 *
 * @module
 */

import { deferred } from "../_internal/async.ts";
import { errorMessage } from "../_internal/error.ts";
import { MqttError } from "../errors.ts";
import { crc32c } from "./crc32c.ts";
import { type DirLock, type FileHandle, LockHeldError, type StoreFs } from "./_fs.ts";

// ---------------------------------------------------------------------------
// Framing

/** Bytes before a record's body: its length and its CRC32C. */
export const FRAME_HEAD = 8;

/** Writes `v` as a little-endian u32 at `b[at]`. */
export function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

/** Reads a little-endian u32 at `b[at]`. */
export function getU32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

/** Fills in the length and CRC of a frame whose body (after FRAME_HEAD) is written. */
export function sealFrame(frame: Uint8Array): Uint8Array {
  putU32(frame, 0, frame.length - FRAME_HEAD);
  putU32(frame, 4, crc32c(frame.subarray(FRAME_HEAD)));
  return frame;
}

/** Why a log stops being readable at some offset; `middle`: more bytes follow the damage. */
export interface BadRecord {
  reason: string;
  middle: boolean;
}

/** The record at `pos` (its body and where the next one starts), or why there is none. */
export type FrameRead =
  | { body: Uint8Array; end: number; bad?: undefined }
  | { body?: undefined; end?: undefined; bad: BadRecord };

/**
 * Reads the framed record at `bytes[pos]`. A torn header, a truncated body or
 * a bad CRC on the last record are torn writes (`middle: false`); an
 * impossible length, a bad CRC with bytes after it, or a length running past
 * the end with whole valid records after it is damage in the middle.
 */
export function readFrame(
  bytes: Uint8Array,
  pos: number,
  minLen: number,
  maxBody: number,
): FrameRead {
  const n = bytes.length;
  if (n - pos < FRAME_HEAD) {
    return { bad: { reason: `torn record header (${n - pos} bytes)`, middle: false } };
  }
  const len = getU32(bytes, pos);
  const end = pos + FRAME_HEAD + len;
  if (len < minLen || len > maxBody) {
    return { bad: { reason: `impossible record length ${len}`, middle: true } };
  }
  if (end > n) {
    const present = n - pos - FRAME_HEAD;
    // A torn write leaves the file ending inside its last record. A whole, valid
    // record further on means the length itself was damaged in the middle.
    if (validFrameAfter(bytes, pos + 1, minLen, maxBody)) {
      return {
        bad: {
          reason: `record length ${len} runs past the end of the log, yet whole records follow`,
          middle: true,
        },
      };
    }
    return {
      bad: {
        reason: `truncated record: ${len} bytes announced, ${present} present`,
        middle: false,
      },
    };
  }
  const body = bytes.subarray(pos + FRAME_HEAD, end);
  if (crc32c(body) !== getU32(bytes, pos + 4)) {
    return {
      bad: end === n ? { reason: "bad CRC in the last record (torn write)", middle: false } : {
        reason: `bad CRC in a record followed by ${n - end} more bytes; reading stopped there`,
        middle: true,
      },
    };
  }
  return { body, end };
}

/** Whether a whole record with a matching CRC starts anywhere in `bytes[from..]`. */
function validFrameAfter(
  bytes: Uint8Array,
  from: number,
  minLen: number,
  maxBody: number,
): boolean {
  const n = bytes.length;
  for (let q = from; q + FRAME_HEAD <= n; q++) {
    const len = getU32(bytes, q);
    if (len < minLen || len > maxBody || q + FRAME_HEAD + len > n) continue;
    if (crc32c(bytes.subarray(q + FRAME_HEAD, q + FRAME_HEAD + len)) === getU32(bytes, q + 4)) {
      return true;
    }
  }
  return false;
}

/** `parts` as one array (`parts[0]` itself when there is only one); `total` is their length. */
export function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Scanning and recovery

/** Whether `bytes` starts with the file header `magic`. */
export function hasMagic(bytes: Uint8Array, magic: Uint8Array): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Where a scan stopped, and why when it stopped before the end. */
export interface LogScan {
  /** Bytes up to the end of the last good record. */
  end: number;
  /** The first bad record, if any. */
  bad: BadRecord | undefined;
}

/**
 * Reads the records of `bytes` from `from` (just after the header), handing
 * each body to `record` (with the offsets of the record and of the next one),
 * until the end or the first bad record: one that does not frame, or one that
 * `record` refuses by returning why. Damage followed only by zeros counts as
 * a torn tail: a crash can leave the end of a file allocated but never
 * written.
 */
export function scanRecords(
  bytes: Uint8Array,
  from: number,
  minLen: number,
  maxBody: number,
  record: (body: Uint8Array, at: number, end: number) => BadRecord | undefined,
): LogScan {
  const n = bytes.length;
  let pos = from;
  let bad: BadRecord | undefined;
  while (pos < n) {
    const frame = readFrame(bytes, pos, minLen, maxBody);
    if (frame.bad !== undefined) {
      bad = frame.bad;
      break;
    }
    bad = record(frame.body, pos, frame.end);
    if (bad !== undefined) break;
    pos = frame.end;
  }
  if (bad !== undefined && bad.middle && isZero(bytes.subarray(pos))) {
    bad = { reason: `zero-filled tail (${bad.reason})`, middle: false };
  }
  return { end: pos, bad };
}

/** What a reopen skipped in one file (the shape of `StoreRecovery` and `QueueRecovery`). */
export interface LogRecovery {
  skippedBytes: number;
  reason: string;
  offset: number;
  preservedAs?: string;
}

/** The report of a scan of a file of `size` bytes; `undefined` when it read every record. */
export function recoveryOf(scan: LogScan, size: number): LogRecovery | undefined {
  if (scan.bad === undefined) return undefined;
  return {
    skippedBytes: size - scan.end,
    reason: `${scan.bad.reason} at offset ${scan.end}`,
    offset: scan.end,
  };
}

/**
 * Keeps the damaged file `path` as `<path>.corrupt` (atomically) when its
 * damage is more than a torn tail, noting where in `recovery.preservedAs`.
 */
export async function preserveDamaged(
  fs: StoreFs,
  path: string,
  bytes: Uint8Array,
  recovery: LogRecovery,
  middle: boolean,
  sync: boolean,
): Promise<void> {
  if (!middle) return;
  const kept = path + ".corrupt";
  await fs.writeFileAtomic(kept, bytes, { sync });
  recovery.preservedAs = kept;
}

// ---------------------------------------------------------------------------
// The locked directory

/**
 * Creates `dir` when missing, takes its lock and runs `open` under it. Any
 * failure is an `MqttError` code `store-failed` that names `noun` (`"session
 * store"`) and the holder of a held lock; the lock is released again when
 * `open` fails.
 */
export async function openLocked<T>(
  fs: StoreFs,
  dir: string,
  noun: string,
  open: (lock: DirLock) => Promise<T>,
): Promise<T> {
  let lock: DirLock;
  try {
    await fs.mkdirp(dir);
    lock = await fs.lock(dir);
  } catch (err) {
    const why = err instanceof LockHeldError ? err.message : `${dir}: ${errorMessage(err)}`;
    throw new MqttError("store-failed", `Cannot open the ${noun}: ${why}`, { cause: err });
  }
  try {
    return await open(lock);
  } catch (err) {
    await fs.unlock(lock).catch(() => {});
    if (err instanceof MqttError) throw err;
    throw new MqttError(
      "store-failed",
      `Cannot open the ${noun} in ${dir}: ${errorMessage(err)}`,
      { cause: err },
    );
  }
}

// ---------------------------------------------------------------------------
// The log: group commit, failure, close

/** What a {@linkcode RecordLog} asks of its owner. */
export interface RecordLogOptions<W> {
  /** The file layer. */
  fs: StoreFs;
  /** The directory, for error messages. */
  dir: string;
  /** The directory's lock, released at close. */
  lock: DirLock;
  /** What the owner is called in error messages (`"session store"`). */
  noun: string;
  /** A fresh, empty batch. */
  empty(): W;
  /** Writes (and syncs) a batch; a rejection fails the log. */
  write(batch: W): Promise<void>;
  /**
   * Runs after each batch is written and its callers resolved, before the
   * next batch. A rejection fails the log (an `MqttError` is kept as it is).
   */
  written?(): Promise<void>;
  /** The error a failed log rejects every call with, made from the first failure. */
  failure(err: unknown): MqttError;
  /**
   * Mark each batch's promise handled: its callers may stop waiting (an
   * aborted signal), and a failure they no longer wait for is not an
   * unhandled rejection.
   *
   * @default {false}
   */
  abandonable?: boolean;
  /** At close, before waiting for the writer: what else must finish first. */
  settle?(): Promise<void>;
  /** At close, once the writer is done: the open files, detached from the owner. */
  files(): FileHandle[];
}

/** A batch and the promise its callers hold. */
interface Batch<W> {
  data: W;
  promise: Promise<void>;
  resolve: () => void;
  reject: (reason: unknown) => void;
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * The write side of a log in a locked directory. Group commit: callers add
 * their records to the pending batch ({@linkcode RecordLog.gather}) and wait
 * for it ({@linkcode RecordLog.schedule}); one writer takes the whole batch
 * at the next microtask (never after a timer) and writes it, while calls made
 * meanwhile form the next batch. After a failed write every batch is
 * rejected with the same `MqttError` until {@linkcode RecordLog.reset}.
 * {@linkcode RecordLog.close} waits for the writer, closes the files and
 * releases the lock.
 */
export class RecordLog<W> {
  readonly #o: RecordLogOptions<W>;
  #pending: Batch<W> | undefined;
  #inflight: Batch<W> | undefined;
  #draining: Promise<void> | undefined;
  #failed: MqttError | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: RecordLogOptions<W>) {
    this.#o = options;
  }

  /** The batch being gathered, if any: not yet handed to the writer. */
  get pending(): W | undefined {
    return this.#pending?.data;
  }

  /** The error of the first failed write, until {@linkcode RecordLog.reset}. */
  get failed(): MqttError | undefined {
    return this.#failed;
  }

  /** Whether {@linkcode RecordLog.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The batch being gathered, created when there is none. */
  gather(): W {
    return (this.#pending ??= this.#newBatch()).data;
  }

  /** Makes sure the pending batch gets written; resolves once it is. */
  schedule(): Promise<void> {
    const batch = this.#pending ??= this.#newBatch();
    // A microtask, not a timer: the calls of this turn join the batch, and a
    // lone call is written at once.
    this.#draining ??= RESOLVED.then(() => this.#drain());
    return batch.promise;
  }

  /** Resolves once every batch gathered so far is written. */
  barrier(): Promise<void> {
    return this.#pending?.promise ?? this.#inflight?.promise ?? RESOLVED;
  }

  /** Resolves once the writer has stopped (no batch pending or in flight). */
  async idle(): Promise<void> {
    while (this.#draining !== undefined) await this.#draining;
  }

  /**
   * Fails the log, unless it has failed already.
   *
   * @returns The error every call is refused with now.
   */
  fail(err: unknown): MqttError {
    return this.#failed ??= this.#o.failure(err);
  }

  /** Makes a failed log usable again (its owner has reloaded it). */
  reset(): void {
    this.#failed = undefined;
  }

  /**
   * Marks the log closed, waits for the writes in flight, closes the files
   * one after the other and releases the lock. Every step is tried; the first
   * failure is thrown afterwards as an `MqttError` code `store-failed`.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    const o = this.#o;
    await o.settle?.();
    await this.idle();
    let first: unknown;
    for (const h of o.files()) await o.fs.close(h).catch((err) => first ??= err);
    await o.fs.unlock(o.lock).catch((err) => first ??= err);
    if (first !== undefined) {
      throw new MqttError("store-failed", `Closing the ${o.noun} in ${o.dir} failed`, {
        cause: first,
      });
    }
  }

  #newBatch(): Batch<W> {
    const { promise, resolve, reject } = deferred<void>();
    if (this.#o.abandonable === true) promise.catch(() => {});
    return { data: this.#o.empty(), promise, resolve, reject };
  }

  /** Writes batches one at a time until none is pending. Never rejects. */
  async #drain(): Promise<void> {
    try {
      while (this.#pending !== undefined && this.#failed === undefined) {
        const batch = this.#pending;
        this.#pending = undefined;
        this.#inflight = batch;
        try {
          await this.#o.write(batch.data);
        } catch (err) {
          batch.reject(this.fail(err));
          break;
        } finally {
          this.#inflight = undefined;
        }
        batch.resolve();
        if (this.#o.written === undefined) continue;
        try {
          await this.#o.written();
        } catch (err) {
          this.#failed ??= err instanceof MqttError ? err : this.#o.failure(err);
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
}
