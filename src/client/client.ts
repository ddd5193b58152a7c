/**
 * {@linkcode Client}: one MQTT v5 session with the supervisor always on.
 *
 * @module
 */

import { MqttError } from "../errors.ts";
import { PacketDecoder } from "../wire/decode.ts";
import { packetLength, PINGREQ_BYTES } from "../wire/encode.ts";
import { PacketType } from "../wire/types.ts";
import type {
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  PublishPacket,
  PublishProperties,
  QoS,
  SubackPacket,
  SubscribeFilter,
  UnsubackPacket,
} from "../wire/types.ts";
import { TopicTrie } from "../topic/trie.ts";
import { topicMatchesFilter } from "../topic/match.ts";
import { splitSharedFilter, topicFilterError } from "../topic/validate.ts";
import type { Connection, DialFunc } from "../transport/types.ts";
import { type Backoff, exponentialBackoff } from "./backoff.ts";
import { Message, slotOf } from "./message.ts";
import {
  Inbound,
  type InboundSlot,
  InboundStoreOp,
  Qos2State,
  Verdict,
} from "../session/inbound.ts";
import {
  FlowState,
  newFlow,
  Outbound,
  type OutFlow,
  sizeError,
  StoreOp,
} from "../session/outbound.ts";
import type { PacketIds } from "../session/packet_ids.ts";
import { deferred as withResolvers } from "../_internal/async.ts";
import { toError } from "../_internal/error.ts";
import {
  checkDropPolicy,
  type ClientOptions,
  type ConnectOptions,
  defaultQueueSize,
  type DropPolicy,
  isTlsUrl,
  type Logger,
  parseBrokerUrl,
  redact,
  type ResolvedOptions,
  resolveOptions,
} from "./options.ts";
import {
  CallbackTarget,
  type FlowControl,
  type QueueSubscription,
  QueueTarget,
  type SubscribeOptions,
  type Subscription,
  SubscriptionToken,
  type Target,
} from "./subscription.ts";
import type {
  ConnackInfo,
  DisconnectOptions,
  PublishOptions,
  PublishResult,
  Stats,
  TopicFilter,
  TopicFilterInput,
} from "./types.ts";
import { Writer } from "./writer.ts";
import { PublisherPool } from "./pool.ts";
import { type StatusEvent, StatusStream } from "./status.ts";

/**
 * A SUBSCRIBE that the broker refused in part. The granted filters stay
 * subscribed: `subscription` delivers them; `refused` lists the others.
 *
 * @example Usage
 * ```ts
 * import { SubscribeError } from "@mqttv5/client";
 *
 * function report(err: unknown) {
 *   if (err instanceof SubscribeError) {
 *     for (const r of err.refused) console.log(r.topic, r.reasonCode.toString(16));
 *   }
 * }
 * ```
 */
export class SubscribeError extends MqttError {
  /** The filters the broker refused, with its reason codes. */
  readonly refused: { topic: string; reasonCode: number }[];
  /** The live subscription for the granted filters. */
  readonly subscription: Subscription | undefined;

  /**
   * Builds the error for a partly or wholly refused SUBSCRIBE. The client
   * throws it; applications only catch it.
   *
   * @param refused The refused filters with their SUBACK reason codes.
   * @param subscription The live subscription for the granted filters, if any.
   * @internal
   */
  constructor(
    refused: { topic: string; reasonCode: number }[],
    subscription: Subscription | undefined,
  ) {
    super(
      "subscribe-refused",
      `broker refused ${refused.length} filter(s): ${
        refused.map((r) => `${r.topic} (0x${r.reasonCode.toString(16)})`).join(", ")
      }`,
      { reasonCode: refused[0].reasonCode },
    );
    this.name = "SubscribeError";
    this.refused = refused;
    this.subscription = subscription;
  }
}

const IDLE = 0;
const CONNECTING = 1;
const CONNECTED = 2;
const RECONNECTING = 3;
const CLOSED = 4;

/** How long a resumed session's unclaimed messages wait for a subscription. */
const PARK_MS = 5000;
const PARK_MAX = 65535;

const QOS0_RESULT: PublishResult = Object.freeze({ reasonCode: 0 }) as PublishResult;
const QOS0_RESOLVED: Promise<PublishResult> = Promise.resolve(QOS0_RESULT);
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** An outbound QoS 1/2 publish owned by the session, with its caller's promise. */
interface OutEntry extends OutFlow {
  resolve: (r: PublishResult) => void;
  reject: (e: Error) => void;
  /** The promise publish() returned, marked handled when disconnect() rejects it. */
  promise?: Promise<PublishResult>;
}

/** Microtask hops a read waits for the application to send something before a nudge. */
const NUDGE_HOPS = 8;
/** Nudges allowed between two answers the client was waiting for. */
const NUDGES = 4;
/** Drops of one subscription are logged at most this often. */
const DROP_LOG_MS = 10_000;
const noop = () => {};

/** Drops of one subscription not logged yet (logging is rate-limited). */
interface DropLog {
  pending: number;
  total: number;
  /** When drops were last logged (ms). */
  at: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  flush: () => void;
}

/** How many times connect() follows a new broker list set while it runs. */
const MAX_CONNECT_REDIRECTS = 8;

/** A SUBSCRIBE / UNSUBSCRIBE awaiting its ack. */
interface Request {
  packet: Packet & { packetId: number };
  resolve: (p: SubackPacket | UnsubackPacket) => void;
  reject: (e: Error) => void;
}

/** One topic filter held at the broker, and the subscriptions that share it. */
interface FilterState {
  filter: TopicFilter & { qos: QoS };
  holders: Target[];
  /** The subscription identifier of the SUBSCRIBE that set it (0: none). */
  subId: number;
  /** Settles with the SUBACK reason code of the SUBSCRIBE in flight for it, if any. */
  ready: Promise<number> | undefined;
}

/** The per-connection half of the client. */
class Link {
  readonly writer: Writer;
  readonly decoder: PacketDecoder;
  connack: ConnackInfo | null = null;
  closed = false;
  /** A protocol failure is being handled: stop processing input. */
  halted = false;
  lastRx = Date.now();
  lastTx = Date.now();
  pingDeadline = 0;
  timer: ReturnType<typeof setInterval> | undefined;
  outAliases: Map<number, string> | undefined;
  onConnack: ((p: ConnackPacket) => void) | undefined;
  onFail: ((e: Error) => void) | undefined;
  /** Packets that arrived after CONNACK, before the connection was set up. */
  early: Packet[] | undefined;
  /** A re-authentication in progress. */
  reauth: PromiseWithResolvers<void> | undefined;
  /** Waits of ending subscriptions for UNSUBACK, stopped when the link goes down. */
  enders: Set<AbortController> | undefined;
  upAt = 0;
  /** Reading is held back for a full subscription (flow control). */
  paused = false;
  /**
   * Input held while reading is paused, in order: chunks that arrived, and the
   * decoded packets left of the chunk whose message filled a subscription.
   */
  held: (Uint8Array | Packet[])[] | undefined;
  /** A microtask is about to process `held`. */
  draining = false;
  /** `writer.appended` when the latest read started: unchanged means nothing was sent since. */
  rxMark = 0;
  /** A nudge check is pending, and the hops it has left. */
  nudging = false;
  nudgeHops = 0;
  nudgeTick: () => void = noop;
  /** Nudges left until the broker next answers something we wait for (then NUDGES again). */
  nudgeBudget = NUDGES;
  /** The broker exceeded our Receive Maximum on this connection (reported once). */
  rmExceeded = false;

  constructor(
    readonly conn: Connection,
    readonly url: URL,
    o: ResolvedOptions,
    onWriteError: (e: Error) => void,
  ) {
    this.writer = new Writer(conn, {
      batch: o.writeBatch,
      queueSize: o.writeQueueSize,
      onWrite: () => this.lastTx = Date.now(),
    }, onWriteError);
    this.decoder = new PacketDecoder(
      o.maximumPacketSize > 0 ? { maximumPacketSize: o.maximumPacketSize } : undefined,
    );
  }
}

function newStats(): Stats {
  return {
    connects: 0,
    connectFailures: 0,
    disconnects: 0,
    serverDisconnects: 0,
    pingTimeouts: 0,
    publishesSent: 0,
    publishesAcked: 0,
    publishesInflight: 0,
    publishesReplayed: 0,
    inboundPublishes: 0,
    inboundDropped: 0,
    inboundBlocked: 0,
    subscriptionsBlocked: 0,
    unackedWarnings: 0,
    receiveMaximumExceeded: 0,
    subscribesSent: 0,
    unsubscribesSent: 0,
    subscriptionsActive: 0,
    poolFallbacks: 0,
  };
}

/**
 * Every failure to connect is an `MqttError` (API.md "Errors"): a connection
 * that ends before CONNACK is `connect-failed`, as is a dial function's plain
 * error; the runtime's error stays as `cause`. Aborts (the caller's signal,
 * the connect timeout) and bad arguments pass unchanged.
 */
function connectError(
  err: unknown,
  url: URL,
  signal: AbortSignal | undefined,
  attempt: AbortSignal,
): unknown {
  if (signal?.aborted && err === signal.reason) return err;
  if (attempt.aborted && err === attempt.reason) return err;
  if (err instanceof TypeError || err instanceof RangeError) return err;
  const at = `${url.hostname}:${url.port}`;
  // By name too: a transport bundled apart (two copies of the package) has its own class.
  if (err instanceof MqttError || (err instanceof Error && err.name === "MqttError")) {
    if ((err as MqttError).code !== "connection-lost") return err;
    return new MqttError(
      "connect-failed",
      `the connection to ${at} ended before CONNACK: ${err.message}`,
      { cause: err, reasonCode: (err as MqttError).reasonCode },
    );
  }
  const e = toError(err);
  return new MqttError("connect-failed", `cannot connect to ${at}: ${e.message}`, { cause: e });
}

function firstOf(d: Message | Message[]): Message {
  return Array.isArray(d) ? d[0] : d;
}

/**
 * Why the first bytes from `url`, before CONNACK, come from a server that
 * speaks HTTP (a WebSocket port) or TLS instead of MQTT, naming the fix; or
 * undefined.
 */
function notMqtt(chunk: Uint8Array, url: URL): MqttError | undefined {
  const b0 = chunk[0];
  if (b0 === 0x20 || b0 === 0xf0) return undefined;
  const at = `${url.hostname}:${url.port}`;
  if (
    chunk.length >= 5 && b0 === 0x48 && chunk[1] === 0x54 && chunk[2] === 0x54 &&
    chunk[3] === 0x50 && chunk[4] === 0x2f
  ) {
    return new MqttError(
      "connect-failed",
      `${at} answered in HTTP, not MQTT: this port speaks WebSocket (or HTTP). Use ws:// ` +
        "(wss://) with dial: wsDial() from @mqttv5/client/transport/ws, or the broker's MQTT port",
    );
  }
  if ((b0 === 0x15 || b0 === 0x16) && chunk[1] === 0x03) {
    return new MqttError(
      "connect-failed",
      `${at} answered in TLS, not MQTT: this port speaks TLS. Use mqtts:// for it`,
    );
  }
  return undefined; // some other packet: the decoder and #onPacket judge it
}

function connackInfo(p: ConnackPacket): ConnackInfo {
  const pr = p.properties ?? {};
  const info: ConnackInfo = {
    sessionPresent: p.sessionPresent,
    reasonCode: p.reasonCode,
    receiveMaximum: pr.receiveMaximum ?? 65535,
    maximumQoS: (pr.maximumQoS ?? 2) as QoS,
    retainAvailable: pr.retainAvailable ?? true,
    topicAliasMaximum: pr.topicAliasMaximum ?? 0,
    wildcardSubscriptionAvailable: pr.wildcardSubscriptionAvailable ?? true,
    subscriptionIdentifiersAvailable: pr.subscriptionIdentifiersAvailable ?? true,
    sharedSubscriptionAvailable: pr.sharedSubscriptionAvailable ?? true,
    userProperties: pr.userProperties ? [...pr.userProperties] : [],
  };
  if (pr.assignedClientIdentifier !== undefined) {
    info.assignedClientIdentifier = pr.assignedClientIdentifier;
  }
  if (pr.serverKeepAlive !== undefined) info.serverKeepAlive = pr.serverKeepAlive;
  if (pr.sessionExpiryInterval !== undefined) info.sessionExpiryInterval = pr.sessionExpiryInterval;
  if (pr.maximumPacketSize !== undefined) info.maximumPacketSize = pr.maximumPacketSize;
  if (pr.responseInformation !== undefined) info.responseInformation = pr.responseInformation;
  if (pr.serverReference !== undefined) info.serverReference = pr.serverReference;
  if (pr.reasonString !== undefined) info.reasonString = pr.reasonString;
  return info;
}

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
  #o: ResolvedOptions;
  #options: ClientOptions;
  #log: Logger | undefined;
  #backoff: Backoff;
  #state = IDLE;
  #link: Link | null = null;
  #connack: ConnackInfo | null = null;
  #clientId: string;
  #brokerIndex = 0;
  #retry = 0;
  #firstConnectDone = false;
  #sleepTimer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;
  #supervising = false;
  #closing: Promise<void> | undefined;

  // The session (outlives connections): the engines of src/session, driven from here.
  #out: Outbound<OutEntry>;
  #in: Inbound;
  #ids: PacketIds;
  #requests = new Map<number, Request>();

  // Subscriptions.
  #trie = new TopicTrie<FilterState>();
  #filters = new Map<string, FilterState>();
  #bySubId = new Map<number, FilterState[]>();
  #nextSubId = 1;
  #targets = new Map<number, { target: Target; filters: string[] }>();
  #epoch = 0;
  #scratch: Target[] = [];
  #visit = (fs: FilterState) => {
    this.#collecting?.push(fs);
    this.#collect(fs);
  };

  #stats: Stats | null;

  // Flow control and the application's mistakes, made visible.
  /** `"block"` subscriptions whose full buffer holds the broker back. */
  #blocked = new Set<QueueTarget>();
  #flow: FlowControl = {
    block: (t) => {
      this.#blocked.add(t);
      if (this.#stats !== null) this.#stats.inboundBlocked++;
      this.#log?.debug("subscription buffer full: reading from the broker paused", {
        subscription: t.token.id,
        buffered: t.queue.length,
      });
      if (this.#statusStreams.size > 0) {
        this.#emit({ type: "blocked", token: t.token, buffered: t.queue.length });
      }
      this.#armWatch();
      this.#updateReading(this.#link);
    },
    unblock: (t) => {
      if (!this.#blocked.delete(t)) return;
      if (this.#statusStreams.size > 0) {
        this.#emit({ type: "unblocked", token: t.token, blockedMs: Date.now() - t.blockedAt });
      }
      this.#updateReading(this.#link);
    },
  };
  /** The watchdog for unacked messages and long-blocked subscriptions. */
  #watchTimer: ReturnType<typeof setTimeout> | undefined;
  /** Per subscription: drops not yet logged, and when drops were last logged. */
  #dropLog = new Map<number, DropLog>();
  /** Public calls in progress (subscribe, unsubscribe, ...), marked handled if disconnect() ends them. */
  #calls = new Set<Promise<unknown>>();

  /** Publish-only member clients (publisherPool), created at the first connect. */
  #pool: PublisherPool<Client> | undefined;
  #poolRetry: Promise<void>[] = [];

  /** Creates and connects the pool's members once the main connection is up. */
  #startPool(): void {
    const spec = this.#options.publisherPool;
    if (spec === undefined || spec.size <= 1 || this.#pool !== undefined) return;
    const parent = this.#clientId;
    const idFor = spec.clientId ?? ((p: string, i: number) => `${p}-pub-${i}`);
    const members: Client[] = [];
    for (let i = 1; i <= spec.size; i++) {
      members.push(
        new Client({
          ...this.#options,
          clientId: idFor(parent, i),
          // Publish-only: no session to resume, no will, no store, none of the parent's callbacks.
          cleanStart: true,
          cleanStartOnReconnect: true,
          sessionExpirySeconds: 0,
          will: undefined,
          store: undefined,
          publisherPool: undefined,
          onConnectionUp: undefined,
          onConnectionDown: undefined,
          onServerDisconnect: undefined,
          onReconnectAttempt: undefined,
          onConnectError: undefined,
        }),
      );
    }
    this.#pool = new PublisherPool(members, spec.routing ?? "round-robin");
    const firstTries: Promise<void>[] = [];
    for (const m of members) {
      let tried!: () => void;
      firstTries.push(new Promise<void>((r) => tried = r));
      this.#poolRetry.push(this.#connectMember(m, tried));
    }
    this.#poolReady = Promise.all(firstTries).then(() => {});
  }

  /** Connects one member, retrying with the backoff until it is up or the client closes. */
  async #connectMember(m: Client, tried: () => void): Promise<void> {
    for (let attempt = 0; this.#state !== CLOSED; attempt++) {
      try {
        await m.connect();
        tried();
        return;
      } catch (err) {
        tried(); // the first attempt is over: connect() stops waiting for this member
        if (this.#state === CLOSED) return;
        this.#log?.warn("publisher pool member failed to connect", { error: toError(err).message });
        let delay = 1000;
        try {
          delay = Math.max(0, Number(this.#backoff(attempt)) || 0);
        } catch {
          // keep 1000
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.#poolTimers.add(t);
          this.#poolWake.add(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    }
  }

  #poolTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Settles when every pool member's first connection attempt is over. */
  #poolReady: Promise<void> | undefined;
  #poolWake = new Set<() => void>();

  /** The pool's member clients (empty without `publisherPool`). */
  get poolMembers(): readonly Client[] {
    return this.#pool?.members ?? [];
  }
  #statusStreams = new Set<StatusStream>();

  #emit(e: StatusEvent): void {
    for (const s of this.#statusStreams) s.push(e);
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
    const stream = new StatusStream((s) => this.#statusStreams.delete(s));
    if (this.#state === CLOSED) stream.push({ type: "closed" });
    else this.#statusStreams.add(stream);
    return stream;
  }
  /** Unclaimed messages of a resumed session, held until PARK_MS after CONNACK. */
  #parked: Message[] = [];
  #parkUntil = 0;
  #parkTimer: ReturnType<typeof setTimeout> | undefined;

  /** Delivers held messages that `target`'s filters match. */
  #claimParked(target: Target, filters: string[]): void {
    if (this.#parked.length === 0) return;
    const keep: Message[] = [];
    for (const m of this.#parked) {
      if (filters.some((f) => topicMatchesFilter(f, m.topic))) target.deliver(m);
      else keep.push(m);
    }
    this.#parked = keep;
  }

  /** Ends the holding period: unclaimed messages are acked and dropped (or, with no connection, forgotten). */
  #releaseParked(connectionGone: boolean): void {
    clearTimeout(this.#parkTimer);
    this.#parkTimer = undefined;
    this.#parkUntil = 0;
    const parked = this.#parked;
    if (parked.length === 0) return;
    this.#parked = [];
    if (!connectionGone) {
      this.#log?.warn("acked messages no subscription claimed", { count: parked.length });
    }
    for (const m of parked) {
      if (connectionGone) {
        // Never acked: the broker delivers them again with the session.
        const slot = slotOf(m);
        if (slot !== null) this.#in.forget(slot);
      } else {
        m.ack();
      }
    }
  }
  #store: ClientOptions["store"];
  /** The store must be read (first connect) or reconciled (after a failure) before the next CONNECT. */
  #storeState: "unloaded" | "loaded" | "failed" = "unloaded";

  /**
   * Runs one store mutation. Returns undefined when it completed synchronously
   * (and succeeded), or a promise of whether it succeeded. A failure stops the
   * connection as a crash would (closed without DISCONNECT, so the will fires)
   * and rejects `entry`, if given.
   */
  #stored(op: () => void | Promise<void>, entry?: OutEntry): Promise<boolean> | undefined {
    let r: void | Promise<void>;
    try {
      r = op();
    } catch (err) {
      this.#storeFailed(err, entry);
      return Promise.resolve(false);
    }
    if (r === undefined || typeof (r as Promise<void>).then !== "function") return undefined;
    return (r as Promise<void>).then(() => true, (err) => {
      this.#storeFailed(err, entry);
      return false;
    });
  }

  #storeFailed(cause: unknown, entry: OutEntry | undefined): void {
    const err = cause instanceof MqttError && cause.code === "store-failed"
      ? cause
      : new MqttError("store-failed", "session store write failed", { cause });
    this.#log?.error("session store write failed", { error: err.message });
    // Never stored, so never sent: the caller learns it was not published.
    if (entry !== undefined) this.#out.storeFailed(entry, err);
    if (this.#storeState === "failed") return;
    this.#storeState = "failed";
    try {
      this.#options.onConnectError?.(err);
    } catch {
      // observer only
    }
    // Stop as a crash would: close without DISCONNECT, so every broker publishes the will.
    // (DISCONNECT 0x80 should do the same per [MQTT-3.14.4-3], but mosquitto 2.0.11
    // discards the will on every DISCONNECT except reason 0x04: measured.)
    const link = this.#link;
    if (link !== null && link.connack !== null) this.#linkDown(link, err, false);
  }

  /**
   * Reads the store before the first CONNECT (restoring flows a previous
   * process left), or reconciles it with memory after a failure.
   */
  async #loadStore(): Promise<void> {
    const store = this.#store;
    if (store === undefined || this.#storeState === "loaded") return;
    if (this.#storeState === "failed") await store.recover?.();
    const saved = await store.load();
    if (this.#storeState === "unloaded") {
      for (const r of saved.outbound) {
        // A flow of a previous process: nobody awaits it, the session completes it.
        const flow = newFlow({ ...r.packet, packetId: r.packetId }, null) as OutEntry;
        flow.state = r.stage === "pubrel" ? FlowState.AwaitingComp : FlowState.AwaitingAck;
        flow.unsent = false;
        flow.checkedBy = undefined;
        flow.abandoned = true;
        flow.resolve = noop;
        flow.reject = noop;
        this.#out.restore(flow);
      }
      for (const id of saved.inbound) this.#in.restore(id);
    } else {
      // After a failure, memory is the truth: put back what is missing, drop what is stale.
      const stored = new Set(saved.outbound.map((r) => r.packetId));
      for (const r of saved.outbound) {
        if (this.#out.get(r.packetId) === undefined) await store.deleteOutbound(r.packetId);
      }
      for (const e of [...this.#out.all()]) {
        const id = e.packet.packetId;
        if (id !== undefined && !stored.has(id)) {
          await store.putOutbound(id, e.packet);
          if (e.state === FlowState.AwaitingComp) await store.releaseOutbound(id);
        }
      }
      const inbound = new Set(saved.inbound);
      for (const id of inbound) {
        const st = this.#in.qos2(id);
        if (st === Qos2State.Recording) this.#in.markRecorded(id); // its record did land
        else if (st !== Qos2State.Recorded) await store.deleteInbound(id);
      }
      for (const [id, st] of [...this.#in.qos2States()]) {
        if (st === Qos2State.Recording || (st === Qos2State.Recorded && !inbound.has(id))) {
          await store.putInbound(id);
          this.#in.markRecorded(id);
        }
      }
    }
    this.#storeState = "loaded";
  }

  /**
   * Creates a client. Nothing is dialled until {@linkcode Client.connect}.
   *
   * @param options The configuration; only `broker` (or `brokers`) is required.
   * @throws {MqttError} `missing-broker`, `invalid-broker-url` or `invalid-option`.
   * @throws {TypeError} When an option has the wrong type.
   * @throws {RangeError} When a number is out of range.
   */
  constructor(options: ClientOptions) {
    this.#o = resolveOptions(options);
    this.#options = options;
    this.#log = options.logger;
    this.#backoff = options.reconnectBackoff ?? exponentialBackoff(1000, 30_000, 200);
    this.#clientId = this.#o.clientId;
    this.#stats = this.#o.stats ? newStats() : null;
    this.#store = options.store;
    this.#out = new Outbound<OutEntry>({
      write: (p) => {
        const link = this.#link!;
        link.writer.send(p);
        if (p.type === PacketType.Publish) this.#noteAlias(link, p);
      },
      settle: (e, r) => r instanceof Error ? e.reject(r) : e.resolve(r as PublishResult),
      persist: (op, e) => this.#persistOut(op, e),
      unencodable: (e, error) =>
        this.#log?.error("publish dropped: it no longer encodes", {
          packetId: e.packet.packetId,
          error: error.message,
        }),
      pumped: () => {
        if (this.#blocked.size !== 0) this.#updateReading(this.#link);
      },
    });
    this.#ids = this.#out.ids;
    this.#in = new Inbound({
      write: (p) => this.#link?.writer.send(p),
      persist: (op, id) => this.#persistIn(op, id),
    }, {
      receiveMaximum: this.#o.receiveMaximum,
      topicAliasMaximum: this.#o.inboundTopicAliasMaximum,
    });
  }

  /** A store write the outbound session asks for (write-ahead); true when done. */
  #persistOut(op: StoreOp, e: OutEntry): boolean {
    const store = this.#store;
    if (store === undefined) return true;
    const id = e.packet.packetId as number;
    if (op === StoreOp.Delete) {
      this.#stored(() => store.deleteOutbound(id));
      return true;
    }
    const stored = op === StoreOp.Put
      ? this.#stored(() => store.putOutbound(id, e.packet), e)
      : this.#stored(() => store.releaseOutbound(id));
    if (stored === undefined) return true;
    stored.then((ok) => {
      if (ok) this.#out.stored(e);
    });
    return false;
  }

  /** A store write the inbound session asks for (write-ahead); true when done. */
  #persistIn(op: InboundStoreOp, id: number): boolean {
    const store = this.#store;
    if (store === undefined) return true;
    const stored = this.#stored(() =>
      op === InboundStoreOp.Put ? store.putInbound(id) : store.deleteInbound(id)
    );
    if (stored === undefined) return true;
    const connection = this.#in.connection;
    stored.then((ok) => {
      if (ok) this.#in.stored(op, id, connection);
    });
    return false;
  }

  /** The client identifier in effect: the broker-assigned one when it assigned one. */
  get clientId(): string {
    return this.#clientId;
  }

  /** Whether a connection is up. */
  get connected(): boolean {
    return this.#state === CONNECTED;
  }

  /** The CONNACK of the current (or last) connection, if any. */
  get connack(): ConnackInfo | undefined {
    return this.#connack ?? undefined;
  }

  /**
   * A snapshot of the counters (all zero unless created with `stats: true`).
   *
   * @returns The counters.
   */
  stats(): Stats {
    const s = this.#stats;
    if (s === null) return newStats();
    const out = this.#out;
    return {
      ...s,
      publishesSent: s.publishesSent + out.sent,
      publishesAcked: out.acked,
      publishesReplayed: out.replayed,
      publishesInflight: out.size,
      subscriptionsActive: this.#targets.size,
      subscriptionsBlocked: this.#blocked.size,
    };
  }

  /**
   * Replaces the broker list; the next connection attempt uses it.
   *
   * @param urls The new broker URLs, tried in order.
   * @throws {MqttError} `missing-broker` or `invalid-broker-url`.
   */
  setBrokers(...urls: string[]): void {
    if (urls.length === 0) {
      throw new MqttError("missing-broker", "setBrokers needs at least one URL");
    }
    this.#o.brokers = urls.map((u) => parseBrokerUrl(u, this.#o.dial !== undefined));
    this.#brokerIndex = -1; // the next attempt starts at the first URL
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
    if (this.#state === CLOSED) throw new MqttError("closed", "client was disconnected");
    if (this.#state !== IDLE) {
      throw new MqttError("already-connected", "connect() was already called");
    }
    this.#state = CONNECTING;
    let brokers = this.#o.brokers;
    let lastError: Error | undefined;
    let redirects = 0;
    for (let i = 0; i < brokers.length; i++) {
      const index = (Math.max(this.#brokerIndex, 0) + i) % brokers.length;
      try {
        const cleanStart = this.#firstConnectDone
          ? (this.#options.cleanStartOnReconnect ?? false)
          : this.#o.cleanStart;
        const info = await this.#open(brokers[index], cleanStart, signal);
        this.#brokerIndex = index;
        // With a publisher pool, publishes right after connect() should use it: wait for
        // each member's first attempt (bounded by the connect timeout; failed members keep
        // retrying in the background and the main connection covers for them).
        if (this.#poolReady !== undefined) {
          await this.#within(this.#poolReady, this.#o.connectTimeoutMs, signal);
        }
        return info;
      } catch (err) {
        lastError = toError(err);
        this.#connectFailed(lastError);
        if (signal?.aborted || this.#state === CLOSED) break;
        if (this.#o.brokers !== brokers && redirects < MAX_CONNECT_REDIRECTS) {
          // setBrokers() during connect() (a redirect through onServerDisconnect, §4.11):
          // go on with the new list, from its first URL.
          brokers = this.#o.brokers;
          redirects++;
          i = -1;
        }
      }
    }
    if (this.#state === CONNECTING) this.#state = IDLE;
    if (this.#state === CLOSED) {
      throw new MqttError("closed", "client was disconnected", { cause: lastError });
    }
    throw lastError!;
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
    const packet: DisconnectPacket = { type: 14 };
    if (options !== undefined) {
      if (options.reasonCode !== undefined) packet.reasonCode = options.reasonCode;
      const props: DisconnectPacket["properties"] = {};
      if (options.reasonString !== undefined) props.reasonString = options.reasonString;
      if (options.userProperties !== undefined) props.userProperties = options.userProperties;
      if (options.sessionExpirySeconds !== undefined) {
        if (this.#o.sessionExpirySeconds === 0 && options.sessionExpirySeconds !== 0) {
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
    this.#state = CLOSED;
    this.#stopSleep();
    for (const t of this.#poolTimers) clearTimeout(t);
    for (const w of this.#poolWake) w();
    this.#poolTimers.clear();
    this.#poolWake.clear();
    const pool = this.#pool;
    const poolClosing = pool === undefined
      ? Promise.resolve([] as PromiseSettledResult<void>[])
      : Promise.allSettled(pool.members.map((m) => m.disconnect()));
    const link = this.#link;
    if (link !== null && !link.closed) {
      if (link.connack !== null) {
        // Nothing is processed or sent after DISCONNECT [MQTT-3.14.4-1]: not even the
        // PUBACK of a PUBLISH that arrives while it flushes.
        link.halted = true;
        link.writer.sendLast(packet);
        await this.#within(link.writer.flushed(), this.#o.disconnectFlushTimeoutMs, signal);
      }
      this.#linkDown(link, new MqttError("closed", "client disconnected"), true);
    }
    const err = new MqttError("closed", "client disconnected");
    // What the program started and never awaited must not crash it now: the calls
    // disconnect() ends reject as before, but marked handled. An UNSUBSCRIBE needs no
    // answer any more: its subscription ended, which is what was asked.
    for (const p of this.#calls) p.catch(noop);
    for (const e of this.#out.all()) e.promise?.catch(noop);
    this.#out.close(err);
    for (const r of this.#requests.values()) {
      if (r.packet.type === 10) {
        r.resolve({ type: 11, packetId: r.packet.packetId, reasonCodes: [] });
      } else {
        r.reject(err);
      }
    }
    clearTimeout(this.#watchTimer);
    this.#watchTimer = undefined;
    for (const id of [...this.#dropLog.keys()]) this.#endDropLog(id);
    this.#requests.clear();
    for (const { target } of this.#targets.values()) target.end();
    this.#targets.clear();
    if (link !== null && link.connack !== null) this.#emit({ type: "disconnected" });
    this.#emit({ type: "closed" });
    this.#statusStreams.clear();
    await Promise.allSettled(this.#poolRetry);
    const failed = (await poolClosing).filter((r) => r.status === "rejected");
    if (failed.length > 0) {
      throw new AggregateError(
        failed.map((r) => (r as PromiseRejectedResult).reason),
        "publisher pool members failed to disconnect",
      );
    }
    this.#filters.clear();
    this.#trie.clear();
    this.#matchCache.clear();
    this.#bySubId.clear();
  }

  /**
   * Same as {@linkcode Client.disconnect} with no options, for `await using`.
   *
   * @returns Resolves once the connection is closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }

  async #within(p: Promise<void>, ms: number, signal?: AbortSignal): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    try {
      if (signal?.aborted) return;
      await Promise.race([
        p.catch(() => {}),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, ms);
          if (signal !== undefined) {
            onAbort = resolve;
            signal.addEventListener("abort", onAbort, { once: true });
          }
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal!.removeEventListener("abort", onAbort);
    }
  }

  #connectFailed(err: Error): void {
    if (this.#stats !== null) this.#stats.connectFailures++;
    this.#log?.warn("mqtt connect attempt failed", { error: err.message });
    try {
      this.#options.onConnectError?.(err);
    } catch (e) {
      this.#log?.error("onConnectError threw", { error: toError(e).message });
    }
  }

  async #dialFunc(): Promise<DialFunc> {
    if (this.#o.dial !== undefined) return this.#o.dial;
    const { autoDial } = await import("../transport/mod.ts");
    return autoDial;
  }

  /** Dials, sends CONNECT and waits for CONNACK; installs the link on success. */
  async #open(
    url: URL,
    cleanStart: boolean,
    signal: AbortSignal | undefined,
  ): Promise<ConnackInfo> {
    const ac = new AbortController();
    const timer = setTimeout(
      () =>
        ac.abort(
          new MqttError("connect-timeout", `no CONNACK within ${this.#o.connectTimeoutMs} ms`),
        ),
      this.#o.connectTimeoutMs,
    );
    const onAbort = () => ac.abort(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
    const closeWatch = () => {
      if (this.#state === CLOSED) ac.abort(new MqttError("closed", "client was disconnected"));
    };
    this.#wake = closeWatch;
    let link: Link | undefined;
    try {
      const dial = await this.#dialFunc();
      ac.signal.throwIfAborted();
      const conn = await dial(url, {
        tls: isTlsUrl(url) ? (this.#o.tls ?? {}) : undefined,
        signal: ac.signal,
      });
      link = new Link(conn, url, this.#o, (e) => this.#linkLost(link!, e));
      const l = link;
      l.nudgeTick = () => this.#nudge(l);
      if (ac.signal.aborted) {
        conn.close();
        throw ac.signal.reason;
      }
      if (this.#storeState !== "loaded") {
        try {
          await this.#loadStore();
        } catch (cause) {
          throw new MqttError("store-failed", "could not read the session store", { cause });
        }
      }
      const connect = await this.#prepareConnect(cleanStart, ac.signal);
      ac.signal.throwIfAborted();
      const connackPacket = await new Promise<ConnackPacket>((resolve, reject) => {
        l.onConnack = resolve;
        l.onFail = reject;
        ac.signal.addEventListener("abort", () => reject(ac.signal.reason), { once: true });
        this.#link = l;
        conn.start(
          (chunk) => this.#onData(l, chunk),
          (err) =>
            this.#linkLost(l, err ?? new MqttError("connection-lost", "connection closed by peer")),
        );
        l.writer.send(connect);
      });
      l.onConnack = undefined;
      l.onFail = undefined;
      const info = connackInfo(connackPacket);
      if (info.sessionPresent && connect.cleanStart && info.reasonCode < 0x80) {
        // A Clean Start CONNECT leaves no session to resume: the client MUST close the
        // connection [MQTT-3.2.2-4] (a broker that says otherwise is broken).
        const err = new MqttError(
          "protocol-error",
          "the broker answered a Clean Start CONNECT with Session Present 1 [MQTT-3.2.2-4]",
          { reasonCode: 0x82 },
        );
        this.#protocolFailure(l, 0x82, err);
        throw err;
      }
      if (info.reasonCode >= 0x80) {
        this.#linkDown(l, new MqttError("connect-refused", "CONNACK refused"), false);
        if (info.reasonCode === 0x9c || info.reasonCode === 0x9d) {
          // Use another server / Server moved: the redirect is followed the same way as a
          // DISCONNECT's, through onServerDisconnect (+ setBrokers).
          const props: DisconnectPacket["properties"] = {};
          if (info.serverReference !== undefined) props.serverReference = info.serverReference;
          if (info.reasonString !== undefined) props.reasonString = info.reasonString;
          try {
            this.#options.onServerDisconnect?.({
              type: 14,
              reasonCode: info.reasonCode,
              properties: props,
            });
          } catch (e) {
            this.#log?.error("onServerDisconnect threw", { error: toError(e).message });
          }
        }
        throw new MqttError(
          "connect-refused",
          `broker refused the connection: reason 0x${info.reasonCode.toString(16)}${
            info.reasonString ? ` (${info.reasonString})` : ""
          }`,
          { reasonCode: info.reasonCode },
        );
      }
      const auth = this.#options.authenticator;
      const finalData = connackPacket.properties?.authenticationData;
      // The authenticator always sees the end of the exchange (data or none), so a
      // SCRAM client can insist on the server's signature.
      if (auth !== undefined) {
        // The broker's last word (a SCRAM server signature, say): the authenticator may reject it.
        try {
          await auth.continue(finalData);
        } catch (cause) {
          this.#linkDown(l, new MqttError("auth-failed", "authenticator rejected CONNACK"), false);
          throw new MqttError("auth-failed", "authenticator rejected the broker's final data", {
            cause,
          });
        }
        if (l.closed) {
          throw new MqttError("connection-lost", "connection closed during authentication");
        }
      }
      this.#up(l, info);
      const early = l.early;
      l.early = undefined;
      if (early !== undefined) {
        for (const p of early) {
          if (l.closed || l.halted) break;
          this.#onPacket(l, p);
        }
      }
      return info;
    } catch (err) {
      // A protocol failure closes the link itself once its DISCONNECT is flushed.
      if (link !== undefined && !link.closed && !link.halted) {
        this.#linkDown(link, toError(err), false);
      }
      throw connectError(err, url, signal, ac.signal);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (this.#wake === closeWatch) this.#wake = undefined;
    }
  }

  /** Builds this attempt's CONNECT: options, then connectPacketBuilder, then the authenticator. */
  async #prepareConnect(cleanStart: boolean, signal: AbortSignal): Promise<ConnectPacket> {
    const packet = this.#connectPacket(cleanStart);
    const builder = this.#options.connectPacketBuilder;
    if (builder !== undefined) {
      const c: ConnectOptions = {
        clientId: packet.clientId,
        cleanStart: packet.cleanStart,
        keepAliveSeconds: packet.keepAlive,
        userProperties: [...(packet.properties?.userProperties ?? [])],
      };
      if (packet.username !== undefined) c.username = packet.username;
      if (packet.password !== undefined) c.password = packet.password;
      await builder(c, signal);
      packet.clientId = c.clientId;
      packet.cleanStart = c.cleanStart;
      packet.keepAlive = c.keepAliveSeconds;
      packet.username = c.username;
      packet.password = typeof c.password === "string" ? encoder.encode(c.password) : c.password;
      if (packet.username === undefined) delete packet.username;
      if (packet.password === undefined) delete packet.password;
      packet.properties!.userProperties = c.userProperties.length > 0
        ? c.userProperties
        : undefined;
    }
    const auth = this.#options.authenticator;
    if (auth !== undefined) {
      packet.properties!.authenticationMethod = auth.method;
      const data = await auth.begin();
      if (data !== undefined) packet.properties!.authenticationData = data;
    }
    packetLength(packet); // a builder's bad field fails this attempt, before anything is written
    return packet;
  }

  #connectPacket(cleanStart: boolean): ConnectPacket {
    const o = this.#o;
    const props: ConnectPacket["properties"] = {};
    if (o.sessionExpirySeconds !== 0) props.sessionExpiryInterval = o.sessionExpirySeconds;
    if (o.receiveMaximum !== 65535) props.receiveMaximum = o.receiveMaximum;
    if (o.maximumPacketSize > 0) props.maximumPacketSize = o.maximumPacketSize;
    if (o.inboundTopicAliasMaximum > 0) props.topicAliasMaximum = o.inboundTopicAliasMaximum;
    if (o.requestResponseInformation) props.requestResponseInformation = true;
    if (!o.requestProblemInformation) props.requestProblemInformation = false;
    if (o.connectUserProperties.length > 0) props.userProperties = o.connectUserProperties;
    const p: ConnectPacket = {
      type: 1,
      clientId: this.#firstConnectDone ? this.#clientId : o.clientId,
      cleanStart,
      keepAlive: o.keepAliveSeconds,
      properties: props,
    };
    if (o.username !== undefined) p.username = o.username;
    if (o.password !== undefined) p.password = o.password;
    const w = o.will;
    if (w !== undefined) {
      const wp: NonNullable<ConnectPacket["will"]>["properties"] = { ...w.properties };
      if (w.delayIntervalSeconds !== undefined) wp.willDelayInterval = w.delayIntervalSeconds;
      p.will = {
        topic: w.topic,
        payload: typeof w.payload === "string" ? encoder.encode(w.payload) : (w.payload ?? EMPTY),
        qos: w.qos ?? 0,
        retain: w.retain ?? false,
        properties: wp,
      };
    }
    return p;
  }

  /** A CONNACK accepted the connection on `link`. */
  #up(link: Link, info: ConnackInfo): void {
    link.connack = info;
    link.upAt = Date.now();
    this.#connack = info;
    if (info.assignedClientIdentifier !== undefined) this.#clientId = info.assignedClientIdentifier;
    this.#firstConnectDone = true;
    if (this.#stats !== null) this.#stats.connects++;
    this.#state = CONNECTED;
    this.#startKeepAlive(link, info);
    if (info.sessionPresent) {
      this.#releaseParked(false);
      this.#parkUntil = Date.now() + PARK_MS;
      this.#parkTimer = setTimeout(() => this.#releaseParked(false), PARK_MS);
    }
    // Unanswered SUBSCRIBE / UNSUBSCRIBE go out again.
    for (const r of this.#requests.values()) link.writer.send(r.packet);
    // The broker has no session: inbound QoS 2 state is void, subscriptions must be re-issued.
    this.#in.connected(info.sessionPresent);
    if (!info.sessionPresent) {
      const store = this.#store;
      if (store !== undefined) this.#stored(() => store.clearInbound());
      this.#resubscribe(link);
    }
    this.#out.connected(info);
    this.#emit({ type: "connected", connack: info });
    this.#startPool();
    this.#log?.info("mqtt connected", {
      url: redact(link.url.href),
      sessionPresent: info.sessionPresent,
    });
    try {
      this.#options.onConnectionUp?.(info);
    } catch (e) {
      this.#log?.error("onConnectionUp threw", { error: toError(e).message });
    }
  }

  #startKeepAlive(link: Link, info: ConnackInfo): void {
    const seconds = info.serverKeepAlive ?? this.#o.keepAliveSeconds;
    if (seconds === 0) return;
    const ka = seconds * 1000;
    const pingTimeout = this.#o.pingTimeoutMs;
    const tick = Math.max(10, Math.min(ka / 4, pingTimeout / 2, 1000));
    link.timer = setInterval(() => {
      if (link.closed) return;
      const now = Date.now();
      if (link.paused) {
        // Reading is held back for a slow consumer: the broker's answers wait in TCP, so no
        // deadline runs (it restarts when reading does); PINGREQs keep telling the broker
        // we are alive, so a consumer that takes minutes never costs the connection.
        if (now - link.lastTx >= ka) {
          link.writer.sendBytes(PINGREQ_BYTES);
          link.pingDeadline = now + pingTimeout;
        } else if (link.pingDeadline !== 0) {
          link.pingDeadline = now + pingTimeout;
        }
        return;
      }
      if (link.pingDeadline !== 0) {
        if (now >= link.pingDeadline) {
          if (this.#stats !== null) this.#stats.pingTimeouts++;
          // 0x8D is the server's reason code; a client just closes (§3.1.2.10).
          this.#linkDown(
            link,
            new MqttError("timeout", `no PINGRESP within ${pingTimeout} ms`),
            false,
          );
        }
        return;
      }
      // PINGREQ when either direction has been idle for the keep alive.
      if (now - link.lastTx >= ka || now - link.lastRx >= ka) {
        link.pingDeadline = now + pingTimeout;
        link.writer.sendBytes(PINGREQ_BYTES);
      }
    }, tick);
  }

  // -------------------------------------------------------------------------
  // Connection loss and the supervisor

  /** The transport failed or closed under us. */
  #linkLost(link: Link, err: Error): void {
    if (link.closed) return;
    this.#linkDown(link, err, false);
  }

  /** Ends `link`; when it was the live connection, hands over to the supervisor. */
  #linkDown(link: Link, err: Error, byUser: boolean, serverDisconnect?: DisconnectPacket): void {
    if (link.closed) return;
    link.closed = true;
    clearInterval(link.timer);
    link.writer.fail(err);
    link.conn.close();
    link.onFail?.(err);
    if (link.enders !== undefined) { for (const ac of link.enders) ac.abort(); }
    if (link.reauth !== undefined) {
      link.reauth.reject(
        new MqttError("auth-failed", "connection lost during re-authentication", {
          cause: err,
          reasonCode: (err as MqttError).reasonCode,
        }),
      );
      link.reauth = undefined;
    }
    if (this.#link !== link) return;
    this.#link = null;
    this.#releaseParked(true);
    this.#out.disconnected();
    this.#in.disconnected();
    const wasUp = link.connack !== null;
    if (!wasUp || byUser) return;
    // An established connection was lost.
    if (this.#stats !== null) this.#stats.disconnects++;
    this.#log?.warn("mqtt connection lost", {
      error: err.message,
      reasonCode: (err as MqttError).reasonCode,
    });
    if (this.#statusStreams.size > 0) {
      if (serverDisconnect !== undefined) {
        const pr = serverDisconnect.properties;
        const ev: StatusEvent = {
          type: "server-disconnect",
          reasonCode: serverDisconnect.reasonCode ?? 0,
        };
        if (pr?.reasonString !== undefined) ev.reasonString = pr.reasonString;
        if (pr?.serverReference !== undefined) ev.serverReference = pr.serverReference;
        this.#emit(ev);
      }
      const rc = (err as MqttError).reasonCode;
      this.#emit(
        rc === undefined
          ? { type: "disconnected", error: err }
          : { type: "disconnected", error: err, reasonCode: rc },
      );
    }
    if (this.#state === CLOSED) return;
    this.#state = RECONNECTING;
    // A connection that dies sooner than the delay before it does not reset the backoff.
    if (Date.now() - link.upAt >= this.#lastDelay) this.#retry = 0;
    if (serverDisconnect !== undefined) {
      try {
        this.#options.onServerDisconnect?.(serverDisconnect);
      } catch (e) {
        this.#log?.error("onServerDisconnect threw", { error: toError(e).message });
      }
    }
    let keepGoing: boolean | void = true;
    try {
      keepGoing = this.#options.onConnectionDown?.();
    } catch (e) {
      this.#log?.error("onConnectionDown threw", { error: toError(e).message });
    }
    if (keepGoing === false) {
      this.#state = IDLE;
      return;
    }
    void this.#supervise();
  }

  #lastDelay = 0;

  async #supervise(): Promise<void> {
    if (this.#supervising) return;
    this.#supervising = true;
    try {
      while (this.#state === RECONNECTING) {
        let delay = 0;
        try {
          delay = Math.max(0, Number(this.#backoff(this.#retry)) || 0);
        } catch (e) {
          this.#log?.error("reconnectBackoff threw", { error: toError(e).message });
          delay = 1000;
        }
        this.#lastDelay = delay;
        const listed = this.#o.brokers;
        if (this.#statusStreams.size > 0) {
          const next = listed[(this.#brokerIndex + 1) % listed.length];
          this.#emit({
            type: "reconnecting",
            attempt: this.#retry + 1,
            delayMs: delay,
            url: redact(next.href),
          });
        }
        await this.#sleep(delay);
        if (this.#state !== RECONNECTING) break;
        this.#retry++;
        const brokers = this.#o.brokers;
        // The first retry after a drop already moves off the URL that failed.
        this.#brokerIndex = (this.#brokerIndex + 1) % brokers.length;
        const url = brokers[this.#brokerIndex];
        try {
          this.#options.onReconnectAttempt?.(this.#retry, redact(url.href));
        } catch (e) {
          this.#log?.error("onReconnectAttempt threw", { error: toError(e).message });
        }
        try {
          await this.#open(url, this.#options.cleanStartOnReconnect ?? false, undefined);
        } catch (err) {
          if ((this.#state as number) === CLOSED) break;
          this.#connectFailed(toError(err));
        }
      }
    } finally {
      this.#supervising = false;
    }
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#sleepTimer = setTimeout(() => {
        this.#sleepTimer = undefined;
        this.#wake = undefined;
        resolve();
      }, ms);
    });
  }

  #stopSleep(): void {
    clearTimeout(this.#sleepTimer);
    this.#sleepTimer = undefined;
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /**
   * Ends the connection because the broker broke the protocol (or stopped
   * answering): DISCONNECT with the spec's reason code, then close and let the
   * supervisor reconnect.
   */
  #protocolFailure(link: Link, reasonCode: number, err: Error): void {
    if (link.closed || link.halted) return;
    if (err instanceof MqttError && err.reasonCode === undefined) {
      // The error names the reason code that went on the wire.
      err = new MqttError(err.code, err.message, { reasonCode, cause: err.cause });
    }
    this.#log?.warn("mqtt protocol failure", { reasonCode, error: err.message });
    // Nothing more from this connection is trusted or processed.
    link.halted = true;
    clearInterval(link.timer);
    link.onFail?.(err);
    link.onFail = undefined;
    link.writer.sendLast({ type: 14, reasonCode });
    void this.#within(link.writer.flushed(), 200).then(() => this.#linkDown(link, err, false));
  }

  // -------------------------------------------------------------------------
  // Inbound

  #onData(link: Link, chunk: Uint8Array): void {
    if (link.closed || link.halted) return;
    if (link.paused || link.held !== undefined) {
      // Reading is held back (or held chunks wait to be processed): keep the order.
      (link.held ??= []).push(chunk);
      return;
    }
    this.#consume(link, chunk);
  }

  /** Decodes and handles one chunk of inbound bytes. */
  #consume(link: Link, chunk: Uint8Array): void {
    link.lastRx = Date.now();
    const w = link.writer;
    link.rxMark = w.appended;
    if (
      link.connack === null && link.early === undefined && link.decoder.buffered === 0 &&
      chunk.length > 0
    ) {
      const wrong = notMqtt(chunk, link.url);
      if (wrong !== undefined) {
        // Not an MQTT broker on this port: nothing it says can be answered in MQTT.
        link.halted = true;
        link.onFail?.(wrong);
        this.#linkDown(link, wrong, false);
        return;
      }
    }
    let packets: Packet[];
    try {
      packets = link.decoder.push(chunk);
    } catch (err) {
      const rc = err instanceof MqttError && err.reasonCode !== undefined ? err.reasonCode : 0x81;
      this.#protocolFailure(link, rc, toError(err));
      return;
    }
    this.#handle(link, packets);
    // Nothing sent in answer while we wait for the broker: our TCP ACK of this read may be
    // delayed (~40 ms), and a broker with Nagle on (mosquitto's default) holds its answer
    // until it comes. Unless the application sends something within a few microtask hops,
    // a PINGREQ carries the ACK at once. Its PINGRESP is in turn a small unacked segment
    // the broker's next answer may wait behind, so a read of it may nudge again; NUDGES
    // bounds the pings between two answers, so a broker slow to answer (or a busy inbound
    // stream while one publish waits) gets a few pings, never a stream of them.
    if (
      w.appended === link.rxMark && !link.nudging && link.nudgeBudget > 0 &&
      link.connack !== null && (this.#out.window > 0 || this.#requests.size > 0)
    ) {
      link.nudging = true;
      link.nudgeHops = NUDGE_HOPS;
      queueMicrotask(link.nudgeTick);
    }
  }

  /**
   * Handles decoded packets in order; stops when a message fills a
   * subscription and pauses reading, holding the rest (so a subscription
   * holds no more than its bound).
   */
  #handle(link: Link, packets: Packet[]): void {
    for (let i = 0; i < packets.length; i++) {
      if (link.closed || link.halted) return;
      this.#onPacket(link, packets[i]);
      if (link.paused && i + 1 < packets.length) {
        (link.held ??= []).unshift(packets.slice(i + 1));
        return;
      }
    }
  }

  #nudge(link: Link): void {
    if (--link.nudgeHops > 0) {
      queueMicrotask(link.nudgeTick);
      return;
    }
    link.nudging = false;
    if (link.closed || link.halted || link.writer.appended !== link.rxMark) return;
    if (this.#out.window === 0 && this.#requests.size === 0) return;
    link.nudgeBudget--;
    link.writer.sendBytes(PINGREQ_BYTES);
    if (link.pingDeadline === 0) link.pingDeadline = Date.now() + this.#o.pingTimeoutMs;
  }

  /**
   * Pauses reading while a `"block"` subscription is full, unless the client
   * waits for the broker to answer something (a QoS 1/2 publish, a SUBSCRIBE,
   * re-authentication): then it keeps reading, so a consumer that publishes
   * before it acks never deadlocks. Resumes when neither holds.
   */
  #updateReading(link: Link | null): void {
    if (link === null || link.closed || link.connack === null) return;
    const pause = this.#blocked.size > 0 && this.#out.window === 0 && this.#requests.size === 0 &&
      link.reauth === undefined;
    if (pause === link.paused) return;
    link.paused = pause;
    if (pause) {
      link.conn.pause?.();
      return;
    }
    link.conn.resume?.();
    if (link.held !== undefined && !link.draining) {
      link.draining = true;
      // Never inside the consumer's dequeue that released it: from a microtask.
      queueMicrotask(() => this.#drainHeld(link));
    }
  }

  /** Processes the chunks held while reading was paused, until done or paused again. */
  #drainHeld(link: Link): void {
    link.draining = false;
    const held = link.held;
    if (held === undefined) return;
    // #consume / #handle put what a new pause leaves back at the front of `link.held`.
    link.held = undefined;
    let i = 0;
    while (i < held.length && !link.paused && !link.closed && !link.halted) {
      const item = held[i];
      held[i++] = undefined as never;
      if (item instanceof Uint8Array) {
        this.#consume(link, item);
      } else {
        link.lastRx = Date.now();
        this.#handle(link, item);
      }
    }
    if (link.closed || link.halted) {
      link.held = undefined;
    } else if (i < held.length) {
      const rest = held.slice(i);
      link.held = link.held === undefined ? rest : [...link.held, ...rest];
    }
  }

  /** Starts the watchdog for unacked messages and blocked subscriptions, if off. */
  #armWatch(): void {
    const ms = this.#o.unackedWarningMs;
    if (this.#watchTimer !== undefined || ms === 0 || this.#state === CLOSED) return;
    this.#watchTimer = setTimeout(this.#watch, ms);
  }

  /**
   * Reports messages left unacked, and subscriptions blocked, for longer than
   * `unackedWarningMs` (each once), then sleeps until the next could be due.
   */
  #watch = (): void => {
    this.#watchTimer = undefined;
    const limit = this.#o.unackedWarningMs;
    const now = Date.now();
    let next = Infinity;
    const report = new Map<SubscriptionToken, { count: number; slot: InboundSlot }>();
    const note = (token: SubscriptionToken, slot: InboundSlot) => {
      const r = report.get(token);
      if (r === undefined) report.set(token, { count: 1, slot });
      else r.count++;
    };
    for (let s = this.#in.acks.head; s !== null; s = s.next) {
      if (s.done || s.owners === null) continue;
      if (now - s.at < limit) {
        next = s.at + limit; // later slots arrived later
        break;
      }
      if (s.warned) continue;
      s.warned = true;
      const d = s.delivered as Message | Message[] | null;
      if (Array.isArray(d)) {
        const owners = s.owners as SubscriptionToken[];
        for (let i = 0; i < d.length; i++) if (!d[i].acked) note(owners[i], s);
      } else if (d !== null && !d.acked) {
        note(s.owners as SubscriptionToken, s);
      }
    }
    for (const [token, { count, slot }] of report) {
      const ageMs = now - slot.at;
      if (this.#stats !== null) this.#stats.unackedWarnings += count;
      this.#log?.warn(
        `subscription ${token.id} has ${count} message(s) not acked for over ${limit} ms: call ` +
          "ack() on every message from subscribe() / subscribeQueue(), or subscribe with " +
          "autoAck: true. Until they are acked the broker's acks for later messages wait " +
          "(MQTT §4.6) and it stops sending once its in-flight window is full",
        {
          subscription: token.id,
          filters: token.filters.map((f) => f.topic),
          count,
          topic: slot.delivered === null ? undefined : firstOf(slot.delivered as Message).topic,
          packetId: slot.packetId,
          ageMs,
        },
      );
      if (this.#statusStreams.size > 0) {
        this.#emit({
          type: "unacked",
          token,
          count,
          topic: slot.delivered === null ? "" : firstOf(slot.delivered as Message).topic,
          packetId: slot.packetId,
          ageMs,
        });
      }
    }
    for (const t of this.#blocked) {
      if (t.blockWarned) continue;
      const ageMs = now - t.blockedAt;
      if (ageMs < limit) {
        next = Math.min(next, t.blockedAt + limit);
        continue;
      }
      t.blockWarned = true;
      this.#log?.warn(
        `subscription ${t.token.id} has held the broker back for ${ageMs} ms: its buffer is ` +
          `full (${t.queue.length} messages) and its consumer is not keeping up. Nothing is ` +
          'lost (dropPolicy "block"); consume faster, raise buffer / maxQueueSize, or ' +
          'choose dropPolicy "drop-newest" / "drop-oldest" to drop instead',
        {
          subscription: t.token.id,
          filters: t.token.filters.map((f) => f.topic),
          buffered: t.queue.length,
          blockedMs: ageMs,
        },
      );
    }
    if (next !== Infinity && this.#state !== CLOSED) {
      this.#watchTimer = setTimeout(this.#watch, Math.max(1, next - now));
    }
  };

  /** Counts a drop of an explicit drop policy; logs it, at most every DROP_LOG_MS per subscription. */
  #dropped(t: SubscriptionToken, count: number, policy: DropPolicy): void {
    if (this.#stats !== null) this.#stats.inboundDropped++;
    if (this.#statusStreams.size > 0) this.#emit({ type: "dropped", token: t, count });
    if (this.#log === undefined) return;
    let d = this.#dropLog.get(t.id);
    if (d === undefined) {
      const entry: DropLog = { pending: 0, total: 0, at: 0, timer: undefined, flush: noop };
      entry.flush = () => {
        clearTimeout(entry.timer);
        entry.timer = undefined;
        if (entry.pending === 0) return;
        this.#log?.warn(
          `subscription ${t.id} dropped ${entry.pending} message(s): its buffer is full and its ` +
            `dropPolicy is "${policy}" (QoS 1/2 messages it drops are acked, so the broker does ` +
            'not resend them). The default dropPolicy "block" slows the broker instead',
          { subscription: t.id, dropped: entry.pending, total: entry.total },
        );
        entry.pending = 0;
        entry.at = Date.now();
      };
      this.#dropLog.set(t.id, d = entry);
    }
    d.pending++;
    d.total = count;
    const now = Date.now();
    if (now - d.at >= DROP_LOG_MS) d.flush();
    else d.timer ??= setTimeout(d.flush, d.at + DROP_LOG_MS - now);
  }

  /** Forgets a subscription's drop log (it ended), logging the drops not logged yet. */
  #endDropLog(id: number): void {
    const d = this.#dropLog.get(id);
    if (d === undefined) return;
    this.#dropLog.delete(id);
    d.flush();
  }

  /**
   * Tracks a public call in progress: if disconnect() ends it, its rejection
   * is marked handled, so a program that never awaited it does not crash.
   */
  #track<T>(run: () => Promise<T>): Promise<T> {
    const calls = this.#calls;
    // No then() on the result: that would mark every rejection handled, not only ours.
    // deno-lint-ignore prefer-const -- assigned once; `finally` reads it later, which tsc cannot see
    let p!: Promise<T>;
    p = (async () => {
      try {
        return await run();
      } finally {
        calls.delete(p);
      }
    })();
    calls.add(p);
    return p;
  }

  #onPacket(link: Link, p: Packet): void {
    if (link.connack === null && p.type !== 2 && p.type !== 15) {
      if (link.early !== undefined) {
        // Packets right behind the CONNACK (a resumed session's queued messages) wait
        // until the connection is set up, then are handled in order.
        link.early.push(p);
        return;
      }
      return this.#protocolFailure(
        link,
        0x82,
        new MqttError("unexpected-packet", `packet type ${p.type} before CONNACK`),
      );
    }
    switch (p.type) {
      case 3:
        return this.#onPublish(link, p);
      case PacketType.Puback:
        link.nudgeBudget = NUDGES;
        if (!this.#out.onPuback(p.packetId, p.reasonCode ?? 0, p.properties)) {
          this.#log?.debug("PUBACK for an unknown packet id", { packetId: p.packetId });
        }
        return;
      case PacketType.Pubrec:
        link.nudgeBudget = NUDGES;
        return this.#out.onPubrec(p.packetId, p.reasonCode ?? 0, p.properties);
      case PacketType.Pubrel:
        return this.#in.onPubrel(p.packetId);
      case PacketType.Pubcomp: {
        link.nudgeBudget = NUDGES;
        const r = this.#out.onPubcomp(p.packetId, p.reasonCode ?? 0, p.properties);
        if (r === false) {
          this.#log?.debug("PUBCOMP for an unknown packet id", { packetId: p.packetId });
        } else if (r !== true) {
          this.#protocolFailure(link, r.reasonCode!, r);
        }
        return;
      }
      case 9:
      case 11:
        return this.#onRequestAck(link, p);
      case 13:
        link.pingDeadline = 0;
        return;
      case 2:
        if (link.onConnack === undefined) {
          return this.#protocolFailure(
            link,
            0x82,
            new MqttError("unexpected-packet", "second CONNACK"),
          );
        }
        link.early = [];
        link.onConnack(p);
        link.onConnack = undefined;
        return;
      case 15:
        return this.#onAuth(link, p);
      case 14: {
        if (this.#stats !== null) this.#stats.serverDisconnects++;
        const rc = p.reasonCode ?? 0;
        const err = new MqttError(
          "connection-lost",
          `broker sent DISCONNECT 0x${rc.toString(16)}`,
          { reasonCode: rc },
        );
        return this.#linkDown(link, err, false, p);
      }
      default:
        // CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ (and AUTH without an authenticator) never come from a broker.
        return this.#protocolFailure(
          link,
          0x82,
          new MqttError("unexpected-packet", `unexpected packet type ${p.type} from the broker`),
        );
    }
  }

  /** AUTH from the broker: a step of the CONNECT exchange or of a re-authentication (§4.12). */
  #onAuth(link: Link, p: AuthPacket): void {
    const auth = this.#options.authenticator;
    const rc = p.reasonCode ?? 0;
    const during = link.connack === null
      ? "connect"
      : link.reauth !== undefined
      ? "reauth"
      : undefined;
    if (auth === undefined || during === undefined) {
      return this.#protocolFailure(
        link,
        0x82,
        new MqttError("unexpected-packet", "unexpected AUTH from the broker"),
      );
    }
    if (p.properties?.authenticationMethod !== auth.method) {
      return this.#protocolFailure(
        link,
        0x82,
        new MqttError("protocol-error", "AUTH with another authentication method", {
          reasonCode: 0x82,
        }),
      );
    }
    const data = p.properties?.authenticationData;
    if (rc === 0x18) {
      Promise.resolve().then(() => auth.continue(data)).then((response) => {
        if (link.closed || link.halted) return;
        const props: AuthPacket["properties"] = { authenticationMethod: auth.method };
        if (response !== undefined) props.authenticationData = response;
        link.writer.send({ type: 15, reasonCode: 0x18, properties: props });
      }, (cause) => {
        const err = new MqttError("auth-failed", "authenticator aborted the exchange", { cause });
        link.reauth?.reject(err);
        link.reauth = undefined;
        this.#protocolFailure(link, 0x87, err);
      });
      return;
    }
    if (rc === 0x00 && during === "reauth") {
      const pending = link.reauth!;
      link.reauth = undefined;
      if (this.#blocked.size !== 0) this.#updateReading(link);
      Promise.resolve().then(() => auth.continue(data)).then(
        () => {
          pending.resolve();
          this.#emit({ type: "reauthenticated" });
        },
        (cause) => {
          const err = new MqttError(
            "auth-failed",
            "authenticator rejected the broker's final data",
            { cause },
          );
          pending.reject(err);
          this.#protocolFailure(link, 0x87, err);
        },
      );
      return;
    }
    this.#protocolFailure(
      link,
      0x82,
      new MqttError("protocol-error", `AUTH reason 0x${rc.toString(16)} is not valid now`, {
        reasonCode: 0x82,
      }),
    );
  }

  /**
   * Re-authenticates on the live connection (MQTT §4.12.1) with the
   * configured authenticator. A broker that rejects it disconnects; the
   * supervisor then reconnects (authenticating afresh).
   *
   * @param options `signal` stops waiting.
   * @returns Resolves when the broker accepted the re-authentication (AUTH 0x00).
   * @throws {MqttError} `invalid-option` (no authenticator), `not-connected`, `closed`,
   * `auth-failed` (the exchange failed or the connection dropped during it).
   */
  reauthenticate(options?: { signal?: AbortSignal }): Promise<void> {
    return this.#track(() => this.#reauthenticate(options?.signal));
  }

  async #reauthenticate(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const auth = this.#options.authenticator;
    if (auth === undefined) {
      throw new MqttError("invalid-option", "reauthenticate() needs an authenticator");
    }
    if (this.#state === CLOSED) throw new MqttError("closed", "client was disconnected");
    const link = this.#link;
    if (this.#state !== CONNECTED || link === null || link.connack === null) {
      throw new MqttError("not-connected", "client is not connected");
    }
    if (link.reauth !== undefined) {
      return signal === undefined ? link.reauth.promise : this.#race(link.reauth.promise, signal);
    }
    const wait = withResolvers<void>();
    wait.promise.catch(() => {});
    link.reauth = wait;
    try {
      const data = await auth.begin();
      if (link.closed) {
        throw new MqttError("auth-failed", "connection lost before re-authentication");
      }
      const props: AuthPacket["properties"] = { authenticationMethod: auth.method };
      if (data !== undefined) props.authenticationData = data;
      link.writer.send({ type: 15, reasonCode: 0x19, properties: props });
      if (link.paused) this.#updateReading(link); // the broker's answer must be read
    } catch (err) {
      link.reauth = undefined;
      wait.reject(
        err instanceof MqttError
          ? err
          : new MqttError("auth-failed", "authenticator failed", { cause: err }),
      );
    }
    await (signal === undefined ? wait.promise : this.#race(wait.promise, signal));
  }

  #onPublish(link: Link, p: PublishPacket): void {
    const st = this.#stats;
    if (st !== null) st.inboundPublishes++;
    const props = p.properties as PublishProperties;
    const inb = this.#in;
    const verdict = inb.receive(p);
    if (verdict !== Verdict.Deliver) {
      if (verdict === Verdict.Duplicate) return;
      if (verdict === Verdict.Violation) {
        const err = inb.violation!;
        return this.#protocolFailure(link, err.reasonCode!, err);
      }
      this.#receiveMaximumExceeded(link, inb.inFlight + 1);
    }
    const topic = inb.topic;
    const qos = p.qos;
    const id = p.packetId as number;
    const n = this.#match(topic, props.subscriptionIdentifiers);
    if (n === 0 && qos > 0 && this.#parkUntil > 0 && this.#parked.length < PARK_MAX) {
      // A resumed session delivers its queued messages before the application had a
      // chance to subscribe: hold them (unacked) for a subscription to claim.
      const slot = inb.accept(id, qos, 1, link.lastRx);
      this.#parked.push(new Message(topic, p.payload, qos, p.retain, p.dup, id, props, slot));
      return;
    }
    const targets = this.#scratch;
    if (qos === 0) {
      if (n === 0) return;
      const m = new Message(topic, p.payload, 0, p.retain, p.dup, 0, props, null);
      for (let i = 0; i < n; i++) {
        targets[i].deliver(m);
        targets[i] = undefined as never;
      }
      return;
    }
    const slot = inb.accept(id, qos, n, link.lastRx);
    if (n === 1) {
      const t = targets[0];
      targets[0] = undefined as never;
      const m = new Message(topic, p.payload, qos, p.retain, p.dup, id, props, slot);
      slot.delivered = m;
      slot.owners = t.token;
      t.deliver(m);
    } else if (n > 1) {
      const ms: Message[] = [];
      const owners: SubscriptionToken[] = [];
      slot.delivered = ms;
      slot.owners = owners;
      for (let i = 0; i < n; i++) {
        const t = targets[i];
        targets[i] = undefined as never;
        const m = new Message(topic, p.payload, qos, p.retain, p.dup, id, props, slot);
        ms.push(m);
        owners.push(t.token);
        t.deliver(m);
      }
    }
    if (this.#watchTimer === undefined && !slot.done) this.#armWatch();
  }

  /**
   * The broker has more unacked QoS 1/2 messages out than our Receive Maximum
   * [MQTT-3.3.4-9]. Reported once per connection, not disconnected: flow
   * control here does not depend on it (a full subscription pauses reading),
   * and a broker that ignores it resends every unacked message on reconnect,
   * so a DISCONNECT 0x93 would only loop (mosquitto before 2.0.13 does this
   * when Receive Maximum is lowered: eclipse/mosquitto#2306).
   */
  #receiveMaximumExceeded(link: Link, inFlight: number): void {
    if (this.#stats !== null) this.#stats.receiveMaximumExceeded++;
    if (link.rmExceeded) return;
    link.rmExceeded = true;
    const max = this.#o.receiveMaximum;
    this.#log?.warn(
      `the broker has ${inFlight} unacknowledged QoS 1/2 messages out to us, more than the ` +
        `receiveMaximum of ${max} we advertised [MQTT-3.3.4-9]. mosquitto before 2.0.13 ignores ` +
        "a lowered Receive Maximum (eclipse/mosquitto#2306). Nothing is lost: the client goes " +
        "on and pauses reading while subscriptions are full. To stop this, leave receiveMaximum " +
        "at its default or upgrade the broker",
      { receiveMaximum: max, inFlight, url: redact(link.url.href) },
    );
    if (this.#statusStreams.size > 0) {
      this.#emit({ type: "receive-maximum-exceeded", receiveMaximum: max, inFlight });
    }
  }

  /** Collects the targets for `topic` into #scratch; returns how many. */
  #match(topic: string, subIds: number[] | undefined): number {
    this.#epoch++;
    this.#count = 0;
    if (subIds !== undefined && this.#bySubId.size > 0) {
      // Deliver to exactly the subscriptions the broker identified: one copy per subscription.
      let known = false;
      for (let i = 0; i < subIds.length; i++) {
        const states = this.#bySubId.get(subIds[i]);
        if (states === undefined) continue;
        known = true;
        if (states.length === 1) {
          // One filter under this identifier: the broker only names it when that filter matched.
          if (states[0].subId === subIds[i]) this.#collect(states[0]);
          continue;
        }
        for (let k = 0; k < states.length; k++) {
          const fs = states[k];
          if (fs.subId === subIds[i] && topicMatchesFilter(fs.filter.topic, topic)) {
            this.#collect(fs);
          }
        }
      }
      if (known) return this.#count;
    }
    // Topics repeat: remember which filters each recent topic matched.
    let states = this.#matchCache.get(topic);
    if (states === undefined) {
      this.#matchCache.set(topic, states = []);
      this.#collecting = states;
      this.#trie.match(topic, this.#visit);
      this.#collecting = undefined;
      if (this.#matchCache.size > 4096) this.#matchCache.clear();
      return this.#count;
    }
    for (let i = 0; i < states.length; i++) this.#collect(states[i]);
    return this.#count;
  }

  /** Topic -> matching filters, cleared whenever the filter set changes. */
  #matchCache = new Map<string, FilterState[]>();
  #collecting: FilterState[] | undefined;

  #count = 0;

  #collect(fs: FilterState): void {
    const hs = fs.holders;
    const epoch = this.#epoch;
    for (let i = 0; i < hs.length; i++) {
      const t = hs[i];
      if (t.mark === epoch) continue;
      t.mark = epoch;
      this.#scratch[this.#count++] = t;
    }
  }

  // -------------------------------------------------------------------------
  // Outbound publishes

  /**
   * Publishes a message. QoS 0 resolves per `publishMode`; QoS 1 after PUBACK;
   * QoS 2 after PUBCOMP. A QoS 1/2 publish belongs to the session once
   * accepted: it stays pending across a reconnect and is replayed with DUP=1.
   *
   * @param message Topic, payload, QoS, retain and properties.
   * @param options `signal` stops waiting (a QoS 1/2 flow already sent still completes).
   * @returns The broker's reason code and ack properties (reason code 0 at QoS 0).
   * @throws {TypeError} A bad topic or field (for example a wildcard in the topic).
   * @throws {MqttError} `not-connected`, `closed`, `publish-refused` (with the reason code),
   * `qos-not-supported`, `retain-not-supported`, `packet-too-large`, `write-queue-full`.
   */
  publish(message: PublishOptions, options?: { signal?: AbortSignal }): Promise<PublishResult> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const state = this.#state;
    if (state === CLOSED) return Promise.reject(new MqttError("closed", "client was disconnected"));
    if (message === null || typeof message !== "object") {
      return Promise.reject(new TypeError("publish() needs a message object"));
    }
    const pool = this.#pool;
    if (pool !== undefined) {
      const member = pool.pick(message.topic);
      // A broker refusal from the member is the answer: it is not retried elsewhere.
      if (member !== undefined) return member.publish(message, options);
      if (this.#stats !== null) this.#stats.poolFallbacks++;
    }
    const qos = message.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      return Promise.reject(new RangeError(`publish qos must be 0, 1 or 2, got ${qos}`));
    }
    const link = this.#link;
    if (state !== CONNECTED || link === null) {
      if (qos === 0 || state === IDLE || state === CONNECTING) {
        return Promise.reject(new MqttError("not-connected", "client is not connected"));
      }
    }
    const raw = message.payload;
    const payload = raw === undefined ? EMPTY : typeof raw === "string" ? encoder.encode(raw) : raw;
    const packet: PublishPacket = {
      type: 3,
      topic: message.topic,
      payload,
      qos,
      retain: message.retain === true,
      dup: false,
      properties: message.properties,
    };
    const connack = this.#connack;
    if (connack !== null) {
      if (qos > connack.maximumQoS) {
        return Promise.reject(
          new MqttError("qos-not-supported", `broker supports QoS up to ${connack.maximumQoS}`, {
            reasonCode: 0x9b,
          }),
        );
      }
      if (packet.retain && !connack.retainAvailable) {
        return Promise.reject(
          new MqttError("retain-not-supported", "broker does not support retained messages", {
            reasonCode: 0x9a,
          }),
        );
      }
    }
    if (message.properties?.subscriptionIdentifiers !== undefined) {
      // [MQTT-3.3.4-6] a PUBLISH from a client carries no subscription identifier.
      return Promise.reject(
        new TypeError("publish properties.subscriptionIdentifiers is inbound only"),
      );
    }
    const alias = message.properties?.topicAlias;
    if (alias !== undefined) {
      const r = this.#applyOutAlias(packet, alias, link);
      if (r !== undefined) return Promise.reject(r);
    }
    if (qos === 0) return this.#publish0(link as Link, packet, signal);
    return this.#publishQoS(packet, signal);
  }

  /**
   * Checks an outbound topic alias; returns an error to reject with. The alias
   * map is only updated when a packet is handed to the writer (#noteAlias), so
   * a publish refused or still queued never counts as having set it.
   */
  #applyOutAlias(packet: PublishPacket, alias: number, link: Link | null): Error | undefined {
    const max = this.#connack?.topicAliasMaximum ?? 0;
    if (!Number.isInteger(alias) || alias < 1 || alias > max) {
      return new MqttError(
        "topic-alias-invalid",
        `topic alias ${alias} is outside 1..${max} (broker's Topic Alias Maximum)`,
        { reasonCode: 0x94 },
      );
    }
    if (packet.topic === "") {
      const topic = link?.outAliases?.get(alias);
      if (topic === undefined) {
        return new TypeError(
          `publish topic is empty and topic alias ${alias} is not set on this connection`,
        );
      }
      // A QoS 1/2 packet may be replayed where the alias means nothing: it carries the topic.
      if (packet.qos > 0) packet.topic = topic;
    }
    return undefined;
  }

  /** Records the alias a PUBLISH with a topic establishes, once it is handed to the writer. */
  #noteAlias(link: Link, packet: PublishPacket): void {
    const alias = packet.properties?.topicAlias;
    if (alias !== undefined && packet.topic !== "") {
      (link.outAliases ??= new Map()).set(alias, packet.topic);
    }
  }

  #publish0(
    link: Link,
    packet: PublishPacket,
    signal: AbortSignal | undefined,
  ): Promise<PublishResult> {
    const w = link.writer;
    try {
      const big = sizeError(packet, this.#connack);
      if (big !== undefined) return Promise.reject(big);
      if (w.full) {
        if (this.#o.writeOverflowPolicy === "drop-newest") {
          return Promise.reject(new MqttError("write-queue-full", "write queue is full"));
        }
        return this.#track(() => this.#publish0Blocked(link, packet, signal));
      }
      const alias = packet.properties?.topicAlias;
      if (alias === undefined) {
        w.send(packet);
      } else {
        const known = link.outAliases?.get(alias);
        if (packet.topic === "") {
          if (known === undefined) {
            return Promise.reject(
              new TypeError(
                `publish topic is empty and topic alias ${alias} is not set on this connection`,
              ),
            );
          }
          w.send(packet);
        } else if (known === packet.topic) {
          // The broker knows this alias on this connection: send it alone, without the topic.
          w.send({ ...packet, topic: "" });
        } else {
          w.send(packet);
          this.#noteAlias(link, packet);
        }
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#stats !== null) this.#stats.publishesSent++;
    if (this.#o.publishMode === "wait-for-flush") {
      return this.#track(() => w.flushed().then(() => QOS0_RESULT));
    }
    return QOS0_RESOLVED;
  }

  async #publish0Blocked(
    link: Link,
    packet: PublishPacket,
    signal: AbortSignal | undefined,
  ): Promise<PublishResult> {
    while (link.writer.full) {
      signal?.throwIfAborted();
      await (signal === undefined ? link.writer.space() : this.#race(link.writer.space(), signal));
      if (link.closed) {
        throw new MqttError("not-connected", "connection lost while waiting for the write queue");
      }
    }
    return this.#publish0(link, packet, signal);
  }

  #race<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  #publishQoS(packet: PublishPacket, signal: AbortSignal | undefined): Promise<PublishResult> {
    try {
      // Validate now (with a stand-in packet id): a bad packet never enters the session.
      const big = sizeError(packet, this.#connack);
      if (big !== undefined) return Promise.reject(big);
      if (this.#connack?.maximumPacketSize === undefined) {
        packet.packetId = 1;
        try {
          packetLength(packet);
        } finally {
          packet.packetId = undefined;
        }
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const entry = newFlow(packet, this.#connack) as OutEntry;
    const promise = new Promise<PublishResult>((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
      if (signal !== undefined) {
        const onAbort = () => {
          // Not yet handed to the session: it never goes out; else it completes unseen.
          this.#out.abandon(entry);
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        entry.resolve = (r) => {
          signal.removeEventListener("abort", onAbort);
          resolve(r);
        };
        entry.reject = (e) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        };
      }
    });
    entry.promise = promise;
    this.#out.submit(entry);
    return promise;
  }

  // -------------------------------------------------------------------------
  // SUBSCRIBE / UNSUBSCRIBE

  #request(
    packet: Packet & { packetId: number },
    signal: AbortSignal | undefined,
  ): Promise<SubackPacket | UnsubackPacket> {
    return new Promise((resolve, reject) => {
      const req: Request = { packet, resolve, reject };
      let onAbort: (() => void) | undefined;
      if (signal !== undefined) {
        onAbort = () => {
          // The request stays tracked so its ack (if any) is consumed; the caller stops waiting.
          req.resolve = () => {};
          req.reject = () => {};
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        req.resolve = (p) => {
          signal.removeEventListener("abort", onAbort!);
          resolve(p);
        };
        req.reject = (e) => {
          signal.removeEventListener("abort", onAbort!);
          reject(e);
        };
      }
      this.#requests.set(packet.packetId, req);
      const link = this.#link;
      if (link !== null && link.connack !== null) {
        link.writer.send(packet);
        // Waiting for its ack: read even if a full subscription paused reading.
        if (link.paused) this.#updateReading(link);
      }
      if (this.#stats !== null) {
        if (packet.type === 8) this.#stats.subscribesSent++;
        else this.#stats.unsubscribesSent++;
      }
    });
  }

  #onRequestAck(link: Link, p: SubackPacket | UnsubackPacket): void {
    link.nudgeBudget = NUDGES;
    const req = this.#requests.get(p.packetId);
    if (req === undefined || req.packet.type !== p.type - 1) {
      this.#log?.debug("ack for an unknown SUBSCRIBE/UNSUBSCRIBE", { packetId: p.packetId });
      return;
    }
    this.#requests.delete(p.packetId);
    this.#ids.free(p.packetId);
    req.resolve(p);
    this.#out.pump();
  }

  #normalize(filters: TopicFilterInput[]): (TopicFilter & { qos: QoS })[] {
    if (!Array.isArray(filters) || filters.length === 0) {
      throw new TypeError("subscribe needs a non-empty array of topic filters");
    }
    return filters.map((f, i) => {
      const tf: TopicFilter = typeof f === "string" ? { topic: f } : f;
      if (tf === null || typeof tf !== "object" || typeof tf.topic !== "string") {
        throw new TypeError(`topic filter ${i} must be a string or { topic }`);
      }
      const err = topicFilterError(tf.topic);
      if (err !== undefined) throw new TypeError(`Cannot subscribe to "${tf.topic}": ${err}`);
      const qos = tf.qos ?? 0;
      if (qos !== 0 && qos !== 1 && qos !== 2) {
        throw new RangeError(`topic filter "${tf.topic}": qos must be 0, 1 or 2`);
      }
      if (tf.retainHandling !== undefined && ![0, 1, 2].includes(tf.retainHandling)) {
        throw new RangeError(`topic filter "${tf.topic}": retainHandling must be 0, 1 or 2`);
      }
      if (tf.noLocal && splitSharedFilter(tf.topic) !== undefined) {
        throw new TypeError(
          `topic filter "${tf.topic}": noLocal is not allowed on a shared subscription [MQTT-3.8.3-4]`,
        );
      }
      return { ...tf, qos };
    });
  }

  #checkSubscribable(filters: TopicFilter[]): void {
    if (this.#state === CLOSED) throw new MqttError("closed", "client was disconnected");
    if (this.#state === IDLE || this.#state === CONNECTING) {
      throw new MqttError("not-connected", "client is not connected");
    }
    const c = this.#connack;
    if (c === null) return;
    for (const f of filters) {
      const shared = splitSharedFilter(f.topic);
      if (shared !== undefined && !c.sharedSubscriptionAvailable) {
        throw new MqttError(
          "shared-subs-unsupported",
          `broker does not support shared subscriptions ("${f.topic}")`,
          { reasonCode: 0x9e },
        );
      }
      const plain = shared ? shared.filter : f.topic;
      if (!c.wildcardSubscriptionAvailable && (plain.includes("+") || plain.includes("#"))) {
        throw new MqttError(
          "wildcard-subs-unsupported",
          `broker does not support wildcard subscriptions ("${f.topic}")`,
          { reasonCode: 0xa2 },
        );
      }
    }
  }

  async #subscribeTarget(
    input: TopicFilterInput[],
    options: SubscribeOptions | undefined,
    make: (token: SubscriptionToken) => Target,
  ): Promise<Target> {
    const filters = this.#normalize(input);
    this.#checkSubscribable(filters);
    const signal = options?.signal;
    signal?.throwIfAborted();
    const token = new SubscriptionToken(filters);
    const target = make(token);
    const toSend: SubscribeFilter[] = [];
    const sentStates: FilterState[] = [];
    const names: string[] = [];
    for (const f of filters) {
      if (names.includes(f.topic)) continue;
      names.push(f.topic);
      let fs = this.#filters.get(f.topic);
      if (fs === undefined) {
        fs = { filter: f, holders: [], subId: 0, ready: undefined };
        this.#filters.set(f.topic, fs);
        this.#trie.add(f.topic, fs);
        this.#matchCache.clear();
        toSend.push(f);
        sentStates.push(fs);
      } else if (
        fs.filter.qos !== f.qos || !!fs.filter.noLocal !== !!f.noLocal ||
        !!fs.filter.retainAsPublished !== !!f.retainAsPublished ||
        (fs.filter.retainHandling ?? 0) !== (f.retainHandling ?? 0)
      ) {
        // Different options: the broker replaces its subscription with the newer one.
        fs.filter = f;
        toSend.push(f);
        sentStates.push(fs);
      }
      fs.holders.push(target);
    }
    this.#targets.set(token.id, { target, filters: names });
    this.#claimParked(target, names);
    // Filters another subscription is still subscribing to: share that SUBACK's answer.
    const shared: { topic: string; ready: Promise<number> }[] = [];
    for (const name of names) {
      const fs = this.#filters.get(name)!;
      if (fs.ready !== undefined && !sentStates.includes(fs)) {
        shared.push({ topic: name, ready: fs.ready });
      }
    }
    const refused: { topic: string; reasonCode: number }[] = [];
    if (toSend.length > 0) {
      const useIds = this.#connack?.subscriptionIdentifiersAvailable ?? false;
      const subId = useIds ? this.#takeSubId() : 0;
      const settle: ((rc: number) => void)[] = [];
      for (const fs of sentStates) {
        fs.subId = subId;
        const d = withResolvers<number>();
        fs.ready = d.promise;
        settle.push((rc) => {
          if (fs.ready === d.promise) fs.ready = undefined;
          d.resolve(rc);
        });
      }
      if (subId !== 0) this.#bySubId.set(subId, sentStates);
      const packetId = this.#ids.alloc();
      let ack: SubackPacket;
      try {
        if (packetId === 0) throw new MqttError("protocol-error", "no free packet identifier");
        ack = await this.#request({
          type: 8,
          packetId,
          filters: toSend,
          properties: subId !== 0 ? { subscriptionIdentifier: subId } : undefined,
        }, signal) as SubackPacket;
      } catch (err) {
        for (const f of settle) f(0x80);
        this.#dropTarget(token);
        throw err;
      }
      for (let i = 0; i < toSend.length; i++) {
        const rc = ack.reasonCodes[i] ?? 0x80;
        settle[i](rc);
        if (rc >= 0x80) refused.push({ topic: toSend[i].topic, reasonCode: rc });
      }
    }
    for (const w of shared) {
      const rc = await w.ready;
      if (rc >= 0x80) refused.push({ topic: w.topic, reasonCode: rc });
    }
    if (refused.length === 0) return target;
    // Refused filters leave the subscription; the granted ones stay.
    const rec = this.#targets.get(token.id);
    for (const r of refused) {
      this.#releaseFilter(r.topic, target);
      if (rec) rec.filters = rec.filters.filter((n) => n !== r.topic);
    }
    if (rec === undefined || rec.filters.length === 0) {
      this.#dropTarget(token);
      throw new SubscribeError(refused, undefined);
    }
    throw new SubscribeError(refused, target instanceof QueueTarget ? target : undefined);
  }

  #takeSubId(): number {
    const id = this.#nextSubId;
    this.#nextSubId = id >= 268_435_455 ? 1 : id + 1;
    return id;
  }

  /** Removes `target` from filter `name`; returns true when the filter has no holder left. */
  #releaseFilter(name: string, target: Target): boolean {
    const fs = this.#filters.get(name);
    if (fs === undefined) return false;
    const i = fs.holders.indexOf(target);
    if (i >= 0) fs.holders.splice(i, 1);
    if (fs.holders.length > 0) return false;
    this.#filters.delete(name);
    this.#trie.remove(name, fs);
    this.#matchCache.clear();
    const group = this.#bySubId.get(fs.subId);
    if (group !== undefined) {
      const k = group.indexOf(fs);
      if (k >= 0) group.splice(k, 1);
      if (group.length === 0) this.#bySubId.delete(fs.subId);
    }
    return true;
  }

  #dropTarget(token: SubscriptionToken): string[] {
    const rec = this.#targets.get(token.id);
    if (rec === undefined) return [];
    this.#targets.delete(token.id);
    rec.target.end();
    this.#endDropLog(token.id);
    const empty: string[] = [];
    for (const name of rec.filters) if (this.#releaseFilter(name, rec.target)) empty.push(name);
    return empty;
  }

  /** Re-issues every tracked filter after the broker lost the session. */
  #resubscribe(link: Link): void {
    const groups = new Map<number, SubscribeFilter[]>();
    for (const fs of this.#filters.values()) {
      let g = groups.get(fs.subId);
      if (g === undefined) groups.set(fs.subId, g = []);
      g.push(fs.filter);
    }
    for (const [subId, filters] of groups) {
      const packetId = this.#ids.alloc();
      if (packetId === 0) break;
      const packet = {
        type: 8 as const,
        packetId,
        filters,
        properties: subId !== 0 ? { subscriptionIdentifier: subId } : undefined,
      };
      this.#requests.set(packetId, {
        packet,
        resolve: (ack) => {
          const refused = ack.reasonCodes.filter((rc) => rc >= 0x80);
          if (refused.length > 0) {
            this.#log?.warn("resubscribe partly refused", { reasonCodes: ack.reasonCodes });
          }
        },
        reject: () => {},
      });
      link.writer.send(packet);
      if (this.#stats !== null) this.#stats.subscribesSent++;
    }
  }

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
   * `wildcard-subs-unsupported`, `shared-subs-unsupported`, `subscribe-refused`.
   * @throws {TypeError} An invalid filter.
   * @throws {RangeError} A bad `buffer`.
   * @throws The `signal.reason` when `options.signal` is or gets aborted.
   */
  subscribe(filters: TopicFilterInput[], options?: SubscribeOptions): Promise<Subscription> {
    return this.#track(async () => {
      options?.signal?.throwIfAborted();
      const explicit = options?.dropPolicy;
      if (explicit === "drop-oldest") {
        throw new MqttError(
          "drop-oldest-unsupported",
          "subscribe() does not support drop-oldest; use subscribeQueue()",
        );
      }
      // A client-wide "drop-oldest" means "drop-newest" for an iterator, as in Go.
      const policy = checkDropPolicy(explicit ?? this.#o.dropPolicy);
      const buffer = options?.buffer ?? 64;
      if (!Number.isInteger(buffer) || buffer < 1) {
        throw new RangeError(`subscribe buffer must be an integer >= 1, got ${buffer}`);
      }
      return await this.#subscribeTarget(
        filters,
        options,
        (token) =>
          this.#queueTarget(
            token,
            buffer,
            policy === "drop-oldest" ? "drop-newest" : policy,
            options ?? {},
          ),
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
   * @throws {MqttError} As {@linkcode Client.subscribe}; `invalid-option` for
   * an unknown `dropPolicy`.
   * @throws {TypeError} An invalid filter.
   * @throws {RangeError} A bad `maxQueueSize`.
   * @throws The `signal.reason` when `options.signal` is or gets aborted.
   */
  subscribeQueue(
    filters: TopicFilterInput[],
    options?: SubscribeOptions,
  ): Promise<QueueSubscription> {
    return this.#track(async () => {
      options?.signal?.throwIfAborted();
      const policy = checkDropPolicy(options?.dropPolicy ?? this.#o.dropPolicy);
      const limit = options?.maxQueueSize ??
        defaultQueueSize(policy, this.#o.maxSubscribeQueueSize);
      if (!Number.isInteger(limit) || limit < 0) {
        throw new RangeError(`maxQueueSize must be an integer >= 0, got ${limit}`);
      }
      return await this.#subscribeTarget(
        filters,
        options,
        (token) => this.#queueTarget(token, limit, policy, options ?? {}),
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
    return this.#track(async () => {
      options?.signal?.throwIfAborted();
      if (typeof handler !== "function") {
        throw new MqttError("nil-handler", "subscribeCallback needs a handler function");
      }
      const t = await this.#subscribeTarget(
        filters,
        options,
        (token) =>
          new CallbackTarget(
            token,
            handler,
            (err) =>
              this.#log?.error("subscription handler threw", { error: toError(err).message }),
          ),
      );
      return t.token;
    });
  }

  #queueTarget(
    token: SubscriptionToken,
    limit: number,
    policy: DropPolicy,
    options: SubscribeOptions,
  ): QueueTarget {
    return new QueueTarget(
      token,
      limit,
      policy,
      options,
      (t, o) => this.unsubscribe(t, o),
      (t, count) => this.#dropped(t, count, policy),
      (t) => this.#endSubscription(t),
      this.#flow,
    );
  }

  /**
   * {@linkcode Client.unsubscribe} for a subscription that ends: a `for await`
   * loop left early, or `await using` disposing it. It waits for UNSUBACK only
   * while the connection it was sent on is up: offline, or once that
   * connection drops, it returns (the UNSUBSCRIBE stays queued and goes out on
   * the next connection), so leaving a loop never waits out a broker outage.
   */
  #endSubscription(token: SubscriptionToken): Promise<void> {
    const link = this.#link;
    const ac = new AbortController();
    const done = this.unsubscribe(token, { signal: ac.signal });
    if (link === null || link.connack === null || link.closed) {
      ac.abort(); // the request is tracked; only the wait stops
      return done.catch(() => {});
    }
    const enders = link.enders ??= new Set();
    enders.add(ac);
    return done.catch(() => {}).finally(() => enders.delete(ac));
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
   */
  unsubscribe(token: SubscriptionToken, options?: { signal?: AbortSignal }): Promise<void> {
    return this.#track(async () => {
      options?.signal?.throwIfAborted();
      if (!(token instanceof SubscriptionToken)) {
        throw new TypeError("unsubscribe needs a SubscriptionToken");
      }
      const empty = this.#dropTarget(token);
      if (empty.length === 0 || this.#state === CLOSED) return;
      const packetId = this.#ids.alloc();
      if (packetId === 0) throw new MqttError("protocol-error", "no free packet identifier");
      await this.#request({ type: 10, packetId, topics: empty }, options?.signal);
    });
  }
}
