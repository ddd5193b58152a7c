// The supervisor (reconnect, replay, resubscribe, failover, backoff, callbacks)
// against a real mosquitto, with faults injected by tests/_helpers/fault_proxy.ts.
// Shared by tests/integration/supervisor_test.ts (Deno.test) and
// bun-tests/supervisor.test.ts (bun:test).
//
// The client under test talks to mosquitto through the proxy; the subscriber
// that checks what the broker delivered connects directly, so it never sees a
// fault. Every wait is bounded (`within`, `until`); where a test must show that
// something did NOT arrive, it publishes a marker afterwards and waits for the
// marker instead of sleeping.

import assert from "node:assert/strict";
import {
  type Client,
  type ClientOptions,
  type ConnackInfo,
  exponentialBackoff,
  type Message,
  MqttError,
  type PublishResult,
  type QoS,
} from "../../mod.ts";
import { connectedWith } from "../_helpers/clients.ts";
import type { DialFunc } from "../../src/transport/types.ts";
import { type ConnectPacket, PacketDecoder, PacketType } from "../../src/wire/mod.ts";
import { type Broker, startBroker } from "../_helpers/broker.ts";
import { FakeBroker } from "../_helpers/fake_broker.ts";
import { type FaultProxy, type ObservedPacket, startFaultProxy } from "../_helpers/fault_proxy.ts";

/** One integration case. */
export interface Case {
  name: string;
  fn: () => Promise<void>;
}

export const cases: Case[] = [];

function add(name: string, fn: () => Promise<void>): void {
  cases.push({ name, fn });
}

// ---------------------------------------------------------------------------
// Helpers

const WAIT_MS = 10_000;
/** Small reconnect delay: the cases stay fast. */
const FAST = () => 50;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `p`, or a rejection naming `what` after `ms`; the timer never outlives the call. */
async function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every few milliseconds until it holds (at most `ms`). */
async function until(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

/** Rejects-with-MqttError-code predicate for assert.rejects. */
function code(expected: string) {
  return (err: unknown) => {
    assert.ok(err instanceof MqttError, `expected an MqttError, got ${String(err)}`);
    assert.equal(err.code, expected);
    return true;
  };
}

/** A client that is `await using`-able and connected; disconnected again if connect fails. */
const connected = (options: ClientOptions) =>
  connectedWith({ connectTimeoutMs: WAIT_MS, ...options });

/** The packets the proxy framed, kept without their bytes. */
type Seen = Omit<ObservedPacket, "bytes">;

function record(proxy: FaultProxy): Seen[] {
  const seen: Seen[] = [];
  proxy.onPacket(({ bytes: _bytes, ...rest }) => seen.push(rest));
  return seen;
}

const DUP = 0x08;

/**
 * A subscriber on a direct connection to the broker (never through the
 * proxy), counting deliveries per `topic|payload`.
 */
interface Counter extends AsyncDisposable {
  client: Client;
  counts: Map<string, number>;
  /** Deliveries, duplicates included. */
  readonly total: number;
  /** How many keys arrived more than once, and how many extra copies in all. */
  duplicates(): { keys: number; extra: number };
  /** Waits until `key` arrived. */
  waitFor(key: string, what: string): Promise<void>;
}

async function counter(broker: Broker, filter: string, qos: QoS, id: string): Promise<Counter> {
  const client = await connected({ broker: broker.url, clientId: id });
  const counts = new Map<string, number>();
  let total = 0;
  try {
    await client.subscribeCallback([{ topic: filter, qos }], (m: Message) => {
      const key = `${m.topic}|${m.text()}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      total++;
    });
  } catch (err) {
    await client.disconnect();
    throw err;
  }
  return {
    client,
    counts,
    get total() {
      return total;
    },
    duplicates() {
      let keys = 0;
      let extra = 0;
      for (const n of counts.values()) {
        if (n > 1) {
          keys++;
          extra += n - 1;
        }
      }
      return { keys, extra };
    },
    waitFor(key: string, what: string) {
      return until(() => counts.has(key), what);
    },
    [Symbol.asyncDispose]: () => client.disconnect(),
  };
}

/** Counts settled promises, so a test can check that none settled early. */
function tracked(
  ps: Promise<PublishResult>[],
): { settled: () => number; all: Promise<PublishResult[]> } {
  let n = 0;
  for (const p of ps) p.then(() => n++, () => n++);
  return { settled: () => n, all: Promise.all(ps) };
}

// ---------------------------------------------------------------------------
// Replay of in-flight publishes

add(
  "Client replays 50 in-flight QoS 1 publishes after a cut: DUP=1, pipelined, all delivered",
  async () => {
    // Receive Maximum 100 lets all 50 be in flight at once (mosquitto's default is 20).
    await using broker = await startBroker({ config: ["max_inflight_messages 100"] });
    await using proxy = await startFaultProxy(broker.url);
    const seen = record(proxy);
    await using sub = await counter(broker, "sv/q1/#", 1, "sv-q1-sub");
    await using client = await connected({
      broker: proxy.url,
      clientId: "sv-q1",
      reconnectBackoff: FAST,
      stats: true,
    });
    proxy.dropBrokerPackets(PacketType.Puback);
    const N = 50;
    const pubs = tracked(
      Array.from(
        { length: N },
        (_, i) => client.publish({ topic: `sv/q1/${i}`, payload: String(i), qos: 1 }),
      ),
    );
    await until(() => proxy.droppedPackets.broker >= N, `${N} PUBACKs withheld by the proxy`);
    assert.equal(pubs.settled(), 0, "no publish resolves without its PUBACK");
    const first = seen.filter((p) => p.connection === 1 && p.from === "client" && p.type === 3);
    assert.equal(first.length, N);
    assert.ok(first.every((p) => (p.flags & DUP) === 0), "first transmissions carry DUP=0");

    proxy.cutAll();
    proxy.dropBrokerPackets(null);
    const results = await within(pubs.all, "every QoS 1 publish to resolve after the cut");
    assert.ok(results.every((r) => r.reasonCode === 0), JSON.stringify(results));
    for (let i = 0; i < N; i++) await sub.waitFor(`sv/q1/${i}|${i}`, `message ${i}`);

    const second = seen.filter((p) => p.connection === 2);
    const replays = second.filter((p) => p.from === "client" && p.type === 3);
    assert.equal(replays.length, N, "each in-flight publish is sent again, once");
    assert.ok(replays.every((p) => (p.flags & DUP) !== 0), "replays carry DUP=1");
    assert.deepEqual(
      replays.map((p) => p.packetId).sort((a, b) => a! - b!),
      first.map((p) => p.packetId).sort((a, b) => a! - b!),
      "replays keep their packet identifiers",
    );
    const firstAck = second.find((p) => p.from === "broker" && p.type === PacketType.Puback);
    assert.ok(firstAck !== undefined);
    const beforeAck = replays.filter((p) => p.seq < firstAck.seq).length;
    assert.ok(beforeAck > 1, `replays are pipelined (${beforeAck} PUBLISH before the first ack)`);
    assert.equal(client.stats().publishesReplayed, N);
    // QoS 1 is at least once: the broker delivered each before the cut and again on replay.
    const d = sub.duplicates();
    assert.ok(sub.total >= N && sub.total === N + d.extra);
  },
);

add(
  "Client keeps the broker's Receive Maximum (20) while replaying and sending queued publishes after a cut",
  async () => {
    await using broker = await startBroker(); // mosquitto's default Receive Maximum: 20
    await using proxy = await startFaultProxy(broker.url);
    const seen = record(proxy);
    await using sub = await counter(broker, "sv/rm/#", 1, "sv-rm-sub");
    await using client = await connected({
      broker: proxy.url,
      clientId: "sv-rm",
      reconnectBackoff: FAST,
    });
    assert.equal(client.connack?.receiveMaximum, 20);
    proxy.dropBrokerPackets(PacketType.Puback);
    const N = 50;
    const pubs = tracked(
      Array.from(
        { length: N },
        (_, i) => client.publish({ topic: `sv/rm/${i}`, payload: String(i), qos: 1 }),
      ),
    );
    await until(() => proxy.droppedPackets.broker >= 20, "20 PUBACKs withheld");
    await delay(50);
    const first = seen.filter((p) => p.connection === 1 && p.from === "client" && p.type === 3);
    assert.equal(first.length, 20, "only Receive Maximum publishes are in flight");
    proxy.cutAll();
    proxy.dropBrokerPackets(null);
    await within(pubs.all, "every publish to resolve");
    let inFlight = 0;
    let peak = 0;
    for (const p of seen.filter((p) => p.connection === 2)) {
      if (p.from === "client" && p.type === PacketType.Publish) peak = Math.max(peak, ++inFlight);
      if (p.from === "broker" && p.type === PacketType.Puback) inFlight--;
    }
    assert.ok(peak <= 20, `at most 20 unacknowledged on the new connection, saw ${peak}`);
    const second = seen.filter((p) => p.connection === 2 && p.from === "client" && p.type === 3);
    const firstIds = new Set(first.map((p) => p.packetId));
    const replays = second.filter((p) => firstIds.has(p.packetId) && (p.flags & DUP) !== 0);
    assert.equal(replays.length, 20, "the 20 in flight are replayed with DUP=1");
    assert.equal(second.length, N, "then the 30 that waited go out");
    assert.equal(second.filter((p) => (p.flags & DUP) === 0).length, 30);
    for (let i = 0; i < N; i++) await sub.waitFor(`sv/rm/${i}|${i}`, `message ${i}`);
  },
);

add(
  "Client replays 50 in-flight QoS 2 publishes after a cut and the subscriber gets each exactly once",
  async () => {
    await using broker = await startBroker({ config: ["max_inflight_messages 100"] });
    await using proxy = await startFaultProxy(broker.url);
    const seen = record(proxy);
    await using sub = await counter(broker, "sv/q2/#", 2, "sv-q2-sub");
    await using client = await connected({
      broker: proxy.url,
      clientId: "sv-q2",
      reconnectBackoff: FAST,
    });
    proxy.dropBrokerPackets(PacketType.Pubrec);
    const N = 50;
    const pubs = tracked(
      Array.from(
        { length: N },
        (_, i) => client.publish({ topic: `sv/q2/${i}`, payload: String(i), qos: 2 }),
      ),
    );
    await until(() => proxy.droppedPackets.broker >= N, `${N} PUBRECs withheld by the proxy`);
    assert.equal(pubs.settled(), 0);
    proxy.cutAll();
    proxy.dropBrokerPackets(null);
    const results = await within(pubs.all, "every QoS 2 publish to resolve after the cut");
    assert.ok(results.every((r) => r.reasonCode === 0), JSON.stringify(results));

    const replays = seen.filter((p) => p.connection === 2 && p.from === "client" && p.type === 3);
    assert.equal(replays.length, N);
    assert.ok(replays.every((p) => (p.flags & DUP) !== 0), "replays carry DUP=1");

    // A marker published after everything else: when it arrives, any duplicate would have too.
    await client.publish({ topic: "sv/q2/marker", payload: "end", qos: 2 });
    await sub.waitFor("sv/q2/marker|end", "the marker");
    for (let i = 0; i < N; i++) {
      assert.equal(sub.counts.get(`sv/q2/${i}|${i}`), 1, `message ${i} delivered exactly once`);
    }
    assert.equal(sub.total, N + 1);
  },
);

for (
  const [dropped, what] of [
    [PacketType.Pubrel, "the client's PUBRELs are lost"],
    [PacketType.Pubcomp, "the broker's PUBCOMPs are lost"],
  ] as const
) {
  add(
    `Client resumes QoS 2 with PUBREL after a cut between PUBREC and PUBCOMP (${what})`,
    async () => {
      await using broker = await startBroker();
      await using proxy = await startFaultProxy(broker.url);
      const seen = record(proxy);
      await using sub = await counter(broker, "sv/rel/#", 2, "sv-rel-sub");
      await using client = await connected({
        broker: proxy.url,
        clientId: "sv-rel",
        reconnectBackoff: FAST,
      });
      if (dropped === PacketType.Pubrel) proxy.dropClientPackets(dropped);
      else proxy.dropBrokerPackets(dropped);
      const N = 10;
      const pubs = tracked(
        Array.from(
          { length: N },
          (_, i) => client.publish({ topic: `sv/rel/${i}`, payload: String(i), qos: 2 }),
        ),
      );
      const lost = () =>
        dropped === PacketType.Pubrel ? proxy.droppedPackets.client : proxy.droppedPackets.broker;
      await until(() => lost() >= N, `${N} packets of type ${dropped} withheld`);
      assert.equal(pubs.settled(), 0);
      const ids = seen
        .filter((p) => p.connection === 1 && p.from === "client" && p.type === PacketType.Publish)
        .map((p) => p.packetId!)
        .sort((a, b) => a - b);
      assert.equal(ids.length, N);

      proxy.cutAll();
      proxy.dropClientPackets(null);
      proxy.dropBrokerPackets(null);
      const results = await within(pubs.all, "every QoS 2 publish to complete after the cut");
      // 0x92 (Packet Identifier not found) is allowed on the PUBCOMP of a flow the broker closed.
      assert.ok(
        results.every((r) => r.reasonCode === 0 || r.reasonCode === 0x92),
        JSON.stringify(results),
      );

      const second = seen.filter((p) => p.connection === 2 && p.from === "client");
      assert.deepEqual(
        second.filter((p) => p.type === PacketType.Pubrel).map((p) => p.packetId!).sort((a, b) =>
          a - b
        ),
        ids,
        "PUBREL is sent again for every flow past PUBREC",
      );
      assert.equal(
        second.filter((p) => p.type === PacketType.Publish).length,
        0,
        "a flow past PUBREC never sends its PUBLISH again",
      );
      await client.publish({ topic: "sv/rel/marker", payload: "end", qos: 2 });
      await sub.waitFor("sv/rel/marker|end", "the marker");
      for (let i = 0; i < N; i++) {
        assert.equal(sub.counts.get(`sv/rel/${i}|${i}`), 1, `message ${i} delivered exactly once`);
      }
      assert.equal(sub.total, N + 1);
    },
  );
}

// ---------------------------------------------------------------------------
// Resubscribe

add(
  "Client re-subscribes after a broker restart without persistence (Session Present 0)",
  async () => {
    await using broker = await startBroker();
    await using proxy = await startFaultProxy(broker.url);
    const seen = record(proxy);
    const ups: ConnackInfo[] = [];
    await using client = await connected({
      broker: proxy.url,
      clientId: "sv-resub",
      reconnectBackoff: FAST,
      onConnectionUp: (c) => ups.push(c),
    });
    const sub = await client.subscribe([{ topic: "sv/rs/#", qos: 1 }]);
    const it = sub[Symbol.asyncIterator]();
    const nextText = async (what: string) => {
      const r = await within(it.next(), what);
      assert.equal(r.done, false, `subscription ended while waiting for ${what}`);
      const m = r.value as Message;
      m.ack();
      return m.text();
    };
    {
      await using pub = await connected({ broker: broker.url, clientId: "sv-resub-pub1" });
      await pub.publish({ topic: "sv/rs/a", payload: "before", qos: 1 });
      assert.equal(await nextText("the message before the restart"), "before");
    }

    const connsBefore = proxy.connections;
    await broker.restart();
    await until(() => ups.length === 2, "the reconnect after the restart");
    assert.equal(ups[1].sessionPresent, false, "the restarted broker has no session");
    // The SUBSCRIBE re-issued on the new connection is acknowledged.
    await until(
      () =>
        seen.some((p) =>
          p.connection > connsBefore && p.from === "broker" && p.type === PacketType.Suback
        ),
      "the SUBACK of the re-issued SUBSCRIBE",
    );
    const resub = seen.find((p) =>
      p.connection > connsBefore && p.from === "client" && p.type === PacketType.Subscribe
    );
    assert.ok(resub !== undefined, "SUBSCRIBE went out again");

    await using pub = await connected({ broker: broker.url, clientId: "sv-resub-pub2" });
    for (let i = 0; i < 5; i++) {
      await pub.publish({ topic: "sv/rs/b", payload: `after-${i}`, qos: 1 });
    }
    for (let i = 0; i < 5; i++) {
      assert.equal(await nextText(`message ${i} after the restart`), `after-${i}`);
    }
  },
);

for (const cleanStartOnReconnect of [false, true]) {
  add(
    `Client reconnects with Clean Start ${
      cleanStartOnReconnect ? 1 : 0
    } when cleanStartOnReconnect is ${cleanStartOnReconnect}, re-subscribing only without a session`,
    async () => {
      await using broker = await startBroker();
      await using proxy = await startFaultProxy(broker.url);
      const seen = record(proxy);
      const connects: ConnectPacket[] = [];
      proxy.onPacket((p) => {
        if (p.from === "client" && p.type === PacketType.Connect) {
          connects.push(new PacketDecoder().push(p.bytes)[0] as ConnectPacket);
        }
      });
      const ups: ConnackInfo[] = [];
      const received: string[] = [];
      await using client = await connected({
        broker: proxy.url,
        clientId: `sv-csr-${cleanStartOnReconnect}`,
        reconnectBackoff: FAST,
        cleanStartOnReconnect,
        onConnectionUp: (c) => ups.push(c),
      });
      await client.subscribeCallback([{ topic: "sv/csr/#", qos: 1 }], (m) => {
        received.push(m.text());
      });
      proxy.cutAll();
      await until(() => ups.length === 2, "the reconnect");
      assert.deepEqual(connects.map((c) => c.cleanStart), [true, cleanStartOnReconnect]);
      assert.equal(connects[1].clientId, connects[0].clientId);
      assert.equal(ups[1].sessionPresent, !cleanStartOnReconnect);
      const resubscribed = () =>
        seen.some((p) => p.connection === 2 && p.from === "broker" && p.type === PacketType.Suback);
      if (cleanStartOnReconnect) await until(resubscribed, "the re-issued SUBSCRIBE's SUBACK");
      await using pub = await connected({ broker: broker.url, clientId: "sv-csr-pub" });
      await pub.publish({ topic: "sv/csr/x", payload: "after", qos: 1 });
      await until(() => received.includes("after"), "the message after the reconnect");
      const subscribes = seen.filter((p) =>
        p.connection === 2 && p.from === "client" && p.type === PacketType.Subscribe
      );
      assert.equal(subscribes.length, cleanStartOnReconnect ? 1 : 0);
    },
  );
}

add(
  "Client delivers an inbound QoS 2 message once when the broker re-sends it after a cut (PUBREC lost)",
  async () => {
    await using broker = await startBroker();
    await using proxy = await startFaultProxy(broker.url);
    const seen = record(proxy);
    const counts = new Map<string, number>();
    await using client = await connected({
      broker: proxy.url,
      clientId: "sv-in2",
      reconnectBackoff: FAST,
    });
    await client.subscribeCallback([{ topic: "sv/in2/#", qos: 2 }], (m) => {
      counts.set(m.text(), (counts.get(m.text()) ?? 0) + 1);
    });
    proxy.dropClientPackets(PacketType.Pubrec);
    await using pub = await connected({ broker: broker.url, clientId: "sv-in2-pub" });
    const N = 10;
    for (let i = 0; i < N; i++) {
      await pub.publish({ topic: "sv/in2/x", payload: String(i), qos: 2 });
    }
    await until(() => proxy.droppedPackets.client >= N, `${N} PUBRECs withheld by the proxy`);
    assert.equal(counts.size, N, "each message was delivered before the cut");
    proxy.cutAll();
    proxy.dropClientPackets(null);
    await until(
      () =>
        seen.filter((p) =>
          p.connection === 2 && p.from === "client" && p.type === PacketType.Pubcomp
        ).length >= N,
      "the resumed flows to complete",
      5000,
    );
    const resent = seen.filter((p) =>
      p.connection === 2 && p.from === "broker" && p.type === PacketType.Publish
    );
    assert.equal(resent.length, N, "the broker re-sent every unacknowledged PUBLISH");
    assert.ok(resent.every((p) => (p.flags & DUP) !== 0));
    await pub.publish({ topic: "sv/in2/x", payload: "marker", qos: 2 });
    await until(() => counts.has("marker"), "the marker");
    for (let i = 0; i < N; i++) assert.equal(counts.get(String(i)), 1, `message ${i} once`);
  },
);

add(
  "Client receives the messages the broker queued while it was cut off, on the same Subscription",
  async () => {
    await using broker = await startBroker();
    await using proxy = await startFaultProxy(broker.url);
    let ups = 0;
    let downs = 0;
    await using client = await connected({
      broker: proxy.url,
      clientId: "sv-queued",
      reconnectBackoff: FAST,
      onConnectionUp: () => ups++,
      onConnectionDown: () => {
        downs++;
      },
    });
    const sub = await client.subscribe([{ topic: "sv/queued/#", qos: 1 }]);
    proxy.refuseUntilResumed();
    proxy.cutAll();
    await until(() => downs === 1, "the connection loss");
    {
      await using pub = await connected({ broker: broker.url, clientId: "sv-queued-pub" });
      for (let i = 0; i < 5; i++) {
        await pub.publish({ topic: "sv/queued/x", payload: String(i), qos: 1 });
      }
    }
    proxy.resume();
    // With a session present mosquitto sends the queued PUBLISHes right behind CONNACK.
    const it = sub[Symbol.asyncIterator]();
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await within(it.next(), `queued message ${i}`, 5000);
      assert.equal(r.done, false);
      r.value.ack();
      got.push(r.value.text());
    }
    assert.deepEqual(got, ["0", "1", "2", "3", "4"]);
    assert.equal(ups, 2, "one reconnect, not a reconnect loop");
  },
);

add(
  "Client stays connected when a resumed session's queued PUBLISH arrives in the same read as CONNACK",
  async () => {
    await using broker = await startBroker();
    {
      await using first = await connected({ broker: broker.url, clientId: "sv-resume" });
      await first.subscribeCallback([{ topic: "sv/resume/#", qos: 1 }], () => {});
    } // DISCONNECT; the session (expiry 300 s) and its subscription stay at the broker
    {
      await using pub = await connected({ broker: broker.url, clientId: "sv-resume-pub" });
      for (let i = 0; i < 5; i++) {
        await pub.publish({ topic: "sv/resume/x", payload: String(i), qos: 1 });
      }
    }
    let ups = 0;
    let downs = 0;
    await using client = await connected({
      broker: broker.url,
      clientId: "sv-resume",
      cleanStart: false,
      reconnectBackoff: FAST,
      onConnectionUp: () => ups++,
      onConnectionDown: () => {
        downs++;
      },
    });
    assert.equal(client.connack?.sessionPresent, true);
    await delay(300); // six reconnect periods
    assert.deepEqual({ ups, downs, connected: client.connected }, {
      ups: 1,
      downs: 0,
      connected: true,
    });
  },
);

// ---------------------------------------------------------------------------
// Failover and redirect

add(
  "Client fails over between brokers: connect and reconnect land on B while A refuses",
  async () => {
    await using brokerA = await startBroker();
    await using brokerB = await startBroker();
    await using proxyA = await startFaultProxy(brokerA.url);
    proxyA.refuseUntilResumed();
    const attempts: { attempt: number; url: string }[] = [];
    let ups = 0;
    await using client = await connected({
      brokers: [proxyA.url, brokerB.url],
      clientId: "sv-failover",
      reconnectBackoff: FAST,
      onReconnectAttempt: (attempt, url) => attempts.push({ attempt, url }),
      onConnectionUp: () => ups++,
    });
    const isA = (url: string) => url.includes(`:${proxyA.port}`);
    const isB = (url: string) => url.includes(`:${brokerB.port}`);
    assert.ok(proxyA.refusals >= 1, "connect() tried A first");
    assert.equal(proxyA.connections, 0);
    assert.equal(client.connected, true, "connect() landed on B");
    assert.equal(attempts.length, 0, "onReconnectAttempt is not called for connect()");

    // B goes away; A still refuses: the first retry moves off B, then the rotation returns to B.
    await brokerB.restart();
    await until(() => ups === 2, "the reconnect to B");
    assert.ok(attempts.length >= 2, JSON.stringify(attempts));
    assert.equal(attempts[0].attempt, 1);
    assert.ok(isA(attempts[0].url), `first retry after the drop goes to A: ${attempts[0].url}`);
    attempts.forEach((a, i) =>
      assert.ok(i % 2 === 0 ? isA(a.url) : isB(a.url), `attempt ${i} rotates: ${a.url}`)
    );
    assert.equal(attempts.at(-1)!.attempt, attempts.length);
    assert.equal(proxyA.connections, 0);
    {
      // Connected to B indeed: a publish reaches B's subscribers.
      await using sub = await counter(brokerB, "sv/fo/#", 1, "sv-failover-sub");
      await client.publish({ topic: "sv/fo/x", payload: "on-b", qos: 1 });
      await sub.waitFor("sv/fo/x|on-b", "the publish on B");
    }

    // A accepts again: the next drop goes to A on the first retry.
    proxyA.resume();
    attempts.length = 0;
    await brokerB.restart();
    await until(() => ups === 3, "the reconnect to A");
    assert.equal(attempts.length, 1, JSON.stringify(attempts));
    assert.ok(isA(attempts[0].url));
    assert.equal(proxyA.connections, 1);
    {
      await using sub = await counter(brokerA, "sv/fo/#", 1, "sv-failover-sub-a");
      await client.publish({ topic: "sv/fo/x", payload: "on-a", qos: 1 });
      await sub.waitFor("sv/fo/x|on-a", "the publish on A");
    }
  },
);

add(
  "Client follows a DISCONNECT 0x9D Server moved: onServerDisconnect calls setBrokers(serverReference)",
  async () => {
    await using broker = await startBroker();
    await using fake = new FakeBroker({ timeoutMs: WAIT_MS });
    const { autoDial } = await import("../../src/transport/mod.ts");
    // mqtt://fake:1883 is the scripted broker; any other URL is dialled for real.
    const dial: DialFunc = (url, options) =>
      url.hostname === "fake" ? fake.dial(url, options) : autoDial(url, options);
    const disconnects: { reasonCode?: number; serverReference?: string }[] = [];
    const attempts: string[] = [];
    let ups = 0;
    let client: Client | undefined = undefined;
    client = await connected({
      broker: "mqtt://fake:1883",
      clientId: "sv-moved",
      dial,
      reconnectBackoff: FAST,
      onReconnectAttempt: (_n, url) => attempts.push(url),
      onConnectionUp: () => ups++,
      onServerDisconnect: (d) => {
        disconnects.push({
          reasonCode: d.reasonCode,
          serverReference: d.properties?.serverReference,
        });
        const ref = d.properties?.serverReference;
        if (ref !== undefined) client!.setBrokers(ref);
      },
    });
    await using _client = client;
    const conn = await fake.nextConnection();
    conn.send({
      type: PacketType.Disconnect,
      reasonCode: 0x9d,
      properties: { serverReference: broker.url },
    });
    await until(() => ups === 2, "the connection to the referenced broker");
    assert.deepEqual(disconnects, [{ reasonCode: 0x9d, serverReference: broker.url }]);
    assert.equal(fake.dials, 1, "the scripted broker is not dialled again");
    assert.equal(attempts.length, 1);
    assert.ok(attempts[0].includes(`:${broker.port}`), attempts[0]);
    await using sub = await counter(broker, "sv/moved", 1, "sv-moved-sub");
    await client.publish({ topic: "sv/moved", payload: "here", qos: 1 });
    await sub.waitFor("sv/moved|here", "the publish on the referenced broker");
  },
);

// ---------------------------------------------------------------------------
// Backoff

add("exponentialBackoff(100, 1000, 0) gives 100, 200, 400, 800, 1000", () => {
  const b = exponentialBackoff(100, 1000, 0);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 20].map(b), [100, 200, 400, 800, 1000, 1000, 1000]);
  return Promise.resolve();
});

add(
  "Client asks reconnectBackoff for attempts 0, 1, 2, ... and waits the growing delays while the broker is down",
  async () => {
    await using broker = await startBroker();
    await using proxy = await startFaultProxy(broker.url);
    const inner = exponentialBackoff(10, 80, 0);
    const asked: { attempt: number; delay: number }[] = [];
    const attemptsAt: number[] = [];
    let ups = 0;
    await using client = await connected({
      broker: proxy.url,
      clientId: "sv-backoff",
      reconnectBackoff: (attempt) => {
        const d = inner(attempt);
        asked.push({ attempt, delay: d });
        return d;
      },
      onReconnectAttempt: () => attemptsAt.push(Date.now()),
      onConnectionUp: () => ups++,
    });
    assert.equal(asked.length, 0, "connect() itself does not wait");
    proxy.refuseUntilResumed();
    const cutAt = Date.now();
    proxy.cutAll();
    await until(() => asked.length >= 7, "seven backoff requests");
    proxy.resume();
    await until(() => ups === 2, "the reconnect");
    assert.deepEqual(
      asked.slice(0, 7).map((a) => a.attempt),
      [0, 1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(
      asked.slice(0, 7).map((a) => a.delay),
      [10, 20, 40, 80, 80, 80, 80],
    );
    // Each attempt waited (at least about) the delay asked for before it.
    const starts = [cutAt, ...attemptsAt];
    for (let i = 0; i < 6; i++) {
      const waited = starts[i + 1] - starts[i];
      assert.ok(waited >= asked[i].delay - 3, `attempt ${i + 1} waited ${waited} ms`);
    }
    assert.ok(client.connected);
  },
);

add(
  "Client does not reset the backoff after a connection that died sooner than the delay before it",
  async () => {
    await using broker = await startBroker();
    await using proxy = await startFaultProxy(broker.url);
    const asked: number[] = [];
    let ups = 0;
    let cutSoon = false;
    const timers = new Set<ReturnType<typeof setTimeout>>();
    await using client = await connected({
      broker: proxy.url,
      clientId: "sv-backoff-reset",
      reconnectBackoff: (attempt) => {
        asked.push(attempt);
        return 150;
      },
      onConnectionUp: () => {
        ups++;
        if (cutSoon) {
          cutSoon = false;
          const t = setTimeout(() => {
            timers.delete(t);
            proxy.cutAll();
          }, 10);
          timers.add(t);
        }
      },
    });
    try {
      // A long-lived connection drops: attempt 0.
      cutSoon = true;
      proxy.cutAll();
      // The connection it makes lives 10 ms (< 150 ms): the next request is attempt 1, not 0.
      await until(() => ups === 3, "two reconnects");
      assert.deepEqual(asked, [0, 1]);
      // This one lives longer than the delay before it: the counter starts over.
      await delay(300);
      proxy.cutAll();
      await until(() => ups === 4, "the third reconnect");
      assert.deepEqual(asked, [0, 1, 0]);
      assert.ok(client.connected);
    } finally {
      for (const t of timers) clearTimeout(t);
    }
  },
);

// ---------------------------------------------------------------------------
// Lifecycle callbacks

add(
  "Client stops reconnecting when onConnectionDown returns false; a later connect() works",
  async () => {
    await using broker = await startBroker();
    await using proxy = await startFaultProxy(broker.url);
    let downs = 0;
    let attempts = 0;
    let ups = 0;
    await using client = await connected({
      broker: proxy.url,
      clientId: "sv-stop",
      reconnectBackoff: () => 10,
      onConnectionDown: () => {
        downs++;
        return false;
      },
      onReconnectAttempt: () => attempts++,
      onConnectionUp: () => ups++,
    });
    proxy.cutAll();
    await until(() => downs === 1, "onConnectionDown");
    await delay(200); // 20 backoff periods: time enough for attempts that must not happen
    assert.equal(attempts, 0);
    assert.equal(proxy.connections, 1);
    assert.equal(client.connected, false);
    await assert.rejects(
      client.publish({ topic: "sv/stop", payload: "x", qos: 1 }),
      code("not-connected"),
    );
    const info = await within(client.connect(), "connect() after the supervisor stopped");
    assert.equal(info.reasonCode, 0);
    assert.equal(info.sessionPresent, true, "connect() resumes the session");
    assert.equal(client.connected, true);
    assert.equal(proxy.connections, 2);
    assert.equal(ups, 2);
    const r = await within(
      client.publish({ topic: "sv/stop", payload: "y", qos: 1 }),
      "a publish after reconnecting",
    );
    assert.equal(r.reasonCode, 0x10, "no matching subscribers");
  },
);

add("Client calls onConnectionUp after each reconnect", async () => {
  await using broker = await startBroker();
  await using proxy = await startFaultProxy(broker.url);
  const ups: ConnackInfo[] = [];
  let downs = 0;
  await using client = await connected({
    broker: proxy.url,
    clientId: "sv-ups",
    reconnectBackoff: FAST,
    onConnectionUp: (c) => ups.push(c),
    onConnectionDown: () => {
      downs++;
    },
  });
  assert.equal(ups.length, 1, "the first connect counts");
  for (let i = 1; i <= 3; i++) {
    proxy.cutAll();
    await until(() => ups.length === i + 1, `reconnect ${i}`);
    assert.equal(downs, i);
    assert.equal(ups[i].sessionPresent, true, "the session survives a cut");
  }
  assert.equal(proxy.connections, 4);
  assert.ok(client.connected);
});

// ---------------------------------------------------------------------------
// Publishing while disconnected

add(
  "Client.publish() while disconnected: QoS 0 rejects not-connected, QoS 1/2 wait and are delivered",
  async () => {
    await using broker = await startBroker();
    await using proxy = await startFaultProxy(broker.url);
    await using sub = await counter(broker, "sv/off/#", 2, "sv-off-sub");
    let ups = 0;
    let downs = 0;
    await using client = await connected({
      broker: proxy.url,
      clientId: "sv-off",
      reconnectBackoff: FAST,
      onConnectionUp: () => ups++,
      onConnectionDown: () => {
        downs++;
      },
    });
    proxy.refuseUntilResumed();
    proxy.cutAll();
    await until(() => downs === 1, "the connection loss");
    assert.equal(client.connected, false);
    await assert.rejects(
      client.publish({ topic: "sv/off/q0", payload: "x", qos: 0 }),
      code("not-connected"),
    );
    const N = 20;
    const ps: Promise<PublishResult>[] = [];
    for (let i = 0; i < N; i++) {
      ps.push(client.publish({ topic: "sv/off/q1", payload: String(i), qos: 1 }));
      ps.push(client.publish({ topic: "sv/off/q2", payload: String(i), qos: 2 }));
    }
    const pubs = tracked(ps);
    await until(() => proxy.refusals >= 2, "reconnect attempts being refused");
    assert.equal(pubs.settled(), 0, "nothing settles while disconnected");
    proxy.resume();
    const results = await within(pubs.all, "the publishes accepted while disconnected");
    assert.equal(ups, 2);
    assert.ok(results.every((r) => r.reasonCode === 0), JSON.stringify(results));
    await client.publish({ topic: "sv/off/marker", payload: "end", qos: 2 });
    await sub.waitFor("sv/off/marker|end", "the marker");
    for (let i = 0; i < N; i++) {
      assert.ok((sub.counts.get(`sv/off/q1|${i}`) ?? 0) >= 1, `QoS 1 message ${i} delivered`);
      assert.equal(sub.counts.get(`sv/off/q2|${i}`), 1, `QoS 2 message ${i} delivered once`);
    }
  },
);

add(
  "Client.disconnect() rejects publishes accepted while disconnected with closed",
  async () => {
    await using broker = await startBroker();
    await using proxy = await startFaultProxy(broker.url);
    let downs = 0;
    const client = await connected({
      broker: proxy.url,
      clientId: "sv-off-closed",
      reconnectBackoff: FAST,
      onConnectionDown: () => {
        downs++;
      },
    });
    await using _client = client;
    proxy.refuseUntilResumed();
    proxy.cutAll();
    await until(() => downs === 1, "the connection loss");
    const ps = [
      client.publish({ topic: "sv/closed", payload: "1", qos: 1 }),
      client.publish({ topic: "sv/closed", payload: "2", qos: 2 }),
      client.publish({ topic: "sv/closed", payload: "3", qos: 1 }),
    ];
    const rejected = ps.map((p) => assert.rejects(p, code("closed")));
    await within(client.disconnect(), "disconnect()");
    await within(Promise.all(rejected), "the pending publishes to reject");
    await assert.rejects(
      client.publish({ topic: "sv/closed", payload: "4", qos: 1 }),
      code("closed"),
    );
    const attemptsAfter = proxy.refusals;
    await delay(150);
    assert.equal(proxy.refusals, attemptsAfter, "no reconnect attempt after disconnect()");
  },
);
