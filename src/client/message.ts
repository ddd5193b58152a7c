/**
 * {@linkcode Message}, the inbound PUBLISH as subscribers see it. Its ack
 * goes to the session's inbound slot (`src/session/inbound.ts`), which
 * releases PUBACK / PUBREC in arrival order (MQTT §4.6).
 *
 * @module
 */

import type { PublishProperties, QoS } from "../wire/types.ts";
import type { InboundSlot } from "../session/inbound.ts";

const textDecoder = new TextDecoder();

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
