/**
 * The public surface shared by the package's two main entry points: `mod.ts`
 * (Deno, Bun, Node: it also registers the runtime's own transport) and
 * `web.ts` (browsers and Workers: no runtime transports, plus `wsDial`).
 * Internal: import from `@mqttv5/client` or `@mqttv5/client/web`.
 *
 * @module
 */

export { Client, SubscribeError } from "./client/client.ts";
export { Message } from "./client/message.ts";
export { Queue } from "./client/queue.ts";
export type { PoolRoutingPolicy, PublisherPoolOptions } from "./client/types.ts";
export type { RateLimitOptions } from "./client/rate_limit.ts";
export type { ReplyInput, RequestMessage } from "./client/request.ts";
export { StatusStream } from "./client/status.ts";
export type { StatusEvent } from "./client/status.ts";
export { SubscriptionToken } from "./client/subscription.ts";
export type { QueueSubscription, SubscribeOptions, Subscription } from "./client/subscription.ts";
export { constantBackoff, exponentialBackoff } from "./client/backoff.ts";
export { MemorySessionStore } from "./session/store.ts";
export { QueuePublisher } from "./queue/publisher.ts";
export type {
  PublisherQueue,
  QueueBatch,
  QueueCallOptions,
  QueueClient,
  QueueEntry,
  QueuePublisherOptions,
  QueuePublisherStats,
  QueueToken,
} from "./queue/publisher.ts";
export { MemoryPublisherQueue } from "./queue/memory.ts";
export { LinkedSessionStore } from "./queue/linked_store.ts";
export type { LinkListener } from "./queue/linked_store.ts";
export type { SessionStore, StoredOutbound, StoredSession } from "./session/store.ts";
export type { Backoff } from "./client/backoff.ts";
export { MqttError } from "./errors.ts";
export { ClientGroup, GroupError } from "./group/client_group.ts";
export type {
  ClientGroupOptions,
  GroupMember,
  GroupOperation,
  GroupPublishPolicy,
  GroupPublishResult,
  GroupQueueSubscription,
  GroupSubscription,
} from "./group/client_group.ts";
export { Typed, TypedMessage } from "./codec/typed.ts";
export type {
  Codec,
  TypedOptions,
  TypedQueueSubscription,
  TypedSubscription,
} from "./codec/typed.ts";
export { PacketType } from "./wire/types.ts";
export type { MqttErrorCode, MqttErrorOptions } from "./errors.ts";
export type {
  Authenticator,
  ClientOptions,
  ConnectOptions,
  DropPolicy,
  Logger,
  PublishMode,
  WillOptions,
  WriteOverflowPolicy,
} from "./client/options.ts";
export type {
  ConnackInfo,
  DisconnectOptions,
  PublishOptions,
  PublishResult,
  Stats,
  TopicFilter,
  TopicFilterInput,
} from "./client/types.ts";
export type { Connection, DialFunc, DialOptions, TlsOptions } from "./transport/types.ts";
export type {
  AckProperties,
  DisconnectPacket,
  DisconnectProperties,
  PublishPacket,
  PublishProperties,
  QoS,
  UserProperty,
  WillProperties,
} from "./wire/types.ts";
