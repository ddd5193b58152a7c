/**
 * {@linkcode Client}: one MQTT v5 session with the supervisor always on.
 *
 * This file is the facade: the public methods and the wiring. The work is
 * done in rooms beside it (see the README's architecture notes):
 * `connection.ts` (one socket, its read path and the packet dispatch), `keepalive.ts`,
 * `handshake.ts` (CONNECT / CONNACK), `supervisor.ts` (reconnects),
 * `subscriptions.ts` (registry and routing), `publish.ts`, `auth.ts`,
 * `persistence.ts` (the store's write-ahead), `watchdog.ts`, `pool.ts`; and
 * the session itself in `src/session/` (`outbound.ts`, `inbound.ts`,
 * `packet_ids.ts`), plain state machines without I/O.
 *
 * @module
 */

import { MqttError } from "../errors.ts";
import { Inbound } from "../session/inbound.ts";
import { Outbound } from "../session/outbound.ts";
import { packetLength } from "../wire/encode.ts";
import * as PacketType from "../wire/_packet_type.ts";
import type { DisconnectPacket } from "../wire/types.ts";
import { exponentialBackoff } from "./backoff.ts";
import { Core, newStats, noop, type OutEntry } from "./core.ts";
import * as ClientState from "./_client_state.ts";
import { Auth } from "./auth.ts";
import { defaultDial } from "./default_dial.ts";
import { Handshake } from "./handshake.ts";
import type { Message } from "./message.ts";
import {
  checkDropPolicy,
  type ClientOptions,
  defaultQueueSize,
  parseBrokerUrl,
  resolveOptions,
} from "./options.ts";
import { Persistence } from "./persistence.ts";
import { Pool } from "./pool.ts";
import { RateLimiter } from "./rate_limit.ts";
import { noteAlias, Publisher } from "./publish.ts";
import { type ReplyInput, type RequestMessage, RequestResponse } from "./request.ts";
import { StatusStream } from "./status.ts";
import type {
  QueueSubscription,
  QueueTarget,
  SubscribeOptions,
  Subscription,
  SubscriptionToken,
} from "./subscription.ts";
import { Subscriptions } from "./subscriptions.ts";
import { Supervisor } from "./supervisor.ts";
import type {
  ConnackInfo,
  DisconnectOptions,
  PublishOptions,
  PublishResult,
  Stats,
  TopicFilterInput,
} from "./types.ts";
import { Watchdog } from "./watchdog.ts";

export { SubscribeError } from "./subscriptions.ts";

/**
 * The shared state of a client, for the `./otel` entry (src/otel), which sets
 * its `tap`. Not public API: mod.ts does not export it. Throws a TypeError for
 * anything but a Client of this module.
 */
export let coreOf: (client: Client) => Core;

/**
 * An MQTT v5 client: one session, with the supervisor always on. After
 * {@linkcode Client.connect} resolves, every unexpected loss of the connection
 * is repaired automatically (reconnect with backoff, QoS 1/2 publishes in
 * flight replayed with DUP=1, subscriptions re-issued) until
 * {@linkcode Client.disconnect}.
 *
 * @example Connect, subscribe, publish
 * ```ts ignore
 * import { Client } from "@mqttv5/client";
 *
 * await using client = new Client({ broker: "mqtt://localhost:1883", clientId: "demo" });
 * await client.connect();
 * const sub = await client.subscribe([{ topic: "demo/#", qos: 1 }]);
 * await client.publish({ topic: "demo/hello", payload: "world", qos: 1 });
 * for await (const m of sub) {
 *   console.log(m.topic, m.text());
 *   m.ack();
 *   break;
 * }
 * ```
 */
export class Client implements AsyncDisposable {
  readonly #c: Core;
  readonly #publisher: Publisher;
  readonly #rr: RequestResponse;
  #closing: Promise<void> | undefined;

  static {
    coreOf = (client) => client.#c;
  }

  /**
   * Creates a client. Nothing is dialled until {@linkcode Client.connect}.
   *
   * @param options The configuration; only `broker` (or `brokers`) is required.
   * @throws {MqttError} `missing-broker` or `invalid-broker-url`.
   * @throws {TypeError} When an option has the wrong type, or a will topic is invalid.
   * @throws {RangeError} When a number is not an integer or out of range, or an
   * enumerated option (a policy, say) has an unknown value.
   */
  constructor(options: ClientOptions) {
    const o = resolveOptions(options);
    if (o.dial === undefined && defaultDial() === undefined) {
      throw new TypeError(
        "Cannot create a Client without a dial function here: this entry point has no " +
          "runtime transports (a browser or a Worker). Pass dial: wsDial() from " +
          "@mqttv5/client/transport/ws (or cloudflareDial() on Cloudflare Workers)",
      );
    }
    const c = this.#c = new Core(
      o,
      options,
      options.reconnectBackoff ?? exponentialBackoff(1000, 30_000, 200),
      o.stats ? newStats() : null,
    );
    c.persistence = new Persistence(c);
    const limiter = c.limiter = o.rateLimit && new RateLimiter(o.rateLimit, () => c.out.pump());
    c.out = new Outbound<OutEntry>({
      write: (p) => {
        const link = c.link!;
        if (p.type !== PacketType.Publish) return link.writer.send(p);
        if (link.auto !== undefined) return link.auto.send(link.writer, p);
        link.writer.send(p);
        noteAlias(link, p);
      },
      // Without rateLimit every PUBLISH may go: no call on the hot path.
      admit: limiter && ((e) => limiter.admit(e.packet)),
      settle: (e, r) => r instanceof Error ? e.reject(r) : e.resolve(r as PublishResult),
      // Without a store every write is done at once: no call on the hot path.
      persist: options.store === undefined ? undefined : (op, e) => c.persistence.outbound(op, e),
      unencodable: (e, error) =>
        c.log?.error("publish dropped: it no longer encodes", {
          packetId: e.packet.packetId,
          error: error.message,
        }),
      pumped: () => {
        if (c.subs.blocked.size !== 0) c.link?.updateReading();
      },
    });
    c.ids = c.out.ids;
    c.in = new Inbound({
      write: (p) => c.link?.writer.send(p),
      persist: options.store === undefined ? undefined : (op, id) => c.persistence.inbound(op, id),
    }, { receiveMaximum: o.receiveMaximum, topicAliasMaximum: o.inboundTopicAliasMaximum });
    c.supervisor = new Supervisor(c);
    c.handshake = new Handshake(c);
    c.subs = new Subscriptions(c);
    c.watchdog = new Watchdog(c);
    c.auth = new Auth(c);
    c.pool = new Pool(c, (memberOptions) => new Client(memberOptions));
    this.#publisher = new Publisher(c);
    this.#rr = new RequestResponse(c, this.#publisher);
  }

  /** The client identifier in effect: the broker-assigned one when it assigned one. */
  get clientId(): string {
    return this.#c.clientId;
  }

  /** Whether a connection is up. */
  get connected(): boolean {
    return this.#c.state === ClientState.Connected;
  }

  /** The CONNACK of the current (or last) connection, if any. */
  get connack(): ConnackInfo | undefined {
    return this.#c.connack ?? undefined;
  }

  /** The pool's member clients (empty without `publisherPool`). */
  get poolMembers(): readonly Client[] {
    return (this.#c.pool.publishers?.members ?? []) as readonly Client[];
  }

  /**
   * A snapshot of the counters (all zero unless created with `stats: true`).
   *
   * @returns The counters.
   */
  stats(): Stats {
    const c = this.#c;
    const s = c.stats;
    if (s === null) return newStats();
    const out = c.out;
    return {
      ...s,
      publishesSent: s.publishesSent + out.sent,
      publishesAcked: out.acked,
      publishesReplayed: out.replayed,
      publishesInflight: out.size,
      subscriptionsActive: c.subs.targets.size,
      subscriptionsBlocked: c.subs.blocked.size,
    };
  }

  /**
   * A fresh stream of lifecycle events (connected, disconnected, reconnecting,
   * server-disconnect, reauthenticated, dropped, blocked, unblocked, unacked,
   * receive-maximum-exceeded, closed: see {@linkcode StatusEvent}), from now on. Many
   * readers may listen; each has its own bounded buffer (256 events, oldest
   * dropped and counted), so a slow reader never blocks the client. The stream
   * ends after `closed`; leaving the loop early stops it.
   *
   * @returns The stream.
   *
   * @example Usage
   * ```ts ignore
   * for await (const e of client.status()) {
   *   if (e.type === "reconnecting") console.log(`retry ${e.attempt} in ${e.delayMs} ms`);
   * }
   * ```
   */
  status(): StatusStream {
    const c = this.#c;
    const stream = new StatusStream((s) => c.statusStreams.delete(s));
    if (c.state === ClientState.Closed) stream.push({ type: "closed" });
    else c.statusStreams.add(stream);
    return stream;
  }

  /**
   * Replaces the broker list; the next connection attempt uses it.
   *
   * @param urls The new broker URLs, tried in order.
   * @throws {MqttError} `missing-broker` or `invalid-broker-url`.
   * @throws {TypeError} When a URL is not a string.
   */
  setBrokers(...urls: string[]): void {
    if (urls.length === 0) {
      throw new MqttError("missing-broker", "setBrokers needs at least one URL");
    }
    const c = this.#c;
    c.o.brokers = urls.map((u) => parseBrokerUrl(u, c.o.dial !== undefined));
    c.supervisor.brokerIndex = -1; // the next attempt starts at the first URL
  }

  // -------------------------------------------------------------------------
  // Lifecycle

  /**
   * Connects (dial, CONNECT, CONNACK) and starts the supervisor. With several
   * brokers, each is tried in order until one accepts; a list replaced by
   * `setBrokers()` meanwhile (for example from `onServerDisconnect` after a
   * CONNACK redirect) is tried from its first URL.
   *
   * @param options `signal` aborts the attempt.
   * @returns What the broker said in CONNACK.
   * @throws {MqttError} `connect-refused` (with the reason code), `connect-timeout`,
   * `already-connected`, `closed`; or the transport's error.
   */
  async connect(options?: { signal?: AbortSignal }): Promise<ConnackInfo> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const c = this.#c;
    if (c.state === ClientState.Closed) throw c.closedError();
    if (c.state !== ClientState.Idle) {
      throw new MqttError("already-connected", "connect() was already called");
    }
    return await c.supervisor.connect(signal);
  }

  /**
   * Sends DISCONNECT (flushed within `disconnectFlushTimeoutMs`), stops the
   * supervisor and closes the connection. Pending publishes and requests
   * reject with `closed`; subscriptions end. Idempotent.
   *
   * @param options The DISCONNECT's reason code and properties.
   * @returns Resolves once the connection is closed (the DISCONNECT written or
   * its flush timed out).
   * @throws {RangeError} When the reason code is not a DISCONNECT reason code.
   */
  disconnect(options?: DisconnectOptions & { signal?: AbortSignal }): Promise<void> {
    const signal = options?.signal;
    if (this.#closing !== undefined) return this.#signalled(this.#closing, signal);
    const packet: DisconnectPacket = { type: PacketType.Disconnect };
    if (options !== undefined) {
      if (options.reasonCode !== undefined) packet.reasonCode = options.reasonCode;
      const props: DisconnectPacket["properties"] = {};
      if (options.reasonString !== undefined) props.reasonString = options.reasonString;
      if (options.userProperties !== undefined) props.userProperties = options.userProperties;
      if (options.sessionExpirySeconds !== undefined) {
        if (this.#c.o.sessionExpirySeconds === 0 && options.sessionExpirySeconds !== 0) {
          throw new RangeError(
            "disconnect sessionExpirySeconds must stay 0 when the session was opened with 0 (§3.14.2.2.2)",
          );
        }
        props.sessionExpiryInterval = options.sessionExpirySeconds;
      }
      if (Object.keys(props).length > 0) packet.properties = props;
      packetLength(packet); // validate before changing any state
    }
    this.#closing = this.#close(packet, signal);
    return this.#signalled(this.#closing, signal);
  }

  /**
   * `closing` for one disconnect() call: rejects with `signal.reason` when the
   * signal was or got aborted (the client closes all the same, without
   * waiting out the DISCONNECT's flush); later calls without it resolve.
   */
  #signalled(closing: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
    if (signal === undefined) return closing;
    return closing.then(() => {
      if (signal.aborted) throw signal.reason;
    });
  }

  async #close(packet: DisconnectPacket, signal: AbortSignal | undefined): Promise<void> {
    const c = this.#c;
    c.state = ClientState.Closed;
    c.supervisor.stop();
    const poolClosing = c.pool.close();
    const link = c.link;
    await c.supervisor.close(packet, signal);
    const err = new MqttError("closed", "client disconnected");
    // What the program started and never awaited must not crash it now: the calls
    // disconnect() ends reject as before, but marked handled. An UNSUBSCRIBE needs no
    // answer any more: its subscription ended, which is what was asked.
    for (const p of c.calls) p.catch(noop);
    for (const e of c.out.all()) e.promise?.catch(noop);
    c.out.close(err);
    c.limiter?.close();
    this.#rr.close(err);
    for (const r of c.requests.values()) {
      if (r.packet.type === PacketType.Unsubscribe) {
        r.resolve({ type: PacketType.Unsuback, packetId: r.packet.packetId, reasonCodes: [] });
      } else {
        r.reject(err);
      }
    }
    c.requests.clear();
    c.watchdog.close();
    c.subs.close();
    if (link !== null && link.connack !== null) c.emit({ type: "disconnected" });
    c.emit({ type: "closed" });
    c.statusStreams.clear();
    const failed = (await poolClosing).filter((r) => r.status === "rejected");
    if (failed.length > 0) {
      throw new AggregateError(
        failed.map((r) => (r as PromiseRejectedResult).reason),
        "publisher pool members failed to disconnect",
      );
    }
    c.subs.clear();
  }

  /**
   * Same as {@linkcode Client.disconnect} with no options, for `await using`.
   *
   * @returns Resolves once the connection is closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }

  /**
   * Re-authenticates on the live connection (MQTT §4.12.1) with the
   * configured authenticator. A broker that rejects it disconnects; the
   * supervisor then reconnects (authenticating afresh).
   *
   * @param options `signal` stops waiting.
   * @returns Resolves when the broker accepted the re-authentication (AUTH 0x00).
   * @throws {TypeError} The client has no authenticator.
   * @throws {MqttError} `not-connected`, `closed`,
   * `auth-failed` (the exchange failed or the connection dropped during it).
   */
  reauthenticate(options?: { signal?: AbortSignal }): Promise<void> {
    return this.#c.track(() => this.#c.auth.reauthenticate(options?.signal));
  }

  // -------------------------------------------------------------------------
  // Publish

  /**
   * Publishes a message. QoS 0 resolves per `publishMode`; QoS 1 after PUBACK;
   * QoS 2 after PUBCOMP. A QoS 1/2 publish belongs to the session once
   * accepted: it stays pending across a reconnect and is replayed with DUP=1.
   * Under `rateLimit` a publish first waits for its token, in call order.
   *
   * @param message Topic, payload, QoS, retain and properties.
   * @param options `signal` stops waiting (a QoS 1/2 flow already sent still completes; one
   * still waiting for a `rateLimit` token is never sent).
   * @returns The broker's reason code and ack properties (reason code 0 at QoS 0).
   * @throws {TypeError} A bad topic or field (for example a wildcard in the topic, a
   * payload that is neither a string nor a Uint8Array, or a `topicAlias` of your own under
   * `autoTopicAlias`).
   * @throws {RangeError} A `qos` other than 0, 1 or 2.
   * @throws {MqttError} `not-connected`, `closed`, `publish-refused` (with the reason code),
   * `qos-not-supported`, `retain-not-supported`, `packet-too-large`, `write-queue-full`.
   */
  publish(message: PublishOptions, options?: { signal?: AbortSignal }): Promise<PublishResult> {
    return this.#publisher.publish(message, options?.signal);
  }

  // -------------------------------------------------------------------------
  // Request / response (MQTT v5 §4.10)

  /**
   * Publishes a request and resolves with its reply. The request carries a
   * Response Topic and fresh Correlation Data (16 random bytes); the reply is
   * the first message on that topic whose Correlation Data matches exactly.
   * The Response Topic is the client's own, chosen at its first request and
   * kept: under the CONNACK's Response Information when the broker gave one
   * (ask with `requestResponseInformation: true`), else
   * `mqttv5/response/{clientId}/{random}`. One response subscription (QoS 1,
   * made before the first request goes out) serves every request of the
   * client, and is re-issued with the others when the broker lost the
   * session. `properties.responseTopic` names another topic: it too is
   * subscribed to once and kept for the client's life (reuse it; a topic per
   * request would pile up subscriptions). A request in flight across a
   * reconnect keeps waiting: its reply still comes when the session survived
   * (and a QoS 1/2 request is replayed as any publish). A reply that comes
   * after its request settled, or twice, is acked and dropped.
   *
   * @param message The request: topic, payload, QoS (also of the request's
   * PUBLISH flow), properties (no `correlationData`), and `timeoutMs`
   * (default 30 000; 0: no timeout).
   * @param options `signal` stops waiting (a request not yet sent is not sent).
   * @returns The reply, already acked.
   * @throws {TypeError} A bad message, or one with `properties.correlationData`.
   * @throws {RangeError} A `timeoutMs` that is not an integer in 0..2^31-1, or a bad `qos`.
   * @throws {MqttError} `timeout` when no reply came within `timeoutMs`; `closed`
   * when the client was or gets disconnected; `not-connected`; what
   * {@linkcode Client.publish} and {@linkcode Client.subscribe} throw.
   * @throws The `signal.reason` when `options.signal` is or gets aborted.
   *
   * @example Ask a service
   * ```ts ignore
   * const reply = await client.request({ topic: "svc/clock", payload: "now", qos: 1, timeoutMs: 5000 });
   * console.log(reply.text());
   * ```
   *
   * @example Arguments are checked first
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, MqttError } from "@mqttv5/client";
   *
   * const client = new Client({ broker: "mqtt://localhost:1883" });
   * await assert.rejects(client.request({ topic: "svc/clock", timeoutMs: -1 }), RangeError);
   * await assert.rejects(
   *   client.request({ topic: "svc/clock", properties: { correlationData: new Uint8Array(1) } }),
   *   TypeError,
   * );
   * await assert.rejects(
   *   client.request({ topic: "svc/clock" }),
   *   (e) => e instanceof MqttError && e.code === "not-connected",
   * );
   * ```
   */
  request(message: RequestMessage, options?: { signal?: AbortSignal }): Promise<Message> {
    return this.#rr.request(message, options?.signal);
  }

  /**
   * Answers requests: subscribes to `filters` and, for each request, publishes
   * what `handler` returns to the request's Response Topic with its
   * Correlation Data, at the request's QoS (unless the reply says otherwise).
   * Requests are handled concurrently (at QoS 1/2 at most `receiveMaximum`
   * at once) and each is acked once its reply publish settled, so a reply
   * that did not reach the broker leaves the request to be redelivered with
   * the session. A request without a Response Topic is acked and skipped; a
   * handler that throws, or a reply that cannot be published, is logged and
   * answers nothing (the requester times out: reply with an error payload of
   * your own to tell it sooner).
   *
   * @param filters The request topic filters (a string means QoS 0).
   * @param handler Computes the reply of one request: a payload or a message without topic.
   * @param options As {@linkcode Client.subscribeCallback}.
   * @returns The token for {@linkcode Client.unsubscribe}.
   * @throws {MqttError} `nil-handler` and as {@linkcode Client.subscribe}.
   * @throws The `signal.reason` when `options.signal` is or gets aborted.
   *
   * @example Serve a clock
   * ```ts ignore
   * await client.serve([{ topic: "svc/clock", qos: 1 }], () => new Date().toISOString());
   * ```
   *
   * @example A handler is required
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, MqttError } from "@mqttv5/client";
   *
   * const client = new Client({ broker: "mqtt://localhost:1883" });
   * const noHandler = undefined as unknown as () => string;
   * await assert.rejects(
   *   client.serve(["svc/clock"], noHandler),
   *   (e) => e instanceof MqttError && e.code === "nil-handler",
   * );
   * ```
   */
  serve(
    filters: TopicFilterInput[],
    handler: (request: Message) => ReplyInput | Promise<ReplyInput>,
    options?: SubscribeOptions,
  ): Promise<SubscriptionToken> {
    return this.#rr.serve(filters, handler, options);
  }

  // -------------------------------------------------------------------------
  // Subscribe

  /**
   * Subscribes and returns an async iterable of messages over a bounded
   * buffer (default 64). Ack every message. When the buffer is full, the
   * default policy `"block"` drops nothing: the client stops reading from the
   * broker until the consumer catches up (a slow consumer slows the broker;
   * see {@linkcode DropPolicy}). `dropPolicy: "drop-newest"` drops and acks
   * the newest message instead, as the Go reference does.
   *
   * @param filters Topic filters (a string means QoS 0).
   * @param options Buffer, drop policy, drop observer, autoAck, signal.
   * @returns The subscription; iterate it and `ack()` every message.
   * @throws {MqttError} `drop-oldest-unsupported`, `not-connected`, `closed`,
   * `wildcard-subs-unsupported`, `shared-subs-unsupported`, `subscribe-refused`,
   * `packet-ids-exhausted`.
   * @throws {TypeError} An invalid filter, a `buffer` or `dropPolicy` of the wrong type.
   * @throws {RangeError} A `buffer` that is not an integer >= 1, an unknown `dropPolicy`.
   * @throws The `signal.reason` when `options.signal` is or gets aborted.
   */
  subscribe(filters: TopicFilterInput[], options?: SubscribeOptions): Promise<Subscription> {
    const c = this.#c;
    return c.track(async () => {
      options?.signal?.throwIfAborted();
      const explicit = options?.dropPolicy;
      if (explicit === "drop-oldest") {
        throw new MqttError(
          "drop-oldest-unsupported",
          "subscribe() does not support drop-oldest; use subscribeQueue()",
        );
      }
      // A client-wide "drop-oldest" means "drop-newest" for an iterator, as in Go.
      const policy = checkDropPolicy(explicit ?? c.o.dropPolicy);
      const buffer = options?.buffer ?? 64;
      if (typeof buffer !== "number") {
        throw new TypeError(`subscribe buffer must be a number, got ${typeof buffer}`);
      }
      if (!Number.isInteger(buffer) || buffer < 1) {
        throw new RangeError(`subscribe buffer must be an integer >= 1, got ${buffer}`);
      }
      const shape = policy === "drop-oldest" ? "drop-newest" : policy;
      return await c.subs.subscribe(
        filters,
        options,
        (token) => c.subs.queueTarget(token, buffer, shape, options ?? {}),
      ) as QueueTarget;
    });
  }

  /**
   * Subscribes and returns a subscription whose messages land in a
   * {@linkcode Queue}. Under the default policy `"block"` the queue holds up
   * to `maxQueueSize` messages (default 1024) and then slows the broker
   * instead of dropping; `"drop-newest"` / `"drop-oldest"` drop and ack when
   * it is full (unbounded unless `maxQueueSize` is set, as in Go).
   *
   * @param filters Topic filters (a string means QoS 0).
   * @param options Queue bound, drop policy, drop observer, autoAck, signal.
   * @returns The subscription with its `queue`.
   * @throws {MqttError} As {@linkcode Client.subscribe}.
   * @throws {TypeError} An invalid filter, a `maxQueueSize` or `dropPolicy` of the wrong type.
   * @throws {RangeError} A `maxQueueSize` that is not an integer >= 0, an unknown `dropPolicy`.
   * @throws The `signal.reason` when `options.signal` is or gets aborted.
   */
  subscribeQueue(
    filters: TopicFilterInput[],
    options?: SubscribeOptions,
  ): Promise<QueueSubscription> {
    const c = this.#c;
    return c.track(async () => {
      options?.signal?.throwIfAborted();
      const policy = checkDropPolicy(options?.dropPolicy ?? c.o.dropPolicy);
      const limit = options?.maxQueueSize ?? defaultQueueSize(policy, c.o.maxSubscribeQueueSize);
      if (typeof limit !== "number") {
        throw new TypeError(`maxQueueSize must be a number, got ${typeof limit}`);
      }
      if (!Number.isInteger(limit) || limit < 0) {
        throw new RangeError(`maxQueueSize must be an integer >= 0, got ${limit}`);
      }
      return await c.subs.subscribe(
        filters,
        options,
        (token) => c.subs.queueTarget(token, limit, policy, options ?? {}),
      ) as QueueTarget;
    });
  }

  /**
   * Subscribes with a synchronous handler that runs on the read path; each
   * message is acked when the handler returns. The handler must not block.
   *
   * @param filters Topic filters (a string means QoS 0).
   * @param handler Called for each message.
   * @param options `signal` aborts the wait for SUBACK.
   * @returns The token for {@linkcode Client.unsubscribe}.
   * @throws {MqttError} `nil-handler` and as {@linkcode Client.subscribe}.
   * @throws The `signal.reason` when `options.signal` is or gets aborted.
   */
  subscribeCallback(
    filters: TopicFilterInput[],
    handler: (message: Message) => void,
    options?: SubscribeOptions,
  ): Promise<SubscriptionToken> {
    const c = this.#c;
    return c.track(async () => {
      options?.signal?.throwIfAborted();
      if (typeof handler !== "function") {
        throw new MqttError("nil-handler", "subscribeCallback needs a handler function");
      }
      const t = await c.subs.subscribe(
        filters,
        options,
        (token) => c.subs.callbackTarget(token, handler),
      );
      return t.token;
    });
  }

  /**
   * Ends a subscription: its iteration ends at once, and UNSUBSCRIBE is sent
   * for the filters no other subscription of this client holds. Idempotent.
   *
   * @param token The subscription's token.
   * @param options `signal` stops waiting for UNSUBACK.
   * @returns Resolves once the broker answered the UNSUBSCRIBE, or at once when
   * none was needed. While disconnected the UNSUBSCRIBE waits for the next
   * connection (pass a `signal` to bound the wait; the filters are dropped
   * from the resubscribe set either way).
   * @throws {TypeError} When `token` is not a SubscriptionToken.
   * @throws {MqttError} `packet-ids-exhausted` when no packet identifier is free.
   */
  unsubscribe(token: SubscriptionToken, options?: { signal?: AbortSignal }): Promise<void> {
    return this.#c.subs.unsubscribe(token, options?.signal);
  }
}
