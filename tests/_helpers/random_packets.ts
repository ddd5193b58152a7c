/**
 * Random VALID MQTT v5 packets for round-trip, interop and fuzz tests, and the
 * normalization that turns an encoder input into the shape the decoder returns
 * (WIRE_API_NOTES.md "Decoded shape"). Runtime-neutral.
 *
 * @module
 */

import {
  type AuthProperties,
  type ConnackProperties,
  type ConnectPacket,
  type ConnectProperties,
  isValidReasonCode,
  type Packet,
  PacketType,
  type PublishProperties,
  type QoS,
  type SubscribeFilter,
  type UserProperty,
  type WillMessage,
  type WillProperties,
} from "../../src/wire/mod.ts";
import type { Prng } from "./prng.ts";

/** Options of {@linkcode randomPacket}. */
export interface RandomPacketOptions {
  /** Largest PUBLISH payload in bytes. @default 20000 */
  maxPayload?: number;
}

const ALL_TYPES: readonly PacketType[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/** Reason codes valid for each packet type, from the codec's own table (§2.4). */
export const REASON_CODES: ReadonlyArray<readonly number[]> = (() => {
  const out: number[][] = [];
  for (let t = 0; t < 16; t++) {
    const codes: number[] = [];
    for (let rc = 0; rc < 256; rc++) {
      if (t > 0 && isValidReasonCode(t as PacketType, rc)) codes.push(rc);
    }
    out.push(codes);
  }
  return out;
})();

/** A string of 0..12 code points, sometimes up to 400 (crossing varint and 128-byte bounds). */
export function randomString(rng: Prng, exclude = ""): string {
  return rng.string(rng.bool(0.08) ? 400 : 12, exclude);
}

/** A non-empty topic name without wildcards [MQTT-3.3.2-2], [MQTT-4.7.3-1]. */
export function randomTopicName(rng: Prng): string {
  const levels = rng.range(1, 4);
  const parts: string[] = [];
  for (let i = 0; i < levels; i++) parts.push(randomString(rng, "/+#"));
  const topic = parts.join("/");
  return topic.length === 0 ? "t" : topic;
}

/** A valid topic filter, sometimes with wildcards, sometimes shared. */
export function randomTopicFilter(rng: Prng): string {
  const levels = rng.range(1, 4);
  const parts: string[] = [];
  for (let i = 0; i < levels; i++) {
    if (i === levels - 1 && rng.bool(0.15)) parts.push("#");
    else if (rng.bool(0.2)) parts.push("+");
    else parts.push(rng.string(8, "/+#"));
  }
  let filter = parts.join("/");
  if (filter.length === 0) filter = "f";
  if (rng.bool(0.1)) {
    let group = rng.string(6, "/+#");
    if (group.length === 0) group = "g";
    filter = `$share/${group}/${filter}`;
  }
  return filter;
}

function u32(rng: Prng): number {
  return rng.pick([0, 1, 127, 128, 65535, 0xffffffff, rng.u32(), rng.u32()]);
}

function u16(rng: Prng, min = 0): number {
  return rng.pick([min, min + 1, 255, 256, 65535, rng.range(min, 65535)]);
}

function varint(rng: Prng): number {
  return rng.pick([
    1,
    127,
    128,
    16383,
    16384,
    2097151,
    2097152,
    268435455,
    rng.range(1, 268435455),
  ]);
}

function bytes(rng: Prng, max = 40): Uint8Array {
  return rng.bytes(rng.bool(0.05) ? rng.range(0, 300) : rng.int(max + 1));
}

function userProperties(rng: Prng): UserProperty[] {
  const n = rng.pick([0, 1, 1, 2, 3, 5]);
  const out: UserProperty[] = [];
  for (let i = 0; i < n; i++) {
    const name = i > 0 && rng.bool(0.3) ? out[rng.int(out.length)][0] : randomString(rng);
    out.push([name, randomString(rng)]);
  }
  return out;
}

/**
 * Fills an object with a random subset of the given property generators.
 * Sometimes returns `undefined` for an empty set, sometimes adds explicit
 * `undefined` keys or an empty userProperties array, which the encoder must
 * treat as absent.
 */
function props<T extends object>(
  rng: Prng,
  gens: { [K in keyof T]-?: () => T[K] },
  density = rng.next(),
): T | undefined {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(gens) as (keyof T & string)[]) {
    if (rng.bool(density)) out[key] = gens[key]();
    else if (rng.bool(0.03)) out[key] = undefined;
  }
  if (out.userProperties === undefined && rng.bool(0.05)) out.userProperties = [];
  if (Object.keys(out).length === 0 && rng.bool(0.5)) return undefined;
  return out as T;
}

function authProps(rng: Prng): { authenticationMethod?: string; authenticationData?: Uint8Array } {
  // Authentication Data without a method is a Protocol Error (§3.1.2.11.10), so
  // the data only ever travels with a method.
  if (!rng.bool(0.3)) return {};
  const method = randomString(rng);
  return rng.bool(0.6)
    ? { authenticationMethod: method, authenticationData: bytes(rng) }
    : { authenticationMethod: method };
}

function withAuth<T extends object>(rng: Prng, p: T | undefined): T | undefined {
  const auth = authProps(rng);
  if (Object.keys(auth).length === 0) return p;
  return { ...(p ?? {}), ...auth } as T;
}

function willProperties(rng: Prng): WillProperties | undefined {
  return props<WillProperties>(rng, {
    willDelayInterval: () => u32(rng),
    payloadFormatIndicator: () => rng.pick([0, 1] as const),
    messageExpiryInterval: () => u32(rng),
    contentType: () => randomString(rng),
    responseTopic: () => randomTopicName(rng),
    correlationData: () => bytes(rng),
    userProperties: () => userProperties(rng),
  });
}

function qos(rng: Prng): QoS {
  return rng.pick([0, 1, 2] as const);
}

/** A random valid CONNECT. */
export function randomConnect(rng: Prng): ConnectPacket {
  const p: ConnectPacket = {
    type: PacketType.Connect,
    clientId: rng.bool(0.1) ? "" : randomString(rng),
    cleanStart: rng.bool(),
    keepAlive: u16(rng),
  };
  const properties = withAuth(
    rng,
    props<Omit<ConnectProperties, "authenticationMethod" | "authenticationData">>(rng, {
      sessionExpiryInterval: () => u32(rng),
      receiveMaximum: () => u16(rng, 1),
      maximumPacketSize: () => rng.pick([1, 128, 268435460, 0xffffffff, rng.range(1, 0xffffffff)]),
      topicAliasMaximum: () => u16(rng),
      requestResponseInformation: () => rng.bool(),
      requestProblemInformation: () => rng.bool(),
      userProperties: () => userProperties(rng),
    }),
  ) as ConnectProperties | undefined;
  if (properties !== undefined || rng.bool(0.3)) p.properties = properties;
  if (rng.bool(0.4)) p.username = randomString(rng);
  if (rng.bool(0.4)) p.password = bytes(rng);
  if (rng.bool(0.4)) {
    const will: WillMessage = {
      topic: randomTopicName(rng),
      payload: rng.bytes(rng.size(1000)),
      qos: qos(rng),
      retain: rng.bool(),
    };
    const wp = willProperties(rng);
    if (wp !== undefined || rng.bool(0.3)) will.properties = wp;
    p.will = will;
  }
  return p;
}

/** A random valid PUBLISH (topic alias with an empty topic sometimes). */
export function randomPublish(rng: Prng, maxPayload = 20000): Packet {
  const q = qos(rng);
  const properties = props<PublishProperties>(rng, {
    payloadFormatIndicator: () => rng.pick([0, 1] as const),
    messageExpiryInterval: () => u32(rng),
    topicAlias: () => u16(rng, 1),
    responseTopic: () => randomTopicName(rng),
    correlationData: () => bytes(rng),
    contentType: () => randomString(rng),
    userProperties: () => userProperties(rng),
    subscriptionIdentifiers: () => {
      const ids: number[] = [];
      for (let i = rng.pick([0, 1, 1, 2, 4]); i > 0; i--) ids.push(varint(rng));
      return ids;
    },
  });
  const aliased = properties?.topicAlias !== undefined;
  const p: Packet = {
    type: PacketType.Publish,
    topic: aliased && rng.bool(0.5) ? "" : randomTopicName(rng),
    payload: rng.bytes(rng.size(maxPayload)),
    qos: q,
    retain: rng.bool(),
    dup: q > 0 && rng.bool(0.3), // DUP=1 at QoS 0 is malformed [MQTT-3.3.1-2]
  };
  if (q > 0) p.packetId = u16(rng, 1);
  else if (rng.bool(0.3)) p.packetId = 0;
  if (properties !== undefined || rng.bool(0.3)) p.properties = properties;
  return p;
}

function ackProps(rng: Prng) {
  return props<{ reasonString?: string; userProperties?: UserProperty[] }>(rng, {
    reasonString: () => randomString(rng),
    userProperties: () => userProperties(rng),
  });
}

/** A random valid PUBACK, PUBREC, PUBREL or PUBCOMP. */
export function randomPubAck(rng: Prng, type: 4 | 5 | 6 | 7): Packet {
  const p = { type, packetId: u16(rng, 1) } as Packet & {
    reasonCode?: number;
    properties?: object;
  };
  if (rng.bool(0.7)) p.reasonCode = rng.bool(0.4) ? 0 : rng.pick(REASON_CODES[type]);
  const pr = ackProps(rng);
  if (pr !== undefined || rng.bool(0.2)) p.properties = pr;
  return p;
}

/** A random valid SUBSCRIBE. */
export function randomSubscribe(rng: Prng): Packet {
  const filters: SubscribeFilter[] = [];
  for (let i = rng.pick([1, 1, 2, 3, 6]); i > 0; i--) {
    const topic = randomTopicFilter(rng);
    const f: SubscribeFilter = { topic, qos: qos(rng) };
    // noLocal on a shared subscription is a Protocol Error [MQTT-3.8.3-4].
    if (rng.bool(0.7)) f.noLocal = topic.startsWith("$share/") ? false : rng.bool();
    if (rng.bool(0.7)) f.retainAsPublished = rng.bool();
    if (rng.bool(0.7)) f.retainHandling = rng.pick([0, 1, 2] as const);
    filters.push(f);
  }
  const p: Packet = { type: PacketType.Subscribe, packetId: u16(rng, 1), filters };
  const pr = props<{ subscriptionIdentifier?: number; userProperties?: UserProperty[] }>(rng, {
    subscriptionIdentifier: () => varint(rng),
    userProperties: () => userProperties(rng),
  });
  if (pr !== undefined || rng.bool(0.2)) p.properties = pr;
  return p;
}

function codes(rng: Prng, type: PacketType): number[] {
  const out: number[] = [];
  for (let i = rng.pick([1, 1, 2, 3, 8]); i > 0; i--) out.push(rng.pick(REASON_CODES[type]));
  return out;
}

/**
 * A random valid packet.
 *
 * @param rng The generator.
 * @param type The packet type; random when omitted.
 * @param options Size limits.
 * @returns An encoder input: optional fields are sometimes absent,
 * `undefined` or empty, exactly as a caller might pass them.
 */
export function randomPacket(rng: Prng, type?: PacketType, options?: RandomPacketOptions): Packet {
  const t = type ?? rng.pick(ALL_TYPES);
  switch (t) {
    case PacketType.Connect:
      return randomConnect(rng);
    case PacketType.Connack: {
      const reasonCode = rng.bool(0.5) ? 0 : rng.pick(REASON_CODES[t]);
      const p: Packet = {
        type: t,
        // Session present with a non-zero reason code is a Protocol Error [MQTT-3.2.2-6].
        sessionPresent: reasonCode === 0 && rng.bool(),
        reasonCode,
      };
      const pr = withAuth(
        rng,
        props<Omit<ConnackProperties, "authenticationMethod" | "authenticationData">>(rng, {
          sessionExpiryInterval: () => u32(rng),
          receiveMaximum: () => u16(rng, 1),
          maximumQoS: () => rng.pick([0, 1] as const),
          retainAvailable: () => rng.bool(),
          maximumPacketSize: () => rng.pick([1, 1024, 0xffffffff, rng.range(1, 0xffffffff)]),
          assignedClientIdentifier: () => randomString(rng),
          topicAliasMaximum: () => u16(rng),
          reasonString: () => randomString(rng),
          userProperties: () => userProperties(rng),
          wildcardSubscriptionAvailable: () => rng.bool(),
          subscriptionIdentifiersAvailable: () => rng.bool(),
          sharedSubscriptionAvailable: () => rng.bool(),
          serverKeepAlive: () => u16(rng),
          responseInformation: () => randomString(rng),
          serverReference: () => randomString(rng),
        }),
      ) as ConnackProperties | undefined;
      if (pr !== undefined || rng.bool(0.2)) p.properties = pr;
      return p;
    }
    case PacketType.Publish:
      return randomPublish(rng, options?.maxPayload ?? 20000);
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return randomPubAck(rng, t);
    case PacketType.Subscribe:
      return randomSubscribe(rng);
    case PacketType.Suback:
    case PacketType.Unsuback: {
      const p = { type: t, packetId: u16(rng, 1), reasonCodes: codes(rng, t) } as Packet & {
        properties?: object;
      };
      const pr = ackProps(rng);
      if (pr !== undefined || rng.bool(0.2)) p.properties = pr;
      return p;
    }
    case PacketType.Unsubscribe: {
      const topics: string[] = [];
      for (let i = rng.pick([1, 1, 2, 3, 6]); i > 0; i--) topics.push(randomTopicFilter(rng));
      const p: Packet = { type: t, packetId: u16(rng, 1), topics };
      const pr = props<{ userProperties?: UserProperty[] }>(rng, {
        userProperties: () => userProperties(rng),
      });
      if (pr !== undefined || rng.bool(0.2)) p.properties = pr;
      return p;
    }
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      return { type: t };
    case PacketType.Disconnect: {
      const p: Packet = { type: t };
      if (rng.bool(0.6)) p.reasonCode = rng.bool(0.3) ? 0 : rng.pick(REASON_CODES[t]);
      const pr = props<{
        sessionExpiryInterval?: number;
        reasonString?: string;
        userProperties?: UserProperty[];
        serverReference?: string;
      }>(rng, {
        sessionExpiryInterval: () => u32(rng),
        reasonString: () => randomString(rng),
        userProperties: () => userProperties(rng),
        serverReference: () => randomString(rng),
      });
      if (pr !== undefined || rng.bool(0.2)) p.properties = pr;
      return p;
    }
    case PacketType.Auth: {
      const p: Packet = { type: t };
      if (rng.bool(0.6)) p.reasonCode = rng.pick(REASON_CODES[t]);
      const pr = withAuth(
        rng,
        props<{ reasonString?: string; userProperties?: UserProperty[] }>(rng, {
          reasonString: () => randomString(rng),
          userProperties: () => userProperties(rng),
        }),
      ) as AuthProperties | undefined;
      if (pr !== undefined || rng.bool(0.2)) p.properties = pr;
      return p;
    }
  }
}

function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

/**
 * The properties object the decoder returns for `p`: only defined keys, empty
 * arrays dropped, binaries and arrays copied.
 */
export function normalizeProperties(p: object | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (p === undefined) return out;
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) {
      if (v.length === 0) continue;
      out[k] = v.map((x) => (Array.isArray(x) ? [...x] : x));
    } else if (v instanceof Uint8Array) {
      out[k] = copyBytes(v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/**
 * The packet the decoder returns for an encoder input (WIRE_API_NOTES.md
 * "Decoded shape"): `properties` always present, reason codes 0 when omitted,
 * PUBLISH packetId 0 at QoS 0, all five subscription-option keys present,
 * username/password/will only when given.
 */
export function normalizePacket(p: Packet): Packet {
  switch (p.type) {
    case PacketType.Connect: {
      const out: ConnectPacket = {
        type: p.type,
        clientId: p.clientId,
        cleanStart: p.cleanStart,
        keepAlive: p.keepAlive,
        properties: normalizeProperties(p.properties),
      };
      if (p.username !== undefined) out.username = p.username;
      if (p.password !== undefined) out.password = copyBytes(p.password);
      if (p.will !== undefined) {
        out.will = {
          topic: p.will.topic,
          payload: copyBytes(p.will.payload),
          qos: p.will.qos,
          retain: p.will.retain,
          properties: normalizeProperties(p.will.properties),
        };
      }
      return out;
    }
    case PacketType.Connack:
      return {
        type: p.type,
        sessionPresent: p.sessionPresent,
        reasonCode: p.reasonCode,
        properties: normalizeProperties(p.properties),
      };
    case PacketType.Publish:
      return {
        type: p.type,
        topic: p.topic,
        payload: copyBytes(p.payload),
        qos: p.qos,
        retain: p.retain,
        dup: p.dup,
        packetId: p.qos === 0 ? 0 : p.packetId,
        properties: normalizeProperties(p.properties),
      };
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return {
        type: p.type,
        packetId: p.packetId,
        reasonCode: p.reasonCode ?? 0,
        properties: normalizeProperties(p.properties),
      } as Packet;
    case PacketType.Subscribe:
      return {
        type: p.type,
        packetId: p.packetId,
        filters: p.filters.map((f) => ({
          topic: f.topic,
          qos: f.qos,
          noLocal: f.noLocal ?? false,
          retainAsPublished: f.retainAsPublished ?? false,
          retainHandling: f.retainHandling ?? 0,
        })),
        properties: normalizeProperties(p.properties),
      };
    case PacketType.Suback:
    case PacketType.Unsuback:
      return {
        type: p.type,
        packetId: p.packetId,
        reasonCodes: [...p.reasonCodes],
        properties: normalizeProperties(p.properties),
      } as Packet;
    case PacketType.Unsubscribe:
      return {
        type: p.type,
        packetId: p.packetId,
        topics: [...p.topics],
        properties: normalizeProperties(p.properties),
      };
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      return { type: p.type };
    case PacketType.Disconnect:
    case PacketType.Auth:
      return {
        type: p.type,
        reasonCode: p.reasonCode ?? 0,
        properties: normalizeProperties(p.properties),
      } as Packet;
  }
}
