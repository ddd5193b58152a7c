/**
 * The message a caller publishes ({@linkcode PublishOptions}), what the broker
 * answers ({@linkcode PublishResult}), and the one place that turns the first
 * into a PUBLISH packet ({@linkcode publishPacket}): the client, the
 * `QueuePublisher` and the file-backed queue all normalise a message the
 * same way. Runtime-neutral, no I/O.
 *
 * @example Normalise a message
 * ```ts
 * import { publishPacket } from "./publish.ts";
 *
 * const packet = publishPacket({ topic: "a/b", payload: "hi", qos: 1 }, "publish");
 * console.log(packet.payload.length, packet.retain, packet.dup); // 2 false false
 * ```
 *
 * @module
 */

import type { AckProperties, PublishPacket, PublishProperties, QoS } from "../wire/types.ts";

/**
 * A message to publish.
 *
 * @example Usage
 * ```ts
 * import type { PublishOptions } from "@mqttv5/client";
 * const m: PublishOptions = { topic: "events/a", payload: "hello", qos: 1 };
 * ```
 */
export interface PublishOptions {
  /** Topic name (no wildcards). */
  topic: string;
  /**
   * Payload; a string is encoded as UTF-8.
   *
   * @default {empty}
   */
  payload?: Uint8Array | string;
  /**
   * QoS.
   *
   * @default {0}
   */
  qos?: QoS;
  /**
   * Retain flag.
   *
   * @default {false}
   */
  retain?: boolean;
  /** PUBLISH properties (`subscriptionIdentifiers` is inbound only). */
  properties?: PublishProperties;
}

/**
 * The outcome of a publish: the broker's reason code (0 for QoS 0) and ack
 * properties.
 *
 * @example Usage
 * ```ts
 * import type { PublishResult } from "@mqttv5/client";
 * const noSubscribers = (r: PublishResult) => r.reasonCode === 0x10;
 * ```
 */
export interface PublishResult {
  /** PUBACK / PUBREC reason code; 0 at QoS 0. */
  reasonCode: number;
  /** Ack properties, when the broker sent any. */
  properties?: AckProperties;
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/**
 * The PUBLISH packet a message stands for, checked as far as the message
 * alone allows. One object is allocated (two with a string payload, which is
 * encoded as UTF-8); `properties` is the caller's object itself, not a copy
 * (see {@linkcode copyPublishProperties}), and a missing payload becomes a
 * shared empty array. The packet has no `packetId`: the caller sets one for
 * QoS 1/2 before encoding.
 *
 * Not checked here, because it takes a connection or the encoder: the topic
 * name (the encoder validates it), a topic alias, and the broker's limits.
 *
 * @param message The message as the caller gave it.
 * @param where How error messages name the call (`"publish"` gives
 * `publish qos must be 0, 1 or 2, got 3`).
 * @returns `{ type: 3, topic, payload, qos, retain, dup: false, properties }`:
 * `qos` defaults to 0, `retain` is `message.retain === true`.
 * @throws {TypeError} When `message` is not an object, when
 * `properties.subscriptionIdentifiers` is set (a client never sends one,
 * [MQTT-3.3.4-6]), or when the payload is neither a `Uint8Array` nor a
 * string.
 * @throws {RangeError} When `qos` is not 0, 1 or 2.
 *
 * @example A string payload and the defaults
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishPacket } from "./publish.ts";
 *
 * const p = publishPacket({ topic: "meters/17", payload: "42" }, "publish");
 * assert.deepEqual([p.type, p.qos, p.retain, p.dup], [3, 0, false, false]);
 * assert.deepEqual([...p.payload], [0x34, 0x32]);
 * assert.throws(() => publishPacket({ topic: "a", qos: 3 as 0 }, "publish"), RangeError);
 * ```
 */
export function publishPacket(message: PublishOptions, where: string): PublishPacket {
  if (message === null || typeof message !== "object") {
    throw new TypeError(`${where} needs a message object`);
  }
  const qos = message.qos ?? 0;
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    throw new RangeError(`${where} qos must be 0, 1 or 2, got ${String(qos)}`);
  }
  const properties = message.properties;
  if (properties?.subscriptionIdentifiers !== undefined) {
    // [MQTT-3.3.4-6] a PUBLISH from a client carries no subscription identifier.
    throw new TypeError(`${where} properties.subscriptionIdentifiers is inbound only`);
  }
  const raw = message.payload;
  let payload: Uint8Array;
  if (raw === undefined) payload = EMPTY;
  else if (typeof raw === "string") payload = encoder.encode(raw);
  // The constructor first: one inline-cached read, where instanceof walks the prototype
  // chain on every publish; instanceof for a subclass (Node's Buffer).
  else if (raw.constructor === Uint8Array || raw instanceof Uint8Array) payload = raw;
  else throw new TypeError(`${where} payload must be a Uint8Array or a string`);
  return {
    type: 3,
    topic: message.topic,
    payload,
    qos,
    retain: message.retain === true,
    dup: false,
    properties,
  };
}

/**
 * A copy of PUBLISH properties that shares nothing mutable with the original
 * (user property pairs, correlation data and subscription identifiers are
 * copied too), for a caller that keeps a message after the call returns.
 *
 * @param properties The properties to copy.
 * @returns The copy.
 *
 * @example The copy does not change with the original
 * ```ts
 * import assert from "node:assert/strict";
 * import { copyPublishProperties } from "./publish.ts";
 *
 * const original = { correlationData: new Uint8Array([1]), userProperties: [["k", "v"]] as [string, string][] };
 * const copy = copyPublishProperties(original);
 * original.correlationData[0] = 9;
 * original.userProperties[0][1] = "changed";
 * assert.deepEqual([copy.correlationData![0], copy.userProperties![0][1]], [1, "v"]);
 * ```
 */
export function copyPublishProperties(properties: PublishProperties): PublishProperties {
  const c: PublishProperties = { ...properties };
  const { userProperties, correlationData, subscriptionIdentifiers } = properties;
  if (userProperties !== undefined) c.userProperties = userProperties.map(([k, v]) => [k, v]);
  if (correlationData !== undefined) c.correlationData = correlationData.slice();
  if (subscriptionIdentifiers !== undefined) {
    c.subscriptionIdentifiers = [...subscriptionIdentifiers];
  }
  return c;
}
