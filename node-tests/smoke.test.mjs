// The Node smoke suite: the client as built for Node (dist/node/, see
// tools/build_node.ts), with its default transport (autoDial -> node:net /
// node:tls), against a real mosquitto on loopback, under `node --test`.
//
//   deno run -A tools/build_node.ts && node --test node-tests/
//
// One broker (plain + TLS listener, certificates made with openssl) serves
// most cases; the restart case starts its own. Every client is disconnected
// and every broker and relay disposed in `t.after` / `after`, so the process
// exits by itself when the cases are done.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Client, constantBackoff, MqttError } from "../dist/node/mod.js";
import { startBroker } from "../dist/node-tests/_helpers/broker.js";
import {
  binary,
  nextEvent,
  nextMessage,
  startRelay,
  uniqueTopic,
  untilLog,
  WAIT_MS,
  within,
} from "./_helpers.mjs";

/** @type {import("../tests/_helpers/broker.ts").Broker} */
let broker;

before(async () => {
  broker = await startBroker({ tls: true });
});

after(async () => {
  await broker?.[Symbol.asyncDispose]();
});

/** A connected client, disconnected when the test `t` ends. */
async function connected(t, options = {}) {
  const client = new Client({ broker: broker.url, connectTimeoutMs: WAIT_MS, ...options });
  t.after(() => client.disconnect());
  await client.connect();
  return client;
}

/** Subscribes and returns the subscription's iterator, ended when `t` ends. */
async function subscribed(t, client, filters) {
  const it = (await client.subscribe(filters))[Symbol.asyncIterator]();
  t.after(() => it.return?.());
  return it;
}

/** The status events of `client` from now on, as an iterator closed when `t` ends. */
function statusEvents(t, client) {
  const events = client.status()[Symbol.asyncIterator]();
  t.after(() => events.return?.());
  return events;
}

test("Client.connect() resolves with mosquitto's CONNACK over node:net", async (t) => {
  const client = new Client({ broker: broker.url, clientId: "", connectTimeoutMs: WAIT_MS });
  t.after(() => client.disconnect());
  assert.equal(client.connected, false);
  const info = await client.connect();
  assert.equal(client.connected, true);
  assert.equal(info.reasonCode, 0);
  assert.equal(info.sessionPresent, false);
  // mosquitto 2.0 defaults: max_inflight_messages 20, max_topic_alias 10, QoS 2, retain on.
  assert.equal(info.receiveMaximum, 20);
  assert.equal(info.maximumQoS, 2);
  assert.equal(info.topicAliasMaximum, 10);
  assert.equal(info.retainAvailable, true);
  assert.equal(info.subscriptionIdentifiersAvailable, true);
  // An empty client id asks the broker for one [MQTT-3.1.3-6], which the client adopts.
  assert.match(info.assignedClientIdentifier, /^auto-/);
  assert.equal(client.clientId, info.assignedClientIdentifier);
  assert.deepEqual(client.connack, info);
});

test("Client.publish() delivers QoS 0, 1 and 2 both ways between two clients", async (t) => {
  const a = await connected(t);
  const b = await connected(t);
  const toA = uniqueTopic("to-a");
  const toB = uniqueTopic("to-b");
  const inboxA = await subscribed(t, a, [{ topic: `${toA}/#`, qos: 2 }]);
  const inboxB = await subscribed(t, b, [{ topic: `${toB}/#`, qos: 2 }]);
  const ways = [
    { name: "a -> b", from: a, topic: toB, inbox: inboxB },
    { name: "b -> a", from: b, topic: toA, inbox: inboxA },
  ];
  for (const qos of [0, 1, 2]) {
    for (const [i, way] of ways.entries()) {
      const topic = `${way.topic}/qos${qos}`;
      // Binary, not UTF-8, a little over 256 bytes: the Remaining Length takes two bytes.
      const payload = binary(300 + qos, i);
      const result = await way.from.publish({ topic, payload, qos });
      assert.equal(result.reasonCode, 0, `${way.name} QoS ${qos}: reason code`);
      const m = await nextMessage(way.inbox, `${way.name} QoS ${qos}`);
      assert.equal(m.topic, topic);
      assert.equal(m.qos, qos);
      assert.equal(m.retain, false);
      assert.deepEqual(m.payload, payload, `${way.name} QoS ${qos}: payload`);
      // A string payload goes out as UTF-8.
      const text = `héllo ${way.name} at QoS ${qos} ✓`;
      await way.from.publish({ topic, payload: text, qos });
      assert.equal((await nextMessage(way.inbox, `${way.name} QoS ${qos} text`)).text(), text);
    }
  }
});

test("Client over mqtts:// (node:tls) verifies the broker against tls.caCerts and round-trips QoS 1", async (t) => {
  const tls = { caCerts: [broker.certs.ca.cert] };
  // tlsUrl is mqtts://localhost:<port>: the name verified is the DNS SAN "localhost".
  const a = await connected(t, { broker: broker.tlsUrl, tls });
  const b = await connected(t, { broker: broker.tlsUrl, tls });
  const topic = uniqueTopic("tls");
  const inbox = await subscribed(t, b, [{ topic, qos: 1 }]);
  const payload = binary(70_000); // larger than one TLS record (16 KiB)
  const result = await a.publish({ topic, payload, qos: 1 });
  assert.equal(result.reasonCode, 0);
  const m = await nextMessage(inbox, "the QoS 1 message over TLS");
  assert.equal(m.qos, 1);
  assert.deepEqual(m.payload, payload);
});

test("Client.connect() over mqtts:// rejects a broker certificate the given CA did not sign", async (t) => {
  const client = new Client({
    broker: broker.tlsUrl,
    tls: { caCerts: [broker.certs.otherCa.cert] },
    connectTimeoutMs: WAIT_MS,
  });
  t.after(() => client.disconnect());
  await assert.rejects(client.connect(), (err) => {
    // OpenSSL's verdict, from node:tls, is the cause.
    assert.match(
      String(err?.cause?.code),
      /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/,
    );
    return true;
  });
  assert.equal(client.connected, false);
});

test("Client reconnects on its own after its socket is cut and delivers a QoS 1 publish made while down", async (t) => {
  const relay = await startRelay(broker.port);
  t.after(() => relay.close());
  const topic = uniqueTopic("cut");
  const receiver = await connected(t);
  const inbox = await subscribed(t, receiver, [{ topic, qos: 1 }]);
  const sender = await connected(t, {
    broker: relay.url,
    clientId: `node-smoke-${process.pid}-cut`,
    reconnectBackoff: constantBackoff(20),
  });
  const events = statusEvents(t, sender);

  // Refuse reconnects for now, then destroy the relayed sockets: the client's
  // node:net socket sees the peer go away, not a close() of its own.
  relay.refuse(true);
  assert.equal(relay.cutAll(), 1);
  await nextEvent(events, "disconnected");
  assert.equal(sender.connected, false);

  const payload = binary(1000, 9);
  const pending = sender.publish({ topic, payload, qos: 1 });
  await nextEvent(events, "reconnecting");
  await nextEvent(events, "reconnecting"); // a refused attempt happened in between
  assert.ok(relay.refusals >= 1, `reconnects were refused (${relay.refusals})`);

  relay.refuse(false);
  const up = await nextEvent(events, "connected");
  assert.equal(up.connack.sessionPresent, true, "the session survived the cut");
  assert.equal(sender.connected, true);
  assert.equal((await within(pending, "the PUBACK of the publish made while down")).reasonCode, 0);
  const m = await nextMessage(inbox, "the publish made while down");
  assert.equal(m.topic, topic);
  assert.deepEqual(m.payload, payload);
});

test("Client reconnects after mosquitto restarts, re-subscribes and delivers a QoS 1 publish made while it was down", async (t) => {
  // Its own broker, without persistence: the restarted mosquitto has no session,
  // so the client must re-issue its SUBSCRIBE (before it replays the publish).
  const own = await startBroker();
  t.after(() => own[Symbol.asyncDispose]());
  const connectErrors = [];
  const client = await connected(t, {
    broker: own.url,
    clientId: `node-smoke-${process.pid}-restart`,
    reconnectBackoff: constantBackoff(50),
    onConnectError: (err) => connectErrors.push(err),
  });
  const topic = uniqueTopic("restart");
  const inbox = await subscribed(t, client, [{ topic, qos: 1 }]);
  const events = statusEvents(t, client);

  await own.stop();
  await nextEvent(events, "disconnected");
  const payload = binary(500, 3);
  const pending = client.publish({ topic, payload, qos: 1 });
  await nextEvent(events, "reconnecting");
  await nextEvent(events, "reconnecting");
  // The attempt in between met a closed port: node:net's ECONNREFUSED is the cause.
  assert.ok(connectErrors.length >= 1, "reconnect attempts failed while mosquitto was down");
  assert.equal(connectErrors[0].cause?.code, "ECONNREFUSED");

  await own.restart();
  const up = await nextEvent(events, "connected");
  assert.equal(up.connack.sessionPresent, false, "the restarted mosquitto has no session");
  assert.equal((await within(pending, "the PUBACK of the publish made while down")).reasonCode, 0);
  const m = await nextMessage(inbox, "the publish made while down, via the re-issued SUBSCRIBE");
  assert.deepEqual(m.payload, payload);
  // And the new connection carries new traffic.
  await client.publish({ topic, payload: "after", qos: 1 });
  assert.equal((await nextMessage(inbox, "a publish after the restart")).text(), "after");
});

test("Client.disconnect() sends DISCONNECT, ends subscriptions and the status stream, then refuses work", async (t) => {
  const clientId = `node-smoke-${process.pid}-bye`;
  const client = await connected(t, { clientId });
  const topic = uniqueTopic("bye");
  const inbox = await subscribed(t, client, [{ topic, qos: 1 }]);
  const events = statusEvents(t, client);

  await client.disconnect();
  assert.equal(client.connected, false);
  assert.deepEqual(await within(inbox.next(), "the subscription to end"), {
    done: true,
    value: undefined,
  });
  await nextEvent(events, "closed");
  assert.equal((await within(events.next(), "the status stream to end")).done, true);
  await assert.rejects(
    client.publish({ topic, payload: "late", qos: 1 }),
    (err) => err instanceof MqttError && err.code === "closed",
  );
  // mosquitto got a DISCONNECT, not a dropped socket.
  await untilLog(broker, new RegExp(`Client ${clientId} disconnected\\.`));
  assert.doesNotMatch(await broker.log(), new RegExp(`Client ${clientId} closed its connection`));
  await client.disconnect(); // idempotent
});
