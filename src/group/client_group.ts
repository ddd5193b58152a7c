/**
 * {@linkcode ClientGroup}: N parallel sessions to N independent brokers, each
 * member a full {@linkcode Client} with its own session and supervisor, and a
 * publish policy on top.
 *
 * Three multi-broker patterns are kept apart: failover between
 * interchangeable brokers under one session identity is `brokers` on a single
 * `Client`; a `ClientGroup` keeps one session per broker and treats each
 * member as itself (bridges and mirrors across independent brokers,
 * per-broker credentials, a broker fleet you want N sessions into); it never
 * fails over between members.
 *
 * @example Fan out to two regions
 * ```ts ignore
 * import { ClientGroup } from "@mqttv5/client";
 *
 * await using group = new ClientGroup(
 *   [
 *     { broker: "mqtts://emea.example.com", name: "emea", options: { username: "emea-svc" } },
 *     { broker: "mqtts://apac.example.com", name: "apac", options: { username: "apac-svc" } },
 *   ],
 *   { shared: { clientId: "fanout", keepAliveSeconds: 30 }, publishPolicy: "broadcast" },
 * );
 * await group.connect();
 * await group.publish({ topic: "events/deploy", payload: "v42", qos: 1 });
 * for await (const m of await group.subscribe([{ topic: "events/#", qos: 1 }])) {
 *   console.log(m.topic, m.text());
 *   m.ack();
 * }
 * ```
 *
 * @module
 */

import { Client } from "../client/client.ts";
import {
  checkDropPolicy,
  checkEnum,
  type ClientOptions,
  defaultQueueSize,
  type DropPolicy,
  type Logger,
} from "../client/options.ts";
import type { QueueSubscription, SubscribeOptions } from "../client/subscription.ts";
import { SubscriptionToken } from "../client/subscription.ts";
import type {
  ConnackInfo,
  DisconnectOptions,
  PublishOptions,
  PublishResult,
  TopicFilterInput,
} from "../client/types.ts";
import { errorMessage } from "../_internal/error.ts";
import { MqttError } from "../errors.ts";
import { fnv1a32 } from "../client/_fnv.ts";
import { GroupError } from "./group_error.ts";
import {
  type GroupQueueSubscription,
  type GroupSubscription,
  type MemberPart,
  MergedSubscription,
} from "./group_subscription.ts";

export { GroupError, type GroupOperation } from "./group_error.ts";
export type { GroupQueueSubscription, GroupSubscription } from "./group_subscription.ts";

/**
 * How {@linkcode ClientGroup.publish} dispatches a message:
 *
 * - `"broadcast"` (default): to every member at once. Resolves when at least
 *   one member took it; rejects with a {@linkcode GroupError} of every
 *   member's failure otherwise. For members that carry different data
 *   (bridge, mirror).
 * - `"round-robin"`: to one member, the starting member advancing by one per
 *   call. For a fleet of equivalent brokers.
 * - `"hash-by-topic"`: to one member, picked by the FNV-1a hash of the topic
 *   (an empty topic picks the first member), so that each topic keeps its
 *   order while every member is connected.
 *
 * With `"round-robin"` and `"hash-by-topic"` a member that is not connected
 * passes the message on to the next one in member order (briefly reordering
 * that topic under `"hash-by-topic"`).
 *
 * @example Spread publishes over members
 * ```ts
 * import type { GroupPublishPolicy } from "@mqttv5/client";
 *
 * const publishPolicy: GroupPublishPolicy = "round-robin";
 * ```
 */
export type GroupPublishPolicy = "broadcast" | "round-robin" | "hash-by-topic";

const POLICIES: readonly GroupPublishPolicy[] = ["broadcast", "round-robin", "hash-by-topic"];

/**
 * One member of a {@linkcode ClientGroup}: becomes a full `Client` with its
 * own session, supervisor and CONNECT identity.
 *
 * @example Usage
 * ```ts
 * import type { GroupMember } from "@mqttv5/client";
 *
 * const member: GroupMember = {
 *   broker: "mqtts://emea.example.com",
 *   name: "emea",
 *   options: { username: "emea-svc", password: "token-1", clientId: "fanout-emea" },
 * };
 * ```
 */
export interface GroupMember {
  /** The broker URL this member dials. Required. */
  broker: string;
  /**
   * The member's name: the key of subscription token maps, accepted by
   * {@linkcode ClientGroup.member}. Names must be unique.
   *
   * @default {`member-N`, N the 1-based position}
   */
  name?: string;
  /**
   * This member's client options, applied over the group's `shared` options
   * (credentials, TLS, client id, callbacks closing over the name, ...).
   * `broker` is always the member's; `brokers` here adds failover URLs for
   * this member only.
   */
  options?: Partial<ClientOptions>;
}

/**
 * Options of {@linkcode ClientGroup}.
 *
 * @example Usage
 * ```ts
 * import type { ClientGroupOptions } from "@mqttv5/client";
 *
 * const options: ClientGroupOptions = {
 *   shared: { keepAliveSeconds: 30, logger: console },
 *   publishPolicy: "hash-by-topic",
 * };
 * ```
 */
export interface ClientGroupOptions {
  /**
   * Client options for every member, applied before each member's own
   * `options` (which win). `broker` and `brokers` here are ignored.
   */
  shared?: Partial<ClientOptions>;
  /**
   * How `publish()` dispatches.
   *
   * @default {"broadcast"}
   */
  publishPolicy?: GroupPublishPolicy;
  /**
   * Run `connect()`, `disconnect()`, `subscribe()` and unsubscribes one
   * member after the other, in member order, instead of all at once.
   *
   * @default {false}
   */
  sequentialLifecycle?: boolean;
}

/**
 * What {@linkcode ClientGroup.publish} did, member by member.
 *
 * @example Count the members that took a publish
 * ```ts
 * import type { GroupPublishResult } from "@mqttv5/client";
 *
 * const delivered = (r: GroupPublishResult): number => r.results.size;
 * ```
 */
export interface GroupPublishResult {
  /** The members that took the message, with their broker's answer. */
  results: Map<string, PublishResult>;
  /**
   * The members that failed (`"broadcast"`) or were passed over because they
   * could not send (`"round-robin"`, `"hash-by-topic"`), with their errors.
   */
  errors: Map<string, unknown>;
}

/** Errors that mean "this member could not send it": the next member may. */
function notSent(err: unknown): boolean {
  if (!(err instanceof MqttError)) return false;
  return err.code === "not-connected" || err.code === "write-queue-full" || err.code === "closed";
}

/**
 * N parallel sessions to N independent brokers. Each member is a full
 * {@linkcode Client}; the group connects and disconnects them together,
 * dispatches publishes by its {@linkcode GroupPublishPolicy}, and merges
 * subscriptions made on every member into one stream.
 *
 * Member client ids are made unique: when two members resolve to the same
 * non-empty `clientId`, the second gets `-2` appended, the third `-3`, and
 * so on. Give members explicit ids in their own `options` to choose them.
 *
 * **Partial failure.** {@linkcode ClientGroup.connect} rejects with a
 * {@linkcode GroupError} (an `AggregateError`) listing the members that
 * failed, and the members that connected stay connected and usable: the group
 * publishes and subscribes through them; calling `connect()` again retries
 * only the members that are not connected. A member that failed its first
 * connect is not retried in the background (its `Client` never started its
 * supervisor); a member that connected once reconnects on its own after any
 * loss, as every `Client` does.
 *
 * @example Round-robin over a broker fleet
 * ```ts ignore
 * import { ClientGroup, GroupError } from "@mqttv5/client";
 *
 * const group = new ClientGroup(
 *   [{ broker: "mqtt://10.0.0.1" }, { broker: "mqtt://10.0.0.2" }, { broker: "mqtt://10.0.0.3" }],
 *   { publishPolicy: "round-robin" },
 * );
 * try {
 *   await group.connect();
 * } catch (err) {
 *   if (!(err instanceof GroupError) || err.failures.size === group.names().length) throw err;
 *   console.warn("running without", [...err.failures.keys()]);
 * }
 * await group.publish({ topic: "jobs/1", payload: "{}", qos: 1 });
 * await group.disconnect();
 * ```
 */
export class ClientGroup implements AsyncDisposable {
  readonly #clients: Client[];
  readonly #names: string[];
  readonly #byName: Map<string, Client>;
  readonly #loggers: (Logger | undefined)[];
  readonly #policy: GroupPublishPolicy;
  readonly #sequential: boolean;
  readonly #queueLimit: number;
  readonly #queuePolicy: DropPolicy;
  #cursor = 0;
  #closed = false;

  /**
   * Creates one `Client` per member (nothing is dialled until
   * {@linkcode ClientGroup.connect}).
   *
   * @param members The members, at least one.
   * @param options Shared client options, publish policy, lifecycle order.
   * @throws {TypeError} `members` is not a non-empty array, a member or an
   * option has the wrong type (a `broker` or `name` that is not a string).
   * @throws {RangeError} An unknown `publishPolicy`; two members with the same
   * `name`.
   * @throws {MqttError} `missing-broker` (a member without `broker`), or
   * whatever a member's `new Client()` throws (`invalid-broker-url`).
   */
  constructor(members: GroupMember[], options: ClientGroupOptions = {}) {
    if (!Array.isArray(members) || members.length === 0) {
      throw new TypeError("ClientGroup needs a non-empty array of members");
    }
    if (options === null || typeof options !== "object") {
      throw new TypeError("ClientGroup options must be an object");
    }
    const policy = checkEnum("publishPolicy", options.publishPolicy ?? "broadcast", POLICIES);
    const shared: Partial<ClientOptions> = { ...options.shared };
    delete shared.broker;
    delete shared.brokers;
    this.#policy = policy;
    this.#sequential = options.sequentialLifecycle === true;
    this.#queueLimit = shared.maxSubscribeQueueSize ?? -1;
    this.#queuePolicy = shared.dropPolicy ?? "block";

    const names: string[] = [];
    const merged: ClientOptions[] = [];
    members.forEach((m, i) => {
      if (m === null || typeof m !== "object") {
        throw new TypeError(`ClientGroup member ${i} must be an object`);
      }
      if (m.broker === undefined || m.broker === "") {
        throw new MqttError("missing-broker", `ClientGroup member ${i} has no broker URL`);
      }
      if (typeof m.broker !== "string") {
        throw new TypeError(`ClientGroup member ${i}: broker must be a URL string`);
      }
      const name = m.name ?? `member-${i + 1}`;
      if (typeof name !== "string" || name === "") {
        throw new TypeError(`ClientGroup member ${i}: name must be a non-empty string`);
      }
      const first = names.indexOf(name);
      if (first !== -1) {
        throw new RangeError(
          `ClientGroup member ${i}: name "${name}" is already member ${first}'s; names must be unique`,
        );
      }
      names.push(name);
      const own = m.options ?? {};
      const o: ClientOptions = { ...shared, ...own, broker: m.broker };
      if (own.brokers === undefined) delete o.brokers;
      merged.push(o);
    });

    // Unique client ids: the k-th member resolving to id X gets "X-k".
    const wanted = merged.map((o) => o.clientId ?? "");
    const taken = new Set<string>();
    const suffix = new Map<string, number>();
    merged.forEach((o, i) => {
      const id = wanted[i];
      if (id === "") return; // the broker assigns unique ids
      if (!taken.has(id)) {
        taken.add(id);
        return;
      }
      let k = (suffix.get(id) ?? 1) + 1;
      while (taken.has(`${id}-${k}`) || wanted.includes(`${id}-${k}`)) k++;
      suffix.set(id, k);
      o.clientId = `${id}-${k}`;
      taken.add(o.clientId);
    });

    this.#names = names;
    this.#clients = merged.map((o) => new Client(o));
    this.#loggers = merged.map((o) => o.logger);
    this.#byName = new Map(names.map((n, i) => [n, this.#clients[i]]));
  }

  /**
   * The named member's client.
   *
   * @param name A member name.
   * @returns The client, or `undefined` when there is no such member.
   */
  member(name: string): Client | undefined {
    return this.#byName.get(name);
  }

  /**
   * The members' clients in member order, for what the group does not do
   * itself (per-member `stats()`, `status()`, publishing to one member).
   *
   * @returns A new array of the clients.
   */
  members(): Client[] {
    return [...this.#clients];
  }

  /**
   * The member names in member order.
   *
   * @returns A new array of the names.
   */
  names(): string[] {
    return [...this.#names];
  }

  /** The publish policy in effect. */
  get publishPolicy(): GroupPublishPolicy {
    return this.#policy;
  }

  /** Runs `op` on every member (at once, or in order); collects the failures. */
  async #each<T>(
    op: (client: Client, index: number) => Promise<T>,
  ): Promise<{ values: Map<string, T>; failures: Map<string, unknown> }> {
    const values = new Map<string, T>();
    const failures = new Map<string, unknown>();
    const n = this.#clients.length;
    if (this.#sequential) {
      for (let i = 0; i < n; i++) {
        try {
          values.set(this.#names[i], await op(this.#clients[i], i));
        } catch (err) {
          failures.set(this.#names[i], err);
        }
      }
    } else {
      // async: an op that throws synchronously fails its member, not the whole call.
      const settled = await Promise.allSettled(this.#clients.map(async (c, i) => await op(c, i)));
      for (let i = 0; i < n; i++) {
        const s = settled[i];
        if (s.status === "fulfilled") values.set(this.#names[i], s.value);
        else failures.set(this.#names[i], s.reason);
      }
    }
    return { values, failures };
  }

  /**
   * Connects every member that is not connected yet: at once, or in member
   * order with `sequentialLifecycle`.
   *
   * When some members fail, the promise rejects with a {@linkcode GroupError}
   * listing them, and the members that connected stay connected: the group
   * keeps working with them. Calling `connect()` again retries the members
   * that are not connected (members already connected, or reconnecting on
   * their own, are left alone).
   *
   * @param options `signal` aborts every member's attempt.
   * @returns Each member's CONNACK (the latest one for members that were
   * connected already), keyed by member name.
   * @throws {GroupError} With each failed member's error (`connect-refused`,
   * `connect-timeout`, a transport error, ...).
   * @throws {MqttError} `closed` after {@linkcode ClientGroup.disconnect}.
   * @throws The `signal.reason`, unchanged, when `options.signal` is already
   * aborted (no member is dialled) or aborts during the call (members that
   * connected before the abort stay connected, as after a partial failure).
   */
  async connect(options?: { signal?: AbortSignal }): Promise<Map<string, ConnackInfo>> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    if (this.#closed) throw new MqttError("closed", "ClientGroup was disconnected");
    const { values, failures } = await this.#each(async (c) => {
      try {
        return await c.connect(options);
      } catch (err) {
        // Connected, connecting or reconnecting already: this member needs nothing.
        if (err instanceof MqttError && err.code === "already-connected") return c.connack;
        throw err;
      }
    });
    const connacks = new Map<string, ConnackInfo>();
    for (const [name, info] of values) if (info !== undefined) connacks.set(name, info);
    if (failures.size > 0) {
      for (const [name, err] of failures) {
        if (signal?.aborted && err === signal.reason) continue;
        this.#loggers[this.#names.indexOf(name)]?.warn("ClientGroup member did not connect", {
          member: name,
          error: errorMessage(err),
        });
      }
    }
    signal?.throwIfAborted();
    if (failures.size > 0) throw new GroupError("connect", failures);
    return connacks;
  }

  /**
   * Disconnects every member (at once, or in member order with
   * `sequentialLifecycle`), which ends every merged subscription. The group
   * cannot be connected again. Idempotent.
   *
   * An aborted `signal` never leaves the group half-open: when it is already
   * aborted at the call, or aborts during it, every member is still
   * disconnected (without waiting for its DISCONNECT to flush), and only
   * then does the promise reject with `signal.reason`.
   *
   * @param options The DISCONNECT's reason code and properties, for every
   * member; `signal` stops waiting for the DISCONNECTs to flush.
   * @returns Resolves once every member is disconnected.
   * @throws {GroupError} With each member's failure.
   * @throws The `signal.reason`, unchanged, when `options.signal` is already
   * aborted or aborts during the call (every member is disconnected all the same).
   */
  async disconnect(options?: DisconnectOptions & { signal?: AbortSignal }): Promise<void> {
    this.#closed = true;
    const signal = options?.signal;
    const { failures } = await this.#each(async (c) => {
      try {
        await c.disconnect(options);
      } finally {
        // However the member answered an aborted signal, it ends up closed: a
        // second, plain disconnect() returns its close under way, or starts one.
        if (signal?.aborted) await c.disconnect();
      }
    });
    if (signal?.aborted) {
      for (const [name, err] of failures) {
        if (err === signal.reason) continue;
        this.#loggers[this.#names.indexOf(name)]?.warn("ClientGroup member did not disconnect", {
          member: name,
          error: errorMessage(err),
        });
      }
      throw signal.reason;
    }
    if (failures.size > 0) throw new GroupError("disconnect", failures);
  }

  /**
   * Same as {@linkcode ClientGroup.disconnect} with no options, for `await using`.
   *
   * @returns Resolves once every member is disconnected.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }

  /**
   * Publishes `message` by the group's {@linkcode GroupPublishPolicy}.
   *
   * - `"broadcast"`: every member publishes it at once (a member that is
   *   reconnecting holds a QoS 1/2 publish until it is back, as
   *   `Client.publish()` does). Resolves once every member settled, if at
   *   least one succeeded.
   * - `"round-robin"` / `"hash-by-topic"`: one member publishes it. Members
   *   that are not connected, or reject with `not-connected`,
   *   `write-queue-full` or `closed`, pass it on to the next member; any
   *   other error (a broker refusal, a bad topic, an abort) rejects at once
   *   and is never retried on another member, so the message is never sent
   *   twice.
   *
   * @param message The message, as for `Client.publish()`.
   * @param options `signal` aborts the wait (on every member for `"broadcast"`).
   * @returns Who took the message, and who failed or was passed over.
   * @throws {GroupError} No member took the message (each member's error).
   * @throws {MqttError} `closed` after {@linkcode ClientGroup.disconnect};
   * with `"round-robin"` / `"hash-by-topic"`, the error of the member that
   * refused the message.
   * @throws {TypeError} With `"round-robin"` / `"hash-by-topic"`: a bad message.
   * @throws The `signal.reason`, unchanged, when `options.signal` is already
   * aborted (nothing is published, the round-robin cursor does not move) or
   * aborts during the call (members that already took the message keep it;
   * no further member is tried).
   */
  async publish(
    message: PublishOptions,
    options?: { signal?: AbortSignal },
  ): Promise<GroupPublishResult> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    if (this.#closed) throw new MqttError("closed", "ClientGroup was disconnected");
    switch (this.#policy) {
      case "round-robin": {
        const start = this.#cursor;
        this.#cursor = (start + 1) % this.#clients.length;
        return await this.#publishFrom(start, message, options);
      }
      case "hash-by-topic": {
        const topic = message?.topic;
        const start = typeof topic === "string" && topic !== ""
          ? fnv1a32(topic) % this.#clients.length
          : 0;
        return await this.#publishFrom(start, message, options);
      }
      default:
        return await this.#broadcast(message, options);
    }
  }

  async #broadcast(
    message: PublishOptions,
    options: { signal?: AbortSignal } | undefined,
  ): Promise<GroupPublishResult> {
    const settled = await Promise.allSettled(this.#clients.map((c) => c.publish(message, options)));
    options?.signal?.throwIfAborted();
    const results = new Map<string, PublishResult>();
    const errors = new Map<string, unknown>();
    settled.forEach((s, i) => {
      if (s.status === "fulfilled") results.set(this.#names[i], s.value);
      else errors.set(this.#names[i], s.reason);
    });
    if (results.size === 0) throw new GroupError("publish", errors);
    return { results, errors };
  }

  async #publishFrom(
    start: number,
    message: PublishOptions,
    options: { signal?: AbortSignal } | undefined,
  ): Promise<GroupPublishResult> {
    const n = this.#clients.length;
    const errors = new Map<string, unknown>();
    const signal = options?.signal;
    for (let i = 0; i < n; i++) {
      signal?.throwIfAborted();
      const k = (start + i) % n;
      const client = this.#clients[k];
      const name = this.#names[k];
      if (!client.connected) {
        errors.set(name, new MqttError("not-connected", `member "${name}" is not connected`));
        continue;
      }
      try {
        const result = await client.publish(message, options);
        return { results: new Map([[name, result]]), errors };
      } catch (err) {
        if (!notSent(err)) throw err;
        errors.set(name, err);
      }
    }
    signal?.throwIfAborted();
    throw new GroupError("publish", errors);
  }

  /**
   * Subscribes on every member (at once, or in member order with
   * `sequentialLifecycle`) and merges their messages into one async
   * iterable. Every message must be acked; `ack()` goes back to the member
   * that delivered it. The buffer (`buffer`, default 64) bounds the merged
   * stream as a whole. When it is full, the default policy `"block"` drops
   * nothing: the members stop reading from their brokers until the consumer
   * catches up; `dropPolicy: "drop-newest"` drops and acks the newest message
   * instead (`onDrop` observes it).
   *
   * Succeeds when at least one member subscribed: the others' errors are in
   * the subscription's `errors` (and logged with the member's `logger`).
   *
   * @param filters Topic filters (a string means QoS 0).
   * @param options As for `Client.subscribe()`.
   * @returns The merged subscription; `tokens` has each member's token.
   * @throws {GroupError} No member subscribed (each member's error).
   * @throws {MqttError} `drop-oldest-unsupported`; `closed` after `disconnect()`.
   * @throws {TypeError} A `dropPolicy` or `buffer` of the wrong type.
   * @throws {RangeError} An unknown `dropPolicy`; a `buffer` that is not an
   * integer >= 1.
   * @throws The `signal.reason`, unchanged, when `options.signal` is already
   * aborted (checked before anything else: no member subscribes) or aborts
   * during the call (members that subscribed are unsubscribed again).
   */
  async subscribe(
    filters: TopicFilterInput[],
    options?: SubscribeOptions,
  ): Promise<GroupSubscription> {
    options?.signal?.throwIfAborted();
    if (options?.dropPolicy === "drop-oldest") {
      throw new MqttError(
        "drop-oldest-unsupported",
        "subscribe() does not support drop-oldest; use subscribeQueue()",
      );
    }
    const buffer = options?.buffer ?? 64;
    if (typeof buffer !== "number") {
      throw new TypeError(`subscribe buffer must be a number, got ${typeof buffer}`);
    }
    if (!Number.isInteger(buffer) || buffer < 1) {
      throw new RangeError(`subscribe buffer must be an integer >= 1, got ${buffer}`);
    }
    // A group-wide "drop-oldest" means "drop-newest" for an iterator, as for Client.subscribe().
    const policy = options?.dropPolicy ?? this.#queuePolicy;
    return await this.#subscribe(
      filters,
      options,
      buffer,
      policy === "drop-oldest" ? "drop-newest" : checkDropPolicy(policy),
    );
  }

  /**
   * Subscribes on every member and merges their messages into one
   * {@linkcode Queue} (`queue`), unbounded unless `maxQueueSize` is set; when
   * full, `dropPolicy` drops (and acks) the newest or the oldest message.
   * Defaults come from the group's `shared` options
   * (`maxSubscribeQueueSize`, `dropPolicy`). Otherwise as
   * {@linkcode ClientGroup.subscribe}.
   *
   * @param filters Topic filters (a string means QoS 0).
   * @param options As for `Client.subscribeQueue()`.
   * @returns The merged subscription with its `queue`.
   * @throws {GroupError} No member subscribed (each member's error).
   * @throws {MqttError} `closed`.
   * @throws {TypeError} A `dropPolicy` or `maxQueueSize` of the wrong type.
   * @throws {RangeError} An unknown `dropPolicy`; a `maxQueueSize` that is not
   * an integer >= 0.
   * @throws The `signal.reason`, as for {@linkcode ClientGroup.subscribe}.
   */
  async subscribeQueue(
    filters: TopicFilterInput[],
    options?: SubscribeOptions,
  ): Promise<GroupQueueSubscription> {
    options?.signal?.throwIfAborted();
    const policy = checkDropPolicy(options?.dropPolicy ?? this.#queuePolicy);
    const limit = options?.maxQueueSize ?? defaultQueueSize(policy, this.#queueLimit);
    if (typeof limit !== "number") {
      throw new TypeError(`maxQueueSize must be a number, got ${typeof limit}`);
    }
    if (!Number.isInteger(limit) || limit < 0) {
      throw new RangeError(`maxQueueSize must be an integer >= 0, got ${limit}`);
    }
    return await this.#subscribe(filters, options, limit, policy);
  }

  async #subscribe(
    filters: TopicFilterInput[],
    options: SubscribeOptions | undefined,
    limit: number,
    policy: DropPolicy,
  ): Promise<MergedSubscription> {
    if (this.#closed) throw new MqttError("closed", "ClientGroup was disconnected");
    const signal = options?.signal;
    signal?.throwIfAborted();
    // Each member delivers into its own queue; the merged queue applies the bound. Under
    // "block" a member's queue is bounded too and the merged stream pulls from it only
    // when it has room, so a slow consumer slows every member's broker; under a drop
    // policy the member queues are unbounded and the merged queue drops.
    const memberOptions: SubscribeOptions = {
      ...options,
      maxQueueSize: policy === "block" ? Math.max(limit, 1) : 0,
      dropPolicy: policy === "block" ? "block" : "drop-newest",
      onDrop: undefined,
    };
    const { values, failures } = await this.#each((c) => c.subscribeQueue(filters, memberOptions));
    const parts: MemberPart[] = [];
    for (const name of this.#names) {
      const sub = values.get(name);
      if (sub !== undefined) {
        parts.push({ name, sub });
        continue;
      }
      // A partly refused SUBSCRIBE still delivers the granted filters.
      const err = failures.get(name) as { subscription?: unknown } | undefined;
      const partial = err?.subscription as QueueSubscription | undefined;
      if (partial !== undefined && partial.token instanceof SubscriptionToken) {
        parts.push({ name, sub: partial });
      }
    }
    if (signal?.aborted || parts.length === 0) {
      // Disposal waits for UNSUBACK only while a member is connected, never through an outage.
      await Promise.allSettled(parts.map((p) => p.sub[Symbol.asyncDispose]()));
      signal?.throwIfAborted();
      throw new GroupError("subscribe", failures);
    }
    for (const [name, err] of failures) {
      this.#loggers[this.#names.indexOf(name)]?.warn("ClientGroup member did not subscribe", {
        member: name,
        error: errorMessage(err),
      });
    }
    return new MergedSubscription(
      parts,
      failures,
      limit,
      policy,
      options?.onDrop,
      this.#sequential,
    );
  }

  /**
   * Ends one member's part of a subscription (see
   * {@linkcode GroupSubscription.tokens}); the merged stream goes on with
   * the other members and ends when the last part ends.
   *
   * @param name The member name.
   * @param token That member's token.
   * @param options `signal` stops waiting for UNSUBACK.
   * @returns Resolves once that member's broker answered the UNSUBSCRIBE.
   * @throws {RangeError} There is no member `name`.
   * @throws The `signal.reason`, unchanged, when `options.signal` is already
   * aborted (the part is left as it is) or aborts while waiting for UNSUBACK
   * (the part has ended; the UNSUBSCRIBE stays on its way).
   */
  async unsubscribe(
    name: string,
    token: SubscriptionToken,
    options?: { signal?: AbortSignal },
  ): Promise<void> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const client = this.#byName.get(name);
    if (client === undefined) throw new RangeError(`ClientGroup has no member "${name}"`);
    await client.unsubscribe(token, options);
    signal?.throwIfAborted();
  }

  /**
   * Unsubscribes every token of `tokens` (a {@linkcode GroupSubscription.tokens}
   * map, or any map of member names to tokens).
   *
   * @param tokens Tokens keyed by member name.
   * @param options `signal` stops waiting for the UNSUBACKs.
   * @returns Resolves once every member's broker answered.
   * @throws {GroupError} With each member's failure (an unknown name fails with a `RangeError`).
   * @throws The `signal.reason`, unchanged, when `options.signal` is already
   * aborted (no part is touched) or aborts during the call (with
   * `sequentialLifecycle`, the members not reached yet are left as they are).
   */
  async unsubscribeAll(
    tokens: ReadonlyMap<string, SubscriptionToken>,
    options?: { signal?: AbortSignal },
  ): Promise<void> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const failures = new Map<string, unknown>();
    const entries = [...tokens];
    const run = async ([name, token]: [string, SubscriptionToken]) => {
      try {
        await this.unsubscribe(name, token, options);
      } catch (err) {
        failures.set(name, err);
      }
    };
    if (this.#sequential) {
      for (const e of entries) {
        if (signal?.aborted) break;
        await run(e);
      }
    } else await Promise.all(entries.map(run));
    signal?.throwIfAborted();
    if (failures.size > 0) throw new GroupError("unsubscribe", failures);
  }
}
