/**
 * `@mqttv5/client`: a fast, ergonomic MQTT v5 client for Deno, Bun and Node.
 *
 * One {@linkcode Client} per session, with the supervisor always on: after
 * `connect()` every unexpected loss is repaired (reconnect with backoff,
 * in-flight QoS 1/2 replayed with DUP=1, subscriptions re-issued) until
 * `disconnect()`. Three subscribe shapes (async iterator, {@linkcode Queue},
 * callback) with per-subscription backpressure. The codec lives in
 * `@mqttv5/client/wire`; transports in `@mqttv5/client/transport/*`.
 *
 * @example Publish and subscribe
 * ```ts ignore
 * import { Client } from "@mqttv5/client";
 *
 * await using client = new Client({ broker: "mqtt://localhost:1883" });
 * await client.connect();
 * const sub = await client.subscribe([{ topic: "demo/#", qos: 1 }]);
 * await client.publish({ topic: "demo/hello", payload: "world", qos: 1 });
 * for await (const m of sub) {
 *   console.log(m.topic, m.text());
 *   m.ack();
 *   break;
 * }
 * ```
 *
 * @example Handle a codec error
 * ```ts
 * import { MqttError } from "@mqttv5/client";
 * import { PacketDecoder } from "@mqttv5/client/wire";
 *
 * try {
 *   // PUBLISH with QoS 3 is malformed [MQTT-3.3.1-4].
 *   new PacketDecoder().push(new Uint8Array([0x36, 0x00]));
 * } catch (err) {
 *   if (err instanceof MqttError) console.log(err.code, err.reasonCode); // protocol-error 129
 * }
 * ```
 *
 * @module
 */

export { Client, SubscribeError } from "./src/client/client.ts";
export { Message } from "./src/client/message.ts";
export { Queue } from "./src/client/queue.ts";
export type { PoolRoutingPolicy, PublisherPoolOptions } from "./src/client/pool.ts";
export { StatusStream } from "./src/client/status.ts";
export type { StatusEvent } from "./src/client/status.ts";
export { SubscriptionToken } from "./src/client/subscription.ts";
export type {
  QueueSubscription,
  SubscribeOptions,
  Subscription,
} from "./src/client/subscription.ts";
export { constantBackoff, exponentialBackoff } from "./src/client/backoff.ts";
export { MemorySessionStore } from "./src/session/store.ts";
export { QueuePublisher } from "./src/queue/publisher.ts";
export type {
  PublisherQueue,
  QueueBatch,
  QueueCallOptions,
  QueueClient,
  QueueEntry,
  QueuePublisherOptions,
  QueuePublisherStats,
  QueueToken,
} from "./src/queue/publisher.ts";
export { MemoryPublisherQueue } from "./src/queue/memory.ts";
export { LinkedSessionStore } from "./src/queue/linked_store.ts";
export type { LinkListener } from "./src/queue/linked_store.ts";
export type { SessionStore, StoredOutbound, StoredSession } from "./src/session/store.ts";
export type { Backoff } from "./src/client/backoff.ts";
export { MqttError } from "./src/errors.ts";
export { ClientGroup, GroupError } from "./src/group/client_group.ts";
export type {
  ClientGroupOptions,
  GroupMember,
  GroupOperation,
  GroupPublishPolicy,
  GroupPublishResult,
  GroupQueueSubscription,
  GroupSubscription,
} from "./src/group/client_group.ts";
export { Typed, TypedMessage } from "./src/codec/typed.ts";
export type {
  Codec,
  TypedOptions,
  TypedQueueSubscription,
  TypedSubscription,
} from "./src/codec/typed.ts";
export { PacketType } from "./src/wire/types.ts";
export type { MqttErrorCode, MqttErrorOptions } from "./src/errors.ts";
export type {
  Authenticator,
  ClientOptions,
  ConnectOptions,
  DropPolicy,
  Logger,
  PublishMode,
  WillOptions,
  WriteOverflowPolicy,
} from "./src/client/options.ts";
export type {
  ConnackInfo,
  DisconnectOptions,
  PublishOptions,
  PublishResult,
  Stats,
  TopicFilter,
  TopicFilterInput,
} from "./src/client/types.ts";
export type { Connection, DialFunc, DialOptions, TlsOptions } from "./src/transport/types.ts";
export type {
  AckProperties,
  DisconnectPacket,
  DisconnectProperties,
  PublishPacket,
  PublishProperties,
  QoS,
  UserProperty,
  WillProperties,
} from "./src/wire/types.ts";
