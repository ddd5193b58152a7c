/**
 * The reason codes of {@linkcode ReasonCode} (constants.ts) as module
 * constants, for the library's own code. Import the module as a namespace,
 * `import * as ReasonCode from "../wire/_reason_code.ts"`, and write
 * `ReasonCode.ProtocolError` as with the public object: a bundler inlines each
 * use as a number and leaves the public object (45 names) out of a bundle
 * that does not use it. tests/wire/constants_test.ts checks that both agree.
 *
 * @module
 */

export const Success = 0x00 as const;
export const NormalDisconnection = 0x00 as const;
export const GrantedQoS0 = 0x00 as const;
export const GrantedQoS1 = 0x01 as const;
export const GrantedQoS2 = 0x02 as const;
export const DisconnectWithWillMessage = 0x04 as const;
export const NoMatchingSubscribers = 0x10 as const;
export const NoSubscriptionExisted = 0x11 as const;
export const ContinueAuthentication = 0x18 as const;
export const ReAuthenticate = 0x19 as const;
export const UnspecifiedError = 0x80 as const;
export const MalformedPacket = 0x81 as const;
export const ProtocolError = 0x82 as const;
export const ImplementationSpecificError = 0x83 as const;
export const UnsupportedProtocolVersion = 0x84 as const;
export const ClientIdentifierNotValid = 0x85 as const;
export const BadUserNameOrPassword = 0x86 as const;
export const NotAuthorized = 0x87 as const;
export const ServerUnavailable = 0x88 as const;
export const ServerBusy = 0x89 as const;
export const Banned = 0x8a as const;
export const ServerShuttingDown = 0x8b as const;
export const BadAuthenticationMethod = 0x8c as const;
export const KeepAliveTimeout = 0x8d as const;
export const SessionTakenOver = 0x8e as const;
export const TopicFilterInvalid = 0x8f as const;
export const TopicNameInvalid = 0x90 as const;
export const PacketIdentifierInUse = 0x91 as const;
export const PacketIdentifierNotFound = 0x92 as const;
export const ReceiveMaximumExceeded = 0x93 as const;
export const TopicAliasInvalid = 0x94 as const;
export const PacketTooLarge = 0x95 as const;
export const MessageRateTooHigh = 0x96 as const;
export const QuotaExceeded = 0x97 as const;
export const AdministrativeAction = 0x98 as const;
export const PayloadFormatInvalid = 0x99 as const;
export const RetainNotSupported = 0x9a as const;
export const QoSNotSupported = 0x9b as const;
export const UseAnotherServer = 0x9c as const;
export const ServerMoved = 0x9d as const;
export const SharedSubscriptionsNotSupported = 0x9e as const;
export const ConnectionRateExceeded = 0x9f as const;
export const MaximumConnectTime = 0xa0 as const;
export const SubscriptionIdentifiersNotSupported = 0xa1 as const;
export const WildcardSubscriptionsNotSupported = 0xa2 as const;
