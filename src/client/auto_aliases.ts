/**
 * {@linkcode AutoAliases}: `ClientOptions.autoTopicAlias` on one connection.
 * The client picks the outbound topic aliases itself: a least recently used
 * map from topic to alias, at most the broker's Topic Alias Maximum long,
 * made afresh for each connection. It decides at the moment a PUBLISH is
 * handed to the writer, which encodes at once and keeps the order: so a
 * PUBLISH that sets an alias is always on the wire before one that uses it,
 * whatever the batching.
 *
 * @module
 */

import { packetLength } from "../wire/encode.ts";
import type { PublishPacket } from "../wire/types.ts";

/** Where a PUBLISH goes: the connection's writer, which encodes it at once. */
export interface PublishSink {
  /** Encodes and queues `p`; throws before queueing anything when it does not encode. */
  send(p: PublishPacket): void;
}

/**
 * The automatic outbound topic aliases of one connection.
 *
 * @example Three aliases, four topics
 * ```ts
 * import assert from "node:assert/strict";
 * import { AutoAliases } from "./auto_aliases.ts";
 * import type { PublishPacket } from "../wire/types.ts";
 *
 * const wire: [string, number | undefined][] = [];
 * const sink = { send: (p: PublishPacket) => wire.push([p.topic, p.properties?.topicAlias]) };
 * const aliases = new AutoAliases(3);
 * const send = (topic: string) =>
 *   aliases.send(sink, { type: 3, topic, payload: new Uint8Array(), qos: 0, retain: false, dup: false });
 * for (const t of ["site/a", "site/b", "site/c", "site/a", "site/d", "site/a", "site/b"]) send(t);
 * assert.deepEqual(wire, [
 *   ["site/a", 1], ["site/b", 2], ["site/c", 3],
 *   ["", 1],                     // a known topic: its alias alone
 *   ["site/d", 2],               // all taken: site/b, least recently used, gives up alias 2
 *   ["", 1],
 *   ["site/b", 3],               // site/c was least recently used now
 * ]);
 * ```
 */
export class AutoAliases {
  readonly #max: number;
  readonly #maxSize: number;
  /** Topic -> alias, least recently used first (a Map keeps insertion order). */
  readonly #lru = new Map<string, number>();

  /**
   * @param max The broker's Topic Alias Maximum (>= 1).
   * @param maxPacketSize The broker's Maximum Packet Size, if it set one.
   */
  constructor(max: number, maxPacketSize: number = Infinity) {
    this.#max = max;
    this.#maxSize = maxPacketSize;
  }

  /**
   * Sends `p` with an alias: alone when the broker knows the topic's alias on
   * this connection, else with the topic (a new alias, or the least recently
   * used one's). A replay (DUP=1) and a topic shorter than 4 characters go
   * as they are. `p` itself is left as it was (the session may replay it).
   *
   * @param sink The writer.
   * @param p The PUBLISH, without a topic alias of its own.
   */
  send(sink: PublishSink, p: PublishPacket): void {
    const topic = p.topic;
    const props = p.properties;
    if (p.dup || topic.length < 4) return sink.send(p);
    const lru = this.#lru;
    let alias = lru.get(topic);
    const known = alias !== undefined;
    let evicted: string | undefined;
    if (!known) {
      if (lru.size < this.#max) {
        alias = lru.size + 1;
      } else {
        evicted = lru.keys().next().value as string;
        alias = lru.get(evicted);
      }
    }
    // The writer encodes before send() returns: the packet is changed only meanwhile.
    p.properties = { ...props, topicAlias: alias };
    if (known) p.topic = "";
    try {
      // An alias never makes a PUBLISH carrying its topic go past the broker's limit.
      if (!known && this.#maxSize < Infinity && packetLength(p) > this.#maxSize) {
        p.properties = props;
        return sink.send(p);
      }
      sink.send(p);
    } finally {
      p.topic = topic;
      p.properties = props;
    }
    if (evicted !== undefined) lru.delete(evicted);
    lru.delete(topic); // now the most recently used
    lru.set(topic, alias!);
  }
}
