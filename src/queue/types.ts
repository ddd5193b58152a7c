/**
 * The {@linkcode PublisherQueue} contract: what a backend of `QueuePublisher`
 * implements (`MemoryPublisherQueue`, `FilePublisherQueue`, or a user's own)
 * and the shapes it stores and returns. Types only; the backends import it
 * from here, not from their consumer.
 *
 * @example A queue that logs and delegates
 * ```ts
 * import { MemoryPublisherQueue, type PublisherQueue } from "@mqttv5/client";
 *
 * const inner = new MemoryPublisherQueue();
 * const logged: PublisherQueue = {
 *   enqueue: (entry, o) => {
 *     console.log("enqueue", entry.publish.topic);
 *     return inner.enqueue(entry, o);
 *   },
 *   peekBatch: (n, o) => inner.peekBatch(n, o),
 *   ack: (token, o) => inner.ack(token, o),
 *   evictHead: (o) => inner.evictHead(o),
 *   len: (o) => inner.len(o),
 *   close: () => inner.close(),
 * };
 * ```
 *
 * @module
 */

import type { PublishOptions } from "../session/publish.ts";

export type { PublishOptions } from "../session/publish.ts";
export type { PublishProperties, QoS, UserProperty } from "../wire/types.ts";

/**
 * Identifies one entry of a {@linkcode PublisherQueue}, as returned by
 * {@linkcode PublisherQueue.peekBatch} and passed back to
 * {@linkcode PublisherQueue.ack}. Opaque: a backend picks what lets it find
 * the entry (a sequence number, an offset). A caller never looks inside it,
 * but may use it as a `Map` key, so a backend must return the same primitive
 * (or the same object) for the same entry for as long as the queue is open.
 *
 * @example Usage
 * ```ts
 * import { MemoryPublisherQueue, type QueueToken } from "@mqttv5/client";
 *
 * const q = new MemoryPublisherQueue();
 * await q.enqueue({ publish: { topic: "a", qos: 1 }, enqueuedAt: Date.now() });
 * const { tokens } = await q.peekBatch(1);
 * const first: QueueToken = tokens[0];
 * await q.ack(first);
 * ```
 */
export type QueueToken = unknown;

/**
 * One durable publish between `QueuePublisher.publish` (enqueue) and the
 * broker's PUBACK / PUBCOMP (ack).
 *
 * @example Usage
 * ```ts
 * import type { QueueEntry } from "@mqttv5/client";
 *
 * const entry: QueueEntry = {
 *   publish: { topic: "meters/17", payload: "42", qos: 1 },
 *   enqueuedAt: Date.now(),
 * };
 * ```
 */
export interface QueueEntry {
  /** The message. A packet identifier and the DUP flag are chosen per attempt, never stored. */
  publish: PublishOptions;
  /** When the entry was enqueued, in milliseconds since the epoch (`Date.now()`). */
  enqueuedAt: number;
  /**
   * A stable identifier, unique per entry, that a queue stores and returns
   * unchanged. `QueuePublisher` sets it (at most 255 bytes of UTF-8) and uses
   * it to recognise, after a restart, the entries whose exchange the session
   * store is already completing (see `LinkedSessionStore`).
   */
  id?: string;
}

/**
 * What {@linkcode PublisherQueue.peekBatch} returns: the oldest entries and
 * their tokens, as parallel arrays.
 *
 * @example Usage
 * ```ts
 * import { MemoryPublisherQueue, type QueueBatch } from "@mqttv5/client";
 *
 * const q = new MemoryPublisherQueue();
 * const batch: QueueBatch = await q.peekBatch(16);
 * console.log(batch.entries.length === batch.tokens.length); // true
 * ```
 */
export interface QueueBatch {
  /** The entries, oldest first. */
  entries: QueueEntry[];
  /** `tokens[i]` acknowledges `entries[i]`. */
  tokens: QueueToken[];
}

/**
 * The options every {@linkcode PublisherQueue} operation takes last.
 *
 * @example Usage
 * ```ts
 * import { MemoryPublisherQueue, type QueueCallOptions } from "@mqttv5/client";
 *
 * const options: QueueCallOptions = { signal: AbortSignal.timeout(1000) };
 * console.log(await new MemoryPublisherQueue().len(options)); // 0
 * ```
 */
export interface QueueCallOptions {
  /**
   * Stops waiting: the call rejects with `signal.reason`, unchanged. A write
   * already handed to the disk may still complete (an aborted enqueue may be
   * stored). Already aborted at the call, the call rejects with it before
   * anything else (a closed queue, a bad argument) and changes nothing.
   */
  signal?: AbortSignal;
}

/**
 * The backing store of a `QueuePublisher`: an ordered queue of
 * {@linkcode QueueEntry}s, peeked in batches and removed one by one once the
 * broker acknowledged them. Implementations may be in memory
 * (`MemoryPublisherQueue`) or on disk (`FilePublisherQueue`). Every method may
 * be called concurrently with the others.
 *
 * @example A queue that logs and delegates
 * ```ts
 * import { MemoryPublisherQueue, type PublisherQueue } from "@mqttv5/client";
 *
 * const inner = new MemoryPublisherQueue();
 * const logged: PublisherQueue = {
 *   canEvict: inner.canEvict,
 *   enqueue: (entry, o) => {
 *     console.log("enqueue", entry.publish.topic);
 *     return inner.enqueue(entry, o);
 *   },
 *   peekBatch: (n, o) => inner.peekBatch(n, o),
 *   ack: (token, o) => inner.ack(token, o),
 *   evictHead: (o) => inner.evictHead(o),
 *   len: (o) => inner.len(o),
 *   close: () => inner.close(),
 * };
 * ```
 */
export interface PublisherQueue {
  /**
   * `false` when {@linkcode PublisherQueue.evictHead} always rejects with
   * `MqttError` code `"eviction-not-supported"`: a `QueuePublisher` asked for
   * `dropPolicy: "drop-oldest"` then fails at construction instead of at the
   * first full queue. `undefined` means eviction is supported.
   */
  readonly canEvict?: boolean;
  /**
   * Stores `entry` at the tail. Resolves once it is stored as durably as the
   * backend can (a file queue: on disk, synced).
   *
   * @param entry The entry to store.
   * @param options Cancellation.
   * @returns A promise that resolves once the entry is stored.
   * @throws {MqttError} `queue-closed` after {@linkcode PublisherQueue.close}.
   */
  enqueue(entry: QueueEntry, options?: QueueCallOptions): Promise<void>;
  /**
   * Returns up to `n` of the oldest entries without removing them, with the
   * tokens that {@linkcode PublisherQueue.ack} takes. An empty batch means
   * the queue is empty right now.
   *
   * @param n The most entries to return.
   * @param options Cancellation.
   * @returns The oldest entries and their tokens.
   */
  peekBatch(n: number, options?: QueueCallOptions): Promise<QueueBatch>;
  /**
   * Removes the entry a token names, durably. Acknowledging an unknown token
   * (an entry already removed) does nothing.
   *
   * @param token A token from {@linkcode PublisherQueue.peekBatch}.
   * @param options Cancellation.
   * @returns A promise that resolves once the entry is removed.
   */
  ack(token: QueueToken, options?: QueueCallOptions): Promise<void>;
  /**
   * Removes the oldest entry and returns it (`undefined` when empty).
   *
   * @param options Cancellation.
   * @returns The removed entry, or `undefined` when the queue was empty.
   * @throws {MqttError} `eviction-not-supported` from a backend that cannot evict.
   */
  evictHead(options?: QueueCallOptions): Promise<QueueEntry | undefined>;
  /**
   * The number of stored entries.
   *
   * @param options Cancellation.
   * @returns The number of entries.
   */
  len(options?: QueueCallOptions): Promise<number>;
  /**
   * Releases the backend's resources once pending writes are done. Later
   * calls reject with `MqttError` code `queue-closed`. Idempotent.
   *
   * @returns A promise that resolves once the backend is closed.
   */
  close(): Promise<void>;
}
