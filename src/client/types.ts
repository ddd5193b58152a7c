/**
 * Shapes shared by the client's public API.
 *
 * @module
 */

import type { QoS, UserProperty } from "../wire/types.ts";

/**
 * What the broker said in CONNACK, with the specification's defaults filled in
 * for absent properties.
 *
 * @example Usage
 * ```ts
 * import type { ConnackInfo } from "@mqttv5/client";
 * const canRetain = (c: ConnackInfo) => c.retainAvailable;
 * ```
 */
export interface ConnackInfo {
  /** Whether the broker resumed a session. */
  sessionPresent: boolean;
  /** Connect reason code (0 on success). */
  reasonCode: number;
  /** Client identifier the broker assigned, if it assigned one. */
  assignedClientIdentifier?: string;
  /** Keep alive the broker imposes, in seconds. */
  serverKeepAlive?: number;
  /** Session Expiry Interval the broker uses, in seconds. */
  sessionExpiryInterval?: number;
  /**
   * QoS 1/2 publishes the broker accepts at once.
   *
   * @default {65535}
   */
  receiveMaximum: number;
  /**
   * Highest QoS the broker supports.
   *
   * @default {2}
   */
  maximumQoS: QoS;
  /**
   * Whether retained messages are supported.
   *
   * @default {true}
   */
  retainAvailable: boolean;
  /** Largest packet the broker accepts, if it set one. */
  maximumPacketSize?: number;
  /**
   * Highest topic alias the broker accepts from us.
   *
   * @default {0}
   */
  topicAliasMaximum: number;
  /**
   * Whether wildcard subscriptions are supported.
   *
   * @default {true}
   */
  wildcardSubscriptionAvailable: boolean;
  /**
   * Whether subscription identifiers are supported.
   *
   * @default {true}
   */
  subscriptionIdentifiersAvailable: boolean;
  /**
   * Whether shared subscriptions are supported.
   *
   * @default {true}
   */
  sharedSubscriptionAvailable: boolean;
  /** Response Information, if requested and given. */
  responseInformation?: string;
  /** Another server to use. */
  serverReference?: string;
  /** Human-readable diagnostic. */
  reasonString?: string;
  /** User properties. */
  userProperties: UserProperty[];
}

/**
 * Options of `disconnect()`: the DISCONNECT the client sends.
 *
 * @example Usage
 * ```ts
 * import type { DisconnectOptions } from "@mqttv5/client";
 * // Reason 0x04: the broker publishes the will anyway.
 * const withWill: DisconnectOptions = { reasonCode: 0x04, reasonString: "maintenance" };
 * ```
 */
export interface DisconnectOptions {
  /**
   * Disconnect reason code.
   *
   * @default {0}
   */
  reasonCode?: number;
  /** Human-readable reason. */
  reasonString?: string;
  /** Overrides the Session Expiry Interval (not allowed when CONNECT sent 0). */
  sessionExpirySeconds?: number;
  /** User properties. */
  userProperties?: UserProperty[];
}

export type { PublishOptions, PublishResult } from "../session/publish.ts";

/**
 * One topic filter with its subscription options.
 *
 * @example Usage
 * ```ts
 * import type { TopicFilter } from "@mqttv5/client";
 * const f: TopicFilter = { topic: "events/#", qos: 1, noLocal: true };
 * ```
 */
export interface TopicFilter {
  /** Topic filter; wildcards and `$share/{group}/{filter}` allowed. */
  topic: string;
  /**
   * Maximum QoS.
   *
   * @default {0}
   */
  qos?: QoS;
  /**
   * Do not receive our own publishes.
   *
   * @default {false}
   */
  noLocal?: boolean;
  /**
   * Keep the RETAIN flag as published.
   *
   * @default {false}
   */
  retainAsPublished?: boolean;
  /**
   * 0: retained at subscribe, 1: only for a new subscription, 2: never.
   *
   * @default {0}
   */
  retainHandling?: 0 | 1 | 2;
}

/**
 * A topic filter, or a string meaning `{ topic, qos: 0 }`.
 *
 * @example Strings and filters mixed
 * ```ts
 * import type { TopicFilterInput } from "@mqttv5/client";
 *
 * const filters: TopicFilterInput[] = ["sensors/#", { topic: "alerts/+", qos: 2 }];
 * ```
 */
export type TopicFilterInput = string | TopicFilter;

/**
 * Client counters returned by `stats()`. All zero unless the client was
 * created with `stats: true`.
 *
 * @example Usage
 * ```ts
 * import type { Stats } from "@mqttv5/client";
 * const lossy = (s: Stats) => s.inboundDropped > 0;
 * ```
 */
export interface Stats {
  /** Successful CONNECT/CONNACK handshakes. */
  connects: number;
  /** Connection attempts that failed. */
  connectFailures: number;
  /** Connection losses, any cause. */
  disconnects: number;
  /** DISCONNECT packets received from the broker. */
  serverDisconnects: number;
  /** Keep-alive timeouts. */
  pingTimeouts: number;
  /** Publishes handed to the writer. */
  publishesSent: number;
  /** QoS 1/2 publishes the broker acknowledged. */
  publishesAcked: number;
  /** QoS 1/2 publishes awaiting their ack (gauge). */
  publishesInflight: number;
  /** QoS 1/2 publishes re-sent after a reconnect. */
  publishesReplayed: number;
  /** PUBLISH packets received. */
  inboundPublishes: number;
  /** Inbound messages dropped by a full subscription buffer (explicit drop policies only). */
  inboundDropped: number;
  /**
   * Times a full subscription buffer (`dropPolicy: "block"`) made the client
   * stop reading from the broker until its consumer caught up.
   */
  inboundBlocked: number;
  /** Subscriptions whose full buffer is holding the broker back now (gauge). */
  subscriptionsBlocked: number;
  /** Messages reported as left unacked past `unackedWarningMs`. */
  unackedWarnings: number;
  /** QoS 1/2 PUBLISH packets that arrived beyond the Receive Maximum we advertised. */
  receiveMaximumExceeded: number;
  /** SUBSCRIBE packets sent. */
  subscribesSent: number;
  /** UNSUBSCRIBE packets sent. */
  unsubscribesSent: number;
  /** Registered subscriptions (gauge). */
  subscriptionsActive: number;
  /** Publishes that fell back from the publisher pool to the main connection. */
  poolFallbacks: number;
}

/**
 * How the pool picks the member for a publish.
 *
 * @example Route by topic
 * ```ts
 * import type { PoolRoutingPolicy } from "@mqttv5/client";
 *
 * const routing: PoolRoutingPolicy = "hash-by-topic";
 * ```
 */
export type PoolRoutingPolicy = "round-robin" | "hash-by-topic";

/**
 * `ClientOptions.publisherPool`: publish-only connections to the same
 * broker(s), each a full client with its own supervisor (Clean Start, session
 * expiry 0: a drop mid-flight can mean a duplicate, so keep ledger-style work
 * on the main connection).
 *
 * @example Four connections, per-topic order kept
 * ```ts
 * import type { PublisherPoolOptions } from "@mqttv5/client";
 * const pool: PublisherPoolOptions = { size: 4, routing: "hash-by-topic" };
 * ```
 */
export interface PublisherPoolOptions {
  /** Number of publish-only connections; 0 or 1 turns the pool off. */
  size: number;
  /**
   * Member choice. `"hash-by-topic"` keeps each topic on one member, so per-topic
   * order holds while the pool is healthy; when that member is down its topics
   * move to the next healthy member (or the main connection), and messages of one
   * topic sent around that moment may arrive out of order.
   *
   * @default {"round-robin"}
   */
  routing?: PoolRoutingPolicy;
  /**
   * Client identifier of member `index` (1-based).
   *
   * @default {`${parent}-pub-${index}`}
   */
  clientId?: (parent: string, index: number) => string;
}
