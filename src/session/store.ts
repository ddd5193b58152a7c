/**
 * The {@linkcode SessionStore} contract: where a client keeps the state of its
 * QoS 1/2 exchanges so they survive a reconnect (memory) or a crash (file).
 *
 * The client writes ahead: an outbound QoS 1/2 PUBLISH is stored before it is
 * written to the socket; a PUBREC moves the record on before PUBREL is
 * written; an inbound QoS 2 PUBLISH is recorded before PUBREC is written. A
 * store method that returns a promise is awaited before the packet goes out;
 * a rejected promise stops the connection as a crash would.
 *
 * @module
 */

import type { PublishPacket } from "../wire/types.ts";

/**
 * One outbound QoS 1/2 flow as a store keeps it.
 *
 * @example Inspect stored flows
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemorySessionStore, PacketType, type StoredOutbound } from "@mqttv5/client";
 *
 * const store = new MemorySessionStore();
 * store.putOutbound(1, {
 *   type: PacketType.Publish,
 *   topic: "a",
 *   payload: new Uint8Array(),
 *   qos: 1,
 *   retain: false,
 *   dup: false,
 *   packetId: 1,
 * });
 * const [flow]: StoredOutbound[] = store.load().outbound;
 * assert.equal(flow.stage, "publish");
 * ```
 */
export interface StoredOutbound {
  /** The packet identifier of the flow. */
  packetId: number;
  /** `"publish"`: awaiting PUBACK / PUBREC; `"pubrel"`: PUBREL sent, awaiting PUBCOMP. */
  stage: "publish" | "pubrel";
  /** The PUBLISH (its payload may be empty once the flow is at `"pubrel"`). */
  packet: PublishPacket;
}

/**
 * Everything a store holds, as {@linkcode SessionStore.load} returns it.
 *
 * @example Load a session
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemorySessionStore, type StoredSession } from "@mqttv5/client";
 *
 * const store = new MemorySessionStore();
 * store.putInbound(9);
 * const session: StoredSession = store.load();
 * assert.deepEqual(session.inbound, [9]);
 * ```
 */
export interface StoredSession {
  /** Outbound flows in the order they were first stored. */
  outbound: StoredOutbound[];
  /** Inbound QoS 2 packet identifiers answered (or about to be answered) with PUBREC. */
  inbound: number[];
}

/**
 * Persistence for in-flight QoS 1/2 state. Every method may return a promise;
 * concurrent calls are allowed and must be applied in call order.
 *
 * @example A store that logs and delegates
 * ```ts
 * import { MemorySessionStore, type SessionStore } from "@mqttv5/client";
 *
 * const inner = new MemorySessionStore();
 * const store: SessionStore = {
 *   load: () => inner.load(),
 *   putOutbound: (packetId, packet) => {
 *     console.log("store", packetId);
 *     return inner.putOutbound(packetId, packet);
 *   },
 *   releaseOutbound: (packetId) => inner.releaseOutbound(packetId),
 *   deleteOutbound: (packetId) => inner.deleteOutbound(packetId),
 *   putInbound: (packetId) => inner.putInbound(packetId),
 *   deleteInbound: (packetId) => inner.deleteInbound(packetId),
 *   clearInbound: () => inner.clearInbound(),
 *   close: () => inner.close(),
 * };
 * ```
 */
export interface SessionStore {
  /**
   * Reads the stored session (at `connect()`, before the first CONNECT).
   *
   * @returns The stored outbound flows and inbound identifiers.
   */
  load(): StoredSession | Promise<StoredSession>;
  /**
   * Records an outbound QoS 1/2 PUBLISH before it is first written.
   *
   * @param packetId The packet identifier of the flow.
   * @param packet The PUBLISH, with its payload.
   */
  putOutbound(packetId: number, packet: PublishPacket): void | Promise<void>;
  /**
   * Moves a flow to the PUBREL stage (PUBREC received) before PUBREL is written.
   *
   * @param packetId The packet identifier of the flow.
   */
  releaseOutbound(packetId: number): void | Promise<void>;
  /**
   * Forgets a finished flow (PUBACK, PUBCOMP, or a refusal).
   *
   * @param packetId The packet identifier of the flow.
   */
  deleteOutbound(packetId: number): void | Promise<void>;
  /**
   * Records an inbound QoS 2 packet identifier before PUBREC is written.
   *
   * @param packetId The packet identifier of the inbound PUBLISH.
   */
  putInbound(packetId: number): void | Promise<void>;
  /**
   * Forgets an inbound QoS 2 identifier once PUBCOMP answered its PUBREL.
   *
   * @param packetId The packet identifier of the inbound PUBLISH.
   */
  deleteInbound(packetId: number): void | Promise<void>;
  /** Forgets every inbound identifier (the broker lost the session). */
  clearInbound(): void | Promise<void>;
  /** Releases resources (files, locks). The client never calls it: whoever opened the store closes it. */
  close(): void | Promise<void>;
  /**
   * Optional: makes the store usable again after a failed write (a file store
   * re-reads its log). The client calls it before the next connect after a
   * store failure, then `load()`.
   *
   * @returns A promise that resolves once the store is usable again.
   */
  recover?(): Promise<void>;
}

/**
 * The default store: in memory, synchronous, lost with the process. It keeps
 * the session across reconnects, not across restarts; use `FileSessionStore`
 * (`@mqttv5/client/store/file`) for crash safety.
 *
 * @example Usage
 * ```ts
 * import { MemorySessionStore } from "@mqttv5/client";
 *
 * const store = new MemorySessionStore();
 * store.putInbound(7);
 * console.log(store.load().inbound); // [7]
 * ```
 */
export class MemorySessionStore implements SessionStore {
  #outbound = new Map<number, StoredOutbound>();
  #inbound = new Set<number>();

  /**
   * A copy of what the store holds.
   *
   * @returns Outbound flows in insertion order and inbound identifiers.
   */
  load(): StoredSession {
    return { outbound: [...this.#outbound.values()], inbound: [...this.#inbound] };
  }

  /**
   * Records an outbound flow.
   *
   * @param packetId The packet identifier.
   * @param packet The PUBLISH.
   */
  putOutbound(packetId: number, packet: PublishPacket): void {
    this.#outbound.delete(packetId);
    this.#outbound.set(packetId, { packetId, stage: "publish", packet });
  }

  /**
   * Moves a flow to the PUBREL stage.
   *
   * @param packetId The packet identifier.
   */
  releaseOutbound(packetId: number): void {
    const r = this.#outbound.get(packetId);
    if (r !== undefined) r.stage = "pubrel";
  }

  /**
   * Forgets a flow.
   *
   * @param packetId The packet identifier.
   */
  deleteOutbound(packetId: number): void {
    this.#outbound.delete(packetId);
  }

  /**
   * Records an inbound QoS 2 identifier.
   *
   * @param packetId The packet identifier.
   */
  putInbound(packetId: number): void {
    this.#inbound.add(packetId);
  }

  /**
   * Forgets an inbound QoS 2 identifier.
   *
   * @param packetId The packet identifier.
   */
  deleteInbound(packetId: number): void {
    this.#inbound.delete(packetId);
  }

  /** Forgets every inbound identifier. */
  clearInbound(): void {
    this.#inbound.clear();
  }

  /** Nothing to release. */
  close(): void {}
}
