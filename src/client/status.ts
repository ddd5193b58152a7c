/**
 * The client's lifecycle events ({@linkcode StatusEvent}) and the bounded
 * per-reader stream that carries them.
 *
 * @module
 */

import type { SubscriptionToken } from "./subscription.ts";
import type { ConnackInfo } from "./types.ts";

/**
 * A lifecycle event of a client, discriminated by `type`:
 *
 * - `connected`, `disconnected`, `reconnecting`, `server-disconnect`,
 *   `reauthenticated`, `closed`: the connection's life.
 * - `dropped`: a subscription with `dropPolicy: "drop-newest" | "drop-oldest"`
 *   dropped a message (`count` is its running total).
 * - `blocked`: a subscription's buffer is full (`buffered` messages), so the
 *   client stopped reading from the broker until its consumer catches up
 *   (`dropPolicy: "block"`, the default); `unblocked` when it has (after
 *   `blockedMs`).
 * - `unacked`: a subscription holds `count` messages it has not acked for
 *   longer than `unackedWarningMs`; the oldest is `topic` / `packetId`, waiting
 *   `ageMs`. Until they are acked, the broker's acks for later messages wait
 *   (§4.6) and it stops sending once its in-flight window is full.
 * - `receive-maximum-exceeded`: the broker had `inFlight` unacknowledged QoS
 *   1/2 messages out, more than the `receiveMaximum` we advertised (once per
 *   connection; the client goes on, see `ClientOptions.receiveMaximum`).
 *
 * @example Log reconnects
 * ```ts
 * import type { StatusEvent } from "@mqttv5/client";
 *
 * function describe(e: StatusEvent): string {
 *   switch (e.type) {
 *     case "reconnecting":
 *       return `retry ${e.attempt} to ${e.url} in ${e.delayMs} ms`;
 *     case "connected":
 *       return `up (session present: ${e.connack.sessionPresent})`;
 *     default:
 *       return e.type;
 *   }
 * }
 * ```
 */
export type StatusEvent =
  | { type: "connected"; connack: ConnackInfo }
  | { type: "disconnected"; error?: Error; reasonCode?: number }
  | { type: "reconnecting"; attempt: number; delayMs: number; url: string }
  | {
    type: "server-disconnect";
    reasonCode: number;
    reasonString?: string;
    serverReference?: string;
  }
  | { type: "reauthenticated" }
  | { type: "dropped"; token: SubscriptionToken; count: number }
  | { type: "blocked"; token: SubscriptionToken; buffered: number }
  | { type: "unblocked"; token: SubscriptionToken; blockedMs: number }
  | {
    type: "unacked";
    token: SubscriptionToken;
    count: number;
    topic: string;
    packetId: number;
    ageMs: number;
  }
  | { type: "receive-maximum-exceeded"; receiveMaximum: number; inFlight: number }
  | { type: "closed" };

/** Events a reader may fall behind by before the oldest are dropped. */
const CAPACITY = 256;

/**
 * One reader's view of the status events: a bounded ring. A slow reader never
 * blocks the client: when full, the oldest event is dropped and counted in
 * {@linkcode StatusStream.dropped}. The stream ends after `closed`.
 *
 * @example Follow connection events
 * ```ts
 * import type { Client } from "@mqttv5/client";
 *
 * async function watch(client: Client) {
 *   for await (const event of client.status()) {
 *     console.log(event.type);
 *     if (event.type === "closed") break;
 *   }
 * }
 * ```
 */
export class StatusStream implements AsyncIterable<StatusEvent> {
  #ring: (StatusEvent | undefined)[] = new Array(CAPACITY);
  #head = 0;
  #size = 0;
  #ended = false;
  /** Pending next() calls, oldest first (usually none or one). */
  #waiters: ((r: IteratorResult<StatusEvent>) => void)[] = [];
  #detach: (s: StatusStream) => void;
  #dropped = 0;

  /**
   * Builds a reader's stream. `Client.status()` creates these; applications
   * only iterate them.
   *
   * @param detach Called once when the reader stops (return or `closed`).
   * @internal
   */
  constructor(detach: (s: StatusStream) => void) {
    this.#detach = detach;
  }

  /** Events dropped because this reader fell more than 256 events behind. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Adds an event; the client's side of the stream. When the reader is
   * behind by the bound, the oldest event is dropped and counted.
   *
   * @param e The event.
   * @internal
   */
  push(e: StatusEvent): void {
    if (this.#ended) return;
    if (e.type === "closed") this.#ended = true;
    const w = this.#waiters.shift();
    if (w !== undefined) {
      w({ done: false, value: e });
      if (this.#ended) this.#finishWaiters(); // calls beyond `closed` end
      return;
    }
    if (this.#size === CAPACITY) {
      this.#head = (this.#head + 1) % CAPACITY; // drop the oldest
      this.#size--;
      this.#dropped++;
    }
    this.#ring[(this.#head + this.#size) % CAPACITY] = e;
    this.#size++;
  }

  #next(): Promise<IteratorResult<StatusEvent>> {
    if (this.#size > 0) {
      const e = this.#ring[this.#head] as StatusEvent;
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % CAPACITY;
      this.#size--;
      return Promise.resolve({ done: false, value: e });
    }
    if (this.#ended) {
      this.#detach(this);
      return Promise.resolve({ done: true, value: undefined });
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Ends every pending next() call. */
  #finishWaiters(): void {
    const ws = this.#waiters;
    if (ws.length === 0) return;
    this.#waiters = [];
    this.#detach(this);
    for (const w of ws) w({ done: true, value: undefined });
  }

  /**
   * Iterates events until `closed` (inclusive), or until the loop exits.
   *
   * @returns The iterator.
   */
  [Symbol.asyncIterator](): AsyncIterator<StatusEvent> {
    return {
      next: () => this.#next(),
      return: () => {
        this.#ended = true;
        this.#size = 0;
        this.#detach(this);
        this.#finishWaiters();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }
}
