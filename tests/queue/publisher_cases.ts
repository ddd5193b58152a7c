// QueuePublisher cases: against a real mosquitto (order, the in-flight
// window, TTL, drop policies, offline enqueue then drain) and against the
// scripted FakeBroker for what mosquitto will not do (refusals, withheld
// acks, a session resumed by a second process). Shared by
// tests/queue/publisher_test.ts (Deno.test) and bun-tests/queue_publisher.test.ts.
//
// Runtime-neutral. Every client, broker, proxy and publisher is closed in a
// `finally` or by `await using`, so Deno's sanitizers stay on.

import assert from "node:assert/strict";
import { join } from "node:path";
import { Client } from "../../mod.ts";
import type { ClientOptions } from "../../src/client/options.ts";
import { constantBackoff } from "../../src/client/backoff.ts";
import type { Message } from "../../src/client/message.ts";
import { MqttError } from "../../src/errors.ts";
import { FilePublisherQueue } from "../../src/queue/file.ts";
import { LinkedSessionStore } from "../../src/queue/linked_store.ts";
import { MemoryPublisherQueue } from "../../src/queue/memory.ts";
import {
  type PublisherQueue,
  type QueueClient,
  type QueueEntry,
  QueuePublisher,
  type QueuePublisherOptions,
} from "../../src/queue/publisher.ts";
import { MemorySessionStore } from "../../src/session/store.ts";
import { FileSessionStore } from "../../src/store/file.ts";
import { PacketType, type PublishPacket, type PubrelPacket } from "../../src/wire/mod.ts";
import { type Broker, startBroker } from "../_helpers/broker.ts";
import { connected as connectedTo } from "../_helpers/clients.ts";
import { FakeBroker, type ScriptConn } from "../_helpers/fake_broker.ts";
import { startFaultProxy } from "../_helpers/fault_proxy.ts";
import { type Case, delay, rejectsWith, until, withDir, within } from "./_util.ts";
import { abortedSignal, rejectsWithReason, trackedAbort } from "../group/_wait.ts";

export const publisherCases: Case[] = [];
function add(name: string, fn: () => Promise<void>): void {
  publisherCases.push({ name, fn });
}

let clientSeq = 0;
function clientId(what: string): string {
  return `qp-${what}-${Date.now().toString(36)}-${clientSeq++}`;
}

const connected = (url: string, options: Partial<ClientOptions> = {}) =>
  connectedTo(url, { reconnectBackoff: constantBackoff(50), ...options });

/** A subscriber that records every message (text payload) on `filter`. */
async function subscriber(
  broker: Broker,
  filter: string,
): Promise<{ client: Client; got: Message[]; texts: () => string[] }> {
  const client = await connected(broker.url, { clientId: clientId("sub") });
  const got: Message[] = [];
  await client.subscribeCallback([{ topic: filter, qos: 2 }], (m) => {
    m.clonePayload();
    got.push(m);
  });
  return { client, got, texts: () => got.map((m) => m.text()) };
}

function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => i + from);
}

// ---------------------------------------------------------------------------
// Against mosquitto

add("QueuePublisher delivers every entry in order and empties the queue", async () => {
  await using broker = await startBroker();
  const sub = await subscriber(broker, "order/#");
  const client = await connected(broker.url, { clientId: clientId("pub") });
  const queue = new MemoryPublisherQueue();
  const pub = new QueuePublisher(client, queue, { batchSize: 8 });
  try {
    // MQTT orders messages within one QoS level [MQTT-4.6.0-6]: check each level.
    for (const i of range(300)) {
      await pub.publish({ topic: `order/${i % 3}`, payload: `m${i}`, qos: i % 5 === 0 ? 2 : 1 });
    }
    await until(() => sub.got.length >= 300, "300 messages", 10_000);
    for (const qos of [1, 2]) {
      assert.deepEqual(
        sub.got.filter((m) => m.qos === qos).map((m) => m.text()),
        range(300).filter((i) => (i % 5 === 0) === (qos === 2)).map((i) => `m${i}`),
        `QoS ${qos} order`,
      );
    }
    await until(async () => (await queue.len()) === 0, "an empty queue");
    const s = pub.stats();
    assert.equal(s.acked, 300);
    assert.equal(s.sent, 300);
    assert.equal(s.deadLettered, 0);
  } finally {
    await pub.close();
    await client.disconnect();
    await sub.client.disconnect();
  }
});

add("QueuePublisher keeps at most batchSize publishes in flight", async () => {
  await using broker = await startBroker();
  await using proxy = await startFaultProxy(broker.url);
  const sub = await subscriber(broker, "window/#");
  const outstanding = new Set<number>();
  let max = 0;
  proxy.onPacket((p) => {
    if (p.from === "client" && p.type === PacketType.Publish && p.packetId !== undefined) {
      outstanding.add(p.packetId);
      max = Math.max(max, outstanding.size);
    } else if (p.from === "broker" && p.type === PacketType.Puback && p.packetId !== undefined) {
      outstanding.delete(p.packetId);
    }
  });
  const client = await connected(proxy.url, { clientId: clientId("pub") });
  const pub = new QueuePublisher(client, new MemoryPublisherQueue(), { batchSize: 5 });
  try {
    await Promise.all(
      range(400).map((i) => pub.publish({ topic: "window/a", payload: `${i}`, qos: 1 })),
    );
    await until(() => sub.got.length >= 400, "400 messages", 10_000);
    assert.ok(max <= 5, `${max} publishes were in flight at once`);
    assert.ok(max >= 2, `the window was never used (max ${max})`);
    assert.deepEqual(sub.texts(), range(400).map(String));
  } finally {
    await pub.close();
    await client.disconnect();
    await sub.client.disconnect();
  }
});

add("QueuePublisher drains what was published offline once the client connects", async () => {
  await using broker = await startBroker();
  const sub = await subscriber(broker, "offline/#");
  await withDir(async (dir) => {
    const queue = await FilePublisherQueue.open(join(dir, "q"));
    const client = new Client({
      broker: broker.url,
      clientId: clientId("pub"),
      reconnectBackoff: constantBackoff(50),
    });
    const pub = new QueuePublisher(client, queue, { idleIntervalMs: 50 });
    try {
      for (const i of range(50)) {
        await pub.publish({ topic: "offline/t", payload: `o${i}`, qos: 1 });
      }
      assert.equal(await queue.len(), 50);
      await delay(100);
      assert.equal(sub.got.length, 0);
      await client.connect();
      await until(() => sub.got.length >= 50, "50 messages");
      assert.deepEqual(sub.texts(), range(50).map((i) => `o${i}`));
      await until(async () => (await queue.len()) === 0, "an empty queue");
    } finally {
      await pub.close();
      await client.disconnect();
    }
  });
  await sub.client.disconnect();
});

add("QueuePublisher resumes the drain after the connection comes back", async () => {
  await using broker = await startBroker();
  await using proxy = await startFaultProxy(broker.url);
  const sub = await subscriber(broker, "resume/#");
  const client = await connected(proxy.url, { clientId: clientId("pub"), cleanStart: false });
  const queue = new MemoryPublisherQueue();
  const pub = new QueuePublisher(client, queue, { idleIntervalMs: 5000 });
  try {
    await pub.publish({ topic: "resume/t", payload: "before", qos: 1 });
    await until(() => sub.got.length === 1, "the first message");
    proxy.refuseUntilResumed();
    proxy.cutAll();
    await until(() => !client.connected, "the client to notice");
    for (const i of range(20)) await pub.publish({ topic: "resume/t", payload: `r${i}`, qos: 1 });
    await delay(100);
    assert.equal(sub.got.length, 1);
    proxy.resume();
    // The idle interval is 5 s: the reconnect itself must wake the drain.
    await until(() => sub.got.length >= 21, "the queued messages", 4000);
    assert.deepEqual(sub.texts(), ["before", ...range(20).map((i) => `r${i}`)]);
  } finally {
    await pub.close();
    await client.disconnect();
    await sub.client.disconnect();
  }
});

add(
  "QueuePublisher dead-letters expired entries and sends the rest with the lifetime left",
  async () => {
    await using broker = await startBroker();
    const sub = await subscriber(broker, "ttl/#");
    const client = await connected(broker.url, { clientId: clientId("pub") });
    const queue = new MemoryPublisherQueue();
    const dead: [QueueEntry, Error][] = [];
    // Entries that have waited too long already (another process queued them).
    const old = Date.now() - 120_000;
    await queue.enqueue({
      publish: { topic: "ttl/old", payload: "old1", qos: 1 },
      enqueuedAt: old,
    });
    await queue.enqueue({
      publish: {
        topic: "ttl/own",
        payload: "own",
        qos: 1,
        properties: { messageExpiryInterval: 5 },
      },
      enqueuedAt: Date.now() - 10_000,
    });
    const pub = new QueuePublisher(client, queue, {
      ttlMs: 60_000,
      onDeadLetter: (e, err) => dead.push([e, err]),
    });
    try {
      await pub.publish({ topic: "ttl/new", payload: "fresh", qos: 1 });
      await until(
        () => sub.got.length === 1 && dead.length === 2,
        "one delivery, two dead letters",
      );
      assert.deepEqual(dead.map(([e]) => e.publish.topic), ["ttl/old", "ttl/own"]);
      for (const [, err] of dead) assert.equal((err as MqttError).code, "timeout");
      const m = sub.got[0];
      assert.equal(m.text(), "fresh");
      const mei = m.properties.messageExpiryInterval;
      assert.ok(mei !== undefined && mei >= 58 && mei <= 60, `message expiry interval ${mei}`);
      assert.equal(await queue.len(), 0);
    } finally {
      await pub.close();
      await client.disconnect();
      await sub.client.disconnect();
    }
  },
);

add("QueuePublisher drop-oldest dead-letters the evicted head and drains the rest", async () => {
  await using broker = await startBroker();
  const sub = await subscriber(broker, "drop/#");
  const client = new Client({ broker: broker.url, clientId: clientId("pub") });
  const dead: string[] = [];
  const pub = new QueuePublisher(client, new MemoryPublisherQueue(), {
    maxSize: 3,
    dropPolicy: "drop-oldest",
    onDeadLetter: (e) => dead.push(String(e.publish.topic)),
  });
  try {
    for (const i of range(5)) await pub.publish({ topic: `drop/${i}`, qos: 1 });
    assert.deepEqual(dead, ["drop/0", "drop/1"]);
    await client.connect();
    await until(() => sub.got.length === 3, "three messages");
    assert.deepEqual(sub.got.map((m) => m.topic), ["drop/2", "drop/3", "drop/4"]);
    assert.equal(pub.stats().deadLettered, 2);
  } finally {
    await pub.close();
    await client.disconnect();
    await sub.client.disconnect();
  }
});

add("QueuePublisher drop-newest rejects with queue-full once maxSize is reached", async () => {
  const client = new Client({ broker: "mqtt://127.0.0.1:1", clientId: clientId("pub") });
  const pub = new QueuePublisher(client, new MemoryPublisherQueue(), { maxSize: 2 });
  try {
    await pub.publish({ topic: "a", qos: 1 });
    await pub.publish({ topic: "a", qos: 2 });
    await rejectsWith(pub.publish({ topic: "a", qos: 1 }), "queue-full");
  } finally {
    await pub.close();
  }
});

add("QueuePublisher refuses bad input and a queue that cannot evict", async () => {
  const client = new Client({ broker: "mqtt://127.0.0.1:1" });
  const queue = new MemoryPublisherQueue();
  const noEvict: PublisherQueue = {
    canEvict: false,
    enqueue: (e, o) => queue.enqueue(e, o),
    peekBatch: (n, o) => queue.peekBatch(n, o),
    ack: (t, o) => queue.ack(t, o),
    evictHead: () => Promise.reject(new MqttError("eviction-not-supported", "no")),
    len: (o) => queue.len(o),
    close: () => queue.close(),
  };
  assert.throws(
    () => new QueuePublisher(client, noEvict, { maxSize: 5, dropPolicy: "drop-oldest" }),
    (e) => e instanceof MqttError && e.code === "eviction-not-supported",
  );
  assert.throws(() => new QueuePublisher(client, queue, { batchSize: 0 }), RangeError);
  assert.throws(() => new QueuePublisher(client, queue, { publishTimeoutMs: -1 }), RangeError);
  // One rule for bad arguments: an unknown value is a RangeError, a wrong type a TypeError.
  assert.throws(
    () => new QueuePublisher(client, queue, { dropPolicy: "drop-all" as "drop-oldest" }),
    RangeError,
  );
  assert.throws(
    () => new QueuePublisher(client, queue, { dropPolicy: 3 as unknown as "drop-oldest" }),
    TypeError,
  );
  assert.throws(
    () => new QueuePublisher(client, queue, { batchSize: "8" as unknown as number }),
    TypeError,
  );
  assert.throws(
    () => new QueuePublisher(client, queue, { publishTimeoutMs: "1" as unknown as number }),
    TypeError,
  );
  const pub = new QueuePublisher(client, noEvict, { maxSize: 5 }); // drop-newest is fine
  try {
    await rejectsWith(pub.publish({ topic: "a" }), "qos0-not-queueable");
    await rejectsWith(pub.publish({ topic: "a", qos: 0 }), "qos0-not-queueable");
    await assert.rejects(pub.publish({ topic: "a/+", qos: 1 }), TypeError);
    await assert.rejects(pub.publish({ topic: "", qos: 1 }), TypeError);
    await assert.rejects(
      pub.publish({ topic: "a", qos: 1, properties: { subscriptionIdentifiers: [1] } }),
      TypeError,
    );
    await assert.rejects(pub.publish({ topic: "a", qos: 3 as 1 }), RangeError);
    const ac = new AbortController();
    ac.abort(new Error("nope"));
    await assert.rejects(pub.publish({ topic: "a", qos: 1 }, { signal: ac.signal }), /nope/);
    assert.equal(await queue.len(), 0);
    await pub.publish({ topic: "a", qos: 1, properties: { topicAlias: 3, contentType: "x" } });
    const [e] = (await queue.peekBatch(1)).entries;
    assert.deepEqual(e.publish.properties, { contentType: "x" }, "the alias is dropped");
  } finally {
    await pub.close();
  }
  await rejectsWith(pub.publish({ topic: "a", qos: 1 }), "queue-closed");
});

// ---------------------------------------------------------------------------
// Against the scripted broker

/** A client on a FakeBroker, connected, and the broker's side of its connection. */
async function scripted(
  broker: FakeBroker,
  options: Partial<ClientOptions> = {},
): Promise<{ client: Client; conn: ScriptConn }> {
  const client = new Client({
    broker: "mqtt://fake:1883",
    dial: broker.dial,
    clientId: "scripted",
    keepAliveSeconds: 0,
    reconnectBackoff: constantBackoff(20),
    ...options,
  });
  const connecting = client.connect();
  const conn = await broker.nextConnection();
  await connecting;
  return { client, conn };
}

function publishes(conn: ScriptConn, from = 0): PublishPacket[] {
  return conn.received.slice(from).filter((p): p is PublishPacket => p.type === PacketType.Publish);
}

add(
  "QueuePublisher dead-letters permanent refusals and retries transient ones without blocking",
  async () => {
    const quotaSeen = new Set<string>();
    await using broker = new FakeBroker({
      // 0x95 Packet too large comes from the CONNACK's Maximum Packet Size, checked by the client.
      connack: { properties: { maximumPacketSize: 512 } },
      autoAckPublish: (p) => {
        const t = p.topic;
        if (t.startsWith("deny/")) return Number(t.slice(5));
        if (t === "quota" && !quotaSeen.has(t)) {
          quotaSeen.add(t);
          return 0x97; // Quota exceeded: try again later
        }
        return 0;
      },
    });
    const { client } = await scripted(broker);
    const queue = new MemoryPublisherQueue();
    const dead: [string, string, number | undefined][] = [];
    const pub = new QueuePublisher(client, queue, {
      batchSize: 2,
      retryBackoff: () => 150,
      onDeadLetter: (e, err) =>
        dead.push([e.publish.topic, (err as MqttError).code, (err as MqttError).reasonCode]),
    });
    try {
      await pub.publish({ topic: "quota", payload: "q", qos: 1 });
      for (const rc of [0x80, 0x83, 0x87, 0x90, 0x99]) {
        await pub.publish({ topic: `deny/${rc}`, qos: 1 });
      }
      await pub.publish({ topic: "big", payload: new Uint8Array(1000), qos: 1 });
      for (const i of range(5)) await pub.publish({ topic: `ok/${i}`, qos: 2 });
      await until(
        () => dead.length === 6 && pub.stats().acked === 5,
        "the refusals and the ok ones",
      );
      // The quota entry waits out its backoff while the entries behind it go through.
      assert.deepEqual((await queue.peekBatch(5)).entries.map((e) => e.publish.topic), ["quota"]);
      await until(async () => (await queue.len()) === 0, "the retried entry");
      // Two entries are in flight at once, so a refusal decided by the client ("big")
      // may be reported before the broker's answer to the entry ahead of it: compare sets.
      const byTopic = (a: [string, string, number | undefined], b: typeof a) =>
        a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
      const expected: [string, string, number | undefined][] = [
        ["deny/128", "publish-refused", 0x80],
        ["deny/131", "publish-refused", 0x83],
        ["deny/135", "publish-refused", 0x87],
        ["deny/144", "publish-refused", 0x90],
        ["deny/153", "publish-refused", 0x99],
        ["big", "packet-too-large", 0x95],
      ];
      assert.deepEqual([...dead].sort(byTopic), expected.sort(byTopic));
      const s = pub.stats();
      assert.equal(s.retries, 1);
      assert.equal(s.acked, 6);
    } finally {
      await pub.close();
      await client.disconnect();
    }
  },
);

add(
  "QueuePublisher close() waits for in-flight acks, and leaves unacked entries in the queue",
  async () => {
    await using broker = new FakeBroker();
    const { client, conn } = await scripted(broker);
    await withDir(async (dir) => {
      const queue = await FilePublisherQueue.open(join(dir, "q"));
      const pub = new QueuePublisher(client, queue, { batchSize: 2 });
      await pub.publish({ topic: "c/1", qos: 1 });
      await pub.publish({ topic: "c/2", qos: 1 });
      await pub.publish({ topic: "c/3", qos: 1 });
      const p1 = await conn.expect(PacketType.Publish);
      await conn.expect(PacketType.Publish);
      await delay(30);
      assert.equal(publishes(conn).length, 2, "batchSize 2: the third waits");
      // close() waits: ack the first while it does, never the second.
      setTimeout(
        () => conn.send({ type: PacketType.Puback, packetId: p1.packetId!, reasonCode: 0 }),
        50,
      );
      const t0 = Date.now();
      await assert.rejects(
        pub.close({ signal: AbortSignal.timeout(300) }),
        (e) => (e as Error).name === "TimeoutError",
      );
      assert.ok(Date.now() - t0 >= 250, "close() gave up before its signal");
      assert.equal(publishes(conn).length, 2, "nothing new is sent once close() began");
      await rejectsWith(pub.publish({ topic: "c/4", qos: 1 }), "queue-closed");
      const again = await FilePublisherQueue.open(join(dir, "q"));
      try {
        assert.deepEqual(
          (await again.peekBatch(9)).entries.map((e) => e.publish.topic),
          ["c/2", "c/3"],
        );
      } finally {
        await again.close();
      }
    });
    await client.disconnect();
  },
);

add(
  "QueuePublisher close() without a signal resolves once in-flight entries are acked",
  async () => {
    await using broker = new FakeBroker();
    const { client, conn } = await scripted(broker);
    const queue = new MemoryPublisherQueue();
    const pub = new QueuePublisher(client, queue);
    await pub.publish({ topic: "w/1", qos: 2 });
    const p = await conn.expect(PacketType.Publish);
    let closed = false;
    const closing = pub.close().then(() => closed = true);
    await delay(50);
    assert.equal(closed, false);
    conn.send({ type: PacketType.Pubrec, packetId: p.packetId!, reasonCode: 0 });
    await conn.expect(PacketType.Pubrel);
    conn.send({ type: PacketType.Pubcomp, packetId: p.packetId!, reasonCode: 0 });
    await within(closing, "close()");
    assert.equal(pub.stats().acked, 1);
    await client.disconnect();
  },
);

add(
  "QueuePublisher retries a timed-out publish, or with a LinkedSessionStore waits for the session",
  async () => {
    for (const linked of [false, true]) {
      await using broker = new FakeBroker();
      const store = new LinkedSessionStore(new MemorySessionStore());
      const { client, conn } = await scripted(broker, linked ? { store } : {});
      const queue = new MemoryPublisherQueue();
      const options: QueuePublisherOptions = { publishTimeoutMs: 100, retryBackoff: () => 10 };
      if (linked) options.sessionStore = store;
      const pub = new QueuePublisher(client, queue, options);
      try {
        await pub.publish({ topic: "slow", payload: "x", qos: 1 });
        const first = await conn.expect(PacketType.Publish);
        await delay(300); // three timeouts' worth
        const all = publishes(conn);
        if (linked) {
          assert.equal(all.length, 1, "linked: the session owns the exchange, no second publish");
          assert.equal(store.linkedFlows, 1);
          conn.send({ type: PacketType.Puback, packetId: first.packetId!, reasonCode: 0 });
          await until(async () => (await queue.len()) === 0, "the entry to be acked");
          assert.equal(pub.stats().acked, 1);
          assert.equal(store.linkedFlows, 0);
        } else {
          assert.ok(all.length >= 2, "unlinked: the entry is published again as a new message");
          assert.ok(all.slice(1).every((p) => !p.dup && p.packetId !== first.packetId));
          for (const p of all) {
            conn.send({ type: PacketType.Puback, packetId: p.packetId!, reasonCode: 0 });
          }
          await until(async () => (await queue.len()) === 0, "the entry to be acked");
        }
      } finally {
        await pub.close();
        await client.disconnect();
      }
    }
  },
);

add(
  "QueuePublisher with a LinkedSessionStore lets a restarted session finish in-flight entries",
  async () => {
    for (const linked of [true, false]) {
      await withDir(async (dir) => {
        await using broker = new FakeBroker();
        // Process 1: three entries go out, the broker never acks them, the process stops.
        {
          const session = new LinkedSessionStore(await FileSessionStore.open(join(dir, "s")));
          const queue = await FilePublisherQueue.open(join(dir, "q"));
          const { client, conn } = await scripted(broker, { store: session, cleanStart: false });
          const pub = new QueuePublisher(client, queue, linked ? { sessionStore: session } : {});
          for (const i of range(3)) {
            await pub.publish({ topic: `r/${i}`, payload: `p${i}`, qos: i === 2 ? 2 : 1 });
          }
          for (const _ of range(3)) {
            await conn.expect(PacketType.Publish);
          }
          await pub.close({ signal: AbortSignal.timeout(20) }).catch(() => {});
          await client.disconnect();
          await session.close();
        }
        // Process 2: the same directories.
        const session = new LinkedSessionStore(await FileSessionStore.open(join(dir, "s")));
        const queue = await FilePublisherQueue.open(join(dir, "q"));
        assert.equal(await queue.len(), 3);
        const { client, conn } = await scripted(broker, {
          store: session,
          cleanStart: false,
        });
        const pub = new QueuePublisher(client, queue, linked ? { sessionStore: session } : {});
        try {
          // The session replays its three flows with DUP set, without the link marker.
          const replays: PublishPacket[] = [];
          for (const _ of range(3)) replays.push(await conn.expect(PacketType.Publish));
          assert.ok(replays.every((p) => p.dup));
          assert.deepEqual(replays.map((p) => p.topic), ["r/0", "r/1", "r/2"]);
          for (const p of replays) {
            assert.equal(
              p.properties?.userProperties,
              undefined,
              "the marker leaked onto the wire",
            );
          }
          await delay(100);
          const fresh = publishes(conn).filter((p) => !p.dup);
          if (linked) {
            assert.equal(fresh.length, 0, "linked: no entry is published again as new");
            assert.equal(pub.stats().inSession, 3);
          } else {
            assert.equal(fresh.length, 3, "unlinked: every entry is published again as new");
          }
          // Complete the session's exchanges (and the new ones, unlinked).
          for (const p of publishes(conn)) {
            if (p.qos === 1) {
              conn.send({ type: PacketType.Puback, packetId: p.packetId!, reasonCode: 0 });
            } else conn.send({ type: PacketType.Pubrec, packetId: p.packetId!, reasonCode: 0 });
          }
          const rels = linked ? 1 : 2;
          const released = new Set<number>();
          for (const _ of range(rels)) {
            const rel = await conn.waitFor<PubrelPacket>((p) =>
              p.type === PacketType.Pubrel && !released.has(p.packetId)
            );
            released.add(rel.packetId);
            conn.send({ type: PacketType.Pubcomp, packetId: rel.packetId, reasonCode: 0 });
          }
          await until(() => pub.stats().acked === 3, "three acked entries");
          assert.equal(await queue.len(), 0);
        } finally {
          await pub.close();
          await client.disconnect();
          await session.close();
        }
      });
    }
  },
);

add(
  "LinkedSessionStore marks linked flows in the inner store and strips the mark on load",
  async () => {
    const inner = new MemorySessionStore();
    const store = new LinkedSessionStore(inner);
    const ended: [string, boolean][] = [];
    let hold: Promise<void> | undefined;
    store.listen((id, completed) => {
      ended.push([id, completed]);
      return hold;
    });
    const props = { contentType: "a" };
    store.expect(props, "entry-1");
    const packet: PublishPacket = {
      type: PacketType.Publish,
      topic: "t",
      payload: new Uint8Array([1]),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 7,
      properties: props,
    };
    const stored = (id: number) =>
      inner.load().outbound.find((f) => f.packetId === id)?.packet.properties;
    await store.putOutbound(7, packet);
    await store.putOutbound(8, { ...packet, packetId: 8, properties: { contentType: "b" } });
    assert.deepEqual(stored(7)?.userProperties, [["mqttv5-queue-entry", "entry-1"]]);
    assert.equal(stored(8)?.userProperties, undefined);
    assert.equal(store.owns("entry-1"), true);
    assert.equal(store.packetIdOf("entry-1"), 7);
    const loaded = await store.load();
    assert.deepEqual(loaded.outbound[0].packet.properties, { contentType: "a" });
    assert.deepEqual(loaded.outbound[1].packet.properties, { contentType: "b" });
    await store.deleteOutbound(8);
    assert.deepEqual(ended, [], "an unlinked flow tells nobody");
    // The deletion waits for the listener (the queue forgetting the entry); a new flow on
    // the same packet id waits behind it, so the inner store sees the calls in order.
    let release!: () => void;
    hold = new Promise<void>((resolve) => release = resolve);
    const deleting = store.deleteOutbound(7);
    assert.deepEqual(ended, [["entry-1", true]]);
    assert.equal(store.owns("entry-1"), false);
    const reuse = store.putOutbound(7, { ...packet, properties: { contentType: "c" } });
    await delay(20);
    assert.equal(stored(7)?.contentType, "a", "deleted before the listener was done");
    release();
    hold = undefined;
    await deleting;
    await reuse;
    assert.equal(stored(7)?.contentType, "c");
    await store.deleteOutbound(7);
    // A fresh wrapper over the same inner store restores the link on its first load.
    const again = new LinkedSessionStore(inner);
    store.expect(props, "entry-2");
    await store.putOutbound(9, { ...packet, packetId: 9 });
    assert.equal(again.loaded, false);
    await again.load();
    assert.equal(again.loaded, true);
    assert.equal(again.packetIdOf("entry-2"), 9);
    assert.deepEqual([...again.restored], ["entry-2"]);
  },
);

// ---------------------------------------------------------------------------
// AbortSignal discipline

/**
 * A connected client stand-in that sends nothing and never gets an
 * acknowledgement: each publish waits until the publisher abandons it.
 */
function holdingClient(): QueueClient & { sent: string[]; connected: boolean } {
  const sent: string[] = [];
  return {
    connected: true,
    sent,
    publish(message, options) {
      sent.push(message.topic);
      return new Promise((_, reject) => {
        const signal = options?.signal;
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    },
  };
}

add(
  "QueuePublisher.publish() rejects with signal.reason when the signal is already aborted, and stores nothing",
  async () => {
    const client = holdingClient();
    client.connected = false; // nothing drains
    const queue = new MemoryPublisherQueue();
    const dead: string[] = [];
    const pub = new QueuePublisher(client, queue, {
      maxSize: 1,
      dropPolicy: "drop-oldest",
      onDeadLetter: (e) => dead.push(e.publish.topic),
    });
    try {
      await pub.publish({ topic: "keep", qos: 1 });
      const { signal, reason } = abortedSignal();
      // The queue is full: an admitted publish would evict "keep".
      await rejectsWithReason(pub.publish({ topic: "a", qos: 1 }, { signal }), reason);
      // Checked before the message, too.
      await rejectsWithReason(pub.publish({ topic: "a" }, { signal }), reason);
      await rejectsWithReason(pub.publish({ topic: "a/+", qos: 1 }, { signal }), reason);
      assert.deepEqual((await queue.peekBatch(9)).entries.map((e) => e.publish.topic), ["keep"]);
      assert.deepEqual(dead, [], "nothing was evicted");
      assert.equal(pub.stats().enqueued, 1);
    } finally {
      await pub.close();
    }
    // Before the closed check as well.
    const { signal, reason } = abortedSignal();
    await rejectsWithReason(pub.publish({ topic: "a", qos: 1 }, { signal }), reason);
  },
);

add(
  "QueuePublisher.publish() rejects with signal.reason when the signal aborts while the queue stores the entry, and leaves no listener",
  async () => {
    const inner = new MemoryPublisherQueue();
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    let enqueues = 0;
    const slow: PublisherQueue = {
      enqueue: async (e, o) => {
        enqueues++;
        await gate;
        return inner.enqueue(e, o);
      },
      peekBatch: (n, o) => inner.peekBatch(n, o),
      ack: (t, o) => inner.ack(t, o),
      evictHead: (o) => inner.evictHead(o),
      len: (o) => inner.len(o),
      close: () => inner.close(),
    };
    const client = holdingClient();
    client.connected = false;
    const pub = new QueuePublisher(client, slow);
    try {
      const { controller, listeners } = trackedAbort();
      const reason = new Error("stop storing");
      const p = pub.publish({ topic: "slow", qos: 1 }, { signal: controller.signal });
      await until(() => enqueues === 1, "the enqueue");
      controller.abort(reason);
      await rejectsWithReason(within(p, "publish() to settle"), reason);
      assert.equal(listeners(), 0, "no abort listener left behind");
    } finally {
      release();
      await pub.close();
    }
  },
);

add(
  "QueuePublisher.close() with an already-aborted signal closes the publisher and its queue, then rejects with signal.reason",
  async () => {
    const client = holdingClient();
    const queue = new MemoryPublisherQueue();
    const pub = new QueuePublisher(client, queue, { publishTimeoutMs: 30_000 });
    await pub.publish({ topic: "held/1", qos: 1 });
    await until(() => client.sent.length === 1, "the send");
    const { signal, reason } = abortedSignal();
    const t0 = Date.now();
    await rejectsWithReason(within(pub.close({ signal }), "close() to settle"), reason);
    assert.ok(Date.now() - t0 < 5000, "close() waited for an acknowledgement");
    await rejectsWith(queue.len(), "queue-closed");
    await rejectsWith(pub.publish({ topic: "held/2", qos: 1 }), "queue-closed");
    assert.equal(pub.stats().inFlight, 0);
    // Closed for good: later calls share the close; an aborted signal still rejects.
    await pub.close();
    await rejectsWithReason(pub.close({ signal }), reason);

    // Nothing in flight (offline, entries waiting): the same.
    const offline = holdingClient();
    offline.connected = false;
    const queue2 = new MemoryPublisherQueue();
    const idle = new QueuePublisher(offline, queue2);
    await idle.publish({ topic: "waiting", qos: 1 });
    await rejectsWithReason(idle.close({ signal }), reason);
    await rejectsWith(queue2.len(), "queue-closed");
    assert.deepEqual(offline.sent, []);
  },
);

add(
  "QueuePublisher.close() rejects with signal.reason when the signal aborts while waiting for acknowledgements, and leaves no listener",
  async () => {
    const client = holdingClient();
    const queue = new MemoryPublisherQueue();
    const pub = new QueuePublisher(client, queue, { publishTimeoutMs: 30_000 });
    await pub.publish({ topic: "held/1", qos: 1 });
    await until(() => client.sent.length === 1, "the send");
    const { controller, listeners } = trackedAbort();
    const reason = new Error("stop closing");
    const p = pub.close({ signal: controller.signal });
    await delay(30);
    controller.abort(reason);
    await rejectsWithReason(within(p, "close() to settle"), reason);
    assert.equal(listeners(), 0, "no abort listener left behind");
    await rejectsWith(queue.len(), "queue-closed");
  },
);

add(
  "QueuePublisher.close() with an aborted signal cuts short a close() already waiting for acknowledgements",
  async () => {
    const client = holdingClient();
    const queue = new MemoryPublisherQueue();
    const pub = new QueuePublisher(client, queue, { publishTimeoutMs: 30_000 });
    await pub.publish({ topic: "held/1", qos: 1 });
    await until(() => client.sent.length === 1, "the send");
    const first = pub.close(); // would wait publishTimeoutMs for the PUBACK
    await delay(30);
    const { signal, reason } = abortedSignal();
    await rejectsWithReason(within(pub.close({ signal }), "the second close() to settle"), reason);
    await within(first, "the first close() to resolve");
    await rejectsWith(queue.len(), "queue-closed");
  },
);
