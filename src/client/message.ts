/**
 * {@linkcode Message}, the inbound PUBLISH as subscribers see it, and the
 * bookkeeping that releases PUBACK / PUBREC in arrival order (MQTT §4.6).
 *
 * @module
 */

import type { PublishProperties, QoS } from "../wire/types.ts";
import type { SubscriptionToken } from "./subscription.ts";

const textDecoder = new TextDecoder();

/**
 * One inbound QoS 1/2 PUBLISH awaiting acknowledgement by every subscription
 * it was delivered to. Slots form a FIFO in arrival order.
 */
export class InboundSlot {
  /** Deliveries that have not acked yet. */
  refs: number;
  /** All deliveries acked; waiting only for the slots ahead of it. */
  done = false;
  /** Leaves the queue without an ack (its connection is gone). */
  cancelled = false;
  next: InboundSlot | null = null;
  /** When the PUBLISH arrived (ms, the timestamp of the read that brought it). */
  at = 0;
  /** Already reported as left unacked. */
  warned = false;
  /** Its deliveries (one per subscription) and their subscriptions, for reports. */
  delivered: Message | Message[] | null = null;
  owners: SubscriptionToken | SubscriptionToken[] | null = null;
  constructor(
    readonly packetId: number,
    readonly qos: QoS,
    refs: number,
    readonly owner: InboundAcks,
  ) {
    this.refs = refs;
  }
}

/**
 * Releases broker acks in the order the PUBLISH packets arrived, whatever order
 * the application acks them in ([MQTT-4.6.0-2], [MQTT-4.6.0-3]).
 */
export class InboundAcks {
  #head: InboundSlot | null = null;
  #tail: InboundSlot | null = null;
  #length = 0;
  /** Cancelled slots still queued behind a live one: they no longer count. */
  #cancelled = 0;
  #send: (slot: InboundSlot) => void;

  /** @param send Sends the PUBACK or PUBREC for a released slot. */
  constructor(send: (slot: InboundSlot) => void) {
    this.#send = send;
  }

  /** The oldest unreleased slot (follow `next` for the rest, in arrival order). */
  get head(): InboundSlot | null {
    return this.#head;
  }

  /** Unreleased slots, cancelled ones not counted. */
  get length(): number {
    return this.#length - this.#cancelled;
  }

  /** Appends a slot for a PUBLISH delivered to `refs` subscriptions. */
  add(packetId: number, qos: QoS, refs: number): InboundSlot {
    const slot = new InboundSlot(packetId, qos, refs, this);
    if (this.#tail === null) this.#head = slot;
    else this.#tail.next = slot;
    this.#tail = slot;
    this.#length++;
    if (refs === 0) this.release(slot, 0);
    return slot;
  }

  /** One delivery of `slot` acked (`by` = 1), or a check with `by` = 0. */
  release(slot: InboundSlot, by = 1): void {
    if (slot.owner !== this || slot.done) return;
    slot.refs -= by;
    if (slot.refs > 0) return;
    slot.done = true;
    this.#drain();
  }

  /**
   * Takes every QoS 1 slot out of the order without acking it, acked by the
   * application or not (their connection is gone); the slots behind them go on.
   */
  cancelQos1(): void {
    let any = false;
    for (let s = this.#head; s !== null; s = s.next) {
      if (s.qos !== 1 || s.cancelled) continue;
      s.cancelled = true;
      this.#cancelled++;
      s.done = true;
      any = true;
    }
    if (any) this.#drain();
  }

  /** Releases the done slots at the head of the order. */
  #drain(): void {
    let h = this.#head;
    while (h !== null && h.done) {
      this.#head = h.next;
      if (this.#head === null) this.#tail = null;
      this.#length--;
      h.next = null;
      h.delivered = null;
      h.owners = null;
      if (h.cancelled) this.#cancelled--;
      else this.#send(h);
      h = this.#head;
    }
  }

  /** Takes `slot` out of the order without ever acking it. */
  cancel(slot: InboundSlot): void {
    if (slot.owner !== this || slot.done) return;
    slot.cancelled = true;
    this.#cancelled++;
    slot.refs = 1;
    this.release(slot);
  }

  /** Forgets every slot (the connection they belong to is gone). */
  clear(): void {
    let h = this.#head;
    while (h !== null) {
      h.done = true;
      const n = h.next;
      h.next = null;
      h = n;
    }
    this.#head = this.#tail = null;
    this.#length = 0;
    this.#cancelled = 0;
  }
}

let slotAccess: (m: Message) => InboundSlot | null;

/** The ack slot of a message (null at QoS 0 and for detached copies). */
export function slotOf(m: Message): InboundSlot | null {
  return slotAccess(m);
}

/**
 * An inbound application message. Messages from `subscribe()` and
 * `subscribeQueue()` must be acknowledged with {@linkcode Message.ack}: for
 * QoS 1/2 the broker's PUBACK / PUBREC waits for it (and for every earlier
 * message, §4.6). `payload` may be a view into the read buffer: use
 * {@linkcode Message.clonePayload} to keep a copy that is independent of it.
 *
 * @example Read and acknowledge
 * ```ts
 * import type { Message } from "@mqttv5/client";
 *
 * function handle(m: Message) {
 *   console.log(m.topic, m.text());
 *   m.ack();
 * }
 * ```
 */
export class Message {
  /** Topic name (resolved from a topic alias when one was used). */
  readonly topic: string;
  /** Payload bytes. */
  readonly payload: Uint8Array;
  /** QoS the message was delivered with. */
  readonly qos: QoS;
  /** RETAIN flag. */
  readonly retain: boolean;
  /** DUP flag: the broker may have delivered it before. */
  readonly dup: boolean;
  /** Packet identifier; 0 at QoS 0. */
  readonly packetId: number;
  /** PUBLISH properties. */
  readonly properties: PublishProperties;
  #slot: InboundSlot | null;
  #acked = false;

  static {
    slotAccess = (m) => m.#slot;
  }

  /**
   * Builds a delivered message. The client creates messages; applications
   * only receive them (see {@linkcode Message.clonePayload} for a payload to keep).
   *
   * @param topic The topic name (a topic alias already resolved).
   * @param payload The payload, possibly a view into the read buffer.
   * @param qos The delivery QoS.
   * @param retain The RETAIN flag.
   * @param dup The DUP flag.
   * @param packetId The packet identifier, 0 at QoS 0.
   * @param properties The PUBLISH properties.
   * @param slot The acknowledgement slot, `null` when nothing is owed.
   * @internal
   */
  constructor(
    topic: string,
    payload: Uint8Array,
    qos: QoS,
    retain: boolean,
    dup: boolean,
    packetId: number,
    properties: PublishProperties,
    slot: InboundSlot | null,
  ) {
    this.topic = topic;
    this.payload = payload;
    this.qos = qos;
    this.retain = retain;
    this.dup = dup;
    this.packetId = packetId;
    this.properties = properties;
    this.#slot = slot;
  }

  /** Whether {@linkcode Message.ack} was called (or the message came pre-acked). */
  get acked(): boolean {
    return this.#acked || this.#slot === null;
  }

  /**
   * Acknowledges the message. Idempotent. For QoS 1/2 the broker ack is sent
   * once every subscription that received the message has acked it and every
   * earlier message has been released (arrival order, §4.6).
   */
  ack(): void {
    if (this.#acked) return;
    this.#acked = true;
    const slot = this.#slot;
    if (slot !== null) slot.owner.release(slot);
  }

  /**
   * The payload decoded as UTF-8.
   *
   * @returns The text.
   */
  text(): string {
    return textDecoder.decode(this.payload);
  }

  /**
   * The payload parsed as JSON.
   *
   * @returns The parsed value.
   * @throws {SyntaxError} When the payload is not JSON.
   */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  /**
   * A copy of the payload that does not share memory with the read buffer.
   *
   * @returns The copy.
   */
  clonePayload(): Uint8Array {
    return this.payload.slice();
  }
}

/** An acknowledged message with copies of every buffer, for `autoAck` deliveries. */
export function detachedCopy(m: Message): Message {
  const p = m.properties;
  const props: PublishProperties = p.correlationData === undefined
    ? { ...p }
    : { ...p, correlationData: p.correlationData.slice() };
  return new Message(m.topic, m.payload.slice(), m.qos, m.retain, m.dup, m.packetId, props, null);
}
