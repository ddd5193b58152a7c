/**
 * {@linkcode Watchdog}: the application's mistakes made visible. Messages
 * left unacked and subscriptions that hold the broker back longer than
 * `unackedWarningMs` are reported once each; drops under an explicit drop
 * policy are logged at most every ten seconds per subscription; a broker
 * that exceeds our Receive Maximum is reported once per connection.
 *
 * @module
 */

import type { Core } from "./core.ts";
import { noop } from "./core.ts";
import * as ClientState from "./_client_state.ts";
import type { Link } from "./connection.ts";
import type { Message } from "./message.ts";
import { type DropPolicy, redact } from "./options.ts";
import type { SubscriptionToken } from "./subscription.ts";
import type { InboundSlot } from "../session/inbound.ts";

/** Drops of one subscription are logged at most this often. */
const DROP_LOG_MS = 10_000;

/** Drops of one subscription not logged yet (logging is rate-limited). */
interface DropLog {
  pending: number;
  total: number;
  /** When drops were last logged (ms). */
  at: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  flush: () => void;
}

function firstOf(d: Message | Message[]): Message {
  return Array.isArray(d) ? d[0] : d;
}

/** Reports unacked messages, long-blocked subscriptions and drops. */
export class Watchdog {
  readonly #core: Core;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Per subscription: drops not yet logged, and when drops were last logged. */
  #dropLog = new Map<number, DropLog>();

  /** @param core The client's shared state. */
  constructor(core: Core) {
    this.#core = core;
  }

  /** Starts the watch for unacked messages and blocked subscriptions, if off. */
  arm(): void {
    if (this.#timer !== undefined) return;
    const ms = this.#core.o.unackedWarningMs;
    if (ms === 0 || this.#core.state === ClientState.Closed) return;
    this.#timer = setTimeout(this.#watch, ms);
  }

  /**
   * Reports messages left unacked, and subscriptions blocked, for longer than
   * `unackedWarningMs` (each once), then sleeps until the next could be due.
   */
  #watch = (): void => {
    this.#timer = undefined;
    const core = this.#core;
    const limit = core.o.unackedWarningMs;
    const now = Date.now();
    let next = Infinity;
    const report = new Map<SubscriptionToken, { count: number; slot: InboundSlot }>();
    const note = (token: SubscriptionToken, slot: InboundSlot) => {
      const r = report.get(token);
      if (r === undefined) report.set(token, { count: 1, slot });
      else r.count++;
    };
    for (let s = core.in.acks.head; s !== null; s = s.next) {
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
    for (const [token, { count, slot }] of report) this.#reportUnacked(token, count, slot, now);
    for (const t of core.subs.blocked) {
      if (t.blockWarned) continue;
      const ageMs = now - t.blockedAt;
      if (ageMs < limit) {
        next = Math.min(next, t.blockedAt + limit);
        continue;
      }
      t.blockWarned = true;
      core.log?.warn(
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
    if (next !== Infinity && core.state !== ClientState.Closed) {
      this.#timer = setTimeout(this.#watch, Math.max(1, next - now));
    }
  };

  #reportUnacked(token: SubscriptionToken, count: number, slot: InboundSlot, now: number): void {
    const core = this.#core;
    const limit = core.o.unackedWarningMs;
    const ageMs = now - slot.at;
    const first = slot.delivered === null ? undefined : firstOf(slot.delivered as Message);
    if (core.stats !== null) core.stats.unackedWarnings += count;
    core.log?.warn(
      `subscription ${token.id} has ${count} message(s) not acked for over ${limit} ms: call ` +
        "ack() on every message from subscribe() / subscribeQueue(), or subscribe with " +
        "autoAck: true. Until they are acked the broker's acks for later messages wait " +
        "(MQTT §4.6) and it stops sending once its in-flight window is full",
      {
        subscription: token.id,
        filters: token.filters.map((f) => f.topic),
        count,
        topic: first?.topic,
        packetId: slot.packetId,
        ageMs,
      },
    );
    if (core.statusStreams.size > 0) {
      core.emit({
        type: "unacked",
        token,
        count,
        topic: first?.topic ?? "",
        packetId: slot.packetId,
        ageMs,
      });
    }
  }

  /**
   * Counts a drop of an explicit drop policy; logs it, at most every
   * DROP_LOG_MS per subscription.
   *
   * @param t The subscription.
   * @param count Its drops so far.
   * @param policy Its drop policy.
   */
  dropped(t: SubscriptionToken, count: number, policy: DropPolicy): void {
    const core = this.#core;
    if (core.stats !== null) core.stats.inboundDropped++;
    if (core.statusStreams.size > 0) core.emit({ type: "dropped", token: t, count });
    if (core.log === undefined) return;
    let d = this.#dropLog.get(t.id);
    if (d === undefined) {
      const entry: DropLog = { pending: 0, total: 0, at: 0, timer: undefined, flush: noop };
      entry.flush = () => {
        clearTimeout(entry.timer);
        entry.timer = undefined;
        if (entry.pending === 0) return;
        core.log?.warn(
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

  /**
   * Forgets a subscription's drop log (it ended), logging the drops not logged yet.
   *
   * @param id The subscription's token id.
   */
  endDropLog(id: number): void {
    const d = this.#dropLog.get(id);
    if (d === undefined) return;
    this.#dropLog.delete(id);
    d.flush();
  }

  /**
   * The broker has more unacked QoS 1/2 messages out than our Receive Maximum
   * [MQTT-3.3.4-9]. Reported once per connection, not disconnected: flow
   * control here does not depend on it (a full subscription pauses reading),
   * and a broker that ignores it resends every unacked message on reconnect,
   * so a DISCONNECT 0x93 would only loop (mosquitto before 2.0.13 does this
   * when Receive Maximum is lowered: eclipse/mosquitto#2306).
   *
   * @param link The connection.
   * @param inFlight How many the broker has out to us now.
   */
  receiveMaximumExceeded(link: Link, inFlight: number): void {
    const core = this.#core;
    if (core.stats !== null) core.stats.receiveMaximumExceeded++;
    if (link.rmExceeded) return;
    link.rmExceeded = true;
    const max = core.o.receiveMaximum;
    core.log?.warn(
      `the broker has ${inFlight} unacknowledged QoS 1/2 messages out to us, more than the ` +
        `receiveMaximum of ${max} we advertised [MQTT-3.3.4-9]. mosquitto before 2.0.13 ignores ` +
        "a lowered Receive Maximum (eclipse/mosquitto#2306). Nothing is lost: the client goes " +
        "on and pauses reading while subscriptions are full. To stop this, leave receiveMaximum " +
        "at its default or upgrade the broker",
      { receiveMaximum: max, inFlight, url: redact(link.url.href) },
    );
    if (core.statusStreams.size > 0) {
      core.emit({ type: "receive-maximum-exceeded", receiveMaximum: max, inFlight });
    }
  }

  /** disconnect(): the watch stops and pending drop logs are written. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const id of [...this.#dropLog.keys()]) this.endDropLog(id);
  }
}
