/**
 * {@linkcode RateLimiter}: `ClientOptions.rateLimit`, token buckets over the
 * outbound PUBLISH packets of one client (first transmissions and replays).
 * A PUBLISH takes one message token and, with `bytesPerSecond`, as many byte
 * tokens as its encoded size; one that finds too few waits in a FIFO queue
 * and goes when its turn comes. Time comes from a {@linkcode Clock}, so tests
 * move it by hand.
 *
 * @module
 */

import { checkInt } from "../_internal/args.ts";
import { packetLength } from "../wire/encode.ts";
import type { PublishPacket } from "../wire/types.ts";
import { type Clock, systemClock } from "./keepalive.ts";

/**
 * `ClientOptions.rateLimit`: token buckets over outbound PUBLISH packets, for
 * brokers that disconnect a fast publisher (AWS IoT Core allows 100 publishes
 * and 512 KiB per second per connection). Every PUBLISH counts: QoS 0, QoS 1
 * and 2, and the replays after a reconnect. A publish that finds no token
 * waits for one, in call order (QoS 0 among QoS 0, QoS 1/2 in the session's
 * order); its `signal` ends the wait (it rejects with `signal.reason` and
 * nothing is sent; a QoS 1/2 publish takes its packet identifier only once it
 * has its token). `disconnect()` rejects the waiting ones with `closed`. The
 * buckets belong to one client and last across its reconnects; each member of
 * a `publisherPool` has its own.
 *
 * @example AWS IoT Core's per-connection limits, with room to spare
 * ```ts
 * import type { RateLimitOptions } from "@mqttv5/client";
 *
 * const rateLimit: RateLimitOptions = { messagesPerSecond: 90, bytesPerSecond: 480 * 1024, burst: 20 };
 * ```
 *
 * @example A waiting publish is aborted; the next one waits its turn and goes
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type DialFunc } from "@mqttv5/client";
 * import { encodePacket, PacketDecoder, PacketType } from "@mqttv5/client/wire";
 *
 * // A stand-in broker: accepts the CONNECT and keeps the payload of every PUBLISH.
 * const payloads: string[] = [];
 * const dial: DialFunc = () => {
 *   const decoder = new PacketDecoder();
 *   let reply: (bytes: Uint8Array) => void = () => {};
 *   return Promise.resolve({
 *     start: (onData) => reply = onData,
 *     write: (bytes) => {
 *       for (const p of decoder.push(bytes)) {
 *         if (p.type === PacketType.Connect) {
 *           const connack = { type: PacketType.Connack, sessionPresent: false, reasonCode: 0 } as const;
 *           queueMicrotask(() => reply(encodePacket(connack)));
 *         }
 *         if (p.type === PacketType.Publish) payloads.push(new TextDecoder().decode(p.payload));
 *       }
 *       return Promise.resolve();
 *     },
 *     close: () => {},
 *   });
 * };
 *
 * // 20 publishes a second, at most 2 back to back.
 * const client = new Client({ broker: "mqtt://broker.test", dial, rateLimit: { messagesPerSecond: 20, burst: 2 } });
 * await client.connect();
 * await client.publish({ topic: "t/a", payload: "1" });
 * await client.publish({ topic: "t/a", payload: "2" });
 * const ac = new AbortController();
 * const third = client.publish({ topic: "t/a", payload: "3" }, { signal: ac.signal }); // waits
 * ac.abort(new Error("not needed"));
 * await assert.rejects(third, { message: "not needed" });
 * await client.publish({ topic: "t/a", payload: "4" }); // 50 ms later
 * await client.disconnect();
 * assert.deepEqual(payloads, ["1", "2", "4"]);
 * assert.throws(() => new Client({ broker: "mqtt://broker.test", rateLimit: { messagesPerSecond: 0 } }), RangeError);
 * ```
 */
export interface RateLimitOptions {
  /**
   * PUBLISH packets per second (a fraction is fine: 0.5 is one every two
   * seconds).
   *
   * @default {no limit}
   */
  messagesPerSecond?: number;
  /**
   * Bytes per second, each PUBLISH counted at its encoded size (fixed header
   * and packet identifier included) with its topic name: a PUBLISH that an
   * automatic topic alias shortens counts as if it carried its topic, the
   * one that sets an alias without the alias's 3 bytes. The bucket holds one
   * second's worth; a PUBLISH larger than that waits for a full bucket, then
   * goes, and the ones after it wait until it is paid for.
   *
   * @default {no limit}
   */
  bytesPerSecond?: number;
  /**
   * The most PUBLISH packets that may go back to back after a quiet spell:
   * the capacity of the message bucket (an integer >= 1; needs
   * `messagesPerSecond`).
   *
   * @default {one second's worth: messagesPerSecond, at least 1}
   */
  burst?: number;
}

/**
 * Checks `ClientOptions.rateLimit`.
 *
 * @param v The value given.
 * @returns `v`, typed.
 * @throws {TypeError} Not an object, a field that is not a number, neither
 * rate given, or `burst` without `messagesPerSecond`.
 * @throws {RangeError} A rate that is not a positive finite number, a `burst`
 * that is not an integer >= 1.
 */
export function checkRateLimit(v: unknown): RateLimitOptions | undefined {
  if (v === undefined) return v;
  const { messagesPerSecond: m, bytesPerSecond: b, burst } = Object(v) as RateLimitOptions;
  for (const [name, x] of [["messagesPerSecond", m], ["bytesPerSecond", b]]) {
    if (x !== undefined && (typeof x !== "number" || !(x > 0 && x < Infinity))) {
      throw new (typeof x === "number" ? RangeError : TypeError)(
        `option rateLimit.${name} must be a positive finite number, got ${String(x)}`,
      );
    }
  }
  if (
    v === null || typeof v !== "object" ||
    m === undefined && (b === undefined || burst !== undefined)
  ) {
    throw new TypeError(
      "option rateLimit must be an object with messagesPerSecond (which burst needs) or bytesPerSecond",
    );
  }
  if (burst !== undefined) checkInt("option rateLimit.burst", burst, 1);
  return v as RateLimitOptions;
}

/** A PUBLISH waiting for its turn. */
export interface RateWaiter {
  /** The byte tokens it needs. */
  bytes: number;
  /** Called once: its turn came and its tokens were taken for it (or the limiter closed). */
  wake: () => void;
}

/**
 * The token buckets of one client, and the PUBLISH packets waiting for them.
 * An absent rate has rate 0 and infinite tokens, so every formula below
 * holds without a special case (its wait is -Infinity).
 */
export class RateLimiter {
  readonly #clock: Clock;
  /** Tokens per millisecond. */
  readonly #mRate: number;
  readonly #bRate: number;
  /** Bucket capacities. */
  readonly #mMax: number;
  readonly #bMax: number;
  #m: number;
  #b: number;
  #at: number;
  /** Waiting PUBLISH packets, in order (a short queue: only what the limit holds back). */
  #q: RateWaiter[] = [];
  /** Stops the timer that drains the queue. */
  #stop: (() => void) | undefined;
  /** The session engine: 0 sends as it likes, 1 waits in the queue, 2 has its turn's tokens. */
  #engine = 0;
  /** The session engine's place in the queue: the tokens of its turn go to its next PUBLISH. */
  readonly #pump: RateWaiter;

  /**
   * @param o The checked options.
   * @param pump Sends what the session engine held back (`Outbound.pump`).
   * @param clock The time source.
   */
  constructor(o: RateLimitOptions, pump: () => void, clock: Clock = systemClock) {
    const m = o.messagesPerSecond;
    const b = o.bytesPerSecond;
    this.#clock = clock;
    this.#mRate = (m ?? 0) / 1000;
    this.#m = this.#mMax = m === undefined ? Infinity : o.burst ?? Math.max(1, m);
    this.#bRate = (b ?? 0) / 1000;
    this.#b = this.#bMax = b ?? Infinity;
    this.#at = clock.now();
    this.#pump = {
      bytes: 0,
      wake: () => {
        this.#engine = 2;
        pump();
      },
    };
  }

  /** Milliseconds until one message and `bytes` (at most a full bucket) are there; 0: now. */
  #due(bytes: number): number {
    const t = this.#clock.now();
    const dt = Math.max(0, t - this.#at); // a clock that steps back refills nothing
    this.#at = t;
    this.#m = Math.min(this.#mMax, this.#m + dt * this.#mRate);
    this.#b = Math.min(this.#bMax, this.#b + dt * this.#bRate);
    return Math.max(
      0,
      (1 - this.#m) / this.#mRate,
      (Math.min(bytes, this.#bMax) - this.#b) / this.#bRate,
    );
  }

  #take(bytes: number): void {
    this.#m--;
    this.#b -= bytes;
  }

  /**
   * Takes one message and `bytes` when they are there and nothing waits ahead.
   *
   * @param bytes The PUBLISH's size (ignored without `bytesPerSecond`).
   * @returns Whether the tokens were taken.
   */
  take(bytes: number): boolean {
    if (this.#q.length > 0 || this.#due(bytes) > 0) return false;
    this.#take(bytes);
    return true;
  }

  /**
   * Queues a PUBLISH: when its turn comes and its tokens are there, they are
   * taken for it and `wake` is called; {@linkcode RateLimiter.close} calls it
   * at once.
   *
   * @param bytes The PUBLISH's size.
   * @param wake Sends, or settles otherwise.
   * @returns The waiter, for {@linkcode RateLimiter.cancel}.
   */
  wait(bytes: number, wake: () => void): RateWaiter {
    const w = { bytes, wake };
    this.#q.push(w);
    this.#arm();
    return w;
  }

  /**
   * Removes a waiter (its publish was aborted); it is never woken.
   *
   * @param w The waiter.
   */
  cancel(w: RateWaiter): void {
    const i = this.#q.indexOf(w);
    if (i >= 0) this.#q.splice(i, 1);
    if (i === 0) {
      // The timer was set for it: the next one may be due sooner.
      this.#stop?.();
      this.#stop = undefined;
      this.#arm();
    }
  }

  /**
   * For the session engine (`OutboundHost.admit`): a QoS 1/2 PUBLISH goes
   * with the tokens taken for the engine's turn, or with tokens there now
   * when nothing waits ahead; else the engine takes its place in the queue
   * (once) and is pumped when its turn comes.
   *
   * @param p The PUBLISH about to be sent.
   * @returns Whether it may go now.
   */
  admit(p: PublishPacket): boolean {
    if (this.#engine === 2) {
      this.#engine = 0;
      return true;
    }
    let bytes = 0;
    if (this.#bRate > 0) {
      try {
        // A stand-in identifier: a queued publish gets its own once admitted.
        bytes = packetLength({ ...p, packetId: p.packetId ?? 1 });
      } catch {
        // It no longer encodes: the engine fails it when it tries to write it.
      }
    }
    if (this.take(bytes)) return true;
    this.#pump.bytes = bytes;
    if (this.#engine === 0) {
      this.#engine = 1;
      this.#q.push(this.#pump);
      this.#arm();
    }
    return false;
  }

  /** Starts the timer for the first waiter, unless it runs. */
  #arm(): void {
    if (this.#stop !== undefined || this.#q.length === 0) return;
    this.#stop = this.#clock.every(Math.ceil(this.#due(this.#q[0].bytes)), this.#drain);
  }

  /** Wakes waiters in order while their tokens are there, taking the tokens for them. */
  #drain = (): void => {
    this.#stop?.();
    this.#stop = undefined;
    const q = this.#q;
    while (q.length > 0 && this.#due(q[0].bytes) === 0) {
      this.#take(q[0].bytes);
      q.shift()!.wake();
    }
    this.#arm();
  };

  /** The client is closed: the timer stops and every waiter is woken (each finds the client closed). */
  close(): void {
    this.#stop?.();
    this.#stop = undefined;
    for (const w of this.#q.splice(0)) w.wake();
  }
}
