/**
 * The server's side of the codec: encoding CONNACK, SUBACK and UNSUBACK, and
 * decoding CONNECT, SUBSCRIBE and UNSUBSCRIBE, the packets only a server sends
 * or receives. Importing this module registers them into `encode.ts` and
 * `decode.ts`; the public entry (`mod.ts`) imports it, so `@mqttv5/client/wire`
 * always encodes and decodes every packet type. The client imports
 * `encode.ts` and `decode.ts` directly and leaves this module out of its
 * bundle: it never sends these packets, and refuses them from a broker
 * whether they are decoded or not (see `decode.ts`).
 *
 * Tests and tools that build server packets import `mod.ts` (or this module).
 *
 * @module
 */

import { splitSharedFilter, topicFilterShapeError } from "../topic/validate.ts";
import { PACKET_NAMES, WILL } from "./_properties.ts";
import { registerServerDecoder, serverReader } from "./decode.ts";
import { registerServerEncoder, serverWriter } from "./encode.ts";
import type {
  ConnackPacket,
  Packet,
  QoS,
  SubackPacket,
  SubscribeFilter,
  UnsubackPacket,
  WillMessage,
} from "./types.ts";

const MALFORMED = 0x81;
const PROTOCOL = 0x82;
const UNSUPPORTED_VERSION = 0x84;

const { varintSize, checkPacketId, checkReasonCode, propsSize, writeVarint, writeU16, writeProps } =
  serverWriter();
const { u8, u16, str, bin, props, packetId, more, fail } = serverReader();

// ---------------------------------------------------------------------------
// Encoding. `measure` keeps the property length for `write` in this slot
// (encoding is synchronous, never reentrant: `write` follows its `measure`).

let sProps = 0;

registerServerEncoder(2, {
  measure(p: Packet): number {
    const q = p as ConnackPacket;
    const rc = checkReasonCode(2, q.reasonCode);
    if (q.sessionPresent && rc !== 0) {
      throw new TypeError(
        "CONNACK sessionPresent must be false with a non-zero reasonCode [MQTT-3.2.2-6]",
      );
    }
    sProps = propsSize(2, q.properties);
    return 2 + varintSize(sProps) + sProps;
  },
  write(p: Packet, buf: Uint8Array, pos: number, remaining: number): number {
    const q = p as ConnackPacket;
    buf[pos++] = 0x20;
    pos = writeVarint(buf, pos, remaining);
    buf[pos++] = q.sessionPresent ? 1 : 0;
    buf[pos++] = q.reasonCode ?? 0;
    return writeProps(2, buf, pos, q.properties, sProps);
  },
});

const ackEncoder = {
  measure(p: Packet): number {
    const q = p as SubackPacket | UnsubackPacket;
    const type = q.type;
    checkPacketId(type, q.packetId);
    sProps = propsSize(type, q.properties);
    const codes = q.reasonCodes;
    if (!Array.isArray(codes) || codes.length === 0) {
      throw new TypeError(`${PACKET_NAMES[type]} reasonCodes must hold at least one code`);
    }
    for (let i = 0; i < codes.length; i++) {
      if (codes[i] === undefined) {
        throw new TypeError(`${PACKET_NAMES[type]} reasonCodes[${i}] is missing`);
      }
      checkReasonCode(type, codes[i]);
    }
    return 2 + varintSize(sProps) + sProps + codes.length;
  },
  write(p: Packet, buf: Uint8Array, pos: number, remaining: number): number {
    const q = p as SubackPacket | UnsubackPacket;
    buf[pos++] = q.type << 4;
    pos = writeVarint(buf, pos, remaining);
    pos = writeU16(buf, pos, q.packetId);
    pos = writeProps(q.type, buf, pos, q.properties, sProps);
    for (const rc of q.reasonCodes) buf[pos++] = rc;
    return pos;
  },
};
registerServerEncoder(9, ackEncoder);
registerServerEncoder(11, ackEncoder);

// ---------------------------------------------------------------------------
// Decoding, with the body readers of decode.ts (it checks the length after).

registerServerDecoder(1, (): Packet => {
  const name = str("protocol name");
  if (name !== "MQTT") fail(PROTOCOL, `CONNECT protocol name must be "MQTT" [MQTT-3.1.2-1]`);
  const level = u8();
  if (level !== 5) {
    fail(UNSUPPORTED_VERSION, `CONNECT protocol level ${level} is not 5 [MQTT-3.1.2-2]`);
  }
  const flags = u8();
  if (flags & 0x01) fail(MALFORMED, "CONNECT reserved flag must be 0 [MQTT-3.1.2-3]");
  const willFlag = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  if (!willFlag && (willQos !== 0 || willRetain)) {
    fail(
      MALFORMED,
      "CONNECT will QoS and retain must be 0 without a will [MQTT-3.1.2-11] [MQTT-3.1.2-13]",
    );
  }
  if (willQos === 3) fail(MALFORMED, "CONNECT will QoS must not be 3 [MQTT-3.1.2-12]");
  const keepAlive = u16();
  const properties = props(1);
  const clientId = str("clientId");
  const out: Record<string, unknown> = {
    type: 1,
    clientId,
    cleanStart: (flags & 0x02) !== 0,
    keepAlive,
    properties,
  };
  if (willFlag) {
    const wp = props(WILL);
    const topic = str("will topic");
    if (topic.length === 0 || topic.includes("+") || topic.includes("#")) {
      fail(PROTOCOL, "CONNECT will topic must be a valid topic name [MQTT-3.1.3-11]");
    }
    const payload = bin();
    const will: WillMessage = {
      topic,
      payload,
      qos: willQos as QoS,
      retain: willRetain,
      properties: wp,
    };
    out.will = will;
  }
  if (flags & 0x80) out.username = str("username");
  if (flags & 0x40) out.password = bin();
  return out as unknown as Packet;
});

registerServerDecoder(8, (): Packet => {
  const id = packetId();
  const properties = props(8);
  const filters: SubscribeFilter[] = [];
  while (more()) {
    const topic = str("topic filter");
    const opts = u8();
    if (opts & 0xc0) fail(MALFORMED, "SUBSCRIBE options bits 7-6 must be 0 [MQTT-3.8.3-5]");
    const qos = opts & 3;
    if (qos === 3) fail(PROTOCOL, "SUBSCRIBE maximum QoS must not be 3 (§3.8.3.1)");
    const retainHandling = (opts >> 4) & 3;
    if (retainHandling === 3) {
      fail(PROTOCOL, "SUBSCRIBE retain handling must not be 3 (§3.8.3.1)");
    }
    const err = topicFilterShapeError(topic);
    if (err !== undefined) {
      fail(PROTOCOL, `SUBSCRIBE topic filter "${topic}": ${err} [MQTT-4.7.1-1]`);
    }
    const noLocal = (opts & 0x04) !== 0;
    if (noLocal && splitSharedFilter(topic) !== undefined) {
      fail(PROTOCOL, "SUBSCRIBE no local on a shared subscription [MQTT-3.8.3-4]");
    }
    filters.push({
      topic,
      qos: qos as QoS,
      noLocal,
      retainAsPublished: (opts & 0x08) !== 0,
      retainHandling: retainHandling as 0 | 1 | 2,
    });
  }
  if (filters.length === 0) {
    fail(PROTOCOL, "SUBSCRIBE must hold at least one filter [MQTT-3.8.3-2]");
  }
  return { type: 8, packetId: id, filters, properties };
});

registerServerDecoder(10, (): Packet => {
  const id = packetId();
  const properties = props(10);
  const topics: string[] = [];
  while (more()) {
    const topic = str("topic filter");
    const err = topicFilterShapeError(topic);
    if (err !== undefined) {
      fail(PROTOCOL, `UNSUBSCRIBE topic filter "${topic}": ${err} [MQTT-4.7.1-1]`);
    }
    topics.push(topic);
  }
  if (topics.length === 0) {
    fail(PROTOCOL, "UNSUBSCRIBE must hold at least one filter [MQTT-3.10.3-2]");
  }
  return { type: 10, packetId: id, topics, properties };
});
