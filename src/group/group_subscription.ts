/**
 * {@linkcode GroupSubscription}: the merged stream of a `ClientGroup`
 * subscription, and its implementation.
 *
 * @module
 */

import type { Message } from "../client/message.ts";
import type { DropPolicy } from "../client/options.ts";
import { onTake, Queue } from "../client/queue.ts";
import {
  makeRoom,
  queueIterator,
  type QueueSubscription,
  type SubscriptionToken,
} from "../client/subscription.ts";
import { GroupError } from "./group_error.ts";

/**
 * One subscription made on every member of a `ClientGroup`, merged into one
 * stream. Each message is the delivering member's own `Message`, so
 * `ack()` goes back to that member (and every message must be acked, as with
 * `Client.subscribe()`). The iteration ends on `unsubscribe()`, when a
 * `for await` loop over it exits early (which also unsubscribes), or once
 * every member's part has ended (`ClientGroup.unsubscribe()` of each member,
 * or `disconnect()`).
 *
 * @example Merge and ack
 * ```ts
 * import type { GroupSubscription } from "@mqttv5/client";
 *
 * async function drain(sub: GroupSubscription) {
 *   console.log("subscribed on", [...sub.tokens.keys()]);
 *   for await (const m of sub) {
 *     console.log(m.topic, m.text());
 *     m.ack(); // acks on the member that delivered it
 *   }
 * }
 * ```
 */
export interface GroupSubscription extends AsyncIterable<Message>, AsyncDisposable {
  /**
   * Each subscribed member's token, keyed by member name: for
   * `ClientGroup.unsubscribe(name, token)` and `ClientGroup.unsubscribeAll()`.
   */
  readonly tokens: Map<string, SubscriptionToken>;
  /**
   * The members that did not subscribe (or only in part), with their errors.
   * Empty when every member subscribed fully.
   */
  readonly errors: Map<string, unknown>;
  /**
   * Unsubscribes on every member and ends the iteration at once. Messages
   * still buffered are acked and discarded.
   *
   * @param options `signal` bounds the wait for the UNSUBACKs.
   * @returns Resolves once every member's broker answered. After the stream
   * ended by a loop exit or disposal it returns that ending (which never
   * rejects) and `options` no longer apply, except an already-aborted
   * `signal`, which rejects as below.
   * @throws {GroupError} When some member's unsubscribe failed (the iteration ends anyway).
   * @throws The `signal.reason`, unchanged, when `options.signal` is already
   * aborted (nothing happens: the stream goes on) or aborts while waiting for
   * the UNSUBACKs (the stream has ended; the UNSUBSCRIBEs stay on their way).
   */
  unsubscribe(options?: { signal?: AbortSignal }): Promise<void>;
}

/**
 * A {@linkcode GroupSubscription} whose messages land in one
 * {@linkcode Queue}.
 *
 * @example Usage
 * ```ts
 * import type { GroupQueueSubscription } from "@mqttv5/client";
 *
 * async function next(sub: GroupQueueSubscription) {
 *   const m = await sub.queue.dequeue();
 *   m?.ack();
 * }
 * ```
 */
export interface GroupQueueSubscription extends GroupSubscription {
  /** The queue every member's messages land in. */
  readonly queue: Queue<Message>;
}

/** One member's part of a merged subscription. */
export interface MemberPart {
  name: string;
  sub: QueueSubscription;
}

/**
 * Merges the member subscriptions (each a `subscribeQueue()` with an
 * unbounded queue) into one queue with a bound and a drop policy: one pump
 * per member moves its messages over as they arrive.
 */
export class MergedSubscription implements GroupQueueSubscription {
  readonly tokens: Map<string, SubscriptionToken> = new Map();
  readonly errors: Map<string, unknown>;
  readonly queue: Queue<Message> = new Queue<Message>();
  #parts: MemberPart[];
  #live: number;
  #limit: number;
  #policy: DropPolicy;
  #onDrop: ((m: Message) => void) | undefined;
  #sequential: boolean;
  #unsubscribing: Promise<void> | undefined;

  constructor(
    parts: MemberPart[],
    errors: Map<string, unknown>,
    limit: number,
    policy: DropPolicy,
    onDrop: ((m: Message) => void) | undefined,
    sequential: boolean,
  ) {
    this.#parts = parts;
    this.errors = errors;
    this.#live = parts.length;
    this.#limit = limit;
    this.#policy = policy;
    this.#onDrop = onDrop;
    this.#sequential = sequential;
    for (const p of parts) this.tokens.set(p.name, p.sub.token);
    if (policy === "block" && limit > 0) {
      // A pump takes from its member only while the merged queue has room; the member's own
      // bounded "block" queue then fills and slows that member's broker.
      onTake(this.queue, () => {
        const wake = this.#room;
        if (wake !== undefined && this.queue.length < this.#limit) {
          this.#room = undefined;
          wake();
        }
      });
    }
    for (const p of parts) void this.#pump(p);
  }

  /** Wakes the pumps waiting for room in the merged queue (`"block"`). */
  #room: (() => void) | undefined;
  #roomPromise: Promise<void> | undefined;

  /** Resolves once the merged queue has room (or is closed). */
  #hasRoom(): Promise<void> | undefined {
    const q = this.queue;
    if (this.#policy !== "block" || this.#limit === 0 || q.length < this.#limit || q.closed) {
      return undefined;
    }
    if (this.#room === undefined) {
      this.#roomPromise = new Promise<void>((resolve) => {
        this.#room = () => {
          this.#roomPromise = undefined;
          resolve();
        };
      });
    }
    return this.#roomPromise;
  }

  async #pump(part: MemberPart): Promise<void> {
    const q = part.sub.queue;
    while (true) {
      const room = this.#hasRoom();
      if (room !== undefined) await room;
      const m = q.length > 0 ? q.tryDequeue() : await q.dequeue();
      if (m === undefined) break; // the member's subscription ended
      this.#deliver(m);
    }
    if (--this.#live === 0) this.#end();
  }

  #deliver(m: Message): void {
    // Full under "block": a pump that waited for room took one message; several pumps may
    // overshoot the bound by one message each.
    if (makeRoom(this.queue, m, this.#limit, this.#policy, this.#dropped)) this.queue.enqueue(m);
  }

  /** Bound once (not a method): {@linkcode makeRoom} takes it for every message. */
  readonly #dropped = (m: Message): void => {
    m.ack(); // so the broker stops retrying
    if (this.#onDrop !== undefined) {
      try {
        this.#onDrop(m);
      } catch {
        // an observer's failure must not stop the pump
      }
    }
  };

  /** Ends the merged stream: buffered messages are acked and discarded. */
  #end(): void {
    const q = this.queue;
    for (let m = q.tryDequeue(); m !== undefined; m = q.tryDequeue()) m.ack();
    q.close();
    const wake = this.#room;
    this.#room = undefined;
    wake?.(); // pumps waiting for room go on: their member queues end too
  }

  unsubscribe(options?: { signal?: AbortSignal }): Promise<void> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.#unsubscribing ??= this.#unsubscribeAll(options);
    return this.#unsubscribing;
  }

  async #unsubscribeAll(options: { signal?: AbortSignal } | undefined): Promise<void> {
    this.#end();
    const signal = options?.signal;
    const failures = new Map<string, unknown>();
    if (this.#sequential) {
      for (const p of this.#parts) {
        if (signal?.aborted) {
          // The stream has ended: the parts not reached yet end too, without a wait.
          void p.sub[Symbol.asyncDispose]();
          continue;
        }
        try {
          await p.sub.unsubscribe(options);
        } catch (err) {
          failures.set(p.name, err);
        }
      }
    } else {
      const settled = await Promise.allSettled(this.#parts.map((p) => p.sub.unsubscribe(options)));
      settled.forEach((s, i) => {
        if (s.status === "rejected") failures.set(this.#parts[i].name, s.reason);
      });
    }
    signal?.throwIfAborted();
    if (failures.size > 0) throw new GroupError("unsubscribe", failures);
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return queueIterator(this.queue, () => this.#endParts());
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#endParts();
  }

  /**
   * Ends the stream and disposes every member's part, which waits for each
   * UNSUBACK only while that member is connected (never through an outage).
   */
  #endParts(): Promise<void> {
    if (this.#unsubscribing !== undefined) return this.#unsubscribing.catch(() => {});
    this.#end();
    const parts = this.#parts;
    this.#unsubscribing = this.#sequential
      ? (async () => {
        for (const p of parts) await p.sub[Symbol.asyncDispose]();
      })()
      : Promise.all(parts.map((p) => p.sub[Symbol.asyncDispose]())).then(() => {});
    return this.#unsubscribing;
  }
}
