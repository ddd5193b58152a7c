/**
 * {@linkcode MemoryPublisherQueue}: the in-memory {@linkcode PublisherQueue}.
 * Runtime-neutral; its entries are lost with the process. For at-least-once
 * delivery across restarts use `FilePublisherQueue` from
 * `@mqttv5/client/queue/file`.
 *
 * @example Usage
 * ```ts
 * import { MemoryPublisherQueue } from "@mqttv5/client";
 *
 * const q = new MemoryPublisherQueue();
 * await q.enqueue({ publish: { topic: "a", qos: 1 }, enqueuedAt: Date.now() });
 * console.log(await q.len()); // 1
 * await q.close();
 * ```
 *
 * @module
 */

import { MqttError } from "../errors.ts";
import { entryError } from "./_entry.ts";
import type { PublisherQueue, QueueCallOptions } from "./types.ts";
import type { QueueBatch, QueueEntry, QueueToken } from "./types.ts";

export type * from "./types.ts";

/**
 * An in-memory {@linkcode PublisherQueue}. Entries are kept by reference (do
 * not change a payload after enqueueing it) in insertion order; tokens are
 * sequence numbers. Every operation is O(1) except `peekBatch(n)`, which is
 * O(n). Crash semantics: everything queued is lost with the process.
 *
 * @example Drive it by hand
 * ```ts
 * import { MemoryPublisherQueue } from "@mqttv5/client";
 *
 * const q = new MemoryPublisherQueue();
 * for (const n of [1, 2, 3]) {
 *   await q.enqueue({ publish: { topic: `t/${n}`, qos: 1 }, enqueuedAt: Date.now() });
 * }
 * const { entries, tokens } = await q.peekBatch(2);
 * console.log(entries.map((e) => e.publish.topic)); // ["t/1", "t/2"]
 * await q.ack(tokens[1]); // acks may come in any order
 * console.log((await q.evictHead())?.publish.topic); // "t/1"
 * console.log(await q.len()); // 1
 * ```
 */
export class MemoryPublisherQueue implements PublisherQueue, AsyncDisposable {
  #entries = new Map<number, QueueEntry>();
  #nextSeq = 1;
  #closed = false;

  /** Always `true`: the head can be evicted. */
  get canEvict(): boolean {
    return true;
  }

  /** What to reject with, if anything: an aborted signal's reason comes first. */
  #check(options: QueueCallOptions | undefined): unknown {
    if (options?.signal?.aborted) return options.signal.reason;
    if (this.#closed) return new MqttError("queue-closed", "The publisher queue is closed");
    return undefined;
  }

  /**
   * Appends an entry.
   *
   * @param entry The entry (kept by reference).
   * @param options `signal`: rejects with its reason, unchanged, when already
   * aborted (before anything else: nothing changes).
   * @returns Resolves once stored (at once).
   * @throws {MqttError} (as a rejection) `queue-closed` after close.
   * @throws {unknown} (as a rejection) `signal.reason`, unchanged, when `options.signal` is
   * already aborted.
   * @throws {TypeError} (as a rejection) For an entry without a topic or `enqueuedAt`.
   */
  enqueue(entry: QueueEntry, options?: QueueCallOptions): Promise<void> {
    const bad = this.#check(options) ?? entryError(entry);
    if (bad !== undefined) return Promise.reject(bad);
    this.#entries.set(this.#nextSeq++, entry);
    return Promise.resolve();
  }

  /**
   * The oldest `n` entries and their tokens, without removing them.
   *
   * @param n How many at most; a non-negative integer.
   * @param options `signal`: rejects with its reason, unchanged, when already
   * aborted (before anything else: nothing changes).
   * @returns The entries, oldest first, and their tokens.
   * @throws {RangeError} (as a rejection) When `n` is not a non-negative integer.
   * @throws {MqttError} (as a rejection) `queue-closed` after close.
   * @throws {unknown} (as a rejection) `signal.reason`, unchanged, when `options.signal` is
   * already aborted.
   */
  peekBatch(n: number, options?: QueueCallOptions): Promise<QueueBatch> {
    const bad = this.#check(options) ??
      (Number.isInteger(n) && n >= 0
        ? undefined
        : new RangeError(`peekBatch needs a non-negative integer, got ${String(n)}`));
    if (bad !== undefined) return Promise.reject(bad);
    const entries: QueueEntry[] = [];
    const tokens: QueueToken[] = [];
    if (n > 0) {
      for (const [seq, entry] of this.#entries) {
        entries.push(entry);
        tokens.push(seq);
        if (entries.length === n) break;
      }
    }
    return Promise.resolve({ entries, tokens });
  }

  /**
   * Removes the entry `token` names; an unknown token does nothing.
   *
   * @param token A token from {@linkcode MemoryPublisherQueue.peekBatch}.
   * @param options `signal`: rejects with its reason, unchanged, when already
   * aborted (before anything else: nothing changes).
   * @returns Resolves once removed.
   * @throws {MqttError} (as a rejection) `queue-closed` after close.
   * @throws {unknown} (as a rejection) `signal.reason`, unchanged, when `options.signal` is
   * already aborted.
   */
  ack(token: QueueToken, options?: QueueCallOptions): Promise<void> {
    const bad = this.#check(options);
    if (bad !== undefined) return Promise.reject(bad);
    if (typeof token === "number") this.#entries.delete(token);
    return Promise.resolve();
  }

  /**
   * Removes the oldest entry and returns it.
   *
   * @param options `signal`: rejects with its reason, unchanged, when already
   * aborted (before anything else: nothing changes).
   * @returns The evicted entry, or `undefined` when the queue is empty.
   * @throws {MqttError} (as a rejection) `queue-closed` after close.
   * @throws {unknown} (as a rejection) `signal.reason`, unchanged, when `options.signal` is
   * already aborted.
   */
  evictHead(options?: QueueCallOptions): Promise<QueueEntry | undefined> {
    const bad = this.#check(options);
    if (bad !== undefined) return Promise.reject(bad);
    for (const [seq, entry] of this.#entries) {
      this.#entries.delete(seq);
      return Promise.resolve(entry);
    }
    return Promise.resolve(undefined);
  }

  /**
   * The number of entries.
   *
   * @param options `signal`: rejects with its reason, unchanged, when already
   * aborted (before anything else: nothing changes).
   * @returns The count.
   * @throws {MqttError} (as a rejection) `queue-closed` after close.
   * @throws {unknown} (as a rejection) `signal.reason`, unchanged, when `options.signal` is
   * already aborted.
   */
  len(options?: QueueCallOptions): Promise<number> {
    const bad = this.#check(options);
    if (bad !== undefined) return Promise.reject(bad);
    return Promise.resolve(this.#entries.size);
  }

  /**
   * Drops every entry; later calls reject with `queue-closed`. Idempotent.
   *
   * @returns Resolves at once.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#entries.clear();
    return Promise.resolve();
  }

  /**
   * The same as {@linkcode MemoryPublisherQueue.close}, for `await using`.
   *
   * @returns Resolves once the queue is closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
