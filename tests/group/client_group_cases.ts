// ClientGroup against two real mosquitto instances, shared by
// tests/group/client_group_test.ts (Deno.test) and bun-tests/group.test.ts
// (bun:test).
//
// Each broker has an observer client subscribed directly, so a test can tell
// which broker a group publish reached. Where a test must know which member
// acked, members connect through a fault proxy (tests/_helpers/fault_proxy.ts)
// that reports every packet, and the test watches the client's PUBACKs.

import assert from "node:assert/strict";
import { Client, type ClientOptions, type Message, MqttError } from "../../mod.ts";
import { ClientGroup, GroupError } from "../../src/group/client_group.ts";
import { fnv1a32 } from "../../src/client/_fnv.ts";
import { type Broker, freePort, startBroker } from "../_helpers/broker.ts";
import { startFaultProxy } from "../_helpers/fault_proxy.ts";
import {
  abortedSignal,
  type Case,
  delay,
  rejectsWithReason,
  take,
  takeAcked,
  trackedAbort,
  until,
  within,
} from "./_wait.ts";

/** Two brokers, started in parallel. */
async function twoBrokers(): Promise<[Broker, Broker] & AsyncDisposable> {
  const [a, b] = await Promise.all([startBroker(), startBroker()]);
  return Object.assign([a, b] as [Broker, Broker], {
    async [Symbol.asyncDispose]() {
      await Promise.all([a[Symbol.asyncDispose](), b[Symbol.asyncDispose]()]);
    },
  });
}

/** A client subscribed to `filter` on `broker`, collecting every message (acked). */
async function observe(broker: Broker, filter: string) {
  const client = new Client({ broker: broker.url });
  await client.connect();
  const got: Message[] = [];
  const sub = await client.subscribe([{ topic: filter, qos: 1 }], { buffer: 10_000 });
  const reading = (async () => {
    for await (const m of sub) {
      m.ack();
      got.push(m);
    }
  })();
  return {
    got,
    texts: () => got.map((m) => `${m.topic}=${m.text()}`),
    client,
    async [Symbol.asyncDispose]() {
      await client.disconnect();
      await reading;
    },
  };
}

const QUICK: Partial<ClientOptions> = { connectTimeoutMs: 3000 };

export const cases: Case[] = [
  {
    name: "ClientGroup names members, layers shared and own options, and dedupes client ids",
    fn() {
      const group = new ClientGroup(
        [
          { broker: "mqtt://127.0.0.1:1" },
          { broker: "mqtt://127.0.0.1:2", name: "east" },
          { broker: "mqtt://127.0.0.1:3", options: { clientId: "own", keepAliveSeconds: 5 } },
          { broker: "mqtt://127.0.0.1:4" },
          { broker: "mqtt://127.0.0.1:5", options: { clientId: "fanout" } },
        ],
        { shared: { clientId: "fanout", broker: "mqtt://ignored:1" } },
      );
      assert.deepEqual(group.names(), ["member-1", "east", "member-3", "member-4", "member-5"]);
      assert.equal(group.publishPolicy, "broadcast");
      assert.equal(group.members().length, 5);
      assert.equal(group.member("member-1")?.clientId, "fanout");
      assert.equal(group.member("east")?.clientId, "fanout-2");
      assert.equal(group.member("member-3")?.clientId, "own");
      assert.equal(group.member("member-4")?.clientId, "fanout-3");
      assert.equal(group.member("member-5")?.clientId, "fanout-4");
      assert.equal(group.member("nope"), undefined);
      assert.equal(group.members()[1], group.member("east"));
      // Empty client ids are left to the broker.
      const anon = new ClientGroup([{ broker: "mqtt://127.0.0.1:1" }, {
        broker: "mqtt://127.0.0.1:2",
      }]);
      assert.deepEqual(anon.members().map((c) => c.clientId), ["", ""]);

      assert.throws(() => new ClientGroup([]), TypeError);
      assert.throws(
        () =>
          new ClientGroup([{ broker: "mqtt://a:1", name: "x" }, {
            broker: "mqtt://b:1",
            name: "x",
          }]),
        RangeError,
        "a duplicate member name",
      );
      assert.throws(
        () => new ClientGroup([{ broker: "" }]),
        (err: MqttError) => err.code === "missing-broker",
      );
      assert.throws(
        () =>
          new ClientGroup([{ broker: "mqtt://a:1" }], {
            publishPolicy: "random" as unknown as "broadcast",
          }),
        RangeError,
        "an unknown publishPolicy",
      );
      assert.throws(
        () => new ClientGroup([{ broker: "ws://a:1/mqtt" }]),
        (err: MqttError) => err.code === "invalid-broker-url",
      );
      return Promise.resolve();
    },
  },
  {
    name: "ClientGroup throws TypeError for a wrong type and RangeError for an unknown value",
    async fn() {
      assert.throws(
        () => new ClientGroup([{ broker: 1883 as unknown as string }]),
        TypeError,
        "a broker that is not a string",
      );
      assert.throws(
        () => new ClientGroup([{ broker: "mqtt://a:1" }], { publishPolicy: 1 as never }),
        TypeError,
        "a publishPolicy that is not a string",
      );
      const group = new ClientGroup([{ broker: "mqtt://127.0.0.1:1" }]);
      // Checked before any member is asked: no broker needed.
      await assert.rejects(
        group.subscribeQueue(["a"], { dropPolicy: "drop-all" as never }),
        RangeError,
        "subscribeQueue() with an unknown dropPolicy",
      );
      await assert.rejects(
        group.subscribeQueue(["a"], { dropPolicy: 2 as never }),
        TypeError,
        "subscribeQueue() with a dropPolicy that is not a string",
      );
      await assert.rejects(
        group.subscribe(["a"], { dropPolicy: "drop-all" as never }),
        RangeError,
        "subscribe() with an unknown dropPolicy",
      );
      await assert.rejects(
        group.subscribeQueue(["a"], { maxQueueSize: "10" as never }),
        TypeError,
        "a maxQueueSize that is not a number",
      );
      await assert.rejects(
        group.subscribe(["a"], { buffer: 1.5 }),
        RangeError,
        "a buffer that is not an integer",
      );
      await group.disconnect();
    },
  },
  {
    name: "ClientGroup broadcast publishes through every member",
    async fn() {
      await using brokers = await twoBrokers();
      const [a, b] = brokers;
      await using oa = await observe(a, "bc/#");
      await using ob = await observe(b, "bc/#");
      await using group = new ClientGroup(
        [{ broker: a.url, name: "a" }, { broker: b.url, name: "b" }],
        { shared: QUICK },
      );
      const connacks = await group.connect();
      assert.deepEqual([...connacks.keys()], ["a", "b"]);
      for (const qos of [0, 1, 2] as const) {
        const r = await group.publish({ topic: `bc/${qos}`, payload: `q${qos}`, qos });
        assert.deepEqual([...r.results.keys()], ["a", "b"]);
        assert.equal(r.errors.size, 0);
      }
      await until(() => oa.got.length === 3 && ob.got.length === 3, "both brokers");
      assert.deepEqual(oa.texts(), ["bc/0=q0", "bc/1=q1", "bc/2=q2"]);
      assert.deepEqual(ob.texts(), ["bc/0=q0", "bc/1=q1", "bc/2=q2"]);
    },
  },
  {
    name: "ClientGroup round-robin advances the member by one per publish",
    async fn() {
      await using brokers = await twoBrokers();
      const [a, b] = brokers;
      await using oa = await observe(a, "rr/#");
      await using ob = await observe(b, "rr/#");
      await using group = new ClientGroup(
        [{ broker: a.url, name: "a" }, { broker: b.url, name: "b" }],
        { publishPolicy: "round-robin", shared: QUICK },
      );
      await group.connect();
      const took: string[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await group.publish({ topic: `rr/${i}`, payload: `${i}`, qos: 1 });
        assert.equal(r.results.size, 1);
        took.push(...r.results.keys());
      }
      assert.deepEqual(took, ["a", "b", "a", "b", "a", "b"]);
      await until(() => oa.got.length + ob.got.length === 6, "six messages");
      assert.deepEqual(oa.texts(), ["rr/0=0", "rr/2=2", "rr/4=4"]);
      assert.deepEqual(ob.texts(), ["rr/1=1", "rr/3=3", "rr/5=5"]);
    },
  },
  {
    name: "ClientGroup hash-by-topic sends each topic through its FNV-1a member, in order",
    async fn() {
      // The hash itself: FNV-1a 32-bit test vectors, and UTF-8 beyond ASCII.
      assert.equal(fnv1a32(""), 0x811c9dc5);
      assert.equal(fnv1a32("a"), 0xe40c292c);
      assert.equal(fnv1a32("foobar"), 0xbf9cf968);
      const reference = (s: string) => {
        let h = 0x811c9dc5;
        for (const byte of new TextEncoder().encode(s)) h = Math.imul(h ^ byte, 0x01000193);
        return h >>> 0;
      };
      for (const s of ["température/€", "sensor/😀/x", "lone\ud800/x", "end\udc00", "ÿ"]) {
        assert.equal(fnv1a32(s), reference(s), s);
      }

      await using brokers = await twoBrokers();
      const [a, b] = brokers;
      await using oa = await observe(a, "h/#");
      await using ob = await observe(b, "h/#");
      await using group = new ClientGroup(
        [{ broker: a.url, name: "a" }, { broker: b.url, name: "b" }],
        { publishPolicy: "hash-by-topic", shared: QUICK },
      );
      await group.connect();
      const topics = Array.from({ length: 8 }, (_, i) => `h/sensor-${i}`);
      const home = new Map(topics.map((t) => [t, fnv1a32(t) % 2 === 0 ? "a" : "b"]));
      assert.equal(new Set(home.values()).size, 2, "the topics must spread over both members");
      const N = 25;
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < N; i++) {
        for (const t of topics) {
          sends.push(
            group.publish({ topic: t, payload: `${i}`, qos: 1 }).then((r) => {
              assert.deepEqual([...r.results.keys()], [home.get(t)]);
            }),
          );
        }
      }
      await Promise.all(sends);
      await until(() => oa.got.length + ob.got.length === N * topics.length, "every message");
      for (const [name, seen] of [["a", oa.got], ["b", ob.got]] as const) {
        for (const t of topics) {
          const seq = seen.filter((m) => m.topic === t).map((m) => Number(m.text()));
          if (home.get(t) === name) {
            assert.deepEqual(seq, Array.from({ length: N }, (_, i) => i), `${t} on ${name}`);
          } else {
            assert.deepEqual(seq, [], `${t} must not reach ${name}`);
          }
        }
      }
    },
  },
  {
    name:
      "ClientGroup subscribe merges both members; each ack goes back to the member that delivered it",
    async fn() {
      await using brokers = await twoBrokers();
      const [a, b] = brokers;
      await using pa = await startFaultProxy(a.url);
      await using pb = await startFaultProxy(b.url);
      const pubacks = { a: [] as number[], b: [] as number[] };
      pa.onPacket((p) => {
        if (p.from === "client" && p.type === 4) pubacks.a.push(p.packetId!);
      });
      pb.onPacket((p) => {
        if (p.from === "client" && p.type === 4) pubacks.b.push(p.packetId!);
      });
      await using group = new ClientGroup(
        [{ broker: pa.url, name: "a" }, { broker: pb.url, name: "b" }],
        { shared: QUICK },
      );
      await group.connect();
      const sub = await group.subscribe([{ topic: "m/#", qos: 1 }]);
      assert.deepEqual([...sub.tokens.keys()], ["a", "b"]);
      assert.equal(sub.errors.size, 0);
      await using pubA = new Client({ broker: a.url });
      await using pubB = new Client({ broker: b.url });
      await Promise.all([pubA.connect(), pubB.connect()]);
      await pubA.publish({ topic: "m/from-a", payload: "A", qos: 1 });
      await pubB.publish({ topic: "m/from-b", payload: "B", qos: 1 });
      const got = await take(sub, 2, "merged messages");
      const fromA = got.find((m) => m.topic === "m/from-a")!;
      const fromB = got.find((m) => m.topic === "m/from-b")!;
      assert.equal(fromA.text(), "A");
      assert.equal(fromB.text(), "B");
      assert.equal(fromA.qos, 1);
      await delay(100);
      assert.deepEqual(pubacks, { a: [], b: [] }, "no PUBACK before ack()");
      fromA.ack();
      await until(() => pubacks.a.length === 1, "PUBACK to broker a");
      assert.deepEqual(pubacks, { a: [fromA.packetId], b: [] });
      fromB.ack();
      await until(() => pubacks.b.length === 1, "PUBACK to broker b");
      assert.deepEqual(pubacks, { a: [fromA.packetId], b: [fromB.packetId] });
      await sub.unsubscribe();
      const it = sub[Symbol.asyncIterator]();
      assert.deepEqual(await within(it.next(), "the end"), { done: true, value: undefined });
    },
  },
  {
    name: "ClientGroup subscribeQueue merges into one queue with its bound and drop policy",
    async fn() {
      await using brokers = await twoBrokers();
      const [a, b] = brokers;
      await using group = new ClientGroup(
        [{ broker: a.url, name: "a" }, { broker: b.url, name: "b" }],
        { shared: QUICK },
      );
      await group.connect();
      const dropped: string[] = [];
      const sub = await group.subscribeQueue([{ topic: "q/#", qos: 1 }], {
        maxQueueSize: 2,
        dropPolicy: "drop-oldest",
        onDrop: (m) => dropped.push(m.text()),
      });
      await using pubA = new Client({ broker: a.url });
      await using pubB = new Client({ broker: b.url });
      await Promise.all([pubA.connect(), pubB.connect()]);
      for (let i = 1; i <= 4; i++) await pubA.publish({ topic: "q/a", payload: `a${i}`, qos: 1 });
      await until(() => dropped.length === 2, "two drops");
      assert.deepEqual(dropped, ["a1", "a2"]);
      assert.equal(sub.queue.length, 2);
      const kept = [sub.queue.tryDequeue()!, sub.queue.tryDequeue()!];
      kept.forEach((m) => m.ack());
      assert.deepEqual(kept.map((m) => m.text()), ["a3", "a4"]);
      await pubB.publish({ topic: "q/b", payload: "b1", qos: 1 });
      const m = await within(sub.queue.dequeue(), "b1 through the queue");
      m!.ack();
      assert.equal(m!.text(), "b1");
      // Dropped messages were acked: broker a keeps delivering (no stuck inflight window).
      await pubA.publish({ topic: "q/a", payload: "a5", qos: 1 });
      const m5 = await within(sub.queue.dequeue(), "a5");
      m5!.ack();
      assert.equal(m5!.text(), "a5");
      await sub.unsubscribe();
      assert.equal(sub.queue.closed, true);
    },
  },
  {
    name:
      "ClientGroup connect rejects with a GroupError naming a down member; the healthy one keeps working",
    async fn() {
      await using broker = await startBroker();
      const downPort = await freePort();
      await using observer = await observe(broker, "part/#");
      await using group = new ClientGroup(
        [{ broker: broker.url, name: "up" }, {
          broker: `mqtt://127.0.0.1:${downPort}`,
          name: "down",
        }],
        { shared: QUICK },
      );
      const err = await group.connect().then(
        () => assert.fail("connect() must reject"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof AggregateError);
      assert.ok(err instanceof GroupError);
      assert.equal(err.operation, "connect");
      assert.deepEqual([...err.failures.keys()], ["down"]);
      assert.equal(err.errors.length, 1);
      assert.ok(err.errors[0] instanceof Error);
      assert.equal(group.member("up")!.connected, true);
      assert.equal(group.member("down")!.connected, false);

      // Publishes go through the healthy member.
      const r = await group.publish({ topic: "part/1", payload: "one", qos: 1 });
      assert.deepEqual([...r.results.keys()], ["up"]);
      assert.ok(r.errors.get("down") instanceof MqttError);
      assert.equal((r.errors.get("down") as MqttError).code, "not-connected");
      // Subscriptions too; the member that could not subscribe is reported.
      const sub = await group.subscribe([{ topic: "part/#", qos: 1 }]);
      assert.deepEqual([...sub.tokens.keys()], ["up"]);
      assert.equal((sub.errors.get("down") as MqttError).code, "not-connected");
      await group.publish({ topic: "part/2", payload: "two", qos: 1 });
      const [m] = await takeAcked(sub, 1, "part/2 via the healthy member");
      assert.equal(m.text(), "two");
      await until(() => observer.got.length === 2, "observer");
      assert.deepEqual(observer.texts(), ["part/1=one", "part/2=two"]);

      // connect() again retries only the member that is down.
      const again = await group.connect().then(() => undefined, (e: GroupError) => e);
      assert.ok(again instanceof GroupError);
      assert.deepEqual([...again.failures.keys()], ["down"]);
      assert.equal(group.member("up")!.connected, true);
    },
  },
  {
    name: "ClientGroup round-robin and hash-by-topic pass over a member that is down",
    async fn() {
      await using broker = await startBroker();
      const downPort = await freePort();
      await using observer = await observe(broker, "skip/#");
      const members = [
        { broker: `mqtt://127.0.0.1:${downPort}`, name: "down" },
        { broker: broker.url, name: "up" },
      ];
      for (const policy of ["round-robin", "hash-by-topic"] as const) {
        await using group = new ClientGroup(members, { publishPolicy: policy, shared: QUICK });
        await assert.rejects(group.connect(), GroupError);
        for (let i = 0; i < 4; i++) {
          const topic = `skip/${policy}/${i}`;
          const r = await group.publish({ topic, payload: `${i}`, qos: 1 });
          assert.deepEqual([...r.results.keys()], ["up"], topic);
          const startsDown = policy === "round-robin" ? i % 2 === 0 : fnv1a32(topic) % 2 === 0;
          assert.deepEqual([...r.errors.keys()], startsDown ? ["down"] : [], topic);
        }
      }
      await until(() => observer.got.length === 8, "eight messages");
      // No member connected at all: a GroupError of every member.
      await using none = new ClientGroup(
        [{ broker: `mqtt://127.0.0.1:${downPort}` }, { broker: `mqtt://127.0.0.1:${downPort}` }],
        { publishPolicy: "round-robin", shared: QUICK },
      );
      await assert.rejects(
        none.publish({ topic: "skip/x", payload: "x", qos: 1 }),
        (err: GroupError) => {
          assert.ok(err instanceof GroupError);
          assert.equal(err.operation, "publish");
          assert.deepEqual([...err.failures.keys()], ["member-1", "member-2"]);
          return true;
        },
      );
      const bc = new ClientGroup([{ broker: `mqtt://127.0.0.1:${downPort}` }]);
      await assert.rejects(bc.publish({ topic: "skip/y", qos: 0 }), GroupError);
    },
  },
  {
    name: "ClientGroup sequentialLifecycle connects members one after the other",
    async fn() {
      await using brokers = await twoBrokers();
      const [a, b] = brokers;
      for (const sequential of [false, true]) {
        const events: string[] = [];
        const member = (broker: Broker, name: string, slowMs: number) => ({
          broker: broker.url,
          name,
          options: {
            connectPacketBuilder: async () => {
              events.push(`build ${name}`);
              await delay(slowMs);
            },
            onConnectionUp: () => void events.push(`up ${name}`),
          },
        });
        await using group = new ClientGroup(
          [member(a, "slow", 300), member(b, "fast", 0)],
          { sequentialLifecycle: sequential, shared: QUICK },
        );
        await group.connect();
        if (sequential) {
          assert.deepEqual(events, ["build slow", "up slow", "build fast", "up fast"]);
        } else {
          // Both attempts run at once: the fast member is up before the slow one.
          assert.ok(events.indexOf("build fast") < events.indexOf("up slow"), events.join());
          assert.ok(events.indexOf("up fast") < events.indexOf("up slow"), events.join());
        }
      }
    },
  },
  {
    name: "ClientGroup unsubscribe() ends one member's part; the stream ends with the last part",
    async fn() {
      await using brokers = await twoBrokers();
      const [a, b] = brokers;
      await using group = new ClientGroup(
        [{ broker: a.url, name: "a" }, { broker: b.url, name: "b" }],
        { shared: QUICK },
      );
      await group.connect();
      const sub = await group.subscribe([{ topic: "u/#", qos: 1 }]);
      await using pubA = new Client({ broker: a.url });
      await using pubB = new Client({ broker: b.url });
      await Promise.all([pubA.connect(), pubB.connect()]);
      await assert.rejects(group.unsubscribe("nope", sub.tokens.get("a")!), RangeError);
      await group.unsubscribe("a", sub.tokens.get("a")!);
      await pubA.publish({ topic: "u/a", payload: "not for us", qos: 1 });
      await pubB.publish({ topic: "u/b", payload: "marker", qos: 1 });
      const [m] = await takeAcked(sub, 1, "the marker from b");
      assert.equal(m.text(), "marker");
      await group.unsubscribeAll(new Map([["b", sub.tokens.get("b")!]]));
      const it = sub[Symbol.asyncIterator]();
      assert.deepEqual(await within(it.next(), "the end"), { done: true, value: undefined });
      await assert.rejects(
        group.unsubscribeAll(new Map([["ghost", sub.tokens.get("b")!]])),
        (err: GroupError) => err instanceof GroupError && err.errors[0] instanceof RangeError,
      );
    },
  },
  {
    name: "ClientGroup disconnect ends merged subscriptions; later calls reject with closed",
    async fn() {
      await using brokers = await twoBrokers();
      const [a, b] = brokers;
      const group = new ClientGroup(
        [{ broker: a.url }, { broker: b.url }],
        { shared: { ...QUICK, stats: true } },
      );
      await group.connect();
      const sub = await group.subscribe([{ topic: "d/#", qos: 1 }]);
      const queued = await group.subscribeQueue(["d/q"]);
      const ended = (async () => {
        for await (const m of sub) m.ack();
        return "ended";
      })();
      await group[Symbol.asyncDispose]();
      assert.equal(await within(ended, "the iteration to end"), "ended");
      assert.equal(queued.queue.closed, true);
      for (const c of group.members()) assert.equal(c.connected, false);
      await assert.rejects(
        group.publish({ topic: "d/1", payload: "x" }),
        (err: MqttError) => err.code === "closed",
      );
      await assert.rejects(group.connect(), (err: MqttError) => err.code === "closed");
      await assert.rejects(group.subscribe(["d/#"]), (err: MqttError) => err.code === "closed");
      await group.disconnect(); // idempotent
    },
  },
  {
    name: "ClientGroup leaving a for-await loop early unsubscribes every member",
    async fn() {
      await using brokers = await twoBrokers();
      const [a, b] = brokers;
      await using group = new ClientGroup(
        [{ broker: a.url }, { broker: b.url }],
        { shared: { ...QUICK, stats: true } },
      );
      await group.connect();
      const sub = await group.subscribe([{ topic: "brk/#", qos: 1 }]);
      for (const c of group.members()) assert.equal(c.stats().subscriptionsActive, 1);
      await group.publish({ topic: "brk/1", payload: "x", qos: 1 });
      let seen = 0;
      for await (const m of sub) {
        m.ack();
        if (++seen === 1) break;
      }
      for (const c of group.members()) assert.equal(c.stats().subscriptionsActive, 0);
      await assert.rejects(
        group.subscribe(["brk/#"], { dropPolicy: "drop-oldest" }),
        (err: MqttError) => err.code === "drop-oldest-unsupported",
      );
      await assert.rejects(group.subscribe(["brk/#"], { buffer: 0 }), RangeError);
    },
  },
];

// ---------------------------------------------------------------------------
// AbortSignal discipline: an already-aborted signal rejects with its reason,
// unchanged, before anything observable; an abort during a call rejects with
// it too and leaves no listener on the signal. Packet types for the fault
// proxy: CONNECT 1, CONNACK 2, PUBLISH 3, PUBACK 4, SUBSCRIBE 8, SUBACK 9,
// UNSUBSCRIBE 10, UNSUBACK 11.

/** A group of two members, each behind its own fault proxy in front of one broker. */
async function proxiedGroup(
  options: { publishPolicy?: "broadcast" | "round-robin" | "hash-by-topic" } = {},
) {
  const broker = await startBroker();
  const pa = await startFaultProxy(broker.url);
  const pb = await startFaultProxy(broker.url);
  const group = new ClientGroup(
    [{ broker: pa.url, name: "a" }, { broker: pb.url, name: "b" }],
    { shared: { ...QUICK, stats: true }, ...options },
  );
  /** The packets of `type` that the members sent, per proxy. */
  const sent = (type: number) => {
    const n = { a: 0, b: 0 };
    pa.onPacket((p) => {
      if (p.from === "client" && p.type === type) n.a++;
    });
    pb.onPacket((p) => {
      if (p.from === "client" && p.type === type) n.b++;
    });
    return n;
  };
  return {
    broker,
    pa,
    pb,
    group,
    sent,
    async [Symbol.asyncDispose]() {
      await group.disconnect();
      await pa[Symbol.asyncDispose]();
      await pb[Symbol.asyncDispose]();
      await broker[Symbol.asyncDispose]();
    },
  };
}

cases.push(
  {
    name:
      "ClientGroup.connect() rejects with signal.reason when the signal is already aborted, and dials no member",
    async fn() {
      await using g = await proxiedGroup();
      const connects = g.sent(1);
      const { signal, reason } = abortedSignal();
      await rejectsWithReason(g.group.connect({ signal }), reason);
      await delay(100);
      assert.deepEqual(connects, { a: 0, b: 0 }, "no CONNECT was sent");
      for (const c of g.group.members()) assert.equal(c.connected, false);
      // Nothing changed: the group connects as if the call had not happened.
      const acks = await g.group.connect();
      assert.deepEqual([...acks.keys()], ["a", "b"]);
    },
  },
  {
    name:
      "ClientGroup.connect() rejects with signal.reason when the signal aborts during the call, and leaves no listener",
    async fn() {
      await using g = await proxiedGroup();
      const connects = g.sent(1);
      g.pb.dropBrokerPackets(2); // member b never gets its CONNACK
      const { controller, listeners } = trackedAbort();
      const reason = new Error("stop connecting");
      const p = g.group.connect({ signal: controller.signal });
      await until(() => connects.a === 1 && connects.b === 1, "both CONNECTs");
      controller.abort(reason);
      await rejectsWithReason(within(p, "connect() to settle"), reason);
      assert.equal(listeners(), 0, "no abort listener left behind");
      assert.equal(g.group.member("b")!.connected, false);
    },
  },
  {
    name:
      "ClientGroup.disconnect() with an already-aborted signal disconnects every member, then rejects with signal.reason",
    async fn() {
      await using brokers = await twoBrokers();
      const [a, b] = brokers;
      const group = new ClientGroup([{ broker: a.url }, { broker: b.url }], { shared: QUICK });
      await group.connect();
      const sub = await group.subscribe([{ topic: "dis/#", qos: 1 }]);
      const ended = (async () => {
        for await (const m of sub) m.ack();
        return "ended";
      })();
      const { signal, reason } = abortedSignal();
      await rejectsWithReason(group.disconnect({ signal }), reason);
      for (const c of group.members()) assert.equal(c.connected, false);
      assert.equal(await within(ended, "the merged stream to end"), "ended");
      await assert.rejects(
        group.publish({ topic: "dis/1", payload: "x", qos: 1 }),
        (err: MqttError) => err.code === "closed",
      );
      // Still released when asked again: idempotent, and the reason again.
      await rejectsWithReason(group.disconnect({ signal }), reason);
      await group.disconnect();
    },
  },
  {
    name:
      "ClientGroup.disconnect() rejects with signal.reason when the signal aborts during the call, and still disconnects every member",
    async fn() {
      await using brokers = await twoBrokers();
      const [a, b] = brokers;
      const group = new ClientGroup([{ broker: a.url }, { broker: b.url }], { shared: QUICK });
      await group.connect();
      const { controller, listeners } = trackedAbort();
      const reason = new Error("stop disconnecting");
      const p = group.disconnect({ signal: controller.signal });
      controller.abort(reason);
      await rejectsWithReason(within(p, "disconnect() to settle"), reason);
      for (const c of group.members()) assert.equal(c.connected, false);
      assert.equal(listeners(), 0, "no abort listener left behind");
    },
  },
  {
    name:
      "ClientGroup.publish() rejects with signal.reason when the signal is already aborted, and publishes nothing",
    async fn() {
      await using brokers = await twoBrokers();
      const [a, b] = brokers;
      await using oa = await observe(a, "ab/#");
      await using ob = await observe(b, "ab/#");
      for (const publishPolicy of ["broadcast", "round-robin", "hash-by-topic"] as const) {
        await using group = new ClientGroup(
          [{ broker: a.url, name: "a" }, { broker: b.url, name: "b" }],
          { shared: QUICK, publishPolicy },
        );
        await group.connect();
        for (const qos of [0, 1, 2] as const) {
          const { signal, reason } = abortedSignal();
          await rejectsWithReason(
            group.publish({ topic: `ab/${publishPolicy}/${qos}`, payload: "x", qos }, { signal }),
            reason,
          );
        }
        if (publishPolicy === "round-robin") {
          // The cursor did not move: the next publish goes through the first member.
          const r = await group.publish({ topic: "ab/rr", payload: "first", qos: 1 });
          assert.deepEqual([...r.results.keys()], ["a"]);
        }
      }
      // A sentinel on each broker: once it is in, anything published before it is too.
      await using direct = new Client({ broker: a.url });
      await using directB = new Client({ broker: b.url });
      await Promise.all([direct.connect(), directB.connect()]);
      await direct.publish({ topic: "ab/sentinel", payload: "s", qos: 1 });
      await directB.publish({ topic: "ab/sentinel", payload: "s", qos: 1 });
      await until(() => oa.texts().includes("ab/sentinel=s"), "the sentinel on a");
      await until(() => ob.texts().includes("ab/sentinel=s"), "the sentinel on b");
      await delay(100);
      assert.deepEqual(oa.texts(), ["ab/rr=first", "ab/sentinel=s"]);
      assert.deepEqual(ob.texts(), ["ab/sentinel=s"]);
    },
  },
  {
    name:
      "ClientGroup.publish() rejects with signal.reason when the signal aborts while a member waits for its PUBACK",
    async fn() {
      await using g = await proxiedGroup();
      await g.group.connect();
      const publishes = g.sent(3);
      g.pb.dropBrokerPackets(4); // member b never gets its PUBACK
      const { controller, listeners } = trackedAbort();
      const reason = new Error("stop waiting");
      const p = g.group.publish({ topic: "held/1", payload: "x", qos: 1 }, {
        signal: controller.signal,
      });
      await until(() => publishes.a === 1 && publishes.b === 1, "both PUBLISHes");
      await delay(50); // member a has its PUBACK by now
      controller.abort(reason);
      await rejectsWithReason(within(p, "publish() to settle"), reason);
      assert.equal(listeners(), 0, "no abort listener left behind");
    },
  },
  {
    name:
      "ClientGroup.subscribe() and subscribeQueue() reject with signal.reason when the signal is already aborted, and subscribe nothing",
    async fn() {
      await using g = await proxiedGroup();
      await g.group.connect();
      const subscribes = g.sent(8);
      const { signal, reason } = abortedSignal();
      await rejectsWithReason(g.group.subscribe(["s/#"], { signal }), reason);
      await rejectsWithReason(g.group.subscribeQueue(["s/#"], { signal }), reason);
      // Checked before the arguments, too.
      await rejectsWithReason(g.group.subscribe(["s/#"], { signal, buffer: 0 }), reason);
      await rejectsWithReason(
        g.group.subscribe(["s/#"], { signal, dropPolicy: "drop-oldest" }),
        reason,
      );
      await rejectsWithReason(
        g.group.subscribeQueue(["s/#"], { signal, maxQueueSize: -1 }),
        reason,
      );
      await delay(50);
      assert.deepEqual(subscribes, { a: 0, b: 0 }, "no SUBSCRIBE was sent");
      for (const c of g.group.members()) assert.equal(c.stats().subscriptionsActive, 0);
    },
  },
  {
    name:
      "ClientGroup.subscribe() rejects with signal.reason when the signal aborts while a member waits for its SUBACK, and unsubscribes the others",
    async fn() {
      await using g = await proxiedGroup();
      await g.group.connect();
      const subscribes = g.sent(8);
      g.pb.dropBrokerPackets(9); // member b never gets its SUBACK
      const { controller, listeners } = trackedAbort();
      const reason = new Error("stop subscribing");
      const p = g.group.subscribe([{ topic: "sa/#", qos: 1 }], { signal: controller.signal });
      await until(() => subscribes.a === 1 && subscribes.b === 1, "both SUBSCRIBEs");
      await delay(50); // member a has its SUBACK by now
      controller.abort(reason);
      await rejectsWithReason(within(p, "subscribe() to settle"), reason);
      assert.equal(g.group.member("a")!.stats().subscriptionsActive, 0, "a was unsubscribed");
      assert.equal(listeners(), 0, "no abort listener left behind");
    },
  },
  {
    name:
      "ClientGroup.unsubscribe() and unsubscribeAll() reject with signal.reason when the signal is already aborted, and every part goes on",
    async fn() {
      await using g = await proxiedGroup();
      await g.group.connect();
      const sub = await g.group.subscribe([{ topic: "ua/#", qos: 1 }]);
      const unsubscribes = g.sent(10);
      const { signal, reason } = abortedSignal();
      await rejectsWithReason(g.group.unsubscribe("a", sub.tokens.get("a")!, { signal }), reason);
      await rejectsWithReason(
        g.group.unsubscribe("ghost", sub.tokens.get("a")!, { signal }),
        reason,
      );
      await rejectsWithReason(g.group.unsubscribeAll(sub.tokens, { signal }), reason);
      await delay(50);
      assert.deepEqual(unsubscribes, { a: 0, b: 0 }, "no UNSUBSCRIBE was sent");
      for (const c of g.group.members()) assert.equal(c.stats().subscriptionsActive, 1);
      // Both parts still deliver.
      await using pub = new Client({ broker: g.broker.url });
      await pub.connect();
      await pub.publish({ topic: "ua/1", payload: "still", qos: 1 });
      const got = await takeAcked(sub, 2, "one message per member");
      assert.deepEqual(got.map((m) => m.text()), ["still", "still"]);
      await sub.unsubscribe();
    },
  },
  {
    name:
      "ClientGroup.unsubscribe() and unsubscribeAll() reject with signal.reason when the signal aborts while waiting for UNSUBACK",
    async fn() {
      await using g = await proxiedGroup();
      await g.group.connect();
      const one = await g.group.subscribe([{ topic: "ub/1", qos: 1 }]);
      const all = await g.group.subscribe([{ topic: "ub/2", qos: 1 }]);
      const unsubscribes = g.sent(10);
      g.pb.dropBrokerPackets(11); // member b never gets an UNSUBACK
      {
        const { controller, listeners } = trackedAbort();
        const reason = new Error("stop unsubscribing one");
        const p = g.group.unsubscribe("b", one.tokens.get("b")!, { signal: controller.signal });
        await until(() => unsubscribes.b === 1, "b's UNSUBSCRIBE");
        controller.abort(reason);
        await rejectsWithReason(within(p, "unsubscribe() to settle"), reason);
        assert.equal(listeners(), 0, "no abort listener left behind (unsubscribe)");
      }
      {
        const { controller, listeners } = trackedAbort();
        const reason = new Error("stop unsubscribing all");
        const p = g.group.unsubscribeAll(all.tokens, { signal: controller.signal });
        await until(() => unsubscribes.a === 1 && unsubscribes.b === 2, "both UNSUBSCRIBEs");
        await delay(50); // member a has its UNSUBACK by now
        controller.abort(reason);
        await rejectsWithReason(within(p, "unsubscribeAll() to settle"), reason);
        assert.equal(listeners(), 0, "no abort listener left behind (unsubscribeAll)");
      }
    },
  },
  {
    name:
      "GroupSubscription.unsubscribe() rejects with signal.reason when the signal is already aborted, and the stream goes on",
    async fn() {
      await using g = await proxiedGroup();
      await g.group.connect();
      const sub = await g.group.subscribe([{ topic: "gs/#", qos: 1 }]);
      const unsubscribes = g.sent(10);
      const { signal, reason } = abortedSignal();
      await rejectsWithReason(sub.unsubscribe({ signal }), reason);
      await delay(50);
      assert.deepEqual(unsubscribes, { a: 0, b: 0 }, "no UNSUBSCRIBE was sent");
      for (const c of g.group.members()) assert.equal(c.stats().subscriptionsActive, 1);
      await using pub = new Client({ broker: g.broker.url });
      await pub.connect();
      await pub.publish({ topic: "gs/1", payload: "still", qos: 1 });
      const got = await takeAcked(sub, 2, "one message per member");
      assert.deepEqual(got.map((m) => m.text()), ["still", "still"]);
      await sub.unsubscribe();
    },
  },
  {
    name:
      "GroupSubscription.unsubscribe() rejects with signal.reason when the signal aborts while waiting for UNSUBACK, and the stream ends",
    async fn() {
      for (const sequentialLifecycle of [false, true]) {
        await using broker = await startBroker();
        await using pa = await startFaultProxy(broker.url);
        await using pb = await startFaultProxy(broker.url);
        await using group = new ClientGroup(
          [{ broker: pa.url, name: "a" }, { broker: pb.url, name: "b" }],
          { shared: { ...QUICK, stats: true }, sequentialLifecycle },
        );
        await group.connect();
        const sub = await group.subscribe([{ topic: "ge/#", qos: 1 }]);
        pa.dropBrokerPackets(11); // member a never gets its UNSUBACK
        let unsubscribes = 0;
        pa.onPacket((p) => {
          if (p.from === "client" && p.type === 10) unsubscribes++;
        });
        const { controller, listeners } = trackedAbort();
        const reason = new Error("stop unsubscribing");
        const p = sub.unsubscribe({ signal: controller.signal });
        await until(() => unsubscribes === 1, "a's UNSUBSCRIBE");
        controller.abort(reason);
        await rejectsWithReason(within(p, "unsubscribe() to settle"), reason);
        assert.equal(listeners(), 0, "no abort listener left behind");
        const it = sub[Symbol.asyncIterator]();
        assert.deepEqual(await within(it.next(), "the end"), { done: true, value: undefined });
        // Every part has ended, the ones the abort came before included.
        for (const c of group.members()) {
          await until(() => c.stats().subscriptionsActive === 0, "every part to end");
        }
      }
    },
  },
);
