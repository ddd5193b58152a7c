/**
 * What every `PublisherQueue` backend of this package checks of an
 * entry before it stores it. Internal: not exported from any entry point.
 *
 * @module
 */

import type { QueueEntry } from "./types.ts";

/**
 * Why `entry` cannot be enqueued: not an object, no `publish` object with a
 * string topic, or no finite `enqueuedAt`. `undefined` when it can.
 */
export function entryError(entry: QueueEntry): TypeError | undefined {
  if (entry === null || typeof entry !== "object") {
    return new TypeError("Cannot enqueue: the entry must be an object");
  }
  const p = entry.publish;
  if (p === null || typeof p !== "object" || typeof p.topic !== "string") {
    return new TypeError("Cannot enqueue: entry.publish must be an object with a string topic");
  }
  if (typeof entry.enqueuedAt !== "number" || !Number.isFinite(entry.enqueuedAt)) {
    return new TypeError(
      `Cannot enqueue: entry.enqueuedAt must be a finite number, got ${String(entry.enqueuedAt)}`,
    );
  }
  return undefined;
}
