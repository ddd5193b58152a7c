/**
 * The MQTT v5 encoder: {@linkcode encodePacket}, {@linkcode encodePacketInto}
 * and {@linkcode packetLength}. Lengths are computed first, then the packet is
 * written into one exact-size buffer (or the caller's buffer). Arguments that
 * break the specification raise `TypeError` or `RangeError` naming the packet
 * and field.
 *
 * CONNACK, SUBACK and UNSUBACK (packets only a server sends) are encoded by
 * `_server.ts`, which the public entry (`mod.ts`) registers. The client
 * imports this module without it, so its bundle leaves them out; here alone
 * they raise a `TypeError` naming the public entry.
 *
 * @module
 */

import { isValidReasonCode } from "./constants.ts";
import { topicFilterShapeError, topicNameShapeError } from "../topic/validate.ts";
import {
  K_BIN,
  K_BOOL,
  K_BYTE,
  K_PAIR,
  K_STR,
  K_U16,
  K_U32,
  K_VARINT,
  K_VARINT_LIST,
  NAMES_FOR,
  PACKET_NAMES,
  PROPS_FOR,
  WILL,
} from "./_properties.ts";
import { LONE_SURROGATE, utf8Length, writeUtf8 } from "./_utf8.ts";
import type {
  AuthPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  PubAckPacketBase,
  SubscribePacket,
  UnsubscribePacket,
} from "./types.ts";

/**
 * The largest remaining length a fixed header can express (§1.5.5).
 *
 * @example Check a size before encoding
 * ```ts
 * import { MAX_REMAINING_LENGTH } from "@mqttv5/client/wire";
 *
 * console.log(MAX_REMAINING_LENGTH); // 268435455
 * ```
 */
export const MAX_REMAINING_LENGTH = 268_435_455;

/**
 * PINGREQ, built once. Shared: do not modify.
 *
 * @example The PINGREQ bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketType, PINGREQ_BYTES } from "@mqttv5/client/wire";
 *
 * assert.deepEqual(PINGREQ_BYTES, encodePacket({ type: PacketType.Pingreq }));
 * ```
 */
export const PINGREQ_BYTES: Uint8Array = new Uint8Array([0xc0, 0x00]);
/**
 * PINGRESP, built once. Shared: do not modify.
 *
 * @example The PINGRESP bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket, PacketType, PINGRESP_BYTES } from "@mqttv5/client/wire";
 *
 * assert.deepEqual(PINGRESP_BYTES, encodePacket({ type: PacketType.Pingresp }));
 * ```
 */
export const PINGRESP_BYTES: Uint8Array = new Uint8Array([0xd0, 0x00]);
/**
 * DISCONNECT with reason 0x00 and no properties, built once. Shared: do not modify.
 *
 * @example The normal DISCONNECT bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { DISCONNECT_BYTES, encodePacket, PacketType } from "@mqttv5/client/wire";
 *
 * assert.deepEqual(DISCONNECT_BYTES, encodePacket({ type: PacketType.Disconnect }));
 * ```
 */
export const DISCONNECT_BYTES: Uint8Array = new Uint8Array([0xe0, 0x00]);

// ---------------------------------------------------------------------------
// Measuring. `measure` validates the packet and leaves the lengths `write`
// needs in these module-level slots (encoding is synchronous, never reentrant).

let mRemaining = 0;
let mProps = 0;
let mWillProps = 0;

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : 4;
}

function fieldName(type: number, field: string): string {
  return `${PACKET_NAMES[type]} ${field}`;
}

function strSize(type: number, field: string, s: unknown): number {
  if (typeof s !== "string") {
    throw new TypeError(`${fieldName(type, field)} must be a string, got ${typeof s}`);
  }
  const n = utf8Length(s);
  if (n < 0) {
    throw new TypeError(
      n === LONE_SURROGATE
        ? `${fieldName(type, field)} must not contain a lone surrogate [MQTT-1.5.4-1]`
        : `${fieldName(type, field)} must not contain U+0000 [MQTT-1.5.4-2]`,
    );
  }
  if (n > 0xffff) {
    throw new RangeError(`${fieldName(type, field)} is ${n} UTF-8 bytes; the limit is 65535`);
  }
  return n + 2;
}

function binSize(type: number, field: string, v: unknown): number {
  if (!(v instanceof Uint8Array)) {
    throw new TypeError(`${fieldName(type, field)} must be a Uint8Array`);
  }
  if (v.length > 0xffff) {
    throw new RangeError(`${fieldName(type, field)} is ${v.length} bytes; the limit is 65535`);
  }
  return v.length + 2;
}

function checkInt(type: number, field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new TypeError(`${fieldName(type, field)} must be an integer, got ${String(v)}`);
  }
  if (v < min || v > max) {
    throw new RangeError(`${fieldName(type, field)} must be in ${min}..${max}, got ${v}`);
  }
  return v;
}

function checkPacketId(type: number, v: unknown): number {
  // [MQTT-2.2.1-3] a non-zero 16-bit packet identifier.
  return checkInt(type, "packetId", v, 1, 0xffff);
}

function checkReasonCode(type: number, rc: unknown): number {
  if (rc === undefined) return 0;
  const v = checkInt(type, "reasonCode", rc, 0, 0xff);
  if (!isValidReasonCode(type as Packet["type"], v)) {
    throw new RangeError(
      `${fieldName(type, "reasonCode")} 0x${v.toString(16)} is not valid here (§2.4)`,
    );
  }
  return v;
}

function checkQoS(type: number, field: string, v: unknown): number {
  return checkInt(type, field, v, 0, 2); // [MQTT-3.3.1-4] QoS 3 is not a QoS
}

/** Validates and measures a property set; 0 when it holds no property. */
function propsSize(type: number, props: unknown): number {
  if (props === undefined || props === null) return 0;
  if (typeof props !== "object") {
    throw new TypeError(`${fieldName(type, "properties")} must be an object`);
  }
  const p = props as Record<string, unknown>;
  const allowed = NAMES_FOR[type];
  for (const key in p) {
    // Only the properties this packet type may carry (§2.2.2.2).
    if (p[key] !== undefined && !allowed.has(key)) {
      throw new TypeError(`${fieldName(type, "properties." + key)} is not allowed in this packet`);
    }
  }
  const defs = PROPS_FOR[type];
  let n = 0;
  for (let k = 0; k < defs.length; k++) {
    const d = defs[k];
    const v = p[d.name];
    if (v === undefined) continue;
    const field = "properties." + d.name;
    switch (d.kind) {
      case K_BYTE:
        checkInt(type, field, v, 0, d.max);
        n += 2;
        break;
      case K_BOOL:
        if (typeof v !== "boolean") {
          throw new TypeError(`${fieldName(type, field)} must be a boolean`);
        }
        n += 2;
        break;
      case K_U16:
        checkInt(type, field, v, d.min, 0xffff);
        n += 3;
        break;
      case K_U32:
        checkInt(type, field, v, d.min, 0xffffffff);
        n += 5;
        break;
      case K_VARINT:
        n += 1 + varintSize(checkInt(type, field, v, 1, MAX_REMAINING_LENGTH));
        break;
      case K_VARINT_LIST: {
        if (!Array.isArray(v)) throw new TypeError(`${fieldName(type, field)} must be an array`);
        for (let i = 0; i < v.length; i++) {
          n += 1 + varintSize(checkInt(type, field, v[i], 1, MAX_REMAINING_LENGTH));
        }
        break;
      }
      case K_STR:
        n += 1 + strSize(type, field, v);
        if (d.id === 0x08) {
          // [MQTT-3.3.2-14] the Response Topic is a topic name: no wildcards, not empty.
          const err = topicNameShapeError(v as string);
          if (err !== undefined) throw new TypeError(`${fieldName(type, field)} "${v}": ${err}`);
        }
        break;
      case K_BIN:
        n += 1 + binSize(type, field, v);
        break;
      case K_PAIR: {
        if (!Array.isArray(v)) {
          throw new TypeError(`${fieldName(type, field)} must be an array of pairs`);
        }
        for (let i = 0; i < v.length; i++) {
          const pair = v[i];
          if (!Array.isArray(pair) || pair.length !== 2) {
            throw new TypeError(`${fieldName(type, field)}[${i}] must be a [name, value] pair`);
          }
          n += 1 + strSize(type, field, pair[0]) + strSize(type, field, pair[1]);
        }
        break;
      }
    }
  }
  if (n > MAX_REMAINING_LENGTH) {
    throw new RangeError(`${fieldName(type, "properties")} are too long`);
  }
  return n;
}

/**
 * The encoder of a packet type only a server sends (CONNACK, SUBACK, UNSUBACK).
 * `_server.ts` registers them and the public entry (`mod.ts`) imports it; a
 * client that imports this module alone leaves them out of its bundle.
 */
export interface ServerEncoder {
  /** Validates `p` and returns its remaining length; may keep lengths for `write`. */
  measure(p: Packet): number;
  /** Writes `p`, just measured, fixed header included, at `buf[pos]`; returns the end. */
  write(p: Packet, buf: Uint8Array, pos: number, remaining: number): number;
}

const SERVER: (ServerEncoder | undefined)[] = [];

/** The encoder's parts a server-side encoder is built of (see {@linkcode serverWriter}). */
export interface EncoderParts {
  varintSize(v: number): number;
  checkPacketId(type: number, v: unknown): number;
  checkReasonCode(type: number, rc: unknown): number;
  propsSize(type: number, props: unknown): number;
  writeVarint(buf: Uint8Array, pos: number, v: number): number;
  writeU16(buf: Uint8Array, pos: number, v: number): number;
  writeProps(type: number, buf: Uint8Array, pos: number, props: unknown, size: number): number;
}

/**
 * The encoder's parts, for `_server.ts`. An object rather than exports of the
 * functions themselves: exported, they are module bindings V8 reads through a
 * cell, and the PUBLISH path calls them (see decode.ts).
 *
 * @returns The parts.
 */
export function serverWriter(): EncoderParts {
  return {
    varintSize,
    checkPacketId,
    checkReasonCode,
    propsSize,
    writeVarint,
    writeU16,
    writeProps,
  };
}

/**
 * Registers the encoder of packet type `type` (see {@linkcode ServerEncoder}).
 *
 * @param type The packet type.
 * @param encoder Its encoder.
 */
export function registerServerEncoder(type: number, encoder: ServerEncoder): void {
  SERVER[type] = encoder;
}

function checkTopicName(type: number, field: string, topic: unknown): void {
  if (typeof topic !== "string") throw new TypeError(`${fieldName(type, field)} must be a string`);
  const err = topicNameShapeError(topic);
  if (err !== undefined) throw new TypeError(`${fieldName(type, field)} "${topic}": ${err}`);
}

function checkTopicFilter(type: number, field: string, filter: unknown): void {
  if (typeof filter !== "string") throw new TypeError(`${fieldName(type, field)} must be a string`);
  const err = topicFilterShapeError(filter);
  if (err !== undefined) throw new TypeError(`${fieldName(type, field)} "${filter}": ${err}`);
}

function isEmptyProps(n: number): boolean {
  return n === 0;
}

/**
 * The last PUBLISH topic that passed validation and its encoded size:
 * publishers mostly repeat a topic, and a hit skips two passes over it (the
 * UTF-8 length and the wildcard check). Never the empty string.
 */
let lastTopic: string | null = null;
let lastTopicSize = 0;

/** Validates `p` and returns its total encoded size; fills the m* slots. */
function measure(p: Packet): number {
  if (p === null || typeof p !== "object") throw new TypeError("packet must be an object");
  const type = p.type;
  let rl: number;
  mProps = 0;
  mWillProps = 0;
  switch (type) {
    case 3: { // PUBLISH
      const qos = checkQoS(type, "qos", p.qos);
      const props = p.properties;
      mProps = props === undefined ? 0 : propsSize(type, props);
      const topic = p.topic;
      if (topic === "") {
        // An empty topic is only allowed with a topic alias standing in for it [MQTT-3.3.2-1].
        if (props?.topicAlias === undefined) {
          throw new TypeError(
            `PUBLISH topic must not be empty without a topic alias [MQTT-4.7.3-1]`,
          );
        }
      }
      if (topic === lastTopic && lastTopic !== null) {
        rl = lastTopicSize; // validated and measured before
      } else {
        rl = strSize(type, "topic", topic);
        if (topic !== "") {
          checkTopicName(type, "topic", topic);
          lastTopic = topic;
          lastTopicSize = rl;
        }
      }
      if (qos > 0) {
        checkPacketId(type, p.packetId);
        rl += 2;
      } else if (p.dup) {
        throw new TypeError("PUBLISH dup must be false at QoS 0 [MQTT-3.3.1-2]");
      }
      const payload = p.payload;
      if (!(payload instanceof Uint8Array)) {
        throw new TypeError("PUBLISH payload must be a Uint8Array");
      }
      rl += varintSize(mProps) + mProps + payload.length;
      break;
    }
    case 4:
    case 5:
    case 6:
    case 7: { // PUBACK, PUBREC, PUBREL, PUBCOMP
      const q = p as PubAckPacketBase<4>;
      checkPacketId(type, q.packetId);
      const rc = checkReasonCode(type, q.reasonCode);
      mProps = propsSize(type, q.properties);
      rl = isEmptyProps(mProps) ? (rc === 0 ? 2 : 3) : 3 + varintSize(mProps) + mProps;
      break;
    }
    case 1:
      rl = measureConnect(p);
      break;
    case 8: { // SUBSCRIBE
      const q = p as SubscribePacket;
      checkPacketId(type, q.packetId);
      mProps = propsSize(type, q.properties);
      rl = 2 + varintSize(mProps) + mProps;
      const filters = q.filters;
      if (!Array.isArray(filters) || filters.length === 0) {
        throw new TypeError("SUBSCRIBE filters must hold at least one filter [MQTT-3.8.3-2]");
      }
      for (let i = 0; i < filters.length; i++) {
        const f = filters[i];
        const field = `filters[${i}]`;
        if (f === null || typeof f !== "object") {
          throw new TypeError(`SUBSCRIBE ${field} must be an object`);
        }
        rl += strSize(type, field + ".topic", f.topic) + 1;
        checkTopicFilter(type, field + ".topic", f.topic);
        checkQoS(type, field + ".qos", f.qos);
        if (f.retainHandling !== undefined) {
          checkInt(type, field + ".retainHandling", f.retainHandling, 0, 2);
        }
        if (f.noLocal && f.topic.startsWith("$share/")) {
          throw new TypeError(
            `SUBSCRIBE ${field}.noLocal must be false on a shared subscription [MQTT-3.8.3-4]`,
          );
        }
      }
      break;
    }
    case 10: { // UNSUBSCRIBE
      const q = p as UnsubscribePacket;
      checkPacketId(type, q.packetId);
      mProps = propsSize(type, q.properties);
      rl = 2 + varintSize(mProps) + mProps;
      const topics = q.topics;
      if (!Array.isArray(topics) || topics.length === 0) {
        throw new TypeError("UNSUBSCRIBE topics must hold at least one filter [MQTT-3.10.3-2]");
      }
      for (let i = 0; i < topics.length; i++) {
        rl += strSize(type, `topics[${i}]`, topics[i]);
        checkTopicFilter(type, `topics[${i}]`, topics[i]);
      }
      break;
    }
    case 12:
    case 13:
      rl = 0;
      break;
    case 14:
    case 15: { // DISCONNECT, AUTH
      const q = p as DisconnectPacket | AuthPacket;
      const rc = checkReasonCode(type, q.reasonCode);
      mProps = propsSize(type, q.properties);
      // Both may be empty for reason 0 without properties; only DISCONNECT may stop
      // after the reason code (§3.14.2.2.1, §3.15.2.1).
      rl = isEmptyProps(mProps) && rc === 0
        ? 0
        : isEmptyProps(mProps) && type === 14
        ? 1
        : 1 + varintSize(mProps) + mProps;
      break;
    }
    default: {
      // CONNACK, SUBACK, UNSUBACK: only a server sends them (_server.ts).
      const x = typeof type === "number" ? SERVER[type] : undefined;
      if (x === undefined) {
        throw new TypeError(
          type === 2 || type === 9 || type === 11
            ? `${PACKET_NAMES[type]} is encoded by the full codec: import @mqttv5/client/wire`
            : `packet type must be 1..15, got ${String(type)}`,
        );
      }
      rl = x.measure(p);
    }
  }
  if (rl > MAX_REMAINING_LENGTH) {
    throw new RangeError(`${PACKET_NAMES[type]} is too large: ${rl} bytes after the fixed header`);
  }
  mRemaining = rl;
  return 1 + varintSize(rl) + rl;
}

function measureConnect(p: ConnectPacket): number {
  const t = 1;
  if (typeof p.cleanStart !== "boolean") {
    throw new TypeError("CONNECT cleanStart must be a boolean");
  }
  checkInt(t, "keepAlive", p.keepAlive, 0, 0xffff);
  mProps = propsSize(t, p.properties);
  // "MQTT" (6) + level (1) + flags (1) + keep alive (2)
  let rl = 10 + varintSize(mProps) + mProps + strSize(t, "clientId", p.clientId);
  const will = p.will;
  if (will !== undefined) {
    if (will === null || typeof will !== "object") {
      throw new TypeError("CONNECT will must be an object");
    }
    checkQoS(t, "will.qos", will.qos);
    rl += strSize(t, "will.topic", will.topic);
    checkTopicName(t, "will.topic", will.topic);
    mWillProps = propsSize(WILL, will.properties);
    rl += varintSize(mWillProps) + mWillProps + binSize(t, "will.payload", will.payload);
  }
  if (p.username !== undefined) rl += strSize(t, "username", p.username);
  if (p.password !== undefined) rl += binSize(t, "password", p.password);
  return rl;
}

// ---------------------------------------------------------------------------
// Writing. Inputs were validated by `measure`; lengths come from the m* slots.

function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

function writeStr(buf: Uint8Array, pos: number, s: string): number {
  const end = writeUtf8(buf, pos + 2, s);
  const n = end - pos - 2;
  buf[pos] = n >> 8;
  buf[pos + 1] = n & 0xff;
  return end;
}

function writeBin(buf: Uint8Array, pos: number, v: Uint8Array): number {
  buf[pos] = v.length >> 8;
  buf[pos + 1] = v.length & 0xff;
  buf.set(v, pos + 2);
  return pos + 2 + v.length;
}

function writeU16(buf: Uint8Array, pos: number, v: number): number {
  buf[pos] = v >> 8;
  buf[pos + 1] = v & 0xff;
  return pos + 2;
}

function writeU32(buf: Uint8Array, pos: number, v: number): number {
  buf[pos] = v >>> 24;
  buf[pos + 1] = (v >>> 16) & 0xff;
  buf[pos + 2] = (v >>> 8) & 0xff;
  buf[pos + 3] = v & 0xff;
  return pos + 4;
}

function writeProps(
  type: number,
  buf: Uint8Array,
  pos: number,
  props: unknown,
  size: number,
): number {
  pos = writeVarint(buf, pos, size);
  if (size === 0) return pos;
  const p = props as Record<string, unknown>;
  const defs = PROPS_FOR[type];
  for (let k = 0; k < defs.length; k++) {
    const d = defs[k];
    const v = p[d.name];
    if (v === undefined) continue;
    switch (d.kind) {
      case K_BYTE:
        buf[pos++] = d.id;
        buf[pos++] = v as number;
        break;
      case K_BOOL:
        buf[pos++] = d.id;
        buf[pos++] = v ? 1 : 0;
        break;
      case K_U16:
        buf[pos++] = d.id;
        pos = writeU16(buf, pos, v as number);
        break;
      case K_U32:
        buf[pos++] = d.id;
        pos = writeU32(buf, pos, v as number);
        break;
      case K_VARINT:
        buf[pos++] = d.id;
        pos = writeVarint(buf, pos, v as number);
        break;
      case K_VARINT_LIST: {
        const list = v as number[];
        for (let i = 0; i < list.length; i++) {
          buf[pos++] = d.id;
          pos = writeVarint(buf, pos, list[i]);
        }
        break;
      }
      case K_STR:
        buf[pos++] = d.id;
        pos = writeStr(buf, pos, v as string);
        break;
      case K_BIN:
        buf[pos++] = d.id;
        pos = writeBin(buf, pos, v as Uint8Array);
        break;
      case K_PAIR: {
        const list = v as [string, string][];
        for (let i = 0; i < list.length; i++) {
          buf[pos++] = d.id;
          pos = writeStr(buf, pos, list[i][0]);
          pos = writeStr(buf, pos, list[i][1]);
        }
        break;
      }
    }
  }
  return pos;
}

/** Writes the measured packet at `buf[pos]`; returns the end position. */
function write(p: Packet, buf: Uint8Array, pos: number): number {
  const type = p.type;
  switch (type) {
    case 3: {
      const qos = p.qos;
      buf[pos++] = 0x30 | (p.dup ? 0x08 : 0) | (qos << 1) | (p.retain ? 0x01 : 0);
      pos = writeVarint(buf, pos, mRemaining);
      pos = writeStr(buf, pos, p.topic);
      if (qos > 0) pos = writeU16(buf, pos, p.packetId as number);
      pos = writeProps(type, buf, pos, p.properties, mProps);
      buf.set(p.payload, pos);
      return pos + p.payload.length;
    }
    case 4:
    case 5:
    case 6:
    case 7: {
      const q = p as PubAckPacketBase<4>;
      buf[pos++] = type === 6 ? 0x62 : type << 4;
      pos = writeVarint(buf, pos, mRemaining);
      pos = writeU16(buf, pos, q.packetId);
      if (mRemaining === 2) return pos;
      buf[pos++] = q.reasonCode ?? 0;
      if (mRemaining === 3) return pos;
      return writeProps(type, buf, pos, q.properties, mProps);
    }
    case 1:
      return writeConnect(p, buf, pos);
    case 8: {
      buf[pos++] = 0x82;
      pos = writeVarint(buf, pos, mRemaining);
      pos = writeU16(buf, pos, p.packetId);
      pos = writeProps(type, buf, pos, p.properties, mProps);
      for (const f of p.filters) {
        pos = writeStr(buf, pos, f.topic);
        buf[pos++] = f.qos | (f.noLocal ? 0x04 : 0) | (f.retainAsPublished ? 0x08 : 0) |
          ((f.retainHandling ?? 0) << 4);
      }
      return pos;
    }
    case 10: {
      buf[pos++] = 0xa2;
      pos = writeVarint(buf, pos, mRemaining);
      pos = writeU16(buf, pos, p.packetId);
      pos = writeProps(type, buf, pos, p.properties, mProps);
      for (const t of p.topics) pos = writeStr(buf, pos, t);
      return pos;
    }
    case 12:
    case 13:
      buf[pos++] = type << 4;
      buf[pos++] = 0;
      return pos;
    case 14:
    case 15: {
      buf[pos++] = type << 4;
      pos = writeVarint(buf, pos, mRemaining);
      if (mRemaining === 0) return pos;
      buf[pos++] = p.reasonCode ?? 0;
      if (mRemaining === 1) return pos;
      return writeProps(type, buf, pos, p.properties, mProps);
    }
  }
  return (SERVER[type] as ServerEncoder).write(p, buf, pos, mRemaining);
}

function writeConnect(p: ConnectPacket, buf: Uint8Array, pos: number): number {
  const will = p.will;
  let flags = p.cleanStart ? 0x02 : 0;
  if (will !== undefined) flags |= 0x04 | (will.qos << 3) | (will.retain ? 0x20 : 0);
  if (p.password !== undefined) flags |= 0x40;
  if (p.username !== undefined) flags |= 0x80;
  buf[pos++] = 0x10;
  pos = writeVarint(buf, pos, mRemaining);
  buf[pos++] = 0;
  buf[pos++] = 4;
  buf[pos++] = 0x4d; // M
  buf[pos++] = 0x51; // Q
  buf[pos++] = 0x54; // T
  buf[pos++] = 0x54; // T
  buf[pos++] = 5; // protocol level
  buf[pos++] = flags;
  pos = writeU16(buf, pos, p.keepAlive);
  pos = writeProps(1, buf, pos, p.properties, mProps);
  pos = writeStr(buf, pos, p.clientId);
  if (will !== undefined) {
    pos = writeProps(WILL, buf, pos, will.properties, mWillProps);
    pos = writeStr(buf, pos, will.topic);
    pos = writeBin(buf, pos, will.payload);
  }
  if (p.username !== undefined) pos = writeStr(buf, pos, p.username);
  if (p.password !== undefined) pos = writeBin(buf, pos, p.password);
  return pos;
}

function constantFor(p: Packet): Uint8Array | undefined {
  const type = p.type;
  if (type === 12) return PINGREQ_BYTES;
  if (type === 13) return PINGRESP_BYTES;
  if (type === 14 && (p.reasonCode ?? 0) === 0 && p.properties === undefined) {
    return DISCONNECT_BYTES;
  }
  return undefined;
}

/**
 * Encodes a packet into one exact-size `Uint8Array` (lengths are computed
 * first, then the bytes written once). PINGREQ, PINGRESP and a DISCONNECT
 * without reason code or properties return shared constants: do not modify them.
 *
 * @param packet The packet to encode.
 * @returns The encoded bytes.
 * @throws {TypeError} When a field has the wrong type or breaks a structural
 * rule of the specification (a wildcard in a topic name, an invalid filter, a
 * lone surrogate or U+0000 in a string); the message names the field.
 * @throws {RangeError} When a number is out of range (packet id 0, QoS 3, a
 * reason code the packet type may not carry, a string over 65535 bytes).
 *
 * @example Encode a QoS 1 PUBLISH
 * ```ts
 * import { encodePacket, PacketType } from "@mqttv5/client/wire";
 *
 * const bytes = encodePacket({
 *   type: PacketType.Publish,
 *   topic: "sensors/room1/temp",
 *   payload: new TextEncoder().encode("21.5"),
 *   qos: 1,
 *   retain: false,
 *   dup: false,
 *   packetId: 7,
 * });
 * console.log(bytes[0].toString(16)); // "32"
 * ```
 */
export function encodePacket(packet: Packet): Uint8Array {
  const c = constantFor(packet);
  if (c !== undefined) return c;
  const total = measure(packet);
  if (total > POOL_MAX) {
    const buf = new Uint8Array(total);
    write(packet, buf, 0);
    return buf;
  }
  // Small packets are exact-size views carved from a shared slab, as Node's
  // Buffer.allocUnsafe does: a fresh ArrayBuffer per packet costs more than
  // encoding it on V8. A full slab is replaced, never reused.
  if (poolOffset + total > POOL_SIZE) {
    pool = new Uint8Array(POOL_SIZE);
    poolOffset = 0;
  }
  const start = poolOffset;
  write(packet, pool, start);
  poolOffset = (start + total + 7) & ~7;
  return pool.subarray(start, start + total);
}

const POOL_SIZE = 16 * 1024;
const POOL_MAX = 2 * 1024;
let pool = new Uint8Array(POOL_SIZE);
let poolOffset = 0;

/**
 * Encodes a packet into `target` at `offset`, for a writer that batches
 * packets in a scratch buffer.
 *
 * @param packet The packet to encode.
 * @param target The buffer to write into.
 * @param offset Where to start writing.
 * @default {0} offset
 * @returns The number of bytes written; or, when `target` lacks room, the
 * negated number of bytes needed (nothing is written then).
 * @throws {TypeError} As {@linkcode encodePacket}.
 * @throws {RangeError} As {@linkcode encodePacket}.
 *
 * @example Batch two packets into one buffer
 * ```ts
 * import { encodePacketInto, PacketType } from "@mqttv5/client/wire";
 *
 * const scratch = new Uint8Array(1024);
 * let used = encodePacketInto({ type: PacketType.Pingreq }, scratch, 0);
 * used += encodePacketInto({ type: PacketType.Puback, packetId: 1 }, scratch, used);
 * console.log(used); // 6
 * ```
 */
export function encodePacketInto(packet: Packet, target: Uint8Array, offset = 0): number {
  const c = constantFor(packet);
  if (c !== undefined) {
    if (offset + c.length > target.length) return -c.length;
    target.set(c, offset);
    return c.length;
  }
  const total = measure(packet);
  if (offset + total > target.length) return -total;
  write(packet, target, offset);
  return total;
}

/**
 * The encoded size of a packet in bytes, fixed header included, after the
 * same validation {@linkcode encodePacket} applies. Use it to check a packet
 * against the broker's Maximum Packet Size before anything is written.
 *
 * @param packet The packet to measure.
 * @returns Its encoded size in bytes.
 * @throws {TypeError} As {@linkcode encodePacket}.
 * @throws {RangeError} As {@linkcode encodePacket}.
 *
 * @example Usage
 * ```ts
 * import { packetLength, PacketType } from "@mqttv5/client/wire";
 * console.log(packetLength({ type: PacketType.Puback, packetId: 1 })); // 4
 * ```
 */
export function packetLength(packet: Packet): number {
  const c = constantFor(packet);
  return c !== undefined ? c.length : measure(packet);
}
