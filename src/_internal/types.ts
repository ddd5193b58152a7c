/**
 * Types every layer shares: the logger a caller hands in, and what a full
 * buffer drops. Defined here, at the bottom, so that `queue/` and `client/`
 * both use them without an upward import; re-exported from
 * `client/options.ts` and `mod.ts`. Internal module: not an entry point.
 *
 * @module
 */

/**
 * A structured logger. `console` satisfies it.
 *
 * @example Usage
 * ```ts
 * import type { Logger } from "@mqttv5/client";
 * const logger: Logger = console;
 * ```
 */
export interface Logger {
  /**
   * Debug detail.
   *
   * @param msg The message.
   * @param fields Structured context (packet ids, reason codes, URLs).
   */
  debug(msg: string, fields?: Record<string, unknown>): void;
  /**
   * Notable events.
   *
   * @param msg The message.
   * @param fields Structured context (packet ids, reason codes, URLs).
   */
  info(msg: string, fields?: Record<string, unknown>): void;
  /**
   * Something went wrong but the client carries on.
   *
   * @param msg The message.
   * @param fields Structured context (packet ids, reason codes, URLs).
   */
  warn(msg: string, fields?: Record<string, unknown>): void;
  /**
   * Something failed.
   *
   * @param msg The message.
   * @param fields Structured context (packet ids, reason codes, URLs).
   */
  error(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * What a subscription does when its buffer is full.
 *
 * - `"block"` (the default): nothing is dropped. The client stops reading from
 *   the broker until the consumer catches up, so a slow consumer slows the
 *   broker (TCP backpressure, and the QoS 1/2 acks it holds back); memory
 *   stays bounded and keep-alive goes on. This departs from the Go reference
 *   on purpose: at QoS 1/2 a JavaScript user expects at least once.
 * - `"drop-newest"`: the arriving message is dropped and **acked** (the
 *   broker never resends it), counted, and handed to `onDrop`: the Go
 *   behaviour.
 * - `"drop-oldest"`: the same for the oldest buffered message
 *   (`subscribeQueue()` only).
 *
 * @example Keep the newest messages, drop the rest
 * ```ts
 * import type { DropPolicy } from "@mqttv5/client";
 *
 * const dropPolicy: DropPolicy = "drop-oldest";
 * ```
 */
export type DropPolicy = "block" | "drop-newest" | "drop-oldest";
