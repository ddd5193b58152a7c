/**
 * {@linkcode QueuePublisher}: durable, ordered publishing through a
 * {@linkcode PublisherQueue} (the contract lives in `types.ts`; the drain
 * loop that sends the entries in `_drain.ts`). Runtime-neutral.
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

import { checkEnum, checkInt, checkMs } from "../_internal/args.ts";
import { abortable } from "../_internal/async.ts";
import type { DropPolicy, Logger } from "../_internal/types.ts";
import { MqttError } from "../errors.ts";
import { type PublishOptions, publishPacket, type PublishResult } from "../session/publish.ts";
import { topicNameError } from "../topic/validate.ts";
import { packetLength } from "../wire/encode.ts";
import type { PublishProperties } from "../wire/types.ts";
import { defaultBackoff, Drain } from "./_drain.ts";
import type { LinkedSessionStore } from "./linked_store.ts";
import type { PublisherQueue, QueueEntry } from "./types.ts";

export type { DropPolicy, Logger } from "../_internal/types.ts";
export type { PublishOptions, PublishResult } from "../session/publish.ts";
export type { AckProperties, PublishProperties, QoS, UserProperty } from "../wire/types.ts";
export type { LinkedSessionStore, LinkListener } from "./linked_store.ts";
export type * from "./types.ts";

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

function randomPrefix(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function positiveInt(name: string, v: unknown, min: number): number | undefined {
  return v === undefined ? undefined : checkInt(`QueuePublisher ${name}`, v, min);
}

function positiveMs(name: string, v: unknown, allowZero: boolean): number | undefined {
  return v === undefined ? undefined : checkMs(`QueuePublisher ${name}`, v, allowZero);
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
  readonly #queue: PublisherQueue;
  readonly #maxSize: number;
  readonly #dropPolicy: DropPolicy;
  readonly #idPrefix = randomPrefix();
  #idSeq = 0;

  /** Entries in the queue as far as this publisher knows, counting enqueues in progress. */
  #count = 0;
  readonly #ready: Promise<void>;
  #admission: Promise<void> = Promise.resolve();
  #enqueuing = new Set<Promise<void>>();

  readonly #drain: Drain;

  #closed = false;
  #closing: Promise<void> | undefined;
  /** Aborted by the signal of any `close()` call: cuts close()'s waits short. */
  readonly #hurry = new AbortController();
  #enqueued = 0;

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
    const batchSize = positiveInt("batchSize", o.batchSize, 1) ?? 16;
    const idleMs = positiveMs("idleIntervalMs", o.idleIntervalMs, false) ?? 500;
    const timeoutMs = positiveMs("publishTimeoutMs", o.publishTimeoutMs, false) ?? 30_000;
    this.#maxSize = positiveInt("maxSize", o.maxSize, 0) ?? 0;
    const ttlMs = positiveMs("ttlMs", o.ttlMs, true) ?? 0;
    const policy = checkEnum(
      "QueuePublisher dropPolicy",
      o.dropPolicy ?? "drop-newest",
      [
        "drop-newest",
        "drop-oldest",
      ] as const,
    );
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
    this.#queue = queue;
    this.#ready = queue.len().then((n) => {
      this.#count += n;
    });
    this.#ready.catch(() => {});
    this.#drain = new Drain(
      client,
      queue,
      {
        batchSize,
        idleMs,
        timeoutMs,
        ttlMs,
        onDeadLetter: o.onDeadLetter,
        backoffOf: o.retryBackoff ?? defaultBackoff,
        link: o.sessionStore,
        log: o.logger,
      },
      this.#ready,
      () => this.#count--,
    );
  }

  /**
   * Counters since construction, and what is in flight now.
   *
   * @returns A snapshot.
   */
  stats(): QueuePublisherStats {
    const drain = this.#drain;
    return {
      enqueued: this.#enqueued,
      ...drain.counts,
      inFlight: drain.inFlight,
      inSession: drain.inSession,
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
    const packet = publishPacket(message, "publish");
    // A topic alias means something on one connection only.
    let properties: PublishProperties | undefined;
    if (packet.properties !== undefined) {
      const { topicAlias: _alias, ...rest } = packet.properties;
      if (Object.keys(rest).length > 0) properties = rest;
    }
    packet.properties = properties;
    packet.packetId = 1;
    // Everything the encoder would refuse, refused now rather than dead-lettered later.
    packetLength(packet);
    const publish: PublishOptions = { topic, payload: packet.payload, qos };
    if (packet.retain) publish.retain = true;
    if (properties !== undefined) publish.properties = properties;
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
    return abortable(stored, signal);
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
      this.#enqueued++;
      this.#drain.kick();
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
        this.#drain.evicted(
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
  // Close

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
      await abortable(Promise.allSettled([...this.#enqueuing]), hurry).catch(() => {});
    }
    await this.#drain.stop(hurry, bySignal);
    await this.#queue.close();
  }
}
