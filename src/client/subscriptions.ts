/**
 * {@linkcode Subscriptions}: the subscription registry of a client. Topic
 * filters held at the broker and the subscriptions that share them (a trie,
 * a per-topic match cache, subscription identifiers), SUBSCRIBE and
 * UNSUBSCRIBE with their acks, resubscribe after a lost session, routing of
 * each inbound PUBLISH to the three subscription shapes, the messages of a
 * resumed session held until a subscription claims them, and flow control
 * (a full `"block"` subscription pauses reading).
 *
 * @module
 */

import { isFailure } from "../_internal/reason.ts";
import { MqttError } from "../errors.ts";
import { deferred } from "../_internal/async.ts";
import { toError } from "../_internal/error.ts";
import { packetIdsExhausted } from "../session/packet_ids.ts";
import * as Verdict from "../session/_verdict.ts";
import * as ReasonCode from "../wire/_reason_code.ts";
import * as PacketType from "../wire/_packet_type.ts";
import type {
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
import type { Core, Request } from "./core.ts";
import * as ClientState from "./_client_state.ts";
import type { Link } from "./connection.ts";
import { Message, slotOf } from "./message.ts";
import type { DropPolicy } from "./options.ts";
import {
  CallbackTarget,
  type FlowControl,
  QueueTarget,
  type SubscribeOptions,
  type Subscription,
  SubscriptionToken,
  type Target,
} from "./subscription.ts";
import type { TopicFilter, TopicFilterInput } from "./types.ts";

/** How long a resumed session's unclaimed messages wait for a subscription. */
const PARK_MS = 5000;
const PARK_MAX = 65535;
/**
 * Above this many filters under one subscription identifier, an inbound
 * PUBLISH naming it finds the identifier's matching filters through the trie
 * (and the match cache) instead of testing each of its filters: a SUBSCRIBE of
 * 1,000 filters would otherwise cost 1,000 filter matches per message.
 */
const SCAN_MAX = 8;
/** The largest subscription identifier (a variable byte integer). */
const MAX_SUBSCRIPTION_ID = 268_435_455;

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

/** One topic filter held at the broker, and the subscriptions that share it. */
interface FilterState {
  filter: TopicFilter & { qos: QoS };
  holders: Target[];
  /** The subscription identifier of the SUBSCRIBE that set it (0: none). */
  subId: number;
  /** Settles with the SUBACK reason code of the SUBSCRIBE in flight for it, if any. */
  ready: Promise<number> | undefined;
}

/**
 * Checks and normalises topic filters (a string means QoS 0).
 *
 * @param filters What the application passed.
 * @returns The filters with their QoS.
 */
function normalize(filters: TopicFilterInput[]): (TopicFilter & { qos: QoS })[] {
  if (!Array.isArray(filters) || filters.length === 0) {
    throw new TypeError("subscribe needs a non-empty array of topic filters");
  }
  return filters.map((f, i) => {
    if (typeof f === "string") {
      const err = topicFilterError(f);
      if (err !== undefined) throw new TypeError(`Cannot subscribe to "${f}": ${err}`);
      // A literal: a spread copy would take about twice the memory, per filter held.
      return { topic: f, qos: 0 };
    }
    const tf: TopicFilter = f;
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

/** The subscriptions of one client and the routing of what arrives. */
export class Subscriptions {
  readonly #core: Core;
  #trie = new TopicTrie<FilterState>();
  #filters = new Map<string, FilterState>();
  #bySubId = new Map<number, FilterState[]>();
  #nextSubId = 1;
  /** Live subscriptions by token id, with the filters each holds. */
  readonly targets = new Map<number, { target: Target; filters: string[] }>();
  /** Topic -> matching filters, cleared whenever the filter set changes. */
  #matchCache = new Map<string, FilterState[]>();
  #collecting: FilterState[] | undefined;
  #epoch = 0;
  #count = 0;
  #scratch: Target[] = [];
  #visit = (fs: FilterState) => {
    this.#collecting!.push(fs);
  };
  /** Unclaimed messages of a resumed session, held until PARK_MS after CONNACK. */
  #parked: Message[] = [];
  #parkUntil = 0;
  #parkTimer: ReturnType<typeof setTimeout> | undefined;
  /** `"block"` subscriptions whose full buffer holds the broker back. */
  readonly blocked = new Set<QueueTarget>();
  readonly #flow: FlowControl;

  /** @param core The client's shared state. */
  constructor(core: Core) {
    this.#core = core;
    this.#flow = {
      block: (t) => {
        this.blocked.add(t);
        if (core.stats !== null) core.stats.inboundBlocked++;
        core.log?.debug("subscription buffer full: reading from the broker paused", {
          subscription: t.token.id,
          buffered: t.queue.length,
        });
        if (core.statusStreams.size > 0) {
          core.emit({ type: "blocked", token: t.token, buffered: t.queue.length });
        }
        core.watchdog.arm();
        core.link?.updateReading();
      },
      unblock: (t) => {
        if (!this.blocked.delete(t)) return;
        if (core.statusStreams.size > 0) {
          core.emit({ type: "unblocked", token: t.token, blockedMs: Date.now() - t.blockedAt });
        }
        core.link?.updateReading();
      },
    };
  }

  // -------------------------------------------------------------------------
  // Inbound routing

  /**
   * An inbound PUBLISH: judged by the session, then delivered to every
   * subscription whose filters match (or held for one, on a resumed session).
   *
   * @param link The connection it came on.
   * @param p The PUBLISH.
   */
  onPublish(link: Link, p: PublishPacket): void {
    const core = this.#core;
    const st = core.stats;
    if (st !== null) st.inboundPublishes++;
    const props = p.properties as PublishProperties;
    const inb = core.in;
    const verdict = inb.receive(p);
    if (verdict !== Verdict.Deliver) {
      if (verdict === Verdict.Duplicate) return;
      if (verdict === Verdict.Violation) {
        const err = inb.violation!;
        return link.fail(err.reasonCode!, err);
      }
      core.watchdog.receiveMaximumExceeded(link, inb.inFlight + 1);
    }
    const topic = inb.topic;
    core.tap?.(topic, p);
    const qos = p.qos;
    const id = p.packetId as number;
    const n = this.#match(topic, props.subscriptionIdentifiers);
    if (n === 0 && qos > 0 && this.#parkUntil > 0 && this.#parked.length < PARK_MAX) {
      // A resumed session delivers its queued messages before the application had a
      // chance to subscribe: hold them (unacked) for a subscription to claim.
      const slot = inb.accept(id, qos, 1, link.ka.lastRx);
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
    const slot = inb.accept(id, qos, n, link.ka.lastRx);
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
    if (!slot.done) core.watchdog.arm();
  }

  /** Collects the targets for `topic` into #scratch; returns how many. */
  #match(topic: string, subIds: number[] | undefined): number {
    this.#epoch++;
    this.#count = 0;
    if (subIds !== undefined && this.#bySubId.size > 0) {
      // Deliver to exactly the subscriptions the broker identified: one copy per subscription.
      let known = false;
      let wide = false;
      for (let i = 0; i < subIds.length; i++) {
        const states = this.#bySubId.get(subIds[i]);
        if (states === undefined) continue;
        known = true;
        if (states.length === 1) {
          // One filter under this identifier: the broker only names it when that filter matched.
          if (states[0].subId === subIds[i]) this.#collect(states[0]);
          continue;
        }
        if (states.length > SCAN_MAX) {
          wide = true; // the trie below finds its matching filters
          continue;
        }
        for (let k = 0; k < states.length; k++) {
          const fs = states[k];
          if (fs.subId === subIds[i] && topicMatchesFilter(fs.filter.topic, topic)) {
            this.#collect(fs);
          }
        }
      }
      if (wide) {
        // The matching filters that carry one of the named identifiers. (Those
        // collected above again: #collect delivers to each target once.)
        const matched = this.#matched(topic);
        for (let i = 0; i < matched.length; i++) {
          if (subIds.includes(matched[i].subId)) this.#collect(matched[i]);
        }
      }
      if (known) return this.#count;
    }
    const states = this.#matched(topic);
    for (let i = 0; i < states.length; i++) this.#collect(states[i]);
    return this.#count;
  }

  /** The filters matching `topic`, from the cache (topics repeat) or the trie. */
  #matched(topic: string): FilterState[] {
    let states = this.#matchCache.get(topic);
    if (states === undefined) {
      if (this.#matchCache.size >= 4096) this.#matchCache.clear();
      this.#matchCache.set(topic, states = []);
      this.#collecting = states;
      this.#trie.match(topic, this.#visit);
      this.#collecting = undefined;
    }
    return states;
  }

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
  // Messages of a resumed session

  /** A resumed session's messages may come before any subscription: hold them a while. */
  holdParked(): void {
    this.releaseParked(false);
    this.#parkUntil = Date.now() + PARK_MS;
    this.#parkTimer = setTimeout(() => this.releaseParked(false), PARK_MS);
  }

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

  /**
   * Ends the holding period: unclaimed messages are acked and dropped (or,
   * with no connection, forgotten: the broker delivers them again).
   *
   * @param connectionGone Whether the connection they came on is gone.
   */
  releaseParked(connectionGone: boolean): void {
    clearTimeout(this.#parkTimer);
    this.#parkTimer = undefined;
    this.#parkUntil = 0;
    const parked = this.#parked;
    if (parked.length === 0) return;
    this.#parked = [];
    if (!connectionGone) {
      this.#core.log?.warn("acked messages no subscription claimed", { count: parked.length });
    }
    for (const m of parked) {
      if (connectionGone) {
        const slot = slotOf(m);
        if (slot !== null) this.#core.in.forget(slot);
      } else {
        m.ack();
      }
    }
  }

  // -------------------------------------------------------------------------
  // SUBSCRIBE / UNSUBSCRIBE

  /**
   * Sends a SUBSCRIBE / UNSUBSCRIBE (now, or on the next connection) and
   * waits for its ack.
   *
   * @param packet The request.
   * @param signal Stops waiting (the request stays tracked so its ack is consumed).
   * @returns The ack.
   */
  request(
    packet: Packet & { packetId: number },
    signal: AbortSignal | undefined,
  ): Promise<SubackPacket | UnsubackPacket> {
    const core = this.#core;
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
      core.requests.set(packet.packetId, req);
      const link = core.link;
      if (link !== null && link.connack !== null) {
        link.writer.send(packet);
        // Waiting for its ack: read even if a full subscription paused reading.
        if (link.paused) link.updateReading();
      }
      if (core.stats !== null) {
        if (packet.type === PacketType.Subscribe) core.stats.subscribesSent++;
        else core.stats.unsubscribesSent++;
      }
    });
  }

  /**
   * SUBACK / UNSUBACK from the broker.
   *
   * @param p The ack.
   */
  onRequestAck(p: SubackPacket | UnsubackPacket): void {
    const core = this.#core;
    const req = core.requests.get(p.packetId);
    if (req === undefined || req.packet.type !== p.type - 1) {
      core.log?.debug("ack for an unknown SUBSCRIBE/UNSUBSCRIBE", { packetId: p.packetId });
      return;
    }
    core.requests.delete(p.packetId);
    core.ids.free(p.packetId);
    req.resolve(p);
    core.out.pump();
  }

  #checkSubscribable(filters: TopicFilter[]): void {
    const core = this.#core;
    if (core.state === ClientState.Closed) throw core.closedError();
    if (core.state === ClientState.Idle || core.state === ClientState.Connecting) {
      throw new MqttError("not-connected", "client is not connected");
    }
    const c = core.connack;
    if (c === null) return;
    for (const f of filters) {
      const shared = splitSharedFilter(f.topic);
      if (shared !== undefined && !c.sharedSubscriptionAvailable) {
        throw new MqttError(
          "shared-subs-unsupported",
          `broker does not support shared subscriptions ("${f.topic}")`,
          { reasonCode: ReasonCode.SharedSubscriptionsNotSupported },
        );
      }
      const plain = shared ? shared.filter : f.topic;
      if (!c.wildcardSubscriptionAvailable && (plain.includes("+") || plain.includes("#"))) {
        throw new MqttError(
          "wildcard-subs-unsupported",
          `broker does not support wildcard subscriptions ("${f.topic}")`,
          { reasonCode: ReasonCode.WildcardSubscriptionsNotSupported },
        );
      }
    }
  }

  /**
   * Subscribes a new target to `input`: shares filters another subscription
   * holds (and its SUBACK), sends SUBSCRIBE for the rest, and keeps what the
   * broker granted.
   *
   * @param input The filters.
   * @param options The subscription's options (`signal`).
   * @param make Builds the target for the new token.
   * @returns The target.
   */
  async subscribe(
    input: TopicFilterInput[],
    options: SubscribeOptions | undefined,
    make: (token: SubscriptionToken) => Target,
  ): Promise<Target> {
    const core = this.#core;
    const filters = normalize(input);
    this.#checkSubscribable(filters);
    const signal = options?.signal;
    signal?.throwIfAborted();
    const token = new SubscriptionToken(filters);
    const target = make(token);
    const toSend: SubscribeFilter[] = [];
    const sentStates: FilterState[] = [];
    const names: string[] = [];
    let added = false;
    for (const f of filters) {
      let fs = this.#filters.get(f.topic);
      // Listed twice in this call: the first one counts. (`target` is new, so
      // it is the last holder of exactly the filters this loop has taken.)
      if (fs !== undefined && fs.holders[fs.holders.length - 1] === target) continue;
      names.push(f.topic);
      if (fs === undefined) {
        // An array literal of one: `[]` then push() would reserve 16 slots per filter.
        fs = { filter: f, holders: [target], subId: 0, ready: undefined };
        this.#filters.set(f.topic, fs);
        this.#trie.add(f.topic, fs);
        added = true;
        toSend.push(f);
        sentStates.push(fs);
        continue;
      }
      if (
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
    if (added) this.#matchCache.clear();
    // slice(): exact-size copies, kept for the subscription's life (arrays
    // grown by push() hold 16 spare slots, which adds up over many subscriptions).
    this.targets.set(token.id, { target, filters: names.slice() });
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
      const useIds = core.connack?.subscriptionIdentifiersAvailable ?? false;
      const subId = useIds ? this.#takeSubId() : 0;
      const settle: ((rc: number) => void)[] = [];
      for (const fs of sentStates) {
        fs.subId = subId;
        const d = deferred<number>();
        fs.ready = d.promise;
        settle.push((rc) => {
          if (fs.ready === d.promise) fs.ready = undefined;
          d.resolve(rc);
        });
      }
      if (subId !== 0) this.#bySubId.set(subId, sentStates.slice());
      const packetId = core.ids.alloc();
      let ack: SubackPacket;
      try {
        if (packetId === 0) throw packetIdsExhausted();
        ack = await this.request({
          type: PacketType.Subscribe,
          packetId,
          filters: toSend,
          properties: subId !== 0 ? { subscriptionIdentifier: subId } : undefined,
        }, signal) as SubackPacket;
      } catch (err) {
        for (const f of settle) f(ReasonCode.UnspecifiedError);
        this.#dropTarget(token);
        throw err;
      }
      for (let i = 0; i < toSend.length; i++) {
        const rc = ack.reasonCodes[i] ?? ReasonCode.UnspecifiedError;
        settle[i](rc);
        if (isFailure(rc)) refused.push({ topic: toSend[i].topic, reasonCode: rc });
      }
    }
    for (const w of shared) {
      const rc = await w.ready;
      if (isFailure(rc)) refused.push({ topic: w.topic, reasonCode: rc });
    }
    if (refused.length === 0) return target;
    // Refused filters leave the subscription; the granted ones stay.
    const rec = this.targets.get(token.id);
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
    this.#nextSubId = id >= MAX_SUBSCRIPTION_ID ? 1 : id + 1;
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

  /** Ends a subscription; returns the filters no subscription holds any more. */
  #dropTarget(token: SubscriptionToken): string[] {
    const rec = this.targets.get(token.id);
    if (rec === undefined) return [];
    this.targets.delete(token.id);
    rec.target.end();
    this.#core.watchdog.endDropLog(token.id);
    const empty: string[] = [];
    for (const name of rec.filters) if (this.#releaseFilter(name, rec.target)) empty.push(name);
    return empty;
  }

  /**
   * Re-issues every tracked filter after the broker lost the session.
   *
   * @param link The new connection.
   */
  resubscribe(link: Link): void {
    const core = this.#core;
    const groups = new Map<number, SubscribeFilter[]>();
    for (const fs of this.#filters.values()) {
      // A SUBSCRIBE still awaiting its SUBACK went out again with the pending requests.
      if (fs.ready !== undefined) continue;
      let g = groups.get(fs.subId);
      if (g === undefined) groups.set(fs.subId, g = []);
      g.push(fs.filter);
    }
    for (const [subId, filters] of groups) {
      const packetId = core.ids.alloc();
      if (packetId === 0) {
        core.log?.error("resubscribe stopped: all packet identifiers are in use", {
          filters: filters.map((f) => f.topic),
        });
        break;
      }
      const packet = {
        type: PacketType.Subscribe,
        packetId,
        filters,
        properties: subId !== 0 ? { subscriptionIdentifier: subId } : undefined,
      };
      core.requests.set(packetId, {
        packet,
        resolve: (ack) => {
          const refused = ack.reasonCodes.filter(isFailure);
          if (refused.length > 0) {
            core.log?.warn("resubscribe partly refused", { reasonCodes: ack.reasonCodes });
          }
        },
        reject: () => {},
      });
      link.writer.send(packet);
      if (core.stats !== null) core.stats.subscribesSent++;
    }
  }

  /**
   * A subscription over a bounded (or, with a drop policy, unbounded) queue.
   *
   * @param token Its token.
   * @param limit The queue's bound (0: none).
   * @param policy What a full queue does.
   * @param options Its options.
   * @returns The target.
   */
  queueTarget(
    token: SubscriptionToken,
    limit: number,
    policy: DropPolicy,
    options: SubscribeOptions,
  ): QueueTarget {
    const core = this.#core;
    return new QueueTarget(
      token,
      limit,
      policy,
      options,
      (t, o) => this.unsubscribe(t, o?.signal),
      (t, count) => core.watchdog.dropped(t, count, policy),
      (t) => this.#endSubscription(t),
      this.#flow,
    );
  }

  /**
   * A subscription whose handler runs on the read path.
   *
   * @param token Its token.
   * @param handler The handler.
   * @returns The target.
   */
  callbackTarget(token: SubscriptionToken, handler: (message: Message) => void): Target {
    const log = this.#core.log;
    return new CallbackTarget(
      token,
      handler,
      (err) => log?.error("subscription handler threw", { error: toError(err).message }),
    );
  }

  /**
   * unsubscribe() for a subscription that ends: a `for await` loop left
   * early, or `await using` disposing it. It waits for UNSUBACK only while the
   * connection it was sent on is up: offline, or once that connection drops,
   * it returns (the UNSUBSCRIBE stays queued and goes out on the next
   * connection), so leaving a loop never waits out a broker outage.
   */
  #endSubscription(token: SubscriptionToken): Promise<void> {
    const link = this.#core.link;
    const ac = new AbortController();
    const done = this.unsubscribe(token, ac.signal);
    if (link === null || link.connack === null || link.closed) {
      ac.abort(); // the request is tracked; only the wait stops
      return done.catch(() => {});
    }
    const enders = link.enders ??= new Set();
    enders.add(ac);
    return done.catch(() => {}).finally(() => enders.delete(ac));
  }

  /**
   * Ends a subscription; UNSUBSCRIBE for the filters no other subscription holds.
   *
   * @param token The subscription's token.
   * @param signal Stops waiting for UNSUBACK.
   * @returns Resolves once answered (or at once when nothing was sent).
   */
  unsubscribe(token: SubscriptionToken, signal: AbortSignal | undefined): Promise<void> {
    const core = this.#core;
    return core.track(async () => {
      signal?.throwIfAborted();
      if (!(token instanceof SubscriptionToken)) {
        throw new TypeError("unsubscribe needs a SubscriptionToken");
      }
      const empty = this.#dropTarget(token);
      if (empty.length === 0 || core.state === ClientState.Closed) return;
      const packetId = core.ids.alloc();
      if (packetId === 0) throw packetIdsExhausted();
      await this.request({ type: PacketType.Unsubscribe, packetId, topics: empty }, signal);
    });
  }

  /** disconnect(): every subscription ends. */
  close(): void {
    for (const { target } of this.targets.values()) target.end();
    this.targets.clear();
  }

  /** disconnect() is over: the registry is emptied. */
  clear(): void {
    this.#filters.clear();
    this.#trie.clear();
    this.#matchCache.clear();
    this.#bySubId.clear();
  }
}
