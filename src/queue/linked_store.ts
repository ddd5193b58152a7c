/**
 * {@linkcode LinkedSessionStore}: a {@linkcode SessionStore} wrapper that ties
 * the exchanges a `QueuePublisher` starts to the entries of its queue, so
 * that a restarted process lets the session finish the exchanges that were in
 * flight (DUP resend, PUBREL) instead of publishing those entries again as
 * new messages.
 *
 * ## How the link works
 *
 * The client writes every outbound QoS 1/2 PUBLISH to its store before the
 * packet reaches the socket (`putOutbound`). A `QueuePublisher` given this
 * store registers, just before it calls `client.publish`, the fresh
 * `properties` object of the message together with the queue entry's stable
 * `id`. When the client stores that PUBLISH, the wrapper recognises the
 * properties object and writes the PUBLISH to the inner store with one extra
 * user property, `mqttv5-queue-entry = <id>`. The marker travels inside the
 * same record as the flow itself (one write, one sync, no second log to keep
 * consistent) and never reaches the wire: {@linkcode LinkedSessionStore.load}
 * strips it before the client sees the packets.
 *
 * At `load()` (the client's first connect) the wrapper collects the entry ids
 * of the flows a previous process left; the `QueuePublisher` skips those
 * entries while the session completes them and removes them from its queue
 * when the client forgets the flow (`deleteOutbound`: PUBACK, PUBCOMP, or a
 * refusal, which the store cannot tell apart). The same path covers a publish
 * that timed out after it was handed to the session: it is left to the session
 * rather than sent a second time.
 *
 * ## Order of the two removals
 *
 * When a linked flow ends, the wrapper deletes it from the inner store only
 * after the queue has durably removed the entry (later calls for the same
 * packet identifier wait behind it, so the inner store still sees every call
 * in order). A crash between the two therefore leaves the flow in the session
 * with the entry gone from the queue: the next process resends the flow with
 * DUP=1, and never publishes the entry again as a new message. The other
 * order would leave the entry queued and its flow forgotten.
 *
 * Create the `QueuePublisher` before `client.connect()`: restored flows can
 * complete as soon as the connection is up, and the publisher must be
 * listening to match them with their entries.
 *
 * @module
 */

import { MemorySessionStore, type SessionStore, type StoredSession } from "../session/store.ts";
import type { PublishPacket, PublishProperties, UserProperty } from "../wire/types.ts";

export type { SessionStore, StoredOutbound, StoredSession } from "../session/store.ts";
export type { PublishPacket, PublishProperties, QoS, UserProperty } from "../wire/types.ts";
export type { PacketType } from "../wire/types.ts";

/** The user property that carries a queue entry's id inside a stored PUBLISH. */
const MARKER = "mqttv5-queue-entry";

/**
 * Called when a linked flow ends. `completed` is `true` when the client
 * forgot the flow (PUBACK, PUBCOMP, or a refusal), `false` when the flow never
 * made it into the store (the write failed, or the packet identifier was
 * reused by an unlinked flow). A promise returned for a completed flow holds
 * back the deletion of the flow from the inner store until it settles: a
 * `QueuePublisher` returns the removal of the entry from its queue, so that a
 * crash can never leave the entry queued with its flow forgotten.
 *
 * @example Log completed exchanges
 * ```ts
 * import type { LinkListener } from "@mqttv5/client";
 *
 * const onLink: LinkListener = (entryId, completed) => {
 *   console.log(entryId, completed ? "completed" : "still in the session");
 * };
 * ```
 */
export type LinkListener = (entryId: string, completed: boolean) => void | Promise<void>;

function strip(
  properties: PublishProperties | undefined,
): { id: string | undefined; properties: PublishProperties | undefined } {
  const ups = properties?.userProperties;
  if (ups === undefined) return { id: undefined, properties };
  let id: string | undefined;
  const kept: UserProperty[] = [];
  for (const up of ups) {
    if (up[0] === MARKER && id === undefined) id = up[1];
    else kept.push(up);
  }
  if (id === undefined) return { id, properties };
  const rest: PublishProperties = { ...properties };
  if (kept.length > 0) rest.userProperties = kept;
  else delete rest.userProperties;
  return { id, properties: rest };
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as Promise<T> | undefined)?.then === "function";
}

/**
 * A {@linkcode SessionStore} that wraps another (a `FileSessionStore` for
 * crash safety) and links the QoS 1/2 flows a `QueuePublisher` starts with the
 * queue entries they carry. Give the same instance to the `Client` (`store`)
 * and to the `QueuePublisher` (`sessionStore`). See the module documentation
 * for how the link is kept.
 *
 * @example Durable queue and durable session, linked
 * ```ts ignore
 * import { Client, LinkedSessionStore, QueuePublisher } from "@mqttv5/client";
 * import { FilePublisherQueue } from "@mqttv5/client/queue/file";
 * import { FileSessionStore } from "@mqttv5/client/store/file";
 *
 * const session = new LinkedSessionStore(await FileSessionStore.open("./state/session"));
 * const queue = await FilePublisherQueue.open("./state/queue");
 * const client = new Client({
 *   broker: "mqtt://localhost:1883",
 *   clientId: "meter-17",
 *   cleanStart: false,
 *   store: session,
 * });
 * await client.connect();
 * const publisher = new QueuePublisher(client, queue, { sessionStore: session });
 * await publisher.publish({ topic: "meters/17", payload: "42", qos: 1 });
 * ```
 */
export class LinkedSessionStore implements SessionStore {
  readonly #inner: SessionStore;
  /** The properties object of a message about to be published -> its entry id. */
  #expected = new WeakMap<object, string>();
  #byPacketId = new Map<number, string>();
  #byEntryId = new Map<string, number>();
  #listeners = new Set<LinkListener>();
  /** Ids of the flows restored at the first load that are still open. */
  #restored = new Set<string>();
  /** Deletions held back until the queue forgot the entry, per packet id. */
  #held = new Map<number, Promise<void>>();
  #loaded = false;

  /**
   * Wraps a store.
   *
   * @param inner The store that keeps the flows.
   * @default {new MemorySessionStore()}
   */
  constructor(inner: SessionStore = new MemorySessionStore()) {
    this.#inner = inner;
  }

  /** The wrapped store. */
  get inner(): SessionStore {
    return this.#inner;
  }

  /** Whether the client has read the store (its first connect); until then restored flows are unknown. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** How many flows are linked to queue entries right now. */
  get linkedFlows(): number {
    return this.#byPacketId.size;
  }

  /** The entry ids of the flows a previous process left (read at the first load) that are still open. */
  get restored(): ReadonlySet<string> {
    return this.#restored;
  }

  /**
   * Announces that the next PUBLISH stored with exactly this `properties`
   * object carries the queue entry `entryId`. Called by `QueuePublisher`
   * right before `client.publish`.
   *
   * @param properties The properties object passed to `client.publish` (fresh per attempt).
   * @param entryId The entry's stable id.
   */
  expect(properties: PublishProperties, entryId: string): void {
    this.#expected.set(properties, entryId);
  }

  /**
   * Whether the session currently holds a flow for the entry.
   *
   * @param entryId The entry's id.
   * @returns `true` while the client owns an exchange carrying the entry.
   */
  owns(entryId: string): boolean {
    return this.#byEntryId.has(entryId);
  }

  /**
   * The packet identifier of the flow carrying the entry, if any.
   *
   * @param entryId The entry's id.
   * @returns The packet identifier, or `undefined`.
   */
  packetIdOf(entryId: string): number | undefined {
    return this.#byEntryId.get(entryId);
  }

  /**
   * Registers a listener for linked flows that end.
   *
   * @param listener Called with the entry id and whether the flow completed.
   * @returns A function that removes the listener.
   */
  listen(listener: LinkListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #link(packetId: number, entryId: string): void {
    const old = this.#byPacketId.get(packetId);
    if (old !== undefined && old !== entryId) this.#unlink(packetId, false);
    const oldId = this.#byEntryId.get(entryId);
    if (oldId !== undefined && oldId !== packetId) this.#byPacketId.delete(oldId);
    this.#byPacketId.set(packetId, entryId);
    this.#byEntryId.set(entryId, packetId);
  }

  /** Ends a link; returns what the listeners want the deletion to wait for. */
  #unlink(packetId: number, completed: boolean): Promise<unknown> | undefined {
    const entryId = this.#byPacketId.get(packetId);
    if (entryId === undefined) return undefined;
    this.#byPacketId.delete(packetId);
    if (this.#byEntryId.get(entryId) === packetId) {
      this.#byEntryId.delete(entryId);
      this.#restored.delete(entryId);
    }
    let waits: Promise<void>[] | undefined;
    for (const l of this.#listeners) {
      try {
        const r = l(entryId, completed);
        if (r !== undefined && isPromise(r)) (waits ??= []).push(r);
      } catch {
        // a listener's failure is its own
      }
    }
    return waits === undefined ? undefined : Promise.allSettled(waits);
  }

  /** Runs `op` after a deletion of `packetId` that is being held back, if any. */
  #after<T>(packetId: number, op: () => T | Promise<T>): T | Promise<T> {
    const held = this.#held.get(packetId);
    return held === undefined ? op() : held.then(op);
  }

  #strip(session: StoredSession): StoredSession {
    const first = !this.#loaded;
    const outbound = session.outbound.map((f) => {
      const { id, properties } = strip(f.packet.properties);
      if (id === undefined) return f;
      const packet: PublishPacket = { ...f.packet };
      if (properties === undefined) delete packet.properties;
      else packet.properties = properties;
      if (first) {
        this.#link(f.packetId, id);
        this.#restored.add(id);
      }
      // A later putOutbound of this packet (after a store failure) keeps the link.
      if (packet.properties !== undefined) this.#expected.set(packet.properties, id);
      return { ...f, packet };
    });
    this.#loaded = true;
    return { outbound, inbound: session.inbound };
  }

  /**
   * Reads the inner store, records which restored flows carry queue entries
   * (on the first call) and returns the flows without the link markers.
   *
   * @returns The stored session, markers removed.
   */
  load(): StoredSession | Promise<StoredSession> {
    const r = this.#inner.load();
    return isPromise(r) ? r.then((s) => this.#strip(s)) : this.#strip(r);
  }

  /**
   * Stores an outbound flow; a flow that carries a queue entry is stored
   * with the entry's id as a marker.
   *
   * @param packetId The packet identifier.
   * @param packet The PUBLISH.
   * @returns What the inner store returns.
   */
  putOutbound(packetId: number, packet: PublishPacket): void | Promise<void> {
    return this.#after(packetId, () => this.#put(packetId, packet));
  }

  #put(packetId: number, packet: PublishPacket): void | Promise<void> {
    const props = packet.properties;
    const entryId = props === undefined ? undefined : this.#expected.get(props);
    if (entryId === undefined) {
      this.#unlink(packetId, false);
      return this.#inner.putOutbound(packetId, packet);
    }
    this.#link(packetId, entryId);
    const marked: PublishPacket = {
      ...packet,
      properties: {
        ...props,
        userProperties: [...(props!.userProperties ?? []), [MARKER, entryId]],
      },
    };
    const failed = (err: unknown): never => {
      if (this.#byPacketId.get(packetId) === entryId) this.#unlink(packetId, false);
      throw err;
    };
    let r: void | Promise<void>;
    try {
      r = this.#inner.putOutbound(packetId, marked);
    } catch (err) {
      return failed(err);
    }
    return isPromise(r) ? r.catch(failed) : r;
  }

  /**
   * Moves a flow to the PUBREL stage.
   *
   * @param packetId The packet identifier.
   * @returns What the inner store returns.
   */
  releaseOutbound(packetId: number): void | Promise<void> {
    return this.#after(packetId, () => this.#inner.releaseOutbound(packetId));
  }

  /**
   * Forgets a finished flow. When it carried a queue entry the listeners are
   * told, and the flow is deleted from the inner store only once the entry
   * is out of the queue (later calls for the same packet identifier wait).
   *
   * @param packetId The packet identifier.
   * @returns What the inner store returns (later, when held back).
   */
  deleteOutbound(packetId: number): void | Promise<void> {
    const wait = this.#unlink(packetId, true);
    if (wait === undefined) {
      return this.#after(packetId, () => this.#inner.deleteOutbound(packetId));
    }
    const prev = this.#held.get(packetId);
    const done = (prev === undefined ? wait : Promise.all([prev, wait])).then(() =>
      this.#inner.deleteOutbound(packetId)
    );
    const settled = done.then(() => {}, () => {});
    this.#held.set(packetId, settled);
    settled.then(() => {
      if (this.#held.get(packetId) === settled) this.#held.delete(packetId);
    });
    return done;
  }

  /**
   * Records an inbound QoS 2 identifier.
   *
   * @param packetId The packet identifier.
   * @returns What the inner store returns.
   */
  putInbound(packetId: number): void | Promise<void> {
    return this.#inner.putInbound(packetId);
  }

  /**
   * Forgets an inbound QoS 2 identifier.
   *
   * @param packetId The packet identifier.
   * @returns What the inner store returns.
   */
  deleteInbound(packetId: number): void | Promise<void> {
    return this.#inner.deleteInbound(packetId);
  }

  /**
   * Forgets every inbound identifier.
   *
   * @returns What the inner store returns.
   */
  clearInbound(): void | Promise<void> {
    return this.#inner.clearInbound();
  }

  /**
   * Lets the inner store recover after a failed write (when it can).
   *
   * @returns Resolves once the inner store is usable.
   */
  recover(): Promise<void> {
    return this.#inner.recover?.() ?? Promise.resolve();
  }

  /**
   * Closes the inner store.
   *
   * @returns What the inner store returns.
   */
  close(): void | Promise<void> {
    return this.#inner.close();
  }
}
