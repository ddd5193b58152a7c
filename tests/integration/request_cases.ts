// Request / response (MQTT v5 §4.10) against a real mosquitto: request() and
// serve() between clients, one response subscription per client (counted by
// the client's stats), reconnects with the session kept and lost (through a
// fault proxy), distinct response topics for broker-assigned client ids, and
// serve() answering mosquitto_rr. The misbehaviour mosquitto will not produce
// (Response Information, foreign or duplicate correlation data, withheld acks)
// is in tests/client/request_cases.ts.
//
// Runtime-neutral: tests/integration/request_test.ts (`deno test`) and
// bun-tests/request.test.ts (`bun test`) run these cases.

import assert from "node:assert/strict";
import { type Client, type Message, MqttError } from "../../mod.ts";
import { PacketType } from "../../src/wire/mod.ts";
import { startBroker } from "../_helpers/broker.ts";
import { connected } from "../_helpers/clients.ts";
import { startFaultProxy } from "../_helpers/fault_proxy.ts";
import { waitUntil, within } from "../_helpers/timing.ts";
import { finished, start } from "../cli/_spawn.ts";

/** One scenario. */
export interface RequestIntegrationCase {
  name: string;
  fn: () => Promise<void>;
}

export const requestIntegrationCases: RequestIntegrationCase[] = [];
const add = (name: string, fn: () => Promise<void>) => requestIntegrationCases.push({ name, fn });

const WAIT_MS = 5000;

/** A promise whose outcome can be inspected synchronously; never unhandled. */
function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: boolean } {
  const t = { promise, settled: false };
  promise.then(() => t.settled = true, () => t.settled = true);
  return t;
}

/** A promise and the function that resolves it. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => open = resolve);
  return { open, opened };
}

const hex = (b: Uint8Array | undefined) => [...(b ?? [])].join(".");

add(
  "Client.request() / serve() on mosquitto: every reply matched, one response subscription for all requests",
  async () => {
    await using broker = await startBroker();
    await using server = await connected(broker.url, { clientId: "rr-server" });
    const seen: Message[] = [];
    await server.serve([{ topic: "svc/upper", qos: 2 }], (m) => {
      seen.push(m);
      return { payload: m.text().toUpperCase(), properties: { contentType: "text/plain" } };
    });
    await using client = await connected(broker.url, { clientId: "rr-asker", stats: true });

    const n = 50;
    const replies = await within(
      Promise.all(
        Array.from(
          { length: n },
          (_, i) => client.request({ topic: "svc/upper", payload: `msg ${i}`, qos: 1 }),
        ),
      ),
      WAIT_MS,
      `${n} concurrent requests`,
    );
    assert.deepEqual(replies.map((r) => r.text()), replies.map((_, i) => `MSG ${i}`));
    for (const r of replies) {
      assert.match(r.topic, /^mqttv5\/response\/rr-asker\/[0-9a-f]{16}$/);
      assert.equal(r.topic, replies[0].topic, "one response topic");
      assert.equal(r.properties.contentType, "text/plain");
      assert.equal(r.properties.correlationData?.length, 16);
      assert.equal(r.qos, 1);
    }
    assert.equal(new Set(replies.map((r) => hex(r.properties.correlationData))).size, n);
    // The server saw the same Response Topic and Correlation Data the reply came back with.
    const byCd = new Map(seen.map((m) => [hex(m.properties.correlationData), m]));
    for (const r of replies) {
      const req = byCd.get(hex(r.properties.correlationData));
      assert.ok(req !== undefined, "a reply to a request the server saw");
      assert.equal(req.properties.responseTopic, r.topic);
      assert.equal(req.text().toUpperCase(), r.text());
    }

    // One at a time, at every QoS: still the one subscription.
    for (const qos of [0, 1, 2] as const) {
      const r = await client.request({ topic: "svc/upper", payload: `q${qos}`, qos });
      assert.equal(r.text(), `Q${qos}`);
      assert.equal(seen[seen.length - 1].qos, qos, "the request went at its QoS");
      assert.equal(
        r.qos,
        Math.min(qos, 1),
        "the reply at the request's QoS, at most the subscription's 1",
      );
    }
    assert.equal(client.stats().subscribesSent, 1, "one SUBSCRIBE for 53 requests");
    assert.equal(client.stats().subscriptionsActive, 1);

    // Nobody serves this topic: the request times out.
    await assert.rejects(
      client.request({ topic: "svc/nobody", payload: "?", qos: 1, timeoutMs: 100 }),
      (e) => e instanceof MqttError && e.code === "timeout",
    );
  },
);

add(
  "Client.request() in flight across a reconnect gets its reply when mosquitto kept the session",
  async () => {
    await using broker = await startBroker();
    await using proxy = await startFaultProxy(broker.url);
    const hold = gate();
    let requests = 0;
    await using server = await connected(broker.url, { clientId: "rr-hold-server" });
    await server.serve([{ topic: "svc/hold", qos: 1 }], async (m) => {
      requests++;
      await hold.opened;
      return `held ${m.text()}`;
    });
    // Sees every reply as mosquitto routes it.
    await using observer = await connected(broker.url, { clientId: "rr-observer" });
    const replies = await observer.subscribeQueue([{ topic: "mqttv5/response/#", qos: 1 }]);
    await using requester = await connected(proxy.url, {
      clientId: "rr-requester",
      reconnectBackoff: () => 50,
      stats: true,
    });
    const pending = track(requester.request({ topic: "svc/hold", payload: "x", qos: 1 }));
    await waitUntil(() => requests >= 1, WAIT_MS, "the request reached the server");

    proxy.refuseUntilResumed();
    proxy.cutAll();
    await waitUntil(() => !requester.connected, WAIT_MS, "the requester is offline");
    hold.open();
    const copy = await within(replies.queue.dequeue(), WAIT_MS, "the reply reached mosquitto");
    copy?.ack();
    assert.equal(pending.settled, false, "the requester is offline, its reply queued at mosquitto");
    proxy.resume();

    const reply = await within(pending.promise, WAIT_MS, "the reply after the reconnect");
    assert.equal(reply.text(), "held x");
    assert.equal(requester.connack?.sessionPresent, true);
    assert.equal(requester.stats().connects, 2);
    assert.equal(requester.stats().subscribesSent, 1, "the session kept the response subscription");
  },
);

add(
  "Client.request() in flight when mosquitto lost the session: the response subscription is re-issued and the reply arrives",
  async () => {
    await using broker = await startBroker();
    await using proxy = await startFaultProxy(broker.url);
    const hold = gate();
    let requests = 0;
    await using server = await connected(broker.url, { clientId: "rr-lost-server" });
    await server.serve([{ topic: "svc/lost", qos: 1 }], async (m) => {
      requests++;
      await hold.opened;
      return `late ${m.text()}`;
    });
    await using requester = await connected(proxy.url, {
      clientId: "rr-lost-requester",
      sessionExpirySeconds: 0, // every connection loss loses the session
      reconnectBackoff: () => 50,
      stats: true,
    });
    let resubscribed = false;
    proxy.onPacket((p) => {
      if (p.connection === 2 && p.from === "broker" && p.type === PacketType.Suback) {
        resubscribed = true;
      }
    });
    const pending = track(requester.request({ topic: "svc/lost", payload: "y", qos: 1 }));
    await waitUntil(() => requests >= 1, WAIT_MS, "the request reached the server");
    proxy.cutAll();
    await waitUntil(() => resubscribed, WAIT_MS, "the response topic subscribed again");
    assert.equal(requester.connack?.sessionPresent, false);
    assert.equal(requester.stats().subscribesSent, 2, "subscribed, then re-subscribed once");
    assert.equal(pending.settled, false, "still waiting");
    hold.open();
    const reply = await within(pending.promise, WAIT_MS, "the reply on the new session");
    assert.equal(reply.text(), "late y");
  },
);

add(
  "Client.request() response topics of two clients with broker-assigned ids differ on mosquitto",
  async () => {
    await using broker = await startBroker();
    await using server = await connected(broker.url, { clientId: "rr-echo" });
    await server.serve(["svc/who"], (m) => m.properties.responseTopic ?? "none");
    await using a = await connected(broker.url, { clientId: "" });
    await using b = await connected(broker.url, { clientId: "" });
    assert.notEqual(a.clientId, b.clientId);
    const ra = await a.request({ topic: "svc/who", timeoutMs: WAIT_MS });
    const rb = await b.request({ topic: "svc/who", timeoutMs: WAIT_MS });
    assert.equal(ra.text(), ra.topic, "the server answered on the topic it was given");
    assert.notEqual(ra.topic, rb.topic);
    assert.ok(ra.topic.startsWith(`mqttv5/response/${a.clientId}/`), ra.topic);
    assert.ok(rb.topic.startsWith(`mqttv5/response/${b.clientId}/`), rb.topic);
  },
);

add("Client.serve() answers mosquitto_rr", async () => {
  await using broker = await startBroker();
  await using server: Client = await connected(broker.url, { clientId: "rr-for-mosquitto" });
  let asked: Message["properties"] | undefined;
  await server.serve([{ topic: "svc/mosq", qos: 1 }], (m) => {
    asked = m.properties;
    return `mosquitto asked: ${m.text()}`;
  });
  const rr = start("mosquitto_rr", [
    "-h",
    broker.host,
    "-p",
    String(broker.port),
    "-t",
    "svc/mosq",
    "-e",
    "mosq/replies",
    "-m",
    "hello",
    "-q",
    "1",
    "-W",
    "10",
  ]);
  const r = await finished(rr, "mosquitto_rr");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "mosquitto asked: hello\n");
  assert.equal(asked?.responseTopic, "mosq/replies");
  // mosquitto_rr 2.0 sends no Correlation Data: the reply carries none either.
  assert.equal(asked?.correlationData, undefined);
});
