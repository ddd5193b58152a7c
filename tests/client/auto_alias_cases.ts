// ClientOptions.autoTopicAlias: the least-recently-used alias table of one
// connection (src/client/auto_aliases.ts) driven by hand, and the Client's
// PUBLISH packets on the wire of the scripted FakeBroker: QoS 0/1/2, evictions
// within the broker's Topic Alias Maximum, a new table on each connection,
// replays with their topic, the Maximum Packet Size, a caller's own alias.
//
// Runtime-neutral (node:assert/strict): the runners are
// tests/client/auto_alias_test.ts (`deno test`) and bun-tests/auto_alias.test.ts
// (`bun test`).

import assert from "node:assert/strict";
import { Client, type ClientOptions } from "../../mod.ts";
import { AutoAliases } from "../../src/client/auto_aliases.ts";
import { packetLength, PacketType, type PublishPacket } from "../../src/wire/mod.ts";
import type { FakeBrokerOptions } from "../_helpers/fake_broker.ts";
import { connectedToFake, type FakeSetup } from "../_helpers/fake_setup.ts";
import { waitUntil } from "../_helpers/timing.ts";

/** One scenario. */
export interface AutoAliasCase {
  name: string;
  fn: () => void | Promise<void>;
}

export const autoAliasCases: AutoAliasCase[] = [];
const add = (name: string, fn: () => void | Promise<void>) => autoAliasCases.push({ name, fn });

const EMPTY = new Uint8Array(0);

function pub(topic: string, o: Partial<PublishPacket> = {}): PublishPacket {
  return {
    type: PacketType.Publish,
    topic,
    payload: EMPTY,
    qos: 0,
    retain: false,
    dup: false,
    ...o,
  };
}

/** A writer that records what it was given as [topic, alias], the way the encoder sees it. */
function recorder(): { wire: [string, number | undefined][]; send(p: PublishPacket): void } {
  const wire: [string, number | undefined][] = [];
  return { wire, send: (p) => void wire.push([p.topic, p.properties?.topicAlias]) };
}

/**
 * What a broker makes of PUBLISH packets on one connection: each one's topic,
 * an alias-only one resolved through the aliases set before it. Fails on an
 * alias outside 1..max or used before it was set [MQTT-3.3.2-7], [MQTT-3.3.2-8].
 */
function resolve(pubs: PublishPacket[], max: number): string[] {
  const table = new Map<number, string>();
  return pubs.map((p, i) => {
    const a = p.properties?.topicAlias;
    if (a === undefined) {
      assert.notEqual(p.topic, "", `PUBLISH #${i} has neither topic nor alias`);
      return p.topic;
    }
    assert.ok(a >= 1 && a <= max, `PUBLISH #${i}: alias ${a} outside 1..${max}`);
    if (p.topic !== "") {
      table.set(a, p.topic);
      return p.topic;
    }
    const t = table.get(a);
    assert.ok(t !== undefined, `PUBLISH #${i}: alias ${a} used before it was set`);
    return t;
  });
}

// --- AutoAliases --------------------------------------------------------------

add("AutoAliases gives a new topic the next alias, then sends the alias alone", () => {
  const r = recorder();
  const a = new AutoAliases(3);
  for (const t of ["dev/1/temp", "dev/2/temp", "dev/1/temp", "dev/1/temp", "dev/2/temp"]) {
    a.send(r, pub(t));
  }
  assert.deepEqual(r.wire, [
    ["dev/1/temp", 1],
    ["dev/2/temp", 2],
    ["", 1],
    ["", 1],
    ["", 2],
  ]);
});

add(
  "AutoAliases hands the least recently used topic's alias to a new topic, sent with it",
  () => {
    const r = recorder();
    const a = new AutoAliases(2);
    const topics = ["aaaa", "bbbb", "aaaa", "cccc", "bbbb", "aaaa", "cccc"];
    for (const t of topics) a.send(r, pub(t));
    assert.deepEqual(r.wire, [
      ["aaaa", 1],
      ["bbbb", 2],
      ["", 1], // aaaa is now the most recently used
      ["cccc", 2], // bbbb was the least recently used: its alias goes to cccc
      ["bbbb", 1], // aaaa was the least recently used: bbbb comes back with alias 1
      ["aaaa", 2], // cccc gives up 2
      ["cccc", 1],
    ]);
    // Every packet resolves to the topic published, as a broker would resolve it.
    assert.deepEqual(
      resolve(r.wire.map(([topic, alias]) => pub(topic, { properties: { topicAlias: alias } })), 2),
      topics,
    );
  },
);

add("AutoAliases sends a replay (DUP=1) and a topic under 4 characters as they are", () => {
  const r = recorder();
  const a = new AutoAliases(4);
  a.send(r, pub("abc"));
  a.send(r, pub("abc"));
  a.send(r, pub("long/topic", { qos: 1, packetId: 7, dup: true }));
  a.send(r, pub("long/topic", { qos: 1, packetId: 7, dup: true }));
  // A replay set nothing: the first use afterwards carries the topic, with alias 1.
  a.send(r, pub("long/topic"));
  assert.deepEqual(r.wire, [
    ["abc", undefined],
    ["abc", undefined],
    ["long/topic", undefined],
    ["long/topic", undefined],
    ["long/topic", 1],
  ]);
});

add("AutoAliases leaves the packet and the caller's properties as they were", () => {
  const seen: PublishPacket[] = [];
  const a = new AutoAliases(2);
  const properties = {
    contentType: "text/plain",
    userProperties: [["k", "v"]] as [string, string][],
  };
  const p = pub("site/a/temp", { properties });
  a.send({ send: (q) => void seen.push({ ...q, properties: { ...q.properties } }) }, p);
  a.send({ send: (q) => void seen.push({ ...q, properties: { ...q.properties } }) }, p);
  assert.equal(p.topic, "site/a/temp");
  assert.equal(p.properties, properties, "the same object is back");
  assert.deepEqual(properties, { contentType: "text/plain", userProperties: [["k", "v"]] });
  assert.deepEqual(seen.map((q) => [q.topic, q.properties]), [
    ["site/a/temp", { ...properties, topicAlias: 1 }],
    ["", { ...properties, topicAlias: 1 }],
  ]);
});

add("AutoAliases notes nothing when the writer throws (the packet did not encode)", () => {
  const r = recorder();
  const a = new AutoAliases(2);
  const failing = {
    send(p: PublishPacket) {
      if (p.topic === "bad/+") throw new TypeError("wildcard");
      r.send(p);
    },
  };
  assert.throws(() => a.send(failing, pub("bad/+")), TypeError);
  a.send(failing, pub("good/1"));
  a.send(failing, pub("good/1"));
  assert.deepEqual(r.wire, [["good/1", 1], ["", 1]], "alias 1 was not spent on the failure");
});

add(
  "AutoAliases sends without an alias a PUBLISH the alias would take past the Maximum Packet Size",
  () => {
    const big = pub("sensors/big", { payload: new Uint8Array(40) });
    const small = pub("sensors/small");
    const max = packetLength(big) + 2; // room for the topic, not for 3 more bytes of alias
    const r = recorder();
    const a = new AutoAliases(5, max);
    a.send(r, big);
    a.send(r, big);
    a.send(r, small);
    a.send(r, small);
    assert.deepEqual(r.wire, [
      ["sensors/big", undefined],
      ["sensors/big", undefined],
      ["sensors/small", 1],
      ["", 1],
    ]);
  },
);

// --- Client on the FakeBroker ---------------------------------------------------

type Setup = FakeSetup;

/** A client with autoTopicAlias on, connected to a fake broker. */
const start = (brokerOptions: FakeBrokerOptions, clientOptions: Partial<ClientOptions> = {}) =>
  connectedToFake(brokerOptions, { autoTopicAlias: true, ...clientOptions });

const aliasMax = (n: number): FakeBrokerOptions => ({
  connack: { properties: { topicAliasMaximum: n } },
  autoAckPublish: true,
});

add(
  "Client autoTopicAlias: QoS 0, 1 and 2 publishes go alias-only once set, evicting within the broker's Topic Alias Maximum",
  async () => {
    await using t = await start(aliasMax(3));
    const topics: string[] = [];
    for (let i = 0; i < 40; i++) {
      // Zipf-ish: low indexes come back often, the tail rarely.
      const n = [0, 1, 0, 2, 0, 1, 3, 0, 4, 1][i % 10] + (i % 7 === 6 ? 5 : 0);
      topics.push(`plant/line-${n}/temperature`);
    }
    for (let i = 0; i < topics.length; i++) {
      const qos = (i % 3) as 0 | 1 | 2;
      await t.client.publish({ topic: topics[i], payload: `${i}`, qos });
    }
    await waitUntil(
      () => t.conn.all(PacketType.Publish).length === topics.length,
      2000,
      "every publish on the wire",
    );
    const pubs = t.conn.all(PacketType.Publish);
    assert.deepEqual(
      pubs.map((p) => new TextDecoder().decode(p.payload)),
      topics.map((_, i) => `${i}`),
    );
    assert.deepEqual(resolve(pubs, 3), topics, "every PUBLISH resolves to its topic");
    const aliasOnly = pubs.filter((p) => p.topic === "");
    assert.ok(aliasOnly.length >= 15, `alias-only PUBLISH packets: ${aliasOnly.length}`);
    assert.ok(aliasOnly.some((p) => p.qos === 1) && aliasOnly.some((p) => p.qos === 2));
    assert.ok(
      pubs.every((p) => p.properties?.topicAlias !== undefined),
      "every topic got an alias",
    );
    // More distinct topics than aliases: some alias was handed from one topic to another.
    const setters = new Map<number, Set<string>>();
    for (const p of pubs) {
      if (p.topic !== "") {
        const a = p.properties!.topicAlias!;
        setters.set(a, (setters.get(a) ?? new Set()).add(p.topic));
      }
    }
    assert.ok([...setters.values()].some((s) => s.size > 1), "an alias was reused for a new topic");
  },
);

add(
  "Client autoTopicAlias starts afresh on a new connection, and a replay carries its topic and no alias",
  async () => {
    await using t = await start({ connack: { properties: { topicAliasMaximum: 5 } } });
    const topic = "plant/line-1/pressure";
    const first = t.client.publish({ topic, payload: "1", qos: 1 });
    const p1 = await t.conn.expect(PacketType.Publish);
    t.conn.send({ type: PacketType.Puback, packetId: p1.packetId! });
    await first;
    const second = t.client.publish({ topic, payload: "2", qos: 1 }); // left unacked
    const p2 = await t.conn.expect(PacketType.Publish);
    await t.client.publish({ topic, payload: "3" });
    const p3 = await t.conn.expect(PacketType.Publish);
    assert.deepEqual(
      [p1, p2, p3].map((p) => [p.topic, p.properties?.topicAlias, p.dup]),
      [[topic, 1, false], ["", 1, false], ["", 1, false]],
    );
    t.conn.close(); // the broker drops the connection: the client reconnects and replays
    const conn2 = await t.broker.nextConnection();
    const replay = await conn2.expect(PacketType.Publish);
    assert.deepEqual(
      [replay.topic, replay.properties?.topicAlias, replay.dup, replay.packetId],
      [topic, undefined, true, p2.packetId],
    );
    conn2.send({ type: PacketType.Puback, packetId: replay.packetId! });
    assert.equal((await second).reasonCode, 0);
    // The new connection's table is empty: the topic is set again, with alias 1.
    await t.client.publish({ topic, payload: "4" });
    await t.client.publish({ topic, payload: "5" });
    const p4 = await conn2.expect(PacketType.Publish);
    const p5 = await conn2.expect(PacketType.Publish);
    assert.deepEqual([p4.topic, p4.properties?.topicAlias], [topic, 1]);
    assert.deepEqual([p5.topic, p5.properties?.topicAlias], ["", 1]);
  },
);

add("Client autoTopicAlias sends no alias when the broker allows none", async () => {
  await using t = await start({ autoAckPublish: true });
  assert.equal(t.client.connack?.topicAliasMaximum, 0);
  for (let i = 0; i < 3; i++) await t.client.publish({ topic: "plant/line-1/flow", qos: 1 });
  const pubs = t.conn.all(PacketType.Publish);
  assert.deepEqual(pubs.map((p) => [p.topic, p.properties?.topicAlias]), [
    ["plant/line-1/flow", undefined],
    ["plant/line-1/flow", undefined],
    ["plant/line-1/flow", undefined],
  ]);
});

add(
  "Client autoTopicAlias refuses a topicAlias of the caller's own with a TypeError, sending nothing",
  async () => {
    await using t = await start(aliasMax(5));
    for (const qos of [0, 1] as const) {
      await assert.rejects(
        t.client.publish({ topic: "plant/x", qos, properties: { topicAlias: 1 } }),
        TypeError,
      );
    }
    await t.client.publish({ topic: "plant/after", payload: "ok" });
    const p = await t.conn.expect(PacketType.Publish);
    assert.deepEqual([p.topic, p.properties?.topicAlias], ["plant/after", 1]);
  },
);

add(
  "Client autoTopicAlias keeps a PUBLISH that fits the broker's Maximum Packet Size only without an alias",
  async () => {
    const topic = "plant/line-9/vibration";
    const payload = new Uint8Array(30);
    const size = packetLength(pub(topic, { payload }));
    await using t = await start({
      connack: { properties: { topicAliasMaximum: 5, maximumPacketSize: size } },
    });
    await t.client.publish({ topic, payload });
    await t.client.publish({ topic, payload });
    const a = await t.conn.expect(PacketType.Publish);
    const b = await t.conn.expect(PacketType.Publish);
    assert.deepEqual(
      [[a.topic, a.properties?.topicAlias], [b.topic, b.properties?.topicAlias]],
      [[topic, undefined], [topic, undefined]],
    );
  },
);

add("Client refuses a non-boolean autoTopicAlias with a TypeError", () => {
  assert.throws(
    () => new Client({ broker: "mqtt://fake:1883", autoTopicAlias: 1 as unknown as boolean }),
    TypeError,
  );
});
