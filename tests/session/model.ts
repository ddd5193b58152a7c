/**
 * A model test of the session engine (src/session/): one {@linkcode Outbound}
 * and one {@linkcode Inbound}, sharing one {@linkcode PacketIds} as the client
 * does, driven by a seeded simulation against a reference model of a broker.
 *
 * The broker may cut the connection at any step, lose the session (CONNACK
 * session present = 0) or resume it, re-send its unacknowledged QoS 1/2
 * messages with DUP, answer outbound publishes in any order the protocol
 * allows, change its Receive Maximum and Topic Alias Maximum per connection,
 * and (in some seeds) refuse publishes, exceed our Receive Maximum or misuse
 * topic aliases. The store may be synchronous or land its writes a few steps
 * later (in order, as a real store does), also after the connection dropped.
 * The application publishes QoS 1/2 messages with distinct payloads, acks
 * what it receives in random order (one ack per subscription), sometimes
 * abandons a publish, and takes packet identifiers for SUBSCRIBE-like
 * requests from the shared pool.
 *
 * Invariants, checked at the step that could break them:
 *
 * - every publish the application did not abandon settles exactly once, with
 *   success once a calm phase (no cuts) has run, and only after the broker
 *   has taken the message in; an abandoned one never settles, and one
 *   abandoned while queued is never written;
 * - no packet identifier is handed out twice while in use; no identifier is
 *   reused while the broker still holds a QoS 2 receipt for it;
 * - DUP=0 on a first transmission, DUP=1 on every re-transmission, replays in
 *   original order [MQTT-4.6.0-1], PUBREL in PUBREC order [MQTT-4.6.0-4];
 * - unacknowledged PUBLISH/PUBREL on a connection never exceed the broker's
 *   Receive Maximum [MQTT-3.3.4-7]; the engine's window never does either;
 * - inbound acks leave in the order the PUBLISH packets arrived on their
 *   connection (per type, [MQTT-4.6.0-2] / [MQTT-4.6.0-3]; with a synchronous
 *   store also across types), only after every delivery of the message was
 *   acked, and never for a message received on an earlier connection;
 * - an inbound QoS 2 message is delivered once; every message the broker
 *   completes was delivered; a broker within our Receive Maximum never gets a
 *   "DeliverOverLimit" verdict and the engine's in-flight count stays within it;
 * - write-ahead: PUBLISH, PUBREL and inbound PUBREC only after their store
 *   write landed; PUBCOMP only after the receipt was deleted.
 *
 * Runtime-neutral: no `Deno.*`, `Bun.*` or `node:*`.
 *
 * @module
 */

import { MqttError } from "../../src/errors.ts";
import {
  type FlowResult,
  newFlow,
  Outbound,
  type OutboundHost,
  type OutFlow,
  type SessionLimits,
  StoreOp,
} from "../../src/session/outbound.ts";
import {
  Inbound,
  type InboundHost,
  type InboundLimits,
  type InboundSlot,
  InboundStoreOp,
  Verdict,
} from "../../src/session/inbound.ts";
import { MAX_PACKET_ID, PacketIds } from "../../src/session/packet_ids.ts";
import { type Packet, PacketType, type PublishPacket } from "../../src/wire/types.ts";
import { Prng } from "../_helpers/prng.ts";

type StoreOp = typeof StoreOp[keyof typeof StoreOp];
type InboundStoreOp = typeof InboundStoreOp[keyof typeof InboundStoreOp];

const PUBLISH = PacketType.Publish;
const PUBACK = PacketType.Puback;
const PUBREC = PacketType.Pubrec;
const PUBREL = PacketType.Pubrel;
const PUBCOMP = PacketType.Pubcomp;
const NAMES = ["", "", "", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP"];

/** Store states of an outbound flow in the model store. */
const NONE = 0, PUT = 1, REL = 2, DEL = 3;

/** One application publish. */
interface Pub {
  n: number;
  qos: 1 | 2;
  retain: boolean;
  topic: string;
  flow: ModelFlow;
  abandoned: boolean;
  /** Abandoned before it had a packet identifier: must never be written. */
  abandonedQueued: boolean;
  settled: number;
  ok: boolean;
  /** PUBLISH writes so far. */
  writes: number;
  /** The packet identifier of its first write. */
  id: number;
  /** The connection it was last written on. */
  lastConn: number;
  /** The connection its PUBREL was last written on. */
  relConn: number;
  /** Order of its first transmission. */
  order: number;
  /** Order in which its PUBREC reached the client (0: not yet). */
  recSeq: number;
  /** The connection its PUBREC came on. */
  recConn: number;
  /** What the model store holds for it. */
  stored: number;
  /** Times the broker took it in (delivered it onwards). */
  accepted: number;
  /** The broker session that took it in at QoS 2 (-1: none). */
  acceptedEpoch: number;
}

/** The flows the model hands the engine: an {@linkcode OutFlow} and its publish. */
export interface ModelFlow extends OutFlow {
  /** The application publish behind it. */
  pub: Pub;
}

/** A packet on the model wire: a snapshot (the engine mutates its packets afterwards). */
interface Wire {
  type: number;
  id: number;
  rc: number;
  qos: number;
  dup: boolean;
  retain: boolean;
  topic: string;
  alias: number;
  /** The message it carries or acks (publish number, or broker message serial; -1: unknown). */
  serial: number;
  /** An injected topic alias violation: the reason code the client must answer with. */
  bad: number;
  /** Sent while the broker had our Receive Maximum or more in flight. */
  over: boolean;
}

/** A broker message to the client. */
interface BMsg {
  serial: number;
  qos: 0 | 1 | 2;
  topic: string;
  id: number;
  /** PUBREC received, PUBREL sent: awaiting PUBCOMP. */
  rel: boolean;
  /** The connection it was last sent on. */
  conn: number;
}

/** One inbound QoS 1/2 message delivered to the application on some connection. */
interface Entry {
  id: number;
  qos: number;
  serial: number;
  refs: number;
  acked: number;
  ackWritten: boolean;
  conn: number;
}

/** One connection, from CONNACK to cut. */
interface Conn {
  n: number;
  limits: SessionLimits;
  /** Packet ids with a PUBLISH / PUBREL written on this connection and not yet answered. */
  open: Set<number>;
  /** Inbound QoS 1/2 messages delivered on this connection, in arrival order. */
  log: Entry[];
  q1Head: number;
  q2Head: number;
  allHead: number;
  /** First-transmission order of the last PUBLISH re-sent on this connection. */
  lastDupOrder: number;
  /** PUBREC order of the last PUBREL written on this connection, PUBREC on this connection. */
  lastRelSeq: number;
  /** The same for PUBRELs whose PUBREC came on an earlier connection (re-sent). */
  lastOldRelSeq: number;
  aliasIn: Map<number, string>;
  aliasOut: Map<number, string>;
}

/** A store write in flight (async store). */
interface StoreItem {
  kind: 0 | 1 | 2; // 0 outbound, 1 inbound, 2 clear inbound
  op: number;
  flow: ModelFlow | null;
  id: number;
  serial: number;
  conn: number;
}

/** What one seed drew. */
export interface ModelConfig {
  /** Steps of the chaotic phase (before the calm phase). */
  steps: number;
  /** How many publishes the application makes. */
  publishes: number;
  /** How many messages the broker sends the client. */
  messages: number;
  /** Weight of a cut among the other events. */
  cutWeight: number;
  /** Chance that a reconnect finds the session lost. */
  lossChance: number;
  /** Store writes land later (persist returns false). */
  asyncStore: boolean;
  /** Our Receive Maximum. */
  receiveMaximum: number;
  /** Our Topic Alias Maximum. */
  topicAliasMaximum: number;
  /** The broker refuses some publishes (reason code >= 0x80). */
  refusals: boolean;
  /** The broker exceeds our Receive Maximum and misuses topic aliases now and then. */
  misbehave: boolean;
  /** The broker's Maximum QoS and Retain Available change per connection. */
  limitsVary: boolean;
  /** SUBSCRIBE-like requests take packet identifiers from the shared pool. */
  requests: boolean;
  /** All but a handful of packet identifiers are taken (exhaustion). */
  exhaust: boolean;
  /** Most subscriptions a message is delivered to. */
  maxRefs: number;
  /** End with {@linkcode Outbound.close} instead of a calm phase. */
  close: boolean;
  /**
   * A rate limit (`OutboundHost.admit`, as `ClientOptions.rateLimit` does):
   * each PUBLISH, first or replayed, needs a token; tokens come now and then
   * and the host then pumps the engine.
   */
  gated: boolean;
}

/** Counters, summed over seeds to show what the runs reached. */
export interface ModelStats {
  steps: number;
  publishes: number;
  settledOk: number;
  settledError: number;
  abandoned: number;
  delivered: number;
  cuts: number;
  sessionsLost: number;
  dupReplays: number;
  pubrelReplays: number;
  duplicatesAnswered: number;
  lateStoreWrites: number;
  refused: number;
  overLimit: number;
  violations: number;
  limitFailures: number;
  idsExhausted: number;
  pubcompUnknown: number;
  closed: number;
  /** PUBLISH packets the rate limit held back (admit() said no). */
  admitRefused: number;
}

/** Options of {@linkcode runSeed}. */
export interface ModelOptions {
  /** Record every step (slower); a failure is replayed with it on. @default false */
  trace?: boolean;
  /** Builds the engine under test; tests plant bugs through these. */
  engine?: {
    ids?: () => PacketIds;
    outbound?: (host: OutboundHost<ModelFlow>, ids: PacketIds) => Outbound<ModelFlow>;
    inbound?: (host: InboundHost, limits: InboundLimits) => Inbound;
  };
}

/** What {@linkcode runSeed} found. */
export interface ModelResult {
  /** Every invariant held. */
  ok: boolean;
  seed: number;
  /** The invariant that broke, with the step. */
  error?: string;
  /** The steps (with `trace: true`; otherwise empty). */
  trace: string[];
  config: ModelConfig;
  stats: ModelStats;
}

/** An invariant broke. */
export class ModelFailure extends Error {
  override name = "ModelFailure";
}

/** Draws a seed's configuration. */
export function drawConfig(rng: Prng): ModelConfig {
  return {
    steps: rng.range(40, 260),
    publishes: rng.range(1, 30),
    messages: rng.range(0, 30),
    cutWeight: rng.pick([0, 0.1, 0.4, 1, 2.5]),
    lossChance: rng.pick([0, 0, 0.2, 0.5, 1]),
    asyncStore: rng.bool(0.5),
    receiveMaximum: rng.pick([1, 2, 3, 5, 65535]),
    topicAliasMaximum: rng.pick([0, 0, 1, 3]),
    refusals: rng.bool(0.1),
    misbehave: rng.bool(0.1),
    limitsVary: rng.bool(0.1),
    requests: rng.bool(0.3),
    exhaust: rng.int(256) === 0,
    maxRefs: rng.range(1, 3),
    close: rng.bool(0.05),
    gated: false, // drawn apart (see Model): the other draws stay as they were
  };
}

function emptyStats(): ModelStats {
  return {
    steps: 0,
    publishes: 0,
    settledOk: 0,
    settledError: 0,
    abandoned: 0,
    delivered: 0,
    cuts: 0,
    sessionsLost: 0,
    dupReplays: 0,
    pubrelReplays: 0,
    duplicatesAnswered: 0,
    lateStoreWrites: 0,
    refused: 0,
    overLimit: 0,
    violations: 0,
    limitFailures: 0,
    idsExhausted: 0,
    pubcompUnknown: 0,
    closed: 0,
    admitRefused: 0,
  };
}

/**
 * Adds `b` into `a`.
 *
 * @param a The running total.
 * @param b One seed's counters.
 */
export function addStats(a: ModelStats, b: ModelStats): void {
  for (const k of Object.keys(a) as (keyof ModelStats)[]) a[k] += b[k];
}

/** Steps the simulation can take. */
const Ev = {
  Connect: 0,
  Cut: 1,
  ClientRecv: 2,
  BrokerRecv: 3,
  BrokerEmit: 4,
  BrokerSend: 5,
  BrokerGen: 6,
  Publish: 7,
  AppAck: 8,
  Land: 9,
  Abandon: 10,
  ReqAlloc: 11,
  ReqFree: 12,
  Tokens: 13,
} as const;
const EVENTS = 14;

const TOPICS = ["a", "b/c", "d/e/f"];
const BROKER_RMS = [1, 2, 3, 4, 8, 65535];
const REFUSALS = [0x80, 0x87, 0x97];
const CALM_STEPS = 20_000;

class Sim {
  readonly rng: Prng;
  readonly cfg: ModelConfig;
  readonly stats = emptyStats();
  readonly trace: string[] | null;
  step = 0;
  calm = false;

  readonly ids: PacketIds;
  readonly out: Outbound<ModelFlow>;
  readonly inb: Inbound;

  // The connection.
  conn: Conn | null = null;
  connN = 0;
  toClient: Wire[] = [];
  tcHead = 0;
  toBroker: Wire[] = [];
  tbHead = 0;

  // The broker.
  hasSession = false;
  epoch = 0;
  /** Client -> broker QoS 2 receipts: packet id -> publish number. */
  readonly bQos2 = new Map<number, number>();
  /** Broker -> client QoS 1/2 in flight, in send order. */
  readonly bOut = new Map<number, BMsg>();
  bQueue: BMsg[] = [];
  bqHead = 0;
  /** Answers the broker has yet to send (sent in any order). */
  bPending: Wire[] = [];
  generated = 0;

  // The application.
  readonly pubs: Pub[] = [];
  readonly appAcks: { e: Entry; slot: InboundSlot }[] = [];
  readonly reqs: number[] = [];
  bulkFree: Set<number> | null = null;
  bulkCount = 0;
  /** Packet id -> the publish last written with it, until it completes. */
  readonly idHolder = new Map<number, Pub>();
  /** Times each broker message reached the application. */
  readonly delivered: number[] = [];
  /** Inbound QoS 2 messages delivered in this session, until PUBREL. */
  readonly q2 = new Map<number, Entry>();
  /** PUBREL taken in: packet id -> serial, for the PUBCOMP. */
  readonly relSeen = new Map<number, number>();

  // The store.
  storeQ: StoreItem[] = [];
  sqHead = 0;
  readonly inStore = new Map<number, number>();

  // Bookkeeping.
  inReceive = false;
  expectRc = -1;
  /** The error Outbound.close() was called with. */
  closing: Error | null = null;
  writeOrder = 0;
  recCounter = 0;
  readonly weights = new Float64Array(EVENTS);

  constructor(seed: number, options: ModelOptions) {
    this.rng = new Prng(seed);
    this.cfg = drawConfig(this.rng);
    // From its own generator, so a seed without a rate limit runs as it did before there was one.
    this.cfg.gated = new Prng(seed ^ 0x5bd1e995).bool(0.25);
    this.trace = options.trace ? [] : null;
    const engine = options.engine ?? {};
    this.ids = engine.ids?.() ?? new PacketIds();
    const outHost: OutboundHost<ModelFlow> = {
      write: (p) => this.write(p),
      settle: (f, r) => this.settle(f, r),
      persist: (op, f) => this.persistOut(op, f),
      admit: this.cfg.gated ? (f) => this.admit(f) : undefined,
    };
    const inHost: InboundHost = {
      write: (p) => this.write(p),
      persist: (op, id) => this.persistIn(op, id),
    };
    this.out = engine.outbound?.(outHost, this.ids) ?? new Outbound(outHost, this.ids);
    const limits = {
      receiveMaximum: this.cfg.receiveMaximum,
      topicAliasMaximum: this.cfg.topicAliasMaximum,
    };
    this.inb = engine.inbound?.(inHost, limits) ?? new Inbound(inHost, limits);
    if (this.cfg.exhaust) {
      const free = new Set<number>();
      const k = this.rng.range(1, 6);
      while (free.size < k) free.add(this.rng.range(1, MAX_PACKET_ID));
      for (let id = 1; id <= MAX_PACKET_ID; id++) if (!free.has(id)) this.ids.claim(id);
      this.bulkFree = free;
      this.bulkCount = MAX_PACKET_ID - k;
    }
  }

  /** The first broken invariant (the engine catches what a host write throws). */
  failure: ModelFailure | null = null;

  fail(msg: string): never {
    this.failure ??= new ModelFailure(`step ${this.step}: ${msg}`);
    throw this.failure;
  }

  t(line: string): void {
    this.trace?.push(`${this.step} c${this.conn?.n ?? "-"} ${line}`);
  }

  // ---- the run ---------------------------------------------------------------------------

  run(): void {
    this.t(`config ${JSON.stringify(this.cfg)}`);
    for (; this.step < this.cfg.steps; this.step++) {
      this.event(this.pick());
      if (this.failure !== null) throw this.failure;
      this.check();
    }
    if (this.cfg.close) return this.close();
    this.calm = true;
    this.t("calm: no more cuts, session losses, publishes or broker messages");
    const end = this.step + CALM_STEPS;
    for (; !this.quiet(); this.step++) {
      if (this.step >= end) {
        this.fail(`no progress after ${CALM_STEPS} calm steps: ${this.stuck()}`);
      }
      this.event(this.pick());
      if (this.failure !== null) throw this.failure;
      this.check();
    }
    this.final();
    this.stats.steps = this.step;
  }

  pick(): number {
    const w = this.weights;
    const c = this.conn;
    const live = c !== null;
    const cfg = this.cfg;
    const calm = this.calm;
    w[Ev.Connect] = live ? 0 : 3;
    w[Ev.Cut] = live && !calm ? cfg.cutWeight : 0;
    w[Ev.ClientRecv] = this.tcHead < this.toClient.length ? 6 : 0;
    w[Ev.BrokerRecv] = this.tbHead < this.toBroker.length ? 6 : 0;
    w[Ev.BrokerEmit] = this.bPending.length > 0 ? 5 : 0;
    w[Ev.BrokerSend] = live && this.bqHead < this.bQueue.length ? 2 : 0;
    w[Ev.BrokerGen] = !calm && this.generated < cfg.messages ? 1.5 : 0;
    w[Ev.Publish] = !calm && this.pubs.length < cfg.publishes ? 2 : 0;
    w[Ev.AppAck] = this.appAcks.length > 0 ? 4 : 0;
    w[Ev.Land] = this.sqHead < this.storeQ.length ? 3 : 0;
    w[Ev.Abandon] = !calm && this.pubs.length > 0 ? 0.1 : 0;
    w[Ev.ReqAlloc] = !calm && cfg.requests ? 0.3 : 0;
    w[Ev.ReqFree] = this.reqs.length > 0 ? (calm ? 2 : 0.3) : 0;
    w[Ev.Tokens] = this.pumpWanted ? 2 : 0;
    let sum = 0;
    for (let i = 0; i < EVENTS; i++) sum += w[i];
    if (sum === 0) {
      if (calm) this.fail(`stuck: nothing can happen: ${this.stuck()}`);
      return -1; // nothing to do this step
    }
    let r = this.rng.next() * sum;
    for (let i = 0; i < EVENTS; i++) {
      if (w[i] === 0) continue;
      r -= w[i];
      if (r < 0) return i;
    }
    return -1;
  }

  event(e: number): void {
    switch (e) {
      case Ev.Connect:
        return this.connect();
      case Ev.Cut:
        return this.cut("broker cut the connection");
      case Ev.ClientRecv:
        return this.clientRecv(this.toClient[this.tcHead++]);
      case Ev.BrokerRecv:
        return this.brokerRecv(this.toBroker[this.tbHead++]);
      case Ev.BrokerEmit:
        return this.brokerEmit();
      case Ev.BrokerSend:
        return this.brokerSend();
      case Ev.BrokerGen:
        return this.brokerGen();
      case Ev.Publish:
        return this.publish();
      case Ev.AppAck:
        return this.appAck();
      case Ev.Land:
        return this.land();
      case Ev.Abandon:
        return this.abandon();
      case Ev.ReqAlloc:
        return this.reqAlloc();
      case Ev.ReqFree:
        return this.reqFree();
      case Ev.Tokens:
        return this.tokensCome();
    }
  }

  /** Invariants that hold between any two steps. */
  check(): void {
    const c = this.conn;
    if (c !== null && this.out.window > c.limits.receiveMaximum) {
      this.fail(
        `Outbound.window ${this.out.window} exceeds the broker's Receive Maximum ` +
          `${c.limits.receiveMaximum} [MQTT-3.3.4-7]`,
      );
    }
    const held = this.out.size + this.out.quarantined + this.reqs.length + this.bulkCount;
    if (this.ids.inUse !== held) {
      this.fail(`PacketIds.inUse is ${this.ids.inUse}, but ${held} identifiers are held`);
    }
    if (!this.cfg.misbehave && this.inb.inFlight > this.cfg.receiveMaximum) {
      this.fail(
        `Inbound.inFlight ${this.inb.inFlight} exceeds our Receive Maximum ` +
          `${this.cfg.receiveMaximum} though the broker respects it`,
      );
    }
  }

  quiet(): boolean {
    return this.conn !== null && this.tcHead === this.toClient.length &&
      this.tbHead === this.toBroker.length && this.bPending.length === 0 &&
      this.sqHead === this.storeQ.length && this.appAcks.length === 0 &&
      this.bOut.size === 0 && this.bqHead === this.bQueue.length && this.out.size === 0 &&
      this.out.queued === 0 && this.reqs.length === 0;
  }

  stuck(): string {
    return JSON.stringify({
      live: this.conn !== null,
      toClient: this.toClient.length - this.tcHead,
      toBroker: this.toBroker.length - this.tbHead,
      brokerPending: this.bPending.length,
      store: this.storeQ.length - this.sqHead,
      appAcks: this.appAcks.length,
      brokerInFlight: [...this.bOut.values()].map((m) => `${m.id}:q${m.qos}${m.rel ? "rel" : ""}`),
      brokerQueued: this.bQueue.length - this.bqHead,
      outSize: this.out.size,
      outQueued: this.out.queued,
      outWindow: this.out.window,
      inFlight: this.inb.inFlight,
    });
  }

  /** The session ends: every flow settles once with the close error; late store writes send nothing. */
  close(): void {
    if (this.conn !== null) this.cut("client closes");
    const error = new MqttError("closed", "closed");
    this.closing = error;
    this.t("client closes the session");
    this.out.close(error);
    while (this.sqHead < this.storeQ.length) this.land();
    if (this.failure !== null) throw this.failure;
    for (const p of this.pubs) {
      if (p.settled !== (p.abandoned ? 0 : 1)) this.fail(`#${p.n} settled ${p.settled} times`);
    }
    if (this.out.size !== 0 || this.out.queued !== 0) this.fail("flows left after close()");
    if (this.ids.inUse !== this.reqs.length + this.bulkCount) {
      this.fail(`${this.ids.inUse} packet ids in use after close()`);
    }
    this.stats.steps = this.step;
  }

  final(): void {
    for (const p of this.pubs) {
      if (p.abandoned) {
        if (p.settled !== 0) this.fail(`abandoned publish #${p.n} settled`);
        continue;
      }
      if (p.settled !== 1) this.fail(`publish #${p.n} settled ${p.settled} times, not once`);
      const expectError = this.cfg.refusals || this.cfg.limitsVary;
      if (!p.ok && !expectError) this.fail(`publish #${p.n} settled with an error`);
    }
    if (this.inb.inFlight !== 0 || this.inb.acks.length !== 0) {
      this.fail(`inbound state left over: inFlight ${this.inb.inFlight}`);
    }
    if (this.out.window !== 0) {
      this.fail(`Outbound.window ${this.out.window} with nothing in flight`);
    }
    // Identifiers of QoS 2 publishes failed on replay stay held until the session ends.
    if (this.ids.inUse !== this.bulkCount + this.out.quarantined) {
      this.fail(`${this.ids.inUse} packet ids left in use`);
    }
    if (this.bQos2.size !== 0) {
      this.fail(`the broker holds QoS 2 receipts ${[...this.bQos2.keys()]}`);
    }
  }

  // ---- connection ------------------------------------------------------------------------

  connect(): void {
    let sessionPresent = false;
    if (this.hasSession) {
      if (!this.calm && this.rng.bool(this.cfg.lossChance)) this.loseSession();
      else sessionPresent = true;
    }
    this.hasSession = true;
    // A broker changes Maximum QoS / Retain Available only while it holds no QoS 2 receipt
    // of ours: otherwise the engine's recheck fails a flow the broker already has and frees
    // a packet identifier it still holds (a known limit of the engine, see the report).
    const vary = this.cfg.limitsVary && !this.calm && this.bQos2.size === 0;
    const limits: SessionLimits = {
      receiveMaximum: this.rng.pick(BROKER_RMS),
      maximumQoS: vary && this.rng.bool(0.3) ? 1 : 2,
      retainAvailable: vary ? this.rng.bool(0.6) : true,
      topicAliasMaximum: this.rng.pick([0, 1, 3]),
    };
    const c: Conn = {
      n: ++this.connN,
      limits,
      open: new Set(),
      log: [],
      q1Head: 0,
      q2Head: 0,
      allHead: 0,
      lastDupOrder: 0,
      lastRelSeq: 0,
      lastOldRelSeq: 0,
      aliasIn: new Map(),
      aliasOut: new Map(),
    };
    this.conn = c;
    if (this.trace) {
      this.t(
        `CONNACK sessionPresent=${
          sessionPresent ? 1 : 0
        } receiveMaximum=${limits.receiveMaximum} ` +
          `maximumQoS=${limits.maximumQoS} retain=${limits.retainAvailable} ` +
          `topicAliasMaximum=${limits.topicAliasMaximum}`,
      );
    }
    this.inb.connected(sessionPresent);
    if (!sessionPresent) {
      this.q2.clear();
      this.relSeen.clear();
      if (this.cfg.asyncStore) {
        this.storeQ.push({ kind: 2, op: 0, flow: null, id: 0, serial: 0, conn: 0 });
      } else {
        this.inStore.clear();
      }
    }
    this.out.connected({ ...limits, sessionPresent });
    if (sessionPresent) {
      // The broker re-sends what it has in flight, in order [MQTT-4.4.0-1].
      for (const m of this.bOut.values()) {
        if (m.rel) this.toClient.push(this.wire(PUBREL, m.id, 0, m.serial));
        else {
          m.conn = c.n;
          this.sendPublish(m, true, this.bOut.size > this.cfg.receiveMaximum);
        }
      }
    }
  }

  loseSession(): void {
    this.stats.sessionsLost++;
    this.epoch++;
    this.bQos2.clear();
    this.bOut.clear(); // messages in flight and queued for the client are gone with it
    this.bQueue = [];
    this.bqHead = 0;
    this.t("broker lost the session");
  }

  cut(why: string): void {
    this.stats.cuts++;
    this.t(`cut: ${why}`);
    this.conn = null;
    this.toClient = [];
    this.tcHead = 0;
    this.toBroker = [];
    this.tbHead = 0;
    this.bPending = [];
    this.out.disconnected();
    this.inb.disconnected();
  }

  wire(type: number, id: number, rc: number, serial: number): Wire {
    return {
      type,
      id,
      rc,
      qos: 0,
      dup: false,
      retain: false,
      topic: "",
      alias: 0,
      serial,
      bad: 0,
      over: false,
    };
  }

  // ---- the rate limit (cfg.gated) ----------------------------------------------------------

  /** Tokens left. */
  tokens = 0;
  /** admit() said no: the host pumps when tokens come. */
  pumpWanted = false;
  /** Flows admitted and not yet written. */
  readonly admitted = new Set<ModelFlow>();

  admit(f: ModelFlow): boolean {
    if (this.tokens > 0) {
      this.tokens--;
      this.admitted.add(f);
      return true;
    }
    this.stats.admitRefused++;
    this.pumpWanted = true;
    return false;
  }

  tokensCome(): void {
    this.tokens = this.rng.range(1, 3);
    this.pumpWanted = false;
    this.t(`tokens ${this.tokens}`);
    this.out.pump();
  }

  // ---- the client's writes ---------------------------------------------------------------

  write(p: Packet): void {
    const c = this.conn;
    if (c === null) this.fail(`${NAMES[p.type] ?? p.type} written while disconnected`);
    switch (p.type) {
      case PUBLISH:
        return this.clientPublish(c, p);
      case PUBREL:
        return this.clientPubrel(c, p.packetId, p.reasonCode ?? 0);
      case PUBACK:
        return this.clientPuback(c, p.packetId, p.reasonCode ?? 0);
      case PUBREC:
        return this.clientPubrec(c, p.packetId, p.reasonCode ?? 0);
      case PUBCOMP:
        return this.clientPubcomp(p.packetId, p.reasonCode ?? 0);
      default:
        this.fail(`unexpected packet type ${p.type} written`);
    }
  }

  clientPublish(c: Conn, p: PublishPacket): void {
    const pay = p.payload;
    const id = p.packetId ?? 0;
    if (pay.length !== 3) this.fail(`PUBLISH id ${id} written without its payload`);
    const n = pay[0] | pay[1] << 8 | pay[2] << 16;
    const pub = this.pubs[n];
    if (this.cfg.gated && pub !== undefined && !this.admitted.delete(pub.flow)) {
      this.fail(`PUBLISH #${n} written without a token from admit()`);
    }
    if (this.trace) {
      this.t(
        `client> PUBLISH id=${id} #${n} q${p.qos} dup=${p.dup ? 1 : 0}` +
          (p.properties?.topicAlias !== undefined ? ` alias=${p.properties.topicAlias}` : ""),
      );
    }
    if (pub === undefined) this.fail(`PUBLISH of unknown payload ${n}`);
    if (id < 1 || id > MAX_PACKET_ID) this.fail(`PUBLISH #${n} with packet id ${id}`);
    if (pub.abandonedQueued) this.fail(`#${n} was abandoned while queued, yet written`);
    if (p.qos !== pub.qos || p.topic !== pub.topic || p.retain !== pub.retain) {
      this.fail(`PUBLISH #${n} altered: q${p.qos} "${p.topic}" retain=${p.retain}`);
    }
    const holder = this.idHolder.get(id);
    if (holder !== undefined && holder !== pub && !holder.flow.done) {
      this.fail(`packet id ${id} of #${n} is still in flight for #${holder.n} [MQTT-2.2.1-3]`);
    }
    if (this.reqs.includes(id) || (this.bulkFree !== null && !this.bulkFree.has(id))) {
      this.fail(`packet id ${id} of #${n} is held by a request [MQTT-2.2.1-3]`);
    }
    if (pub.writes === 0) {
      if (p.dup) this.fail(`DUP=1 on the first transmission of #${n} [MQTT-3.3.1-1]`);
      pub.order = ++this.writeOrder;
      pub.id = id;
    } else {
      if (!p.dup) this.fail(`DUP=0 on a re-transmission of #${n} [MQTT-3.3.1-1]`);
      if (pub.lastConn === c.n) this.fail(`#${n} written twice on one connection`);
      if (pub.id !== id) this.fail(`#${n} re-sent with packet id ${id}, first sent as ${pub.id}`);
      if (pub.order < c.lastDupOrder) {
        this.fail(`#${n} re-sent after a publish first sent later [MQTT-4.6.0-1]`);
      }
      c.lastDupOrder = pub.order;
      this.stats.dupReplays++;
    }
    pub.writes++;
    pub.lastConn = c.n;
    this.idHolder.set(id, pub);
    if (pub.stored !== PUT) this.fail(`#${n} written before its store write landed (write-ahead)`);
    const alias = p.properties?.topicAlias;
    if (alias !== undefined && (alias < 1 || alias > c.limits.topicAliasMaximum)) {
      this.fail(
        `#${n} carries topic alias ${alias}, above the broker's Topic Alias Maximum ` +
          `${c.limits.topicAliasMaximum} [MQTT-3.3.2-9]`,
      );
    }
    if (p.qos > c.limits.maximumQoS) this.fail(`#${n} sent at QoS ${p.qos} above Maximum QoS`);
    if (p.retain && !c.limits.retainAvailable) this.fail(`#${n} retained, not available`);
    this.openOne(c, id);
    const w = this.wire(PUBLISH, id, 0, n);
    w.qos = p.qos;
    w.dup = p.dup;
    w.retain = p.retain;
    w.topic = p.topic;
    w.alias = alias ?? 0;
    this.toBroker.push(w);
  }

  openOne(c: Conn, id: number): void {
    c.open.add(id);
    if (c.open.size > c.limits.receiveMaximum) {
      this.fail(
        `${c.open.size} unacknowledged PUBLISH/PUBREL on connection ${c.n}, above the broker's ` +
          `Receive Maximum ${c.limits.receiveMaximum} [MQTT-3.3.4-7]`,
      );
    }
  }

  clientPubrel(c: Conn, id: number, rc: number): void {
    this.t(`client> PUBREL id=${id} rc=${hex(rc)}`);
    if (rc !== 0) this.fail(`PUBREL ${hex(rc)} for id ${id}: the broker sent no unknown PUBREC`);
    const pub = this.idHolder.get(id);
    if (pub === undefined || pub.qos !== 2 || pub.recSeq === 0) {
      this.fail(`PUBREL for id ${id} before its PUBREC`);
    }
    if (pub.stored !== REL) this.fail(`PUBREL for #${pub.n} before its store write landed`);
    if (pub.relConn !== c.n) {
      // PUBREC order, among the PUBRELs answering PUBRECs of this connection and among those
      // re-sent for earlier ones (these wait for room in the window, those need none more).
      const fresh = pub.recConn === c.n;
      if (pub.recSeq < (fresh ? c.lastRelSeq : c.lastOldRelSeq)) {
        this.fail(`PUBREL for #${pub.n} after one whose PUBREC came later [MQTT-4.6.0-4]`);
      }
      if (fresh) c.lastRelSeq = pub.recSeq;
      else c.lastOldRelSeq = pub.recSeq;
      if (pub.relConn !== 0) this.stats.pubrelReplays++;
      pub.relConn = c.n;
    }
    this.openOne(c, id);
    this.toBroker.push(this.wire(PUBREL, id, 0, pub.n));
  }

  /** Order checks and app-ack check for an ack of `e`, delivered on `c`. */
  ackOrder(c: Conn, e: Entry, name: string): void {
    if (e.acked < e.refs) {
      this.fail(`${name} ${e.id} after ${e.acked} of its ${e.refs} deliveries were acked`);
    }
    if (!this.cfg.asyncStore) {
      // With a synchronous store the engine keeps arrival order across types too.
      const log = c.log;
      while (c.allHead < log.length && log[c.allHead].ackWritten) c.allHead++;
      if (log[c.allHead] !== e) {
        this.fail(
          `${name} ${e.id} before the ack of id ${log[c.allHead]?.id}, which arrived first ` +
            `[MQTT-4.6.0-2] [MQTT-4.6.0-3]`,
        );
      }
    }
    e.ackWritten = true;
  }

  clientPuback(c: Conn, id: number, rc: number): void {
    this.t(`client> PUBACK id=${id} rc=${hex(rc)}`);
    if (rc !== 0) this.fail(`PUBACK ${hex(rc)}: the client never refuses`);
    const log = c.log;
    while (c.q1Head < log.length && (log[c.q1Head].qos !== 1 || log[c.q1Head].ackWritten)) {
      c.q1Head++;
    }
    const e = log[c.q1Head];
    if (e === undefined) {
      this.fail(`PUBACK ${id} for no QoS 1 message received on this connection`);
    }
    if (e.id !== id) {
      this.fail(`PUBACK ${id} before the PUBACK of id ${e.id}, which arrived first [MQTT-4.6.0-2]`);
    }
    this.ackOrder(c, e, "PUBACK");
    this.toBroker.push(this.wire(PUBACK, id, 0, e.serial));
  }

  clientPubrec(c: Conn, id: number, rc: number): void {
    this.t(`client> PUBREC id=${id}${this.inReceive ? " (answers a duplicate)" : ""}`);
    if (rc !== 0) this.fail(`PUBREC ${hex(rc)}: the client never refuses`);
    const e = this.q2.get(id);
    if (e === undefined) this.fail(`PUBREC ${id} for no QoS 2 message received`);
    if (this.inReceive) {
      this.stats.duplicatesAnswered++;
    } else {
      if (e.ackWritten) this.fail(`PUBREC ${id} twice without a re-delivery`);
      if (e.conn === c.n) {
        const log = c.log;
        while (c.q2Head < log.length && (log[c.q2Head].qos !== 2 || log[c.q2Head].ackWritten)) {
          c.q2Head++;
        }
        if (log[c.q2Head] !== e) {
          this.fail(
            `PUBREC ${id} before the PUBREC of id ${log[c.q2Head]?.id}, which arrived first ` +
              `[MQTT-4.6.0-3]`,
          );
        }
        this.ackOrder(c, e, "PUBREC");
      } else if (e.acked < e.refs) {
        this.fail(`PUBREC ${id} after ${e.acked} of its ${e.refs} deliveries were acked`);
      }
    }
    if (this.inStore.get(id) !== e.serial) {
      this.fail(`PUBREC ${id} before its receipt was stored (write-ahead)`);
    }
    e.ackWritten = true;
    this.toBroker.push(this.wire(PUBREC, id, 0, e.serial));
  }

  clientPubcomp(id: number, rc: number): void {
    this.t(`client> PUBCOMP id=${id} rc=${hex(rc)}`);
    let serial = -1;
    if (rc === 0) {
      const s = this.relSeen.get(id);
      if (s === undefined) this.fail(`PUBCOMP ${id} without a PUBREL`);
      if (this.inStore.has(id)) this.fail(`PUBCOMP ${id} before its receipt was deleted`);
      this.relSeen.delete(id);
      serial = s;
    } else if (rc === 0x92) {
      this.stats.pubcompUnknown++;
    } else {
      this.fail(`PUBCOMP ${hex(rc)}`);
    }
    this.toBroker.push(this.wire(PUBCOMP, id, rc, serial));
  }

  // ---- settle and store ------------------------------------------------------------------

  settle(f: ModelFlow, r: FlowResult | Error): void {
    if (this.failure !== null) throw this.failure;
    const p = f.pub;
    const ok = !(r instanceof Error);
    this.t(`settle #${p.n} ${ok ? `ok rc=${hex(r.reasonCode)}` : `${errCode(r)}`}`);
    if (p.abandoned) this.fail(`abandoned publish #${p.n} settled`);
    if (++p.settled > 1) this.fail(`publish #${p.n} settled twice`);
    p.ok = ok;
    if (this.idHolder.get(p.id) === p) this.idHolder.delete(p.id);
    if (ok) {
      this.stats.settledOk++;
      if (p.accepted === 0) this.fail(`#${p.n} settled as delivered, but the broker never took it`);
      return;
    }
    this.stats.settledError++;
    if (!(r instanceof MqttError)) this.fail(`#${p.n} failed with ${r}`);
    const limits = this.out.limits;
    if (r === this.closing) {
      this.stats.closed++;
    } else if (r.code === "publish-refused") {
      if (this.expectRc < 0x80 || r.reasonCode !== this.expectRc) {
        this.fail(`#${p.n} refused with ${hex(r.reasonCode ?? 0)}, the broker sent none`);
      }
      this.stats.refused++;
    } else if (r.code === "qos-not-supported" && limits !== null && p.qos > limits.maximumQoS) {
      this.stats.limitFailures++;
    } else if (r.code === "retain-not-supported" && limits !== null && !limits.retainAvailable) {
      this.stats.limitFailures++;
    } else {
      this.fail(`#${p.n} failed with ${r.code}`);
    }
  }

  persistOut(op: StoreOp, f: ModelFlow): boolean {
    const st = op === StoreOp.Put ? PUT : op === StoreOp.Release ? REL : DEL;
    if (!this.cfg.asyncStore) {
      f.pub.stored = st;
      return true;
    }
    this.storeQ.push({ kind: 0, op: st, flow: f, id: 0, serial: 0, conn: this.connN });
    return false;
  }

  persistIn(op: InboundStoreOp, id: number): boolean {
    const serial = op === InboundStoreOp.Put ? this.q2.get(id)?.serial ?? -1 : 0;
    if (op === InboundStoreOp.Put && serial === -1) this.fail(`receipt ${id} stored for nothing`);
    if (!this.cfg.asyncStore) {
      if (op === InboundStoreOp.Put) this.inStore.set(id, serial);
      else this.inStore.delete(id);
      return true;
    }
    this.storeQ.push({ kind: 1, op, flow: null, id, serial, conn: this.inb.connection });
    return false;
  }

  land(): void {
    const it = this.storeQ[this.sqHead];
    this.storeQ[this.sqHead++] = undefined as never;
    if (it.conn !== this.connN || this.conn === null) this.stats.lateStoreWrites++;
    if (it.kind === 0) {
      const f = it.flow as ModelFlow;
      this.t(`store landed: ${["", "put", "release", "delete"][it.op]} #${f.pub.n}`);
      f.pub.stored = it.op;
      this.out.stored(f);
    } else if (it.kind === 1) {
      this.t(`store landed: inbound ${it.op === InboundStoreOp.Put ? "put" : "delete"} ${it.id}`);
      if (it.op === InboundStoreOp.Put) this.inStore.set(it.id, it.serial);
      else this.inStore.delete(it.id);
      this.inb.stored(it.op as InboundStoreOp, it.id, it.conn);
    } else {
      this.t("store landed: clear inbound");
      this.inStore.clear();
    }
  }

  // ---- the client reads ------------------------------------------------------------------

  clientRecv(w: Wire): void {
    const c = this.conn as Conn;
    switch (w.type) {
      case PUBLISH:
        return this.clientGotPublish(c, w);
      case PUBACK: {
        this.t(`client< PUBACK id=${w.id} rc=${hex(w.rc)}`);
        c.open.delete(w.id); // answered: the broker's quota has room again
        this.expectRc = w.rc;
        const known = this.out.onPuback(w.id, w.rc, undefined);
        this.expectRc = -1;
        if (!known) this.fail(`Outbound.onPuback(${w.id}) knows no flow for a PUBACK it caused`);
        return this.answered(c, w.id);
      }
      case PUBREC: {
        this.t(`client< PUBREC id=${w.id} rc=${hex(w.rc)}`);
        const pub = this.idHolder.get(w.id);
        if (pub === undefined || pub.n !== w.serial) this.fail(`PUBREC ${w.id} for no flow`);
        if (w.rc < 0x80 && pub.recSeq === 0) {
          pub.recSeq = ++this.recCounter;
          pub.recConn = c.n;
        }
        if (w.rc >= 0x80) c.open.delete(w.id);
        this.expectRc = w.rc;
        this.out.onPubrec(w.id, w.rc, undefined);
        this.expectRc = -1;
        if (w.rc >= 0x80) this.answered(c, w.id);
        return;
      }
      case PUBREL: {
        this.t(`client< PUBREL id=${w.id}`);
        const e = this.q2.get(w.id);
        if (e !== undefined) {
          if (e.serial !== w.serial) this.fail(`PUBREL ${w.id} for another message`);
          if (!e.ackWritten) this.fail(`the broker sent PUBREL ${w.id} before any PUBREC`);
          this.q2.delete(w.id);
          this.relSeen.set(w.id, e.serial);
        }
        this.inb.onPubrel(w.id);
        if (this.inb.qos2(w.id) !== undefined) this.fail(`QoS 2 state ${w.id} kept after PUBREL`);
        return;
      }
      case PUBCOMP: {
        this.t(`client< PUBCOMP id=${w.id} rc=${hex(w.rc)}`);
        c.open.delete(w.id);
        const r = this.out.onPubcomp(w.id, w.rc, undefined);
        if (r !== true) this.fail(`Outbound.onPubcomp(${w.id}) returned ${r}`);
        return this.answered(c, w.id);
      }
    }
  }

  /** A flow of `id` was answered (PUBACK, PUBCOMP or a refusing PUBREC). */
  answered(_c: Conn, id: number): void {
    const pub = this.idHolder.get(id);
    if (pub !== undefined && this.out.get(id) !== pub.flow) this.idHolder.delete(id);
  }

  clientGotPublish(c: Conn, w: Wire): void {
    const id = w.id;
    const qos = w.qos as 0 | 1 | 2;
    if (this.trace) {
      this.t(
        `client< PUBLISH id=${id} m${w.serial} q${qos} dup=${w.dup ? 1 : 0}` +
          (w.alias !== 0 ? ` alias=${w.alias} topic="${w.topic}"` : "") +
          (w.bad !== 0 ? ` (bad alias: expect ${hex(w.bad)})` : "") +
          (w.over ? " (over our Receive Maximum)" : ""),
      );
    }
    const p: PublishPacket = {
      type: PUBLISH,
      topic: w.topic,
      payload: new Uint8Array(0),
      qos,
      retain: false,
      dup: w.dup,
      packetId: qos === 0 ? undefined : id,
      properties: w.alias !== 0 ? { topicAlias: w.alias } : {},
    };
    this.inReceive = true;
    const v = this.inb.receive(p);
    this.inReceive = false;
    if (w.bad !== 0) {
      if (v !== Verdict.Violation || this.inb.violation?.reasonCode !== w.bad) {
        this.fail(`a topic alias violation (${hex(w.bad)}) was judged ${v}`);
      }
      this.stats.violations++;
      return this.cut(`client: protocol error ${hex(w.bad)}`);
    }
    if (v === Verdict.Violation) {
      this.fail(`a valid PUBLISH judged a violation: ${this.inb.violation}`);
    }
    const topic = TOPICS[w.serial % TOPICS.length];
    if (this.inb.topic !== topic) this.fail(`topic "${this.inb.topic}", expected "${topic}"`);
    if (qos === 0) {
      if (v !== Verdict.Deliver) this.fail(`QoS 0 judged ${v}`);
      this.delivered[w.serial]++;
      this.stats.delivered++;
      return;
    }
    const known = qos === 2 ? this.q2.get(id) : undefined;
    if (v === Verdict.Duplicate) {
      if (known === undefined) this.fail(`m${w.serial} (id ${id}) taken for a duplicate: lost`);
      if (known.serial !== w.serial) {
        this.fail(`m${w.serial} (id ${id}) taken for a duplicate of m${known.serial}: lost`);
      }
      return;
    }
    if (known !== undefined) this.fail(`QoS 2 message m${w.serial} delivered twice (§4.3.3)`);
    if (v === Verdict.DeliverOverLimit) {
      if (!w.over) this.fail(`DeliverOverLimit for m${w.serial} though the broker kept within it`);
      this.stats.overLimit++;
    }
    const refs = this.rng.int(this.cfg.maxRefs + 1);
    const e: Entry = { id, qos, serial: w.serial, refs, acked: 0, ackWritten: false, conn: c.n };
    c.log.push(e);
    if (qos === 2) this.q2.set(id, e);
    this.delivered[w.serial]++;
    this.stats.delivered++;
    const slot = this.inb.accept(id, qos, refs, this.step);
    for (let i = 0; i < refs; i++) this.appAcks.push({ e, slot });
  }

  // ---- the broker ------------------------------------------------------------------------

  respond(type: number, id: number, rc: number, serial: number): void {
    this.bPending.push(this.wire(type, id, rc, serial));
  }

  brokerEmit(): void {
    const q = this.bPending;
    const i = this.rng.int(q.length);
    const w = q[i];
    q[i] = q[q.length - 1];
    q.pop();
    this.toClient.push(w);
  }

  brokerRecv(w: Wire): void {
    const c = this.conn as Conn;
    const id = w.id;
    switch (w.type) {
      case PUBLISH: {
        const pub = this.pubs[w.serial];
        if (w.alias !== 0) {
          if (w.topic !== "") c.aliasIn.set(w.alias, w.topic);
          else if (!c.aliasIn.has(w.alias)) this.fail(`PUBLISH with unknown topic alias`);
        } else if (w.topic === "") this.fail("PUBLISH without a topic");
        const refuse = this.cfg.refusals && !this.calm && this.rng.bool(0.15);
        if (w.qos === 1) {
          if (refuse) return this.respond(PUBACK, id, this.rng.pick(REFUSALS), w.serial);
          pub.accepted++;
          return this.respond(PUBACK, id, this.rng.bool(0.1) ? 0x10 : 0, w.serial);
        }
        const held = this.bQos2.get(id);
        if (held !== undefined) {
          if (held !== w.serial) {
            this.fail(
              `#${w.serial} sent with packet id ${id} while the broker holds the QoS 2 receipt ` +
                `of #${held}: #${w.serial} is dropped as a duplicate and lost`,
            );
          }
          return this.respond(PUBREC, id, 0, w.serial);
        }
        if (refuse) return this.respond(PUBREC, id, this.rng.pick(REFUSALS), w.serial);
        if (pub.acceptedEpoch === this.epoch) {
          this.fail(`QoS 2 #${w.serial} taken in twice in one broker session (§4.3.3)`);
        }
        pub.acceptedEpoch = this.epoch;
        pub.accepted++;
        this.bQos2.set(id, w.serial);
        return this.respond(PUBREC, id, 0, w.serial);
      }
      case PUBREL: {
        const held = this.bQos2.get(id);
        if (held === undefined) return this.respond(PUBCOMP, id, 0x92, w.serial);
        if (held !== w.serial) this.fail(`PUBREL for #${w.serial} releases #${held}`);
        this.bQos2.delete(id);
        return this.respond(PUBCOMP, id, 0, w.serial);
      }
      case PUBACK: {
        const m = this.bOut.get(id);
        if (m === undefined || m.qos !== 1) {
          this.fail(`PUBACK ${id} for no QoS 1 message in flight`);
        }
        if (m.serial !== w.serial) this.fail(`PUBACK meant for m${w.serial} acks m${m.serial}`);
        if (m.conn !== c.n) this.fail(`PUBACK ${id} for a PUBLISH of an earlier connection`);
        this.bOut.delete(id);
        return this.completed(m);
      }
      case PUBREC: {
        const m = this.bOut.get(id);
        if (m === undefined || m.qos !== 2) {
          this.fail(`PUBREC ${id} for no QoS 2 message in flight`);
        }
        if (m.serial !== w.serial) this.fail(`PUBREC meant for m${w.serial} acks m${m.serial}`);
        if (this.delivered[m.serial] === 0) this.fail(`PUBREC for m${m.serial}, never delivered`);
        if (!m.rel) {
          m.rel = true;
          this.respond(PUBREL, id, 0, m.serial);
        }
        return;
      }
      case PUBCOMP: {
        const m = this.bOut.get(id);
        if (m === undefined || !m.rel) this.fail(`PUBCOMP ${id} for no message awaiting one`);
        if (w.serial !== -1 && m.serial !== w.serial) {
          this.fail(`PUBCOMP meant for m${w.serial} completes m${m.serial}`);
        }
        this.bOut.delete(id);
        return this.completed(m);
      }
    }
  }

  completed(m: BMsg): void {
    if (this.delivered[m.serial] === 0) {
      this.fail(`m${m.serial} completed at the broker, never delivered to the application: lost`);
    }
  }

  brokerGen(): void {
    const serial = this.generated++;
    const qos = this.rng.pick([0, 1, 1, 2, 2] as const);
    this.delivered.push(0);
    this.bQueue.push({
      serial,
      qos,
      topic: TOPICS[serial % TOPICS.length],
      id: 0,
      rel: false,
      conn: 0,
    });
  }

  brokerSend(): void {
    const m = this.bQueue[this.bqHead];
    if (m.qos === 0) {
      this.bqHead++;
      return this.sendPublish(m, false, false);
    }
    const over = this.bOut.size >= this.cfg.receiveMaximum;
    if (over && !(this.cfg.misbehave && !this.calm && this.rng.bool(0.2))) return; // respects it
    this.bqHead++;
    let id = 1;
    while (this.bOut.has(id)) id++; // the lowest free id: reuse as early as possible
    m.id = id;
    m.conn = (this.conn as Conn).n;
    this.bOut.set(id, m);
    this.sendPublish(m, false, over);
  }

  sendPublish(m: BMsg, dup: boolean, over: boolean): void {
    const c = this.conn as Conn;
    const w = this.wire(PUBLISH, m.qos === 0 ? 0 : m.id, 0, m.serial);
    w.qos = m.qos;
    w.dup = dup;
    w.topic = m.topic;
    w.over = over;
    const tam = this.cfg.topicAliasMaximum;
    if (this.cfg.misbehave && !this.calm && this.rng.bool(0.05)) {
      let a = 0;
      if (tam > 0 && this.rng.bool(0.5)) {
        for (let i = 1; i <= tam; i++) if (!c.aliasOut.has(i)) a = i;
      }
      if (a !== 0) {
        w.alias = a; // never set on this connection
        w.topic = "";
        w.bad = 0x82;
      } else {
        w.alias = tam + 1;
        w.bad = 0x94;
      }
    } else if (tam > 0 && this.rng.bool(0.3)) {
      const a = this.rng.range(1, tam);
      w.alias = a;
      if (c.aliasOut.get(a) === m.topic && this.rng.bool(0.7)) w.topic = "";
      else c.aliasOut.set(a, m.topic);
    }
    this.toClient.push(w);
  }

  // ---- the application -------------------------------------------------------------------

  publish(): void {
    const n = this.pubs.length;
    const qos: 1 | 2 = this.rng.bool(0.5) ? 1 : 2;
    const retain = this.cfg.limitsVary && this.rng.bool(0.3);
    const limits = this.out.limits;
    if (limits !== null && (qos > limits.maximumQoS || (retain && !limits.retainAvailable))) {
      return; // the client refuses it up front
    }
    const topic = `t/${n % 4}`;
    const packet: PublishPacket = {
      type: PUBLISH,
      topic,
      payload: Uint8Array.of(n & 0xff, (n >> 8) & 0xff, n >> 16),
      qos,
      retain,
      dup: false,
      properties: {},
    };
    if (this.rng.bool(0.25)) {
      const a = this.rng.range(1, 3);
      if (limits === null || a <= limits.topicAliasMaximum) packet.properties = { topicAlias: a };
    }
    const flow = newFlow(packet, limits) as ModelFlow;
    const pub: Pub = {
      n,
      qos,
      retain,
      topic,
      flow,
      abandoned: false,
      abandonedQueued: false,
      settled: 0,
      ok: false,
      writes: 0,
      id: 0,
      lastConn: 0,
      relConn: 0,
      order: 0,
      recSeq: 0,
      recConn: 0,
      stored: NONE,
      accepted: 0,
      acceptedEpoch: -1,
    };
    flow.pub = pub;
    this.pubs.push(pub);
    this.stats.publishes++;
    this.t(`app publish #${n} q${qos}${retain ? " retain" : ""}`);
    this.out.submit(flow);
    if (this.out.queued > 0 && this.ids.inUse === MAX_PACKET_ID) this.stats.idsExhausted++;
  }

  abandon(): void {
    const p = this.pubs[this.rng.int(this.pubs.length)];
    if (p.abandoned || p.settled !== 0) return;
    p.abandoned = true;
    p.abandonedQueued = p.flow.packet.packetId === undefined;
    this.stats.abandoned++;
    this.t(`app abandons #${p.n}${p.abandonedQueued ? " (queued)" : ""}`);
    this.out.abandon(p.flow);
  }

  appAck(): void {
    const a = this.appAcks;
    const i = this.rng.int(a.length);
    const { e, slot } = a[i];
    a[i] = a[a.length - 1];
    a.pop();
    e.acked++;
    this.t(`app acks m${e.serial} (id ${e.id}, ${e.acked}/${e.refs})`);
    this.inb.acks.release(slot);
  }

  reqAlloc(): void {
    const id = this.ids.alloc();
    this.t(`request takes packet id ${id}`);
    if (id === 0) return;
    if (this.out.get(id) !== undefined || this.reqs.includes(id)) {
      this.fail(`PacketIds.alloc() handed out ${id}, which is in use [MQTT-2.2.1-3]`);
    }
    if (this.bulkFree !== null && !this.bulkFree.has(id)) this.fail(`alloc() handed out ${id}`);
    this.reqs.push(id);
  }

  reqFree(): void {
    const i = this.rng.int(this.reqs.length);
    const id = this.reqs[i];
    this.reqs[i] = this.reqs[this.reqs.length - 1];
    this.reqs.pop();
    this.t(`request frees packet id ${id}`);
    this.ids.free(id);
    this.out.pump();
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, "0")}`;
}

function errCode(e: Error): string {
  return e instanceof MqttError
    ? `${e.code}${e.reasonCode ? ` ${hex(e.reasonCode)}` : ""}`
    : e.message;
}

/**
 * Runs one seed of the model.
 *
 * @param seed Any 32-bit integer.
 * @param options Trace, engine factories.
 * @returns Whether every invariant held, and the trace when asked for.
 */
export function runSeed(seed: number, options: ModelOptions = {}): ModelResult {
  const sim = new Sim(seed, options);
  try {
    sim.run();
    return { ok: true, seed, trace: sim.trace ?? [], config: sim.cfg, stats: sim.stats };
  } catch (thrown) {
    const err = sim.failure ?? thrown;
    const error = err instanceof ModelFailure
      ? err.message
      : `step ${sim.step}: threw ${err instanceof Error ? err.stack : String(err)}`;
    sim.t(`FAILED: ${error}`);
    return { ok: false, seed, error, trace: sim.trace ?? [], config: sim.cfg, stats: sim.stats };
  }
}

/**
 * How to replay a failing seed.
 *
 * @param seed The seed.
 * @returns The command.
 */
export function replayCommand(seed: number): string {
  return `deno task model --seed ${seed} --trace`;
}

/**
 * A failure as text: the error, the last `tail` steps of its trace (re-run
 * with tracing on) and the command that replays it.
 *
 * @param result A failed result.
 * @param options The options it ran with (engine factories are kept).
 * @param tail How many trace lines to show (0: all).
 * @returns The report.
 */
export function describeFailure(
  result: ModelResult,
  options: ModelOptions = {},
  tail = 60,
): string {
  const traced = result.trace.length > 0
    ? result
    : runSeed(result.seed, { ...options, trace: true });
  const lines = tail > 0 ? traced.trace.slice(-tail) : traced.trace;
  return [
    `seed ${result.seed} failed: ${result.error}`,
    `config ${JSON.stringify(result.config)}`,
    ...(tail > 0 && traced.trace.length > tail
      ? [`... (${traced.trace.length - tail} steps before)`]
      : []),
    ...lines.map((l) => `  ${l}`),
    `replay: ${replayCommand(result.seed)}`,
  ].join("\n");
}
