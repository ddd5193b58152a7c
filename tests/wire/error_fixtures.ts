/**
 * Hand-computed invalid inputs for the codec: byte sequences the decoder must
 * reject with `MqttError { code: "protocol-error", reasonCode }`, and packets
 * the encoder must refuse with a `TypeError` or `RangeError`. One case at
 * least for every rule in WIRE_API_NOTES.md ("Decode errors", "Encode
 * errors"); the specification's statement id, or section, is in each name.
 *
 * Each decode case is one complete packet (as announced by its fixed header)
 * unless its name says otherwise; the remaining length always counts the bytes
 * that follow, so only the rule under test is broken.
 *
 * @module
 */

import { PacketType } from "../../src/wire/mod.ts";

/** Malformed Packet. */
const MALFORMED = 0x81;
/** Protocol Error. */
const PROTOCOL = 0x82;
/** Unsupported Protocol Version. */
const UNSUPPORTED_VERSION = 0x84;
/** Packet too large. */
const TOO_LARGE = 0x95;

/** A byte sequence the decoder must reject. */
export interface DecodeErrorCase {
  /** The broken rule and its spec id. */
  name: string;
  /** The bytes; fed whole, and one at a time. */
  bytes: number[];
  /** Expected `MqttError.reasonCode`. */
  reasonCode: number;
  /** Decoder options. */
  options?: { maximumPacketSize?: number };
}

/** A packet the encoder must refuse. */
export interface EncodeErrorCase {
  /** The broken rule. */
  name: string;
  /** The packet, typed loosely on purpose. */
  packet: unknown;
  /** The class of the expected error. */
  error: typeof TypeError | typeof RangeError;
}

/** A minimal CONNECT (remaining length 13) with the given connect flags. */
function connectWithFlags(flags: number): number[] {
  // deno-fmt-ignore
  return [
    0x10, 0x0d, // CONNECT; remaining length 13
    0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
    0x05, // protocol level 5
    flags, // connect flags under test
    0x00, 0x00, // keep alive 0
    0x00, // property length 0
    0x00, 0x00, // client id ""
  ];
}

/** A SUBSCRIBE (remaining length 7) of filter "a" with the given options byte. */
function subscribeWithOptions(options: number): number[] {
  // deno-fmt-ignore
  return [
    0x82, 0x07, // SUBSCRIBE, flags 0010; remaining length 7
    0x00, 0x01, // packet id 1
    0x00, // property length 0
    0x00, 0x01, 0x61, // filter "a"
    options, // subscription options under test
  ];
}

/** Every decode rule of WIRE_API_NOTES.md, at least once. */
export const decodeErrors: DecodeErrorCase[] = [
  // ------------------------------------------------ 0x81 Malformed Packet: fixed header
  {
    name: "packet type 0, which is reserved (§2.1.2)",
    bytes: [0x00, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBREL with fixed-header flags 0000 [MQTT-2.1.3-1] [MQTT-3.6.1-1]",
    bytes: [0x60, 0x02, 0x00, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: "SUBSCRIBE with fixed-header flags 0000 [MQTT-2.1.3-1] [MQTT-3.8.1-1]",
    bytes: [0x80, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "UNSUBSCRIBE with fixed-header flags 0000 [MQTT-2.1.3-1] [MQTT-3.10.1-1]",
    bytes: [0xa0, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61],
    reasonCode: MALFORMED,
  },
  {
    name: "CONNECT with fixed-header flags 0001 [MQTT-2.1.3-1]",
    bytes: [0x11, ...connectWithFlags(0x02).slice(1)],
    reasonCode: MALFORMED,
  },
  {
    name: "CONNACK with fixed-header flags 0001 [MQTT-2.1.3-1]",
    bytes: [0x21, 0x03, 0x00, 0x00, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBACK with fixed-header flags 0010 [MQTT-2.1.3-1]",
    bytes: [0x42, 0x02, 0x00, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBREC with fixed-header flags 0010 [MQTT-2.1.3-1]",
    bytes: [0x52, 0x02, 0x00, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBCOMP with fixed-header flags 0010 [MQTT-2.1.3-1]",
    bytes: [0x72, 0x02, 0x00, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: "SUBACK with fixed-header flags 0010 [MQTT-2.1.3-1]",
    bytes: [0x92, 0x04, 0x00, 0x01, 0x00, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "UNSUBACK with fixed-header flags 0010 [MQTT-2.1.3-1]",
    bytes: [0xb2, 0x04, 0x00, 0x01, 0x00, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "PINGREQ with fixed-header flags 1000 [MQTT-2.1.3-1]",
    bytes: [0xc8, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "PINGRESP with fixed-header flags 0100 [MQTT-2.1.3-1]",
    bytes: [0xd4, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "DISCONNECT with fixed-header flags 0001 [MQTT-2.1.3-1]",
    bytes: [0xe1, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "AUTH with fixed-header flags 0010 [MQTT-2.1.3-1]",
    bytes: [0xf2, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBLISH with QoS 3 [MQTT-3.3.1-4]",
    // deno-fmt-ignore
    bytes: [
      0x36, 0x06, // PUBLISH, QoS bits 11; remaining length 6
      0x00, 0x01, 0x74, // topic "t"
      0x00, 0x01, // packet id 1
      0x00, // property length 0
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBLISH with DUP set at QoS 0 [MQTT-3.3.1-2]",
    // deno-fmt-ignore
    bytes: [
      0x38, 0x04, // PUBLISH, dup, QoS 0; remaining length 4
      0x00, 0x01, 0x74, // topic "t"
      0x00, // property length 0
    ],
    reasonCode: MALFORMED,
  },

  // ------------------------------------------------ 0x81: variable byte integers
  {
    name: "remaining length longer than 4 bytes (§1.5.5) (incomplete packet)",
    bytes: [0x30, 0xff, 0xff, 0xff, 0xff, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: "property length longer than 4 bytes (§1.5.5)",
    // deno-fmt-ignore
    bytes: [
      0x30, 0x08, // PUBLISH; remaining length 8
      0x00, 0x01, 0x74, // topic "t"
      0x80, 0x80, 0x80, 0x80, 0x01, // property length in 5 bytes
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "subscription identifier longer than 4 bytes (§1.5.5)",
    // deno-fmt-ignore
    bytes: [
      0x30, 0x0a, // PUBLISH; remaining length 10
      0x00, 0x01, 0x74, // topic "t"
      0x06, // property length 6
      0x0b, 0x80, 0x80, 0x80, 0x80, 0x01, // subscription identifier in 5 bytes
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "remaining length 0 written as 0x80 0x00 [MQTT-1.5.5-1]",
    bytes: [0xc0, 0x80, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "remaining length 2 written as 0x82 0x00 [MQTT-1.5.5-1]",
    bytes: [0x40, 0x82, 0x00, 0x00, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: "property length 0 written as 0x80 0x00 [MQTT-1.5.5-1]",
    // deno-fmt-ignore
    bytes: [
      0xe0, 0x03, // DISCONNECT; remaining length 3
      0x00, // reason code
      0x80, 0x00, // property length 0, not minimal
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "subscription identifier 1 written as 0x81 0x00 [MQTT-1.5.5-1]",
    // deno-fmt-ignore
    bytes: [
      0x82, 0x0a, // SUBSCRIBE; remaining length 10
      0x00, 0x01, // packet id 1
      0x03, // property length 3
      0x0b, 0x81, 0x00, // subscription identifier 1, not minimal
      0x00, 0x01, 0x61, 0x00, // filter "a", QoS 0
    ],
    reasonCode: MALFORMED,
  },

  // ------------------------------------------------ 0x81: remaining length disagreeing with the fields
  {
    name: "PUBLISH topic length running past the remaining length (§2.1.4)",
    // deno-fmt-ignore
    bytes: [
      0x30, 0x05, // PUBLISH; remaining length 5
      0x00, 0x05, 0x61, 0x2f, 0x62, // topic length 5, only 3 bytes left
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBACK with remaining length 1: truncated packet id (§3.4.2)",
    bytes: [0x40, 0x01, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "CONNACK with remaining length 2: no property length (§3.2.2.3.1)",
    bytes: [0x20, 0x02, 0x00, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "CONNACK with a trailing byte after its properties (§2.1.4)",
    bytes: [0x20, 0x04, 0x00, 0x00, 0x00, 0xff],
    reasonCode: MALFORMED,
  },
  {
    name: "DISCONNECT with a trailing byte after its properties (§2.1.4)",
    bytes: [0xe0, 0x03, 0x00, 0x00, 0xff],
    reasonCode: MALFORMED,
  },
  {
    name: "CONNECT with a trailing byte after the client id (§3.1.3)",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x0e, // CONNECT; remaining length 14
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x00, 0x00, // header, no properties
      0x00, 0x00, // client id ""
      0xff, // trailing byte
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBACK property length running past the end (§2.2.2.1)",
    // deno-fmt-ignore
    bytes: [
      0x40, 0x05, // PUBACK; remaining length 5
      0x00, 0x01, // packet id 1
      0x80, // reason code
      0x05, // property length 5, only 1 byte left
      0x1f,
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "reason string running past the property length (§2.2.2.1)",
    // deno-fmt-ignore
    bytes: [
      0xe0, 0x06, // DISCONNECT; remaining length 6
      0x80, // reason code
      0x04, // property length 4
      0x1f, 0x00, 0x05, 0x61, // reason string of 5 bytes, 1 inside the properties
    ],
    reasonCode: MALFORMED,
  },

  // ------------------------------------------------ 0x81: property identifiers (§2.2.2.2)
  {
    name: "unknown property id 0x04 (§2.2.2.2)",
    bytes: [0xe0, 0x03, 0x00, 0x01, 0x04],
    reasonCode: MALFORMED,
  },
  {
    name: "unknown property id 0x2b (§2.2.2.2)",
    bytes: [0x40, 0x06, 0x00, 0x01, 0x00, 0x02, 0x2b, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBLISH with a session expiry interval, not allowed in PUBLISH (§2.2.2.2)",
    // deno-fmt-ignore
    bytes: [
      0x30, 0x09, // PUBLISH; remaining length 9
      0x00, 0x01, 0x74, // topic "t"
      0x05, 0x11, 0x00, 0x00, 0x00, 0x01, // properties: session expiry interval 1
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "CONNACK with a topic alias, not allowed in CONNACK (§2.2.2.2)",
    bytes: [0x20, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: "SUBSCRIBE with a reason string, not allowed in SUBSCRIBE (§2.2.2.2)",
    // deno-fmt-ignore
    bytes: [
      0x82, 0x0b, // SUBSCRIBE; remaining length 11
      0x00, 0x01, // packet id 1
      0x04, 0x1f, 0x00, 0x01, 0x61, // properties: reason string "a"
      0x00, 0x01, 0x61, 0x00, // filter "a", QoS 0
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBACK with a content type, not allowed in PUBACK (§2.2.2.2)",
    bytes: [0x40, 0x08, 0x00, 0x01, 0x00, 0x04, 0x03, 0x00, 0x01, 0x61],
    reasonCode: MALFORMED,
  },
  {
    name: "SUBACK with a subscription identifier, not allowed in SUBACK (§2.2.2.2)",
    bytes: [0x90, 0x06, 0x00, 0x01, 0x02, 0x0b, 0x01, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "CONNECT properties with a will delay interval, a will property (§2.2.2.2)",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x12, // CONNECT; remaining length 18
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x00, // header up to keep alive
      0x05, 0x18, 0x00, 0x00, 0x00, 0x01, // properties: will delay interval 1
      0x00, 0x00, // client id ""
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "will properties with a session expiry interval, a CONNECT property (§2.2.2.2)",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x18, // CONNECT; remaining length 24
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, // "MQTT", level 5
      0x06, // flags: will, clean start
      0x00, 0x00, 0x00, // keep alive 0, property length 0
      0x00, 0x00, // client id ""
      0x05, 0x11, 0x00, 0x00, 0x00, 0x01, // will properties: session expiry interval 1
      0x00, 0x01, 0x74, // will topic "t"
      0x00, 0x00, // will payload (empty)
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "DISCONNECT with a topic alias, not allowed in DISCONNECT (§2.2.2.2)",
    bytes: [0xe0, 0x05, 0x00, 0x03, 0x23, 0x00, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: "AUTH with a session expiry interval, not allowed in AUTH (§2.2.2.2)",
    bytes: [0xf0, 0x07, 0x18, 0x05, 0x11, 0x00, 0x00, 0x00, 0x01],
    reasonCode: MALFORMED,
  },

  // ------------------------------------------------ 0x81: UTF-8 strings (§1.5.4)
  {
    name: "topic with byte 0xFF, ill-formed UTF-8 [MQTT-1.5.4-1]",
    bytes: [0x30, 0x04, 0x00, 0x01, 0xff, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "topic with an encoded surrogate U+D800 (ED A0 80) [MQTT-1.5.4-1]",
    bytes: [0x30, 0x06, 0x00, 0x03, 0xed, 0xa0, 0x80, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "topic with an encoded surrogate U+DFFF (ED BF BF) [MQTT-1.5.4-1]",
    bytes: [0x30, 0x06, 0x00, 0x03, 0xed, 0xbf, 0xbf, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "topic with an overlong '/' (C0 AF) [MQTT-1.5.4-1]",
    bytes: [0x30, 0x05, 0x00, 0x02, 0xc0, 0xaf, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "topic ending inside a 2-byte sequence (C3) [MQTT-1.5.4-1]",
    bytes: [0x30, 0x04, 0x00, 0x01, 0xc3, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "topic with a code point above U+10FFFF (F4 90 80 80) [MQTT-1.5.4-1]",
    bytes: [0x30, 0x07, 0x00, 0x04, 0xf4, 0x90, 0x80, 0x80, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "user property value with byte 0xFF [MQTT-1.5.4-1]",
    // deno-fmt-ignore
    bytes: [
      0x40, 0x0b, // PUBACK; remaining length 11
      0x00, 0x01, 0x80, // packet id 1, reason code
      0x07, 0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0xff, // user property "a" = <FF>
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "CONNECT client id with byte 0xFE [MQTT-1.5.4-1]",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x0e, // CONNECT; remaining length 14
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x00, 0x00, // header, no properties
      0x00, 0x01, 0xfe, // client id <FE>
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "SUBSCRIBE filter with a lone continuation byte 0x80 [MQTT-1.5.4-1]",
    bytes: [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x80, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "topic containing U+0000 [MQTT-1.5.4-2]",
    bytes: [0x30, 0x05, 0x00, 0x02, 0x61, 0x00, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "reason string containing U+0000 [MQTT-1.5.4-2]",
    bytes: [0xe0, 0x06, 0x80, 0x04, 0x1f, 0x00, 0x01, 0x00],
    reasonCode: MALFORMED,
  },

  // ------------------------------------------------ 0x81: CONNECT flags (§3.1.2.3)
  {
    name: "CONNECT with the reserved flag set [MQTT-3.1.2-3]",
    bytes: connectWithFlags(0x03),
    reasonCode: MALFORMED,
  },
  {
    name: "CONNECT with will QoS 3 [MQTT-3.1.2-12]",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x13, // CONNECT; remaining length 19
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, // "MQTT", level 5
      0x1e, // flags: will QoS 3 (0x18), will, clean start
      0x00, 0x00, 0x00, // keep alive 0, property length 0
      0x00, 0x00, // client id ""
      0x00, // will property length 0
      0x00, 0x01, 0x74, // will topic "t"
      0x00, 0x00, // will payload (empty)
    ],
    reasonCode: MALFORMED,
  },
  {
    name: "CONNECT with will flag 0 and will QoS 1 [MQTT-3.1.2-11]",
    bytes: connectWithFlags(0x0a),
    reasonCode: MALFORMED,
  },
  {
    name: "CONNECT with will flag 0 and will retain [MQTT-3.1.2-13]",
    bytes: connectWithFlags(0x22),
    reasonCode: MALFORMED,
  },
  {
    name: "CONNECT with the password flag and no password (§3.1.3.6)",
    bytes: connectWithFlags(0x42),
    reasonCode: MALFORMED,
  },
  {
    name: "CONNECT with the username flag and no username (§3.1.3.5)",
    bytes: connectWithFlags(0x82),
    reasonCode: MALFORMED,
  },
  {
    name: "CONNECT with the will flag and no will fields (§3.1.3.2)",
    bytes: connectWithFlags(0x06),
    reasonCode: MALFORMED,
  },

  // ------------------------------------------------ 0x81: other reserved bits and bodies
  {
    name: "CONNACK with acknowledge flag bit 1 set [MQTT-3.2.2-1]",
    bytes: [0x20, 0x03, 0x02, 0x00, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "CONNACK with acknowledge flag bit 7 set [MQTT-3.2.2-1]",
    bytes: [0x20, 0x03, 0x80, 0x00, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "SUBSCRIBE options with bit 6 set [MQTT-3.8.3-5]",
    bytes: subscribeWithOptions(0x40),
    reasonCode: MALFORMED,
  },
  {
    name: "SUBSCRIBE options with bit 7 set [MQTT-3.8.3-5]",
    bytes: subscribeWithOptions(0x80),
    reasonCode: MALFORMED,
  },
  {
    name: "PINGREQ with a body (§3.12)",
    bytes: [0xc0, 0x01, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "PINGRESP with a body (§3.13)",
    bytes: [0xd0, 0x01, 0x00],
    reasonCode: MALFORMED,
  },

  // ------------------------------------------------ 0x81: reason codes not valid for the packet type (§2.4)
  {
    name: "CONNACK with reason code 0x04 (§2.4, §3.2.2.2)",
    bytes: [0x20, 0x03, 0x00, 0x04, 0x00],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBACK with reason code 0x81 (§2.4, §3.4.2.1)",
    bytes: [0x40, 0x03, 0x00, 0x01, 0x81],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBREC with reason code 0x92 (§2.4, §3.5.2.1)",
    bytes: [0x50, 0x03, 0x00, 0x01, 0x92],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBREL with reason code 0x10 (§2.4, §3.6.2.1)",
    bytes: [0x62, 0x03, 0x00, 0x01, 0x10],
    reasonCode: MALFORMED,
  },
  {
    name: "PUBCOMP with reason code 0x80 (§2.4, §3.7.2.1)",
    bytes: [0x70, 0x03, 0x00, 0x01, 0x80],
    reasonCode: MALFORMED,
  },
  {
    name: "SUBACK with reason code 0x03 (§2.4, §3.9.3)",
    bytes: [0x90, 0x04, 0x00, 0x01, 0x00, 0x03],
    reasonCode: MALFORMED,
  },
  {
    name: "UNSUBACK with reason code 0x01 (§2.4, §3.11.3)",
    bytes: [0xb0, 0x04, 0x00, 0x01, 0x00, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: "DISCONNECT with reason code 0x01 (§2.4, §3.14.2.1)",
    bytes: [0xe0, 0x01, 0x01],
    reasonCode: MALFORMED,
  },
  {
    name: "AUTH with reason code 0x01 (§2.4, §3.15.2.1)",
    bytes: [0xf0, 0x02, 0x01, 0x00],
    reasonCode: MALFORMED,
  },

  // ------------------------------------------------ 0x82 Protocol Error: repeated properties (§2.2.2.2)
  {
    name: "PUBLISH with the topic alias twice (§3.3.2.3.4)",
    // deno-fmt-ignore
    bytes: [
      0x30, 0x0a, // PUBLISH; remaining length 10
      0x00, 0x01, 0x74, // topic "t"
      0x06, 0x23, 0x00, 0x01, 0x23, 0x00, 0x02, // topic alias 1, topic alias 2
    ],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNACK with the reason string twice (§3.2.2.3.9)",
    // deno-fmt-ignore
    bytes: [
      0x20, 0x0b, // CONNACK; remaining length 11
      0x00, 0x00, // flags, reason code
      0x08, 0x1f, 0x00, 0x01, 0x61, 0x1f, 0x00, 0x01, 0x62, // reason string "a", "b"
    ],
    reasonCode: PROTOCOL,
  },
  {
    name: "SUBSCRIBE with the subscription identifier twice (§3.8.2.1.2)",
    // deno-fmt-ignore
    bytes: [
      0x82, 0x0b, // SUBSCRIBE; remaining length 11
      0x00, 0x01, // packet id 1
      0x04, 0x0b, 0x01, 0x0b, 0x02, // subscription identifier 1, then 2
      0x00, 0x01, 0x61, 0x00, // filter "a", QoS 0
    ],
    reasonCode: PROTOCOL,
  },
  {
    name: "will properties with the will delay interval twice (§3.1.3.2.2)",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x1d, // CONNECT; remaining length 29
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, // "MQTT", level 5
      0x06, // flags: will, clean start
      0x00, 0x00, 0x00, // keep alive 0, property length 0
      0x00, 0x00, // client id ""
      0x0a, 0x18, 0x00, 0x00, 0x00, 0x01, 0x18, 0x00, 0x00, 0x00, 0x02, // will delay 1, then 2
      0x00, 0x01, 0x74, // will topic "t"
      0x00, 0x00, // will payload (empty)
    ],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNECT with the session expiry interval twice (§3.1.2.11.2)",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x17, // CONNECT; remaining length 23
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x00, // header up to keep alive
      0x0a, 0x11, 0x00, 0x00, 0x00, 0x01, 0x11, 0x00, 0x00, 0x00, 0x02, // session expiry 1, then 2
      0x00, 0x00, // client id ""
    ],
    reasonCode: PROTOCOL,
  },

  // ------------------------------------------------ 0x82: packet identifiers (§2.2.1)
  {
    name: "PUBLISH QoS 1 with packet id 0 [MQTT-2.2.1-3]",
    bytes: [0x32, 0x06, 0x00, 0x01, 0x74, 0x00, 0x00, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "PUBLISH QoS 2 with packet id 0 [MQTT-2.2.1-3]",
    bytes: [0x34, 0x06, 0x00, 0x01, 0x74, 0x00, 0x00, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "SUBSCRIBE with packet id 0 [MQTT-2.2.1-3]",
    bytes: [0x82, 0x07, 0x00, 0x00, 0x00, 0x00, 0x01, 0x61, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "UNSUBSCRIBE with packet id 0 [MQTT-2.2.1-3]",
    bytes: [0xa2, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01, 0x61],
    reasonCode: PROTOCOL,
  },
  {
    name: "PUBACK with packet id 0 [MQTT-2.2.1-5]",
    bytes: [0x40, 0x02, 0x00, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "PUBREL with packet id 0 [MQTT-2.2.1-5]",
    bytes: [0x62, 0x02, 0x00, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "SUBACK with packet id 0 [MQTT-2.2.1-6]",
    bytes: [0x90, 0x04, 0x00, 0x00, 0x00, 0x00],
    reasonCode: PROTOCOL,
  },

  // ------------------------------------------------ 0x82: PUBLISH topics and aliases
  {
    name: "PUBLISH topic with '+' [MQTT-3.3.2-2]",
    bytes: [0x30, 0x06, 0x00, 0x03, 0x61, 0x2f, 0x2b, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "PUBLISH topic '#' [MQTT-3.3.2-2]",
    bytes: [0x30, 0x04, 0x00, 0x01, 0x23, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "PUBLISH with an empty topic and no topic alias (§3.3.2.3.4)",
    bytes: [0x30, 0x03, 0x00, 0x00, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    // §3.3.2.3.4: a Topic Alias of 0 is a Protocol Error answered with 0x94 (Topic Alias invalid).
    name: "PUBLISH with topic alias 0 [MQTT-3.3.2-8]",
    bytes: [0x30, 0x07, 0x00, 0x01, 0x74, 0x03, 0x23, 0x00, 0x00],
    reasonCode: 0x94,
  },

  // ------------------------------------------------ 0x82: property values out of range
  {
    name: "PUBLISH with subscription identifier 0 (§3.3.2.3.8)",
    bytes: [0x30, 0x06, 0x00, 0x01, 0x74, 0x02, 0x0b, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "SUBSCRIBE with subscription identifier 0 (§3.8.2.1.2)",
    bytes: [0x82, 0x09, 0x00, 0x01, 0x02, 0x0b, 0x00, 0x00, 0x01, 0x61, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNACK with receive maximum 0 (§3.2.2.3.3)",
    bytes: [0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNECT with receive maximum 0 (§3.1.2.11.3)",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x10, // CONNECT; remaining length 16
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x00, // header up to keep alive
      0x03, 0x21, 0x00, 0x00, // properties: receive maximum 0
      0x00, 0x00, // client id ""
    ],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNACK with maximum packet size 0 (§3.2.2.3.6)",
    bytes: [0x20, 0x08, 0x00, 0x00, 0x05, 0x27, 0x00, 0x00, 0x00, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNECT with maximum packet size 0 (§3.1.2.11.4)",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x12, // CONNECT; remaining length 18
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x00, // header up to keep alive
      0x05, 0x27, 0x00, 0x00, 0x00, 0x00, // properties: maximum packet size 0
      0x00, 0x00, // client id ""
    ],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNACK with retain available 2 (§3.2.2.3.5)",
    bytes: [0x20, 0x05, 0x00, 0x00, 0x02, 0x25, 0x02],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNACK with maximum QoS 2 (§3.2.2.3.4)",
    bytes: [0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNACK with wildcard subscription available 2 (§3.2.2.3.11)",
    bytes: [0x20, 0x05, 0x00, 0x00, 0x02, 0x28, 0x02],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNACK with subscription identifiers available 0xFF (§3.2.2.3.12)",
    bytes: [0x20, 0x05, 0x00, 0x00, 0x02, 0x29, 0xff],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNACK with shared subscription available 2 (§3.2.2.3.13)",
    bytes: [0x20, 0x05, 0x00, 0x00, 0x02, 0x2a, 0x02],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNECT with request problem information 2 (§3.1.2.11.7)",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x0f, // CONNECT; remaining length 15
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x00, // header up to keep alive
      0x02, 0x17, 0x02, // properties: request problem information 2
      0x00, 0x00, // client id ""
    ],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNECT with request response information 2 (§3.1.2.11.6)",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x0f, // CONNECT; remaining length 15
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x00, // header up to keep alive
      0x02, 0x19, 0x02, // properties: request response information 2
      0x00, 0x00, // client id ""
    ],
    reasonCode: PROTOCOL,
  },
  {
    name: "PUBLISH with payload format indicator 2 (§3.3.2.3.2)",
    bytes: [0x30, 0x06, 0x00, 0x01, 0x74, 0x02, 0x01, 0x02],
    reasonCode: PROTOCOL,
  },
  {
    name: "will properties with payload format indicator 2 (§3.1.3.2.3)",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x15, // CONNECT; remaining length 21
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, // "MQTT", level 5
      0x06, // flags: will, clean start
      0x00, 0x00, 0x00, // keep alive 0, property length 0
      0x00, 0x00, // client id ""
      0x02, 0x01, 0x02, // will properties: payload format indicator 2
      0x00, 0x01, 0x74, // will topic "t"
      0x00, 0x00, // will payload (empty)
    ],
    reasonCode: PROTOCOL,
  },

  // ------------------------------------------------ 0x82: SUBSCRIBE / UNSUBSCRIBE payloads
  {
    name: "SUBSCRIBE options with retain handling 3 (§3.8.3.1)",
    bytes: subscribeWithOptions(0x30),
    reasonCode: PROTOCOL,
  },
  {
    // §3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3."
    // (WIRE_API_NOTES.md lists this under Malformed Packet; the spec text says Protocol Error.)
    name: "SUBSCRIBE options with maximum QoS 3 (§3.8.3.1)",
    bytes: subscribeWithOptions(0x03),
    reasonCode: PROTOCOL,
  },
  {
    name: "SUBSCRIBE without a filter [MQTT-3.8.3-2]",
    bytes: [0x82, 0x03, 0x00, 0x01, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "UNSUBSCRIBE without a filter [MQTT-3.10.3-2]",
    bytes: [0xa2, 0x03, 0x00, 0x01, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "SUBSCRIBE filter 'a/#/b' [MQTT-4.7.1-1]",
    // deno-fmt-ignore
    bytes: [
      0x82, 0x0b, 0x00, 0x01, 0x00, // SUBSCRIBE; remaining length 11; packet id 1; no properties
      0x00, 0x05, 0x61, 0x2f, 0x23, 0x2f, 0x62, 0x00, // filter "a/#/b", QoS 0
    ],
    reasonCode: PROTOCOL,
  },
  {
    name: "SUBSCRIBE filter 'a#' [MQTT-4.7.1-1]",
    bytes: [0x82, 0x08, 0x00, 0x01, 0x00, 0x00, 0x02, 0x61, 0x23, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "SUBSCRIBE filter 'a+' [MQTT-4.7.1-2]",
    bytes: [0x82, 0x08, 0x00, 0x01, 0x00, 0x00, 0x02, 0x61, 0x2b, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "UNSUBSCRIBE filter 'a/b+' [MQTT-4.7.1-2]",
    // deno-fmt-ignore
    bytes: [
      0xa2, 0x09, 0x00, 0x01, 0x00, // UNSUBSCRIBE; remaining length 9; packet id 1; no properties
      0x00, 0x04, 0x61, 0x2f, 0x62, 0x2b, // filter "a/b+"
    ],
    reasonCode: PROTOCOL,
  },
  {
    name: "SUBSCRIBE with an empty filter [MQTT-4.7.3-1]",
    bytes: [0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "SUBSCRIBE filter '$share//a', an empty share name [MQTT-4.8.2-1]",
    // deno-fmt-ignore
    bytes: [
      0x82, 0x0f, 0x00, 0x01, 0x00, // SUBSCRIBE; remaining length 15; packet id 1; no properties
      0x00, 0x09, 0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2f, 0x2f, 0x61, // "$share//a"
      0x00, // QoS 0
    ],
    reasonCode: PROTOCOL,
  },
  {
    name: "SUBSCRIBE filter '$share/g+/a', a wildcard in the share name [MQTT-4.8.2-2]",
    // deno-fmt-ignore
    bytes: [
      0x82, 0x11, 0x00, 0x01, 0x00, // SUBSCRIBE; remaining length 17; packet id 1; no properties
      0x00, 0x0b, 0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2f, 0x67, 0x2b, 0x2f, 0x61, // "$share/g+/a"
      0x00, // QoS 0
    ],
    reasonCode: PROTOCOL,
  },
  {
    name: "SUBSCRIBE filter '$share/g' without a topic filter [MQTT-4.8.2-2]",
    // deno-fmt-ignore
    bytes: [
      0x82, 0x0e, 0x00, 0x01, 0x00, // SUBSCRIBE; remaining length 14; packet id 1; no properties
      0x00, 0x08, 0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2f, 0x67, // "$share/g"
      0x00, // QoS 0
    ],
    reasonCode: PROTOCOL,
  },
  {
    name: "SUBSCRIBE with no local on a shared subscription [MQTT-3.8.3-4]",
    // deno-fmt-ignore
    bytes: [
      0x82, 0x10, 0x00, 0x01, 0x00, // SUBSCRIBE; remaining length 16; packet id 1; no properties
      0x00, 0x0a, 0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2f, 0x67, 0x2f, 0x61, // "$share/g/a"
      0x04, // options: QoS 0, no local
    ],
    reasonCode: PROTOCOL,
  },

  // ------------------------------------------------ 0x82: CONNACK and CONNECT
  {
    name: "CONNACK with session present and reason code 0x80 [MQTT-3.2.2-6]",
    bytes: [0x20, 0x03, 0x01, 0x80, 0x00],
    reasonCode: PROTOCOL,
  },
  {
    name: "CONNECT with protocol name 'MQTX' [MQTT-3.1.2-1]",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x0d, // CONNECT; remaining length 13
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x58, // protocol name "MQTX"
      0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, // level 5, clean start, keep alive 0, no properties, ""
    ],
    reasonCode: PROTOCOL,
  },

  // ------------------------------------------------ 0x84 Unsupported Protocol Version
  {
    name: "CONNECT of MQTT 3.1.1 (protocol level 4) [MQTT-3.1.2-2]",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x0c, // CONNECT; remaining length 12
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x04, // protocol level 4
      0x02, 0x00, 0x3c, // clean session, keep alive 60 (no properties in 3.1.1)
      0x00, 0x00, // client id ""
    ],
    reasonCode: UNSUPPORTED_VERSION,
  },
  {
    name: "CONNECT with protocol level 6 [MQTT-3.1.2-2]",
    // deno-fmt-ignore
    bytes: [
      0x10, 0x0d, // CONNECT; remaining length 13
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x06, // protocol level 6
      0x02, 0x00, 0x00, 0x00, 0x00, 0x00, // clean start, keep alive 0, property length 0, client id ""
    ],
    reasonCode: UNSUPPORTED_VERSION,
  },

  // ------------------------------------------------ 0x95 Packet too large (§3.1.2.11.4, §3.2.2.3.6)
  {
    name: "PUBLISH of 11 bytes with maximumPacketSize 10",
    // deno-fmt-ignore
    bytes: [
      0x30, 0x09, // PUBLISH; remaining length 9: 2 + 9 = 11 bytes in all
      0x00, 0x01, 0x74, 0x00, // topic "t", property length 0
      0x61, 0x62, 0x63, 0x64, 0x65, // payload "abcde"
    ],
    reasonCode: TOO_LARGE,
    options: { maximumPacketSize: 10 },
  },
  {
    name: "PUBLISH of 131 bytes (2-byte remaining length) with maximumPacketSize 130",
    // deno-fmt-ignore
    bytes: [
      0x30, 0x80, 0x01, // PUBLISH; remaining length 128: 3 + 128 = 131 bytes in all
      0x00, 0x01, 0x74, 0x00, // topic "t", property length 0
      ...new Array<number>(124).fill(0x61), // payload
    ],
    reasonCode: TOO_LARGE,
    options: { maximumPacketSize: 130 },
  },
  {
    name: "PUBACK (4 bytes) with maximumPacketSize 3",
    bytes: [0x40, 0x02, 0x00, 0x01], // PUBACK; remaining length 2; packet id 1
    reasonCode: TOO_LARGE,
    options: { maximumPacketSize: 3 },
  },
];

const payload = new Uint8Array([0x61]);
/** A valid QoS 0 PUBLISH to "t", to break one field at a time. */
const publish = {
  type: PacketType.Publish,
  topic: "t",
  payload,
  qos: 0,
  retain: false,
  dup: false,
};
/** A valid CONNECT, to break one field at a time. */
const connect = { type: PacketType.Connect, clientId: "c", cleanStart: true, keepAlive: 60 };

/** Every encode rule of WIRE_API_NOTES.md, at least once. */
export const encodeErrors: EncodeErrorCase[] = [
  // ------------------------------------------------ TypeError: wrong type or structure
  {
    name: "PUBLISH with a non-string topic",
    packet: { ...publish, topic: 42 },
    error: TypeError,
  },
  {
    name: "PUBLISH topic with '+' [MQTT-3.3.2-2]",
    packet: { ...publish, topic: "a/+" },
    error: TypeError,
  },
  {
    name: "PUBLISH topic with '#' [MQTT-3.3.2-2]",
    packet: { ...publish, topic: "a/#" },
    error: TypeError,
  },
  {
    name: "PUBLISH topic with a lone high surrogate [MQTT-1.5.4-1]",
    packet: { ...publish, topic: "a\ud800" },
    error: TypeError,
  },
  {
    name: "PUBLISH topic with a lone low surrogate [MQTT-1.5.4-1]",
    packet: { ...publish, topic: "\udc00b" },
    error: TypeError,
  },
  {
    name: "PUBLISH topic containing U+0000 [MQTT-1.5.4-2]",
    packet: { ...publish, topic: "a\u0000" },
    error: TypeError,
  },
  {
    name: "PUBLISH user property with a lone surrogate [MQTT-1.5.4-1]",
    packet: { ...publish, properties: { userProperties: [["k", "\ud83d"]] } },
    error: TypeError,
  },
  {
    name: "PUBLISH without a payload",
    packet: { type: PacketType.Publish, topic: "t", qos: 0, retain: false, dup: false },
    error: TypeError,
  },
  {
    name: "CONNECT client id containing U+0000 [MQTT-1.5.4-2]",
    packet: { ...connect, clientId: "a\u0000b" },
    error: TypeError,
  },
  {
    name: "CONNECT will topic with a wildcard (§3.1.3.3, §4.7.1)",
    packet: {
      ...connect,
      will: { topic: "w/+", payload, qos: 0, retain: false },
    },
    error: TypeError,
  },
  {
    name: "SUBSCRIBE with no filter [MQTT-3.8.3-2]",
    packet: { type: PacketType.Subscribe, packetId: 1, filters: [] },
    error: TypeError,
  },
  {
    name: "SUBSCRIBE filter 'a/#/b' [MQTT-4.7.1-1]",
    packet: { type: PacketType.Subscribe, packetId: 1, filters: [{ topic: "a/#/b", qos: 0 }] },
    error: TypeError,
  },
  {
    name: "SUBSCRIBE filter 'a+' [MQTT-4.7.1-2]",
    packet: { type: PacketType.Subscribe, packetId: 1, filters: [{ topic: "a+", qos: 0 }] },
    error: TypeError,
  },
  {
    name: "SUBSCRIBE filter '$share//a' [MQTT-4.8.2-1]",
    packet: { type: PacketType.Subscribe, packetId: 1, filters: [{ topic: "$share//a", qos: 0 }] },
    error: TypeError,
  },
  {
    name: "SUBSCRIBE with an empty filter [MQTT-4.7.3-1]",
    packet: { type: PacketType.Subscribe, packetId: 1, filters: [{ topic: "", qos: 0 }] },
    error: TypeError,
  },
  {
    name: "UNSUBSCRIBE with no filter [MQTT-3.10.3-2]",
    packet: { type: PacketType.Unsubscribe, packetId: 1, topics: [] },
    error: TypeError,
  },
  {
    name: "UNSUBSCRIBE filter 'a/b#' [MQTT-4.7.1-1]",
    packet: { type: PacketType.Unsubscribe, packetId: 1, topics: ["a/b#"] },
    error: TypeError,
  },

  // ------------------------------------------------ RangeError: numbers out of range
  {
    name: "PUBLISH QoS 1 with packet id 0 [MQTT-2.2.1-3]",
    packet: { ...publish, qos: 1, packetId: 0 },
    error: RangeError,
  },
  {
    name: "PUBLISH QoS 1 with packet id 65536",
    packet: { ...publish, qos: 1, packetId: 65536 },
    error: RangeError,
  },
  {
    name: "PUBACK with packet id 0 [MQTT-2.2.1-5]",
    packet: { type: PacketType.Puback, packetId: 0 },
    error: RangeError,
  },
  {
    name: "PUBREL with packet id 65536",
    packet: { type: PacketType.Pubrel, packetId: 65536 },
    error: RangeError,
  },
  {
    name: "SUBSCRIBE with packet id 0 [MQTT-2.2.1-3]",
    packet: { type: PacketType.Subscribe, packetId: 0, filters: [{ topic: "a", qos: 0 }] },
    error: RangeError,
  },
  {
    name: "UNSUBSCRIBE with packet id 70000",
    packet: { type: PacketType.Unsubscribe, packetId: 70000, topics: ["a"] },
    error: RangeError,
  },
  {
    name: "PUBLISH with QoS 3 [MQTT-3.3.1-4]",
    packet: { ...publish, qos: 3, packetId: 1 },
    error: RangeError,
  },
  {
    name: "CONNECT will with QoS 3 [MQTT-3.1.2-12]",
    packet: { ...connect, will: { topic: "w", payload, qos: 3, retain: false } },
    error: RangeError,
  },
  {
    name: "SUBSCRIBE filter with QoS 3 (§3.8.3.1)",
    packet: { type: PacketType.Subscribe, packetId: 1, filters: [{ topic: "a", qos: 3 }] },
    error: RangeError,
  },
  {
    name: "SUBSCRIBE filter with retain handling 3 (§3.8.3.1)",
    packet: {
      type: PacketType.Subscribe,
      packetId: 1,
      filters: [{ topic: "a", qos: 0, retainHandling: 3 }],
    },
    error: RangeError,
  },
  {
    name: "CONNECT with keepAlive 65536 (§3.1.2.10)",
    packet: { ...connect, keepAlive: 65536 },
    error: RangeError,
  },
  {
    name: "CONNECT with keepAlive -1 (§3.1.2.10)",
    packet: { ...connect, keepAlive: -1 },
    error: RangeError,
  },
  {
    name: "SUBSCRIBE with subscription identifier 268435456 (> largest varint, §1.5.5)",
    packet: {
      type: PacketType.Subscribe,
      packetId: 1,
      filters: [{ topic: "a", qos: 0 }],
      properties: { subscriptionIdentifier: 268435456 },
    },
    error: RangeError,
  },
  {
    name: "SUBSCRIBE with subscription identifier 0 (§3.8.2.1.2)",
    packet: {
      type: PacketType.Subscribe,
      packetId: 1,
      filters: [{ topic: "a", qos: 0 }],
      properties: { subscriptionIdentifier: 0 },
    },
    error: RangeError,
  },
  {
    name: "PUBLISH with a remaining length over 268435455 (§1.5.5)",
    // A getter: the 256 MiB payload is allocated only when the case runs.
    get packet() {
      return { ...publish, payload: new Uint8Array(268435456) };
    },
    error: RangeError,
  },
  {
    name: "PUBLISH topic of 65536 UTF-8 bytes (§1.5.4)",
    packet: { ...publish, topic: "a".repeat(65536) },
    error: RangeError,
  },
  {
    name: "PUBLISH topic of 21846 '€' (65538 UTF-8 bytes, 21846 UTF-16 units) (§1.5.4)",
    packet: { ...publish, topic: "€".repeat(21846) },
    error: RangeError,
  },
  {
    name: "CONNECT password of 65536 bytes (§1.5.6)",
    packet: { ...connect, password: new Uint8Array(65536) },
    error: RangeError,
  },
  {
    name: "CONNECT will payload of 65536 bytes (§3.1.3.4)",
    packet: {
      ...connect,
      will: { topic: "w", payload: new Uint8Array(65536), qos: 0, retain: false },
    },
    error: RangeError,
  },
  {
    name: "CONNACK with reason code 0x04 (§3.2.2.2)",
    packet: { type: PacketType.Connack, sessionPresent: false, reasonCode: 0x04 },
    error: RangeError,
  },
  {
    name: "PUBACK with reason code 0x81 (§3.4.2.1)",
    packet: { type: PacketType.Puback, packetId: 1, reasonCode: 0x81 },
    error: RangeError,
  },
  {
    name: "PUBREL with reason code 0x10 (§3.6.2.1)",
    packet: { type: PacketType.Pubrel, packetId: 1, reasonCode: 0x10 },
    error: RangeError,
  },
  {
    name: "SUBACK with reason code 0x03 (§3.9.3)",
    packet: { type: PacketType.Suback, packetId: 1, reasonCodes: [0x03] },
    error: RangeError,
  },
  {
    name: "UNSUBACK with reason code 0x01 (§3.11.3)",
    packet: { type: PacketType.Unsuback, packetId: 1, reasonCodes: [0x01] },
    error: RangeError,
  },
  {
    name: "DISCONNECT with reason code 0x01 (§3.14.2.1)",
    packet: { type: PacketType.Disconnect, reasonCode: 0x01 },
    error: RangeError,
  },
  {
    name: "AUTH with reason code 0x01 (§3.15.2.1)",
    packet: { type: PacketType.Auth, reasonCode: 0x01 },
    error: RangeError,
  },
  {
    name: "PUBLISH with topic alias 0 [MQTT-3.3.2-8]",
    packet: { ...publish, properties: { topicAlias: 0 } },
    error: RangeError,
  },
  {
    name: "PUBLISH with topic alias 65536 (§3.3.2.3.4)",
    packet: { ...publish, properties: { topicAlias: 65536 } },
    error: RangeError,
  },
  {
    name: "PUBLISH with message expiry interval 2^32 (§3.3.2.3.3)",
    packet: { ...publish, properties: { messageExpiryInterval: 2 ** 32 } },
    error: RangeError,
  },
  {
    name: "CONNECT with receive maximum 0 (§3.1.2.11.3)",
    packet: { ...connect, properties: { receiveMaximum: 0 } },
    error: RangeError,
  },
  {
    name: "CONNECT with receive maximum 65536 (§3.1.2.11.3)",
    packet: { ...connect, properties: { receiveMaximum: 65536 } },
    error: RangeError,
  },
  {
    name: "CONNECT with maximum packet size 0 (§3.1.2.11.4)",
    packet: { ...connect, properties: { maximumPacketSize: 0 } },
    error: RangeError,
  },
  {
    name: "CONNECT with session expiry interval -1 (§3.1.2.11.2)",
    packet: { ...connect, properties: { sessionExpiryInterval: -1 } },
    error: RangeError,
  },
  {
    name: "CONNECT will delay interval 2^32 (§3.1.3.2.2)",
    packet: {
      ...connect,
      will: {
        topic: "w",
        payload,
        qos: 0,
        retain: false,
        properties: { willDelayInterval: 2 ** 32 },
      },
    },
    error: RangeError,
  },
  {
    name: "CONNACK with server keep alive 65536 (§3.2.2.3.14)",
    packet: {
      type: PacketType.Connack,
      sessionPresent: false,
      reasonCode: 0,
      properties: { serverKeepAlive: 65536 },
    },
    error: RangeError,
  },
];
