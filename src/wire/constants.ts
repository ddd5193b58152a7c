/**
 * Reason codes and property identifiers of MQTT v5 (§2.4, §2.2.2.2), and which
 * reason codes each packet type may carry.
 *
 * @module
 */

import type { PacketType } from "./types.ts";
import * as T from "./_packet_type.ts";
import * as R from "./_reason_code.ts";

/**
 * MQTT v5 reason codes (§2.4), by name. Several names share a value (0x00 is
 * Success, Normal disconnection and Granted QoS 0).
 *
 * @example Check a refusal
 * ```ts
 * import { ReasonCode } from "@mqttv5/client/wire";
 *
 * const refused = (code: number) => code >= 0x80;
 * console.log(refused(ReasonCode.NotAuthorized)); // true
 * ```
 */
export const ReasonCode = {
  Success: 0x00,
  NormalDisconnection: 0x00,
  GrantedQoS0: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWillMessage: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QoSNotSupported: 0x9b,
  UseAnotherServer: 0x9c,
  ServerMoved: 0x9d,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const;

/** A reason code value. */
export type ReasonCode = typeof ReasonCode[keyof typeof ReasonCode];

/**
 * MQTT v5 property identifiers (§2.2.2.2).
 *
 * @example Usage
 * ```ts
 * import { PropertyId } from "@mqttv5/client/wire";
 * console.log(PropertyId.TopicAlias); // 35
 * ```
 */
export const PropertyId = {
  PayloadFormatIndicator: 0x01,
  MessageExpiryInterval: 0x02,
  ContentType: 0x03,
  ResponseTopic: 0x08,
  CorrelationData: 0x09,
  SubscriptionIdentifier: 0x0b,
  SessionExpiryInterval: 0x11,
  AssignedClientIdentifier: 0x12,
  ServerKeepAlive: 0x13,
  AuthenticationMethod: 0x15,
  AuthenticationData: 0x16,
  RequestProblemInformation: 0x17,
  WillDelayInterval: 0x18,
  RequestResponseInformation: 0x19,
  ResponseInformation: 0x1a,
  ServerReference: 0x1c,
  ReasonString: 0x1f,
  ReceiveMaximum: 0x21,
  TopicAliasMaximum: 0x22,
  TopicAlias: 0x23,
  MaximumQoS: 0x24,
  RetainAvailable: 0x25,
  UserProperty: 0x26,
  MaximumPacketSize: 0x27,
  WildcardSubscriptionAvailable: 0x28,
  SubscriptionIdentifiersAvailable: 0x29,
  SharedSubscriptionAvailable: 0x2a,
} as const;

/** A property identifier value. */
export type PropertyId = typeof PropertyId[keyof typeof PropertyId];

/** Reason codes valid in each packet type (§2.4, Table 2-6), indexed by packet type. */
const VALID: ReadonlyArray<ReadonlySet<number> | undefined> = (() => {
  const t: (ReadonlySet<number> | undefined)[] = new Array(16).fill(undefined);
  t[T.Connack] = new Set([
    R.Success,
    R.UnspecifiedError,
    R.MalformedPacket,
    R.ProtocolError,
    R.ImplementationSpecificError,
    R.UnsupportedProtocolVersion,
    R.ClientIdentifierNotValid,
    R.BadUserNameOrPassword,
    R.NotAuthorized,
    R.ServerUnavailable,
    R.ServerBusy,
    R.Banned,
    R.BadAuthenticationMethod,
    R.TopicNameInvalid,
    R.PacketTooLarge,
    R.QuotaExceeded,
    R.PayloadFormatInvalid,
    R.RetainNotSupported,
    R.QoSNotSupported,
    R.UseAnotherServer,
    R.ServerMoved,
    R.ConnectionRateExceeded,
  ]);
  const pubAck = new Set([
    R.Success,
    R.NoMatchingSubscribers,
    R.UnspecifiedError,
    R.ImplementationSpecificError,
    R.NotAuthorized,
    R.TopicNameInvalid,
    R.PacketIdentifierInUse,
    R.QuotaExceeded,
    R.PayloadFormatInvalid,
  ]);
  t[T.Puback] = pubAck;
  t[T.Pubrec] = pubAck;
  const pubRel = new Set([R.Success, R.PacketIdentifierNotFound]);
  t[T.Pubrel] = pubRel;
  t[T.Pubcomp] = pubRel;
  t[T.Suback] = new Set([
    R.GrantedQoS0,
    R.GrantedQoS1,
    R.GrantedQoS2,
    R.UnspecifiedError,
    R.ImplementationSpecificError,
    R.NotAuthorized,
    R.TopicFilterInvalid,
    R.PacketIdentifierInUse,
    R.QuotaExceeded,
    R.SharedSubscriptionsNotSupported,
    R.SubscriptionIdentifiersNotSupported,
    R.WildcardSubscriptionsNotSupported,
  ]);
  t[T.Unsuback] = new Set([
    R.Success,
    R.NoSubscriptionExisted,
    R.UnspecifiedError,
    R.ImplementationSpecificError,
    R.NotAuthorized,
    R.TopicFilterInvalid,
    R.PacketIdentifierInUse,
  ]);
  // Table 2-6 lists 0x8C (Bad authentication method) for DISCONNECT, which a broker
  // sends when a re-authentication names another method; Table 3-10 omits it.
  t[T.Disconnect] = new Set([
    R.NormalDisconnection,
    R.DisconnectWithWillMessage,
    R.UnspecifiedError,
    R.MalformedPacket,
    R.ProtocolError,
    R.ImplementationSpecificError,
    R.NotAuthorized,
    R.BadAuthenticationMethod,
    R.ServerBusy,
    R.ServerShuttingDown,
    R.KeepAliveTimeout,
    R.SessionTakenOver,
    R.TopicFilterInvalid,
    R.TopicNameInvalid,
    R.ReceiveMaximumExceeded,
    R.TopicAliasInvalid,
    R.PacketTooLarge,
    R.MessageRateTooHigh,
    R.QuotaExceeded,
    R.AdministrativeAction,
    R.PayloadFormatInvalid,
    R.RetainNotSupported,
    R.QoSNotSupported,
    R.UseAnotherServer,
    R.ServerMoved,
    R.SharedSubscriptionsNotSupported,
    R.ConnectionRateExceeded,
    R.MaximumConnectTime,
    R.SubscriptionIdentifiersNotSupported,
    R.WildcardSubscriptionsNotSupported,
  ]);
  t[T.Auth] = new Set([R.Success, R.ContinueAuthentication, R.ReAuthenticate]);
  return t;
})();

/**
 * Whether `reasonCode` may appear in a packet of type `type` (§2.4, Table 2-6).
 * Packet types that carry no reason code always answer `false`.
 *
 * @param type The packet type.
 * @param reasonCode The reason code to check.
 * @returns `true` when the specification lists the code for that packet type.
 *
 * @example Usage
 * ```ts
 * import { isValidReasonCode, PacketType, ReasonCode } from "@mqttv5/client/wire";
 *
 * isValidReasonCode(PacketType.Puback, ReasonCode.NoMatchingSubscribers); // true
 * isValidReasonCode(PacketType.Pubrel, ReasonCode.NotAuthorized); // false
 * ```
 */
export function isValidReasonCode(type: PacketType, reasonCode: number): boolean {
  const set = VALID[type];
  return set !== undefined && set.has(reasonCode);
}
