/**
 * The publisher pool: N publish-only connections beside the main one, picked
 * per publish by round-robin or by a hash of the topic.
 *
 * @module
 */

import type { PublishOptions, PublishResult } from "./types.ts";
import { fnv1a32 } from "./_fnv.ts";

/**
 * How the pool picks the member for a publish.
 *
 * @example Route by topic
 * ```ts
 * import type { PoolRoutingPolicy } from "@mqttv5/client";
 *
 * const routing: PoolRoutingPolicy = "hash-by-topic";
 * ```
 */
export type PoolRoutingPolicy = "round-robin" | "hash-by-topic";

/**
 * `ClientOptions.publisherPool`: publish-only connections to the same
 * broker(s), each a full client with its own supervisor (Clean Start, session
 * expiry 0: a drop mid-flight can mean a duplicate, so keep ledger-style work
 * on the main connection).
 *
 * @example Four connections, per-topic order kept
 * ```ts
 * import type { PublisherPoolOptions } from "@mqttv5/client";
 * const pool: PublisherPoolOptions = { size: 4, routing: "hash-by-topic" };
 * ```
 */
export interface PublisherPoolOptions {
  /** Number of publish-only connections; 0 or 1 turns the pool off. */
  size: number;
  /**
   * Member choice. `"hash-by-topic"` keeps each topic on one member, so per-topic
   * order holds while the pool is healthy; when that member is down its topics
   * move to the next healthy member (or the main connection), and messages of one
   * topic sent around that moment may arrive out of order.
   *
   * @default {"round-robin"}
   */
  routing?: PoolRoutingPolicy;
  /**
   * Client identifier of member `index` (1-based).
   *
   * @default {`${parent}-pub-${index}`}
   */
  clientId?: (parent: string, index: number) => string;
}

/** What the pool needs from a member (a Client). */
export interface PoolMember {
  readonly connected: boolean;
  publish(message: PublishOptions, options?: { signal?: AbortSignal }): Promise<PublishResult>;
}

/** Picks healthy members; unhealthy starting members fall through to the next. */
export class PublisherPool<M extends PoolMember> {
  readonly members: readonly M[];
  #routing: PoolRoutingPolicy;
  #next = 0;

  constructor(members: M[], routing: PoolRoutingPolicy) {
    this.members = members;
    this.#routing = routing;
  }

  /** The member for `topic`, or undefined when none is connected. */
  pick(topic: string): M | undefined {
    const ms = this.members;
    const n = ms.length;
    if (n === 0) return undefined;
    let start: number;
    if (this.#routing === "hash-by-topic") {
      start = topic.length === 0 ? 0 : fnv1a32(topic) % n; // FNV-1a of the UTF-8 topic
    } else {
      start = this.#next;
      this.#next = (start + 1) % n;
    }
    for (let k = 0; k < n; k++) {
      const m = ms[(start + k) % n];
      if (m.connected) return m;
    }
    return undefined;
  }
}
