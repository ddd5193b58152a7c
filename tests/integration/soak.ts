// A soak of the supervisor: publishers behind a fault proxy that cuts every
// connection at random, a subscriber on a direct connection counting what the
// broker delivered. Runtime-neutral (mosquitto via tests/_helpers/broker.ts,
// the proxy on node:net); run by tests/integration/soak_test.ts (20 s, or
// SOAK_MS) and tests/integration/soak_main.ts (`deno task soak`, prints JSON).
//
// Each publisher alternates QoS 1 and QoS 2 (even sequence numbers QoS 1, odd
// QoS 2) on `soak/<publisher>/<qos>` with the sequence number as payload, with
// at most `window` publishes outstanding and at most `ratePerPublisher` a second.
//
// The rate limit matters: mosquitto 2.0 saturated by unthrottled publishers
// (~15k msg/s here) falls behind on PUBREL towards the subscriber by seconds,
// its 16-bit packet identifier counter wraps onto flows still awaiting PUBREL
// and it reuses identifiers in flight (a protocol violation on its side): the
// subscriber then loses and duplicates QoS 2 messages through no fault of the
// client. `observeSubscriber` routes the subscriber through a pass-through
// relay (no faults) that checks the broker's side of every flow and reports
// such violations, so that a failure can be told apart from a broker overload. At the end the cutting stops, every
// publish promise settles, each publisher sends a QoS 2 marker, and once the
// markers arrived the counts are final: every message must have arrived, no
// QoS 2 message twice; QoS 1 duplicates are allowed and reported.

import {
  type Backoff,
  Client,
  type ConnackInfo,
  exponentialBackoff,
  type Logger,
  type Message,
} from "../../mod.ts";
import { startBroker } from "../_helpers/broker.ts";
import { type FaultProxy, startFaultProxy } from "../_helpers/fault_proxy.ts";

/** Options of {@linkcode runSoak}. */
export interface SoakOptions {
  /** How long the publishers publish under random cuts, ms. */
  durationMs: number;
  /** Publisher clients, each behind the fault proxy. @default {4} */
  publishers?: number;
  /** Shortest interval between cuts, ms. @default {20} */
  minCutMs?: number;
  /** Longest interval between cuts, ms. @default {300} */
  maxCutMs?: number;
  /** Publishes outstanding per publisher at most. @default {32} */
  window?: number;
  /** Publishes per second per publisher at most (0: as fast as the window allows). @default {1000} */
  ratePerPublisher?: number;
  /** Connect the subscriber through a fault-free relay that checks the broker's flows. @default {false} */
  observeSubscriber?: boolean;
  /** The publishers' reconnect backoff. @default {exponentialBackoff(10, 200, 5)} */
  reconnectBackoff?: Backoff;
  /** Bound on the settling phase (promises, then markers), ms. @default {60000} */
  settleTimeoutMs?: number;
  /** Seed of the cut intervals. @default {Date.now()} */
  seed?: number;
  /** Session Expiry Interval of every client. @default {the client's default, 300} */
  sessionExpirySeconds?: number;
  /** Progress lines (every `progressMs`). */
  log?: (line: string) => void;
  /** @default {10000} */
  progressMs?: number;
}

/** What {@linkcode runSoak} measured. */
export interface SoakReport {
  durationMs: number;
  publishers: number;
  seed: number;
  /** Publishes accepted by the publishers (QoS 1 + QoS 2), markers excluded. */
  messages: number;
  qos1: number;
  qos2: number;
  /** Publish promises that resolved, and with a reason code >= 0x80. */
  acked: number;
  refused: number;
  /** Publish promises that rejected, and a sample of why. */
  failed: number;
  failures: string[];
  /** Publish promises still pending when the settle timeout ran out. */
  unsettled: number;
  /** Deliveries to the subscriber (duplicates included), markers excluded. */
  delivered: number;
  /** Messages never delivered, and a sample as `publisher:seq`. */
  lost: number;
  lostSample: string[];
  qos2Duplicates: number;
  qos1Duplicates: number;
  /** Deliveries that matched no publish (garbled or unknown). */
  unexpected: number;
  /** Connections the proxy destroyed, and how many times it cut. */
  cuts: number;
  cutEvents: number;
  proxyConnections: number;
  /** Reconnects of all publishers (onConnectionUp count minus the first connect). */
  reconnects: number;
  /** Stats of all publishers: connects - 1, connect failures, replays. */
  statsReconnects: number;
  connectFailures: number;
  publishesReplayed: number;
  /** Publisher reconnects that found no session at the broker (Session Present 0). */
  sessionsLost: number;
  /** The direct subscriber's connection losses and reconnects (expected: 0). */
  subscriberDowns: number;
  subscriberReconnects: number;
  /** Warnings and errors the clients logged: message -> count (first 20 distinct). */
  warnings: Record<string, number>;
  /** mosquitto log lines about the subscriber or about dropped/expired state (first 30). */
  brokerNotes: string[];
  /** With `observeSubscriber`: what the broker did wrong towards the subscriber. */
  brokerFlows?: FlowReport;
  /** Whether every publisher's marker arrived (the counts are final). */
  markersArrived: boolean;
  settleMs: number;
  messagesPerSecond: number;
}

/** The broker's side of the subscriber's QoS 1/2 flows, as a relay saw them. */
export interface FlowReport {
  /** A new (DUP=0) QoS 1/2 PUBLISH on a packet id whose flow was not complete. */
  idReused: number;
  /** PUBREL for a packet id the subscriber had not sent PUBREC for. */
  unexpectedPubrel: number;
  /** The longest wait from the subscriber's PUBREC to the broker's PUBREL, ms. */
  pubrelLagMaxMs: number;
  /** Flows still open at the end. */
  open: number;
}

/** Follows every QoS 1/2 flow from broker to subscriber through `relay`. */
function watchFlows(relay: FaultProxy): { report(): FlowReport } {
  // id -> state (1 PUBLISH QoS 1, 2 PUBLISH QoS 2, 3 PUBREC sent, 4 PUBREL sent), and when.
  const state = new Map<number, number>();
  const recAt = new Map<number, number>();
  const r: FlowReport = { idReused: 0, unexpectedPubrel: 0, pubrelLagMaxMs: 0, open: 0 };
  relay.onPacket((p) => {
    const id = p.packetId;
    if (id === undefined) return;
    if (p.from === "broker") {
      if (p.type === 3) {
        if (state.has(id) && (p.flags & 0x08) === 0) r.idReused++;
        state.set(id, (p.flags >> 1) & 3);
      } else if (p.type === 6) {
        if (state.get(id) !== 3) r.unexpectedPubrel++;
        const t = recAt.get(id);
        if (t !== undefined) r.pubrelLagMaxMs = Math.max(r.pubrelLagMaxMs, Date.now() - t);
        recAt.delete(id);
        state.set(id, 4);
      }
    } else if (p.type === 4 || p.type === 7) {
      state.delete(id);
    } else if (p.type === 5) {
      state.set(id, 3);
      recAt.set(id, Date.now());
    }
  });
  return { report: () => ({ ...r, open: state.size }) };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Delivery counts of one publisher's sequence numbers, saturating at 255. */
class Counts {
  #a = new Uint8Array(1 << 16);
  get(i: number): number {
    return i < this.#a.length ? this.#a[i] : 0;
  }
  inc(i: number): void {
    if (i >= this.#a.length) {
      let n = this.#a.length;
      while (n <= i) n *= 2;
      const b = new Uint8Array(n);
      b.set(this.#a);
      this.#a = b;
    }
    if (this.#a[i] < 255) this.#a[i]++;
  }
}

interface PublisherState {
  index: number;
  client: Client;
  sent: number;
  outstanding: number;
  acked: number;
  refused: number;
  failed: number;
  ups: number;
  wake: (() => void) | undefined;
}

async function publishLoop(
  st: PublisherState,
  stopAt: number,
  window: number,
  rate: number,
  failures: string[],
): Promise<void> {
  const started = Date.now();
  const settle = () => {
    st.outstanding--;
    const w = st.wake;
    st.wake = undefined;
    w?.();
  };
  while (Date.now() < stopAt) {
    if (st.outstanding >= window) {
      // Wait for a slot; re-check the clock at least every 100 ms.
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          st.wake = undefined;
          resolve();
        }, 100);
        st.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      continue;
    }
    if (rate > 0) {
      const due = started + (st.sent * 1000) / rate;
      const now = Date.now();
      if (due > now) {
        await delay(Math.min(due - now, 100));
        continue;
      }
    }
    const seq = st.sent++;
    const qos = seq % 2 === 0 ? 1 : 2;
    st.outstanding++;
    st.client.publish({ topic: `soak/${st.index}/${qos}`, payload: String(seq), qos }).then(
      (r) => {
        st.acked++;
        if (r.reasonCode >= 0x80) st.refused++;
        settle();
      },
      (err) => {
        st.failed++;
        if (failures.length < 20) failures.push(`${st.index}:${seq}: ${String(err)}`);
        settle();
      },
    );
    // Let I/O run now and then even when the window never fills.
    if ((seq & 255) === 255) await delay(0);
  }
}

/**
 * Runs the soak and returns the figures; never throws for lost or duplicated
 * messages (the caller asserts on the report), only for setup failures.
 *
 * @param options Duration, publishers, cut intervals, window.
 * @returns The report.
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const n = options.publishers ?? 4;
  const minCut = options.minCutMs ?? 20;
  const maxCut = options.maxCutMs ?? 300;
  const window = options.window ?? 32;
  const rate = options.ratePerPublisher ?? 1000;
  const settleTimeout = options.settleTimeoutMs ?? 60_000;
  const seed = options.seed ?? Date.now();
  const log = options.log;
  const backoff = options.reconnectBackoff ?? exponentialBackoff(10, 200, 5);

  // No queue limit: a message the broker drops must not be blamed on the client.
  await using broker = await startBroker({ config: ["max_queued_messages 0"] });
  await using proxy = await startFaultProxy(broker.url);
  await using observer = options.observeSubscriber ? await startFaultProxy(broker.url) : undefined;
  const flows = observer === undefined ? undefined : watchFlows(observer);

  const counts = Array.from({ length: n }, () => new Counts());
  const markers = new Set<number>();
  let delivered = 0;
  let unexpected = 0;
  const warnings: Record<string, number> = {};
  const note = (who: string) => (msg: string, fields?: Record<string, unknown>) => {
    const key = `${who}: ${msg}${fields?.error !== undefined ? ` (${fields.error})` : ""}${
      fields?.reasonCode !== undefined ? ` rc=${fields.reasonCode}` : ""
    }`;
    if (key in warnings || Object.keys(warnings).length < 20) {
      warnings[key] = (warnings[key] ?? 0) + 1;
    }
  };
  const logger = (who: string): Logger => ({
    debug: () => {},
    info: () => {},
    warn: note(who),
    error: note(who),
  });
  let subscriberUps = 0;
  let subscriberDowns = 0;
  const subscriber = new Client({
    broker: observer?.url ?? broker.url,
    clientId: "soak-sub",
    sessionExpirySeconds: options.sessionExpirySeconds,
    logger: logger("subscriber"),
    onConnectionUp: () => subscriberUps++,
    onConnectionDown: () => {
      subscriberDowns++;
    },
  });
  await using _sub = subscriber;
  await subscriber.connect();
  await subscriber.subscribeCallback([{ topic: "soak/#", qos: 2 }], (m: Message) => {
    const parts = m.topic.split("/");
    const p = Number(parts[1]);
    if (parts[2] === "marker") {
      markers.add(p);
      return;
    }
    const seq = Number(m.text());
    const qos = Number(parts[2]);
    if (
      !(p >= 0 && p < n) || !Number.isInteger(seq) || seq < 0 || (seq % 2 === 0 ? 1 : 2) !== qos
    ) {
      unexpected++;
      return;
    }
    delivered++;
    counts[p].inc(seq);
  });

  const states: PublisherState[] = [];
  const failures: string[] = [];
  let sessionsLost = 0;
  try {
    for (let i = 0; i < n; i++) {
      const st: PublisherState = {
        index: i,
        client: undefined as unknown as Client,
        sent: 0,
        outstanding: 0,
        acked: 0,
        refused: 0,
        failed: 0,
        ups: 0,
        wake: undefined,
      };
      st.client = new Client({
        broker: proxy.url,
        clientId: `soak-pub-${i}`,
        reconnectBackoff: backoff,
        connectTimeoutMs: 5000,
        stats: true,
        sessionExpirySeconds: options.sessionExpirySeconds,
        logger: logger("publisher"),
        onConnectionUp: (c: ConnackInfo) => {
          if (st.ups > 0 && !c.sessionPresent) sessionsLost++;
          st.ups++;
        },
      });
      states.push(st);
      await st.client.connect();
    }

    const started = Date.now();
    const stopAt = started + options.durationMs;
    const stopCuts = new AbortController();
    const cutting = proxy.randomCuts({
      minMs: minCut,
      maxMs: maxCut,
      signal: stopCuts.signal,
      seed,
    });
    let progress: ReturnType<typeof setInterval> | undefined;
    if (log !== undefined) {
      progress = setInterval(() => {
        const sent = states.reduce((a, s) => a + s.sent, 0);
        const acked = states.reduce((a, s) => a + s.acked, 0);
        log(
          `soak ${Math.round((Date.now() - started) / 1000)}s: sent ${sent}, acked ${acked}, ` +
            `delivered ${delivered}, cuts ${proxy.cuts}, connections ${proxy.connections}, ` +
            `sessions lost ${sessionsLost}, subscriber downs ${subscriberDowns}`,
        );
      }, options.progressMs ?? 10_000);
    }
    try {
      await Promise.all(states.map((s) => publishLoop(s, stopAt, window, rate, failures)));
    } finally {
      stopCuts.abort();
      await cutting;
      clearInterval(progress);
    }

    // Settle: every publish promise, then a marker per publisher.
    const settleStart = Date.now();
    const deadline = settleStart + settleTimeout;
    while (states.some((s) => s.outstanding > 0) && Date.now() < deadline) await delay(20);
    const markerResults = await Promise.allSettled(
      states.map((s) =>
        s.client.publish({ topic: `soak/${s.index}/marker`, payload: "end", qos: 2 })
      ),
    );
    for (const r of markerResults) {
      if (r.status === "rejected" && failures.length < 20) failures.push(`marker: ${r.reason}`);
    }
    while (markers.size < n && Date.now() < deadline) await delay(20);
    const settleMs = Date.now() - settleStart;

    let messages = 0;
    let lost = 0;
    let qos1Dup = 0;
    let qos2Dup = 0;
    const lostSample: string[] = [];
    for (const s of states) {
      messages += s.sent;
      const c = counts[s.index];
      for (let seq = 0; seq < s.sent; seq++) {
        const k = c.get(seq);
        if (k === 0) {
          lost++;
          if (lostSample.length < 20) lostSample.push(`${s.index}:${seq}`);
        } else if (k > 1) {
          if (seq % 2 === 0) qos1Dup += k - 1;
          else qos2Dup += k - 1;
        }
      }
    }
    const stats = states.map((s) => s.client.stats());
    const brokerNotes = (await broker.log()).split("\n").filter((line) =>
      /soak-sub|drop|expir|exceed|error|warning/i.test(line)
    ).slice(0, 30);
    const elapsed = options.durationMs;
    return {
      durationMs: elapsed,
      publishers: n,
      seed,
      messages,
      qos1: states.reduce((a, s) => a + Math.ceil(s.sent / 2), 0),
      qos2: states.reduce((a, s) => a + Math.floor(s.sent / 2), 0),
      acked: states.reduce((a, s) => a + s.acked, 0),
      refused: states.reduce((a, s) => a + s.refused, 0),
      failed: states.reduce((a, s) => a + s.failed, 0),
      failures,
      unsettled: states.reduce((a, s) => a + s.outstanding, 0),
      delivered,
      lost,
      lostSample,
      qos2Duplicates: qos2Dup,
      qos1Duplicates: qos1Dup,
      unexpected,
      cuts: proxy.cuts,
      cutEvents: proxy.cutEvents,
      proxyConnections: proxy.connections,
      reconnects: states.reduce((a, s) => a + s.ups - 1, 0),
      statsReconnects: stats.reduce((a, s) => a + s.connects - 1, 0),
      connectFailures: stats.reduce((a, s) => a + s.connectFailures, 0),
      publishesReplayed: stats.reduce((a, s) => a + s.publishesReplayed, 0),
      sessionsLost,
      subscriberDowns,
      subscriberReconnects: subscriberUps - 1,
      warnings,
      brokerNotes,
      brokerFlows: flows?.report(),
      markersArrived: markers.size === n,
      settleMs,
      messagesPerSecond: Math.round((messages * 1000) / elapsed),
    };
  } finally {
    await Promise.all(states.map((s) => s.client.disconnect()));
  }
}
