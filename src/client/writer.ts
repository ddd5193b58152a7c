/**
 * The outbound half of a connection. Packets are encoded straight into a
 * scratch buffer; everything queued during one turn of the event loop goes out
 * as one socket write, with at most one write in flight (packets queued while
 * it is in flight form the next write). No promise or closure is made per
 * packet: waiting for a flush shares one promise per batch.
 *
 * @module
 */

import { toError } from "../_internal/error.ts";
import { encodePacket, encodePacketInto } from "../wire/encode.ts";
import type { Packet } from "../wire/types.ts";
import type { Connection } from "../transport/types.ts";

/**
 * Scratch buffer size of a connection that sends little: an idle connection
 * holds at most one buffer of this size (none once {@linkcode Writer.trim}
 * found it idle).
 */
const SCRATCH_SMALL = 2 * 1024;
/** Scratch buffer size once packets queue faster than they leave (a buffer filled up). */
const SCRATCH = 64 * 1024;
/**
 * Scratch buffer size once a packet of {@linkcode BIG_PACKET} bytes or more
 * was queued: large payloads then leave in writes of up to 256 KiB instead of
 * three 16 KiB packets per write (fewer socket writes per byte).
 */
const SCRATCH_BIG = 256 * 1024;
const BIG_PACKET = 4 * 1024;
/** Coalescing stops waiting for more packets after this many hops, or once half a scratch buffer is queued. */
const MAX_SPINS = 64;
/**
 * The writer also counts as full once this many encoded bytes wait, whatever
 * `writeQueueSize` says: 256 queued 16 KiB packets would otherwise hold 4 MiB
 * of copies. That is four {@linkcode SCRATCH_BIG} buffers.
 */
const MAX_QUEUED_BYTES = 4 * SCRATCH_BIG;
/**
 * Written scratch buffers kept for reuse: as many as a full queue can have in
 * use besides the one being filled and the one being written (four at
 * {@linkcode SCRATCH_BIG}). Fewer, and a writer streaming large packets drops
 * a buffer on each round of the queue and allocates (and zeroes) a new one.
 */
const FREE_MAX = MAX_QUEUED_BYTES / SCRATCH_BIG + 2;

interface Waiter {
  /** Resolve once this many packets have been written. */
  upTo: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

const EMPTY = new Uint8Array(0);

function waiter(upTo: number): Waiter {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a waiter nobody awaited must not surface as unhandled
  return { upTo, promise, resolve, reject };
}

/** Coalescing writer over one {@linkcode Connection}. */
export class Writer {
  #conn: Connection;
  #batchLimit: number;
  #queueSize: number;
  #onError: (err: Error) => void;

  /**
   * Current scratch size: {@linkcode SCRATCH_SMALL}, {@linkcode SCRATCH} once a
   * buffer filled up, or {@linkcode SCRATCH_BIG} once large packets flow.
   */
  #size = SCRATCH_SMALL;
  /** Where packets are encoded; empty until something is sent (taken lazily). */
  #buf: Uint8Array = EMPTY;
  /** Scratch buffers whose write completed, ready for reuse (large payloads seal often). */
  #free: Uint8Array[] = [];
  /** `#appended` at the last {@linkcode Writer.trim}: unchanged means idle since. */
  #trimMark = -1;
  #used = 0;
  #bufPackets = 0;
  /** Sealed chunks (full buffers, large packets) waiting in order, before #buf. */
  #sealed: Uint8Array[] = [];
  #sealedCounts: number[] = [];
  #sealedHead = 0;

  #queued = 0; // packets not yet handed to conn.write
  #queuedBytes = 0; // their encoded size
  #appended = 0; // packets ever queued
  #written = 0; // packets whose write completed
  #flushing = false;
  #scheduled = false;
  #error: Error | null = null;
  /** DISCONNECT was queued: nothing may follow it [MQTT-3.14.4-1]. */
  #ended = false;
  #flushWaiters: Waiter[] = [];
  #spaceWaiters: Waiter[] = [];
  #onWrite: (() => void) | undefined;

  constructor(
    conn: Connection,
    options: { batch: number; queueSize: number; onWrite?: () => void },
    onError: (err: Error) => void,
  ) {
    this.#conn = conn;
    this.#batchLimit = options.batch > 0 ? options.batch : Infinity;
    this.#queueSize = options.queueSize;
    this.#onError = onError;
    this.#onWrite = options.onWrite;
  }

  /** Packets queued and not yet handed to the socket. */
  get queued(): number {
    return this.#queued;
  }

  /** Packets ever queued (a counter: a change means something was sent since). */
  get appended(): number {
    return this.#appended;
  }

  /** Whether the queue holds `writeQueueSize` packets or 1 MiB, or more. */
  get full(): boolean {
    return this.#queued >= this.#queueSize || this.#queuedBytes >= MAX_QUEUED_BYTES;
  }

  /** The error that broke the writer, if any. */
  get error(): Error | null {
    return this.#error;
  }

  /**
   * Encodes and queues a packet (validation errors throw before anything is
   * queued).
   */
  send(packet: Packet): void {
    if (this.#error !== null || this.#ended) return;
    const n = encodePacketInto(packet, this.#buf, this.#used);
    if (n < 0 || this.#bufPackets >= this.#batchLimit) return this.#sendAfresh(packet, n);
    this.#used += n;
    this.#bufPackets++;
    this.#count(n);
  }

  /**
   * `send` when the packet did not fit (`n` is minus its size) or the buffer
   * holds `writeBatch` packets: a new buffer, or a chunk of its own. Out of
   * line so that `send` stays small: Bun's JIT then inlines it, and the
   * encoder's entry with it, into the publish path (bench/publish_path.ts:
   * 6.6 ns less per QoS 0 publish on Bun).
   */
  #sendAfresh(packet: Packet, n: number): void {
    if (n < 0) this.#grow(-n);
    this.#seal();
    // An empty buffer is not sealed: replace it when it is smaller than the current size.
    if (this.#buf.length < this.#size) this.#buf = this.#take();
    if (-n > this.#size) {
      const bytes = encodePacket(packet);
      this.#sealed.push(bytes);
      this.#sealedCounts.push(1);
      this.#count(bytes.length);
      return;
    }
    n = encodePacketInto(packet, this.#buf, 0);
    this.#used += n;
    this.#bufPackets++;
    this.#count(n);
  }

  /** Queues pre-encoded bytes (a constant packet, never written to). */
  sendBytes(bytes: Uint8Array): void {
    if (this.#error !== null || this.#ended) return;
    if (this.#buf.length === 0) {
      // An idle writer holds no buffer (a keep-alive PINGREQ on a quiet connection): write the
      // constant as it is rather than take a buffer that only the next ticks give back.
      this.#sealed.push(bytes);
      this.#sealedCounts.push(1);
      this.#count(bytes.length);
      return;
    }
    if (this.#used + bytes.length > this.#buf.length || this.#bufPackets >= this.#batchLimit) {
      if (this.#used + bytes.length > this.#buf.length) this.#grow(bytes.length);
      this.#seal();
      if (this.#buf.length < this.#size) this.#buf = this.#take();
    }
    this.#buf.set(bytes, this.#used);
    this.#used += bytes.length;
    this.#bufPackets++;
    this.#count(bytes.length);
  }

  /** Queues the connection's last packet (a DISCONNECT); later sends are ignored. */
  sendLast(packet: Packet): void {
    this.send(packet);
    this.#ended = true;
  }

  /** Resolves when every packet queued so far has been written. */
  flushed(): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#error);
    if (this.#written === this.#appended) return Promise.resolve();
    const ws = this.#flushWaiters;
    const last = ws[ws.length - 1];
    if (last !== undefined && last.upTo === this.#appended) return last.promise;
    const w = waiter(this.#appended);
    ws.push(w);
    return w.promise;
  }

  /** Resolves when the queue has room again. */
  space(): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#error);
    if (!this.full) return Promise.resolve();
    const ws = this.#spaceWaiters;
    if (ws.length > 0) return ws[0].promise;
    const w = waiter(0);
    ws.push(w);
    return w.promise;
  }

  /** Fails every waiter; later sends are ignored. */
  fail(err: Error): void {
    if (this.#error !== null) return;
    this.#error = err;
    for (const w of this.#flushWaiters) w.reject(err);
    for (const w of this.#spaceWaiters) w.reject(err);
    this.#flushWaiters = [];
    this.#spaceWaiters = [];
  }

  /**
   * Gives the scratch buffers back when nothing was queued since the last
   * call and nothing waits: called on each keep-alive tick, so a connection
   * idle for a tick holds no buffer, and the next packet starts small again.
   * A steady stream keeps its buffers (something was queued since).
   *
   * @returns Whether the writer now holds no buffer (a later tick has nothing to give back).
   */
  trim(): boolean {
    const mark = this.#trimMark;
    this.#trimMark = this.#appended;
    if (
      mark === this.#appended && !this.#flushing && !this.#scheduled && this.#used === 0 &&
      this.#sealedHead === this.#sealed.length
    ) {
      this.#buf = EMPTY;
      this.#free.length = 0;
      this.#size = SCRATCH_SMALL;
    }
    return this.retainedBytes === 0;
  }

  /** Bytes of scratch buffer this writer holds while idle (the current and the free ones). */
  get retainedBytes(): number {
    let n = this.#buf.byteLength;
    for (const b of this.#free) n += b.byteLength;
    return n;
  }

  /**
   * A packet of `need` bytes did not fit: a full buffer or a packet larger
   * than the buffers means traffic needs larger ones.
   */
  #grow(need: number): void {
    const size = need >= BIG_PACKET
      ? SCRATCH_BIG
      : this.#used > 0 || need > this.#size
      ? SCRATCH
      : this.#size;
    if (size > this.#size) {
      this.#size = size;
      this.#free.length = 0;
    }
  }

  #count(bytes: number): void {
    this.#queued++;
    this.#queuedBytes += bytes;
    this.#appended++;
    if (!this.#scheduled && !this.#flushing) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  #seal(): void {
    if (this.#used === 0) return;
    if (this.#used * 4 <= this.#buf.length) {
      // Mostly empty (a writeBatch limit, a large packet behind small ones): queue a
      // copy and keep the buffer, so queued memory follows the bytes, not the buffers.
      this.#sealed.push(this.#buf.slice(0, this.#used));
    } else {
      // The sealed buffer now belongs to the queue; take a free one or a new one.
      this.#sealed.push(this.#buf.subarray(0, this.#used));
      this.#buf = this.#take();
    }
    this.#sealedCounts.push(this.#bufPackets);
    this.#used = 0;
    this.#bufPackets = 0;
  }

  /** A free scratch buffer of the current size, or a new one. */
  #take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.#size);
  }

  /** Keeps a written scratch buffer for reuse if it has the current size. */
  #recycle(buf: Uint8Array): void {
    if (buf.byteLength === this.#size && this.#free.length < FREE_MAX) this.#free.push(buf);
  }

  #flush = async (): Promise<void> => {
    this.#scheduled = false;
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#error === null) {
        let chunk: Uint8Array;
        let count: number;
        let recycle: Uint8Array | null = null;
        if (this.#sealedHead < this.#sealed.length) {
          chunk = this.#sealed[this.#sealedHead];
          count = this.#sealedCounts[this.#sealedHead];
          this.#sealed[this.#sealedHead] = undefined as never;
          this.#sealedHead++;
          if (this.#sealedHead === this.#sealed.length) {
            this.#sealed.length = 0;
            this.#sealedCounts.length = 0;
            this.#sealedHead = 0;
          }
          if (chunk.buffer.byteLength === this.#size && chunk.byteOffset === 0) {
            recycle = new Uint8Array(chunk.buffer);
          }
        } else if (this.#used > 0) {
          // A publisher awaiting each publish adds one packet per microtask hop. Wait a
          // couple of hops at a time while packets keep arriving (bounded), so they leave
          // in one write instead of one write each; a lone packet waits two hops only.
          // (Small buffers spin as long as 64 KiB ones: a stream then fills one and grows.)
          const spinBytes = this.#size < SCRATCH ? SCRATCH : this.#size;
          for (let spins = 0; spins < MAX_SPINS && 2 * this.#used < spinBytes; spins++) {
            const before = this.#appended;
            await null;
            await null;
            if (this.#appended === before || this.#error !== null) break;
          }
          if (this.#error !== null || this.#used === 0) continue;
          if (this.#sealedHead < this.#sealed.length) continue; // a packet sealed the buffer
          chunk = this.#buf.subarray(0, this.#used);
          count = this.#bufPackets;
          recycle = this.#buf;
          // A free buffer if there is one; else the next packet takes one (an idle
          // connection then holds a single buffer, the one being written).
          this.#buf = this.#free.pop() ?? EMPTY;
          this.#used = 0;
          this.#bufPackets = 0;
        } else {
          break;
        }
        this.#queued -= count;
        this.#queuedBytes -= chunk.length;
        this.#wakeSpace();
        await this.#conn.write(chunk);
        if (recycle !== null) this.#recycle(recycle);
        this.#written += count;
        this.#onWrite?.();
        this.#wakeFlush();
      }
    } catch (err) {
      const e = toError(err);
      this.fail(e);
      this.#onError(e);
    } finally {
      this.#flushing = false;
    }
  };

  #wakeFlush(): void {
    const ws = this.#flushWaiters;
    let i = 0;
    while (i < ws.length && ws[i].upTo <= this.#written) ws[i++].resolve();
    if (i > 0) ws.splice(0, i);
  }

  #wakeSpace(): void {
    if (this.#spaceWaiters.length > 0 && !this.full) {
      const ws = this.#spaceWaiters;
      this.#spaceWaiters = [];
      for (const w of ws) w.resolve();
    }
  }
}
