/**
 * The MQTT v5 wire codec: every control packet in both directions, with the
 * validation the specification asks for on encode and on decode.
 *
 * Packets are plain objects discriminated by `type` ({@linkcode PacketType}).
 * {@linkcode encodePacket} writes one exact-size buffer;
 * {@linkcode encodePacketInto} writes into a caller's buffer;
 * {@linkcode PacketDecoder} is a push parser for chunks of any size. The codec
 * is pure and synchronous: no timers, no I/O, no runtime-specific APIs.
 *
 * @example Round trip a PUBLISH
 * ```ts
 * import { encodePacket, PacketDecoder, PacketType } from "@mqttv5/client/wire";
 *
 * const bytes = encodePacket({
 *   type: PacketType.Publish,
 *   topic: "sensors/room1/temp",
 *   payload: new TextEncoder().encode("21.5"),
 *   qos: 1,
 *   retain: false,
 *   dup: false,
 *   packetId: 1,
 *   properties: { userProperties: [["unit", "C"]] },
 * });
 * const [packet] = new PacketDecoder().push(bytes);
 * if (packet.type === PacketType.Publish) {
 *   console.log(packet.topic, new TextDecoder().decode(packet.payload)); // sensors/room1/temp 21.5
 * }
 * ```
 *
 * @module
 */

// Every packet type in both directions: the server's side (CONNACK, SUBACK,
// UNSUBACK out; CONNECT, SUBSCRIBE, UNSUBSCRIBE in) registers into the codec
// here. The client imports encode.ts and decode.ts without it.
import "./_server.ts";

export { PacketType } from "./types.ts";
export type {
  AckProperties,
  AuthPacket,
  AuthProperties,
  ConnackPacket,
  ConnackProperties,
  ConnectPacket,
  ConnectProperties,
  DisconnectPacket,
  DisconnectProperties,
  Packet,
  PingreqPacket,
  PingrespPacket,
  PubackPacket,
  PubAckPacketBase,
  PubcompPacket,
  PublishPacket,
  PublishProperties,
  PubrecPacket,
  PubrelPacket,
  QoS,
  SubackPacket,
  SubscribeFilter,
  SubscribePacket,
  SubscribeProperties,
  UnsubackPacket,
  UnsubscribePacket,
  UnsubscribeProperties,
  UserProperty,
  WillMessage,
  WillProperties,
} from "./types.ts";
export { isValidReasonCode, PropertyId, ReasonCode } from "./constants.ts";
export {
  DISCONNECT_BYTES,
  encodePacket,
  encodePacketInto,
  MAX_REMAINING_LENGTH,
  packetLength,
  PINGREQ_BYTES,
  PINGRESP_BYTES,
} from "./encode.ts";
export { PacketDecoder } from "./decode.ts";
export type { PacketDecoderOptions } from "./decode.ts";
