/**
 * Hand-computed MQTT v5 packets beside their bytes: the independent oracle for
 * the codec in `src/wire`. Every byte below was worked out from the OASIS MQTT
 * Version 5.0 specification (7 March 2019), never produced by the codec.
 *
 * Conventions of the encoded form (WIRE_API_NOTES.md, "Encoded form"):
 * properties in ascending identifier order, user properties (0x26) at their
 * identifier's position in array order, subscription identifiers (0x0B) in
 * array order, minimal variable byte integers, PUBACK/PUBREC/PUBREL/PUBCOMP
 * with remaining length 2 / 3 / full, DISCONNECT and AUTH with 0 / 1 / full.
 *
 * `decoded` is the normalized packet {@linkcode PacketDecoder} returns when it
 * differs from `packet` ("Decoded shape" in WIRE_API_NOTES.md).
 *
 * @module
 */

import { type Packet, PacketType } from "../../src/wire/mod.ts";

/** One packet and its exact encoding. */
export interface Fixture {
  /** What the fixture shows; used in test names. */
  name: string;
  /** The packet as a user hands it to the encoder. */
  packet: Packet;
  /** Its encoding, byte by byte. */
  bytes: number[];
  /** The packet the decoder returns, when it differs from `packet`. */
  decoded?: Packet;
}

/** A valid encoding the encoder never produces, with the packet it decodes to. */
export interface DecodeOnlyFixture {
  /** What the fixture shows; used in test names. */
  name: string;
  /** A valid, non-canonical encoding. */
  bytes: number[];
  /** The normalized packet the decoder returns. */
  decoded: Packet;
}

/** The packet the decoder returns for `f`: `f.decoded ?? f.packet`. */
export function normalized(f: Fixture): Packet {
  return f.decoded ?? f.packet;
}

const utf8 = new TextEncoder();

/** The UTF-8 bytes of `text` (payloads only; strings in fields are written by hand). */
export function bytes(text: string): Uint8Array {
  return utf8.encode(text);
}

/** `n` payload bytes counting 0x00, 0x01, ... 0xff, 0x00, ... */
export function fill(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = i & 0xff;
  return out;
}

/** All 36 combinations of subscription options (§3.8.3.1), as [qos, noLocal, rap, rh]. */
const OPTION_COMBINATIONS: [0 | 1 | 2, boolean, boolean, 0 | 1 | 2][] = [];
for (const qos of [0, 1, 2] as const) {
  for (const noLocal of [false, true]) {
    for (const rap of [false, true]) {
      for (const rh of [0, 1, 2] as const) OPTION_COMBINATIONS.push([qos, noLocal, rap, rh]);
    }
  }
}

/** Every valid packet fixture, in a fixed order. */
export const fixtures: Fixture[] = [
  // ---------------------------------------------------------------- CONNECT (§3.1)
  {
    name: "CONNECT with an empty client id, keepAlive 0 and clean start",
    packet: { type: PacketType.Connect, clientId: "", cleanStart: true, keepAlive: 0 },
    // deno-fmt-ignore
    bytes: [
      0x10, 0x0d, // CONNECT; remaining length 13
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x05, // protocol level 5
      0x02, // connect flags: clean start
      0x00, 0x00, // keep alive 0
      0x00, // property length 0
      0x00, 0x00, // client id ""
    ],
    decoded: {
      type: PacketType.Connect,
      clientId: "",
      cleanStart: true,
      keepAlive: 0,
      properties: {},
    },
  },
  {
    name: "CONNECT with a username only and keepAlive 65535",
    packet: {
      type: PacketType.Connect,
      clientId: "c1",
      cleanStart: false,
      keepAlive: 65535,
      username: "u",
    },
    // deno-fmt-ignore
    bytes: [
      0x10, 0x12, // CONNECT; remaining length 18
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x05, // protocol level 5
      0x80, // connect flags: username
      0xff, 0xff, // keep alive 65535
      0x00, // property length 0
      0x00, 0x02, 0x63, 0x31, // client id "c1"
      0x00, 0x01, 0x75, // username "u"
    ],
    decoded: {
      type: PacketType.Connect,
      clientId: "c1",
      cleanStart: false,
      keepAlive: 65535,
      username: "u",
      properties: {},
    },
  },
  {
    name: "CONNECT with a username and a password",
    packet: {
      type: PacketType.Connect,
      clientId: "client",
      cleanStart: true,
      keepAlive: 60,
      username: "user",
      password: bytes("pass"),
      properties: {},
    },
    // deno-fmt-ignore
    bytes: [
      0x10, 0x1f, // CONNECT; remaining length 31
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x05, // protocol level 5
      0xc2, // connect flags: username, password, clean start
      0x00, 0x3c, // keep alive 60
      0x00, // property length 0
      0x00, 0x06, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, // client id "client"
      0x00, 0x04, 0x75, 0x73, 0x65, 0x72, // username "user"
      0x00, 0x04, 0x70, 0x61, 0x73, 0x73, // password "pass"
    ],
  },
  {
    name: "CONNECT with a binary password and no username (allowed in v5, §3.1.2.9)",
    packet: {
      type: PacketType.Connect,
      clientId: "p",
      cleanStart: true,
      keepAlive: 10,
      password: new Uint8Array([0x00, 0xff, 0x01]),
    },
    // deno-fmt-ignore
    bytes: [
      0x10, 0x13, // CONNECT; remaining length 19
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x05, // protocol level 5
      0x42, // connect flags: password, clean start
      0x00, 0x0a, // keep alive 10
      0x00, // property length 0
      0x00, 0x01, 0x70, // client id "p"
      0x00, 0x03, 0x00, 0xff, 0x01, // password (binary data, 3 bytes)
    ],
    decoded: {
      type: PacketType.Connect,
      clientId: "p",
      cleanStart: true,
      keepAlive: 10,
      password: new Uint8Array([0x00, 0xff, 0x01]),
      properties: {},
    },
  },
  {
    name: "CONNECT with every CONNECT property",
    packet: {
      type: PacketType.Connect,
      clientId: "id",
      cleanStart: true,
      keepAlive: 30,
      properties: {
        sessionExpiryInterval: 0xffffffff,
        receiveMaximum: 20,
        maximumPacketSize: 1048576,
        topicAliasMaximum: 10,
        requestResponseInformation: true,
        requestProblemInformation: false,
        userProperties: [["a", "1"], ["a", "2"]],
        authenticationMethod: "scram",
        authenticationData: new Uint8Array([1, 2, 3]),
      },
    },
    // deno-fmt-ignore
    bytes: [
      0x10, 0x3f, // CONNECT; remaining length 63
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x05, // protocol level 5
      0x02, // connect flags: clean start
      0x00, 0x1e, // keep alive 30
      0x30, // property length 48
      0x11, 0xff, 0xff, 0xff, 0xff, // session expiry interval 0xFFFFFFFF
      0x15, 0x00, 0x05, 0x73, 0x63, 0x72, 0x61, 0x6d, // authentication method "scram"
      0x16, 0x00, 0x03, 0x01, 0x02, 0x03, // authentication data [1, 2, 3]
      0x17, 0x00, // request problem information 0 (false)
      0x19, 0x01, // request response information 1 (true)
      0x21, 0x00, 0x14, // receive maximum 20
      0x22, 0x00, 0x0a, // topic alias maximum 10
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x31, // user property "a" = "1"
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x32, // user property "a" = "2"
      0x27, 0x00, 0x10, 0x00, 0x00, // maximum packet size 1048576
      0x00, 0x02, 0x69, 0x64, // client id "id"
    ],
  },
  {
    name: "CONNECT with a QoS 2 retained will carrying every will property",
    packet: {
      type: PacketType.Connect,
      clientId: "w",
      cleanStart: false,
      keepAlive: 10,
      will: {
        topic: "last/will",
        payload: bytes("bye"),
        qos: 2,
        retain: true,
        properties: {
          willDelayInterval: 5,
          payloadFormatIndicator: 1,
          messageExpiryInterval: 120,
          contentType: "text/plain",
          responseTopic: "resp",
          correlationData: new Uint8Array([0xde, 0xad]),
          userProperties: [["k", "v"]],
        },
      },
    },
    // deno-fmt-ignore
    bytes: [
      0x10, 0x4b, // CONNECT; remaining length 75
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x05, // protocol level 5
      0x34, // connect flags: will retain 0x20, will QoS 2 (0x10), will 0x04
      0x00, 0x0a, // keep alive 10
      0x00, // property length 0
      0x00, 0x01, 0x77, // client id "w"
      0x2c, // will property length 44
      0x01, 0x01, // payload format indicator 1
      0x02, 0x00, 0x00, 0x00, 0x78, // message expiry interval 120
      0x03, 0x00, 0x0a, 0x74, 0x65, 0x78, 0x74, 0x2f, 0x70, 0x6c, 0x61, 0x69, 0x6e, // content type "text/plain"
      0x08, 0x00, 0x04, 0x72, 0x65, 0x73, 0x70, // response topic "resp"
      0x09, 0x00, 0x02, 0xde, 0xad, // correlation data [0xde, 0xad]
      0x18, 0x00, 0x00, 0x00, 0x05, // will delay interval 5
      0x26, 0x00, 0x01, 0x6b, 0x00, 0x01, 0x76, // user property "k" = "v"
      0x00, 0x09, 0x6c, 0x61, 0x73, 0x74, 0x2f, 0x77, 0x69, 0x6c, 0x6c, // will topic "last/will"
      0x00, 0x03, 0x62, 0x79, 0x65, // will payload "bye"
    ],
    decoded: {
      type: PacketType.Connect,
      clientId: "w",
      cleanStart: false,
      keepAlive: 10,
      will: {
        topic: "last/will",
        payload: bytes("bye"),
        qos: 2,
        retain: true,
        properties: {
          willDelayInterval: 5,
          payloadFormatIndicator: 1,
          messageExpiryInterval: 120,
          contentType: "text/plain",
          responseTopic: "resp",
          correlationData: new Uint8Array([0xde, 0xad]),
          userProperties: [["k", "v"]],
        },
      },
      properties: {},
    },
  },
  {
    name:
      "CONNECT with a QoS 1 will on a non-ASCII topic, empty will payload, UTF-8 username, empty password",
    packet: {
      type: PacketType.Connect,
      clientId: "x",
      cleanStart: true,
      keepAlive: 60,
      will: { topic: "température/α", payload: new Uint8Array(0), qos: 1, retain: false },
      username: "ü",
      password: new Uint8Array(0),
    },
    // deno-fmt-ignore
    bytes: [
      0x10, 0x28, // CONNECT; remaining length 40
      0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, // protocol name "MQTT"
      0x05, // protocol level 5
      0xce, // connect flags: username 0x80, password 0x40, will QoS 1 (0x08), will 0x04, clean start 0x02
      0x00, 0x3c, // keep alive 60
      0x00, // property length 0
      0x00, 0x01, 0x78, // client id "x"
      0x00, // will property length 0
      0x00, 0x0f, // will topic length 15
      0x74, 0x65, 0x6d, 0x70, // "temp"
      0xc3, 0xa9, // "é" U+00E9
      0x72, 0x61, 0x74, 0x75, 0x72, 0x65, 0x2f, // "rature/"
      0xce, 0xb1, // "α" U+03B1
      0x00, 0x00, // will payload (empty)
      0x00, 0x02, 0xc3, 0xbc, // username "ü" U+00FC
      0x00, 0x00, // password (empty)
    ],
    decoded: {
      type: PacketType.Connect,
      clientId: "x",
      cleanStart: true,
      keepAlive: 60,
      will: {
        topic: "température/α",
        payload: new Uint8Array(0),
        qos: 1,
        retain: false,
        properties: {},
      },
      username: "ü",
      password: new Uint8Array(0),
      properties: {},
    },
  },

  // ---------------------------------------------------------------- CONNACK (§3.2)
  {
    name: "CONNACK success without properties",
    packet: { type: PacketType.Connack, sessionPresent: false, reasonCode: 0x00 },
    // deno-fmt-ignore
    bytes: [
      0x20, 0x03, // CONNACK; remaining length 3
      0x00, // acknowledge flags: no session present
      0x00, // reason code Success
      0x00, // property length 0
    ],
    decoded: {
      type: PacketType.Connack,
      sessionPresent: false,
      reasonCode: 0x00,
      properties: {},
    },
  },
  {
    name: "CONNACK with session present",
    packet: { type: PacketType.Connack, sessionPresent: true, reasonCode: 0x00, properties: {} },
    // deno-fmt-ignore
    bytes: [
      0x20, 0x03, // CONNACK; remaining length 3
      0x01, // acknowledge flags: session present
      0x00, // reason code Success
      0x00, // property length 0
    ],
  },
  {
    name: "CONNACK refusing with Not authorized",
    packet: { type: PacketType.Connack, sessionPresent: false, reasonCode: 0x87 },
    // deno-fmt-ignore
    bytes: [
      0x20, 0x03, // CONNACK; remaining length 3
      0x00, // acknowledge flags
      0x87, // reason code Not authorized
      0x00, // property length 0
    ],
    decoded: {
      type: PacketType.Connack,
      sessionPresent: false,
      reasonCode: 0x87,
      properties: {},
    },
  },
  {
    name: "CONNACK with Use another server and a server reference",
    packet: {
      type: PacketType.Connack,
      sessionPresent: false,
      reasonCode: 0x9c,
      properties: { serverReference: "other" },
    },
    // deno-fmt-ignore
    bytes: [
      0x20, 0x0b, // CONNACK; remaining length 11
      0x00, // acknowledge flags
      0x9c, // reason code Use another server
      0x08, // property length 8
      0x1c, 0x00, 0x05, 0x6f, 0x74, 0x68, 0x65, 0x72, // server reference "other"
    ],
  },
  {
    name: "CONNACK with all 17 CONNACK properties",
    packet: {
      type: PacketType.Connack,
      sessionPresent: false,
      reasonCode: 0x00,
      properties: {
        sessionExpiryInterval: 7200,
        receiveMaximum: 65535,
        maximumQoS: 1,
        retainAvailable: false,
        maximumPacketSize: 65536,
        assignedClientIdentifier: "auto-1",
        topicAliasMaximum: 16,
        reasonString: "ok",
        userProperties: [["x", "y"]],
        wildcardSubscriptionAvailable: true,
        subscriptionIdentifiersAvailable: false,
        sharedSubscriptionAvailable: true,
        serverKeepAlive: 120,
        responseInformation: "ri/",
        serverReference: "b:1",
        authenticationMethod: "tok",
        authenticationData: new Uint8Array([0x00, 0xff]),
      },
    },
    // deno-fmt-ignore
    bytes: [
      0x20, 0x4c, // CONNACK; remaining length 76
      0x00, // acknowledge flags
      0x00, // reason code Success
      0x49, // property length 73
      0x11, 0x00, 0x00, 0x1c, 0x20, // session expiry interval 7200
      0x12, 0x00, 0x06, 0x61, 0x75, 0x74, 0x6f, 0x2d, 0x31, // assigned client identifier "auto-1"
      0x13, 0x00, 0x78, // server keep alive 120
      0x15, 0x00, 0x03, 0x74, 0x6f, 0x6b, // authentication method "tok"
      0x16, 0x00, 0x02, 0x00, 0xff, // authentication data [0x00, 0xff]
      0x1a, 0x00, 0x03, 0x72, 0x69, 0x2f, // response information "ri/"
      0x1c, 0x00, 0x03, 0x62, 0x3a, 0x31, // server reference "b:1"
      0x1f, 0x00, 0x02, 0x6f, 0x6b, // reason string "ok"
      0x21, 0xff, 0xff, // receive maximum 65535
      0x22, 0x00, 0x10, // topic alias maximum 16
      0x24, 0x01, // maximum QoS 1
      0x25, 0x00, // retain available 0 (false)
      0x26, 0x00, 0x01, 0x78, 0x00, 0x01, 0x79, // user property "x" = "y"
      0x27, 0x00, 0x01, 0x00, 0x00, // maximum packet size 65536
      0x28, 0x01, // wildcard subscription available 1
      0x29, 0x00, // subscription identifiers available 0
      0x2a, 0x01, // shared subscription available 1
    ],
  },

  // ---------------------------------------------------------------- PUBLISH (§3.3)
  {
    name: "PUBLISH QoS 0",
    packet: {
      type: PacketType.Publish,
      topic: "a/b",
      payload: bytes("hi"),
      qos: 0,
      retain: false,
      dup: false,
    },
    // deno-fmt-ignore
    bytes: [
      0x30, 0x08, // PUBLISH, QoS 0; remaining length 8
      0x00, 0x03, 0x61, 0x2f, 0x62, // topic "a/b"
      0x00, // property length 0 (no packet id at QoS 0)
      0x68, 0x69, // payload "hi"
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "a/b",
      payload: bytes("hi"),
      qos: 0,
      retain: false,
      dup: false,
      packetId: 0,
      properties: {},
    },
  },
  {
    name: "PUBLISH QoS 0 retained with an empty payload and packetId 0",
    packet: {
      type: PacketType.Publish,
      topic: "t",
      payload: new Uint8Array(0),
      qos: 0,
      retain: true,
      dup: false,
      packetId: 0,
    },
    // deno-fmt-ignore
    bytes: [
      0x31, 0x04, // PUBLISH, QoS 0, retain; remaining length 4
      0x00, 0x01, 0x74, // topic "t"
      0x00, // property length 0; no payload
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "t",
      payload: new Uint8Array(0),
      qos: 0,
      retain: true,
      dup: false,
      packetId: 0,
      properties: {},
    },
  },
  {
    name: "PUBLISH QoS 1 with topic alias",
    packet: {
      type: PacketType.Publish,
      topic: "a/b",
      payload: bytes("hi"),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 10,
      properties: { topicAlias: 3 },
    },
    // deno-fmt-ignore
    bytes: [
      0x32, 0x0d, // PUBLISH, QoS 1; remaining length 13
      0x00, 0x03, 0x61, 0x2f, 0x62, // topic "a/b"
      0x00, 0x0a, // packet id 10
      0x03, // property length 3
      0x23, 0x00, 0x03, // topic alias 3
      0x68, 0x69, // payload "hi"
    ],
  },
  {
    name: "PUBLISH QoS 1 with dup and retain",
    packet: {
      type: PacketType.Publish,
      topic: "r",
      payload: bytes("x"),
      qos: 1,
      retain: true,
      dup: true,
      packetId: 1,
    },
    // deno-fmt-ignore
    bytes: [
      0x3b, // PUBLISH, dup 0x08, QoS 1 (0x02), retain 0x01
      0x07, // remaining length 7
      0x00, 0x01, 0x72, // topic "r"
      0x00, 0x01, // packet id 1
      0x00, // property length 0
      0x78, // payload "x"
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "r",
      payload: bytes("x"),
      qos: 1,
      retain: true,
      dup: true,
      packetId: 1,
      properties: {},
    },
  },
  {
    name: "PUBLISH QoS 2 with dup and packet id 65535",
    packet: {
      type: PacketType.Publish,
      topic: "q/2",
      payload: new Uint8Array([0x00, 0x01, 0xff]),
      qos: 2,
      retain: false,
      dup: true,
      packetId: 65535,
    },
    // deno-fmt-ignore
    bytes: [
      0x3c, // PUBLISH, dup 0x08, QoS 2 (0x04)
      0x0b, // remaining length 11
      0x00, 0x03, 0x71, 0x2f, 0x32, // topic "q/2"
      0xff, 0xff, // packet id 65535
      0x00, // property length 0
      0x00, 0x01, 0xff, // payload (binary)
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "q/2",
      payload: new Uint8Array([0x00, 0x01, 0xff]),
      qos: 2,
      retain: false,
      dup: true,
      packetId: 65535,
      properties: {},
    },
  },
  {
    name: "PUBLISH QoS 2 retained with an empty payload",
    packet: {
      type: PacketType.Publish,
      topic: "t",
      payload: new Uint8Array(0),
      qos: 2,
      retain: true,
      dup: false,
      packetId: 2,
      properties: {},
    },
    // deno-fmt-ignore
    bytes: [
      0x35, // PUBLISH, QoS 2 (0x04), retain 0x01
      0x06, // remaining length 6
      0x00, 0x01, 0x74, // topic "t"
      0x00, 0x02, // packet id 2
      0x00, // property length 0; no payload
    ],
  },
  {
    name:
      "PUBLISH with all 8 PUBLISH properties, two subscription identifiers, repeated user properties",
    packet: {
      type: PacketType.Publish,
      topic: "s/t",
      payload: bytes("{}"),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 0x1234,
      properties: {
        payloadFormatIndicator: 1,
        messageExpiryInterval: 3600,
        topicAlias: 5,
        responseTopic: "reply",
        correlationData: new Uint8Array([1, 2, 3, 4]),
        contentType: "application/json",
        userProperties: [["a", "b"], ["a", "c"]],
        subscriptionIdentifiers: [268435455, 128],
      },
    },
    // deno-fmt-ignore
    bytes: [
      0x32, 0x4c, // PUBLISH, QoS 1; remaining length 76
      0x00, 0x03, 0x73, 0x2f, 0x74, // topic "s/t"
      0x12, 0x34, // packet id 0x1234
      0x42, // property length 66
      0x01, 0x01, // payload format indicator 1
      0x02, 0x00, 0x00, 0x0e, 0x10, // message expiry interval 3600
      0x03, 0x00, 0x10, // content type, 16 bytes:
      0x61, 0x70, 0x70, 0x6c, 0x69, 0x63, 0x61, 0x74, 0x69, 0x6f, 0x6e, // "application"
      0x2f, 0x6a, 0x73, 0x6f, 0x6e, // "/json"
      0x08, 0x00, 0x05, 0x72, 0x65, 0x70, 0x6c, 0x79, // response topic "reply"
      0x09, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04, // correlation data [1, 2, 3, 4]
      0x0b, 0xff, 0xff, 0xff, 0x7f, // subscription identifier 268435455 (4-byte varint)
      0x0b, 0x80, 0x01, // subscription identifier 128 (2-byte varint)
      0x23, 0x00, 0x05, // topic alias 5
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b"
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x63, // user property "a" = "c"
      0x7b, 0x7d, // payload "{}"
    ],
  },
  {
    name: "PUBLISH with an empty topic and a topic alias",
    packet: {
      type: PacketType.Publish,
      topic: "",
      payload: bytes("p"),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 7 },
    },
    // deno-fmt-ignore
    bytes: [
      0x30, 0x07, // PUBLISH, QoS 0; remaining length 7
      0x00, 0x00, // topic "" (the alias stands in)
      0x03, // property length 3
      0x23, 0x00, 0x07, // topic alias 7
      0x70, // payload "p"
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "",
      payload: bytes("p"),
      qos: 0,
      retain: false,
      dup: false,
      packetId: 0,
      properties: { topicAlias: 7 },
    },
  },
  {
    name: "PUBLISH with a non-ASCII topic and an emoji user property",
    packet: {
      type: PacketType.Publish,
      topic: "température/α",
      payload: bytes("😀"),
      qos: 0,
      retain: false,
      dup: false,
      properties: { userProperties: [["emoji", "😀"]] },
    },
    // deno-fmt-ignore
    bytes: [
      0x30, 0x24, // PUBLISH, QoS 0; remaining length 36
      0x00, 0x0f, // topic length 15
      0x74, 0x65, 0x6d, 0x70, 0xc3, 0xa9, // "temp", "é" U+00E9
      0x72, 0x61, 0x74, 0x75, 0x72, 0x65, 0x2f, 0xce, 0xb1, // "rature/", "α" U+03B1
      0x0e, // property length 14
      0x26, // user property
      0x00, 0x05, 0x65, 0x6d, 0x6f, 0x6a, 0x69, // name "emoji"
      0x00, 0x04, 0xf0, 0x9f, 0x98, 0x80, // value "😀" U+1F600 (a surrogate pair in UTF-16)
      0xf0, 0x9f, 0x98, 0x80, // payload: the UTF-8 bytes of "😀"
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "température/α",
      payload: bytes("😀"),
      qos: 0,
      retain: false,
      dup: false,
      packetId: 0,
      properties: { userProperties: [["emoji", "😀"]] },
    },
  },
  {
    name: "PUBLISH to an emoji topic",
    packet: {
      type: PacketType.Publish,
      topic: "😀/🚀",
      payload: new Uint8Array(0),
      qos: 0,
      retain: false,
      dup: false,
    },
    // deno-fmt-ignore
    bytes: [
      0x30, 0x0c, // PUBLISH, QoS 0; remaining length 12
      0x00, 0x09, // topic length 9
      0xf0, 0x9f, 0x98, 0x80, // "😀" U+1F600
      0x2f, // "/"
      0xf0, 0x9f, 0x9a, 0x80, // "🚀" U+1F680
      0x00, // property length 0; empty payload
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "😀/🚀",
      payload: new Uint8Array(0),
      qos: 0,
      retain: false,
      dup: false,
      packetId: 0,
      properties: {},
    },
  },
  {
    name: "PUBLISH with remaining length 127 (largest 1-byte varint)",
    packet: {
      type: PacketType.Publish,
      topic: "t",
      payload: fill(123),
      qos: 0,
      retain: false,
      dup: false,
    },
    // deno-fmt-ignore
    bytes: [
      0x30, 0x7f, // PUBLISH, QoS 0; remaining length 127
      0x00, 0x01, 0x74, // topic "t"
      0x00, // property length 0
      ...fill(123), // payload 0x00 .. 0x7a
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "t",
      payload: fill(123),
      qos: 0,
      retain: false,
      dup: false,
      packetId: 0,
      properties: {},
    },
  },
  {
    name: "PUBLISH with remaining length 128 (smallest 2-byte varint)",
    packet: {
      type: PacketType.Publish,
      topic: "t",
      payload: fill(124),
      qos: 0,
      retain: false,
      dup: false,
    },
    // deno-fmt-ignore
    bytes: [
      0x30, 0x80, 0x01, // PUBLISH, QoS 0; remaining length 128 = 0 + 1 * 128
      0x00, 0x01, 0x74, // topic "t"
      0x00, // property length 0
      ...fill(124), // payload 0x00 .. 0x7b
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "t",
      payload: fill(124),
      qos: 0,
      retain: false,
      dup: false,
      packetId: 0,
      properties: {},
    },
  },
  {
    name: "PUBLISH with a 200-byte payload (2-byte remaining length)",
    packet: {
      type: PacketType.Publish,
      topic: "t",
      payload: fill(200),
      qos: 0,
      retain: false,
      dup: false,
    },
    // deno-fmt-ignore
    bytes: [
      0x30, 0xcc, 0x01, // PUBLISH, QoS 0; remaining length 204 = 0x4c + 1 * 128
      0x00, 0x01, 0x74, // topic "t"
      0x00, // property length 0
      ...fill(200), // payload 0x00 .. 0xc7
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "t",
      payload: fill(200),
      qos: 0,
      retain: false,
      dup: false,
      packetId: 0,
      properties: {},
    },
  },
  {
    name: "PUBLISH with remaining length 16383 (largest 2-byte varint)",
    packet: {
      type: PacketType.Publish,
      topic: "t",
      payload: fill(16379),
      qos: 0,
      retain: false,
      dup: false,
    },
    // deno-fmt-ignore
    bytes: [
      0x30, 0xff, 0x7f, // PUBLISH, QoS 0; remaining length 16383 = 0x7f + 0x7f * 128
      0x00, 0x01, 0x74, // topic "t"
      0x00, // property length 0
      ...fill(16379), // payload
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "t",
      payload: fill(16379),
      qos: 0,
      retain: false,
      dup: false,
      packetId: 0,
      properties: {},
    },
  },
  {
    name: "PUBLISH with remaining length 16384 (smallest 3-byte varint)",
    packet: {
      type: PacketType.Publish,
      topic: "t",
      payload: fill(16380),
      qos: 0,
      retain: false,
      dup: false,
    },
    // deno-fmt-ignore
    bytes: [
      0x30, 0x80, 0x80, 0x01, // PUBLISH, QoS 0; remaining length 16384 = 1 * 128 * 128
      0x00, 0x01, 0x74, // topic "t"
      0x00, // property length 0
      ...fill(16380), // payload
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "t",
      payload: fill(16380),
      qos: 0,
      retain: false,
      dup: false,
      packetId: 0,
      properties: {},
    },
  },
  {
    name: "PUBLISH QoS 1 with a 20000-byte payload (3-byte remaining length)",
    packet: {
      type: PacketType.Publish,
      topic: "t",
      payload: fill(20000),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 1,
    },
    // deno-fmt-ignore
    bytes: [
      0x32, 0xa6, 0x9c, 0x01, // PUBLISH, QoS 1; remaining length 20006 = 38 + 28 * 128 + 1 * 16384
      0x00, 0x01, 0x74, // topic "t"
      0x00, 0x01, // packet id 1
      0x00, // property length 0
      ...fill(20000), // payload
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "t",
      payload: fill(20000),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 1,
      properties: {},
    },
  },

  // ---------------------------------------------------------------- PUBACK (§3.4)
  {
    name: "PUBACK short form (remaining length 2)",
    packet: { type: PacketType.Puback, packetId: 1 },
    // deno-fmt-ignore
    bytes: [
      0x40, 0x02, // PUBACK; remaining length 2
      0x00, 0x01, // packet id 1; reason code 0 and no properties omitted
    ],
    decoded: { type: PacketType.Puback, packetId: 1, reasonCode: 0x00, properties: {} },
  },
  {
    name: "PUBACK short form from an explicit reason code 0 and empty properties",
    packet: { type: PacketType.Puback, packetId: 4, reasonCode: 0x00, properties: {} },
    // deno-fmt-ignore
    bytes: [
      0x40, 0x02, // PUBACK; remaining length 2
      0x00, 0x04, // packet id 4
    ],
  },
  {
    name: "PUBACK with a reason code only (remaining length 3)",
    packet: { type: PacketType.Puback, packetId: 2, reasonCode: 0x10 },
    // deno-fmt-ignore
    bytes: [
      0x40, 0x03, // PUBACK; remaining length 3
      0x00, 0x02, // packet id 2
      0x10, // reason code No matching subscribers; property length omitted
    ],
    decoded: { type: PacketType.Puback, packetId: 2, reasonCode: 0x10, properties: {} },
  },
  {
    name: "PUBACK with a reason string and a user property",
    packet: {
      type: PacketType.Puback,
      packetId: 3,
      reasonCode: 0x87,
      properties: { reasonString: "denied", userProperties: [["a", "b"]] },
    },
    // deno-fmt-ignore
    bytes: [
      0x40, 0x14, // PUBACK; remaining length 20
      0x00, 0x03, // packet id 3
      0x87, // reason code Not authorized
      0x10, // property length 16
      0x1f, 0x00, 0x06, 0x64, 0x65, 0x6e, 0x69, 0x65, 0x64, // reason string "denied"
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b"
    ],
  },

  // ---------------------------------------------------------------- PUBREC (§3.5)
  {
    name: "PUBREC short form (remaining length 2) with packet id 65535",
    packet: { type: PacketType.Pubrec, packetId: 65535 },
    // deno-fmt-ignore
    bytes: [
      0x50, 0x02, // PUBREC; remaining length 2
      0xff, 0xff, // packet id 65535
    ],
    decoded: { type: PacketType.Pubrec, packetId: 65535, reasonCode: 0x00, properties: {} },
  },
  {
    name: "PUBREC with a reason code only (remaining length 3)",
    packet: { type: PacketType.Pubrec, packetId: 6, reasonCode: 0x97 },
    // deno-fmt-ignore
    bytes: [
      0x50, 0x03, // PUBREC; remaining length 3
      0x00, 0x06, // packet id 6
      0x97, // reason code Quota exceeded
    ],
    decoded: { type: PacketType.Pubrec, packetId: 6, reasonCode: 0x97, properties: {} },
  },
  {
    name: "PUBREC with a reason code and an empty user property list (remaining length 3)",
    packet: {
      type: PacketType.Pubrec,
      packetId: 8,
      reasonCode: 0x80,
      properties: { userProperties: [] },
    },
    // deno-fmt-ignore
    bytes: [
      0x50, 0x03, // PUBREC; remaining length 3
      0x00, 0x08, // packet id 8
      0x80, // reason code Unspecified error; empty arrays count as no properties
    ],
    decoded: { type: PacketType.Pubrec, packetId: 8, reasonCode: 0x80, properties: {} },
  },
  {
    name: "PUBREC with a reason string and two user properties",
    packet: {
      type: PacketType.Pubrec,
      packetId: 7,
      reasonCode: 0x10,
      properties: { reasonString: "no subs", userProperties: [["a", "b"], ["c", "d"]] },
    },
    // deno-fmt-ignore
    bytes: [
      0x50, 0x1c, // PUBREC; remaining length 28
      0x00, 0x07, // packet id 7
      0x10, // reason code No matching subscribers
      0x18, // property length 24
      0x1f, 0x00, 0x07, 0x6e, 0x6f, 0x20, 0x73, 0x75, 0x62, 0x73, // reason string "no subs"
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b"
      0x26, 0x00, 0x01, 0x63, 0x00, 0x01, 0x64, // user property "c" = "d"
    ],
  },

  // ---------------------------------------------------------------- PUBREL (§3.6)
  {
    name: "PUBREL short form (remaining length 2)",
    packet: { type: PacketType.Pubrel, packetId: 9 },
    // deno-fmt-ignore
    bytes: [
      0x62, 0x02, // PUBREL, fixed-header flags 0010; remaining length 2
      0x00, 0x09, // packet id 9
    ],
    decoded: { type: PacketType.Pubrel, packetId: 9, reasonCode: 0x00, properties: {} },
  },
  {
    name: "PUBREL with a reason code only (remaining length 3)",
    packet: { type: PacketType.Pubrel, packetId: 10, reasonCode: 0x92 },
    // deno-fmt-ignore
    bytes: [
      0x62, 0x03, // PUBREL, flags 0010; remaining length 3
      0x00, 0x0a, // packet id 10
      0x92, // reason code Packet Identifier not found
    ],
    decoded: { type: PacketType.Pubrel, packetId: 10, reasonCode: 0x92, properties: {} },
  },
  {
    name: "PUBREL with a reason string and a user property",
    packet: {
      type: PacketType.Pubrel,
      packetId: 11,
      reasonCode: 0x92,
      properties: { reasonString: "lost", userProperties: [["a", "b"]] },
    },
    // deno-fmt-ignore
    bytes: [
      0x62, 0x12, // PUBREL, flags 0010; remaining length 18
      0x00, 0x0b, // packet id 11
      0x92, // reason code Packet Identifier not found
      0x0e, // property length 14
      0x1f, 0x00, 0x04, 0x6c, 0x6f, 0x73, 0x74, // reason string "lost"
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b"
    ],
  },

  // ---------------------------------------------------------------- PUBCOMP (§3.7)
  {
    name: "PUBCOMP short form (remaining length 2)",
    packet: { type: PacketType.Pubcomp, packetId: 12 },
    // deno-fmt-ignore
    bytes: [
      0x70, 0x02, // PUBCOMP; remaining length 2
      0x00, 0x0c, // packet id 12
    ],
    decoded: { type: PacketType.Pubcomp, packetId: 12, reasonCode: 0x00, properties: {} },
  },
  {
    name: "PUBCOMP with a reason code only (remaining length 3)",
    packet: { type: PacketType.Pubcomp, packetId: 13, reasonCode: 0x92 },
    // deno-fmt-ignore
    bytes: [
      0x70, 0x03, // PUBCOMP; remaining length 3
      0x00, 0x0d, // packet id 13
      0x92, // reason code Packet Identifier not found
    ],
    decoded: { type: PacketType.Pubcomp, packetId: 13, reasonCode: 0x92, properties: {} },
  },
  {
    name: "PUBCOMP success with a reason string and a user property",
    packet: {
      type: PacketType.Pubcomp,
      packetId: 14,
      reasonCode: 0x00,
      properties: { reasonString: "ok", userProperties: [["a", "b"]] },
    },
    // deno-fmt-ignore
    bytes: [
      0x70, 0x10, // PUBCOMP; remaining length 16
      0x00, 0x0e, // packet id 14
      0x00, // reason code Success (written: properties follow)
      0x0c, // property length 12
      0x1f, 0x00, 0x02, 0x6f, 0x6b, // reason string "ok"
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b"
    ],
  },
  {
    name: "PUBCOMP without a reason code but with a reason string",
    packet: { type: PacketType.Pubcomp, packetId: 15, properties: { reasonString: "ok" } },
    // deno-fmt-ignore
    bytes: [
      0x70, 0x09, // PUBCOMP; remaining length 9
      0x00, 0x0f, // packet id 15
      0x00, // reason code Success (absent means 0)
      0x05, // property length 5
      0x1f, 0x00, 0x02, 0x6f, 0x6b, // reason string "ok"
    ],
    decoded: {
      type: PacketType.Pubcomp,
      packetId: 15,
      reasonCode: 0x00,
      properties: { reasonString: "ok" },
    },
  },

  // ---------------------------------------------------------------- SUBSCRIBE (§3.8)
  {
    name:
      "SUBSCRIBE with six filters, a subscription identifier, a user property and a $share filter",
    packet: {
      type: PacketType.Subscribe,
      packetId: 1,
      filters: [
        { topic: "a/+", qos: 0 },
        { topic: "b/#", qos: 1, noLocal: true },
        { topic: "c", qos: 2, retainAsPublished: true },
        { topic: "#", qos: 1, retainHandling: 1 },
        {
          topic: "+/d/+",
          qos: 2,
          noLocal: true,
          retainAsPublished: true,
          retainHandling: 2,
        },
        { topic: "$share/grp/e/#", qos: 1, retainHandling: 2 },
      ],
      properties: { subscriptionIdentifier: 300, userProperties: [["a", "b"]] },
    },
    // deno-fmt-ignore
    bytes: [
      0x82, 0x3a, // SUBSCRIBE, fixed-header flags 0010; remaining length 58
      0x00, 0x01, // packet id 1
      0x0a, // property length 10
      0x0b, 0xac, 0x02, // subscription identifier 300 = 0x2c + 2 * 128
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b"
      0x00, 0x03, 0x61, 0x2f, 0x2b, // filter "a/+"
      0x00, // options: QoS 0
      0x00, 0x03, 0x62, 0x2f, 0x23, // filter "b/#"
      0x05, // options: QoS 1, no local 0x04
      0x00, 0x01, 0x63, // filter "c"
      0x0a, // options: QoS 2, retain as published 0x08
      0x00, 0x01, 0x23, // filter "#"
      0x11, // options: QoS 1, retain handling 1 (0x10)
      0x00, 0x05, 0x2b, 0x2f, 0x64, 0x2f, 0x2b, // filter "+/d/+"
      0x2e, // options: QoS 2, no local, retain as published, retain handling 2 (0x20)
      0x00, 0x0e, // filter length 14
      0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2f, // "$share/"
      0x67, 0x72, 0x70, 0x2f, 0x65, 0x2f, 0x23, // "grp/e/#"
      0x21, // options: QoS 1, retain handling 2
    ],
    decoded: {
      type: PacketType.Subscribe,
      packetId: 1,
      filters: [
        { topic: "a/+", qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        { topic: "b/#", qos: 1, noLocal: true, retainAsPublished: false, retainHandling: 0 },
        { topic: "c", qos: 2, noLocal: false, retainAsPublished: true, retainHandling: 0 },
        { topic: "#", qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 1 },
        { topic: "+/d/+", qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2 },
        {
          topic: "$share/grp/e/#",
          qos: 1,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 2,
        },
      ],
      properties: { subscriptionIdentifier: 300, userProperties: [["a", "b"]] },
    },
  },
  {
    name: "SUBSCRIBE to an emoji filter",
    packet: { type: PacketType.Subscribe, packetId: 2, filters: [{ topic: "😀/🚀", qos: 0 }] },
    // deno-fmt-ignore
    bytes: [
      0x82, 0x0f, // SUBSCRIBE, flags 0010; remaining length 15
      0x00, 0x02, // packet id 2
      0x00, // property length 0
      0x00, 0x09, // filter length 9
      0xf0, 0x9f, 0x98, 0x80, 0x2f, 0xf0, 0x9f, 0x9a, 0x80, // "😀/🚀"
      0x00, // options: QoS 0
    ],
    decoded: {
      type: PacketType.Subscribe,
      packetId: 2,
      filters: [{
        topic: "😀/🚀",
        qos: 0,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      }],
      properties: {},
    },
  },
  {
    name: "SUBSCRIBE with all 36 subscription option combinations",
    packet: {
      type: PacketType.Subscribe,
      packetId: 42,
      filters: OPTION_COMBINATIONS.map(([qos, noLocal, retainAsPublished, retainHandling]) => ({
        topic: "a",
        qos,
        noLocal,
        retainAsPublished,
        retainHandling,
      })),
      properties: {},
    },
    // deno-fmt-ignore
    bytes: [
      0x82, 0x93, 0x01, // SUBSCRIBE, flags 0010; remaining length 147 = 0x13 + 1 * 128
      0x00, 0x2a, // packet id 42
      0x00, // property length 0
      // per filter: "a", then options = QoS | no local << 2 | retain as published << 3 | retain handling << 4
      ...OPTION_COMBINATIONS.flatMap(([qos, nl, rap, rh]) => [
        0x00, 0x01, 0x61, // filter "a"
        qos | (nl ? 0x04 : 0) | (rap ? 0x08 : 0) | (rh << 4),
      ]),
    ],
  },

  // ---------------------------------------------------------------- SUBACK (§3.9)
  {
    name: "SUBACK with twelve reason codes",
    packet: {
      type: PacketType.Suback,
      packetId: 1,
      reasonCodes: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2],
    },
    // deno-fmt-ignore
    bytes: [
      0x90, 0x0f, // SUBACK; remaining length 15
      0x00, 0x01, // packet id 1
      0x00, // property length 0
      0x00, 0x01, 0x02, // Granted QoS 0, 1, 2
      0x80, 0x83, 0x87, // Unspecified error, Implementation specific error, Not authorized
      0x8f, 0x91, 0x97, // Topic Filter invalid, Packet Identifier in use, Quota exceeded
      0x9e, 0xa1, 0xa2, // Shared / Subscription Identifiers / Wildcard subscriptions not supported
    ],
    decoded: {
      type: PacketType.Suback,
      packetId: 1,
      reasonCodes: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2],
      properties: {},
    },
  },
  {
    name: "SUBACK with a reason string and a user property",
    packet: {
      type: PacketType.Suback,
      packetId: 2,
      reasonCodes: [0x02],
      properties: { reasonString: "r", userProperties: [["k", "v"]] },
    },
    // deno-fmt-ignore
    bytes: [
      0x90, 0x0f, // SUBACK; remaining length 15
      0x00, 0x02, // packet id 2
      0x0b, // property length 11
      0x1f, 0x00, 0x01, 0x72, // reason string "r"
      0x26, 0x00, 0x01, 0x6b, 0x00, 0x01, 0x76, // user property "k" = "v"
      0x02, // Granted QoS 2
    ],
  },

  // ---------------------------------------------------------------- UNSUBSCRIBE (§3.10)
  {
    name: "UNSUBSCRIBE with three filters, a $share filter and a user property",
    packet: {
      type: PacketType.Unsubscribe,
      packetId: 3,
      topics: ["a/b", "$share/g/x", "+/#"],
      properties: { userProperties: [["u", "1"]] },
    },
    // deno-fmt-ignore
    bytes: [
      0xa2, 0x20, // UNSUBSCRIBE, fixed-header flags 0010; remaining length 32
      0x00, 0x03, // packet id 3
      0x07, // property length 7
      0x26, 0x00, 0x01, 0x75, 0x00, 0x01, 0x31, // user property "u" = "1"
      0x00, 0x03, 0x61, 0x2f, 0x62, // filter "a/b"
      0x00, 0x0a, 0x24, 0x73, 0x68, 0x61, 0x72, 0x65, 0x2f, 0x67, 0x2f, 0x78, // filter "$share/g/x"
      0x00, 0x03, 0x2b, 0x2f, 0x23, // filter "+/#"
    ],
  },
  {
    name: "UNSUBSCRIBE with one filter",
    packet: { type: PacketType.Unsubscribe, packetId: 4, topics: ["t"] },
    // deno-fmt-ignore
    bytes: [
      0xa2, 0x06, // UNSUBSCRIBE, flags 0010; remaining length 6
      0x00, 0x04, // packet id 4
      0x00, // property length 0
      0x00, 0x01, 0x74, // filter "t"
    ],
    decoded: { type: PacketType.Unsubscribe, packetId: 4, topics: ["t"], properties: {} },
  },
  {
    name: "UNSUBSCRIBE from a non-ASCII filter",
    packet: {
      type: PacketType.Unsubscribe,
      packetId: 5,
      topics: ["température/α"],
      properties: {},
    },
    // deno-fmt-ignore
    bytes: [
      0xa2, 0x14, // UNSUBSCRIBE, flags 0010; remaining length 20
      0x00, 0x05, // packet id 5
      0x00, // property length 0
      0x00, 0x0f, // filter length 15
      0x74, 0x65, 0x6d, 0x70, 0xc3, 0xa9, 0x72, 0x61, 0x74, 0x75, 0x72, 0x65, 0x2f, 0xce, 0xb1, // "température/α"
    ],
  },

  // ---------------------------------------------------------------- UNSUBACK (§3.11)
  {
    name: "UNSUBACK with seven reason codes",
    packet: {
      type: PacketType.Unsuback,
      packetId: 3,
      reasonCodes: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
    },
    // deno-fmt-ignore
    bytes: [
      0xb0, 0x0a, // UNSUBACK; remaining length 10
      0x00, 0x03, // packet id 3
      0x00, // property length 0
      0x00, 0x11, // Success, No subscription existed
      0x80, 0x83, 0x87, // Unspecified error, Implementation specific error, Not authorized
      0x8f, 0x91, // Topic Filter invalid, Packet Identifier in use
    ],
    decoded: {
      type: PacketType.Unsuback,
      packetId: 3,
      reasonCodes: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
      properties: {},
    },
  },
  {
    name: "UNSUBACK with a reason string and a repeated user property",
    packet: {
      type: PacketType.Unsuback,
      packetId: 4,
      reasonCodes: [0x11],
      properties: { reasonString: "none", userProperties: [["a", "b"], ["a", "b"]] },
    },
    // deno-fmt-ignore
    bytes: [
      0xb0, 0x19, // UNSUBACK; remaining length 25
      0x00, 0x04, // packet id 4
      0x15, // property length 21
      0x1f, 0x00, 0x04, 0x6e, 0x6f, 0x6e, 0x65, // reason string "none"
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b"
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b" again
      0x11, // No subscription existed
    ],
  },

  // ---------------------------------------------------------------- PINGREQ, PINGRESP (§3.12, §3.13)
  {
    name: "PINGREQ",
    packet: { type: PacketType.Pingreq },
    bytes: [0xc0, 0x00], // PINGREQ; remaining length 0
  },
  {
    name: "PINGRESP",
    packet: { type: PacketType.Pingresp },
    bytes: [0xd0, 0x00], // PINGRESP; remaining length 0
  },

  // ---------------------------------------------------------------- DISCONNECT (§3.14)
  {
    name: "DISCONNECT short form (remaining length 0)",
    packet: { type: PacketType.Disconnect },
    bytes: [0xe0, 0x00], // DISCONNECT; remaining length 0: Normal disconnection, no properties
    decoded: { type: PacketType.Disconnect, reasonCode: 0x00, properties: {} },
  },
  {
    name: "DISCONNECT short form from an explicit reason code 0 and empty properties",
    packet: { type: PacketType.Disconnect, reasonCode: 0x00, properties: {} },
    bytes: [0xe0, 0x00], // DISCONNECT; remaining length 0
  },
  {
    name: "DISCONNECT with a reason code only (remaining length 1)",
    packet: { type: PacketType.Disconnect, reasonCode: 0x04 },
    // deno-fmt-ignore
    bytes: [
      0xe0, 0x01, // DISCONNECT; remaining length 1
      0x04, // reason code Disconnect with Will Message; property length omitted
    ],
    decoded: { type: PacketType.Disconnect, reasonCode: 0x04, properties: {} },
  },
  {
    name: "DISCONNECT with reason code 0 and a reason string",
    packet: { type: PacketType.Disconnect, properties: { reasonString: "bye" } },
    // deno-fmt-ignore
    bytes: [
      0xe0, 0x08, // DISCONNECT; remaining length 8
      0x00, // reason code Normal disconnection
      0x06, // property length 6
      0x1f, 0x00, 0x03, 0x62, 0x79, 0x65, // reason string "bye"
    ],
    decoded: {
      type: PacketType.Disconnect,
      reasonCode: 0x00,
      properties: { reasonString: "bye" },
    },
  },
  {
    name: "DISCONNECT with session expiry, server reference, reason string and user property",
    packet: {
      type: PacketType.Disconnect,
      reasonCode: 0x9c,
      properties: {
        sessionExpiryInterval: 0,
        reasonString: "move",
        serverReference: "other:1883",
        userProperties: [["a", "b"]],
      },
    },
    // deno-fmt-ignore
    bytes: [
      0xe0, 0x22, // DISCONNECT; remaining length 34
      0x9c, // reason code Use another server
      0x20, // property length 32
      0x11, 0x00, 0x00, 0x00, 0x00, // session expiry interval 0
      0x1c, 0x00, 0x0a, // server reference, 10 bytes:
      0x6f, 0x74, 0x68, 0x65, 0x72, 0x3a, 0x31, 0x38, 0x38, 0x33, // "other:1883"
      0x1f, 0x00, 0x04, 0x6d, 0x6f, 0x76, 0x65, // reason string "move"
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b"
    ],
  },

  // ---------------------------------------------------------------- AUTH (§3.15)
  {
    name: "AUTH short form (remaining length 0)",
    packet: { type: PacketType.Auth },
    bytes: [0xf0, 0x00], // AUTH; remaining length 0: Success, no properties
    decoded: { type: PacketType.Auth, reasonCode: 0x00, properties: {} },
  },
  {
    name: "AUTH Continue authentication with method, data, reason string and user property",
    packet: {
      type: PacketType.Auth,
      reasonCode: 0x18,
      properties: {
        authenticationMethod: "scram",
        authenticationData: new Uint8Array([0x6e, 0x2c]),
        reasonString: "more",
        userProperties: [["a", "b"]],
      },
    },
    // deno-fmt-ignore
    bytes: [
      0xf0, 0x1d, // AUTH; remaining length 29
      0x18, // reason code Continue authentication
      0x1b, // property length 27
      0x15, 0x00, 0x05, 0x73, 0x63, 0x72, 0x61, 0x6d, // authentication method "scram"
      0x16, 0x00, 0x02, 0x6e, 0x2c, // authentication data [0x6e, 0x2c]
      0x1f, 0x00, 0x04, 0x6d, 0x6f, 0x72, 0x65, // reason string "more"
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, // user property "a" = "b"
    ],
  },
  {
    name: "AUTH Re-authenticate with an authentication method",
    packet: {
      type: PacketType.Auth,
      reasonCode: 0x19,
      properties: { authenticationMethod: "scram" },
    },
    // deno-fmt-ignore
    bytes: [
      0xf0, 0x0a, // AUTH; remaining length 10
      0x19, // reason code Re-authenticate
      0x08, // property length 8
      0x15, 0x00, 0x05, 0x73, 0x63, 0x72, 0x61, 0x6d, // authentication method "scram"
    ],
  },
];

/**
 * Valid encodings that the encoder does not produce (it always picks the
 * shortest form and ascending property order) but a decoder must accept.
 */
export const decodeOnlyFixtures: DecodeOnlyFixture[] = [
  {
    name: "PUBACK with reason code 0 written out (remaining length 3)",
    // deno-fmt-ignore
    bytes: [
      0x40, 0x03, // PUBACK; remaining length 3
      0x00, 0x01, // packet id 1
      0x00, // reason code Success; "less than 4": no property length (§3.4.2.2.1)
    ],
    decoded: { type: PacketType.Puback, packetId: 1, reasonCode: 0x00, properties: {} },
  },
  {
    name: "PUBREL with reason code 0 and property length 0 (remaining length 4)",
    // deno-fmt-ignore
    bytes: [
      0x62, 0x04, // PUBREL, flags 0010; remaining length 4
      0x00, 0x01, // packet id 1
      0x00, // reason code Success
      0x00, // property length 0
    ],
    decoded: { type: PacketType.Pubrel, packetId: 1, reasonCode: 0x00, properties: {} },
  },
  {
    name: "DISCONNECT with reason code 0 written out (remaining length 1)",
    // deno-fmt-ignore
    bytes: [
      0xe0, 0x01, // DISCONNECT; remaining length 1
      0x00, // reason code Normal disconnection; "less than 2": no property length (§3.14.2.2.1)
    ],
    decoded: { type: PacketType.Disconnect, reasonCode: 0x00, properties: {} },
  },
  {
    name: "DISCONNECT with reason code 0 and property length 0 (remaining length 2)",
    // deno-fmt-ignore
    bytes: [
      0xe0, 0x02, // DISCONNECT; remaining length 2
      0x00, // reason code Normal disconnection
      0x00, // property length 0
    ],
    decoded: { type: PacketType.Disconnect, reasonCode: 0x00, properties: {} },
  },
  {
    name: "AUTH with reason code 0 and property length 0 (remaining length 2)",
    // deno-fmt-ignore
    bytes: [
      0xf0, 0x02, // AUTH; remaining length 2
      0x00, // reason code Success
      0x00, // property length 0
    ],
    decoded: { type: PacketType.Auth, reasonCode: 0x00, properties: {} },
  },
  {
    name: "PUBLISH with properties in descending identifier order",
    // deno-fmt-ignore
    bytes: [
      0x30, 0x0a, // PUBLISH, QoS 0; remaining length 10
      0x00, 0x01, 0x74, // topic "t"
      0x05, // property length 5
      0x23, 0x00, 0x01, // topic alias 1
      0x01, 0x01, // payload format indicator 1
      0x78, // payload "x"
    ],
    decoded: {
      type: PacketType.Publish,
      topic: "t",
      payload: bytes("x"),
      qos: 0,
      retain: false,
      dup: false,
      packetId: 0,
      properties: { topicAlias: 1, payloadFormatIndicator: 1 },
    },
  },
  {
    name: "CONNACK with user properties on both sides of a reason string",
    // deno-fmt-ignore
    bytes: [
      0x20, 0x15, // CONNACK; remaining length 21
      0x00, // acknowledge flags
      0x00, // reason code Success
      0x12, // property length 18
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x31, // user property "a" = "1"
      0x1f, 0x00, 0x01, 0x72, // reason string "r"
      0x26, 0x00, 0x01, 0x61, 0x00, 0x01, 0x32, // user property "a" = "2"
    ],
    decoded: {
      type: PacketType.Connack,
      sessionPresent: false,
      reasonCode: 0x00,
      properties: { reasonString: "r", userProperties: [["a", "1"], ["a", "2"]] },
    },
  },
];
