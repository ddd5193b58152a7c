// ClientOptions.autoTopicAlias and rateLimit against a real mosquitto (stock
// configuration: Topic Alias Maximum 10). A fault proxy between the publisher
// and the broker cuts the connection and shows the PUBLISH packets on the
// wire. mosquitto disconnects a client that uses an alias it never set
// (0x82), so every message arriving with its own topic is the broker's word
// that the aliases were right.
//
// Runtime-neutral: tests/integration/alias_rate_test.ts (Deno) and
// bun-tests/alias_rate.test.ts (Bun) run these cases.

import assert from "node:assert/strict";
import { Client, type Message } from "../../mod.ts";
import { PacketDecoder, PacketType, type PublishPacket } from "../../src/wire/mod.ts";
import { startBroker } from "../_helpers/broker.ts";
import { startFaultProxy } from "../_helpers/fault_proxy.ts";
import { delay, waitUntil } from "../_helpers/timing.ts";

/** One scenario. */
export interface AliasRateCase {
  name: string;
  fn: () => Promise<void>;
}

export const aliasRateCases: AliasRateCase[] = [];
const add = (name: string, fn: () => Promise<void>) => aliasRateCases.push({ name, fn });

/** 40 device topics, the first few far more popular than the rest (Zipf-ish). */
function topicFor(i: number): string {
  const rank = Math.floor(40 * Math.pow(((i * 7919) % 1000) / 1000, 3)); // skewed to 0
  return `plant/line-${String(rank % 8).padStart(2, "0")}/station-${rank}/temperature`;
}

add(
  "Client autoTopicAlias against mosquitto: 40 topics through evictions arrive with their topics, before and after a reconnect",
  async () => {
    await using broker = await startBroker();
    await using proxy = await startFaultProxy(broker.url);
    const wire: { connection: number; packet: PublishPacket }[] = [];
    proxy.onPacket((o) => {
      if (o.from !== "client" || o.type !== PacketType.Publish) return;
      const packet = new PacketDecoder().push(o.bytes)[0] as PublishPacket;
      wire.push({ connection: o.connection, packet });
    });
    await using sub = new Client({ broker: broker.url, clientId: "alias-sub" });
    await sub.connect();
    const got = new Map<string, string>(); // payload -> topic
    await sub.subscribeCallback([{ topic: "plant/#", qos: 1 }], (m: Message) => {
      got.set(m.text(), m.topic);
    });
    let ups = 0;
    await using client = new Client({
      broker: proxy.url,
      clientId: "alias-pub",
      autoTopicAlias: true,
      reconnectBackoff: () => 50,
      onConnectionUp: () => void ups++,
    });
    const info = await client.connect();
    assert.equal(info.topicAliasMaximum, 10, "mosquitto's default max_topic_alias");

    const round = async (from: number) => {
      const calls: Promise<unknown>[] = [];
      for (let i = from; i < from + 200; i++) {
        calls.push(
          client.publish({ topic: topicFor(i), payload: `${i}`, qos: (i % 3) as 0 | 1 | 2 }),
        );
      }
      await Promise.all(calls);
      await waitUntil(() => got.size === from + 200, 10_000, `messages ${from}..${from + 199}`);
      for (let i = from; i < from + 200; i++) {
        assert.equal(got.get(`${i}`), topicFor(i), `message ${i}`);
      }
    };

    await round(0);
    proxy.cutAll();
    await waitUntil(() => ups === 2, 10_000, "reconnected");
    await round(200);
    assert.equal(ups, 2, "mosquitto never refused an alias (no further reconnect)");

    for (const connection of [1, 2]) {
      const pubs = wire.filter((w) => w.connection === connection).map((w) => w.packet);
      assert.equal(pubs.length, 200, `connection ${connection}: one PUBLISH per message`);
      const aliases = pubs.map((p) => p.properties?.topicAlias);
      assert.ok(aliases.every((a) => a !== undefined && a >= 1 && a <= 10), "aliases 1..10");
      assert.notEqual(pubs[0].topic, "", "a new connection starts with no alias set");
      const aliasOnly = pubs.filter((p) => p.topic === "").length;
      const distinct = new Set(pubs.map((p) => p.topic).filter((t) => t !== "")).size;
      assert.ok(aliasOnly >= 60, `connection ${connection}: ${aliasOnly} of 200 alias-only`);
      assert.ok(distinct > 10, "more topics than aliases: evictions happened");
    }
  },
);

add(
  "Client rateLimit with autoTopicAlias against mosquitto: every message arrives, in order, with its topic",
  async () => {
    await using broker = await startBroker();
    await using sub = new Client({ broker: broker.url, clientId: "rl-sub" });
    await sub.connect();
    const got: [string, string][] = [];
    await sub.subscribeCallback([{ topic: "plant/#", qos: 1 }], (m: Message) => {
      got.push([m.topic, m.text()]);
    });
    await using client = new Client({
      broker: broker.url,
      clientId: "rl-pub",
      autoTopicAlias: true,
      rateLimit: { messagesPerSecond: 200, burst: 5, bytesPerSecond: 20_000 },
    });
    await client.connect();
    const sent: [string, string][] = [];
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i++) {
      sent.push([topicFor(i), `${i}`]);
      calls.push(client.publish({ topic: topicFor(i), payload: `${i}`, qos: 1 }));
    }
    await Promise.all(calls);
    await waitUntil(() => got.length === 60, 10_000, "60 delivered");
    assert.deepEqual(got, sent);
  },
);

add(
  "Client rateLimit with publisherPool: each member has its own buckets",
  async () => {
    await using broker = await startBroker();
    await using sub = new Client({ broker: broker.url, clientId: "pool-rl-sub" });
    await sub.connect();
    const got: string[] = [];
    await sub.subscribeCallback(["pool/#"], (m: Message) => void got.push(m.text()));
    await using client = new Client({
      broker: broker.url,
      clientId: "pool-rl",
      // One PUBLISH at once, then one per ten seconds: per member.
      rateLimit: { messagesPerSecond: 0.1, burst: 1 },
      publisherPool: { size: 2, routing: "round-robin" },
    });
    await client.connect();
    await waitUntil(() => client.poolMembers.every((m) => m.connected), 5000, "members up");
    const ac = new AbortController();
    const calls = [1, 2, 3, 4].map((i) =>
      client.publish({ topic: "pool/x", payload: `${i}` }, { signal: ac.signal })
    );
    await Promise.all(calls.slice(0, 2));
    await waitUntil(() => got.length === 2, 5000, "one message through each member");
    await delay(100);
    assert.deepEqual(got.sort(), ["1", "2"], "the third and fourth wait for their member's token");
    ac.abort(new Error("done"));
    for (const c of calls.slice(2)) await assert.rejects(c, { message: "done" });
  },
);
