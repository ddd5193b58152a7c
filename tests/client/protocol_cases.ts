// Protocol behaviours of Client against the scripted FakeBroker: malformed
// and illegal input, topic aliases, CONNACK capabilities, flow control, the
// §4.6 ack order, subscriptions, withheld acks, keep alive, disconnect, the
// write queue and option validation.
//
// Runtime-neutral (node:assert/strict, web-standard timers): the runners are
// tests/client/protocol_test.ts (`deno test`) and
// bun-tests/client_protocol.test.ts (`bun test`).

import assert from "node:assert/strict";
import {
  Client,
  type ClientOptions,
  type Message,
  MqttError,
  type QueueSubscription,
  type StatusEvent,
  SubscribeError,
} from "../../mod.ts";
import type { DialFunc } from "../../src/transport/types.ts";
import {
  encodePacket,
  type Packet,
  PacketType,
  type PublishPacket,
  type PublishProperties,
  type QoS,
} from "../../src/wire/mod.ts";
import { FakeBroker, type FakeBrokerOptions, type ScriptConn } from "../_helpers/fake_broker.ts";
import { connectedToFake, fakeClient, type FakeSetup } from "../_helpers/fake_setup.ts";
import { delay, waitUntil, within } from "../_helpers/timing.ts";
import { rejectsWith, track } from "../_helpers/settle.ts";

/** One scenario. */
export interface ProtocolCase {
  name: string;
  fn: () => Promise<void>;
}

// ---------------------------------------------------------------------------
// Tools

const encoder = new TextEncoder();
const quietLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Asserts that `fn` throws an MqttError of `code`. */
function throwsCode(fn: () => unknown, code: string, what: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MqttError, `${what}: expected an MqttError, got ${err}`);
    assert.equal(err.code, code, `${what}: ${err.message}`);
    return true;
  });
}

/** The next message of a queue subscription, or a failure after `ms`. */
async function nextMessage(sub: QueueSubscription, ms = 1000): Promise<Message> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    const m = await sub.queue.dequeue({ signal: ac.signal });
    if (m === undefined) {
      throw new Error(ac.signal.aborted ? `no message within ${ms} ms` : "subscription ended");
    }
    return m;
  } finally {
    clearTimeout(timer);
  }
}

/** A PUBLISH from the broker. */
function inbound(
  topic: string,
  payload: string | Uint8Array,
  options: {
    qos?: QoS;
    packetId?: number;
    dup?: boolean;
    retain?: boolean;
    properties?: PublishProperties;
  } = {},
): PublishPacket {
  const qos = options.qos ?? 0;
  const p: PublishPacket = {
    type: PacketType.Publish,
    topic,
    payload: typeof payload === "string" ? encoder.encode(payload) : payload,
    qos,
    retain: options.retain ?? false,
    dup: options.dup ?? false,
    properties: options.properties ?? {},
  };
  if (qos > 0) p.packetId = options.packetId ?? 1;
  return p;
}

function text(p: PublishPacket): string {
  return new TextDecoder().decode(p.payload);
}

function ids(packets: Packet[]): number[] {
  return packets.map((p) => (p as { packetId: number }).packetId);
}

type Setup = FakeSetup;

type TestClientOptions = Partial<ClientOptions>;

/** A FakeBroker (1 s timeout) plus a Client connected to it; disposing disconnects and closes both. */
const start = (brokerOptions: FakeBrokerOptions = {}, clientOptions: TestClientOptions = {}) =>
  connectedToFake({ timeoutMs: 1000, ...brokerOptions }, clientOptions);

const newClient = fakeClient;

/**
 * Asserts that the connection is still up: the client says so, the broker
 * side is open, and a QoS 0 probe publish reaches the broker as the next
 * packet.
 */
async function assertUp(client: Client, conn: ScriptConn): Promise<void> {
  assert.equal(client.connected, true, "client.connected");
  assert.equal(conn.isClosed, false, "the connection was closed");
  const from = conn.received.length;
  await client.publish({ topic: "probe/up", payload: "up" });
  const p = await conn.waitFor((p) => p.type !== PacketType.Pingreq, { from, what: "the probe" });
  assert.equal(p.type, PacketType.Publish, "the next packet should be the probe publish");
  assert.equal((p as PublishPacket).topic, "probe/up", "the next packet should be the probe");
}

/** Lets queued microtasks, writes and deliveries run. */
const settle = (ms = 20) => delay(ms);

// ---------------------------------------------------------------------------
// The cases

export const protocolCases: ProtocolCase[] = [];

function add(name: string, fn: () => Promise<void>): void {
  protocolCases.push({ name, fn });
}

// --- malformed input and protocol violations -------------------------------

add("Client answers a malformed packet with DISCONNECT 0x81, closes and reconnects", async () => {
  await using t = await start({}, { reconnectBackoff: () => 0 });
  // PUBLISH with QoS 3 is malformed [MQTT-3.3.1-4].
  t.conn.sendRaw(new Uint8Array([0x36, 0x00]));
  const d = await t.conn.expect(PacketType.Disconnect);
  assert.equal(d.reasonCode, 0x81);
  await within(t.conn.closed, 1000, "the client closes the connection");
  assert.equal(t.conn.pending.length, 0, "nothing after DISCONNECT");
  const second = await t.broker.nextConnection();
  const connect = await within(second.connect, 1000, "CONNECT on the second connection");
  assert.equal(connect.cleanStart, false, "a reconnect resumes the session");
  await waitUntil(() => t.client.connected, 1000, "client reconnected");
  await assertUp(t.client, second);
});

add("Client answers a variable byte integer longer than 4 bytes with DISCONNECT 0x81", async () => {
  await using t = await start();
  t.conn.sendRaw(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]));
  const d = await t.conn.expect(PacketType.Disconnect);
  assert.equal(d.reasonCode, 0x81);
  await within(t.conn.closed, 1000, "the client closes the connection");
  await t.broker.nextConnection();
});

add("Client answers a second CONNACK with DISCONNECT 0x82 and reconnects", async () => {
  await using t = await start();
  t.conn.send({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 });
  const d = await t.conn.expect(PacketType.Disconnect);
  assert.equal(d.reasonCode, 0x82);
  await within(t.conn.closed, 1000, "the client closes the connection");
  const second = await t.broker.nextConnection();
  await waitUntil(() => t.client.connected, 1000, "client reconnected");
  await assertUp(t.client, second);
});

add("Client answers a SUBSCRIBE from the broker with DISCONNECT 0x82", async () => {
  await using t = await start();
  t.conn.send({
    type: PacketType.Subscribe,
    packetId: 1,
    filters: [{ topic: "a/b", qos: 0 }],
  });
  const d = await t.conn.expect(PacketType.Disconnect);
  assert.equal(d.reasonCode, 0x82);
  await within(t.conn.closed, 1000, "the client closes the connection");
});

add(
  "Client answers an inbound PUBLISH over its maximumPacketSize with DISCONNECT 0x95",
  async () => {
    await using t = await start({ autoAckSubscribe: true }, { maximumPacketSize: 128 });
    const connect = await t.conn.connect;
    assert.equal(connect.properties?.maximumPacketSize, 128, "CONNECT advertises the maximum");
    const sub = await t.client.subscribeQueue(["big/#"]);
    t.conn.send(inbound("big/one", new Uint8Array(200)));
    const d = await t.conn.expect(PacketType.Disconnect);
    assert.equal(d.reasonCode, 0x95);
    await within(t.conn.closed, 1000, "the client closes the connection");
    assert.equal(sub.queue.length, 0, "the oversized message is not delivered");
  },
);

// --- topic aliases -----------------------------------------------------------

add(
  "Client answers an inbound topic alias above inboundTopicAliasMaximum with DISCONNECT 0x94",
  async () => {
    await using t = await start({ autoAckSubscribe: true }, { inboundTopicAliasMaximum: 2 });
    const connect = await t.conn.connect;
    assert.equal(
      connect.properties?.topicAliasMaximum,
      2,
      "CONNECT advertises Topic Alias Maximum",
    );
    const sub = await t.client.subscribeQueue(["t/#"]);
    t.conn.send(inbound("t/a", "x", { properties: { topicAlias: 3 } }));
    const d = await t.conn.expect(PacketType.Disconnect);
    assert.equal(d.reasonCode, 0x94);
    await within(t.conn.closed, 1000, "the client closes the connection");
    assert.equal(sub.queue.length, 0);
  },
);

add(
  "Client answers an inbound topic alias when it advertised none with DISCONNECT 0x94",
  async () => {
    await using t = await start();
    const connect = await t.conn.connect;
    assert.equal(connect.properties?.topicAliasMaximum, undefined);
    t.conn.send(inbound("t/a", "x", { properties: { topicAlias: 1 } }));
    const d = await t.conn.expect(PacketType.Disconnect);
    assert.equal(d.reasonCode, 0x94);
  },
);

add("Client answers an alias-only PUBLISH with an unknown alias with DISCONNECT 0x82", async () => {
  await using t = await start({ autoAckSubscribe: true }, { inboundTopicAliasMaximum: 5 });
  const sub = await t.client.subscribeQueue(["t/#"]);
  t.conn.send(inbound("", "x", { properties: { topicAlias: 4 } }));
  const d = await t.conn.expect(PacketType.Disconnect);
  assert.equal(d.reasonCode, 0x82);
  await within(t.conn.closed, 1000, "the client closes the connection");
  assert.equal(sub.queue.length, 0);
});

add("Client resolves inbound topic aliases for subscribers", async () => {
  await using t = await start({ autoAckSubscribe: true }, { inboundTopicAliasMaximum: 5 });
  const sub = await t.client.subscribeQueue(["t/#"]);
  t.conn.send(inbound("t/a", "1", { properties: { topicAlias: 1 } }));
  t.conn.send(inbound("", "2", { properties: { topicAlias: 1 } }));
  t.conn.send(inbound("t/b", "3", { properties: { topicAlias: 1 } })); // remapped
  t.conn.send(inbound("", "4", { properties: { topicAlias: 1 } }));
  t.conn.send(inbound("", "5", { qos: 1, packetId: 9, properties: { topicAlias: 1 } }));
  const got: [string, string][] = [];
  for (let i = 0; i < 5; i++) {
    const m = await nextMessage(sub);
    got.push([m.topic, m.text()]);
    m.ack();
  }
  assert.deepEqual(got, [["t/a", "1"], ["t/a", "2"], ["t/b", "3"], ["t/b", "4"], ["t/b", "5"]]);
  const ack = await t.conn.expect(PacketType.Puback);
  assert.equal(ack.packetId, 9);
  await assertUp(t.client, t.conn);
});

add(
  "Client rejects an outbound topic alias above the broker's Topic Alias Maximum with topic-alias-invalid",
  async () => {
    await using t = await start({ connack: { properties: { topicAliasMaximum: 2 } } });
    await rejectsWith(
      t.client.publish({ topic: "t/x", payload: "a", properties: { topicAlias: 3 } }),
      "topic-alias-invalid",
    );
    await rejectsWith(
      t.client.publish({ topic: "t/x", payload: "a", qos: 1, properties: { topicAlias: 3 } }),
      "topic-alias-invalid",
    );
    await rejectsWith(
      t.client.publish({ topic: "t/x", payload: "a", properties: { topicAlias: 0 } }),
      "topic-alias-invalid",
    );
    await settle();
    assert.equal(t.conn.all(PacketType.Publish).length, 0, "nothing was written");
    await assertUp(t.client, t.conn);
  },
);

add("Client rejects any outbound topic alias when the broker allows none", async () => {
  await using t = await start();
  await rejectsWith(
    t.client.publish({ topic: "t/x", payload: "a", properties: { topicAlias: 1 } }),
    "topic-alias-invalid",
  );
  await settle();
  assert.equal(t.conn.all(PacketType.Publish).length, 0, "nothing was written");
  await assertUp(t.client, t.conn);
});

add("Client sends a repeated QoS 0 topic and alias alias-only", async () => {
  await using t = await start({ connack: { properties: { topicAliasMaximum: 5 } } });
  const send = (topic: string) =>
    t.client.publish({ topic, payload: "p", properties: { topicAlias: 1 } });
  await send("t/x");
  await send("t/x");
  await send("t/y"); // remaps alias 1
  await send("t/y");
  const wire: [string, number | undefined][] = [];
  for (let i = 0; i < 4; i++) {
    const p = await t.conn.expect(PacketType.Publish);
    wire.push([p.topic, p.properties?.topicAlias]);
  }
  assert.deepEqual(wire, [["t/x", 1], ["", 1], ["t/y", 1], ["", 1]]);
});

add("Client never sends a QoS 1 publish alias-only", async () => {
  await using t = await start({
    connack: { properties: { topicAliasMaximum: 5 } },
    autoAckPublish: true,
  });
  await t.client.publish({ topic: "t/x", payload: "1", qos: 1, properties: { topicAlias: 1 } });
  await t.client.publish({ topic: "t/x", payload: "2", qos: 1, properties: { topicAlias: 1 } });
  // An empty topic with a known alias: the client fills the topic in for QoS 1.
  await t.client.publish({ topic: "", payload: "3", qos: 1, properties: { topicAlias: 1 } });
  const pubs = t.conn.all(PacketType.Publish);
  assert.deepEqual(
    pubs.map((p) => [p.topic, p.qos, p.properties?.topicAlias, text(p)]),
    [["t/x", 1, 1, "1"], ["t/x", 1, 1, "2"], ["t/x", 1, 1, "3"]],
  );
});

add(
  "Client does not count a publish refused as packet-too-large as setting a topic alias",
  async () => {
    await using t = await start({
      connack: { properties: { topicAliasMaximum: 5, maximumPacketSize: 64 } },
    });
    await rejectsWith(
      t.client.publish({
        topic: "t/x",
        payload: new Uint8Array(100),
        properties: { topicAlias: 1 },
      }),
      "packet-too-large",
    );
    await t.client.publish({ topic: "t/x", payload: "small", properties: { topicAlias: 1 } });
    const p = await t.conn.expect(PacketType.Publish);
    // The refused publish never reached the broker, so alias 1 means nothing
    // there yet: this PUBLISH must carry the topic name (§3.3.2.3.4).
    assert.equal(p.properties?.topicAlias, 1);
    assert.equal(p.topic, "t/x", "the first PUBLISH on the wire with alias 1 must set it");
  },
);

add(
  "Client does not count a publish dropped by a full write queue as setting a topic alias",
  async () => {
    await using t = await start(
      { connack: { properties: { topicAliasMaximum: 5 } } },
      { writeQueueSize: 1, writeOverflowPolicy: "drop-newest" },
    );
    t.conn.client.holdWrites();
    await t.client.publish({ topic: "fill/0", payload: "0" });
    await settle(); // the writer hands the first publish to the (held) connection
    await t.client.publish({ topic: "fill/1", payload: "1" }); // queued: the queue is now full
    await rejectsWith(
      t.client.publish({ topic: "t/x", payload: "dropped", properties: { topicAlias: 1 } }),
      "write-queue-full",
    );
    t.conn.client.releaseWrites();
    await settle(); // the queue drains
    await t.client.publish({ topic: "t/x", payload: "sent", properties: { topicAlias: 1 } });
    await t.conn.expect(PacketType.Publish);
    await t.conn.expect(PacketType.Publish);
    const p = await t.conn.expect(PacketType.Publish);
    assert.equal(text(p), "sent");
    assert.equal(p.topic, "t/x", "the first PUBLISH on the wire with alias 1 must set it");
  },
);

add(
  "Client does not send a QoS 0 publish alias-only while the QoS 1 publish that sets the alias is queued",
  async () => {
    await using t = await start({
      connack: { properties: { receiveMaximum: 1, topicAliasMaximum: 5 } },
    });
    const first = track(t.client.publish({ topic: "other", payload: "q1", qos: 1 }));
    const p1 = await t.conn.expect(PacketType.Publish);
    // Waits for the broker's Receive Maximum (1): not on the wire yet.
    const second = track(
      t.client.publish({
        topic: "t/x",
        payload: "q1-alias",
        qos: 1,
        properties: { topicAlias: 1 },
      }),
    );
    const third = track(
      t.client.publish({ topic: "t/x", payload: "q0-alias", properties: { topicAlias: 1 } }),
    );
    await settle();
    t.conn.send({ type: PacketType.Puback, packetId: p1.packetId! });
    await waitUntil(() => first.settled, 1000, "first publish acked");
    await waitUntil(
      () => t.conn.all(PacketType.Publish).length >= 3,
      1000,
      "all three publishes written",
    );
    const q1 = t.conn.all(PacketType.Publish).find((p) => p.qos === 1 && p.topic !== "other");
    if (q1 !== undefined) t.conn.send({ type: PacketType.Puback, packetId: q1.packetId! });
    await waitUntil(() => second.settled && third.settled, 1000, "publishes settled");
    const withAlias = t.conn.all(PacketType.Publish).filter((p) => p.properties?.topicAlias === 1);
    // QoS 0 does not wait behind the QoS 1 window, so it goes first; since alias 1 is
    // not yet set on the wire, it must carry the topic (never alias-only before that).
    assert.equal(withAlias.length, 2);
    assert.notEqual(
      withAlias[0].topic,
      "",
      "alias 1 must be set on the wire before it is used alone",
    );
    assert.deepEqual(
      withAlias.map((p) => [p.topic, text(p)]).sort(),
      [["t/x", "q0-alias"], ["t/x", "q1-alias"]],
    );
  },
);

// --- CONNACK capabilities ---------------------------------------------------

add(
  "Client refuses a QoS 2 publish when CONNACK Maximum QoS is 1 (qos-not-supported)",
  async () => {
    await using t = await start({ connack: { properties: { maximumQoS: 1 } } });
    assert.equal(t.client.connack?.maximumQoS, 1);
    await rejectsWith(
      t.client.publish({ topic: "q/2", payload: "x", qos: 2 }),
      "qos-not-supported",
    );
    await settle();
    assert.equal(t.conn.all(PacketType.Publish).length, 0, "no PUBLISH reached the broker");
    await assertUp(t.client, t.conn);
  },
);

add("Client refuses QoS 1 and QoS 2 publishes when CONNACK Maximum QoS is 0", async () => {
  await using t = await start({ connack: { properties: { maximumQoS: 0 } } });
  await rejectsWith(t.client.publish({ topic: "q/1", qos: 1 }), "qos-not-supported");
  await rejectsWith(t.client.publish({ topic: "q/2", qos: 2 }), "qos-not-supported");
  await settle();
  assert.equal(t.conn.all(PacketType.Publish).length, 0, "no PUBLISH reached the broker");
  await assertUp(t.client, t.conn);
});

add(
  "Client refuses a retained publish when CONNACK says Retain Available 0 (retain-not-supported)",
  async () => {
    await using t = await start({ connack: { properties: { retainAvailable: false } } });
    await rejectsWith(
      t.client.publish({ topic: "r/x", payload: "x", retain: true }),
      "retain-not-supported",
    );
    await rejectsWith(
      t.client.publish({ topic: "r/x", payload: "x", qos: 1, retain: true }),
      "retain-not-supported",
    );
    await settle();
    assert.equal(t.conn.all(PacketType.Publish).length, 0, "no PUBLISH reached the broker");
    await assertUp(t.client, t.conn);
  },
);

add(
  "Client refuses a publish over the broker's Maximum Packet Size (packet-too-large)",
  async () => {
    await using t = await start({ connack: { properties: { maximumPacketSize: 64 } } });
    await rejectsWith(
      t.client.publish({ topic: "s/x", payload: new Uint8Array(100) }),
      "packet-too-large",
    );
    await rejectsWith(
      t.client.publish({ topic: "s/x", payload: new Uint8Array(100), qos: 1 }),
      "packet-too-large",
    );
    await settle();
    assert.equal(t.conn.all(PacketType.Publish).length, 0, "no PUBLISH reached the broker");
    await assertUp(t.client, t.conn);
  },
);

add(
  "Client applies each connection's CONNACK limits to QoS 0 publishes: none, then Maximum Packet Size and no retain, then none again",
  async () => {
    // QoS 0 publishes without limits take a short path chosen per connection
    // at its CONNACK; the next connection's limits must apply at once.
    await using t = await start({
      connack: (_c, conn) => ({
        properties: conn.index === 1 ? { maximumPacketSize: 64, retainAvailable: false } : {},
      }),
    }, { reconnectBackoff: () => 0 });
    const big = new Uint8Array(100);
    await t.client.publish({ topic: "lim/a", payload: big, retain: true });
    assert.equal((await t.conn.expect(PacketType.Publish)).topic, "lim/a");
    t.conn.close();
    const second = await t.broker.nextConnection();
    await waitUntil(() => t.client.connected, 1000, "reconnected");
    await rejectsWith(t.client.publish({ topic: "lim/b", payload: big }), "packet-too-large");
    await rejectsWith(
      t.client.publish({ topic: "lim/c", payload: "x", retain: true }),
      "retain-not-supported",
    );
    await t.client.publish({ topic: "lim/d", payload: "x" });
    assert.equal((await second.expect(PacketType.Publish)).topic, "lim/d");
    assert.deepEqual(second.all(PacketType.Publish).map((p) => p.topic), ["lim/d"]);
    second.close();
    const third = await t.broker.nextConnection();
    await waitUntil(() => t.client.connected, 1000, "reconnected again");
    await t.client.publish({ topic: "lim/e", payload: big, retain: true });
    const e = await third.expect(PacketType.Publish);
    assert.equal(e.topic, "lim/e");
    assert.equal(e.retain, true);
    assert.equal(e.payload.length, 100);
  },
);

add("Client refuses wildcard subscriptions when CONNACK says they are unavailable", async () => {
  await using t = await start({
    connack: { properties: { wildcardSubscriptionAvailable: false } },
    autoAckSubscribe: true,
  });
  await rejectsWith(t.client.subscribeQueue(["w/+"]), "wildcard-subs-unsupported");
  await rejectsWith(t.client.subscribe(["w/#"]), "wildcard-subs-unsupported");
  await rejectsWith(
    t.client.subscribeQueue(["plain/topic", "$share/g/w/#"]),
    "wildcard-subs-unsupported",
  );
  await settle();
  assert.equal(t.conn.all(PacketType.Subscribe).length, 0, "no SUBSCRIBE reached the broker");
  await assertUp(t.client, t.conn);
  // A plain filter still works.
  const sub = await t.client.subscribeQueue(["w/plain"]);
  t.conn.send(inbound("w/plain", "ok"));
  assert.equal((await nextMessage(sub)).text(), "ok");
});

add("Client refuses shared subscriptions when CONNACK says they are unavailable", async () => {
  await using t = await start({
    connack: { properties: { sharedSubscriptionAvailable: false } },
    autoAckSubscribe: true,
  });
  await rejectsWith(t.client.subscribeQueue(["$share/g/s/x"]), "shared-subs-unsupported");
  await rejectsWith(
    t.client.subscribeCallback(["s/plain", "$share/g/s/y"], () => {}),
    "shared-subs-unsupported",
  );
  await settle();
  assert.equal(t.conn.all(PacketType.Subscribe).length, 0, "no SUBSCRIBE reached the broker");
  await assertUp(t.client, t.conn);
});

add("Client sends no subscription identifier when CONNACK says they are unavailable", async () => {
  await using t = await start({
    connack: { properties: { subscriptionIdentifiersAvailable: false } },
    autoAckSubscribe: true,
  });
  const sub = await t.client.subscribeQueue(["i/#"]);
  const s = t.conn.all(PacketType.Subscribe);
  assert.equal(s.length, 1);
  assert.equal(s[0].properties?.subscriptionIdentifier, undefined);
  t.conn.send(inbound("i/a", "ok"));
  assert.equal((await nextMessage(sub)).text(), "ok", "delivery works without identifiers");
  await assertUp(t.client, t.conn);
});

add("Client sends a subscription identifier when the broker supports them", async () => {
  await using t = await start({ autoAckSubscribe: true });
  await t.client.subscribeQueue(["i/#"]);
  await t.client.subscribeQueue(["j/#"]);
  const [a, b] = t.conn.all(PacketType.Subscribe).map((s) => s.properties?.subscriptionIdentifier);
  assert.ok(typeof a === "number" && a > 0, "first SUBSCRIBE carries an identifier");
  assert.ok(typeof b === "number" && b > 0 && b !== a, "second SUBSCRIBE carries another one");
});

// --- receive maximum -----------------------------------------------------------

add(
  "Client keeps at most the broker's Receive Maximum QoS 1 publishes unacked, sending the rest in order",
  async () => {
    await using t = await start({ connack: { properties: { receiveMaximum: 2 } } });
    const results = Array.from(
      { length: 5 },
      (_, i) => track(t.client.publish({ topic: "rm/x", payload: String(i), qos: 1 })),
    );
    await settle();
    assert.deepEqual(t.conn.all(PacketType.Publish).map(text), ["0", "1"], "only 2 on the wire");
    const acked = new Set<number>();
    let maxUnacked = 0;
    while (acked.size < 5) {
      const pubs = t.conn.all(PacketType.Publish);
      const unacked = pubs.filter((p) => !acked.has(p.packetId!));
      maxUnacked = Math.max(maxUnacked, unacked.length);
      assert.ok(unacked.length > 0, "a publish is waiting");
      const oldest = unacked[0];
      t.conn.send({ type: PacketType.Puback, packetId: oldest.packetId! });
      acked.add(oldest.packetId!);
      await settle(5);
    }
    assert.equal(maxUnacked, 2, "never more than Receive Maximum unacked");
    assert.deepEqual(t.conn.all(PacketType.Publish).map(text), ["0", "1", "2", "3", "4"]);
    await waitUntil(() => results.every((r) => r.settled), 1000, "all publishes settled");
    for (const r of results) assert.deepEqual(r.value, { reasonCode: 0 });
  },
);

add(
  "Client advertises receiveMaximum; a broker that exceeds it is reported once, not disconnected, and nothing is lost",
  async () => {
    const warnings: string[] = [];
    const logger = { ...quietLogger, warn: (msg: string) => warnings.push(msg) };
    await using t = await start({ autoAckSubscribe: true }, {
      receiveMaximum: 2,
      stats: true,
      logger,
    });
    const events: StatusEvent[] = [];
    const stream = t.client.status();
    void (async () => {
      for await (const e of stream) events.push(e);
    })();
    const connect = await t.conn.connect;
    assert.equal(connect.properties?.receiveMaximum, 2);
    const sub = await t.client.subscribeQueue([{ topic: "in/#", qos: 1 }]);
    // Two in flight, acked, then two more: within the limit.
    t.conn.send(inbound("in/a", "1", { qos: 1, packetId: 1 }));
    t.conn.send(inbound("in/a", "2", { qos: 1, packetId: 2 }));
    (await nextMessage(sub)).ack();
    (await nextMessage(sub)).ack();
    await t.conn.expect(PacketType.Puback);
    await t.conn.expect(PacketType.Puback);
    t.conn.send(inbound("in/a", "3", { qos: 1, packetId: 3 }));
    t.conn.send(inbound("in/a", "4", { qos: 1, packetId: 4 }));
    await nextMessage(sub);
    await nextMessage(sub);
    await settle();
    assert.equal(t.conn.isClosed, false, "two unacked are allowed");
    // A third and a fourth unacked exceed what we advertised (mosquitto 2.0.11 does this):
    // the client goes on, delivers them, says so once, and acks them in order.
    t.conn.send(inbound("in/a", "5", { qos: 1, packetId: 5 }));
    t.conn.send(inbound("in/a", "6", { qos: 1, packetId: 6 }));
    const m5 = await nextMessage(sub);
    const m6 = await nextMessage(sub);
    assert.deepEqual([m5.text(), m6.text()], ["5", "6"]);
    await settle();
    assert.equal(t.conn.isClosed, false, "no DISCONNECT 0x93: it would only loop");
    assert.equal(t.conn.all(PacketType.Disconnect).length, 0);
    assert.equal(t.client.stats().receiveMaximumExceeded, 2);
    const reported = events.filter((e) => e.type === "receive-maximum-exceeded");
    assert.deepEqual(reported, [{
      type: "receive-maximum-exceeded",
      receiveMaximum: 2,
      inFlight: 3,
    }]);
    assert.equal(warnings.filter((w) => w.includes("receiveMaximum")).length, 1, "warned once");
  },
);

// --- §4.6 ack order -------------------------------------------------------------

add(
  "Client sends PUBACKs in arrival order whatever order the application acks in [MQTT-4.6.0-2]",
  async () => {
    await using t = await start({ autoAckSubscribe: true });
    const sub = await t.client.subscribeQueue([{ topic: "o/#", qos: 1 }]);
    for (const id of [11, 12, 13]) {
      t.conn.send(
        inbound("o/x", String(id), { qos: 1, packetId: id }),
      );
    }
    const [m1, m2, m3] = [await nextMessage(sub), await nextMessage(sub), await nextMessage(sub)];
    assert.deepEqual([m1.packetId, m2.packetId, m3.packetId], [11, 12, 13]);
    m3.ack();
    await settle();
    assert.deepEqual(ids(t.conn.all(PacketType.Puback)), [], "no PUBACK while 1 is unacked");
    m1.ack();
    await settle();
    assert.deepEqual(ids(t.conn.all(PacketType.Puback)), [11]);
    m2.ack();
    await settle();
    assert.deepEqual(ids(t.conn.all(PacketType.Puback)), [11, 12, 13]);
  },
);

add(
  "Client sends PUBRECs in arrival order and answers PUBREL with PUBCOMP [MQTT-4.6.0-3]",
  async () => {
    await using t = await start({ autoAckSubscribe: true });
    const sub = await t.client.subscribeQueue([{ topic: "o2/#", qos: 2 }]);
    for (const id of [21, 22, 23]) {
      t.conn.send(
        inbound("o2/x", String(id), { qos: 2, packetId: id }),
      );
    }
    const [m1, m2, m3] = [await nextMessage(sub), await nextMessage(sub), await nextMessage(sub)];
    m3.ack();
    await settle();
    assert.deepEqual(ids(t.conn.all(PacketType.Pubrec)), [], "no PUBREC while 1 is unacked");
    m1.ack();
    await settle();
    assert.deepEqual(ids(t.conn.all(PacketType.Pubrec)), [21]);
    m2.ack();
    await settle();
    assert.deepEqual(ids(t.conn.all(PacketType.Pubrec)), [21, 22, 23]);
    for (const r of t.conn.all(PacketType.Pubrec)) assert.equal(r.reasonCode ?? 0, 0);
    for (const id of [21, 22, 23]) t.conn.send({ type: PacketType.Pubrel, packetId: id });
    await settle();
    const comps = t.conn.all(PacketType.Pubcomp);
    assert.deepEqual(ids(comps), [21, 22, 23]);
    for (const c of comps) assert.equal(c.reasonCode ?? 0, 0);
  },
);

add("Client does not deliver a QoS 2 redelivery (same packet id, DUP) twice", async () => {
  await using t = await start({ autoAckSubscribe: true });
  const sub = await t.client.subscribeQueue([{ topic: "d/#", qos: 2 }]);
  t.conn.send(inbound("d/x", "once", { qos: 2, packetId: 7 }));
  const m = await nextMessage(sub);
  // Redelivered before the application acked.
  t.conn.send(inbound("d/x", "once", { qos: 2, packetId: 7, dup: true }));
  await settle();
  assert.equal(sub.queue.length, 0, "not delivered again before PUBREC");
  m.ack();
  const rec = await t.conn.expect(PacketType.Pubrec);
  assert.equal(rec.packetId, 7);
  // Redelivered after PUBREC (the broker missed it): PUBREC again, no delivery.
  t.conn.send(inbound("d/x", "once", { qos: 2, packetId: 7, dup: true }));
  const rec2 = await t.conn.expect(PacketType.Pubrec);
  assert.equal(rec2.packetId, 7);
  await settle();
  assert.equal(sub.queue.length, 0, "not delivered again after PUBREC");
  t.conn.send({ type: PacketType.Pubrel, packetId: 7 });
  const comp = await t.conn.expect(PacketType.Pubcomp);
  assert.equal(comp.packetId, 7);
  // After PUBCOMP the packet id is free: a new message with it is new.
  t.conn.send(inbound("d/x", "again", { qos: 2, packetId: 7 }));
  const m2 = await nextMessage(sub);
  assert.equal(m2.text(), "again");
  m2.ack();
  await t.conn.expect(PacketType.Pubrec);
});

add("Client acks a message matching two subscriptions only after both acked it", async () => {
  await using t = await start({ autoAckSubscribe: true });
  const a = await t.client.subscribeQueue([{ topic: "m/#", qos: 1 }]);
  const b = await t.client.subscribeQueue([{ topic: "m/+", qos: 1 }]);
  t.conn.send(inbound("m/x", "both", { qos: 1, packetId: 5 }));
  const ma = await nextMessage(a);
  const mb = await nextMessage(b);
  assert.equal(ma.text(), "both");
  assert.equal(mb.text(), "both");
  ma.ack();
  ma.ack(); // idempotent: must not count for the other subscription
  await settle();
  assert.equal(t.conn.all(PacketType.Puback).length, 0, "no PUBACK until both acked");
  mb.ack();
  const ack = await t.conn.expect(PacketType.Puback);
  assert.equal(ack.packetId, 5);
  await settle();
  assert.equal(t.conn.all(PacketType.Puback).length, 1, "exactly one PUBACK");
});

// --- subscriptions ---------------------------------------------------------------

add(
  "Client delivers one copy per subscription when the broker sends one copy per subscription identifier",
  async () => {
    await using t = await start({ autoAckSubscribe: true });
    const a = await t.client.subscribeQueue([{ topic: "a/#", qos: 1 }]);
    const b = await t.client.subscribeQueue([{ topic: "a/+", qos: 1 }]);
    const [ida, idb] = t.conn.all(PacketType.Subscribe).map((s) =>
      s.properties?.subscriptionIdentifier
    );
    assert.ok(ida !== undefined && idb !== undefined && ida !== idb);
    t.conn.send(
      inbound("a/x", "for-a", {
        qos: 1,
        packetId: 1,
        properties: { subscriptionIdentifiers: [ida] },
      }),
    );
    t.conn.send(
      inbound("a/x", "for-b", {
        qos: 1,
        packetId: 2,
        properties: { subscriptionIdentifiers: [idb] },
      }),
    );
    const ma = await nextMessage(a);
    const mb = await nextMessage(b);
    await settle();
    assert.equal(ma.text(), "for-a");
    assert.equal(mb.text(), "for-b");
    assert.equal(a.queue.length, 0, "a/# got exactly one copy");
    assert.equal(b.queue.length, 0, "a/+ got exactly one copy");
    ma.ack();
    mb.ack();
    await settle();
    assert.deepEqual(ids(t.conn.all(PacketType.Puback)), [1, 2]);
    // One copy carrying both identifiers reaches each subscription once.
    t.conn.send(
      inbound("a/y", "shared", {
        qos: 1,
        packetId: 3,
        properties: { subscriptionIdentifiers: [ida, idb] },
      }),
    );
    const sa = await nextMessage(a);
    const sb = await nextMessage(b);
    await settle();
    assert.equal(a.queue.length + b.queue.length, 0, "one copy each");
    sa.ack();
    sb.ack();
    await settle();
    assert.deepEqual(ids(t.conn.all(PacketType.Puback)), [1, 2, 3]);
  },
);

add(
  "Client routes by subscription identifier when one SUBSCRIBE carried many filters",
  async () => {
    await using t = await start({ autoAckSubscribe: true });
    // More filters under one identifier than the client tests one by one.
    const many = Array.from({ length: 40 }, (_, i) => `w/${i}/+`);
    const a = await t.client.subscribeQueue([...many, "w/x/#"]);
    const b = await t.client.subscribeQueue(["w/#"]);
    const [ida, idb] = t.conn.all(PacketType.Subscribe).map((s) =>
      s.properties?.subscriptionIdentifier
    );
    assert.ok(ida !== undefined && idb !== undefined && ida !== idb);
    const send = (topic: string, subIds: number[]) =>
      t.conn.send(inbound(topic, topic, { properties: { subscriptionIdentifiers: subIds } }));
    send("w/7/t", [ida]); // a's w/7/+ matches; b's w/# too, but the broker named only a
    send("w/7/t", [idb]);
    send("w/x/y/z", [ida, idb]); // one copy for both
    send("w/none", [ida]); // no filter of a matches: nothing for a
    send("w/end", [idb]);
    const got = async (sub: typeof a, n: number) => {
      const topics: string[] = [];
      for (let i = 0; i < n; i++) topics.push((await nextMessage(sub)).topic);
      return topics;
    };
    assert.deepEqual(await got(b, 3), ["w/7/t", "w/x/y/z", "w/end"]);
    await settle();
    assert.deepEqual(await got(a, 2), ["w/7/t", "w/x/y/z"]);
    assert.equal(a.queue.length + b.queue.length, 0, "one copy per subscription named");
  },
);

add(
  "Client sends one SUBSCRIBE for a filter subscribed twice and UNSUBSCRIBE only when the last holder leaves",
  async () => {
    await using t = await start({ autoAckSubscribe: true, autoAckUnsubscribe: true });
    const first = await t.client.subscribeQueue(["dup/x"]);
    const second = await t.client.subscribeQueue(["dup/x"]);
    await settle();
    assert.equal(t.conn.all(PacketType.Subscribe).length, 1, "one SUBSCRIBE on the wire");
    t.conn.send(inbound("dup/x", "1"));
    assert.equal((await nextMessage(first)).text(), "1");
    assert.equal((await nextMessage(second)).text(), "1");
    await first.unsubscribe();
    await settle();
    assert.equal(t.conn.all(PacketType.Unsubscribe).length, 0, "the filter is still held");
    assert.equal(first.queue.closed, true, "the first subscription ended");
    t.conn.send(inbound("dup/x", "2"));
    assert.equal((await nextMessage(second)).text(), "2", "the second keeps delivering");
    await second.unsubscribe();
    const u = t.conn.all(PacketType.Unsubscribe);
    assert.equal(u.length, 1, "UNSUBSCRIBE once the last holder left");
    assert.deepEqual(u[0].topics, ["dup/x"]);
  },
);

add(
  "Client does not grant a second subscription to a filter whose pending SUBSCRIBE the broker refuses",
  async () => {
    await using t = await start();
    const first = t.client.subscribeQueue([{ topic: "pend/x", qos: 1 }]);
    first.catch(() => {});
    const s = await t.conn.expect(PacketType.Subscribe);
    // Same filter and options while the broker has not answered yet.
    const second = track(t.client.subscribeQueue([{ topic: "pend/x", qos: 1 }]));
    await settle();
    t.conn.send({ type: PacketType.Suback, packetId: s.packetId, reasonCodes: [0x87] });
    await rejectsWith(first, "subscribe-refused", { reasonCode: 0x87 });
    await waitUntil(() => second.settled, 1000, "the second subscribe settles");
    // The broker holds no subscription for pend/x: a subscription that
    // resolved would never deliver anything, and nobody would be told.
    const e = second.error;
    assert.ok(
      e instanceof MqttError && e.code === "subscribe-refused",
      `the second subscribe must share the refusal, got ${
        e === undefined ? "a live subscription" : e
      }`,
    );
  },
);

add(
  "Client rejects a partly refused SUBSCRIBE with subscribe-refused and keeps the granted filter",
  async () => {
    await using t = await start({ autoAckSubscribe: () => [0x00, 0x87] });
    let caught: unknown;
    try {
      await t.client.subscribeQueue(["p/ok", "p/no"]);
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof SubscribeError, `expected a SubscribeError, got ${caught}`);
    assert.equal(caught.code, "subscribe-refused");
    assert.equal(caught.reasonCode, 0x87);
    assert.deepEqual(caught.refused, [{ topic: "p/no", reasonCode: 0x87 }]);
    const sub = caught.subscription as QueueSubscription | undefined;
    assert.ok(sub !== undefined && "queue" in sub, "the granted subscription is returned");
    t.conn.send(inbound("p/ok", "granted"));
    const m = await nextMessage(sub);
    assert.equal(m.topic, "p/ok");
    assert.equal(m.text(), "granted");
    t.conn.send(inbound("p/no", "refused"));
    await settle();
    assert.equal(sub.queue.length, 0, "the refused filter delivers nothing");
    await assertUp(t.client, t.conn);
  },
);

add(
  "Client rejects a wholly refused SUBSCRIBE with subscribe-refused and no subscription",
  async () => {
    await using t = await start({ autoAckSubscribe: () => [0x87] });
    let caught: unknown;
    try {
      await t.client.subscribeQueue(["n/x"]);
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof SubscribeError, `expected a SubscribeError, got ${caught}`);
    assert.equal(caught.subscription, undefined);
    assert.deepEqual(caught.refused, [{ topic: "n/x", reasonCode: 0x87 }]);
    await assertUp(t.client, t.conn);
  },
);

// --- withheld and refused acks ---------------------------------------------------

add("Client keeps a QoS 1 publish pending while the broker withholds PUBACK", async () => {
  await using t = await start();
  const r = track(t.client.publish({ topic: "w/x", payload: "x", qos: 1 }));
  const p = await t.conn.expect(PacketType.Publish);
  assert.equal(p.qos, 1);
  await delay(50);
  assert.equal(r.settled, false, "pending while PUBACK is withheld");
  t.conn.send({ type: PacketType.Puback, packetId: p.packetId! });
  assert.deepEqual(await within(r.promise, 1000, "publish resolves"), { reasonCode: 0 });
});

add("Client rejects a publish refused by PUBACK 0x87 with publish-refused", async () => {
  await using t = await start();
  const r = t.client.publish({ topic: "w/x", payload: "x", qos: 1 });
  r.catch(() => {});
  const p = await t.conn.expect(PacketType.Publish);
  t.conn.send({
    type: PacketType.Puback,
    packetId: p.packetId!,
    reasonCode: 0x87,
    properties: { reasonString: "not authorized" },
  });
  await rejectsWith(r, "publish-refused", { reasonCode: 0x87 });
  await assertUp(t.client, t.conn);
});

add("Client rejects a QoS 2 publish refused by PUBREC 0x80 and sends no PUBREL", async () => {
  await using t = await start();
  const r = t.client.publish({ topic: "w/x", payload: "x", qos: 2 });
  r.catch(() => {});
  const p = await t.conn.expect(PacketType.Publish);
  assert.equal(p.qos, 2);
  t.conn.send({ type: PacketType.Pubrec, packetId: p.packetId!, reasonCode: 0x80 });
  await rejectsWith(r, "publish-refused", { reasonCode: 0x80 });
  await settle();
  assert.equal(t.conn.all(PacketType.Pubrel).length, 0, "no PUBREL after a refusing PUBREC");
  await assertUp(t.client, t.conn);
});

add(
  "Client completes a QoS 2 publish with PUBREL after PUBREC and resolves on PUBCOMP",
  async () => {
    await using t = await start();
    const r = track(t.client.publish({ topic: "w/x", payload: "x", qos: 2 }));
    const p = await t.conn.expect(PacketType.Publish);
    t.conn.send({ type: PacketType.Pubrec, packetId: p.packetId! });
    const rel = await t.conn.expect(PacketType.Pubrel);
    assert.equal(rel.packetId, p.packetId);
    await settle();
    assert.equal(r.settled, false, "pending until PUBCOMP");
    t.conn.send({ type: PacketType.Pubcomp, packetId: p.packetId! });
    assert.deepEqual(await within(r.promise, 1000, "publish resolves"), { reasonCode: 0 });
  },
);

add("Client resolves the right publishes when PUBACKs arrive out of order", async () => {
  await using t = await start();
  const a = track(t.client.publish({ topic: "o/a", payload: "a", qos: 1 }));
  const b = track(t.client.publish({ topic: "o/b", payload: "b", qos: 1 }));
  const c = track(t.client.publish({ topic: "o/c", payload: "c", qos: 1 }));
  const pa = await t.conn.expect(PacketType.Publish);
  const pb = await t.conn.expect(PacketType.Publish);
  const pc = await t.conn.expect(PacketType.Publish);
  assert.deepEqual([pa.topic, pb.topic, pc.topic], ["o/a", "o/b", "o/c"]);
  t.conn.send({
    type: PacketType.Puback,
    packetId: pc.packetId!,
    reasonCode: 0,
    properties: { reasonString: "c" },
  });
  await waitUntil(() => c.settled, 1000, "c settles");
  assert.equal(a.settled || b.settled, false, "a and b still pending");
  t.conn.send({ type: PacketType.Puback, packetId: pa.packetId!, reasonCode: 0x10 });
  await waitUntil(() => a.settled, 1000, "a settles");
  assert.equal(b.settled, false, "b still pending");
  t.conn.send({ type: PacketType.Puback, packetId: pb.packetId! });
  await waitUntil(() => b.settled, 1000, "b settles");
  assert.deepEqual(a.value, { reasonCode: 0x10 });
  assert.deepEqual(b.value, { reasonCode: 0 });
  assert.equal(c.value?.reasonCode, 0);
  assert.equal(c.value?.properties?.reasonString, "c");
});

// --- server DISCONNECT --------------------------------------------------------------

add(
  "Client reports a server DISCONNECT to onServerDisconnect and onConnectionDown, then reconnects",
  async () => {
    const events: string[] = [];
    let seen: { reasonCode?: number; properties?: Record<string, unknown> } | undefined;
    await using t = await start({}, {
      stats: true,
      onServerDisconnect: (d) => {
        events.push("server-disconnect");
        seen = d as typeof seen;
      },
      onConnectionDown: () => {
        events.push("connection-down");
      },
      onConnectionUp: () => {
        events.push("connection-up");
      },
    });
    assert.deepEqual(events, ["connection-up"]);
    t.conn.send({
      type: PacketType.Disconnect,
      reasonCode: 0x8b,
      properties: { reasonString: "shutting down", userProperties: [["k", "v"]] },
    });
    await within(t.conn.closed, 1000, "the connection closes");
    const second = await t.broker.nextConnection();
    await within(second.connect, 1000, "CONNECT on the new connection");
    await waitUntil(() => t.client.connected, 1000, "reconnected");
    assert.deepEqual(events, [
      "connection-up",
      "server-disconnect",
      "connection-down",
      "connection-up",
    ]);
    assert.equal(seen?.reasonCode, 0x8b);
    assert.equal(seen?.properties?.reasonString, "shutting down");
    assert.deepEqual(seen?.properties?.userProperties, [["k", "v"]]);
    assert.equal(t.client.stats().serverDisconnects, 1);
    assert.equal(
      t.conn.all(PacketType.Disconnect).length,
      0,
      "the client does not answer DISCONNECT",
    );
    await assertUp(t.client, second);
  },
);

add("Client stops reconnecting when onConnectionDown returns false", async () => {
  await using t = await start({}, { onConnectionDown: () => false });
  t.conn.send({ type: PacketType.Disconnect, reasonCode: 0x8b });
  await within(t.conn.closed, 1000, "the connection closes");
  await delay(60);
  assert.equal(t.broker.dials, 1, "no reconnect");
  assert.equal(t.client.connected, false);
});

// --- keep alive ------------------------------------------------------------------------

add("Client sends PINGREQ when idle for keepAliveSeconds", async () => {
  const t0 = Date.now();
  await using t = await start({}, { keepAliveSeconds: 1 });
  const connect = await t.conn.connect;
  assert.equal(connect.keepAlive, 1);
  await t.conn.waitForType(PacketType.Pingreq, { timeoutMs: 2500 });
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 700, `PINGREQ after ${elapsed} ms: too early for a 1 s keep alive`);
  await delay(50);
  assert.equal(t.conn.isClosed, false, "PINGRESP keeps the connection up");
  assert.equal(t.client.connected, true);
});

add(
  "Client declares the connection dead when PINGRESP does not come within pingTimeoutMs",
  async () => {
    await using t = await start({ autoPingresp: false }, {
      keepAliveSeconds: 1,
      pingTimeoutMs: 150,
      stats: true,
    });
    await t.conn.expect(PacketType.Pingreq, 2500);
    const sentAt = Date.now();
    await within(t.conn.closed, 1500, "the dead connection is closed");
    const took = Date.now() - sentAt;
    assert.ok(took >= 100, `closed ${took} ms after PINGREQ: before pingTimeoutMs`);
    assert.equal(t.client.stats().pingTimeouts, 1);
    const second = await t.broker.nextConnection();
    await within(second.connect, 1000, "reconnect after a ping timeout");
  },
);

add("Client does not send a Server-only reason code when it gives up on PINGRESP", async () => {
  await using t = await start({ autoPingresp: false }, { keepAliveSeconds: 1, pingTimeoutMs: 100 });
  await t.conn.expect(PacketType.Pingreq, 2500);
  await within(t.conn.closed, 1500, "the dead connection is closed");
  // §3.14.2.1 Table 3-10: 0x8D Keep Alive timeout is sent by the Server only;
  // §3.1.2.10 asks the client to close the network connection.
  for (const d of t.conn.all(PacketType.Disconnect)) {
    assert.notEqual(d.reasonCode, 0x8d, "0x8D is a Server-only DISCONNECT reason code");
  }
});

add("Client follows the Server Keep Alive of CONNACK instead of its own", async () => {
  const t0 = Date.now();
  await using t = await start(
    { connack: { properties: { serverKeepAlive: 2 } } },
    { keepAliveSeconds: 1 },
  );
  assert.equal(t.client.connack?.serverKeepAlive, 2);
  await t.conn.waitForType(PacketType.Pingreq, { timeoutMs: 3500 });
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 1700, `PINGREQ after ${elapsed} ms: the client used its own 1 s`);
  assert.ok(elapsed <= 3000, `PINGREQ after ${elapsed} ms: too late for 2 s`);
});

add("Client keeps the keep alive going while a subscriber never reads", async () => {
  await using t = await start({ autoAckSubscribe: true }, {
    keepAliveSeconds: 1,
    pingTimeoutMs: 300,
    stats: true,
  });
  // Subscribed, never read, dropping: the buffer (1) fills, the rest is dropped.
  const sub = await t.client.subscribe([{ topic: "k/#", qos: 1 }], {
    buffer: 1,
    dropPolicy: "drop-newest",
  });
  for (let i = 1; i <= 20; i++) t.conn.send(inbound("k/x", String(i), { qos: 1, packetId: i }));
  let n = 0;
  const flood = setInterval(() => {
    if (!t.conn.server.closed) t.conn.send(inbound("k/y", String(n++)));
  }, 50);
  try {
    await t.conn.waitForType(PacketType.Pingreq, { timeoutMs: 2000 });
    await delay(400); // past pingTimeoutMs: the PINGRESP must have been read
  } finally {
    clearInterval(flood);
  }
  assert.equal(t.client.stats().pingTimeouts, 0, "PINGRESP was processed");
  assert.equal(t.conn.isClosed, false, "the connection stayed up");
  assert.equal(t.conn.all(PacketType.Disconnect).length, 0);
  assert.ok(t.client.stats().inboundDropped > 0, "the unread subscription dropped messages");
  assert.ok(sub.token !== undefined);
});

// --- disconnect() and lifecycle errors ------------------------------------------------

add(
  "Client disconnect() sends DISCONNECT with the reason code, reason string and session expiry",
  async () => {
    await using t = await start();
    await t.client.disconnect({
      reasonCode: 0x04,
      reasonString: "bye",
      sessionExpirySeconds: 10,
      userProperties: [["who", "test"]],
    });
    const d = await t.conn.expect(PacketType.Disconnect);
    assert.equal(d.reasonCode, 0x04);
    assert.equal(d.properties?.reasonString, "bye");
    assert.equal(d.properties?.sessionExpiryInterval, 10);
    assert.deepEqual(d.properties?.userProperties, [["who", "test"]]);
    await within(t.conn.closed, 1000, "the connection closes");
    assert.equal(t.client.connected, false);
    await delay(30);
    assert.equal(t.broker.dials, 1, "no reconnect after disconnect()");
  },
);

add("Client disconnect() is idempotent", async () => {
  await using t = await start();
  const a = t.client.disconnect();
  const b = t.client.disconnect({ reasonCode: 0x04 });
  await Promise.all([a, b]);
  await t.client.disconnect();
  await within(t.conn.closed, 1000, "the connection closes");
  const ds = t.conn.all(PacketType.Disconnect);
  assert.equal(ds.length, 1, "one DISCONNECT");
  assert.equal(ds[0].reasonCode ?? 0, 0, "the first call's reason code");
});

add(
  "Client disconnect() rejects pending publishes and requests with closed and ends subscriptions",
  async () => {
    await using t = await start({ autoAckSubscribe: true });
    const iterSub = await t.client.subscribe([{ topic: "e/#", qos: 1 }]);
    const queueSub = await t.client.subscribeQueue(["f/#"]);
    const pending = t.client.publish({ topic: "e/x", payload: "x", qos: 1 });
    pending.catch(() => {});
    await t.conn.expect(PacketType.Publish); // PUBACK withheld
    t.broker.options.autoAckSubscribe = false;
    const pendingSub = t.client.subscribeQueue(["g/#"]);
    pendingSub.catch(() => {});
    await t.conn.expect(PacketType.Subscribe); // SUBACK withheld
    const it = iterSub[Symbol.asyncIterator]();
    const nextP = it.next();
    await t.client.disconnect();
    await rejectsWith(pending, "closed");
    await rejectsWith(pendingSub, "closed");
    const r = await within(nextP, 1000, "the iteration ends");
    assert.equal(r.done, true);
    assert.equal(queueSub.queue.closed, true);
    assert.equal(await queueSub.queue.dequeue(), undefined);
  },
);

add(
  "Client publish() and subscribe() reject with not-connected before connect() and closed after disconnect()",
  async () => {
    await using broker = new FakeBroker();
    const client = newClient(broker);
    try {
      await rejectsWith(client.publish({ topic: "a", payload: "x" }), "not-connected");
      await rejectsWith(client.publish({ topic: "a", payload: "x", qos: 1 }), "not-connected");
      await rejectsWith(client.subscribeQueue(["a"]), "not-connected");
      assert.equal(broker.dials, 0);
      await client.connect();
      await client.disconnect();
      await rejectsWith(client.publish({ topic: "a", payload: "x" }), "closed");
      await rejectsWith(client.publish({ topic: "a", payload: "x", qos: 1 }), "closed");
      await rejectsWith(client.subscribeQueue(["a"]), "closed");
      await rejectsWith(client.connect(), "closed");
    } finally {
      await client.disconnect();
    }
  },
);

add("Client connect() twice rejects with already-connected", async () => {
  await using broker = new FakeBroker();
  const client = newClient(broker);
  try {
    const first = client.connect();
    await rejectsWith(client.connect(), "already-connected");
    await first;
    await rejectsWith(client.connect(), "already-connected");
    assert.equal(broker.dials, 1);
    assert.equal(client.connected, true);
  } finally {
    await client.disconnect();
  }
});

add(
  "Client connect() rejects with connect-refused and the reason code of a refusing CONNACK",
  async () => {
    await using broker = new FakeBroker({
      connack: { reasonCode: 0x86, properties: { reasonString: "bad user" } },
    });
    const client = newClient(broker);
    try {
      await rejectsWith(client.connect(), "connect-refused", { reasonCode: 0x86 });
      assert.equal(client.connected, false);
      const conn = await broker.nextConnection();
      await within(conn.closed, 1000, "the refused connection is closed");
      await delay(40);
      assert.equal(broker.dials, 1, "a refused connect() is not retried by the supervisor");
    } finally {
      await client.disconnect();
    }
  },
);

add("Client connect() rejects with connect-timeout when no CONNACK comes", async () => {
  await using broker = new FakeBroker({ connack: false });
  const client = newClient(broker, { connectTimeoutMs: 100 });
  try {
    const t0 = Date.now();
    await rejectsWith(client.connect(), "connect-timeout");
    assert.ok(Date.now() - t0 >= 90, "not before connectTimeoutMs");
    const conn = await broker.nextConnection();
    await within(conn.closed, 1000, "the half-open connection is closed");
    assert.equal(client.connected, false);
  } finally {
    await client.disconnect();
  }
});

add("Client rejects connect() when a PUBLISH comes before CONNACK", async () => {
  await using broker = new FakeBroker({ connack: false });
  const client = newClient(broker);
  try {
    const connecting = client.connect();
    connecting.catch(() => {});
    const conn = await broker.nextConnection();
    await conn.connect;
    conn.send(inbound("early/x", "x"));
    await rejectsWith(connecting, "unexpected-packet");
    await within(conn.closed, 1000, "the connection is closed");
    assert.equal(client.connected, false);
  } finally {
    await client.disconnect();
  }
});

add(
  "Client sends DISCONNECT 0x82 for a PUBLISH before CONNACK, as it does after CONNACK",
  async () => {
    await using broker = new FakeBroker({ connack: false });
    const client = newClient(broker);
    try {
      const connecting = client.connect();
      connecting.catch(() => {});
      const conn = await broker.nextConnection();
      await conn.connect;
      conn.send(inbound("early/x", "x"));
      await assert.rejects(connecting);
      await within(conn.closed, 1000, "the connection is closed");
      // §4.13.1: a Client that detects a Protocol Error SHOULD send DISCONNECT
      // with the reason code before closing; #protocolFailure queues it, but the
      // failed connect() tears the link down before it is written.
      const ds = conn.all(PacketType.Disconnect);
      assert.deepEqual(ds.map((d) => d.reasonCode), [0x82]);
    } finally {
      await client.disconnect();
    }
  },
);

add(
  "Client never sends a Subscription Identifier in an outbound PUBLISH [MQTT-3.3.4-6]",
  async () => {
    await using t = await start({ autoAckPublish: true });
    // For example, the properties of a received message passed on unchanged.
    const results = [
      track(t.client.publish({
        topic: "fwd/a",
        payload: "0",
        properties: { subscriptionIdentifiers: [5] },
      })),
      track(t.client.publish({
        topic: "fwd/b",
        payload: "1",
        qos: 1,
        properties: { subscriptionIdentifiers: [5] },
      })),
    ];
    await waitUntil(() => results.every((r) => r.settled), 1000, "publishes settle");
    await settle();
    for (const p of t.conn.all(PacketType.Publish)) {
      assert.equal(
        p.properties?.subscriptionIdentifiers,
        undefined,
        `PUBLISH ${p.topic} carries a Subscription Identifier to the broker`,
      );
    }
  },
);

add(
  "Client replays an unacked QoS 1 publish with DUP=1 and without its topic alias after a reconnect",
  async () => {
    await using t = await start({
      connack: (_c, conn) => ({
        sessionPresent: conn.index > 0,
        properties: { topicAliasMaximum: 5 },
      }),
    });
    const r = track(
      t.client.publish({ topic: "rp/x", payload: "x", qos: 1, properties: { topicAlias: 2 } }),
    );
    const first = await t.conn.expect(PacketType.Publish);
    assert.equal(first.dup, false);
    assert.equal(first.properties?.topicAlias, 2);
    t.conn.close();
    const second = await t.broker.nextConnection();
    const again = await second.expect(PacketType.Publish);
    assert.equal(again.dup, true, "replayed with DUP=1");
    assert.equal(again.packetId, first.packetId, "same packet identifier");
    assert.equal(again.topic, "rp/x");
    assert.equal(again.properties?.topicAlias, undefined, "aliases do not survive a connection");
    assert.equal(r.settled, false, "still pending across the reconnect");
    second.send({ type: PacketType.Puback, packetId: again.packetId! });
    assert.deepEqual(await within(r.promise, 1000, "publish resolves"), { reasonCode: 0 });
  },
);

add(
  "Client replays PUBREL, not the PUBLISH, for a QoS 2 publish the broker already received",
  async () => {
    await using t = await start({
      connack: (_c, conn) => ({ sessionPresent: conn.index > 0 }),
    });
    const r = track(t.client.publish({ topic: "rp/2", payload: "x", qos: 2 }));
    const p = await t.conn.expect(PacketType.Publish);
    t.conn.send({ type: PacketType.Pubrec, packetId: p.packetId! });
    await t.conn.expect(PacketType.Pubrel);
    t.conn.close();
    const second = await t.broker.nextConnection();
    const rel = await second.expect(PacketType.Pubrel);
    assert.equal(rel.packetId, p.packetId);
    assert.equal(second.all(PacketType.Publish).length, 0, "the PUBLISH is not sent again");
    second.send({ type: PacketType.Pubcomp, packetId: p.packetId! });
    assert.deepEqual(await within(r.promise, 1000, "publish resolves"), { reasonCode: 0 });
  },
);

// --- the write queue -------------------------------------------------------------------

add(
  "Client rejects QoS 0 publishes with write-queue-full under drop-newest while writes are held",
  async () => {
    await using t = await start({}, { writeQueueSize: 2, writeOverflowPolicy: "drop-newest" });
    t.conn.client.holdWrites();
    await t.client.publish({ topic: "wq/x", payload: "0" });
    await settle(); // the first write is in flight (held)
    const results = Array.from(
      { length: 6 },
      (_, i) => track(t.client.publish({ topic: "wq/x", payload: String(i + 1) })),
    );
    await settle();
    const accepted = results.filter((r) => r.error === undefined).length;
    assert.ok(results.every((r) => r.settled), "drop-newest never waits");
    assert.ok(accepted <= 2, `at most writeQueueSize (2) queued, ${accepted} accepted`);
    for (let i = 0; i < results.length; i++) {
      if (i < accepted) continue;
      const e = results[i].error;
      assert.ok(e instanceof MqttError && e.code === "write-queue-full", `publish ${i + 1}: ${e}`);
    }
    t.conn.client.releaseWrites();
    await waitUntil(
      () => t.conn.all(PacketType.Publish).length === 1 + accepted,
      1000,
      "accepted publishes written",
    );
    await settle();
    assert.deepEqual(
      t.conn.all(PacketType.Publish).map(text),
      Array.from({ length: 1 + accepted }, (_, i) => String(i)),
      "the dropped publishes never reach the broker",
    );
    await assertUp(t.client, t.conn);
  },
);

add(
  "Client blocks QoS 0 publishes on a full write queue under block and sends them when writes resume",
  async () => {
    await using t = await start({}, { writeQueueSize: 2, writeOverflowPolicy: "block" });
    t.conn.client.holdWrites();
    await t.client.publish({ topic: "wb/x", payload: "0" });
    await settle();
    const results = Array.from(
      { length: 5 },
      (_, i) => track(t.client.publish({ topic: "wb/x", payload: String(i + 1) })),
    );
    await settle(40);
    assert.ok(results.some((r) => !r.settled), "some publishes wait for room");
    assert.ok(results.every((r) => r.error === undefined), "block never rejects");
    t.conn.client.releaseWrites();
    await waitUntil(() => results.every((r) => r.settled), 1000, "blocked publishes resolve");
    for (const r of results) assert.deepEqual(r.value, { reasonCode: 0 });
    await waitUntil(() => t.conn.all(PacketType.Publish).length === 6, 1000, "all written");
    assert.deepEqual(t.conn.all(PacketType.Publish).map(text), ["0", "1", "2", "3", "4", "5"]);
  },
);

add("Client resolves a wait-for-flush publish only after the write completed", async () => {
  await using t = await start({}, { publishMode: "wait-for-flush" });
  t.conn.client.holdWrites();
  const r = track(t.client.publish({ topic: "wf/x", payload: "x" }));
  await settle(40);
  assert.equal(r.settled, false, "pending while the write is held");
  assert.equal(t.conn.all(PacketType.Publish).length, 0);
  t.conn.client.releaseWrites();
  assert.deepEqual(await within(r.promise, 1000, "publish resolves"), { reasonCode: 0 });
  const p = await t.conn.expect(PacketType.Publish);
  assert.equal(p.topic, "wf/x");
});

// --- constructor validation ------------------------------------------------------------

add("Client constructor rejects a missing broker with missing-broker", () => {
  throwsCode(() => new Client({}), "missing-broker", "{}");
  throwsCode(() => new Client({ brokers: [] }), "missing-broker", "brokers: []");
  return Promise.resolve();
});

add("Client constructor rejects a bad broker URL with invalid-broker-url", () => {
  throwsCode(() => new Client({ broker: "not a url" }), "invalid-broker-url", "not a url");
  throwsCode(() => new Client({ broker: "" }), "invalid-broker-url", "empty");
  throwsCode(
    () => new Client({ broker: "ws://localhost:8080/mqtt" }),
    "invalid-broker-url",
    "ws:// without dial",
  );
  throwsCode(
    () => new Client({ broker: "wss://localhost/mqtt" }),
    "invalid-broker-url",
    "wss:// without dial",
  );
  throwsCode(() => new Client({ broker: "http://localhost:1883" }), "invalid-broker-url", "http");
  throwsCode(
    () => new Client({ brokers: ["mqtt://ok:1883", "ftp://x"] }),
    "invalid-broker-url",
    "second of brokers",
  );
  // Accepted forms do not throw.
  for (const url of ["mqtt://h", "tcp://h:1", "mqtts://h", "tls://h", "ssl://h"]) {
    new Client({ broker: url });
  }
  return Promise.resolve();
});

add("Client constructor rejects a broker URL without a scheme, naming mqtt:// as the fix", () => {
  const dial = () => Promise.reject(new Error("unused"));
  const cases: [string, string][] = [
    ["localhost:1883", "mqtt://localhost:1883"],
    ["127.0.0.1:1883", "mqtt://127.0.0.1:1883"],
    ["localhost", "mqtt://localhost"],
    ["broker.example.com:8883", "mqtt://broker.example.com:8883"],
    ["[::1]:1883", "mqtt://[::1]:1883"],
    ["alice:s3cr3t@localhost:1883", "mqtt://localhost:1883"],
  ];
  for (const [broker, fix] of cases) {
    for (const withDial of [false, true]) {
      assert.throws(
        () => new Client(withDial ? { broker, dial } : { broker }),
        (err: unknown) => {
          assert.ok(err instanceof MqttError, `${broker}: expected an MqttError, got ${err}`);
          assert.equal(err.code, "invalid-broker-url", `${broker}: ${err.message}`);
          // The message is the fix: the URL with mqtt:// in front.
          assert.ok(err.message.includes(fix), `${broker}: names ${fix}: ${err.message}`);
          assert.ok(!err.message.includes("s3cr3t"), `${broker}: no credentials in the message`);
          return true;
        },
      );
    }
  }
  // A real scheme still says it needs a dial function; with one it is accepted.
  assert.throws(
    () => new Client({ broker: "foo://x" }),
    (err: unknown) => {
      assert.ok(err instanceof MqttError && err.code === "invalid-broker-url");
      assert.ok(!err.message.includes("mqtt://"), err.message);
      return true;
    },
  );
  new Client({ broker: "foo://x", dial });
  return Promise.resolve();
});

add("Client constructor throws TypeError for options of the wrong type", () => {
  const bad: Record<string, unknown>[] = [
    { keepAliveSeconds: "30" },
    { clientId: 5 },
    { cleanStart: "yes" },
    { password: 5 },
    { dial: "tcp" },
    { reconnectBackoff: 5 },
    { onConnectionUp: true },
    { brokers: "mqtt://h" },
    { connectUserProperties: [["a"]] },
    { writeQueueSize: "big" },
  ];
  for (const extra of bad) {
    assert.throws(
      () => new Client({ broker: "mqtt://h", ...extra } as ClientOptions),
      TypeError,
      JSON.stringify(extra),
    );
  }
  return Promise.resolve();
});

add("Client constructor throws RangeError for options out of range", () => {
  const bad: Record<string, unknown>[] = [
    { keepAliveSeconds: 65536 },
    { keepAliveSeconds: -1 },
    { receiveMaximum: 0 },
    { receiveMaximum: 65536 },
    { maximumPacketSize: -1 },
    { writeQueueSize: 0 },
    { connectTimeoutMs: 0 },
    { pingTimeoutMs: 0 },
    { inboundTopicAliasMaximum: 65536 },
    { sessionExpirySeconds: 2 ** 32 },
  ];
  for (const extra of bad) {
    assert.throws(
      () => new Client({ broker: "mqtt://h", ...extra } as ClientOptions),
      RangeError,
      JSON.stringify(extra),
    );
  }
  assert.throws(
    () => new Client({ broker: "mqtt://h", writeOverflowPolicy: "bogus" as "block" }),
    RangeError,
    "unknown writeOverflowPolicy",
  );
  return Promise.resolve();
});

// --- status() ----------------------------------------------------------------

add(
  "Client.status() reports connected, server-disconnect, disconnected, reconnecting, dropped and closed",
  async () => {
    await using t = await start();
    const events: string[] = [];
    const stream = t.client.status();
    const reading = (async () => {
      for await (const e of stream) {
        if (e.type === "reconnecting") {
          events.push(`reconnecting ${e.attempt} ${e.url}`);
        } else if (e.type === "server-disconnect") {
          events.push(`server-disconnect 0x${e.reasonCode.toString(16)} ${e.reasonString}`);
        } else if (e.type === "disconnected") {
          events.push(`disconnected ${e.reasonCode ?? "-"}`);
        } else if (e.type === "dropped") {
          events.push(`dropped ${e.count}`);
        } else {
          events.push(e.type);
        }
      }
    })();
    t.conn.send({
      type: PacketType.Disconnect,
      reasonCode: 0x8b,
      properties: { reasonString: "maintenance" },
    });
    const second = await t.broker.nextConnection();
    await waitUntil(() => t.client.connected, 2000, "reconnected");
    // A subscription with a buffer of 1 drops the second message.
    t.broker.options.autoAckSubscribe = true;
    const sub = await t.client.subscribe(["s/#"], { buffer: 1, dropPolicy: "drop-newest" });
    for (let i = 0; i < 2; i++) {
      second.send({
        type: PacketType.Publish,
        topic: "s/x",
        payload: encoder.encode(`${i}`),
        qos: 0,
        retain: false,
        dup: false,
      });
    }
    await waitUntil(() => events.includes("dropped 1"), 2000, "dropped event");
    await sub.unsubscribe({ signal: AbortSignal.timeout(1000) }).catch(() => {});
    await t.client.disconnect();
    await within(reading, 2000, "the stream ends after closed");
    assert.deepEqual(events, [
      "server-disconnect 0x8b maintenance",
      "disconnected 139",
      "reconnecting 1 mqtt://fake:1883",
      "connected",
      "dropped 1",
      "disconnected -",
      "closed",
    ]);
  },
);

add("Client.status() bounds a slow reader: the oldest events are dropped and counted", async () => {
  await using t = await start();
  const stream = t.client.status();
  // 300 drops produce 300 "dropped" events while nobody reads: 256 are kept.
  t.broker.options.autoAckSubscribe = true;
  const sub = await t.client.subscribe(["s/#"], { buffer: 1, dropPolicy: "drop-newest" });
  for (let i = 0; i < 301; i++) {
    t.conn.send({
      type: PacketType.Publish,
      topic: "s/x",
      payload: encoder.encode(`${i}`),
      qos: 0,
      retain: false,
      dup: false,
    });
  }
  await waitUntil(() => stream.dropped >= 44, 2000, "the stream dropped its oldest events");
  assert.equal(stream.dropped, 44);
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.value?.type, "dropped");
  // The oldest kept is drop number 45: numbers 1..44 were dropped from the stream.
  assert.equal(first.value?.type === "dropped" && first.value.count, 45);
  await it.return?.();
  await sub.unsubscribe({ signal: AbortSignal.timeout(1000) }).catch(() => {});
});

add(
  "Client follows a CONNACK 0x9D (Server moved) redirect through onServerDisconnect + setBrokers",
  async () => {
    const broker = new FakeBroker({
      timeoutMs: 2000,
      connack: (_connect, conn) =>
        conn.index === 0
          ? { reasonCode: 0x9d, properties: { serverReference: "mqtt://moved.example:1884" } }
          : {},
    });
    const urls: string[] = [];
    const seen: number[] = [];
    const client: Client = newClient(broker, {
      dial: (url, options) => {
        urls.push(url.href);
        return broker.dial(url, options);
      },
      onServerDisconnect: (d) => {
        seen.push(d.reasonCode ?? 0);
        const ref = d.properties?.serverReference;
        if (ref !== undefined) client.setBrokers(ref);
      },
    });
    try {
      // connect() itself goes on with the list set from onServerDisconnect.
      await within(client.connect(), 2000, "connect() reaching the new server");
      assert.deepEqual(seen, [0x9d]);
      assert.deepEqual(urls, ["mqtt://fake:1883", "mqtt://moved.example:1884"]);
    } finally {
      await client.disconnect();
      await broker[Symbol.asyncDispose]();
    }
  },
);

// --- ending a subscription during an outage ---------------------------------

add(
  "Client: leaving a for-await loop while disconnected returns at once; UNSUBSCRIBE goes out on the next connection",
  async () => {
    let backoff = 0;
    await using t = await start({ autoAckSubscribe: true }, { reconnectBackoff: () => backoff });
    const sub = await t.client.subscribeQueue(["outage/x"]);
    t.conn.send(inbound("outage/x", "1"));
    await waitUntil(() => sub.queue.length === 1, 1000, "the message is buffered");
    backoff = 400; // the next dial waits: the client stays offline meanwhile
    t.conn.close();
    await waitUntil(() => !t.client.connected, 1000, "client sees the connection lost");
    const started = Date.now();
    const loop = (async () => {
      for await (const m of sub) {
        assert.equal(m.text(), "1");
        break; // return() unsubscribes while offline
      }
    })();
    await within(loop, 300, "leaving the loop while offline");
    assert.ok(Date.now() - started < 300, "did not wait for the broker");
    const second = await t.broker.nextConnection(2000);
    const u = (await second.expect(PacketType.Unsubscribe)) as { topics: string[] };
    assert.deepEqual(u.topics, ["outage/x"], "the UNSUBSCRIBE was kept for the next connection");
  },
);

add(
  "Client: disposing a subscription waits for UNSUBACK while connected, and stops waiting when the connection drops",
  async () => {
    await using t = await start({ autoAckSubscribe: true }, { reconnectBackoff: () => 5000 });
    const answered = await t.client.subscribe(["dispose/a"]);
    let done = false;
    const d1 = Promise.resolve(answered[Symbol.asyncDispose]()).then(() => done = true);
    const u = await t.conn.expect(PacketType.Unsubscribe);
    await delay(50);
    assert.equal(done, false, "still waiting for UNSUBACK");
    t.conn.send({ type: PacketType.Unsuback, packetId: u.packetId, reasonCodes: [0] });
    await within(d1, 1000, "dispose resolves on UNSUBACK");

    const unanswered = await t.client.subscribe(["dispose/b"]);
    const d2 = Promise.resolve(unanswered[Symbol.asyncDispose]());
    await t.conn.expect(PacketType.Unsubscribe); // never answered
    t.conn.close();
    await within(d2, 500, "dispose resolves once the connection drops");
  },
);

add(
  "Client: a replay that no longer encodes (properties changed after publish) fails only its own publish",
  async () => {
    await using t = await start({
      connack: (_c, conn) => ({ sessionPresent: conn.index > 0 }),
    });
    const properties: { userProperties: [string, string][] } = { userProperties: [["k", "v"]] };
    const bad = track(t.client.publish({ topic: "rp/bad", payload: "x", qos: 1, properties }));
    const good = track(t.client.publish({ topic: "rp/good", payload: "y", qos: 1 }));
    await t.conn.expect(PacketType.Publish);
    await t.conn.expect(PacketType.Publish);
    properties.userProperties.push(["k2", "nul \u0000 inside"]); // now refused by the encoder
    t.conn.close();
    const second = await t.broker.nextConnection();
    const again = await second.expect(PacketType.Publish);
    assert.equal(again.topic, "rp/good", "only the flow that still encodes is replayed");
    await assert.rejects(within(bad.promise, 1000, "the bad publish settles"), TypeError);
    second.send({ type: PacketType.Puback, packetId: again.packetId! });
    assert.deepEqual(await within(good.promise, 1000, "the good publish resolves"), {
      reasonCode: 0,
    });
    await assertUp(t.client, second);
    assert.equal(t.broker.dials, 2, "no reconnect loop");
  },
);

// --- inbound acks across a reconnect, and after DISCONNECT -------------------

const resumes = {
  connack: (_c: unknown, conn: { index: number }) => ({ sessionPresent: conn.index > 0 }),
  autoAckSubscribe: true,
};

add(
  "Client: QoS 1 messages unacked when the connection drops do not count against Receive Maximum once the session resumes",
  async () => {
    await using t = await start(resumes, { receiveMaximum: 2 });
    const sub = await t.client.subscribeQueue([{ topic: "in/#", qos: 1 }]);
    t.conn.send(inbound("in/a", "1", { qos: 1, packetId: 1 }));
    t.conn.send(inbound("in/a", "2", { qos: 1, packetId: 2 }));
    const m1 = await nextMessage(sub);
    const m2 = await nextMessage(sub);
    t.conn.close();
    const second = await t.broker.nextConnection();
    await waitUntil(() => t.client.connected, 1000, "reconnected");
    // The broker must send both again [MQTT-4.4.0-1]: two in flight, within the maximum.
    second.send(inbound("in/a", "1", { qos: 1, packetId: 1, dup: true }));
    second.send(inbound("in/a", "2", { qos: 1, packetId: 2, dup: true }));
    const again1 = await nextMessage(sub);
    const again2 = await nextMessage(sub);
    assert.equal(second.all(PacketType.Disconnect).length, 0, "no DISCONNECT 0x93");
    m1.ack();
    m2.ack(); // the old connection's slots: no PUBACK from them
    again1.ack();
    again2.ack();
    await settle();
    assert.deepEqual(second.all(PacketType.Puback).map((p) => p.packetId), [1, 2]);
    await assertUp(t.client, second);
  },
);

add(
  "Client: acking a message from the lost connection never PUBACKs a newer message that reuses its packet id",
  async () => {
    await using t = await start(resumes);
    const sub = await t.client.subscribeQueue([{ topic: "in/#", qos: 1 }]);
    t.conn.send(inbound("in/a", "old", { qos: 1, packetId: 1 }));
    const old = await nextMessage(sub);
    t.conn.close();
    const second = await t.broker.nextConnection();
    await waitUntil(() => t.client.connected, 1000, "reconnected");
    second.send(inbound("in/a", "old", { qos: 1, packetId: 1, dup: true }));
    const again = await nextMessage(sub);
    again.ack();
    await second.expect(PacketType.Puback); // id 1 is complete for the broker
    second.send(inbound("in/a", "new", { qos: 1, packetId: 1 }));
    const fresh = await nextMessage(sub);
    assert.equal(fresh.text(), "new");
    old.ack(); // late ack of the first delivery
    await settle();
    assert.equal(
      second.all(PacketType.Puback).length,
      1,
      "the new message is not acked for the app",
    );
    fresh.ack();
    await settle();
    assert.equal(second.all(PacketType.Puback).length, 2);
  },
);

add(
  "Client sends nothing after its DISCONNECT, not even a PUBACK for a PUBLISH arriving meanwhile",
  async () => {
    await using t = await start({ autoAckSubscribe: true });
    const got: string[] = [];
    await t.client.subscribeCallback([{ topic: "q/#", qos: 1 }], (m) => got.push(m.topic));
    t.conn.client.holdWrites();
    const closing = t.client.disconnect();
    await settle();
    t.conn.send(inbound("q/x", "1", { qos: 1, packetId: 9 }));
    await settle();
    t.conn.client.releaseWrites();
    await closing;
    await settle();
    const after = t.conn.all(PacketType.Disconnect).length;
    assert.equal(after, 1, "DISCONNECT sent");
    assert.equal(
      t.conn.all(PacketType.Puback).length,
      0,
      "no PUBACK after DISCONNECT [MQTT-3.14.4-1]",
    );
    assert.deepEqual(got, [], "nothing processed after disconnect()");
  },
);

// --- the limits of a new CONNACK, and PUBCOMP out of turn ---------------------

add(
  "Client applies a new connection's CONNACK limits to replayed and queued publishes",
  async () => {
    await using t = await start({
      connack: (_c, conn) =>
        conn.index === 0 ? { properties: { receiveMaximum: 1, topicAliasMaximum: 10 } } : {
          sessionPresent: true,
          properties: { maximumQoS: 1, retainAvailable: false, topicAliasMaximum: 0 },
        },
    });
    const a = track(t.client.publish({ topic: "lim/a", payload: "a", qos: 2, retain: true }));
    const b = track(t.client.publish({ topic: "lim/b", payload: "b", qos: 1, retain: true }));
    const c = track(
      t.client.publish({ topic: "lim/c", payload: "c", qos: 1, properties: { topicAlias: 7 } }),
    );
    await t.conn.expect(PacketType.Publish); // a; b and c wait behind Receive Maximum 1
    t.conn.close();
    const second = await t.broker.nextConnection();
    const sent = (await second.expect(PacketType.Publish)) as {
      topic: string;
      properties?: { topicAlias?: number };
      packetId?: number;
    };
    assert.equal(sent.topic, "lim/c", "only the publish the new limits allow");
    assert.equal(
      sent.properties?.topicAlias,
      undefined,
      "the alias the broker no longer allows is dropped",
    );
    await assert.rejects(
      within(a.promise, 1000, "a"),
      (e: unknown) => (e as MqttError).code === "qos-not-supported",
    );
    await assert.rejects(
      within(b.promise, 1000, "b"),
      (e: unknown) => (e as MqttError).code === "retain-not-supported",
    );
    second.send({ type: PacketType.Puback, packetId: sent.packetId! });
    assert.deepEqual(await within(c.promise, 1000, "c"), { reasonCode: 0 });
    await settle();
    assert.equal(second.all(PacketType.Publish).length, 1);
    await assertUp(t.client, second);
  },
);

add(
  "Client answers a PUBCOMP before PUBREL with DISCONNECT 0x82 and keeps the publish pending",
  async () => {
    await using t = await start(
      { connack: (_c, conn) => ({ sessionPresent: conn.index > 0 }) },
      { reconnectBackoff: () => 0 },
    );
    const r = track(t.client.publish({ topic: "pc/x", payload: "x", qos: 2 }));
    const p = await t.conn.expect(PacketType.Publish);
    t.conn.send({ type: PacketType.Pubcomp, packetId: p.packetId! });
    const d = await t.conn.expect(PacketType.Disconnect);
    assert.equal(d.reasonCode, 0x82);
    assert.equal(r.settled, false, "not confirmed by an out-of-turn PUBCOMP");
    const second = await t.broker.nextConnection();
    const again = await second.expect(PacketType.Publish);
    assert.equal(again.dup, true);
    second.send({ type: PacketType.Pubrec, packetId: again.packetId! });
    await second.expect(PacketType.Pubrel);
    second.send({ type: PacketType.Pubcomp, packetId: again.packetId! });
    assert.deepEqual(await within(r.promise, 1000, "publish resolves"), { reasonCode: 0 });
  },
);

add(
  "Client.connect() follows a redirect the application applies with setBrokers() during it",
  async () => {
    await using one = new FakeBroker({
      timeoutMs: 1000,
      connack: () => ({ reasonCode: 0x9c, properties: { serverReference: "mqtt://two:1883" } }),
    });
    await using two = new FakeBroker({ timeoutMs: 1000 });
    const client: Client = new Client({
      broker: "mqtt://one:1883",
      dial: (url, o) => (url.hostname === "two" ? two.dial(url, o) : one.dial(url, o)),
      reconnectBackoff: () => 10,
      connectTimeoutMs: 2000,
      onServerDisconnect: (p) => {
        const ref = p.properties?.serverReference;
        if (ref !== undefined) client.setBrokers(ref);
      },
    });
    try {
      const info = await within(client.connect(), 2000, "connect()");
      assert.equal(info.reasonCode ?? 0, 0);
      assert.equal(one.dials, 1);
      assert.equal(two.dials, 1, "the new broker was dialled by connect() itself");
    } finally {
      await client.disconnect();
    }
  },
);

// --- spec gaps of the first round ---------------------------------------------

add(
  "Client closes the connection with DISCONNECT 0x82 when CONNACK says Session Present to a Clean Start CONNECT [MQTT-3.2.2-4]",
  async () => {
    await using broker = new FakeBroker({ timeoutMs: 1000, connack: { sessionPresent: true } });
    const client = newClient(broker); // cleanStart: true by default
    try {
      await rejectsWith(client.connect(), "protocol-error", { reasonCode: 0x82 });
      const conn = broker.connections[0];
      assert.equal((await conn.connect).cleanStart, true);
      const d = await conn.expect(PacketType.Disconnect);
      assert.equal(d.reasonCode, 0x82);
      await within(conn.closed, 1000, "the client closes the connection");
      assert.equal(client.connected, false);
    } finally {
      await client.disconnect();
    }
  },
);

add(
  "Client refuses a Response Topic with a wildcard before anything is written, in a publish and in the will [MQTT-3.3.2-14]",
  async () => {
    await using t = await start();
    for (const qos of [0, 1, 2] as const) {
      for (const responseTopic of ["replies/+", "replies/#", ""]) {
        await assert.rejects(
          t.client.publish({ topic: "req", payload: "x", qos, properties: { responseTopic } }),
          TypeError,
          `qos ${qos}, responseTopic "${responseTopic}"`,
        );
      }
    }
    await settle();
    assert.equal(t.conn.all(PacketType.Publish).length, 0, "nothing went on the wire");
    await assertUp(t.client, t.conn);
    assert.throws(
      () =>
        new Client({
          broker: "mqtt://fake:1883",
          will: { topic: "status", properties: { responseTopic: "replies/#" } },
        }),
      TypeError,
      "a will with a wildcard Response Topic",
    );
  },
);

add(
  "Client answers a PUBLISH whose Response Topic holds a wildcard with DISCONNECT 0x82 [MQTT-3.3.2-14]",
  async () => {
    await using t = await start();
    t.conn.send(inbound("req", "x", { properties: { responseTopic: "replies/good" } }));
    await settle();
    assert.equal(t.conn.isClosed, false, "a valid Response Topic is fine");
    // Encoded by hand: the encoder refuses it. PUBLISH "t", properties: 0x08 "r/#".
    t.conn.sendRaw(
      new Uint8Array([
        0x30,
        0x0b,
        0x00,
        0x01,
        0x74,
        0x06,
        0x08,
        0x00,
        0x03,
        0x72,
        0x2f,
        0x23,
        0x78,
      ]),
    );
    const d = await t.conn.expect(PacketType.Disconnect);
    assert.equal(d.reasonCode, 0x82);
  },
);

add(
  "Client rejects every call given an already-aborted signal with signal.reason, and sends nothing",
  async () => {
    await using t = await start({ autoAckSubscribe: true, autoAckUnsubscribe: true });
    const sub = await t.client.subscribe([{ topic: "ab/#", qos: 1 }]);
    await settle();
    const before = t.conn.received.length;
    const reason = new Error("gave up already");
    const signal = AbortSignal.abort(reason);
    const calls: [string, () => Promise<unknown>][] = [
      ["publish qos 0", () => t.client.publish({ topic: "ab/x", payload: "0" }, { signal })],
      [
        "publish qos 1",
        () => t.client.publish({ topic: "ab/x", payload: "1", qos: 1 }, { signal }),
      ],
      ["subscribe", () => t.client.subscribe(["ab2/#"], { signal })],
      ["subscribeQueue", () => t.client.subscribeQueue(["ab2/#"], { signal })],
      ["subscribeCallback", () => t.client.subscribeCallback(["ab2/#"], () => {}, { signal })],
      ["unsubscribe", () => t.client.unsubscribe(sub.token, { signal })],
      ["sub.unsubscribe", () => sub.unsubscribe({ signal })],
      ["connect", () => t.client.connect({ signal })],
    ];
    for (const [what, call] of calls) {
      await assert.rejects(call(), (err: unknown) => {
        assert.equal(err, reason, `${what} rejects with signal.reason itself`);
        return true;
      });
    }
    await settle();
    const sent = t.conn.received.slice(before).filter((p) => p.type !== PacketType.Pingreq);
    assert.deepEqual(sent.map((p) => p.type), [], "nothing was sent");
    // The subscription is still there: an already-aborted unsubscribe did nothing.
    t.conn.send(inbound("ab/x", "still", { qos: 1, packetId: 7 }));
    const it = sub[Symbol.asyncIterator]();
    const m = await within(it.next(), 1000, "a message on the subscription");
    assert.equal(m.done, false);
    assert.equal(m.value.text(), "still");
    m.value.ack();
  },
);

add(
  "Client disconnect() with an already-aborted signal still closes, without waiting out the flush, then rejects with signal.reason",
  async () => {
    await using t = await start({}, { disconnectFlushTimeoutMs: 5000 });
    t.conn.client.holdWrites();
    const reason = new Error("now");
    const started = Date.now();
    await assert.rejects(t.client.disconnect({ signal: AbortSignal.abort(reason) }), (err) => {
      assert.equal(err, reason);
      return true;
    });
    assert.ok(Date.now() - started < 1000, "did not wait for the flush timeout");
    assert.equal(t.client.connected, false);
    await t.client.disconnect(); // later calls resolve: the client is closed
    await rejectsWith(t.client.publish({ topic: "x" }), "closed");
  },
);

add(
  "Client's errors for unexpected packets carry the reason code that went on the wire (0x82)",
  async () => {
    await using t = await start({}, { reconnectBackoff: () => 60_000 });
    const events: StatusEvent[] = [];
    const stream = t.client.status();
    void (async () => {
      for await (const e of stream) events.push(e);
    })();
    t.conn.send({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 });
    const d = await t.conn.expect(PacketType.Disconnect);
    assert.equal(d.reasonCode, 0x82);
    await waitUntil(() => events.some((e) => e.type === "disconnected"), 1000, "disconnected");
    const e = events.find((e) => e.type === "disconnected");
    assert.ok(e?.type === "disconnected");
    assert.ok(e.error instanceof MqttError);
    assert.equal(e.error.code, "unexpected-packet");
    assert.equal(e.error.reasonCode, 0x82);
    assert.equal(e.reasonCode, 0x82);
  },
);

add(
  "Client under dropPolicy 'block' holds back reading for a full subscription and delivers everything, in order, once the consumer reads",
  async () => {
    await using t = await start({ autoAckSubscribe: true }, { stats: true });
    const sub = await t.client.subscribeQueue([{ topic: "fc/#", qos: 1 }], { maxQueueSize: 3 });
    for (let i = 1; i <= 10; i++) t.conn.send(inbound("fc/x", String(i), { qos: 1, packetId: i }));
    await settle();
    assert.equal(sub.queue.length, 3, "the queue holds its bound, no more");
    assert.equal(t.client.stats().subscriptionsBlocked, 1);
    assert.equal(t.client.stats().inboundDropped, 0);
    const got: string[] = [];
    for (let i = 0; i < 10; i++) {
      const m = await nextMessage(sub);
      got.push(m.text());
      m.ack();
    }
    assert.deepEqual(got, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    await waitUntil(() => t.conn.all(PacketType.Puback).length === 10, 1000, "10 PUBACKs");
    assert.deepEqual(ids(t.conn.all(PacketType.Puback)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(t.client.stats().subscriptionsBlocked, 0);
  },
);

add(
  "Client keeps reading for a full subscription while it waits for a PUBACK, so a consumer that publishes before it acks never deadlocks",
  async () => {
    await using t = await start({ autoAckSubscribe: true }, { stats: true });
    const sub = await t.client.subscribeQueue([{ topic: "dl/#", qos: 1 }], { maxQueueSize: 1 });
    for (let i = 1; i <= 3; i++) t.conn.send(inbound("dl/x", String(i), { qos: 1, packetId: i }));
    await settle();
    assert.equal(t.client.stats().subscriptionsBlocked, 1, "reading is paused");
    // The consumer answers the first message before acking it; the broker acks the reply
    // behind the two messages still held back.
    const m1 = await nextMessage(sub);
    const reply = t.client.publish({ topic: "dl/reply", payload: m1.text(), qos: 1 });
    const p = await t.conn.expect(PacketType.Publish);
    t.conn.send({ type: PacketType.Puback, packetId: p.packetId!, reasonCode: 0 });
    await within(reply, 1000, "the reply's PUBACK is read though the subscription is full");
    m1.ack();
    const rest = [await nextMessage(sub), await nextMessage(sub)];
    assert.deepEqual(rest.map((m) => m.text()), ["2", "3"]);
    for (const m of rest) m.ack();
  },
);

add(
  "Client pings to get its TCP ACK out while it waits for the broker, at most 4 + 2 late times between two answers",
  async () => {
    await using t = await start({ autoAckSubscribe: true });
    const got: string[] = [];
    await t.client.subscribeCallback(["stream/#"], (m) => got.push(m.text()));
    await settle();
    const pings = () => t.conn.received.filter((p) => p.type === PacketType.Pingreq).length;
    const before = pings();
    // A QoS 1 publish the broker is slow to acknowledge, while a QoS 0 stream arrives:
    // each read leaves the client nothing to send while it waits for the PUBACK.
    const published = t.client.publish({ topic: "out", payload: "x", qos: 1 });
    const p = await t.conn.expect(PacketType.Publish);
    for (let i = 0; i < 30; i++) {
      t.conn.send(inbound("stream/a", String(i)));
      await delay(2);
    }
    await waitUntil(() => got.length === 30, 1000, "the stream");
    await settle();
    const during = pings() - before;
    assert.ok(during >= 1, "a read while waiting, with nothing to send, pings");
    assert.ok(during <= 6, `at most 4 + 2 late pings between two answers, got ${during}`);
    // The answer comes: the budget is back for the next wait.
    t.conn.send({ type: PacketType.Puback, packetId: p.packetId!, reasonCode: 0 });
    await within(published, 1000, "the PUBACK");
    const idle = pings();
    for (let i = 0; i < 10; i++) {
      t.conn.send(inbound("stream/a", `idle ${i}`));
      await delay(2);
    }
    await settle();
    assert.equal(pings(), idle, "nothing awaited: no ping");
  },
);

// --- reading a burst ----------------------------------------------------------

add(
  "Client lets the connection read a moment later after a burst it owes nothing for, never while an answer is owed",
  async () => {
    const broker = new FakeBroker({ timeoutMs: 2000, autoAckSubscribe: true });
    // What the client's onData answered, chunk by chunk (true: the adapter may wait;
    // the reads of the nudges' PINGRESPs count too).
    const answers: unknown[] = [];
    const dial: DialFunc = async (url, options) => {
      const conn = await broker.dial(url, options);
      const start = conn.start.bind(conn);
      conn.start = (onData, onClose) =>
        start((chunk) => {
          const r = onData(chunk);
          answers.push(r);
          return r;
        }, onClose);
      return conn;
    };
    const client = fakeClient(broker, { dial });
    await using _cleanup = {
      async [Symbol.asyncDispose]() {
        await client.disconnect();
        await broker[Symbol.asyncDispose]();
      },
    };
    await within(client.connect(), 2000, "connect()");
    const conn = await broker.nextConnection();
    const got: Message[] = [];
    await client.subscribeCallback([{ topic: "cb/#", qos: 1 }], (m) => {
      got.push(m);
    });
    const queued = await client.subscribeQueue([{ topic: "q/#", qos: 1 }]);
    /** Sends `n` publishes in one chunk; returns what onData answered for it. */
    const burst = async (n: number, topic: string, qos: QoS, firstId = 1) => {
      const parts = Array.from(
        { length: n },
        (_, i) => encodePacket(inbound(topic, `m${i}`, { qos, packetId: firstId + i })),
      );
      const chunk = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
      parts.reduce((at, p) => (chunk.set(p, at), at + p.length), 0);
      const before = answers.length;
      conn.sendRaw(chunk);
      await waitUntil(() => answers.length > before, 1000, "the chunk was read");
      // Reads are handled in order: the first one after `before` is this chunk.
      return answers[before] === true;
    };

    assert.equal(await burst(8, "cb/a", 0), true, "8 QoS 0 messages, nothing owed");
    assert.equal(await burst(7, "cb/a", 0), false, "7 are not a burst");
    // Acked in the callback, before the read returns: the broker's window for them waits for
    // those PUBACKs, and reading later would hold back what it sends next.
    assert.equal(await burst(8, "cb/a", 1, 100), false, "8 QoS 1 messages acked at once");
    for (let i = 0; i < 8; i++) {
      assert.equal((await conn.expect(PacketType.Puback)).packetId, 100 + i);
    }
    // QoS 1 messages a queue holds unacked: the broker waits for their PUBACKs.
    assert.equal(await burst(8, "q/a", 1, 200), false, "8 QoS 1 messages not yet acked");
    for (let i = 0; i < 8; i++) (await nextMessage(queued)).ack();
    for (let i = 0; i < 8; i++) {
      assert.equal((await conn.expect(PacketType.Puback)).packetId, 200 + i);
    }
    assert.equal(await burst(8, "cb/a", 0), true, "all acked: nothing owed again");
    // A publish waiting for its PUBACK: the next read may bring it, so it is not put off.
    const published = client.publish({ topic: "out", payload: "x", qos: 1 });
    const out = await conn.expect(PacketType.Publish);
    assert.equal(await burst(8, "cb/a", 0), false, "a PUBACK is awaited");
    conn.send({ type: PacketType.Puback, packetId: out.packetId!, reasonCode: 0 });
    await within(published, 1000, "publish()");
    assert.equal(await burst(8, "cb/a", 0), true, "the PUBACK came: nothing awaited");
    assert.equal(got.length, 8 + 7 + 8 + 8 + 8 + 8);
  },
);

add(
  "Client nudges a withheld ack with at most 4 PINGREQs at once and 2 late ones, and starts over once the broker answers",
  async () => {
    // No PINGRESP from this broker: every read below is a QoS 0 message, which asks for no
    // answer from the client, while its QoS 1 publish waits for a PUBACK.
    await using t = await start({ autoPingresp: false, autoAckSubscribe: true });
    let got = 0;
    await t.client.subscribeCallback([{ topic: "in/#", qos: 0 }], () => {
      got++;
    });
    const published = t.client.publish({ topic: "out", payload: "x", qos: 1 });
    const out = await t.conn.expect(PacketType.Publish);
    const pings = () => t.conn.all(PacketType.Pingreq).length;
    const readOne = async (i: number) => {
      const before = pings();
      t.conn.send(inbound(`in/${i}`, "m"));
      await waitUntil(() => got === i + 1, 1000, `message ${i}`);
      await delay(15); // many times a late nudge's wait
      return pings() - before;
    };
    const perRead: number[] = [];
    for (let i = 0; i < 8; i++) perRead.push(await readOne(i));
    assert.deepEqual(perRead, [1, 1, 1, 1, 1, 1, 0, 0], "4 nudges, 2 late ones, then none");
    assert.equal(pings(), 6);
    // The broker answers what we waited for: the budget starts over.
    t.conn.send({ type: PacketType.Puback, packetId: out.packetId!, reasonCode: 0 });
    await within(published, 1000, "publish()");
    const again = t.client.publish({ topic: "out", payload: "y", qos: 1 });
    const out2 = await t.conn.waitFor<PublishPacket>(
      (p) => p.type === PacketType.Publish && p.packetId !== out.packetId,
      { what: "the second PUBLISH" },
    );
    assert.equal(await readOne(8), 1, "a nudge again after the PUBACK");
    t.conn.send({ type: PacketType.Puback, packetId: out2.packetId!, reasonCode: 0 });
    await within(again, 1000, "publish()");
    // Nothing awaited: a read nudges nothing.
    assert.equal(await readOne(9), 0);
  },
);
