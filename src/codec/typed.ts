/**
 * Typed payloads: {@linkcode Typed} pairs a `Client` with a
 * {@linkcode Codec} so that publishes take values and subscriptions yield
 * {@linkcode TypedMessage}s carrying decoded values. The codecs ship as their
 * own entry points, so the core stays free of dependencies:
 * `@mqttv5/client/codec/json` ({@linkcode Codec} over `JSON`, no dependency)
 * and `@mqttv5/client/codec/msgpack` (MessagePack, on `@msgpack/msgpack`).
 *
 * @example Sensor readings as JSON
 * ```ts ignore
 * import { Client, Typed } from "@mqttv5/client";
 * import { jsonCodec } from "@mqttv5/client/codec/json";
 *
 * interface Reading {
 *   device: string;
 *   temp: number;
 * }
 *
 * await using client = new Client({ broker: "mqtt://localhost:1883" });
 * await client.connect();
 * const readings = new Typed(client, jsonCodec<Reading>(), { logger: console });
 * const sub = await readings.subscribe([{ topic: "sensors/+", qos: 1 }]);
 * await readings.publish({ topic: "sensors/a1", qos: 1 }, { device: "a1", temp: 22.5 });
 * for await (const m of sub) {
 *   console.log(m.topic, m.value.temp);
 *   m.ack();
 *   break;
 * }
 * ```
 *
 * @module
 */

import { errorMessage } from "../_internal/error.ts";
import type { Client } from "../client/client.ts";
import { Message } from "../client/message.ts";
import type { Logger } from "../client/options.ts";
import { Queue } from "../client/queue.ts";
import type {
  QueueSubscription,
  SubscribeOptions,
  Subscription,
  SubscriptionToken,
} from "../client/subscription.ts";
import type { PublishOptions, PublishResult, TopicFilterInput } from "../client/types.ts";

/**
 * Turns values of type `T` into payload bytes and back. `decode` throws on
 * bytes that are not a valid encoding; `encode` throws on values it cannot
 * encode.
 *
 * @typeParam T The value type.
 *
 * @example A codec for UTF-8 strings
 * ```ts
 * import type { Codec } from "@mqttv5/client";
 *
 * const text: Codec<string> = {
 *   encode: (value) => new TextEncoder().encode(value),
 *   decode: (bytes) => new TextDecoder("utf-8", { fatal: true }).decode(bytes),
 * };
 * ```
 */
export interface Codec<T> {
  /**
   * Encodes a value.
   *
   * @param value The value.
   * @returns The payload bytes.
   */
  encode(value: T): Uint8Array;
  /**
   * Decodes a payload.
   *
   * @param bytes The payload bytes (may be a view into the read buffer: do not keep it).
   * @returns The value.
   */
  decode(bytes: Uint8Array): T;
}

/**
 * An inbound {@linkcode Message} with its payload decoded into `value`.
 * `ack()` acknowledges the underlying message (every message must be acked,
 * as with `Client.subscribe()`); `value` and `topic` stay valid after it.
 *
 * @typeParam T The value type.
 *
 * @example Usage
 * ```ts
 * import type { TypedMessage } from "@mqttv5/client";
 *
 * function handle(m: TypedMessage<{ temp: number }>) {
 *   console.log(m.topic, m.value.temp);
 *   m.ack();
 * }
 * ```
 */
export class TypedMessage<T> extends Message {
  /** The decoded payload. */
  readonly value: T;
  readonly #message: Message;

  /**
   * Wraps a delivered message with its decoded value.
   *
   * @internal Created by {@linkcode Typed}.
   * @param message The message as the client delivered it.
   * @param value Its decoded payload.
   */
  constructor(message: Message, value: T) {
    super(
      message.topic,
      message.payload,
      message.qos,
      message.retain,
      message.dup,
      message.packetId,
      message.properties,
      null,
    );
    this.#message = message;
    this.value = value;
  }

  /** The message as the client delivered it. */
  get message(): Message {
    return this.#message;
  }

  /** Whether the underlying message was acked. */
  override get acked(): boolean {
    return this.#message.acked;
  }

  /** Acknowledges the underlying message. Idempotent. */
  override ack(): void {
    this.#message.ack();
  }
}

/**
 * A typed subscription: an async iterable of {@linkcode TypedMessage}s.
 * Messages whose payload does not decode are logged, acked and skipped.
 *
 * @typeParam T The value type.
 *
 * @example Usage
 * ```ts
 * import type { TypedSubscription } from "@mqttv5/client";
 *
 * async function drain(sub: TypedSubscription<{ temp: number }>) {
 *   for await (const m of sub) {
 *     console.log(m.value.temp);
 *     m.ack();
 *   }
 * }
 * ```
 */
export interface TypedSubscription<T> extends AsyncIterable<TypedMessage<T>>, AsyncDisposable {
  /** The token of the underlying subscription, for `Client.unsubscribe()`. */
  readonly token: SubscriptionToken;
  /**
   * Unsubscribes and ends the iteration.
   *
   * @param options `signal` bounds the wait for UNSUBACK.
   * @returns Resolves once the broker answered the UNSUBSCRIBE.
   * @throws The `signal.reason`, unchanged, when `options.signal` is already
   * aborted (nothing happens: the subscription goes on) or aborts while
   * waiting for UNSUBACK.
   */
  unsubscribe(options?: { signal?: AbortSignal }): Promise<void>;
}

/**
 * A typed subscription whose messages land in a {@linkcode Queue}.
 *
 * @typeParam T The value type.
 *
 * @example Usage
 * ```ts
 * import type { TypedQueueSubscription } from "@mqttv5/client";
 *
 * async function next(sub: TypedQueueSubscription<number[]>) {
 *   const m = await sub.queue.dequeue();
 *   if (m !== undefined) {
 *     console.log(m.value.length);
 *     m.ack();
 *   }
 * }
 * ```
 */
export interface TypedQueueSubscription<T> extends TypedSubscription<T> {
  /**
   * The queue of decoded messages. Decoding happens as messages are taken
   * out, so `length` counts messages not decoded yet (including any that
   * will turn out not to decode and be skipped).
   */
  readonly queue: Queue<TypedMessage<T>>;
}

/**
 * Options of {@linkcode Typed}.
 *
 * @example Options of Typed
 * ```ts
 * import type { TypedOptions } from "@mqttv5/client";
 *
 * const options: TypedOptions = {};
 * ```
 */
export interface TypedOptions {
  /**
   * Where decode failures are reported (`warn`, with the topic and the
   * error). The client's own logger is not reachable from here: pass the same
   * one.
   *
   * @default {none: failures are only counted}
   */
  logger?: Logger;
}

/**
 * Typed publish and subscribe: a `Client` paired with a {@linkcode Codec}.
 *
 * On the receive path every payload is decoded before it is handed out. A
 * payload that does not decode is logged (with `options.logger`), counted in
 * {@linkcode Typed.decodeFailures}, acked (so the broker does not send it
 * again) and dropped; the next message is delivered as usual. For stricter
 * behaviour, wrap the codec or use `Client.subscribe()` and decode yourself.
 *
 * @typeParam T The value type.
 *
 * @example MessagePack with a queue
 * ```ts ignore
 * import { Client, Typed } from "@mqttv5/client";
 * import { msgpackCodec } from "@mqttv5/client/codec/msgpack";
 *
 * await using client = new Client({ broker: "mqtt://localhost:1883" });
 * await client.connect();
 * const points = new Typed(client, msgpackCodec<{ x: number; y: number }>());
 * const sub = await points.subscribeQueue([{ topic: "points/#", qos: 1 }]);
 * await points.publish({ topic: "points/1", qos: 1 }, { x: 1, y: 2 });
 * const m = await sub.queue.dequeue();
 * console.log(m?.value.x);
 * m?.ack();
 * console.log(points.decodeFailures); // 0
 * ```
 */
export class Typed<T> {
  readonly #client: Client;
  readonly #codec: Codec<T>;
  readonly #logger: Logger | undefined;
  #decodeFailures = 0;

  /**
   * Pairs `client` with `codec`.
   *
   * @param client The client to publish and subscribe with.
   * @param codec Encodes values and decodes payloads.
   * @param options A logger for decode failures.
   * @throws {TypeError} When `codec` lacks `encode` or `decode`.
   */
  constructor(client: Client, codec: Codec<T>, options: TypedOptions = {}) {
    if (
      codec === null || typeof codec !== "object" || typeof codec.encode !== "function" ||
      typeof codec.decode !== "function"
    ) {
      throw new TypeError("Typed needs a codec with encode() and decode()");
    }
    this.#client = client;
    this.#codec = codec;
    this.#logger = options.logger;
  }

  /** The client this wraps. */
  get client(): Client {
    return this.#client;
  }

  /** How many inbound payloads failed to decode (and were acked and dropped) so far. */
  get decodeFailures(): number {
    return this.#decodeFailures;
  }

  /**
   * Encodes `value` and publishes it.
   *
   * @param message Topic, QoS, retain and properties (a `payload` here is ignored).
   * @param value The value to encode as the payload.
   * @param options `signal` aborts the wait, as for `Client.publish()`.
   * @returns What `Client.publish()` returns.
   * @throws Whatever `codec.encode` throws (nothing is published then), and
   * whatever `Client.publish()` throws.
   * @throws The `signal.reason`, unchanged, when `options.signal` is already
   * aborted (checked first: nothing is encoded or published) or aborts
   * during the call.
   */
  publish(
    message: Omit<PublishOptions, "payload">,
    value: T,
    options?: { signal?: AbortSignal },
  ): Promise<PublishResult> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let payload: Uint8Array;
    try {
      payload = this.#codec.encode(value);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#client.publish({ ...message, payload }, options);
  }

  /**
   * Subscribes and yields decoded messages (`Client.subscribe()` underneath:
   * the same bounded buffer and drop rules, applied before decoding).
   *
   * @param filters Topic filters (a string means QoS 0).
   * @param options As for `Client.subscribe()`.
   * @returns The typed subscription.
   * @throws Whatever `Client.subscribe()` throws.
   * @throws The `signal.reason`, unchanged, when `options.signal` is already
   * aborted (checked first: nothing is subscribed) or aborts during the call.
   */
  async subscribe(
    filters: TopicFilterInput[],
    options?: SubscribeOptions,
  ): Promise<TypedSubscription<T>> {
    options?.signal?.throwIfAborted();
    const sub = await this.#client.subscribe(filters, options);
    return new TypedSub(sub, (m) => this.#decode(m));
  }

  /**
   * Subscribes with a {@linkcode Queue} of decoded messages
   * (`Client.subscribeQueue()` underneath: the same bound and drop policy,
   * applied before decoding).
   *
   * @param filters Topic filters (a string means QoS 0).
   * @param options As for `Client.subscribeQueue()`.
   * @returns The typed subscription with its `queue`.
   * @throws Whatever `Client.subscribeQueue()` throws.
   * @throws The `signal.reason`, as for {@linkcode Typed.subscribe}.
   */
  async subscribeQueue(
    filters: TopicFilterInput[],
    options?: SubscribeOptions,
  ): Promise<TypedQueueSubscription<T>> {
    options?.signal?.throwIfAborted();
    const sub = await this.#client.subscribeQueue(filters, options);
    return new TypedQueueSub(sub, (m) => this.#decode(m));
  }

  /** The decoded message, or undefined (counted, logged and acked) when it does not decode. */
  #decode(m: Message): TypedMessage<T> | undefined {
    if (m instanceof TypedMessage) return m as TypedMessage<T>;
    let value: T;
    try {
      value = this.#codec.decode(m.payload);
    } catch (err) {
      this.#decodeFailures++;
      m.ack();
      this.#logger?.warn("mqtt payload did not decode; acked and dropped", {
        topic: m.topic,
        error: errorMessage(err),
      });
      return undefined;
    }
    return new TypedMessage(m, value);
  }
}

type Decode<T> = (m: Message) => TypedMessage<T> | undefined;

const DONE = Object.freeze({ done: true, value: undefined }) as IteratorReturnResult<undefined>;

class TypedSub<T> implements TypedSubscription<T> {
  protected readonly inner: Subscription;
  protected readonly decode: Decode<T>;

  constructor(inner: Subscription, decode: Decode<T>) {
    this.inner = inner;
    this.decode = decode;
  }

  get token(): SubscriptionToken {
    return this.inner.token;
  }

  unsubscribe(options?: { signal?: AbortSignal }): Promise<void> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return this.inner.unsubscribe(options);
  }

  [Symbol.asyncIterator](): AsyncIterator<TypedMessage<T>> {
    const it = this.inner[Symbol.asyncIterator]();
    const decode = this.decode;
    return {
      async next(): Promise<IteratorResult<TypedMessage<T>>> {
        while (true) {
          const r = await it.next();
          if (r.done) return DONE;
          const m = decode(r.value);
          if (m !== undefined) return { done: false, value: m };
        }
      },
      async return(): Promise<IteratorResult<TypedMessage<T>>> {
        await it.return?.();
        return DONE;
      },
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.inner[Symbol.asyncDispose]();
  }
}

class TypedQueueSub<T> extends TypedSub<T> implements TypedQueueSubscription<T> {
  readonly queue: Queue<TypedMessage<T>>;

  constructor(inner: QueueSubscription, decode: Decode<T>) {
    super(inner, decode);
    this.queue = new DecodingQueue(inner.queue, decode);
  }

  override [Symbol.asyncIterator](): AsyncIterator<TypedMessage<T>> {
    const q = this.queue;
    const inner = this.inner;
    return {
      async next(): Promise<IteratorResult<TypedMessage<T>>> {
        const m = await q.dequeue();
        return m === undefined ? DONE : { done: false, value: m };
      },
      async return(): Promise<IteratorResult<TypedMessage<T>>> {
        // Leaving a for-await loop early ends the subscription, as for the client's.
        if (!q.closed) await inner.unsubscribe().catch(() => {});
        return DONE;
      },
    };
  }
}

/**
 * A view of the subscription's queue of raw messages that decodes as values
 * are taken out: the client's bound and drop policy keep applying, and no
 * message is copied or decoded ahead of the consumer.
 */
class DecodingQueue<T> extends Queue<TypedMessage<T>> {
  readonly #inner: Queue<Message>;
  readonly #decode: Decode<T>;

  constructor(inner: Queue<Message>, decode: Decode<T>) {
    super();
    this.#inner = inner;
    this.#decode = decode;
  }

  override get length(): number {
    return this.#inner.length;
  }

  override get closed(): boolean {
    return this.#inner.closed;
  }

  override enqueue(value: TypedMessage<T>): void {
    this.#inner.enqueue(value);
  }

  override tryDequeue(): TypedMessage<T> | undefined {
    while (true) {
      const m = this.#inner.tryDequeue();
      if (m === undefined) return undefined;
      const t = this.#decode(m);
      if (t !== undefined) return t;
    }
  }

  override async dequeue(options?: { signal?: AbortSignal }): Promise<TypedMessage<T> | undefined> {
    while (true) {
      const m = this.#inner.length > 0
        ? this.#inner.tryDequeue()
        : await this.#inner.dequeue(options);
      if (m === undefined) return undefined;
      const t = this.#decode(m);
      if (t !== undefined) return t;
    }
  }

  override close(): void {
    this.#inner.close();
  }

  override async *[Symbol.asyncIterator](): AsyncIterator<TypedMessage<T>> {
    while (true) {
      const v = await this.dequeue();
      if (v === undefined) return;
      yield v;
    }
  }
}
