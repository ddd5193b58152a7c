/**
 * {@linkcode QueuePublisher}: durable, ordered publishing through a
 * {@linkcode PublisherQueue}, and the queue contract itself. Runtime-neutral.
 *
 * `publish()` resolves once the queue has stored the message (a file queue:
 * synced to disk), before any broker round trip. A background drain sends the
 * oldest entries in order, at most `batchSize` at a time, each bounded by
 * `publishTimeoutMs`, and removes an entry from the queue only after the
 * broker's PUBACK (QoS 1) or PUBCOMP (QoS 2). Messages can be published while
 * the client is offline; the drain resumes when it reconnects.
 *
 * ## Failures
 *
 * - A permanent refusal (PUBACK / PUBREC reason code 0x80 and up, except
 *   0x91 Packet Identifier in use and 0x97 Quota exceeded), or a message the
 *   broker's CONNACK rules out (`qos-not-supported`, `retain-not-supported`,
 *   `packet-too-large`), is dead-lettered: `onDeadLetter(entry, error)` is
 *   called and the entry removed.
 * - Anything else (a timeout, 0x97, a lost connection) is transient: the
 *   entry is retried after `retryBackoff(attempt)` while the entries behind
 *   it carry on, so one failing message never holds up the rest. A retried
 *   entry may therefore reach the broker after entries queued behind it.
 * - Entries older than `ttlMs` (or than their own Message Expiry Interval)
 *   are dead-lettered when the drain reaches them; the others are sent with
 *   the lifetime they have left as their Message Expiry Interval.
 *
 * ## Crash safety
 *
 * With a `FilePublisherQueue` every message survives a crash until the broker
 * acknowledged it: at-least-once. A publish whose acknowledgement was lost is
 * sent again by the next process, as a new message, unless the client's
 * session store is a {@linkcode LinkedSessionStore} (wrapping a
 * `FileSessionStore`) also given as `sessionStore`: then the exchanges that
 * were in flight are completed by the restored session (DUP resend or
 * PUBREL) and the queue waits for them instead of publishing them again.
 * Create the publisher before `client.connect()` so that it sees those
 * exchanges complete.
 *
 * @example Durable publishing
 * ```ts ignore
 * import { Client, MemoryPublisherQueue, QueuePublisher } from "@mqttv5/client";
 *
 * await using client = new Client({ broker: "mqtt://localhost:1883" });
 * await client.connect();
 * const publisher = new QueuePublisher(client, new MemoryPublisherQueue(), {
 *   batchSize: 32,
 *   ttlMs: 24 * 3600_000,
 *   onDeadLetter: (entry, err) => console.warn("dead letter", entry.publish.topic, err),
 * });
 * await publisher.publish({ topic: "events/durable", payload: "at-least-once", qos: 1 });
 * await publisher.close({ signal: AbortSignal.timeout(5000) });
 * ```
 *
 * @module
 */

import type { DropPolicy, Logger } from "../client/options.ts";
import type { PublishOptions, PublishResult } from "../client/types.ts";
import { MqttError } from "../errors.ts";
import { topicNameError } from "../topic/validate.ts";
import { packetLength } from "../wire/encode.ts";
import type { PublishProperties } from "../wire/types.ts";
import type { LinkedSessionStore } from "./linked_store.ts";

export type { DropPolicy, Logger } from "../client/options.ts";
export type { PublishOptions, PublishResult } from "../client/types.ts";
export type { AckProperties, PublishProperties, QoS, UserProperty } from "../wire/types.ts";
export type { LinkedSessionStore, LinkListener } from "./linked_store.ts";

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

/**
 * The part of a client that a {@linkcode QueuePublisher} uses. `Client`
 * satisfies it; tests may pass a stand-in.
 *
 * @example Usage
 * ```ts
 * import type { Client, QueueClient } from "@mqttv5/client";
 *
 * const asQueueClient = (c: Client): QueueClient => c;
 * ```
 */
export interface QueueClient {
  /**
   * Publishes one message; QoS 1/2 resolve on PUBACK / PUBCOMP.
   *
   * @param message The message.
   * @param options Cancellation.
   * @returns The outcome of the publish.
   */
  publish(message: PublishOptions, options?: { signal?: AbortSignal }): Promise<PublishResult>;
  /** Whether a connection is up: the drain sends only then. */
  readonly connected: boolean;
  /**
   * Lifecycle events; a `"connected"` event wakes the drain at once.
   *
   * @returns An async iterable of status events.
   */
  status?(): AsyncIterable<{ type: string }>;
}

/**
 * Options of {@linkcode QueuePublisher}. Every field is optional.
 *
 * @example Usage
 * ```ts
 * import type { QueuePublisherOptions } from "@mqttv5/client";
 *
 * const options: QueuePublisherOptions = {
 *   batchSize: 32,
 *   maxSize: 10_000,
 *   dropPolicy: "drop-oldest",
 *   ttlMs: 3600_000,
 *   onDeadLetter: (entry, err) => console.warn(entry.publish.topic, err.message),
 * };
 * ```
 */
export interface QueuePublisherOptions {
  /**
   * At most this many entries are in flight (sent, not yet acknowledged) at once.
   *
   * @default {16}
   */
  batchSize?: number;
  /**
   * How often the drain looks at the queue when nothing woke it (a publish,
   * an acknowledgement or a reconnect wake it at once).
   *
   * @default {500}
   */
  idleIntervalMs?: number;
  /**
   * How long one send may wait for its PUBACK / PUBCOMP before it counts as a
   * transient failure and is retried.
   *
   * @default {30000}
   */
  publishTimeoutMs?: number;
  /**
   * The most entries the queue may hold; 0 means no limit. Enforced by
   * `publish()`, which counts the entries the queue held at construction and
   * those it stored since (entries enqueued on the queue directly afterwards
   * are not counted).
   *
   * @default {0}
   */
  maxSize?: number;
  /**
   * What `publish()` does when the queue holds `maxSize` entries:
   * `"drop-newest"` rejects with `MqttError` code `queue-full`;
   * `"drop-oldest"` evicts the oldest entry, dead-letters it (error code
   * `queue-full`) and stores the new one. An evicted entry that was already
   * in flight may still reach the broker.
   *
   * @default {"drop-newest"}
   */
  dropPolicy?: DropPolicy;
  /**
   * Entries older than this are dead-lettered (error code `timeout`) when the
   * drain reaches them; younger ones are sent with the lifetime they have
   * left as their Message Expiry Interval. 0 means no limit.
   *
   * @default {0}
   */
  ttlMs?: number;
  /**
   * Called for each entry that will never be sent: expired, evicted, or
   * permanently refused (`MqttError` code `publish-refused` with its
   * `reasonCode`). Must not block; an exception it throws is logged.
   */
  onDeadLetter?: (entry: QueueEntry, error: Error) => void;
  /**
   * The delay before the `attempt`-th retry (1, 2, ...) of an entry that
   * failed transiently, in milliseconds.
   *
   * @default {(attempt) => min(10000, 100 * 2 ** (attempt - 1)), with ±25 % jitter}
   */
  retryBackoff?: (attempt: number) => number;
  /**
   * The {@linkcode LinkedSessionStore} the client was given as its `store`.
   * With it, exchanges the session already owns (restored after a restart, or
   * timed out after they were sent) are completed by the session instead of
   * being published again.
   */
  sessionStore?: LinkedSessionStore;
  /** Where the drain reports retries and failures. */
  logger?: Logger;
}

/**
 * Counters of a {@linkcode QueuePublisher}, from {@linkcode QueuePublisher.stats}.
 *
 * @example Usage
 * ```ts
 * import type { QueuePublisherStats } from "@mqttv5/client";
 *
 * const backlog = (s: QueuePublisherStats) => s.enqueued - s.acked - s.deadLettered;
 * ```
 */
export interface QueuePublisherStats {
  /** Entries stored by `publish()`. */
  enqueued: number;
  /** `client.publish` calls made by the drain (first sends and retries). */
  sent: number;
  /** Entries removed after the broker acknowledged them (by this process or by the session). */
  acked: number;
  /** Entries handed to `onDeadLetter` (expired, evicted, refused). */
  deadLettered: number;
  /** Transient failures that scheduled a retry. */
  retries: number;
  /** Entries in flight now (sent and awaiting an acknowledgement, or being removed). */
  inFlight: number;
  /** Entries whose exchange a restored session is completing now. */
  inSession: number;
}

type FlightKind = "send" | "session" | "restored" | "settle";

interface Flight {
  token: QueueToken;
  entry: QueueEntry;
  kind: FlightKind;
  ac: AbortController | undefined;
  /** Evicted while in flight: its removal does not count. */
  evicted: boolean;
  /** The linked session flow ended while the publish call was still pending. */
  sessionDone: boolean | undefined;
  /** Resolves once the flight is over (the entry removed, or left for a retry). */
  settled: Promise<void>;
  end: () => void;
}

type NewFlight = Omit<Flight, "settled" | "end" | "evicted" | "sessionDone" | "ac"> & {
  ac?: AbortController;
};

/** Refusals worth retrying: 0x91 Packet Identifier in use, 0x97 Quota exceeded. */
const TRANSIENT_REFUSALS = new Set([0x91, 0x97]);
/** Client-side checks against the CONNACK: the message can never be sent to this broker. */
const PERMANENT_CODES = new Set([
  "qos-not-supported",
  "retain-not-supported",
  "packet-too-large",
  "topic-alias-invalid",
  "publish-refused",
]);
/** Entries in backoff that one peek looks past. */
const MAX_SKIP = 4096;
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

function defaultBackoff(attempt: number): number {
  const base = Math.min(10_000, 100 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/** Whether a failed send should be dead-lettered rather than retried. */
function isPermanent(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  if (!(err instanceof MqttError)) return false;
  if (err.code === "publish-refused") {
    return err.reasonCode === undefined || !TRANSIENT_REFUSALS.has(err.reasonCode);
  }
  return PERMANENT_CODES.has(err.code);
}

function errorOf(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function randomPrefix(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function positiveInt(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new RangeError(`QueuePublisher ${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

function positiveMs(name: string, v: unknown, allowZero: boolean): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new RangeError(
      `QueuePublisher ${name} must be a ${allowZero ? "non-negative" : "positive"} ` +
        `number of milliseconds, got ${String(v)}`,
    );
  }
  return v;
}

/**
 * Durable publishing: {@linkcode QueuePublisher.publish} stores the message in
 * a {@linkcode PublisherQueue} and resolves; a background drain sends the
 * entries in order to the broker through the client and removes each only
 * once the broker acknowledged it. See the module documentation for failure
 * handling and crash safety.
 *
 * @example Publish while offline, drain after connecting
 * ```ts ignore
 * import { Client, MemoryPublisherQueue, QueuePublisher } from "@mqttv5/client";
 *
 * const client = new Client({ broker: "mqtt://localhost:1883" });
 * const publisher = new QueuePublisher(client, new MemoryPublisherQueue());
 * await publisher.publish({ topic: "a/b", payload: "queued offline", qos: 1 });
 * await client.connect(); // the drain starts sending now
 * ```
 *
 * @example Refuse QoS 0
 * ```ts
 * import { Client, MemoryPublisherQueue, MqttError, QueuePublisher } from "@mqttv5/client";
 *
 * const client = new Client({ broker: "mqtt://localhost:1883" });
 * const publisher = new QueuePublisher(client, new MemoryPublisherQueue());
 * try {
 *   await publisher.publish({ topic: "a", qos: 0 });
 * } catch (err) {
 *   if (err instanceof MqttError) console.log(err.code); // "qos0-not-queueable"
 * }
 * await publisher.close();
 * ```
 */
export class QueuePublisher implements AsyncDisposable {
  readonly #client: QueueClient;
  readonly #queue: PublisherQueue;
  readonly #batchSize: number;
  readonly #idleMs: number;
  readonly #timeoutMs: number;
  readonly #maxSize: number;
  readonly #dropPolicy: DropPolicy;
  readonly #ttlMs: number;
  readonly #onDeadLetter: ((entry: QueueEntry, error: Error) => void) | undefined;
  readonly #backoffOf: (attempt: number) => number;
  readonly #link: LinkedSessionStore | undefined;
  readonly #log: Logger | undefined;
  readonly #idPrefix = randomPrefix();
  #idSeq = 0;

  /** Entries in the queue as far as this publisher knows, counting enqueues in progress. */
  #count = 0;
  readonly #ready: Promise<void>;
  #admission: Promise<void> = Promise.resolve();
  #enqueuing = new Set<Promise<void>>();

  #flights = new Map<QueueToken, Flight>();
  #byId = new Map<string, Flight>();
  #restored = 0;
  /** Flights whose removal from the queue is being written: no longer on the wire. */
  #settling = 0;
  #backoff = new Map<QueueToken, { attempts: number; notBefore: number }>();
  /** Delivered but the queue refused the ack: never sent again by this instance. */
  #done = new Set<QueueToken>();
  #flightWaiters = new Set<() => void>();
  /** Restored flows the session completed before the drain reconciled them. */
  #early = new Map<string, () => void>();
  #reconciled = false;

  #closed = false;
  #stopping = false;
  #closing: Promise<void> | undefined;
  /** Aborted by the signal of any `close()` call: cuts close()'s waits short. */
  readonly #hurry = new AbortController();
  #closeReason: MqttError | undefined;
  #running: Promise<void>;
  #kicked = false;
  #wakeup: (() => void) | undefined;
  #status: AsyncIterator<{ type: string }> | undefined;
  #unlisten: (() => void) | undefined;
  #warnedUnlinked = false;

  #stats = { enqueued: 0, sent: 0, acked: 0, deadLettered: 0, retries: 0 };

  /**
   * Creates the publisher and starts its drain.
   *
   * @param client The client to publish through (it may connect later).
   * @param queue The queue that stores the entries; closed by {@linkcode QueuePublisher.close}.
   * @param options Batch size, timeouts, limits, dead-letter callback, session link.
   * @throws {MqttError} `eviction-not-supported` when `dropPolicy` is
   * `"drop-oldest"` and `queue.canEvict` is `false`.
   * @throws {RangeError} When a numeric option is out of range.
   * @throws {TypeError} When an option has the wrong type.
   */
  constructor(client: QueueClient, queue: PublisherQueue, options?: QueuePublisherOptions) {
    if (client === null || typeof client !== "object" || typeof client.publish !== "function") {
      throw new TypeError("QueuePublisher needs a client with a publish() method");
    }
    if (queue === null || typeof queue !== "object" || typeof queue.peekBatch !== "function") {
      throw new TypeError("QueuePublisher needs a PublisherQueue");
    }
    const o = options ?? {};
    this.#batchSize = positiveInt("batchSize", o.batchSize, 1) ?? 16;
    this.#idleMs = positiveMs("idleIntervalMs", o.idleIntervalMs, false) ?? 500;
    this.#timeoutMs = positiveMs("publishTimeoutMs", o.publishTimeoutMs, false) ?? 30_000;
    this.#maxSize = positiveInt("maxSize", o.maxSize, 0) ?? 0;
    this.#ttlMs = positiveMs("ttlMs", o.ttlMs, true) ?? 0;
    const policy = o.dropPolicy ?? "drop-newest";
    if (policy !== "drop-newest" && policy !== "drop-oldest") {
      throw new TypeError(
        `QueuePublisher dropPolicy must be "drop-newest" or "drop-oldest", got ${String(policy)}`,
      );
    }
    this.#dropPolicy = policy;
    if (o.onDeadLetter !== undefined && typeof o.onDeadLetter !== "function") {
      throw new TypeError("QueuePublisher onDeadLetter must be a function");
    }
    if (o.retryBackoff !== undefined && typeof o.retryBackoff !== "function") {
      throw new TypeError("QueuePublisher retryBackoff must be a function");
    }
    if (
      o.sessionStore !== undefined &&
      (o.sessionStore === null || typeof o.sessionStore.listen !== "function" ||
        typeof o.sessionStore.expect !== "function")
    ) {
      throw new TypeError(
        "QueuePublisher sessionStore must be the LinkedSessionStore given to the client as its store",
      );
    }
    if (policy === "drop-oldest" && queue.canEvict === false) {
      throw new MqttError(
        "eviction-not-supported",
        'QueuePublisher dropPolicy "drop-oldest" needs a queue that can evict its head ' +
          "(queue.canEvict is false); use drop-newest",
      );
    }
    this.#client = client;
    this.#queue = queue;
    this.#onDeadLetter = o.onDeadLetter;
    this.#backoffOf = o.retryBackoff ?? defaultBackoff;
    this.#link = o.sessionStore;
    this.#log = o.logger;
    this.#ready = queue.len().then((n) => {
      this.#count += n;
    });
    this.#ready.catch(() => {});
    if (this.#link !== undefined) {
      this.#unlisten = this.#link.listen((id, completed) => this.#onSessionEnd(id, completed));
    }
    this.#watchStatus();
    this.#running = this.#run();
  }

  /**
   * Counters since construction, and what is in flight now.
   *
   * @returns A snapshot.
   */
  stats(): QueuePublisherStats {
    return {
      ...this.#stats,
      inFlight: this.#flights.size - this.#restored,
      inSession: this.#restored,
    };
  }

  /**
   * Stores a message for delivery. Resolves once the queue has stored it (a
   * `FilePublisherQueue`: synced to disk), before anything is sent. A string
   * payload is stored as UTF-8; a topic alias is dropped (an alias means
   * something on one connection only).
   *
   * @param message The message; `qos` must be 1 or 2.
   * @param options `signal` stops waiting for the queue (an entry already
   * handed to the disk may still be stored).
   * @returns Resolves once the entry is stored.
   * @throws {MqttError} (as a rejection) `qos0-not-queueable` for QoS 0 (or no
   * QoS), `queue-full` when the queue is full and `dropPolicy` is
   * `"drop-newest"`, `queue-closed` after {@linkcode QueuePublisher.close}, or
   * the queue's own error (`store-failed`).
   * @throws {TypeError} (as a rejection) For a topic that is not a valid topic
   * name, a field that cannot be encoded, or `subscriptionIdentifiers`.
   * @throws {unknown} (as a rejection) `signal.reason`, unchanged, when
   * `options.signal` is already aborted (checked before anything else:
   * nothing is stored or evicted) or aborts before the queue has stored the
   * entry (it may still be stored).
   *
   * @example Usage
   * ```ts ignore
   * await publisher.publish({ topic: "orders/42", payload: JSON.stringify(order), qos: 2 }, {
   *   signal: AbortSignal.timeout(1000),
   * });
   * ```
   */
  publish(message: PublishOptions, options?: { signal?: AbortSignal }): Promise<void> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closed) {
      return Promise.reject(new MqttError("queue-closed", "QueuePublisher is closed"));
    }
    let entry: QueueEntry;
    try {
      entry = this.#entryOf(message);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#admit(entry, signal);
  }

  /**
   * Stops the drain: no new sends; waits (within `signal`, or at most
   * `publishTimeoutMs` without one) for the entries in flight to be
   * acknowledged; then closes the queue. Entries not acknowledged stay in the
   * queue for the next process. Idempotent: later calls share the first
   * call's close (a later call's `signal` cuts its wait for
   * acknowledgements short as well).
   *
   * An aborted `signal` never leaves the publisher half-open: when it is
   * already aborted at the call, or aborts during it, the publisher stops
   * waiting for acknowledgements, closes everything (the drain, the status
   * watch, the queue), and only then rejects with `signal.reason`.
   *
   * @param options `signal` bounds the wait for acknowledgements.
   * @returns Resolves once the queue is closed.
   * @throws {unknown} (as a rejection) `signal.reason`, unchanged, when
   * `options.signal` is already aborted or aborts during the call (the
   * publisher and its queue are closed all the same).
   * @throws {MqttError} (as a rejection) The queue's own error from closing
   * (`store-failed`).
   *
   * @example Usage
   * ```ts ignore
   * await publisher.close({ signal: AbortSignal.timeout(5000) });
   * ```
   */
  close(options?: { signal?: AbortSignal }): Promise<void> {
    const signal = options?.signal;
    if (signal === undefined) {
      this.#closing ??= this.#close(false);
      return this.#closing;
    }
    const fail = (err: unknown): never => {
      throw signal.aborted ? signal.reason : err;
    };
    if (signal.aborted) {
      this.#hurry.abort();
      this.#closing ??= this.#close(true);
      return this.#closing.then(() => fail(undefined), fail);
    }
    const onAbort = () => this.#hurry.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    this.#closing ??= this.#close(true);
    return this.#closing
      .finally(() => signal.removeEventListener("abort", onAbort))
      .then(() => {
        if (signal.aborted) throw signal.reason;
      }, fail);
  }

  /**
   * {@linkcode QueuePublisher.close} without a signal, for `await using`.
   *
   * @returns Resolves once the publisher has stopped.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // -------------------------------------------------------------------------
  // Enqueue

  #entryOf(message: PublishOptions): QueueEntry {
    if (message === null || typeof message !== "object") {
      throw new TypeError("QueuePublisher.publish() needs a message object");
    }
    const qos = message.qos ?? 0;
    if (qos === 0) {
      throw new MqttError(
        "qos0-not-queueable",
        "QueuePublisher needs QoS 1 or 2: a QoS 0 message has no acknowledgement to wait for",
      );
    }
    if (qos !== 1 && qos !== 2) throw new RangeError(`publish qos must be 1 or 2, got ${qos}`);
    const topic = message.topic;
    if (typeof topic !== "string") throw new TypeError("publish topic must be a string");
    const bad = topicNameError(topic);
    if (bad !== undefined) throw new TypeError(`Cannot publish to "${topic}": ${bad}`);
    const raw = message.payload;
    let payload: Uint8Array;
    if (raw === undefined) payload = EMPTY;
    else if (typeof raw === "string") payload = encoder.encode(raw);
    else if (raw instanceof Uint8Array) payload = raw;
    else throw new TypeError("publish payload must be a Uint8Array or a string");
    let properties: PublishProperties | undefined;
    if (message.properties !== undefined) {
      if (message.properties.subscriptionIdentifiers !== undefined) {
        throw new TypeError("publish properties.subscriptionIdentifiers is inbound only");
      }
      const { topicAlias: _alias, ...rest } = message.properties;
      if (Object.keys(rest).length > 0) properties = rest;
    }
    const publish: PublishOptions = { topic, payload, qos };
    if (message.retain === true) publish.retain = true;
    if (properties !== undefined) publish.properties = properties;
    // Everything the encoder would refuse, refused now rather than dead-lettered later.
    packetLength({
      type: 3,
      topic,
      payload,
      qos,
      retain: message.retain === true,
      dup: false,
      packetId: 1,
      properties,
    });
    return {
      publish,
      enqueuedAt: Date.now(),
      id: `${this.#idPrefix}-${(this.#idSeq++).toString(36)}`,
    };
  }

  async #admit(entry: QueueEntry, signal: AbortSignal | undefined): Promise<void> {
    await this.#ready;
    if (this.#closed) throw new MqttError("queue-closed", "QueuePublisher is closed");
    let stored: Promise<void>;
    if (this.#maxSize > 0 && this.#count >= this.#maxSize) {
      if (this.#dropPolicy === "drop-newest") {
        throw new MqttError("queue-full", `the queue holds ${this.#maxSize} entries (maxSize)`);
      }
      stored = (await this.#evictForRoom(entry, signal)).stored;
    } else {
      this.#count++;
      stored = this.#store(entry);
    }
    if (signal === undefined) return stored;
    return race(stored, signal);
  }

  /** Hands a counted entry to the queue; the count is given back if the queue refuses it. */
  #store(entry: QueueEntry): Promise<void> {
    let stored: Promise<void>;
    try {
      stored = this.#queue.enqueue(entry);
    } catch (err) {
      stored = Promise.reject(err);
    }
    this.#enqueuing.add(stored);
    stored.then(() => {
      this.#stats.enqueued++;
      this.#kick();
    }, () => {
      this.#count--;
    }).finally(() => this.#enqueuing.delete(stored));
    return stored;
  }

  /** Under the admission lock: evicts until there is room, then stores the entry. */
  async #evictForRoom(
    entry: QueueEntry,
    signal: AbortSignal | undefined,
  ): Promise<{ stored: Promise<void> }> {
    const prev = this.#admission;
    let release!: () => void;
    this.#admission = new Promise<void>((resolve) => release = resolve);
    try {
      await prev;
      let idle = 0;
      while (this.#count >= this.#maxSize) {
        if (this.#closed) throw new MqttError("queue-closed", "QueuePublisher is closed");
        if (signal?.aborted) throw signal.reason;
        const evicted = await this.#queue.evictHead();
        if (evicted === undefined) {
          // The places are held by enqueues still being written: wait for them.
          if (this.#enqueuing.size > 0 && idle++ < 3) {
            await Promise.allSettled([...this.#enqueuing]);
            continue;
          }
          this.#count = (await this.#queue.len()) + this.#enqueuing.size;
          if (this.#count >= this.#maxSize) break;
          continue;
        }
        this.#count--;
        const flight = evicted.id === undefined ? undefined : this.#byId.get(evicted.id);
        if (flight !== undefined) flight.evicted = true;
        this.#deadLetter(
          evicted,
          new MqttError("queue-full", `evicted: the queue held ${this.#maxSize} entries (maxSize)`),
        );
      }
      this.#count++;
      // Inside the lock: the place is taken before the next producer looks.
      return { stored: this.#store(entry) };
    } finally {
      release();
    }
  }

  // -------------------------------------------------------------------------
  // The drain

  #watchStatus(): void {
    const status = this.#client.status?.();
    if (status === undefined) return;
    const it = status[Symbol.asyncIterator]();
    this.#status = it;
    (async () => {
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        if (r.value.type === "connected") this.#kick();
      }
    })().catch(() => {});
  }

  #kick(): void {
    this.#kicked = true;
    const w = this.#wakeup;
    this.#wakeup = undefined;
    w?.();
  }

  #sleep(ms: number): Promise<void> {
    if (this.#kicked || this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wakeup = undefined;
        resolve();
      }, ms);
      this.#wakeup = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #run(): Promise<void> {
    try {
      await this.#ready;
    } catch (err) {
      this.#log?.error("QueuePublisher cannot read the queue length", {
        error: errorOf(err).message,
      });
      return;
    }
    let failures = 0;
    while (!this.#stopping) {
      this.#kicked = false;
      let wait = this.#idleMs;
      try {
        if (this.#client.connected) wait = await this.#fill();
        failures = 0;
      } catch (err) {
        if (this.#stopping) break;
        failures++;
        wait = Math.min(this.#idleMs, this.#backoffOf(failures));
        this.#log?.warn("QueuePublisher drain failed", { error: errorOf(err).message });
      }
      if (this.#stopping) break;
      await this.#sleep(wait);
    }
  }

  /** One pass: sends what fits in the window. Returns how long to sleep before the next pass. */
  async #fill(): Promise<number> {
    // The window counts exchanges on the wire: an entry the broker acknowledged no
    // longer holds a place while its removal is synced to disk.
    const room = this.#batchSize - (this.#flights.size - this.#restored - this.#settling);
    if (room <= 0) return this.#idleMs;
    const link = this.#link;
    const linked = link !== undefined && link.loaded;
    if (link !== undefined && !linked && !this.#warnedUnlinked) {
      this.#warnedUnlinked = true;
      this.#log?.warn(
        "QueuePublisher sessionStore has not been loaded although the client is connected: " +
          "is it the client's store? Entries are sent without the session link.",
      );
    }
    if (linked && !this.#reconciled) await this.#reconcile(link);
    const look = this.#flights.size + this.#done.size + Math.min(this.#backoff.size, MAX_SKIP) +
      room;
    const { entries, tokens } = await this.#queue.peekBatch(look);
    if (this.#stopping) return 0;
    const now = Date.now();
    let wait = this.#idleMs;
    let started = 0;
    for (let i = 0; i < entries.length && started < room; i++) {
      const token = tokens[i];
      const entry = entries[i];
      if (this.#flights.has(token) || this.#done.has(token)) continue;
      const id = entry.id;
      if (linked && id !== undefined && link.owns(id)) {
        // A restored session is completing this entry's exchange.
        this.#addFlight({ token, entry, kind: "restored" });
        continue;
      }
      const b = this.#backoff.get(token);
      if (b !== undefined && b.notBefore > now) {
        wait = Math.min(wait, b.notBefore - now);
        continue;
      }
      const deadline = this.#deadlineOf(entry);
      if (deadline !== undefined && deadline <= now) {
        const flight = this.#addFlight({ token, entry, kind: "settle" });
        void this.#finish(
          flight,
          new MqttError(
            "timeout",
            `queue entry expired after ${Math.round(now - entry.enqueuedAt)} ms in the queue`,
          ),
        );
        started++;
        continue;
      }
      if (!this.#client.connected) break;
      this.#send(token, entry, deadline, now, linked ? link : undefined);
      started++;
    }
    if (entries.length < look && this.#backoff.size > 0) {
      // The whole queue was seen: forget the backoff of entries no longer in it.
      const seen = new Set(tokens);
      for (const t of this.#backoff.keys()) if (!seen.has(t)) this.#backoff.delete(t);
    }
    return Math.max(1, wait);
  }

  #deadlineOf(entry: QueueEntry): number | undefined {
    let deadline = this.#ttlMs > 0 ? entry.enqueuedAt + this.#ttlMs : undefined;
    const mei = entry.publish.properties?.messageExpiryInterval;
    if (mei !== undefined) {
      const own = entry.enqueuedAt + mei * 1000;
      if (deadline === undefined || own < deadline) deadline = own;
    }
    return deadline;
  }

  #addFlight(init: NewFlight): Flight {
    let end!: () => void;
    const settled = new Promise<void>((resolve) => end = resolve);
    const f: Flight = {
      ac: undefined,
      evicted: false,
      sessionDone: undefined,
      ...init,
      settled,
      end,
    };
    this.#flights.set(f.token, f);
    if (f.entry.id !== undefined) this.#byId.set(f.entry.id, f);
    if (f.kind === "restored") this.#restored++;
    if (f.kind === "settle") this.#settling++;
    return f;
  }

  #setKind(f: Flight, kind: FlightKind): void {
    if (f.kind === "restored") this.#restored--;
    if (f.kind === "settle") this.#settling--;
    if (kind === "restored") this.#restored++;
    if (kind === "settle") this.#settling++;
    f.kind = kind;
  }

  #removeFlight(f: Flight): void {
    f.end();
    if (this.#flights.get(f.token) !== f) return;
    this.#flights.delete(f.token);
    if (f.entry.id !== undefined && this.#byId.get(f.entry.id) === f) this.#byId.delete(f.entry.id);
    if (f.kind === "restored") this.#restored--;
    if (f.kind === "settle") this.#settling--;
    if (this.#flights.size === 0) {
      for (const w of this.#flightWaiters) w();
      this.#flightWaiters.clear();
    }
    this.#kick();
  }

  #send(
    token: QueueToken,
    entry: QueueEntry,
    deadline: number | undefined,
    now: number,
    link: LinkedSessionStore | undefined,
  ): void {
    const p = entry.publish;
    const properties: PublishProperties = { ...p.properties };
    delete properties.topicAlias;
    delete properties.subscriptionIdentifiers;
    if (deadline !== undefined) {
      properties.messageExpiryInterval = Math.max(1, Math.ceil((deadline - now) / 1000));
    }
    const message: PublishOptions = {
      topic: p.topic,
      payload: p.payload,
      qos: p.qos,
      retain: p.retain === true,
      properties,
    };
    const ac = new AbortController();
    const flight = this.#addFlight({ token, entry, kind: "send", ac });
    if (link !== undefined && entry.id !== undefined) link.expect(properties, entry.id);
    const timer = setTimeout(() => {
      ac.abort(
        new MqttError(
          "timeout",
          `no PUBACK/PUBCOMP within ${this.#timeoutMs} ms (publishTimeoutMs)`,
        ),
      );
    }, this.#timeoutMs);
    this.#stats.sent++;
    let result: Promise<PublishResult>;
    try {
      result = this.#client.publish(message, { signal: ac.signal });
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      () => {
        clearTimeout(timer);
        this.#backoff.delete(token);
        void this.#finish(flight);
      },
      (err) => {
        clearTimeout(timer);
        this.#sendFailed(flight, err);
      },
    );
  }

  #sendFailed(flight: Flight, err: unknown): void {
    if (flight.sessionDone === true) {
      // The session saw the acknowledgement just as the call was abandoned.
      void this.#finish(flight);
      return;
    }
    if (this.#closeReason !== undefined && err === this.#closeReason) {
      // Stays in the queue; the next process sends it again, or (linked) lets its session finish it.
      this.#removeFlight(flight);
      return;
    }
    const id = flight.entry.id;
    if (this.#link !== undefined && id !== undefined && this.#link.owns(id)) {
      // Handed to the session (sent, or about to be): it completes the exchange, across
      // reconnects and restarts; sending the entry again would publish it twice.
      this.#setKind(flight, "session");
      return;
    }
    if (isPermanent(err)) {
      void this.#finish(flight, errorOf(err));
      return;
    }
    const code = err instanceof MqttError ? err.code : undefined;
    if (code !== "not-connected" && code !== "closed") {
      const attempts = (this.#backoff.get(flight.token)?.attempts ?? 0) + 1;
      this.#backoff.set(flight.token, {
        attempts,
        notBefore: Date.now() + Math.max(0, Number(this.#backoffOf(attempts)) || 0),
      });
      this.#stats.retries++;
      this.#log?.debug("QueuePublisher will retry an entry", {
        topic: flight.entry.publish.topic,
        attempts,
        error: errorOf(err).message,
      });
    }
    this.#removeFlight(flight);
  }

  /**
   * A linked session flow ended. For a completed flow, returns what the
   * session store waits for before it forgets the flow: the removal of the
   * entry from the queue. A crash in between then finds the flow still in
   * the session (resent with DUP) rather than the entry alone in the queue
   * (which would be published again as new).
   */
  #onSessionEnd(id: string, completed: boolean): Promise<void> | undefined {
    const flight = this.#byId.get(id);
    if (flight === undefined) {
      if (!completed || this.#reconciled || this.#stopping) return undefined;
      // A restored flow finished before the drain matched it with its entry.
      const prev = this.#early.get(id);
      return new Promise<void>((resolve) => {
        this.#early.set(id, () => {
          prev?.();
          resolve();
        });
      });
    }
    switch (flight.kind) {
      case "send":
        // The publish call settles right after this (success, refusal or abandoned).
        flight.sessionDone = completed;
        return completed ? flight.settled : undefined;
      case "settle":
        return flight.settled;
      default:
        if (!completed) {
          this.#removeFlight(flight); // the session lost it: send it again
          return undefined;
        }
        void this.#finish(flight);
        return flight.settled;
    }
  }

  /**
   * Once per publisher, when the session store is loaded: matches the flows a
   * previous process left with their entries, which lie near the head of the
   * queue (the drain only sends entries from its first few hundred).
   */
  async #reconcile(link: LinkedSessionStore): Promise<void> {
    const open = link.restored.size + this.#early.size;
    if (open > 0) {
      const { entries, tokens } = await this.#queue.peekBatch(
        2 * open + this.#batchSize + MAX_SKIP,
      );
      for (let i = 0; i < entries.length; i++) {
        const id = entries[i].id;
        if (id === undefined || this.#flights.has(tokens[i])) continue;
        const early = this.#early.get(id);
        if (early !== undefined) {
          this.#early.delete(id);
          const f = this.#addFlight({ token: tokens[i], entry: entries[i], kind: "settle" });
          f.settled.then(early);
          void this.#finish(f);
        } else if (link.owns(id)) {
          this.#addFlight({ token: tokens[i], entry: entries[i], kind: "restored" });
        }
      }
    }
    this.#reconciled = true;
    this.#releaseEarly();
  }

  #releaseEarly(): void {
    const early = [...this.#early.values()];
    this.#early.clear();
    for (const r of early) r();
  }

  /** Removes a delivered (or dead-lettered) entry from the queue. */
  async #finish(flight: Flight, deadLetter?: Error): Promise<void> {
    this.#setKind(flight, "settle");
    this.#kick(); // its place in the window is free now
    if (deadLetter !== undefined) this.#deadLetter(flight.entry, deadLetter);
    try {
      await this.#queue.ack(flight.token);
      this.#backoff.delete(flight.token);
      if (!flight.evicted) this.#count--;
      if (deadLetter === undefined) this.#stats.acked++;
    } catch (err) {
      // The queue is closed or broken: the entry stays; never send it again from here.
      this.#done.add(flight.token);
      this.#log?.error("QueuePublisher could not remove an acknowledged entry from the queue", {
        topic: flight.entry.publish.topic,
        error: errorOf(err).message,
      });
    }
    this.#removeFlight(flight);
  }

  #deadLetter(entry: QueueEntry, error: Error): void {
    this.#stats.deadLettered++;
    try {
      this.#onDeadLetter?.(entry, error);
    } catch (err) {
      this.#log?.error("onDeadLetter threw", { error: errorOf(err).message });
    }
  }

  // -------------------------------------------------------------------------
  // Close

  /**
   * Waits until no entry is in flight: resolves `true` then, `false` once
   * `signal` aborts or after `timeoutMs` (when given).
   */
  #waitFlights(signal: AbortSignal | undefined, timeoutMs?: number): Promise<boolean> {
    if (this.#flights.size === 0) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (ok: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#flightWaiters.delete(waiter);
        resolve(ok);
      };
      const waiter = () => done(true);
      const onAbort = () => done(false);
      this.#flightWaiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs !== undefined) timer = setTimeout(() => done(false), timeoutMs);
    });
  }

  /**
   * Closes for good; `#hurry` cuts the waits for enqueues and
   * acknowledgements short. Rejects only with the queue's own close error.
   *
   * @param bySignal The first caller gave a signal: it alone bounds the wait
   * for acknowledgements (otherwise `publishTimeoutMs` does).
   */
  async #close(bySignal: boolean): Promise<void> {
    this.#closed = true;
    const hurry = this.#hurry.signal;
    // Enqueues already accepted finish first (their callers are told the truth).
    if (this.#enqueuing.size > 0) {
      await race(Promise.allSettled([...this.#enqueuing]), hurry).catch(() => {});
    }
    this.#stopping = true;
    this.#kick();
    this.#releaseEarly();
    await this.#waitFlights(hurry, bySignal ? undefined : this.#timeoutMs);
    this.#closeReason = new MqttError(
      "queue-closed",
      "QueuePublisher closed before the broker acknowledged the entry",
    );
    for (const f of [...this.#flights.values()]) {
      if (f.kind === "send") f.ac?.abort(this.#closeReason);
      else if (f.kind !== "settle") this.#removeFlight(f);
    }
    // Removals already under way finish before the queue closes.
    await this.#waitFlights(undefined, this.#timeoutMs);
    await this.#running;
    this.#unlisten?.();
    await this.#status?.return?.();
    await this.#queue.close();
  }
}

/** `p`, or a rejection with `signal.reason` when the signal aborts first. */
function race<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
