// Request / response (MQTT v5 §4.10) against the scripted FakeBroker: what
// Client.request() and Client.serve() put on the wire (Response Topic,
// Correlation Data, the one response subscription), replies matched by exact
// Correlation Data (foreign, duplicate and late ones dropped), timeouts and
// aborts, disconnect, Response Information from the CONNACK, reconnects with
// and without the session, and serve()'s replies and acks. These are the
// scenarios a real mosquitto cannot produce; tests/integration/request_cases.ts
// runs the rest against mosquitto.
//
// Runtime-neutral: tests/client/request_test.ts (`deno test`) and
// bun-tests/request.test.ts (`bun test`) run these cases.

import assert from "node:assert/strict";
import type { Client, ClientOptions, Message } from "../../mod.ts";
import {
  type ConnectPacket,
  PacketType,
  type PublishPacket,
  type PublishProperties,
  type QoS,
} from "../../src/wire/mod.ts";
import { FakeBroker, type FakeBrokerOptions, type ScriptConn } from "../_helpers/fake_broker.ts";
import { connectedToFake, fakeClient, type FakeSetup } from "../_helpers/fake_setup.ts";
import { recordingLogger } from "../_helpers/clients.ts";
import { waitUntil, within } from "../_helpers/timing.ts";
import { rejectsWith as rejectsWithCode, track } from "../_helpers/settle.ts";

/** One scenario. */
export interface RequestCase {
  name: string;
  fn: () => Promise<void>;
}

export const requestCases: RequestCase[] = [];
const add = (name: string, fn: () => Promise<void>) => requestCases.push({ name, fn });

// ---------------------------------------------------------------------------
// Tools

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A PUBLISH from the broker. */
function publish(
  topic: string,
  payload: string | Uint8Array,
  options: { qos?: QoS; packetId?: number; properties?: PublishProperties } = {},
): PublishPacket {
  const qos = options.qos ?? 0;
  const p: PublishPacket = {
    type: PacketType.Publish,
    topic,
    payload: typeof payload === "string" ? encoder.encode(payload) : payload,
    qos,
    retain: false,
    dup: false,
    properties: options.properties ?? {},
  };
  if (qos > 0) p.packetId = options.packetId ?? 1;
  return p;
}

/** The reply a responder would send to `request`: its Response Topic, its Correlation Data. */
function replyTo(
  request: PublishPacket,
  payload: string,
  options: { qos?: QoS; packetId?: number; correlationData?: Uint8Array } = {},
): PublishPacket {
  return publish(request.properties!.responseTopic!, payload, {
    qos: options.qos ?? 1,
    packetId: options.packetId,
    properties: { correlationData: options.correlationData ?? request.properties!.correlationData },
  });
}

/** The n-th (0-based) PUBLISH the client sent on `conn` whose topic is `topic`. */
async function requestOn(conn: ScriptConn, topic: string, n = 0): Promise<PublishPacket> {
  await conn.waitFor(
    (p) =>
      p.type === PacketType.Publish && p.topic === topic &&
      conn.all(PacketType.Publish).filter((q) => q.topic === topic).length > n,
    { what: `PUBLISH #${n + 1} to ${topic}` },
  );
  return conn.all(PacketType.Publish).filter((q) => q.topic === topic)[n];
}

/** Waits until the client sent PUBACK `packetId`. */
function puback(conn: ScriptConn, packetId: number): Promise<unknown> {
  return conn.waitFor((p) => p.type === PacketType.Puback && p.packetId === packetId, {
    what: `PUBACK ${packetId}`,
  });
}

/** The client publishes a QoS 0 marker and the broker sees it: everything written before it arrived. */
async function marker(client: Client, conn: ScriptConn, topic = "marker"): Promise<number> {
  await client.publish({ topic, payload: "m" });
  await conn.waitFor((p) => p.type === PacketType.Publish && p.topic === topic, { what: topic });
  return conn.received.findIndex((p) => p.type === PacketType.Publish && p.topic === topic);
}

/** {@linkcode rejectsWithCode}, failing after 2 s instead of waiting for ever. */
const rejectsWith = (p: Promise<unknown>, code: string, fields: Record<string, unknown> = {}) =>
  rejectsWithCode(within(p, 2000, `rejection with ${code}`), code, fields);

const hex = (b: Uint8Array | undefined) => [...(b ?? [])].map((x) => x.toString(16)).join(".");

/** A connected client and the broker side of its connection. */
type Setup = FakeSetup;

/** A client ("rr-1") connected to a fake broker that acks SUBSCRIBE and PUBLISH by itself. */
const start = (brokerOptions: FakeBrokerOptions = {}, clientOptions: Partial<ClientOptions> = {}) =>
  connectedToFake(
    { autoAckSubscribe: true, autoAckPublish: true, ...brokerOptions },
    { clientId: "rr-1", ...clientOptions },
  );

const newClient = (broker: FakeBroker, options: Partial<ClientOptions> = {}): Client =>
  fakeClient(broker, { clientId: "rr-1", ...options });

// ---------------------------------------------------------------------------
// request(): the wire

add(
  "Client.request() subscribes to its response topic at QoS 1, then publishes with Response Topic and 16 random bytes of Correlation Data",
  async () => {
    await using t = await start();
    const pending = track(
      t.client.request({
        topic: "svc/square",
        payload: "12",
        qos: 1,
        properties: { contentType: "text/plain", userProperties: [["unit", "m"]] },
      }),
    );
    const req = await requestOn(t.conn, "svc/square");
    const subs = t.conn.all(PacketType.Subscribe);
    assert.equal(subs.length, 1, "one SUBSCRIBE");
    assert.deepEqual(subs[0].filters.map((f) => [f.topic, f.qos]), [[
      req.properties!.responseTopic,
      1,
    ]]);
    const subIndex = t.conn.received.indexOf(subs[0]);
    assert.ok(subIndex < t.conn.received.indexOf(req), "subscribed before the request went out");
    assert.match(req.properties!.responseTopic!, /^mqttv5\/response\/rr-1\/[0-9a-f]{16}$/);
    assert.equal(req.properties!.correlationData!.length, 16);
    assert.equal(req.qos, 1);
    assert.equal(decoder.decode(req.payload), "12");
    assert.equal(req.properties!.contentType, "text/plain", "the caller's properties are kept");
    assert.deepEqual(req.properties!.userProperties, [["unit", "m"]]);

    t.conn.send(replyTo(req, "144", { packetId: 7 }));
    const reply = await within(pending.promise, 2000, "the reply");
    assert.equal(reply.text(), "144");
    assert.equal(reply.topic, req.properties!.responseTopic);
    assert.deepEqual(reply.properties.correlationData, req.properties!.correlationData);
    await puback(t.conn, 7); // the reply was acked
  },
);

add(
  "Client.request() many in flight share one response subscription; replies out of order reach their own request",
  async () => {
    await using t = await start({}, { stats: true });
    const n = 20;
    const pending = Array.from(
      { length: n },
      (_, i) => track(t.client.request({ topic: `svc/${i}`, payload: `q${i}`, qos: 1 })),
    );
    const reqs: PublishPacket[] = [];
    for (let i = 0; i < n; i++) reqs.push(await requestOn(t.conn, `svc/${i}`));
    // Later requests after the first batch: still the same subscription.
    const late = track(t.client.request({ topic: "svc/late", payload: "late", qos: 0 }));
    const lateReq = await requestOn(t.conn, "svc/late");
    assert.equal(t.conn.all(PacketType.Subscribe).length, 1, "one SUBSCRIBE for every request");
    assert.equal(t.client.stats().subscribesSent, 1);
    const topics = new Set([...reqs, lateReq].map((r) => r.properties!.responseTopic));
    assert.equal(topics.size, 1, "one response topic");
    const cds = new Set([...reqs, lateReq].map((r) => hex(r.properties!.correlationData)));
    assert.equal(cds.size, n + 1, "fresh correlation data per request");

    // Answer in reverse order, at QoS 0 and 1 alternately.
    t.conn.send(replyTo(lateReq, "a-late", { qos: 0 }));
    for (let i = n - 1; i >= 0; i--) {
      t.conn.send(replyTo(reqs[i], `a${i}`, { qos: (i % 2) as QoS, packetId: 100 + i }));
    }
    const replies = await within(
      Promise.all(pending.map((p) => p.promise)),
      2000,
      "every reply",
    );
    assert.deepEqual(replies.map((m) => m.text()), reqs.map((_, i) => `a${i}`));
    assert.equal((await late.promise).text(), "a-late");
  },
);

add(
  "Client.request() drops replies whose correlation data matches nothing: foreign, other lengths, missing, duplicates",
  async () => {
    const log = recordingLogger();
    await using t = await start({}, { logger: log });
    const a = track(t.client.request({ topic: "svc/a", payload: "a", qos: 1 }));
    const b = track(t.client.request({ topic: "svc/b", payload: "b", qos: 1 }));
    const ra = await requestOn(t.conn, "svc/a");
    const rb = await requestOn(t.conn, "svc/b");
    const cdA = ra.properties!.correlationData!;

    const foreign = cdA.slice();
    foreign[15] ^= 0xff;
    t.conn.send(replyTo(ra, "foreign", { packetId: 1, correlationData: foreign }));
    t.conn.send(replyTo(ra, "prefix", { packetId: 2, correlationData: cdA.slice(0, 15) }));
    const longer = new Uint8Array(17);
    longer.set(cdA);
    t.conn.send(replyTo(ra, "longer", { packetId: 3, correlationData: longer }));
    t.conn.send(publish(ra.properties!.responseTopic!, "none", { qos: 1, packetId: 4 }));
    for (const id of [1, 2, 3, 4]) await puback(t.conn, id);
    assert.equal(a.settled || b.settled, false, "no request took a reply that is not its own");

    t.conn.send(replyTo(rb, "for b", { packetId: 5 }));
    assert.equal((await within(b.promise, 2000, "b")).text(), "for b");
    t.conn.send(replyTo(ra, "for a", { packetId: 6 }));
    t.conn.send(replyTo(ra, "for a again", { packetId: 7 }));
    assert.equal((await within(a.promise, 2000, "a")).text(), "for a", "the first reply wins");
    await puback(t.conn, 7); // the duplicate was acked (and dropped)
    const dropped = log.lines.filter((l) => l.level === "debug" && /reply dropped/.test(l.msg));
    assert.equal(dropped.length, 5, "4 foreign replies and the duplicate logged at debug");
  },
);

add(
  "Client.request() rejects with MqttError timeout after timeoutMs; a late reply is acked and dropped",
  async () => {
    const log = recordingLogger();
    await using t = await start({}, { logger: log, stats: true });
    const started = Date.now();
    const late = t.client.request({ topic: "svc/slow", payload: "x", qos: 1, timeoutMs: 50 });
    const req = await requestOn(t.conn, "svc/slow");
    await rejectsWith(late, "timeout");
    assert.ok(Date.now() - started >= 45, "not before timeoutMs");
    t.conn.send(replyTo(req, "too late", { packetId: 9 }));
    await puback(t.conn, 9);
    assert.ok(log.lines.some((l) => /reply dropped/.test(l.msg)), "the late reply was dropped");

    // The client goes on: the next request uses the same subscription.
    const next = track(t.client.request({ topic: "svc/slow", payload: "y", qos: 1 }));
    const req2 = await requestOn(t.conn, "svc/slow", 1);
    t.conn.send(replyTo(req2, "in time", { packetId: 10 }));
    assert.equal((await within(next.promise, 2000, "next")).text(), "in time");
    assert.equal(t.conn.all(PacketType.Subscribe).length, 1);
  },
);

add(
  "Client.request() with timeoutMs 0 arms no timeout: it waits until its reply comes",
  async () => {
    await using t = await start();
    const p = track(t.client.request({ topic: "svc/forever", qos: 1, timeoutMs: 0 }));
    const req = await requestOn(t.conn, "svc/forever");
    await marker(t.client, t.conn);
    assert.equal(p.settled, false);
    t.conn.send(replyTo(req, "eventually", { packetId: 3 }));
    assert.equal((await within(p.promise, 2000, "reply")).text(), "eventually");
  },
);

add(
  "Client.request() rejects with signal.reason when aborted; its reply is dropped; an aborted signal sends nothing",
  async () => {
    await using t = await start();
    const ac = new AbortController();
    const p = t.client.request({ topic: "svc/abort", qos: 1 }, { signal: ac.signal });
    const req = await requestOn(t.conn, "svc/abort");
    const reason = new Error("user gave up");
    ac.abort(reason);
    await assert.rejects(within(p, 2000, "abort"), (e) => e === reason);
    t.conn.send(replyTo(req, "unwanted", { packetId: 2 }));
    await puback(t.conn, 2);

    // Already aborted: rejects with the reason; no PUBLISH goes out.
    const before = t.conn.all(PacketType.Publish).length;
    const gone = AbortSignal.abort(new Error("never"));
    await assert.rejects(
      t.client.request({ topic: "svc/abort", qos: 1 }, { signal: gone }),
      (e) => e === gone.reason,
    );
    await marker(t.client, t.conn);
    assert.equal(t.conn.all(PacketType.Publish).length, before + 1, "only the marker went out");
  },
);

add(
  "Client.request() aborted while its response subscription awaits SUBACK sends no request; the next request reuses the subscription",
  async () => {
    await using t = await start({ autoAckSubscribe: false });
    const ac = new AbortController();
    const p = t.client.request({ topic: "svc/wait", qos: 1, timeoutMs: 0 }, { signal: ac.signal });
    const sub = await t.conn.expect(PacketType.Subscribe);
    ac.abort(new Error("stop"));
    await assert.rejects(within(p, 2000, "abort"), /stop/);
    t.conn.send({ type: PacketType.Suback, packetId: sub.packetId, reasonCodes: [1] });
    await marker(t.client, t.conn);
    assert.equal(
      t.conn.all(PacketType.Publish).filter((x) => x.topic === "svc/wait").length,
      0,
      "the aborted request was never published",
    );
    const next = track(t.client.request({ topic: "svc/wait", qos: 1 }));
    const req = await requestOn(t.conn, "svc/wait");
    assert.equal(req.properties!.responseTopic, sub.filters[0].topic);
    assert.equal(t.conn.all(PacketType.Subscribe).length, 1, "no second SUBSCRIBE");
    t.conn.send(replyTo(req, "ok", { packetId: 4 }));
    assert.equal((await within(next.promise, 2000, "next")).text(), "ok");
  },
);

add(
  "Client.request() times out while the SUBACK is withheld, and publishes nothing",
  async () => {
    await using t = await start({ autoAckSubscribe: false });
    const p = t.client.request({ topic: "svc/nosuback", qos: 1, timeoutMs: 40 });
    await t.conn.expect(PacketType.Subscribe);
    await rejectsWith(p, "timeout");
    await marker(t.client, t.conn);
    assert.equal(t.conn.all(PacketType.Publish).filter((x) => x.topic !== "marker").length, 0);
  },
);

add("Client.disconnect() rejects every request in flight with closed", async () => {
  await using broker = new FakeBroker({ autoAckSubscribe: true, autoAckPublish: true });
  const client = newClient(broker);
  await client.connect();
  const conn = await broker.nextConnection();
  const a = client.request({ topic: "svc/a", qos: 1 });
  const b = client.request({ topic: "svc/b", qos: 0, timeoutMs: 0 });
  await requestOn(conn, "svc/a");
  await requestOn(conn, "svc/b");
  await client.disconnect();
  await rejectsWith(a, "closed");
  await rejectsWith(b, "closed");
  await rejectsWith(client.request({ topic: "svc/c" }), "closed");
});

add(
  "Client.request() rejects a refused subscription and retries it on the next request",
  async () => {
    let subscribes = 0;
    await using t = await start({
      autoAckSubscribe: (s) => s.filters.map(() => ++subscribes === 1 ? 0x87 : 1),
    });
    await rejectsWith(
      t.client.request({ topic: "svc/x", qos: 1 }),
      "subscribe-refused",
      { reasonCode: 0x87 },
    );
    assert.equal(t.conn.all(PacketType.Publish).length, 0, "no request without a subscription");
    const p = track(t.client.request({ topic: "svc/x", qos: 1 }));
    const req = await requestOn(t.conn, "svc/x");
    assert.equal(t.conn.all(PacketType.Subscribe).length, 2, "subscribed again");
    t.conn.send(replyTo(req, "ok", { packetId: 1 }));
    assert.equal((await within(p.promise, 2000, "reply")).text(), "ok");
  },
);

add(
  "Client.request() rejects with publish-refused when the broker refuses the request",
  async () => {
    await using t = await start({ autoAckPublish: () => 0x87 });
    await rejectsWith(
      t.client.request({ topic: "svc/denied", qos: 1 }),
      "publish-refused",
      { reasonCode: 0x87 },
    );
  },
);

add("Client.request() checks its arguments and the client's state first", async () => {
  await using broker = new FakeBroker({ autoAckSubscribe: true, autoAckPublish: true });
  const client = newClient(broker);
  try {
    await rejectsWith(client.request({ topic: "svc/x" }), "not-connected");
    assert.equal(broker.dials, 0);
    await client.connect();
    const conn = await broker.nextConnection();
    const bad: [unknown, ErrorConstructor][] = [
      [{ topic: "svc/x", timeoutMs: -1 }, RangeError],
      [{ topic: "svc/x", timeoutMs: 1.5 }, RangeError],
      [{ topic: "svc/x", timeoutMs: 2 ** 31 }, RangeError],
      [{ topic: "svc/x", timeoutMs: "5" }, TypeError],
      [{ topic: "svc/x", qos: 3 }, RangeError],
      [{ topic: "svc/x", payload: 5 }, TypeError],
      [{ topic: "svc/x", properties: { correlationData: new Uint8Array(2) } }, TypeError],
      [null, TypeError],
    ];
    for (const [message, type] of bad) {
      await assert.rejects(
        client.request(message as Parameters<Client["request"]>[0]),
        type,
        JSON.stringify(message),
      );
    }
    await marker(client, conn);
    assert.equal(conn.all(PacketType.Subscribe).length, 0, "nothing subscribed for bad input");
  } finally {
    await client.disconnect();
  }
});

add(
  "Client.request() with properties.responseTopic subscribes to that topic once and uses it",
  async () => {
    await using t = await start();
    const mine = { responseTopic: "my/replies" };
    const p1 = track(t.client.request({ topic: "svc/1", qos: 1, properties: mine }));
    const r1 = await requestOn(t.conn, "svc/1");
    const p2 = track(t.client.request({ topic: "svc/2", qos: 1, properties: mine }));
    const r2 = await requestOn(t.conn, "svc/2");
    assert.equal(r1.properties!.responseTopic, "my/replies");
    assert.equal(r2.properties!.responseTopic, "my/replies");
    assert.deepEqual(t.conn.all(PacketType.Subscribe).map((s) => s.filters[0].topic), [
      "my/replies",
    ]);
    t.conn.send(replyTo(r2, "two", { packetId: 2 }));
    t.conn.send(replyTo(r1, "one", { packetId: 1 }));
    assert.equal((await within(p1.promise, 2000, "1")).text(), "one");
    assert.equal((await within(p2.promise, 2000, "2")).text(), "two");
    assert.equal(mine.responseTopic, "my/replies");
    assert.equal(Object.keys(mine).length, 1, "the caller's properties object is not changed");
  },
);

// ---------------------------------------------------------------------------
// request(): the response topic

add(
  "Client.request() puts its response topic under the CONNACK's Response Information",
  async () => {
    for (const info of ["resp/rr-1", "resp/rr-1/"]) {
      await using t = await start({ connack: { properties: { responseInformation: info } } }, {
        requestResponseInformation: true,
      });
      const connect = await t.conn.connect as ConnectPacket;
      assert.equal(connect.properties?.requestResponseInformation, true);
      assert.equal(t.client.connack?.responseInformation, info);
      const p = track(t.client.request({ topic: "svc/info", qos: 1 }));
      const req = await requestOn(t.conn, "svc/info");
      assert.match(req.properties!.responseTopic!, /^resp\/rr-1\/[0-9a-f]{16}$/, info);
      assert.equal(
        t.conn.all(PacketType.Subscribe)[0].filters[0].topic,
        req.properties!.responseTopic,
      );
      t.conn.send(replyTo(req, "via info", { packetId: 1 }));
      assert.equal((await within(p.promise, 2000, "reply")).text(), "via info");
    }
  },
);

add(
  "Client.request() response topics of clients with an empty client id differ (assigned ids, or none assigned)",
  async () => {
    const topicOf = async (assigned: string | undefined) => {
      await using t = await start({
        connack: { properties: assigned ? { assignedClientIdentifier: assigned } : {} },
      }, { clientId: "" });
      void t.client.request({ topic: "svc/who", qos: 0, timeoutMs: 0 }).catch(() => {});
      return (await requestOn(t.conn, "svc/who")).properties!.responseTopic!;
    };
    const a = await topicOf("auto-A");
    const b = await topicOf("auto-B");
    assert.match(a, /^mqttv5\/response\/auto-A\/[0-9a-f]{16}$/);
    assert.match(b, /^mqttv5\/response\/auto-B\/[0-9a-f]{16}$/);
    // A broker that assigns nothing (it should): the random part alone keeps them apart.
    const c = await topicOf(undefined);
    const d = await topicOf(undefined);
    assert.match(c, /^mqttv5\/response\/[0-9a-f]{16}$/);
    assert.notEqual(c, d);
  },
);

add(
  "Client.request() leaves out a client id that cannot be a topic level (/, +, #)",
  async () => {
    for (const clientId of ["a/b", "a+", "#"]) {
      await using t = await start({}, { clientId });
      void t.client.request({ topic: "svc/id", qos: 0, timeoutMs: 0 }).catch(() => {});
      const req = await requestOn(t.conn, "svc/id");
      assert.match(req.properties!.responseTopic!, /^mqttv5\/response\/[0-9a-f]{16}$/, clientId);
    }
  },
);

// ---------------------------------------------------------------------------
// request() across reconnects

add(
  "Client.request() in flight when the connection drops gets its reply on the resumed session (no new SUBSCRIBE)",
  async () => {
    await using t = await start({
      connack: (_c, conn) => conn.index === 0 ? {} : { sessionPresent: true },
    });
    const p = track(t.client.request({ topic: "svc/resume", payload: "x", qos: 1 }));
    const req = await requestOn(t.conn, "svc/resume");
    t.conn.close();
    const second = await t.broker.nextConnection();
    assert.equal((await second.connect).cleanStart, false);
    await waitUntil(() => t.client.connected, 2000, "reconnected");
    assert.equal(p.settled, false, "still waiting");
    second.send(replyTo(req, "after the drop", { packetId: 11 }));
    const reply = await within(p.promise, 2000, "the reply on the new connection");
    assert.equal(reply.text(), "after the drop");
    await puback(second, 11);
    assert.equal(second.all(PacketType.Subscribe).length, 0, "the session kept the subscription");
  },
);

add(
  "Client.request() in flight when the session is lost: the response subscription is re-issued and the reply still arrives",
  async () => {
    await using t = await start();
    const p = track(t.client.request({ topic: "svc/lost", payload: "x", qos: 1 }));
    const req = await requestOn(t.conn, "svc/lost");
    const topic = req.properties!.responseTopic!;
    t.conn.close();
    const second = await t.broker.nextConnection(); // CONNACK without a session
    const resub = await second.waitForType(PacketType.Subscribe);
    assert.deepEqual(resub.filters.map((f) => [f.topic, f.qos]), [[topic, 1]]);
    second.send(replyTo(req, "after resubscribe", { packetId: 12 }));
    assert.equal((await within(p.promise, 2000, "reply")).text(), "after resubscribe");
    // A request made after the reconnect uses the same topic and subscription.
    const q = track(t.client.request({ topic: "svc/lost", payload: "y", qos: 1 }));
    const fresh = await second.waitFor<PublishPacket>(
      (x) => x.type === PacketType.Publish && decoder.decode(x.payload) === "y",
      { what: "the second request" },
    );
    assert.equal(fresh.properties!.responseTopic, topic);
    second.send(replyTo(fresh, "y!", { packetId: 13 }));
    assert.equal((await within(q.promise, 2000, "second reply")).text(), "y!");
    assert.equal(second.all(PacketType.Subscribe).length, 1);
  },
);

add(
  "Client.request() made while reconnecting at QoS 1 is queued, subscribed and sent on the next connection",
  async () => {
    await using t = await start({ connack: (_c, conn) => conn.index === 0 ? {} : undefined });
    t.conn.close();
    await waitUntil(() => !t.client.connected, 2000, "down");
    const p = track(t.client.request({ topic: "svc/queued", qos: 1 }));
    const second = await t.broker.nextConnection();
    await second.connect;
    second.send({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 });
    const req = await requestOn(second, "svc/queued");
    // The SUBSCRIBE made offline goes out once (not again with the resubscribe of
    // the lost session).
    const subs = second.all(PacketType.Subscribe);
    assert.equal(subs.length, 1);
    assert.deepEqual(subs[0].filters.map((f) => f.topic), [req.properties!.responseTopic]);
    assert.ok(second.received.indexOf(subs[0]) < second.received.indexOf(req));
    second.send(replyTo(req, "queued ok", { packetId: 1 }));
    assert.equal((await within(p.promise, 2000, "reply")).text(), "queued ok");
  },
);

// ---------------------------------------------------------------------------
// serve()

/** A request PUBLISH from the broker to a serving client. */
function request(
  topic: string,
  payload: string,
  options: { qos?: QoS; packetId?: number; responseTopic?: string; cd?: number[] } = {},
): PublishPacket {
  const properties: PublishProperties = {};
  if (options.responseTopic !== undefined) properties.responseTopic = options.responseTopic;
  if (options.cd !== undefined) properties.correlationData = Uint8Array.from(options.cd);
  return publish(topic, payload, { qos: options.qos, packetId: options.packetId, properties });
}

add(
  "Client.serve() answers on the Response Topic with the Correlation Data copied, at the request's QoS",
  async () => {
    await using t = await start();
    const seen: Message[] = [];
    const token = await t.client.serve([{ topic: "svc/+", qos: 2 }], (m) => {
      seen.push(m);
      return m.text().toUpperCase();
    });
    assert.deepEqual(token.filters.map((f) => f.topic), ["svc/+"]);
    for (const qos of [0, 1, 2] as QoS[]) {
      t.conn.send(request(`svc/q${qos}`, `hi ${qos}`, {
        qos,
        packetId: 20 + qos,
        responseTopic: `back/${qos}`,
        cd: [qos, 0xaa, 0x00],
      }));
      const reply = await requestOn(t.conn, `back/${qos}`);
      assert.equal(decoder.decode(reply.payload), `HI ${qos}`);
      assert.equal(reply.qos, qos, "the request's QoS");
      assert.deepEqual([...reply.properties!.correlationData!], [qos, 0xaa, 0x00]);
    }
    assert.deepEqual(seen.map((m) => m.topic), ["svc/q0", "svc/q1", "svc/q2"]);
    await puback(t.conn, 21);
    await t.conn.waitFor((p) => p.type === PacketType.Pubrec && p.packetId === 22);
  },
);

add(
  "Client.serve() acks a request only once its reply publish was accepted",
  async () => {
    await using t = await start({ autoAckPublish: false });
    await t.client.serve([{ topic: "svc/ack", qos: 1 }], () => "done");
    t.conn.send(
      request("svc/ack", "x", { qos: 1, packetId: 31, responseTopic: "back/ack", cd: [1] }),
    );
    const reply = await requestOn(t.conn, "back/ack");
    const at = await marker(t.client, t.conn);
    assert.equal(
      t.conn.received.slice(0, at).some((p) => p.type === PacketType.Puback),
      false,
      "no PUBACK for the request while its reply awaits the broker's PUBACK",
    );
    t.conn.send({ type: PacketType.Puback, packetId: reply.packetId!, reasonCode: 0 });
    await puback(t.conn, 31);
  },
);

add(
  "Client.serve() replies with what the handler returns: text, bytes, or a message with its own QoS and properties",
  async () => {
    await using t = await start();
    const answers: unknown[] = [
      new Uint8Array([0, 1, 255]),
      {
        payload: "{}",
        qos: 1,
        properties: {
          contentType: "application/json",
          userProperties: [["k", "v"]],
          correlationData: new Uint8Array([9, 9]), // the request's wins
        },
      },
      Promise.resolve("async"),
    ];
    let i = 0;
    await t.client.serve(["svc/kinds"], () => answers[i++] as string);
    for (let k = 0; k < answers.length; k++) {
      t.conn.send(request("svc/kinds", "?", { responseTopic: `back/${k}`, cd: [k] }));
    }
    const [bytes, obj, text] = [
      await requestOn(t.conn, "back/0"),
      await requestOn(t.conn, "back/1"),
      await requestOn(t.conn, "back/2"),
    ];
    assert.deepEqual([...bytes.payload], [0, 1, 255]);
    assert.equal(bytes.qos, 0);
    assert.equal(decoder.decode(obj.payload), "{}");
    assert.equal(obj.qos, 1, "the reply's own QoS");
    assert.equal(obj.properties!.contentType, "application/json");
    assert.deepEqual(obj.properties!.userProperties, [["k", "v"]]);
    assert.deepEqual([...obj.properties!.correlationData!], [1]);
    assert.equal(decoder.decode(text.payload), "async");
  },
);

add(
  "Client.serve() acks and skips a request without Response Topic; a request without Correlation Data gets a reply without",
  async () => {
    await using t = await start();
    let calls = 0;
    await t.client.serve([{ topic: "svc/plain", qos: 1 }], () => `reply ${++calls}`);
    t.conn.send(request("svc/plain", "no topic", { qos: 1, packetId: 41 }));
    await puback(t.conn, 41);
    assert.equal(calls, 0, "the handler never saw it");
    t.conn.send(
      request("svc/plain", "no cd", { qos: 1, packetId: 42, responseTopic: "back/nocd" }),
    );
    const reply = await requestOn(t.conn, "back/nocd");
    assert.equal(decoder.decode(reply.payload), "reply 1");
    assert.equal(reply.properties?.correlationData, undefined);
    await puback(t.conn, 42);
  },
);

add(
  "Client.serve() logs a handler that throws or returns nothing, acks the request, and keeps serving",
  async () => {
    const log = recordingLogger();
    await using t = await start({}, { logger: log });
    let n = 0;
    await t.client.serve([{ topic: "svc/flaky", qos: 1 }], () => {
      n++;
      if (n === 1) throw new Error("handler bug");
      if (n === 2) return undefined as unknown as string;
      if (n === 3) return Promise.reject(new Error("async bug"));
      return "fine";
    });
    for (let k = 1; k <= 4; k++) {
      t.conn.send(request("svc/flaky", "?", { qos: 1, packetId: 50 + k, responseTopic: "back/f" }));
    }
    const reply = await requestOn(t.conn, "back/f");
    assert.equal(decoder.decode(reply.payload), "fine");
    for (let k = 1; k <= 4; k++) await puback(t.conn, 50 + k);
    assert.equal(t.conn.all(PacketType.Publish).filter((p) => p.topic === "back/f").length, 1);
    const errors = log.lines.filter((l) => l.level === "error" && /serve/.test(l.msg));
    assert.equal(errors.length, 3, "three failures logged");
  },
);

add(
  "Client.serve() handles requests concurrently: replies leave as handlers finish, acks in arrival order",
  async () => {
    await using t = await start();
    const gates = new Map<string, () => void>();
    await t.client.serve([{ topic: "svc/slow", qos: 1 }], async (m) => {
      await new Promise<void>((resolve) => gates.set(m.text(), resolve));
      return `done ${m.text()}`;
    });
    t.conn.send(request("svc/slow", "1", { qos: 1, packetId: 61, responseTopic: "back/1" }));
    t.conn.send(request("svc/slow", "2", { qos: 1, packetId: 62, responseTopic: "back/2" }));
    await waitUntil(() => gates.size === 2, 2000, "both handlers running");
    gates.get("2")!();
    await requestOn(t.conn, "back/2");
    gates.get("1")!();
    await requestOn(t.conn, "back/1");
    await puback(t.conn, 62);
    const acks = t.conn.all(PacketType.Puback).map((p) => p.packetId);
    assert.deepEqual(acks, [61, 62], "§4.6: acks in arrival order");
    const order = t.conn.all(PacketType.Publish).map((p) => p.topic).filter((x) =>
      x.startsWith("back/")
    );
    assert.deepEqual(order, ["back/2", "back/1"], "replies as handlers finished");
  },
);

add("Client.serve() needs a handler and a connection", async () => {
  await using broker = new FakeBroker({ autoAckSubscribe: true });
  const client = newClient(broker);
  try {
    await rejectsWith(client.serve(["svc/x"], () => "x"), "not-connected");
    await client.connect();
    await rejectsWith(
      client.serve(["svc/x"], undefined as unknown as () => string),
      "nil-handler",
    );
    await assert.rejects(client.serve([], () => "x"), TypeError);
    await client.disconnect();
    await rejectsWith(client.serve(["svc/x"], () => "x"), "closed");
  } finally {
    await client.disconnect();
  }
});

add("Client.serve() stops answering after unsubscribe()", async () => {
  await using t = await start({ autoAckUnsubscribe: true });
  let calls = 0;
  const token = await t.client.serve([{ topic: "svc/stop", qos: 1 }], () => `n${++calls}`);
  await t.client.unsubscribe(token);
  assert.equal(t.conn.all(PacketType.Unsubscribe)[0].topics[0], "svc/stop");
  // A request the broker had already sent: acked, not answered.
  t.conn.send(request("svc/stop", "late", { qos: 1, packetId: 71, responseTopic: "back/s" }));
  await puback(t.conn, 71);
  assert.equal(calls, 0);
});
