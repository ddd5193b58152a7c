/**
 * Subscription handles: {@linkcode SubscriptionToken}, {@linkcode Subscription}
 * and {@linkcode QueueSubscription}, and the per-subscription delivery logic
 * (bounded buffers, drop policies, auto-ack).
 *
 * @module
 */

import type { DropPolicy } from "./options.ts";
import { detachedCopy, type Message } from "./message.ts";
import { onTake, Queue } from "./queue.ts";
import type { TopicFilter } from "./types.ts";

let nextToken = 1;

/**
 * Identifies one subscription, for `Client.unsubscribe()`.
 *
 * @example Usage
 * ```ts
 * import type { Client, SubscriptionToken } from "@mqttv5/client";
 *
 * async function stop(client: Client, token: SubscriptionToken) {
 *   await client.unsubscribe(token);
 * }
 * ```
 */
export class SubscriptionToken {
  /** A number unique within the process. */
  readonly id: number = nextToken++;
  /** The filters this subscription asked for. */
  readonly filters: readonly TopicFilter[];

  /**
   * Builds a token for a set of filters. The client creates tokens when it
   * subscribes; applications only pass them back to `unsubscribe()`.
   *
   * @param filters The subscription's filters.
   * @internal
   */
  constructor(filters: readonly TopicFilter[]) {
    this.filters = filters;
  }
}

/**
 * A subscription delivering messages as an async iterable. Every message must
 * be acknowledged with `ack()`. The iteration ends on `unsubscribe()`, on
 * `disconnect()`, or when a `for await` loop over it exits early (which also
 * unsubscribes). Leaving a loop early and `await using` disposal wait for the
 * UNSUBACK only while connected: during an outage they return at once and
 * the UNSUBSCRIBE goes out on the next connection.
 *
 * @example Usage
 * ```ts
 * import type { Subscription } from "@mqttv5/client";
 *
 * async function drain(sub: Subscription) {
 *   for await (const m of sub) {
 *     console.log(m.topic, m.text());
 *     m.ack();
 *   }
 * }
 * ```
 */
export interface Subscription extends AsyncIterable<Message>, AsyncDisposable {
  /** The token identifying this subscription. */
  readonly token: SubscriptionToken;
  /**
   * Unsubscribes and ends the iteration. Messages still buffered are acked and
   * discarded.
   *
   * @param options `signal` bounds the wait for UNSUBACK.
   * @returns Resolves once the broker answered the UNSUBSCRIBE, or at once when
   * the subscription had already ended (a loop left early, disposal).
   */
  unsubscribe(options?: { signal?: AbortSignal }): Promise<void>;
}

/**
 * A subscription whose messages land in a {@linkcode Queue}.
 *
 * @example Usage
 * ```ts
 * import type { QueueSubscription } from "@mqttv5/client";
 *
 * async function next(sub: QueueSubscription) {
 *   const m = await sub.queue.dequeue();
 *   m?.ack();
 * }
 * ```
 */
export interface QueueSubscription extends Subscription {
  /** The queue the messages land in. */
  readonly queue: Queue<Message>;
}

/**
 * Options of `subscribe()`, `subscribeQueue()` and `subscribeCallback()`.
 *
 * @example Usage
 * ```ts
 * import type { SubscribeOptions } from "@mqttv5/client";
 * const opts: SubscribeOptions = { buffer: 256, onDrop: (m) => console.warn("dropped", m.topic) };
 * ```
 */
export interface SubscribeOptions {
  /**
   * `subscribe()`: messages buffered for the iterator.
   *
   * @default {64}
   */
  buffer?: number;
  /**
   * `subscribeQueue()`: queue bound, 0 = unbounded.
   *
   * @default {ClientOptions.maxSubscribeQueueSize}
   */
  maxQueueSize?: number;
  /**
   * What a full buffer does: `"block"` (the default) drops nothing and slows
   * the broker until the consumer catches up; `"drop-newest"` /
   * `"drop-oldest"` drop and ack (the Go behaviour). `subscribe()` does not
   * support `"drop-oldest"`.
   *
   * @default {ClientOptions.dropPolicy ("block")}
   */
  dropPolicy?: DropPolicy;
  /** Observes each dropped message (already acked; do not keep its payload). */
  onDrop?: (message: Message) => void;
  /**
   * Ack on dispatch and deliver a detached copy.
   *
   * @default {false}
   */
  autoAck?: boolean;
  /** Aborts the wait for SUBACK. */
  signal?: AbortSignal;
}

/** What the client needs from a delivery target. */
export interface Target {
  readonly token: SubscriptionToken;
  /** Dispatch epoch, to deliver each message to a target once. */
  mark: number;
  /** Hands one message over; returns false when it was dropped. */
  deliver(m: Message): boolean;
  /** Ends delivery. */
  end(): void;
}

const DONE: IteratorResult<Message> = Object.freeze({ done: true, value: undefined });
function toResult(m: Message | undefined): IteratorResult<Message> {
  return m === undefined ? DONE : { done: false, value: m };
}

/**
 * The async iterator of a subscription over its queue, for this module's
 * {@linkcode QueueSubscription} and the group's merged subscription. `next()`
 * takes a buffered message without async-function machinery (one resolved
 * promise); `return()`, called when a `for await` loop is left early, ends
 * the subscription with `end` first.
 *
 * @param q The subscription's queue.
 * @param end Ends the subscription; must not reject.
 * @returns The iterator.
 */
export function queueIterator(
  q: Queue<Message>,
  end: () => Promise<void>,
): AsyncIterator<Message> {
  return {
    next: (): Promise<IteratorResult<Message>> => {
      if (q.length > 0) return Promise.resolve({ done: false, value: q.tryDequeue() as Message });
      return q.dequeue().then(toResult);
    },
    return: async (): Promise<IteratorResult<Message>> => {
      await end();
      return { done: true, value: undefined };
    },
  };
}

/**
 * Applies a subscription queue's bound and drop policy before `m` goes in,
 * for this module's {@linkcode QueueTarget} and the group's merged
 * subscription. With the queue full, `"drop-oldest"` drops its oldest
 * message, `"drop-newest"` drops `m`, and `"block"` lets `m` in anyway (the
 * producer has stopped taking more; what it had already taken still lands).
 *
 * @param q The subscription's queue.
 * @param m The message about to go in.
 * @param limit The bound; 0 for none.
 * @param policy What a full queue does.
 * @param dropped Takes each dropped message (and acks it).
 * @returns Whether to enqueue `m`: false when `m` was dropped, or when the
 * queue is closed (`m` is then acked).
 */
export function makeRoom(
  q: Queue<Message>,
  m: Message,
  limit: number,
  policy: DropPolicy,
  dropped: (m: Message) => void,
): boolean {
  if (q.closed) {
    m.ack();
    return false;
  }
  if (limit > 0 && q.length >= limit) {
    if (policy === "drop-oldest") {
      const old = q.tryDequeue();
      if (old !== undefined) dropped(old);
    } else if (policy === "drop-newest") {
      dropped(m);
      return false;
    }
  }
  return true;
}

/** What a `"block"` subscription tells the client about its buffer. */
export interface FlowControl {
  /** The buffer is full: stop reading from the broker. */
  block(t: QueueTarget): void;
  /** The consumer drained it to half: read again. */
  unblock(t: QueueTarget): void;
}

/** Subscription backed by a Queue with a bound and a drop policy. */
export class QueueTarget implements Target, QueueSubscription {
  readonly token: SubscriptionToken;
  readonly queue: Queue<Message> = new Queue<Message>();
  mark = 0;
  #limit: number;
  #policy: DropPolicy;
  #flow: FlowControl | undefined;
  #blocked = false;
  /** When the buffer last filled up (ms). */
  blockedAt = 0;
  /** The long-block warning was given for this episode. */
  blockWarned = false;
  #onDrop: ((m: Message) => void) | undefined;
  #autoAck: boolean;
  #unsubscribe: (t: SubscriptionToken, o?: { signal?: AbortSignal }) => Promise<void>;
  /** Unsubscribes for a subscription that ends (loop exit, dispose): never waits out an outage. */
  #end: (t: SubscriptionToken) => Promise<void>;
  #countDrop: (t: SubscriptionToken, count: number) => void;
  #drops = 0;

  constructor(
    token: SubscriptionToken,
    limit: number,
    policy: DropPolicy,
    options: SubscribeOptions,
    unsubscribe: (t: SubscriptionToken, o?: { signal?: AbortSignal }) => Promise<void>,
    countDrop: (t: SubscriptionToken, count: number) => void,
    end: (t: SubscriptionToken) => Promise<void> = (t) => unsubscribe(t),
    flow?: FlowControl,
  ) {
    this.#end = end;
    this.token = token;
    this.#limit = limit;
    this.#policy = policy;
    if (policy === "block" && limit > 0 && flow !== undefined) {
      this.#flow = flow;
      const q = this.queue;
      const low = Math.floor(limit / 2);
      onTake(q, () => {
        if (this.#blocked && q.length <= low) {
          this.#blocked = false;
          flow.unblock(this);
        }
      });
    }
    this.#onDrop = options.onDrop;
    this.#autoAck = options.autoAck === true;
    this.#unsubscribe = unsubscribe;
    this.#countDrop = countDrop;
  }

  /** Whether the full buffer is holding the broker back now. */
  get blocked(): boolean {
    return this.#blocked;
  }

  deliver(m: Message): boolean {
    const q = this.queue;
    // Full under "block": the client has stopped reading; what it had already read still lands.
    if (!makeRoom(q, m, this.#limit, this.#policy, this.#dropped)) return false;
    if (this.#autoAck) {
      const copy = detachedCopy(m);
      m.ack();
      q.enqueue(copy);
    } else {
      q.enqueue(m);
    }
    if (this.#flow !== undefined && !this.#blocked && q.length >= this.#limit) {
      this.#blocked = true;
      this.blockedAt = Date.now();
      this.blockWarned = false;
      this.#flow.block(this);
    }
    return true;
  }

  /** Bound once (not a method): {@linkcode makeRoom} takes it for every message. */
  readonly #dropped = (m: Message): void => {
    m.ack(); // so the broker stops retrying
    this.#countDrop(this.token, ++this.#drops);
    if (this.#onDrop !== undefined) {
      try {
        this.#onDrop(m);
      } catch {
        // an observer's failure must not break the read path
      }
    }
  };

  end(): void {
    const q = this.queue;
    // Buffered messages will never be processed: ack them so the §4.6 order moves on.
    for (let m = q.tryDequeue(); m !== undefined; m = q.tryDequeue()) m.ack();
    q.close();
  }

  unsubscribe(options?: { signal?: AbortSignal }): Promise<void> {
    return this.#unsubscribe(this.token, options);
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return queueIterator(this.queue, () => this[Symbol.asyncDispose]());
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.queue.closed ? Promise.resolve() : this.#end(this.token).catch(() => {});
  }
}

/** Subscription whose handler runs on the read path; auto-acks after it returns. */
export class CallbackTarget implements Target {
  readonly token: SubscriptionToken;
  mark = 0;
  #handler: (m: Message) => void;
  #onError: (err: unknown) => void;
  #ended = false;

  constructor(
    token: SubscriptionToken,
    handler: (m: Message) => void,
    onError: (err: unknown) => void,
  ) {
    this.token = token;
    this.#handler = handler;
    this.#onError = onError;
  }

  deliver(m: Message): boolean {
    if (this.#ended) {
      m.ack();
      return false;
    }
    try {
      this.#handler(m);
    } catch (err) {
      this.#onError(err);
    } finally {
      m.ack();
    }
    return true;
  }

  end(): void {
    this.#ended = true;
  }
}
