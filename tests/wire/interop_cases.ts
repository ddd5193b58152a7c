/**
 * Interoperability with the independent codec mqtt-packet 9.0.2 (MQTT v5
 * mode): a mapping between its object shapes and ours, fixed cases covering
 * every packet type and every property, and the two checks
 *
 * - ours -> theirs: `encodePacket` then `mqttPacket.parser().parse`, every field
 *   of the parsed object compared;
 * - theirs -> ours: `mqttPacket.generate` then `PacketDecoder.push`, every field
 *   of the decoded packet compared.
 *
 * Runtime-neutral (Deno and Bun): mqtt-packet is imported by its bare name,
 * resolved from package.json / node_modules by both runtimes.
 *
 * Known mqtt-packet 9.0.2 quirks, modelled or worked around below:
 *
 * 1. User properties are an object `{name: value | value[]}`: the interleaving
 *    of different names is lost, and the generator writes names in
 *    `Object.getOwnPropertyNames` order (integer-like names first). When
 *    parsing, a repeated name whose first value is `""` loses that value (a
 *    truthiness test on the value). `toTheirs` models both.
 * 2. Payload Format Indicator and the other byte-sized flags are booleans
 *    (`maximumQoS` is a number).
 * 3. PUBLISH Subscription Identifiers are one property `subscriptionIdentifier`:
 *    a number when it occurs once, an array when repeated.
 * 4. Its parser rejects AUTH with Remaining Length 0 ("Invalid auth reason
 *    code"), though §3.15.2.1 allows omitting the reason code and properties
 *    when the reason code is 0x00 and there are no properties; our encoder
 *    produces exactly that form. Checked as a known rejection.
 * 5. Its generator refuses a password without a user name ("Username is
 *    required to use password"; MQTT v5 §3.1.2.9 allows it) and an empty
 *    client id with Clean Start 0 ("clientId must be given if cleanSession set
 *    to 0"; allowed by MQTT v5 §3.1.3.1). Checked as known refusals.
 * 6. Its generator always writes DISCONNECT and AUTH with a reason code and a
 *    property length, and PUBACK-family packets with a non-zero reason code
 *    and no properties with a zero property length: all valid, decoded by us.
 * 7. Its parser decides whether a DISCONNECT carries a reason code from the
 *    bytes buffered, not from the Remaining Length, so a short DISCONNECT
 *    followed by another packet in the same chunk is misread. Each packet is
 *    therefore parsed by a fresh parser.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import mqttPacketModule from "mqtt-packet";
import {
  encodePacket,
  type Packet,
  PacketDecoder,
  PacketType,
  PropertyId,
  type UserProperty,
} from "../../src/wire/mod.ts";
import { Prng } from "../_helpers/prng.ts";
import { normalizePacket, randomPacket } from "../_helpers/random_packets.ts";

/** A packet object as mqtt-packet builds and accepts it. */
export type TheirPacket = Record<string, unknown>;

interface MqttPacketParser {
  on(event: "packet", listener: (packet: TheirPacket) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  parse(chunk: Uint8Array): number;
}

/** The part of mqtt-packet's API the tests and benches use. */
export interface MqttPacketModule {
  /** A new streaming parser. */
  parser(options: { protocolVersion: number }): MqttPacketParser;
  /** One packet to a Buffer; throws when the packet is refused. */
  generate(packet: TheirPacket, options: { protocolVersion: number }): Uint8Array;
}

/** mqtt-packet 9.0.2, typed by the slice of its API used here. */
export const mqttPacket = mqttPacketModule as unknown as MqttPacketModule;

/** mqtt-packet's command names, indexed by packet type. */
export const CMD = [
  "reserved",
  "connect",
  "connack",
  "publish",
  "puback",
  "pubrec",
  "pubrel",
  "pubcomp",
  "subscribe",
  "suback",
  "unsubscribe",
  "unsuback",
  "pingreq",
  "pingresp",
  "disconnect",
  "auth",
] as const;

// ---------------------------------------------------------------------------
// Mapping ours -> theirs

/** Quirk 1: user properties as mqtt-packet's parser groups them. */
function userPropsToTheirs(list: readonly UserProperty[]): Record<string, string | string[]> {
  const acc: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of list) {
    const cur = acc[name];
    if (cur) { // the parser's truthiness test: a first "" value is overwritten
      if (Array.isArray(cur)) cur.push(value);
      else acc[name] = [cur, value];
    } else {
      acc[name] = value;
    }
  }
  return Object.fromEntries(Object.entries(acc));
}

function propsToTheirs(
  type: PacketType,
  props: Record<string, unknown> | undefined,
): TheirPacket | undefined {
  if (props === undefined) return undefined;
  const out: TheirPacket = {};
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    switch (key) {
      case "userProperties":
        out.userProperties = userPropsToTheirs(value as UserProperty[]);
        break;
      case "subscriptionIdentifiers": { // quirk 3
        const ids = value as number[];
        assert.equal(type, PacketType.Publish);
        out.subscriptionIdentifier = ids.length === 1 ? ids[0] : [...ids];
        break;
      }
      case "payloadFormatIndicator": // quirk 2
        out.payloadFormatIndicator = value !== 0;
        break;
      default:
        out[key] = value instanceof Uint8Array ? new Uint8Array(value) : value;
    }
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function withProps(obj: TheirPacket, props: TheirPacket | undefined): TheirPacket {
  if (props !== undefined) obj.properties = props;
  return obj;
}

/**
 * Our packet (any encoder input; normalized first) as the object mqtt-packet
 * generates from and parses to, binaries as plain `Uint8Array`s. Fields only
 * the parser adds (`length` and the header flags) are left out; see
 * {@linkcode expectedParsed}.
 */
export function toTheirs(input: Packet): TheirPacket {
  const p = normalizePacket(input);
  const cmd = CMD[p.type];
  switch (p.type) {
    case PacketType.Connect: {
      const out: TheirPacket = {
        cmd,
        protocolId: "MQTT",
        protocolVersion: 5,
        clean: p.cleanStart,
        keepalive: p.keepAlive,
        clientId: p.clientId,
      };
      withProps(out, propsToTheirs(p.type, p.properties as Record<string, unknown>));
      if (p.will !== undefined) {
        out.will = withProps(
          {
            topic: p.will.topic,
            payload: new Uint8Array(p.will.payload),
            qos: p.will.qos,
            retain: p.will.retain,
          },
          propsToTheirs(p.type, p.will.properties as Record<string, unknown>),
        );
      }
      if (p.username !== undefined) out.username = p.username;
      if (p.password !== undefined) out.password = new Uint8Array(p.password);
      return out;
    }
    case PacketType.Connack:
      return withProps(
        { cmd, sessionPresent: p.sessionPresent, reasonCode: p.reasonCode },
        propsToTheirs(p.type, p.properties as Record<string, unknown>),
      );
    case PacketType.Publish: {
      const out: TheirPacket = {
        cmd,
        topic: p.topic,
        payload: new Uint8Array(p.payload),
        qos: p.qos,
        retain: p.retain,
        dup: p.dup,
      };
      if (p.qos > 0) out.messageId = p.packetId;
      return withProps(out, propsToTheirs(p.type, p.properties as Record<string, unknown>));
    }
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return withProps(
        { cmd, messageId: p.packetId, reasonCode: p.reasonCode },
        propsToTheirs(p.type, p.properties as Record<string, unknown>),
      );
    case PacketType.Subscribe:
      return withProps(
        {
          cmd,
          messageId: p.packetId,
          subscriptions: p.filters.map((f) => ({
            topic: f.topic,
            qos: f.qos,
            nl: f.noLocal,
            rap: f.retainAsPublished,
            rh: f.retainHandling,
          })),
        },
        propsToTheirs(p.type, p.properties as Record<string, unknown>),
      );
    case PacketType.Suback:
    case PacketType.Unsuback:
      return withProps(
        { cmd, messageId: p.packetId, granted: [...p.reasonCodes] },
        propsToTheirs(p.type, p.properties as Record<string, unknown>),
      );
    case PacketType.Unsubscribe:
      return withProps(
        { cmd, messageId: p.packetId, unsubscriptions: [...p.topics] },
        propsToTheirs(p.type, p.properties as Record<string, unknown>),
      );
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      return { cmd };
    case PacketType.Disconnect:
    case PacketType.Auth:
      return withProps(
        { cmd, reasonCode: p.reasonCode },
        propsToTheirs(p.type, p.properties as Record<string, unknown>),
      );
  }
}

/** A deep copy with every `Uint8Array` turned into a `Buffer`, as mqtt-packet's generator needs. */
export function forGenerate<T>(value: T): T {
  if (value instanceof Uint8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength) as unknown as T;
  }
  if (Array.isArray(value)) return value.map(forGenerate) as T;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = forGenerate(v);
    return out as T;
  }
  return value;
}

/**
 * A parsed mqtt-packet object as plain data: class instances and null-prototype
 * objects become plain objects, Buffers become plain `Uint8Array` copies.
 * Nothing is dropped.
 */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

function remainingLength(bytes: Uint8Array): number {
  let value = 0;
  let mul = 1;
  for (let i = 1; i < 5; i++) {
    value += (bytes[i] & 0x7f) * mul;
    if ((bytes[i] & 0x80) === 0) return value;
    mul *= 128;
  }
  throw new Error("bad varint in our own encoding");
}

/**
 * Every field mqtt-packet's parser should produce for `p` encoded as `bytes`:
 * {@linkcode toTheirs} plus the fixed-header fields its `Packet` class always
 * carries (`retain`, `qos`, `dup`, `length`, and `topic`/`payload` = null
 * outside PUBLISH).
 */
export function expectedParsed(p: Packet, bytes: Uint8Array): TheirPacket {
  const header = bytes[0];
  return {
    cmd: CMD[p.type],
    retain: (header & 1) !== 0,
    qos: (header >> 1) & 3,
    dup: (header & 8) !== 0,
    length: remainingLength(bytes),
    topic: null,
    payload: null,
    ...toTheirs(p),
  };
}

// ---------------------------------------------------------------------------
// Mapping theirs -> ours

function userPropsFromTheirs(obj: Record<string, string | string[]>): UserProperty[] {
  const out: UserProperty[] = [];
  // The generator writes names in getOwnPropertyNames order, values in array order.
  for (const name of Object.getOwnPropertyNames(obj)) {
    const v = obj[name];
    if (Array.isArray(v)) { for (const x of v) out.push([name, x]); }
    else out.push([name, v]);
  }
  return out;
}

function propsFromTheirs(type: PacketType, props: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (props === undefined) return out;
  for (const [key, value] of Object.entries(props as Record<string, unknown>)) {
    if (value === undefined) continue;
    switch (key) {
      case "userProperties":
        out.userProperties = userPropsFromTheirs(value as Record<string, string | string[]>);
        break;
      case "subscriptionIdentifier":
        if (type === PacketType.Publish) {
          out.subscriptionIdentifiers = Array.isArray(value) ? [...value] : [value];
        } else {
          out.subscriptionIdentifier = value;
        }
        break;
      case "payloadFormatIndicator":
        out.payloadFormatIndicator = value ? 1 : 0;
        break;
      default:
        out[key] = value instanceof Uint8Array ? new Uint8Array(value) : value;
    }
  }
  return out;
}

const TYPE_OF_CMD: Record<string, PacketType> = Object.fromEntries(
  CMD.map((c, i) => [c, i as PacketType]),
);

/**
 * An mqtt-packet object (a generator input) as the packet our decoder must
 * return for the bytes mqtt-packet generates from it.
 */
export function fromTheirs(m: TheirPacket): Packet {
  const type = TYPE_OF_CMD[m.cmd as string];
  const bytes = (v: unknown) => new Uint8Array(v as Uint8Array);
  switch (type) {
    case PacketType.Connect: {
      const out: Packet = {
        type,
        clientId: m.clientId as string,
        cleanStart: m.clean as boolean,
        keepAlive: m.keepalive as number,
        properties: propsFromTheirs(type, m.properties),
      };
      if (m.username !== undefined) out.username = m.username as string;
      if (m.password !== undefined) out.password = bytes(m.password);
      if (m.will !== undefined) {
        const w = m.will as TheirPacket;
        out.will = {
          topic: w.topic as string,
          payload: bytes(w.payload),
          qos: (w.qos ?? 0) as 0 | 1 | 2,
          retain: (w.retain ?? false) as boolean,
          properties: propsFromTheirs(type, w.properties),
        };
      }
      return out;
    }
    case PacketType.Connack:
      return {
        type,
        sessionPresent: m.sessionPresent as boolean,
        reasonCode: m.reasonCode as number,
        properties: propsFromTheirs(type, m.properties),
      };
    case PacketType.Publish: {
      const qos = m.qos as 0 | 1 | 2;
      return {
        type,
        topic: m.topic as string,
        payload: bytes(m.payload),
        qos,
        retain: m.retain as boolean,
        dup: m.dup as boolean,
        packetId: qos === 0 ? 0 : m.messageId as number,
        properties: propsFromTheirs(type, m.properties),
      };
    }
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return {
        type,
        packetId: m.messageId as number,
        reasonCode: (m.reasonCode ?? 0) as number,
        properties: propsFromTheirs(type, m.properties),
      };
    case PacketType.Subscribe:
      return {
        type,
        packetId: m.messageId as number,
        filters: (m.subscriptions as TheirPacket[]).map((s) => ({
          topic: s.topic as string,
          qos: s.qos as 0 | 1 | 2,
          noLocal: (s.nl ?? false) as boolean,
          retainAsPublished: (s.rap ?? false) as boolean,
          retainHandling: (s.rh ?? 0) as 0 | 1 | 2,
        })),
        properties: propsFromTheirs(type, m.properties),
      };
    case PacketType.Suback:
    case PacketType.Unsuback:
      return {
        type,
        packetId: m.messageId as number,
        reasonCodes: [...(m.granted as number[])],
        properties: propsFromTheirs(type, m.properties),
      };
    case PacketType.Unsubscribe:
      return {
        type,
        packetId: m.messageId as number,
        topics: [...(m.unsubscriptions as string[])],
        properties: propsFromTheirs(type, m.properties),
      };
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      return { type };
    case PacketType.Disconnect:
    case PacketType.Auth:
      return {
        type,
        reasonCode: (m.reasonCode ?? 0) as number,
        properties: propsFromTheirs(type, m.properties),
      };
  }
  throw new Error(`unknown cmd ${String(m.cmd)}`);
}

// ---------------------------------------------------------------------------
// Quirks that make mqtt-packet refuse a valid packet

/** Quirk 4: why mqtt-packet's parser rejects our valid encoding of `p`, if it does. */
export function theirParseRefusal(p: Packet, bytes: Uint8Array): string | undefined {
  if (p.type === PacketType.Auth && bytes.length === 2) {
    return "mqtt-packet rejects AUTH with Remaining Length 0 (§3.15.2.1 allows it)";
  }
  return undefined;
}

/** Quirk 5: why mqtt-packet's generator refuses `p`, if it does. */
export function theirGenerateRefusal(p: Packet): string | undefined {
  if (p.type !== PacketType.Connect) return undefined;
  if (p.password !== undefined && p.username === undefined) {
    return "mqtt-packet refuses a password without a user name (§3.1.2.9 allows it)";
  }
  if (p.clientId === "" && !p.cleanStart) {
    return "mqtt-packet refuses an empty client id with Clean Start 0 (§3.1.3.1 allows it)";
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// The checks

/** Parses `bytes` with a fresh mqtt-packet v5 parser. */
export function theirParse(bytes: Uint8Array): { packets: TheirPacket[]; errors: Error[] } {
  const packets: TheirPacket[] = [];
  const errors: Error[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  parser.on("packet", (p) => packets.push(p));
  parser.on("error", (e) => errors.push(e));
  parser.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return { packets, errors };
}

/** Generates `m` with mqtt-packet in v5 mode, as a plain `Uint8Array`. */
export function theirGenerate(m: TheirPacket): Uint8Array {
  const buf = mqttPacket.generate(forGenerate(m), { protocolVersion: 5 });
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** What a check did: compared, or confirmed a documented mqtt-packet refusal. */
export type CheckResult = "compared" | "known-refusal";

/**
 * Encodes `p` with our codec, parses it with mqtt-packet and compares every
 * field mqtt-packet reports. Throws an AssertionError on a mismatch.
 */
export function checkOursToTheirs(p: Packet): CheckResult {
  const bytes = encodePacket(p);
  const { packets, errors } = theirParse(bytes);
  if (theirParseRefusal(p, bytes) !== undefined) {
    assert.equal(packets.length, 0, "mqtt-packet was expected to refuse this (quirk 4)");
    assert.equal(errors.length, 1);
    return "known-refusal";
  }
  assert.deepEqual(errors.map((e) => e.message), [], "mqtt-packet reported an error");
  assert.equal(packets.length, 1, "mqtt-packet should emit exactly one packet");
  assert.deepStrictEqual(plain(packets[0]), expectedParsed(p, bytes));
  return "compared";
}

/**
 * Builds mqtt-packet's object for `p`, generates it with mqtt-packet, decodes
 * the bytes with our PacketDecoder and compares every field. Throws an
 * AssertionError on a mismatch.
 */
export function checkTheirsToOurs(p: Packet): CheckResult {
  const m = toTheirs(p);
  if (theirGenerateRefusal(p) !== undefined) {
    assert.throws(() => theirGenerate(m), "mqtt-packet was expected to refuse this (quirk 5)");
    return "known-refusal";
  }
  const bytes = theirGenerate(m);
  const decoded = new PacketDecoder().push(bytes);
  assert.equal(decoded.length, 1, "our decoder should return exactly one packet");
  assert.deepStrictEqual(decoded[0], fromTheirs(m));
  return "compared";
}

/** Counts of a random interop run. */
export interface RandomInteropResult {
  /** Packets compared field by field. */
  compared: number;
  /** Packets mqtt-packet refused as documented (quirks 4, 5). */
  knownRefusals: number;
}

/**
 * Runs `count` random packets of each of PUBLISH, SUBSCRIBE and CONNECT
 * through one direction.
 *
 * @param direction `"ours-to-theirs"` or `"theirs-to-ours"`.
 * @param seed PRNG seed.
 * @param count Packets per type.
 */
export function runRandomInterop(
  direction: "ours-to-theirs" | "theirs-to-ours",
  seed: number,
  count: number,
): RandomInteropResult {
  const rng = new Prng(seed);
  const result: RandomInteropResult = { compared: 0, knownRefusals: 0 };
  const check = direction === "ours-to-theirs" ? checkOursToTheirs : checkTheirsToOurs;
  for (const type of [PacketType.Publish, PacketType.Subscribe, PacketType.Connect]) {
    for (let i = 0; i < count; i++) {
      const p = randomPacket(rng, type, { maxPayload: 20000 });
      let r: CheckResult;
      try {
        r = check(p);
      } catch (err) {
        throw new Error(
          `${direction} seed ${seed} type ${type} #${i} failed on ${describe(p)}`,
          { cause: err },
        );
      }
      if (r === "compared") result.compared++;
      else result.knownRefusals++;
    }
  }
  return result;
}

/** A compact, JSON-like description of a packet for failure messages. */
export function describe(p: unknown): string {
  return JSON.stringify(
    p,
    (_k, v) =>
      v instanceof Uint8Array
        ? `<${v.length} bytes${v.length <= 32 ? ": " + Array.from(v).join(",") : ""}>`
        : v,
  ).slice(0, 2000);
}

// ---------------------------------------------------------------------------
// Fixed cases: every packet type, every property at least once

/** One fixed interop case. */
export interface InteropCase {
  /** Test name suffix. */
  name: string;
  /** The packet (an encoder input). */
  packet: Packet;
}

const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);
const bytesOf = (n: number, seed = 1) => new Prng(seed).bytes(n);

/** The fixed cases. */
export const INTEROP_CASES: readonly InteropCase[] = [
  // CONNECT
  {
    name: "CONNECT minimal",
    packet: { type: PacketType.Connect, clientId: "c1", cleanStart: true, keepAlive: 60 },
  },
  {
    name: "CONNECT empty client id, clean start",
    packet: { type: PacketType.Connect, clientId: "", cleanStart: true, keepAlive: 0 },
  },
  {
    name: "CONNECT every property, will with every property, username and password",
    packet: {
      type: PacketType.Connect,
      clientId: "client-ü-😀",
      cleanStart: false,
      keepAlive: 65535,
      username: "user",
      password: b("secret"),
      properties: {
        sessionExpiryInterval: 0xffffffff,
        receiveMaximum: 65535,
        maximumPacketSize: 268435460,
        topicAliasMaximum: 10,
        requestResponseInformation: true,
        requestProblemInformation: false,
        userProperties: [["k", "v"], ["k", "w"], ["other", "x"]],
        authenticationMethod: "SCRAM-SHA-256",
        authenticationData: bytesOf(32),
      },
      will: {
        topic: "clients/c1/status",
        payload: b("offline"),
        qos: 2,
        retain: true,
        properties: {
          willDelayInterval: 30,
          payloadFormatIndicator: 1,
          messageExpiryInterval: 3600,
          contentType: "text/plain",
          responseTopic: "clients/c1/will-replies",
          correlationData: b("corr"),
          userProperties: [["w", "1"]],
        },
      },
    },
  },
  {
    name: "CONNECT will QoS 1 without properties, empty will payload, empty password",
    packet: {
      type: PacketType.Connect,
      clientId: "c",
      cleanStart: true,
      keepAlive: 10,
      username: "",
      password: new Uint8Array(0),
      will: { topic: "w", payload: new Uint8Array(0), qos: 1, retain: false },
    },
  },
  {
    name: "CONNECT password without username (mqtt-packet cannot generate it)",
    packet: {
      type: PacketType.Connect,
      clientId: "c",
      cleanStart: true,
      keepAlive: 10,
      password: b("p"),
      properties: { userProperties: [], sessionExpiryInterval: undefined },
    },
  },
  {
    name: "CONNECT empty client id without clean start (mqtt-packet cannot generate it)",
    packet: { type: PacketType.Connect, clientId: "", cleanStart: false, keepAlive: 5 },
  },
  // CONNACK
  {
    name: "CONNACK success, session present, no properties",
    packet: { type: PacketType.Connack, sessionPresent: true, reasonCode: 0 },
  },
  {
    name: "CONNACK every property",
    packet: {
      type: PacketType.Connack,
      sessionPresent: false,
      reasonCode: 0,
      properties: {
        sessionExpiryInterval: 120,
        receiveMaximum: 1,
        maximumQoS: 1,
        retainAvailable: false,
        maximumPacketSize: 1,
        assignedClientIdentifier: "auto-1234",
        topicAliasMaximum: 65535,
        reasonString: "ok",
        userProperties: [["a", "1"], ["b", "2"], ["a", "3"]],
        wildcardSubscriptionAvailable: true,
        subscriptionIdentifiersAvailable: false,
        sharedSubscriptionAvailable: true,
        serverKeepAlive: 30,
        responseInformation: "replies/",
        serverReference: "other.example:1883",
        authenticationMethod: "m",
        authenticationData: new Uint8Array(0),
      },
    },
  },
  {
    name: "CONNACK maximumQoS 0, boolean properties true/false, refusal",
    packet: {
      type: PacketType.Connack,
      sessionPresent: false,
      reasonCode: 0x87,
      properties: {
        maximumQoS: 0,
        retainAvailable: true,
        wildcardSubscriptionAvailable: false,
        subscriptionIdentifiersAvailable: true,
        sharedSubscriptionAvailable: false,
        reasonString: "not authorized",
      },
    },
  },
  // PUBLISH
  {
    name: "PUBLISH QoS 0 minimal",
    packet: {
      type: PacketType.Publish,
      topic: "a/b",
      payload: b("hi"),
      qos: 0,
      retain: false,
      dup: false,
    },
  },
  {
    name: "PUBLISH QoS 0 empty payload, retain",
    packet: {
      type: PacketType.Publish,
      topic: "a",
      payload: new Uint8Array(0),
      qos: 0,
      retain: true,
      dup: false,
    },
  },
  {
    name: "PUBLISH QoS 1 every property, one subscription identifier",
    packet: {
      type: PacketType.Publish,
      topic: "sensors/room1/temp",
      payload: bytesOf(64),
      qos: 1,
      retain: false,
      dup: true,
      packetId: 1,
      properties: {
        payloadFormatIndicator: 0,
        messageExpiryInterval: 0,
        topicAlias: 1,
        responseTopic: "replies/1",
        correlationData: bytesOf(16, 2),
        contentType: "application/octet-stream",
        userProperties: [["u", "v"]],
        subscriptionIdentifiers: [268435455],
      },
    },
  },
  {
    name: "PUBLISH QoS 2 several subscription identifiers, 4-byte varints, 16 KiB payload",
    packet: {
      type: PacketType.Publish,
      topic: "x/y/z",
      payload: bytesOf(16384, 3),
      qos: 2,
      retain: true,
      dup: false,
      packetId: 65535,
      properties: {
        payloadFormatIndicator: 1,
        subscriptionIdentifiers: [1, 127, 128, 16383, 16384, 2097152],
      },
    },
  },
  {
    name: "PUBLISH empty topic with topic alias",
    packet: {
      type: PacketType.Publish,
      topic: "",
      payload: b("aliased"),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 7,
      properties: { topicAlias: 65535 },
    },
  },
  {
    name: "PUBLISH multi-byte and astral topic, leading BOM kept [MQTT-1.5.4-3]",
    packet: {
      type: PacketType.Publish,
      topic: "\uFEFFдом/温度/𝄞😀",
      payload: bytesOf(200, 4),
      qos: 0,
      retain: false,
      dup: false,
      properties: {
        userProperties: [["名前", "値"], ["", ""], ["\uFEFF", "😀"]],
      },
    },
  },
  {
    name: "PUBLISH user property repeated with an empty first value (quirk 1)",
    packet: {
      type: PacketType.Publish,
      topic: "q",
      payload: b("x"),
      qos: 0,
      retain: false,
      dup: false,
      properties: { userProperties: [["dup", ""], ["dup", "second"], ["1", "n"]] },
    },
  },
  // PUBACK / PUBREC / PUBREL / PUBCOMP
  ...([PacketType.Puback, PacketType.Pubrec, PacketType.Pubrel, PacketType.Pubcomp] as const)
    .flatMap((type) => {
      const name = CMD[type].toUpperCase();
      const failure = type === PacketType.Puback || type === PacketType.Pubrec ? 0x10 : 0x92;
      return [
        { name: `${name} success, short form`, packet: { type, packetId: 1 } },
        {
          name: `${name} non-zero reason code, no properties`,
          packet: { type, packetId: 2, reasonCode: failure },
        },
        {
          name: `${name} reason code 0 with properties`,
          packet: {
            type,
            packetId: 65535,
            reasonCode: 0,
            properties: { reasonString: "why", userProperties: [["k", "v"]] },
          },
        },
        {
          name: `${name} failure with properties`,
          packet: {
            type,
            packetId: 300,
            reasonCode: failure,
            properties: { reasonString: "¿por qué?" },
          },
        },
      ] as InteropCase[];
    }),
  // SUBSCRIBE
  {
    name: "SUBSCRIBE one filter, defaults",
    packet: { type: PacketType.Subscribe, packetId: 1, filters: [{ topic: "a/+", qos: 0 }] },
  },
  {
    name: "SUBSCRIBE several filters with every option, subscription identifier",
    packet: {
      type: PacketType.Subscribe,
      packetId: 42,
      filters: [
        { topic: "a/#", qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2 },
        { topic: "+/b/+", qos: 1, noLocal: false, retainAsPublished: true, retainHandling: 1 },
        { topic: "$share/group/c/#", qos: 0, retainHandling: 0 },
        { topic: "#", qos: 1 },
      ],
      properties: { subscriptionIdentifier: 268435455, userProperties: [["s", "1"]] },
    },
  },
  // SUBACK
  {
    name: "SUBACK granted and refused",
    packet: {
      type: PacketType.Suback,
      packetId: 42,
      reasonCodes: [0, 1, 2, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2],
    },
  },
  {
    name: "SUBACK with properties",
    packet: {
      type: PacketType.Suback,
      packetId: 1,
      reasonCodes: [1],
      properties: { reasonString: "r", userProperties: [["a", "b"]] },
    },
  },
  // UNSUBSCRIBE
  {
    name: "UNSUBSCRIBE several filters",
    packet: { type: PacketType.Unsubscribe, packetId: 9, topics: ["a/+", "$share/g/b", "#"] },
  },
  {
    name: "UNSUBSCRIBE with user properties",
    packet: {
      type: PacketType.Unsubscribe,
      packetId: 65535,
      topics: ["x"],
      properties: { userProperties: [["k", "v"], ["k", "v"]] },
    },
  },
  // UNSUBACK
  {
    name: "UNSUBACK reason codes",
    packet: {
      type: PacketType.Unsuback,
      packetId: 9,
      reasonCodes: [0, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
    },
  },
  {
    name: "UNSUBACK with properties",
    packet: {
      type: PacketType.Unsuback,
      packetId: 2,
      reasonCodes: [0],
      properties: { reasonString: "done", userProperties: [["x", "y"]] },
    },
  },
  // PINGREQ / PINGRESP
  { name: "PINGREQ", packet: { type: PacketType.Pingreq } },
  { name: "PINGRESP", packet: { type: PacketType.Pingresp } },
  // DISCONNECT
  { name: "DISCONNECT normal, short form", packet: { type: PacketType.Disconnect } },
  {
    name: "DISCONNECT reason code only",
    packet: { type: PacketType.Disconnect, reasonCode: 0x04 },
  },
  {
    name: "DISCONNECT every property",
    packet: {
      type: PacketType.Disconnect,
      reasonCode: 0x9c,
      properties: {
        sessionExpiryInterval: 0,
        reasonString: "use another server",
        userProperties: [["why", "maintenance"]],
        serverReference: "b.example",
      },
    },
  },
  // AUTH
  {
    name: "AUTH success, short form (mqtt-packet cannot parse it)",
    packet: { type: PacketType.Auth },
  },
  { name: "AUTH continue, no properties", packet: { type: PacketType.Auth, reasonCode: 0x18 } },
  {
    name: "AUTH every property",
    packet: {
      type: PacketType.Auth,
      reasonCode: 0x19,
      properties: {
        authenticationMethod: "SCRAM-SHA-1",
        authenticationData: bytesOf(20, 5),
        reasonString: "re-auth",
        userProperties: [["a", "1"]],
      },
    },
  },
  {
    name: "AUTH success with properties",
    packet: {
      type: PacketType.Auth,
      reasonCode: 0,
      properties: { authenticationMethod: "m", authenticationData: b("d") },
    },
  },
];

const PROPERTY_NAME_IDS: Record<string, number> = {
  payloadFormatIndicator: PropertyId.PayloadFormatIndicator,
  messageExpiryInterval: PropertyId.MessageExpiryInterval,
  contentType: PropertyId.ContentType,
  responseTopic: PropertyId.ResponseTopic,
  correlationData: PropertyId.CorrelationData,
  subscriptionIdentifier: PropertyId.SubscriptionIdentifier,
  subscriptionIdentifiers: PropertyId.SubscriptionIdentifier,
  sessionExpiryInterval: PropertyId.SessionExpiryInterval,
  assignedClientIdentifier: PropertyId.AssignedClientIdentifier,
  serverKeepAlive: PropertyId.ServerKeepAlive,
  authenticationMethod: PropertyId.AuthenticationMethod,
  authenticationData: PropertyId.AuthenticationData,
  requestProblemInformation: PropertyId.RequestProblemInformation,
  willDelayInterval: PropertyId.WillDelayInterval,
  requestResponseInformation: PropertyId.RequestResponseInformation,
  responseInformation: PropertyId.ResponseInformation,
  serverReference: PropertyId.ServerReference,
  reasonString: PropertyId.ReasonString,
  receiveMaximum: PropertyId.ReceiveMaximum,
  topicAliasMaximum: PropertyId.TopicAliasMaximum,
  topicAlias: PropertyId.TopicAlias,
  maximumQoS: PropertyId.MaximumQoS,
  retainAvailable: PropertyId.RetainAvailable,
  userProperties: PropertyId.UserProperty,
  maximumPacketSize: PropertyId.MaximumPacketSize,
  wildcardSubscriptionAvailable: PropertyId.WildcardSubscriptionAvailable,
  subscriptionIdentifiersAvailable: PropertyId.SubscriptionIdentifiersAvailable,
  sharedSubscriptionAvailable: PropertyId.SharedSubscriptionAvailable,
};

/**
 * Which (packet type, property id) pairs and packet types the fixed cases
 * use, so a test can prove every property and every type is covered.
 */
export function coverage(cases: readonly InteropCase[]): {
  types: Set<number>;
  propertyIds: Set<number>;
} {
  const types = new Set<number>();
  const propertyIds = new Set<number>();
  const add = (props: object | undefined) => {
    for (const [k, v] of Object.entries(props ?? {})) {
      if (v === undefined) continue;
      const id = PROPERTY_NAME_IDS[k];
      if (id === undefined) throw new Error(`unmapped property ${k}`);
      propertyIds.add(id);
    }
  };
  for (const { packet } of cases) {
    types.add(packet.type);
    if ("properties" in packet) add(packet.properties);
    if (packet.type === PacketType.Connect) add(packet.will?.properties);
  }
  return { types, propertyIds };
}
