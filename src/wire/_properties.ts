// MQTT v5 properties (§2.2.2): which packet may carry which property, and their
// encoding. Encoding writes properties in ascending identifier order; decoding
// accepts any order.

import * as T from "./_packet_type.ts";

/** Pseudo packet type used for will properties (type 0 is reserved on the wire). */
export const WILL = 0;

/** Property value kinds. */
export const K_BYTE = 0; // one byte, value range checked per property
export const K_BOOL = 1; // one byte, 0 or 1, exposed as boolean
export const K_U16 = 2;
export const K_U32 = 3;
export const K_VARINT = 4;
export const K_STR = 5;
export const K_BIN = 6;
export const K_PAIR = 7; // user property
export const K_VARINT_LIST = 8; // PUBLISH subscription identifiers

/** One property descriptor. */
export interface PropDef {
  id: number;
  name: string;
  kind: number;
  /** Bitmask of packet types (1 << type; bit 0 = will) that may carry it. */
  mask: number;
  /** Smallest allowed value for numeric kinds (0 or 1). */
  min: number;
  /** Largest allowed value for K_BYTE. */
  max: number;
}

const b = (...types: number[]) => types.reduce((m, t) => m | (1 << t), 0);
const ACKS = b(T.Connack, T.Puback, T.Pubrec, T.Pubrel, T.Pubcomp, T.Suback, T.Unsuback);

function def(id: number, name: string, kind: number, mask: number, min = 0, max = 1): PropDef {
  return { id, name, kind, mask, min, max };
}

/** Every property, in ascending identifier order (the encoding order). */
export const PROPS: readonly PropDef[] = [
  def(0x01, "payloadFormatIndicator", K_BYTE, b(T.Publish, WILL)),
  def(0x02, "messageExpiryInterval", K_U32, b(T.Publish, WILL)),
  def(0x03, "contentType", K_STR, b(T.Publish, WILL)),
  def(0x08, "responseTopic", K_STR, b(T.Publish, WILL)),
  def(0x09, "correlationData", K_BIN, b(T.Publish, WILL)),
  def(0x0b, "subscriptionIdentifiers", K_VARINT_LIST, b(T.Publish), 1),
  def(0x0b, "subscriptionIdentifier", K_VARINT, b(T.Subscribe), 1),
  def(0x11, "sessionExpiryInterval", K_U32, b(T.Connect, T.Connack, T.Disconnect)),
  def(0x12, "assignedClientIdentifier", K_STR, b(T.Connack)),
  def(0x13, "serverKeepAlive", K_U16, b(T.Connack)),
  def(0x15, "authenticationMethod", K_STR, b(T.Connect, T.Connack, T.Auth)),
  def(0x16, "authenticationData", K_BIN, b(T.Connect, T.Connack, T.Auth)),
  def(0x17, "requestProblemInformation", K_BOOL, b(T.Connect)),
  def(0x18, "willDelayInterval", K_U32, b(WILL)),
  def(0x19, "requestResponseInformation", K_BOOL, b(T.Connect)),
  def(0x1a, "responseInformation", K_STR, b(T.Connack)),
  def(0x1c, "serverReference", K_STR, b(T.Connack, T.Disconnect)),
  def(0x1f, "reasonString", K_STR, ACKS | b(T.Disconnect, T.Auth)),
  def(0x21, "receiveMaximum", K_U16, b(T.Connect, T.Connack), 1),
  def(0x22, "topicAliasMaximum", K_U16, b(T.Connect, T.Connack)),
  def(0x23, "topicAlias", K_U16, b(T.Publish), 1),
  def(0x24, "maximumQoS", K_BYTE, b(T.Connack)),
  def(0x25, "retainAvailable", K_BOOL, b(T.Connack)),
  def(0x26, "userProperties", K_PAIR, 0xffff),
  def(0x27, "maximumPacketSize", K_U32, b(T.Connect, T.Connack), 1),
  def(0x28, "wildcardSubscriptionAvailable", K_BOOL, b(T.Connack)),
  def(0x29, "subscriptionIdentifiersAvailable", K_BOOL, b(T.Connack)),
  def(0x2a, "sharedSubscriptionAvailable", K_BOOL, b(T.Connack)),
];

/** The descriptors each packet type may carry (index = type; 0 = will), in encoding order. */
export const PROPS_FOR: readonly (readonly PropDef[])[] = Array.from(
  { length: 16 },
  (_, t) => PROPS.filter((d) => (d.mask & (1 << t)) !== 0),
);

/** Property names each packet type may carry, for rejecting misplaced ones. */
export const NAMES_FOR: readonly ReadonlySet<string>[] = PROPS_FOR.map((l) =>
  new Set(l.map((d) => d.name))
);

/** Descriptor by identifier; 0x0B resolves per packet type (see byId). */
const BY_ID: (PropDef | undefined)[] = new Array(256).fill(undefined);
for (const d of PROPS) if (d.id !== 0x0b) BY_ID[d.id] = d;
const SUB_ID_PUBLISH = PROPS[5];
const SUB_ID_SUBSCRIBE = PROPS[6];

/** The descriptor of property `id` in a packet of `type`, if it exists at all. */
export function byId(id: number, type: number): PropDef | undefined {
  if (id === 0x0b) return type === T.Subscribe ? SUB_ID_SUBSCRIBE : SUB_ID_PUBLISH;
  return BY_ID[id];
}

/** Human-readable packet names for messages. */
export const PACKET_NAMES: readonly string[] = [
  "WILL",
  "CONNECT",
  "CONNACK",
  "PUBLISH",
  "PUBACK",
  "PUBREC",
  "PUBREL",
  "PUBCOMP",
  "SUBSCRIBE",
  "SUBACK",
  "UNSUBSCRIBE",
  "UNSUBACK",
  "PINGREQ",
  "PINGRESP",
  "DISCONNECT",
  "AUTH",
];
