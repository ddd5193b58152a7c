/**
 * Reconnect backoff: a {@linkcode Backoff} is a plain function from the retry
 * number to a delay in milliseconds, so tests can inject their own.
 *
 * @module
 */

/**
 * The delay in milliseconds before retry `attempt` (0 for the first retry
 * after a connection is lost).
 *
 * @example A backoff that never waits
 * ```ts
 * import type { Backoff } from "@mqttv5/client";
 * const immediate: Backoff = () => 0;
 * ```
 */
export type Backoff = (attempt: number) => number;

/**
 * Doubles `minMs` with each attempt up to `maxMs`, then adds a uniform jitter
 * in `[-jitterMs, +jitterMs]` (never below 0).
 *
 * @param minMs The first delay. @default {1000}
 * @param maxMs The largest delay. @default {30000}
 * @param jitterMs The jitter bound. @default {200}
 * @returns The backoff function.
 * @throws {RangeError} When a bound is negative or `maxMs < minMs`.
 *
 * @example Usage
 * ```ts
 * import { exponentialBackoff } from "@mqttv5/client";
 * const backoff = exponentialBackoff(100, 5_000, 0);
 * console.log(backoff(0), backoff(3), backoff(10)); // 100 800 5000
 * ```
 */
export function exponentialBackoff(minMs = 1000, maxMs = 30_000, jitterMs = 200): Backoff {
  if (!(minMs >= 0) || !(maxMs >= minMs) || !(jitterMs >= 0)) {
    throw new RangeError(`exponentialBackoff needs 0 <= minMs <= maxMs and jitterMs >= 0`);
  }
  return (attempt) => {
    const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 52));
    const jitter = jitterMs === 0 ? 0 : (Math.random() * 2 - 1) * jitterMs;
    return Math.max(0, Math.round(base + jitter));
  };
}

/**
 * The same delay for every attempt.
 *
 * @param ms The delay.
 * @returns The backoff function.
 * @throws {RangeError} When `ms` is negative.
 *
 * @example Usage
 * ```ts
 * import { constantBackoff } from "@mqttv5/client";
 * console.log(constantBackoff(250)(7)); // 250
 * ```
 */
export function constantBackoff(ms: number): Backoff {
  if (!(ms >= 0)) throw new RangeError(`constantBackoff needs ms >= 0, got ${ms}`);
  return () => ms;
}
