/**
 * Packet shapes of the MQTT v5 codec: plain objects, a union discriminated by
 * `type`, whose value is the specification's packet type number.
 *
 * @module
 */

/**
 * MQTT control packet types (MQTT v5 §2.1.2), as the numbers the fixed header
 * carries.
 *
 * @example Dispatch on a decoded packet
 * ```ts
 * import { PacketType, type Packet } from "@mqttv5/client/wire";
 *
 * function isAck(p: Packet): boolean {
 *   return p.type === PacketType.Puback || p.type === PacketType.Pubcomp;
 * }
 * ```
 *
 * @example Dispatch on the packet type
 * ```ts
 * import { PacketType } from "@mqttv5/client/wire";
 *
 * const describe = (type: PacketType) => type === PacketType.Publish ? "publish" : "other";
 * console.log(describe(PacketType.Publish)); // "publish"
 * ```
 */
export const PacketType = {
  Connect: 1,
  Connack: 2,
  Publish: 3,
  Puback: 4,
  Pubrec: 5,
  Pubrel: 6,
  Pubcomp: 7,
  Subscribe: 8,
  Suback: 9,
  Unsubscribe: 10,
  Unsuback: 11,
  Pingreq: 12,
  Pingresp: 13,
  Disconnect: 14,
  Auth: 15,
} as const;

/** The number of an MQTT control packet type, `1` (CONNECT) to `15` (AUTH). */
export type PacketType = typeof PacketType[keyof typeof PacketType];

/**
 * A quality of service level.
 *
 * @example Pick a QoS
 * ```ts
 * import type { QoS } from "@mqttv5/client/wire";
 *
 * const qos: QoS = 1;
 * ```
 */
export type QoS = 0 | 1 | 2;

/**
 * One MQTT user property: a name/value pair.
 *
 * @example User properties on a PUBLISH
 * ```ts
 * import type { UserProperty } from "@mqttv5/client/wire";
 *
 * const props: UserProperty[] = [["trace-id", "abc123"], ["unit", "C"]];
 * ```
 */
export type UserProperty = [name: string, value: string];

/**
 * Properties a PUBLISH may carry (MQTT v5 §3.3.2.3).
 *
 * @example A request with a response topic
 * ```ts
 * import type { PublishProperties } from "@mqttv5/client/wire";
 *
 * const props: PublishProperties = { responseTopic: "replies/1", contentType: "application/json" };
 * ```
 *
 * @example Request/response properties
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type PublishPacket, type PublishProperties } from "@mqttv5/client/wire";
 *
 * const packet: PublishPacket = {
 *   type: PacketType.Publish,
 *   topic: "a/b",
 *   payload: new TextEncoder().encode("hi"),
 *   qos: 1,
 *   retain: false,
 *   dup: false,
 *   packetId: 1,
 *   properties: {
 *     responseTopic: "replies/c1",
 *     correlationData: new Uint8Array([1, 2]),
 *     messageExpiryInterval: 60,
 *   } satisfies PublishProperties,
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Publish && decoded.properties?.responseTopic, "replies/c1");
 * ```
 */
export interface PublishProperties {
  /** 0: unspecified bytes, 1: UTF-8 text. */
  payloadFormatIndicator?: 0 | 1;
  /** Lifetime of the message in seconds. */
  messageExpiryInterval?: number;
  /** Topic alias, 1..65535. */
  topicAlias?: number;
  /** Topic for a response message. */
  responseTopic?: string;
  /** Opaque data matching a response to its request. */
  correlationData?: Uint8Array;
  /** MIME type of the payload, by convention. */
  contentType?: string;
  /** User properties, in order, names may repeat. */
  userProperties?: UserProperty[];
  /** Subscription identifiers (inbound only; may hold several). */
  subscriptionIdentifiers?: number[];
}

/**
 * Properties of a will message (MQTT v5 §3.1.3.2).
 *
 * @example A will with a delay and a content type
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type ConnectPacket, type WillProperties } from "@mqttv5/client/wire";
 *
 * const packet: ConnectPacket = {
 *   type: PacketType.Connect,
 *   clientId: "c1",
 *   cleanStart: true,
 *   keepAlive: 30,
 *   will: {
 *     topic: "status/c1",
 *     payload: new TextEncoder().encode("offline"),
 *     qos: 1,
 *     retain: true,
 *     properties: { willDelayInterval: 10, contentType: "text/plain" } satisfies WillProperties,
 *   },
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type, PacketType.Connect);
 * ```
 */
export interface WillProperties {
  /** Seconds the broker waits before publishing the will. */
  willDelayInterval?: number;
  /** 0: unspecified bytes, 1: UTF-8 text. */
  payloadFormatIndicator?: 0 | 1;
  /** Lifetime of the will message in seconds. */
  messageExpiryInterval?: number;
  /** MIME type of the payload, by convention. */
  contentType?: string;
  /** Topic for a response message. */
  responseTopic?: string;
  /** Opaque data matching a response to its request. */
  correlationData?: Uint8Array;
  /** User properties. */
  userProperties?: UserProperty[];
}

/**
 * Properties of CONNECT (MQTT v5 §3.1.2.11).
 *
 * @example A CONNECT asking for a session
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type ConnectPacket, type ConnectProperties } from "@mqttv5/client/wire";
 *
 * const packet: ConnectPacket = {
 *   type: PacketType.Connect,
 *   clientId: "c1",
 *   cleanStart: false,
 *   keepAlive: 60,
 *   properties: { sessionExpiryInterval: 3600, receiveMaximum: 100 } satisfies ConnectProperties,
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Connect && decoded.properties?.receiveMaximum, 100);
 * ```
 */
export interface ConnectProperties {
  /** Session Expiry Interval in seconds (0xFFFFFFFF: never). */
  sessionExpiryInterval?: number;
  /** How many QoS 1/2 publishes the client accepts at once, 1..65535. */
  receiveMaximum?: number;
  /** Largest packet the client accepts, in bytes, >= 1. */
  maximumPacketSize?: number;
  /** Highest inbound topic alias the client accepts. */
  topicAliasMaximum?: number;
  /** Ask for Response Information in CONNACK. */
  requestResponseInformation?: boolean;
  /** Allow reason strings and user properties on failures. */
  requestProblemInformation?: boolean;
  /** User properties. */
  userProperties?: UserProperty[];
  /** Enhanced authentication method. */
  authenticationMethod?: string;
  /** Enhanced authentication data. */
  authenticationData?: Uint8Array;
}

/**
 * Properties of CONNACK (MQTT v5 §3.2.2.3).
 *
 * @example Read what the broker granted
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type ConnackPacket, type ConnackProperties } from "@mqttv5/client/wire";
 *
 * const packet: ConnackPacket = {
 *   type: PacketType.Connack,
 *   sessionPresent: false,
 *   reasonCode: 0,
 *   properties: { receiveMaximum: 20, topicAliasMaximum: 10 } satisfies ConnackProperties,
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Connack && decoded.properties?.receiveMaximum, 20);
 * ```
 */
export interface ConnackProperties {
  /** Session Expiry Interval the broker uses instead of the client's. */
  sessionExpiryInterval?: number;
  /** How many QoS 1/2 publishes the broker accepts at once. */
  receiveMaximum?: number;
  /** Highest QoS the broker supports (absent: 2). */
  maximumQoS?: 0 | 1;
  /** Whether retained messages are supported (absent: true). */
  retainAvailable?: boolean;
  /** Largest packet the broker accepts. */
  maximumPacketSize?: number;
  /** Client identifier the broker assigned. */
  assignedClientIdentifier?: string;
  /** Highest outbound topic alias the broker accepts. */
  topicAliasMaximum?: number;
  /** Human-readable diagnostic. */
  reasonString?: string;
  /** User properties. */
  userProperties?: UserProperty[];
  /** Whether wildcard subscriptions are supported (absent: true). */
  wildcardSubscriptionAvailable?: boolean;
  /** Whether subscription identifiers are supported (absent: true). */
  subscriptionIdentifiersAvailable?: boolean;
  /** Whether shared subscriptions are supported (absent: true). */
  sharedSubscriptionAvailable?: boolean;
  /** Keep alive the broker imposes, in seconds. */
  serverKeepAlive?: number;
  /** Response Information for request/response. */
  responseInformation?: string;
  /** Another server to use. */
  serverReference?: string;
  /** Enhanced authentication method. */
  authenticationMethod?: string;
  /** Enhanced authentication data. */
  authenticationData?: Uint8Array;
}

/**
 * Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK.
 *
 * @example A PUBACK with a reason string
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type PubackPacket, type AckProperties } from "@mqttv5/client/wire";
 *
 * const packet: PubackPacket = {
 *   type: PacketType.Puback,
 *   packetId: 3,
 *   reasonCode: 0x87,
 *   properties: { reasonString: "not authorized" } satisfies AckProperties,
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Puback && decoded.properties?.reasonString, "not authorized");
 * ```
 */
export interface AckProperties {
  /** Human-readable diagnostic. */
  reasonString?: string;
  /** User properties. */
  userProperties?: UserProperty[];
}

/**
 * Properties of SUBSCRIBE (MQTT v5 §3.8.2.1).
 *
 * @example A SUBSCRIBE with a subscription identifier
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type SubscribePacket, type SubscribeProperties } from "@mqttv5/client/wire";
 *
 * const packet: SubscribePacket = {
 *   type: PacketType.Subscribe,
 *   packetId: 2,
 *   filters: [{ topic: "a/#", qos: 1 }],
 *   properties: { subscriptionIdentifier: 5 } satisfies SubscribeProperties,
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Subscribe && decoded.properties?.subscriptionIdentifier, 5);
 * ```
 */
export interface SubscribeProperties {
  /** Subscription identifier, 1..268435455. */
  subscriptionIdentifier?: number;
  /** User properties. */
  userProperties?: UserProperty[];
}

/**
 * Properties of UNSUBSCRIBE (MQTT v5 §3.10.2.1).
 *
 * @example An UNSUBSCRIBE with user properties
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type UnsubscribePacket, type UnsubscribeProperties } from "@mqttv5/client/wire";
 *
 * const packet: UnsubscribePacket = {
 *   type: PacketType.Unsubscribe,
 *   packetId: 4,
 *   topics: ["a/#"],
 *   properties: { userProperties: [["why", "shutdown"]] } satisfies UnsubscribeProperties,
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type, PacketType.Unsubscribe);
 * ```
 */
export interface UnsubscribeProperties {
  /** User properties. */
  userProperties?: UserProperty[];
}

/**
 * Properties of DISCONNECT (MQTT v5 §3.14.2.2).
 *
 * @example A DISCONNECT that shortens the session
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type DisconnectPacket, type DisconnectProperties } from "@mqttv5/client/wire";
 *
 * const packet: DisconnectPacket = {
 *   type: PacketType.Disconnect,
 *   reasonCode: 0,
 *   properties: { sessionExpiryInterval: 0 } satisfies DisconnectProperties,
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Disconnect && decoded.properties?.sessionExpiryInterval, 0);
 * ```
 */
export interface DisconnectProperties {
  /** Session Expiry Interval override (client to server only). */
  sessionExpiryInterval?: number;
  /** Human-readable diagnostic. */
  reasonString?: string;
  /** User properties. */
  userProperties?: UserProperty[];
  /** Another server to use. */
  serverReference?: string;
}

/**
 * Properties of AUTH (MQTT v5 §3.15.2.2).
 *
 * @example An AUTH carrying a challenge response
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type AuthPacket, type AuthProperties } from "@mqttv5/client/wire";
 *
 * const packet: AuthPacket = {
 *   type: PacketType.Auth,
 *   reasonCode: 0x18,
 *   properties: {
 *     authenticationMethod: "SCRAM-SHA-256",
 *     authenticationData: new Uint8Array([1, 2, 3]),
 *   } satisfies AuthProperties,
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Auth && decoded.properties?.authenticationMethod, "SCRAM-SHA-256");
 * ```
 */
export interface AuthProperties {
  /** Enhanced authentication method. */
  authenticationMethod?: string;
  /** Enhanced authentication data. */
  authenticationData?: Uint8Array;
  /** Human-readable diagnostic. */
  reasonString?: string;
  /** User properties. */
  userProperties?: UserProperty[];
}

/**
 * A will message carried in CONNECT.
 *
 * @example A CONNECT with a will
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type ConnectPacket, type WillMessage } from "@mqttv5/client/wire";
 *
 * const packet: ConnectPacket = {
 *   type: PacketType.Connect,
 *   clientId: "c1",
 *   cleanStart: true,
 *   keepAlive: 30,
 *   will: {
 *     topic: "status/c1",
 *     payload: new TextEncoder().encode("offline"),
 *     qos: 1,
 *     retain: true,
 *   } satisfies WillMessage,
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Connect && decoded.will?.topic, "status/c1");
 * ```
 */
export interface WillMessage {
  /** Topic name the will is published to. */
  topic: string;
  /** Will payload. */
  payload: Uint8Array;
  /** Will QoS. */
  qos: QoS;
  /** Whether the will is retained. */
  retain: boolean;
  /** Will properties. */
  properties?: WillProperties;
}

/**
 * CONNECT (MQTT v5 §3.1). Decoded packets always carry `properties`.
 *
 * @example Round trip a CONNECT
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type ConnectPacket } from "@mqttv5/client/wire";
 *
 * const packet: ConnectPacket = {
 *   type: PacketType.Connect,
 *   clientId: "c1",
 *   cleanStart: true,
 *   keepAlive: 30,
 *   username: "svc",
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Connect && decoded.username, "svc");
 * ```
 */
export interface ConnectPacket {
  /** Packet type 1. */
  type: typeof PacketType.Connect;
  /** Client identifier; empty asks the broker to assign one. */
  clientId: string;
  /** Clean Start flag. */
  cleanStart: boolean;
  /** Keep alive in seconds, 0..65535. */
  keepAlive: number;
  /** User name, if any. */
  username?: string;
  /** Password, if any. */
  password?: Uint8Array;
  /** Will message, if any. */
  will?: WillMessage;
  /** CONNECT properties. */
  properties?: ConnectProperties;
}

/**
 * CONNACK (MQTT v5 §3.2).
 *
 * @example Round trip a CONNACK
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type ConnackPacket } from "@mqttv5/client/wire";
 *
 * const packet: ConnackPacket = {
 *   type: PacketType.Connack,
 *   sessionPresent: true,
 *   reasonCode: 0,
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Connack && decoded.sessionPresent, true);
 * ```
 */
export interface ConnackPacket {
  /** Packet type 2. */
  type: typeof PacketType.Connack;
  /** Whether the broker resumed an existing session. */
  sessionPresent: boolean;
  /** Connect reason code. */
  reasonCode: number;
  /** CONNACK properties. */
  properties?: ConnackProperties;
}

/**
 * PUBLISH (MQTT v5 §3.3). `packetId` is 0 (or absent when encoding) at QoS 0.
 *
 * @example Round trip a PUBLISH
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type PublishPacket } from "@mqttv5/client/wire";
 *
 * const packet: PublishPacket = {
 *   type: PacketType.Publish,
 *   topic: "a/b",
 *   payload: new TextEncoder().encode("hi"),
 *   qos: 1,
 *   retain: false,
 *   dup: false,
 *   packetId: 1,
 *   properties: { contentType: "text/plain" },
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type, PacketType.Publish);
 * assert.deepEqual(decoded, packet);
 * ```
 */
export interface PublishPacket {
  /** Packet type 3. */
  type: typeof PacketType.Publish;
  /** Topic name (empty when a topic alias stands in for it). */
  topic: string;
  /** Application payload. A decoded payload may be a view into the read buffer. */
  payload: Uint8Array;
  /** Quality of service. */
  qos: QoS;
  /** RETAIN flag. */
  retain: boolean;
  /** DUP flag: a re-delivery. */
  dup: boolean;
  /** Packet identifier, 1..65535 at QoS 1/2. */
  packetId?: number;
  /** PUBLISH properties. */
  properties?: PublishProperties;
}

/**
 * PUBACK, PUBREC, PUBREL or PUBCOMP (MQTT v5 §3.4-§3.7).
 *
 * @example Any of the four acknowledgements
 * ```ts
 * import type { PubAckPacketBase, PacketType } from "@mqttv5/client/wire";
 *
 * const idOf = (ack: PubAckPacketBase<PacketType>): number => ack.packetId;
 * ```
 */
export interface PubAckPacketBase<T extends PacketType> {
  /** Packet type. */
  type: T;
  /** Packet identifier being acknowledged. */
  packetId: number;
  /** Reason code; absent means 0 (Success). */
  reasonCode?: number;
  /** Ack properties. */
  properties?: AckProperties;
}

/**
 * PUBACK (MQTT v5 §3.4).
 *
 * @example Round trip a PUBACK
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type PubackPacket } from "@mqttv5/client/wire";
 *
 * const packet: PubackPacket = { type: PacketType.Puback, packetId: 7, reasonCode: 0x10 };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Puback && decoded.packetId, 7);
 * ```
 */
export type PubackPacket = PubAckPacketBase<typeof PacketType.Puback>;
/**
 * PUBREC (MQTT v5 §3.5).
 *
 * @example Round trip a PUBREC
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type PubrecPacket } from "@mqttv5/client/wire";
 *
 * const packet: PubrecPacket = { type: PacketType.Pubrec, packetId: 7, reasonCode: 0x10 };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Pubrec && decoded.packetId, 7);
 * ```
 */
export type PubrecPacket = PubAckPacketBase<typeof PacketType.Pubrec>;
/**
 * PUBREL (MQTT v5 §3.6).
 *
 * @example Round trip a PUBREL
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type PubrelPacket } from "@mqttv5/client/wire";
 *
 * const packet: PubrelPacket = { type: PacketType.Pubrel, packetId: 7, reasonCode: 0x92 };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Pubrel && decoded.packetId, 7);
 * ```
 */
export type PubrelPacket = PubAckPacketBase<typeof PacketType.Pubrel>;
/**
 * PUBCOMP (MQTT v5 §3.7).
 *
 * @example Round trip a PUBCOMP
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type PubcompPacket } from "@mqttv5/client/wire";
 *
 * const packet: PubcompPacket = { type: PacketType.Pubcomp, packetId: 7, reasonCode: 0x92 };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Pubcomp && decoded.packetId, 7);
 * ```
 */
export type PubcompPacket = PubAckPacketBase<typeof PacketType.Pubcomp>;

/**
 * One topic filter of a SUBSCRIBE with its subscription options (§3.8.3.1).
 *
 * @example Round trip a SUBSCRIBE filter
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type SubscribePacket, type SubscribeFilter } from "@mqttv5/client/wire";
 *
 * const packet: SubscribePacket = {
 *   type: PacketType.Subscribe,
 *   packetId: 2,
 *   filters: [{ topic: "a/#", qos: 1, noLocal: true } satisfies SubscribeFilter],
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Subscribe && decoded.filters[0].noLocal, true);
 * ```
 */
export interface SubscribeFilter {
  /** Topic filter, wildcards allowed; `$share/{group}/{filter}` for shared subscriptions. */
  topic: string;
  /** Maximum QoS. */
  qos: QoS;
  /** Do not receive our own publishes. */
  noLocal?: boolean;
  /** Keep the RETAIN flag as published. */
  retainAsPublished?: boolean;
  /** 0: send retained at subscribe, 1: only for a new subscription, 2: never. */
  retainHandling?: 0 | 1 | 2;
}

/**
 * SUBSCRIBE (MQTT v5 §3.8).
 *
 * @example Round trip a SUBSCRIBE
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type SubscribePacket } from "@mqttv5/client/wire";
 *
 * const packet: SubscribePacket = {
 *   type: PacketType.Subscribe,
 *   packetId: 2,
 *   filters: [{ topic: "a/#", qos: 1 }, { topic: "b/+", qos: 0 }],
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Subscribe && decoded.filters.length, 2);
 * ```
 */
export interface SubscribePacket {
  /** Packet type 8. */
  type: typeof PacketType.Subscribe;
  /** Packet identifier, 1..65535. */
  packetId: number;
  /** At least one filter. */
  filters: SubscribeFilter[];
  /** SUBSCRIBE properties. */
  properties?: SubscribeProperties;
}

/**
 * SUBACK (MQTT v5 §3.9).
 *
 * @example Round trip a SUBACK
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type SubackPacket } from "@mqttv5/client/wire";
 *
 * const packet: SubackPacket = { type: PacketType.Suback, packetId: 2, reasonCodes: [1, 0x87] };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.deepEqual(decoded.type === PacketType.Suback && decoded.reasonCodes, [1, 0x87]);
 * ```
 */
export interface SubackPacket {
  /** Packet type 9. */
  type: typeof PacketType.Suback;
  /** Packet identifier of the SUBSCRIBE. */
  packetId: number;
  /** One reason code per filter, in order. */
  reasonCodes: number[];
  /** Ack properties. */
  properties?: AckProperties;
}

/**
 * UNSUBSCRIBE (MQTT v5 §3.10).
 *
 * @example Round trip an UNSUBSCRIBE
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type UnsubscribePacket } from "@mqttv5/client/wire";
 *
 * const packet: UnsubscribePacket = { type: PacketType.Unsubscribe, packetId: 4, topics: ["a/#", "b/+"] };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.deepEqual(decoded.type === PacketType.Unsubscribe && decoded.topics, ["a/#", "b/+"]);
 * ```
 */
export interface UnsubscribePacket {
  /** Packet type 10. */
  type: typeof PacketType.Unsubscribe;
  /** Packet identifier, 1..65535. */
  packetId: number;
  /** At least one topic filter. */
  topics: string[];
  /** UNSUBSCRIBE properties. */
  properties?: UnsubscribeProperties;
}

/**
 * UNSUBACK (MQTT v5 §3.11).
 *
 * @example Round trip an UNSUBACK
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type UnsubackPacket } from "@mqttv5/client/wire";
 *
 * const packet: UnsubackPacket = { type: PacketType.Unsuback, packetId: 4, reasonCodes: [0, 0x11] };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.deepEqual(decoded.type === PacketType.Unsuback && decoded.reasonCodes, [0, 0x11]);
 * ```
 */
export interface UnsubackPacket {
  /** Packet type 11. */
  type: typeof PacketType.Unsuback;
  /** Packet identifier of the UNSUBSCRIBE. */
  packetId: number;
  /** One reason code per topic filter, in order. */
  reasonCodes: number[];
  /** Ack properties. */
  properties?: AckProperties;
}

/**
 * PINGREQ (MQTT v5 §3.12).
 *
 * @example Round trip a PINGREQ
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type PingreqPacket } from "@mqttv5/client/wire";
 *
 * const packet: PingreqPacket = { type: PacketType.Pingreq };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type, PacketType.Pingreq);
 * ```
 */
export interface PingreqPacket {
  /** Packet type 12. */
  type: typeof PacketType.Pingreq;
}

/**
 * PINGRESP (MQTT v5 §3.13).
 *
 * @example Round trip a PINGRESP
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type PingrespPacket } from "@mqttv5/client/wire";
 *
 * const packet: PingrespPacket = { type: PacketType.Pingresp };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type, PacketType.Pingresp);
 * ```
 */
export interface PingrespPacket {
  /** Packet type 13. */
  type: typeof PacketType.Pingresp;
}

/**
 * DISCONNECT (MQTT v5 §3.14).
 *
 * @example Round trip a DISCONNECT
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type DisconnectPacket } from "@mqttv5/client/wire";
 *
 * const packet: DisconnectPacket = { type: PacketType.Disconnect, reasonCode: 0x04 };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Disconnect && decoded.reasonCode, 0x04);
 * ```
 */
export interface DisconnectPacket {
  /** Packet type 14. */
  type: typeof PacketType.Disconnect;
  /** Disconnect reason code; absent means 0 (Normal disconnection). */
  reasonCode?: number;
  /** DISCONNECT properties. */
  properties?: DisconnectProperties;
}

/**
 * AUTH (MQTT v5 §3.15).
 *
 * @example Round trip an AUTH
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketDecoder, PacketType, type AuthPacket } from "@mqttv5/client/wire";
 *
 * const packet: AuthPacket = {
 *   type: PacketType.Auth,
 *   reasonCode: 0x18,
 *   properties: { authenticationMethod: "TOKEN" },
 * };
 * const [decoded] = new PacketDecoder().push(encodePacket(packet));
 * assert.equal(decoded.type === PacketType.Auth && decoded.reasonCode, 0x18);
 * ```
 */
export interface AuthPacket {
  /** Packet type 15. */
  type: typeof PacketType.Auth;
  /** Authenticate reason code; absent means 0 (Success). */
  reasonCode?: number;
  /** AUTH properties. */
  properties?: AuthProperties;
}

/**
 * Any MQTT v5 control packet, discriminated by `type`.
 *
 * @example Narrow on the type
 * ```ts
 * import { PacketType, type Packet } from "@mqttv5/client/wire";
 *
 * function topicOf(p: Packet): string | undefined {
 *   return p.type === PacketType.Publish ? p.topic : undefined;
 * }
 * ```
 */
export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | PubrecPacket
  | PubrelPacket
  | PubcompPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;
