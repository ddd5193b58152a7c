// instrument() and messageContext() of the ./otel entry (src/otel/mod.ts), shared by
// tests/otel/otel_test.ts (Deno.test) and bun-tests/otel.test.ts (bun:test, which maps
// the `npm:@opentelemetry/api@^1` specifier of src/otel/mod.ts to the dev dependency).
//
// Spans go to the SDK's InMemorySpanExporter, metrics to a MetricReader the test
// collects from; both providers are given to instrument() (nothing global but the
// context manager, AsyncLocalStorage from @opentelemetry/context-async-hooks, which
// carries the active span into handlers on Deno and Bun alike). A real mosquitto
// carries messages between two instrumented clients; a scripted broker withholds an
// ack or refuses a publish, which mosquitto will not do on demand.

import assert from "node:assert/strict";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  DataPointType,
  type Histogram,
  MeterProvider,
  type MetricData,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { Client, type ClientOptions, type Message, PacketType } from "../../mod.ts";
import { instrument, messageContext } from "../../src/otel/mod.ts";
import { startBroker } from "../_helpers/broker.ts";
import { FakeBroker, type ScriptConn } from "../_helpers/fake_broker.ts";
import { type Case, take, until, within } from "../group/_wait.ts";

export const cases: Case[] = [];
const add = (name: string, fn: () => Promise<void>) => cases.push({ name, fn });

// The active span follows async calls (a handler's spans become children of the
// process span). Registered once per process; a second registration is refused.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

/** A MetricReader the test collects from by hand. */
class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** An SDK for one test: a tracer and a meter provider, and what they recorded. */
function sdk() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracerProvider,
    meterProvider,
    /** The spans ended so far. */
    async spans(): Promise<ReadableSpan[]> {
      await tracerProvider.forceFlush();
      return exporter.getFinishedSpans();
    },
    /** The spans ended so far with this name (asserts how many). */
    async named(name: string, count = 1): Promise<ReadableSpan[]> {
      const found = (await this.spans()).filter((s) => s.name === name);
      assert.equal(found.length, count, `${count} span(s) "${name}": ${await this.names()}`);
      return found;
    },
    async names(): Promise<string> {
      return (await this.spans()).map((s) => s.name).join(", ");
    },
    /** The metrics, collected now. */
    async metrics(): Promise<MetricData[]> {
      const { resourceMetrics, errors } = await reader.collect();
      assert.deepEqual(errors, []);
      return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    },
    async [Symbol.asyncDispose](): Promise<void> {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** The single data point of metric `name`. */
function point(metrics: MetricData[], name: string) {
  const m = metrics.find((m) => m.descriptor.name === name);
  assert.ok(m, `metric ${name} in ${metrics.map((m) => m.descriptor.name).join(", ")}`);
  assert.equal(m.dataPoints.length, 1, `${name}: one data point`);
  return { metric: m, point: m.dataPoints[0] };
}

const spanId = (s: ReadableSpan) => s.spanContext().spanId;
const traceId = (s: ReadableSpan) => s.spanContext().traceId;
const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;

/** The W3C traceparent of `s`, as the publisher puts it in the user properties. */
const traceparentOf = (s: ReadableSpan) => `00-${traceId(s)}-${spanId(s)}-01`;

/** The values of user property `name`. */
function userProperty(m: Message, name: string): string[] {
  return (m.properties.userProperties ?? []).filter(([k]) => k === name).map(([, v]) => v);
}

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
    ...options,
  });
  const connecting = client.connect();
  const conn = await broker.nextConnection();
  await connecting;
  return { client, conn };
}

add(
  "instrument() records a PRODUCER span per publish, with messaging attributes, for QoS 0, 1 and 2",
  async () => {
    await using broker = await startBroker();
    await using otel = sdk();
    await using client = new Client({ broker: broker.url, clientId: "otel-pub" });
    using _i = instrument(client, otel);
    await client.connect();
    await client.publish({ topic: "otel/q0", payload: "zero" });
    await client.publish({ topic: "otel/q1", payload: new Uint8Array(7), qos: 1, retain: true });
    await client.publish({ topic: "otel/q2", payload: "é€😀", qos: 2 }); // 2 + 3 + 4 bytes
    const spans = await otel.spans();
    assert.deepEqual(spans.map((s) => s.name), [
      "publish otel/q0",
      "publish otel/q1",
      "publish otel/q2",
    ]);
    // Nobody subscribes: mosquitto's PUBACK says 0x10 (no matching subscribers); at
    // QoS 2 the PUBCOMP, which settles the publish, says 0.
    const expected = [
      { topic: "otel/q0", qos: 0, size: 4, retain: false, rc: {} },
      {
        topic: "otel/q1",
        qos: 1,
        size: 7,
        retain: true,
        rc: { "messaging.mqtt.reason_code": 0x10 },
      },
      { topic: "otel/q2", qos: 2, size: 9, retain: false, rc: {} },
    ];
    for (const [i, s] of spans.entries()) {
      assert.equal(s.kind, SpanKind.PRODUCER);
      assert.equal(s.status.code, SpanStatusCode.UNSET);
      assert.equal(s.instrumentationScope.name, "@mqttv5/client");
      assert.deepEqual(s.attributes, {
        "messaging.system": "mqtt",
        "messaging.operation.name": "publish",
        "messaging.operation.type": "send",
        "messaging.destination.name": expected[i].topic,
        "messaging.client.id": "otel-pub",
        "messaging.message.body.size": expected[i].size,
        "messaging.mqtt.qos": expected[i].qos,
        "messaging.mqtt.retain": expected[i].retain,
        ...expected[i].rc,
      });
      assert.equal(s.parentSpanContext, undefined, "no active span: a root span");
    }
  },
);

add("instrument() ends a QoS 1 publish span at the PUBACK, not before", async () => {
  await using broker = new FakeBroker();
  await using otel = sdk();
  const { client, conn } = await scripted(broker);
  await using _c = client;
  using _i = instrument(client, otel);
  const published = client.publish({ topic: "otel/held", payload: "x", qos: 1 });
  const p = await conn.expect(PacketType.Publish);
  assert.deepEqual(await otel.spans(), [], "no span ended while the PUBACK is withheld");
  conn.send({ type: PacketType.Puback, packetId: p.packetId!, reasonCode: 0x10 });
  await within(published, "publish resolves");
  const [span] = await otel.named("publish otel/held");
  assert.equal(span.status.code, SpanStatusCode.UNSET, "0x10 (no matching subscribers) succeeds");
  assert.equal(span.attributes["messaging.mqtt.reason_code"], 0x10);
  // The traceparent went out in the PUBLISH, naming this span.
  assert.deepEqual(p.properties?.userProperties, [["traceparent", traceparentOf(span)]]);
});

add(
  "instrument() marks a publish the broker refuses as an error span, and counts it in the latency histogram",
  async () => {
    await using broker = new FakeBroker({
      autoAckPublish: (p) => p.topic.startsWith("deny/") ? 0x87 : 0,
    });
    await using otel = sdk();
    const { client } = await scripted(broker);
    await using _c = client;
    using _i = instrument(client, otel);
    await client.publish({ topic: "ok/1", qos: 1 });
    await assert.rejects(
      client.publish({ topic: "deny/1", payload: "no", qos: 1 }),
      (e: Error & { code?: string }) => e.code === "publish-refused",
    );
    const [span] = await otel.named("publish deny/1");
    assert.equal(span.kind, SpanKind.PRODUCER);
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    assert.ok(span.status.message && span.status.message.length > 0, "status message");
    assert.equal(span.attributes["error.type"], "publish-refused");
    assert.equal(span.attributes["messaging.mqtt.reason_code"], 0x87);
    assert.deepEqual(span.events.map((e) => e.name), ["exception"]);
    assert.equal(span.events[0].attributes?.["exception.message"], span.status.message);
    const [ok] = await otel.named("publish ok/1");
    assert.equal(ok.status.code, SpanStatusCode.UNSET);

    const m = (await otel.metrics()).find((m) =>
      m.descriptor.name === "mqtt.client.publish.duration"
    );
    assert.ok(m);
    assert.equal(m.descriptor.unit, "ms");
    assert.equal(m.dataPointType, DataPointType.HISTOGRAM);
    const byError = new Map(
      m.dataPoints.map((d) => [d.attributes["error.type"], (d.value as Histogram).count]),
    );
    assert.deepEqual(byError, new Map([[undefined, 1], ["publish-refused", 1]]));
  },
);

add(
  "instrument() carries the traceparent from publisher to subscriber: receive and process spans are children of the publish span",
  async () => {
    await using broker = await startBroker();
    await using otel = sdk();
    await using pub = new Client({ broker: broker.url, clientId: "otel-a" });
    await using sub = new Client({ broker: broker.url, clientId: "otel-b" });
    using _p = instrument(pub, otel);
    using _s = instrument(sub, otel);
    await pub.connect();
    await sub.connect();
    const handled: Message[] = [];
    const work = otel.tracerProvider.getTracer("app");
    await sub.subscribeCallback([{ topic: "otel/chain", qos: 1 }], (m) => {
      handled.push(m);
      work.startSpan("handler work").end(); // the active span is the process span
    });
    const iterated = await sub.subscribe([{ topic: "otel/chain", qos: 1 }]);
    await pub.publish({ topic: "otel/chain", payload: "hello", qos: 1 });
    const [m] = await take(iterated, 1, "the iterator's message");
    m.ack();
    await until(() => handled.length === 1, "the callback's message");

    const [publish] = await otel.named("publish otel/chain");
    const [receive] = await otel.named("receive otel/chain"); // once per PUBLISH, not per subscription
    const [process] = await otel.named("process otel/chain");
    const [handlerWork] = await otel.named("handler work");
    assert.equal(receive.kind, SpanKind.CONSUMER);
    assert.equal(process.kind, SpanKind.CONSUMER);
    for (const s of [receive, process]) {
      assert.equal(traceId(s), traceId(publish), `${s.name}: same trace`);
      assert.equal(parentId(s), spanId(publish), `${s.name}: child of the publish span`);
      assert.equal(s.parentSpanContext?.isRemote, true);
      assert.equal(s.attributes["messaging.destination.name"], "otel/chain");
      assert.equal(s.attributes["messaging.client.id"], "otel-b");
      assert.equal(s.attributes["messaging.message.body.size"], 5);
      assert.equal(s.attributes["messaging.mqtt.qos"], 1);
      assert.equal(s.attributes["messaging.mqtt.dup"], false);
    }
    assert.equal(receive.attributes["messaging.operation.type"], "receive");
    assert.equal(process.attributes["messaging.operation.type"], "process");
    assert.equal(parentId(handlerWork), spanId(process), "spans of the handler are its children");
    assert.equal(traceId(handlerWork), traceId(publish));

    // What the subscribers saw: one traceparent naming the publish span.
    for (const got of [m, handled[0]]) {
      assert.deepEqual(userProperty(got, "traceparent"), [traceparentOf(publish)]);
    }
    // A message read from an iterator: messageContext() continues the trace.
    const parent = trace.getSpanContext(messageContext(m));
    assert.equal(parent?.traceId, traceId(publish));
    assert.equal(parent?.spanId, spanId(publish));
  },
);

add(
  "instrument() parents the publish span on the active span, keeps a traceparent the caller set, and never changes the caller's message",
  async () => {
    await using broker = await startBroker();
    await using otel = sdk();
    await using client = new Client({ broker: broker.url });
    using _i = instrument(client, otel);
    await client.connect();
    const got = await client.subscribe([{ topic: "otel/own/#", qos: 1 }]);
    const app = otel.tracerProvider.getTracer("app");

    const message = {
      topic: "otel/own/a",
      payload: "a",
      qos: 1 as const,
      properties: { userProperties: [["k", "v"]] as [string, string][] },
    };
    await app.startActiveSpan("outer", async (outer) => {
      await client.publish(message);
      outer.end();
    });
    assert.deepEqual(
      message.properties.userProperties,
      [["k", "v"]],
      "the caller's object is as it was",
    );

    const theirs = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    await client.publish({
      topic: "otel/own/b",
      qos: 1,
      properties: { userProperties: [["traceparent", theirs]] },
    });

    const [a, b] = await take(got, 2, "both messages");
    a.ack();
    b.ack();
    const [outer] = await otel.named("outer");
    const [publishA] = await otel.named("publish otel/own/a");
    assert.equal(
      parentId(publishA),
      spanId(outer),
      "the publish span is a child of the active span",
    );
    assert.equal(traceId(publishA), traceId(outer));
    assert.deepEqual(a.properties.userProperties, [["k", "v"], [
      "traceparent",
      traceparentOf(publishA),
    ]]);

    // The caller's traceparent goes out alone and is the receive span's parent.
    assert.deepEqual(userProperty(b, "traceparent"), [theirs]);
    const [receiveB] = await otel.named("receive otel/own/b");
    assert.equal(traceId(receiveB), "0af7651916cd43dd8448eb211c80319c");
    assert.equal(parentId(receiveB), "b7ad6b7169203331");
  },
);

add(
  "instrument() with propagate: false sends no traceparent, and consumer spans start their own trace",
  async () => {
    await using broker = await startBroker();
    await using otel = sdk();
    await using client = new Client({ broker: broker.url });
    using _i = instrument(client, { ...otel, propagate: false });
    await client.connect();
    const got = await client.subscribe([{ topic: "otel/quiet", qos: 1 }]);
    await client.publish({ topic: "otel/quiet", payload: "q", qos: 1 });
    const [m] = await take(got, 1, "the message");
    m.ack();
    assert.deepEqual(m.properties.userProperties ?? [], []);
    const [publish] = await otel.named("publish otel/quiet");
    const [receive] = await otel.named("receive otel/quiet");
    assert.equal(receive.parentSpanContext, undefined, "a root span");
    assert.notEqual(traceId(receive), traceId(publish));
  },
);

add("instrument() with propertyName carries the context under that name", async () => {
  await using broker = await startBroker();
  await using otel = sdk();
  await using client = new Client({ broker: broker.url });
  using _i = instrument(client, { ...otel, propertyName: "otel-tp" });
  await client.connect();
  const got = await client.subscribe([{ topic: "otel/named", qos: 1 }]);
  await client.publish({ topic: "otel/named", qos: 1 });
  const [m] = await take(got, 1, "the message");
  m.ack();
  const [publish] = await otel.named("publish otel/named");
  assert.deepEqual(m.properties.userProperties, [["otel-tp", traceparentOf(publish)]]);
  const [receive] = await otel.named("receive otel/named");
  assert.equal(parentId(receive), spanId(publish));
  assert.equal(trace.getSpanContext(messageContext(m)), undefined, "not under the default name");
  assert.equal(
    trace.getSpanContext(messageContext(m, { propertyName: "otel-tp" }))?.spanId,
    spanId(publish),
  );
});

add(
  "instrument() records an error on the process span of a handler that throws; the client goes on",
  async () => {
    await using broker = await startBroker();
    await using otel = sdk();
    const errors: string[] = [];
    await using client = new Client({
      broker: broker.url,
      logger: {
        debug() {},
        info() {},
        warn() {},
        error: (msg) => void errors.push(msg),
      },
    });
    using _i = instrument(client, otel);
    await client.connect();
    let calls = 0;
    await client.subscribeCallback([{ topic: "otel/throw", qos: 1 }], () => {
      calls++;
      throw new RangeError("bad reading");
    });
    await client.publish({ topic: "otel/throw", qos: 1 });
    await client.publish({ topic: "otel/throw", qos: 1 });
    await until(() => calls === 2, "both messages handled");
    const spans = await otel.named("process otel/throw", 2);
    for (const s of spans) {
      assert.equal(s.status.code, SpanStatusCode.ERROR);
      assert.equal(s.status.message, "bad reading");
      assert.equal(s.attributes["error.type"], "RangeError");
    }
    assert.deepEqual(errors, ["subscription handler threw", "subscription handler threw"]);
  },
);

add("instrument() mirrors stats() in metrics and records publish latency by QoS", async () => {
  await using broker = await startBroker();
  await using otel = sdk();
  await using client = new Client({ broker: broker.url, clientId: "otel-stats", stats: true });
  using _i = instrument(client, otel);
  await client.connect();
  const N = 5;
  for (let i = 0; i < N; i++) await client.publish({ topic: `otel/stats/${i}`, qos: 1 });
  await client.publish({ topic: "otel/stats/q0" });
  const metrics = await otel.metrics();
  const stats = client.stats();
  assert.equal(stats.publishesSent, N + 1);

  const sent = point(metrics, "mqtt.client.publishes_sent");
  assert.equal(sent.point.value, N + 1);
  assert.equal(sent.metric.dataPointType, DataPointType.SUM);
  assert.equal((sent.metric as { isMonotonic?: boolean }).isMonotonic, true);
  assert.deepEqual(sent.point.attributes, {
    "messaging.system": "mqtt",
    "messaging.client.id": "otel-stats",
  });
  assert.equal(point(metrics, "mqtt.client.publishes_acked").point.value, N);
  assert.equal(point(metrics, "mqtt.client.connects").point.value, 1);
  const inflight = point(metrics, "mqtt.client.publishes_inflight");
  assert.equal(inflight.point.value, 0);
  assert.equal((inflight.metric as { isMonotonic?: boolean }).isMonotonic, false);
  // One instrument per field of stats(), each observing its value.
  for (const [field, value] of Object.entries(stats)) {
    const name = `mqtt.client.${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
    assert.equal(point(metrics, name).point.value, value, name);
  }

  const latency = metrics.find((m) => m.descriptor.name === "mqtt.client.publish.duration");
  assert.ok(latency);
  const byQos = new Map(
    latency.dataPoints.map((d) => [d.attributes["messaging.mqtt.qos"], d.value as Histogram]),
  );
  assert.equal(byQos.get(1)?.count, N);
  assert.equal(byQos.get(0)?.count, 1);
  assert.ok((byQos.get(1)?.min ?? -1) >= 0);
});

add("instrument() on a client without stats: true creates no stats instruments", async () => {
  await using broker = await startBroker();
  await using otel = sdk();
  await using client = new Client({ broker: broker.url });
  using _i = instrument(client, otel);
  await client.connect();
  await client.publish({ topic: "otel/nostats", qos: 1 });
  const names = (await otel.metrics()).map((m) => m.descriptor.name);
  assert.deepEqual(names, ["mqtt.client.publish.duration"]);
});

add(
  "instrument()'s disposer restores the client: no spans, no traceparent, no metrics, and it can be instrumented again",
  async () => {
    await using broker = await startBroker();
    await using otel = sdk();
    await using client = new Client({ broker: broker.url, stats: true });
    const instrumented = instrument(client, otel);
    assert.ok(Object.hasOwn(client, "publish"), "instrumented: publish wrapped on the instance");
    await client.connect();
    const got = await client.subscribe([{ topic: "otel/off", qos: 1 }]);
    const handled: Message[] = [];
    await client.subscribeCallback([{ topic: "otel/off", qos: 1 }], (m) => void handled.push(m));
    await client.publish({ topic: "otel/off", payload: "on", qos: 1 });
    const [on] = await take(got, 1, "first message");
    on.ack();
    await until(() => handled.length === 1, "first callback");
    assert.equal((await otel.spans()).length, 3, await otel.names()); // publish, receive, process
    const sentBefore = client.stats().publishesSent;
    assert.equal(point(await otel.metrics(), "mqtt.client.publishes_sent").point.value, sentBefore);

    instrumented[Symbol.dispose]();
    instrumented[Symbol.dispose](); // idempotent
    for (const key of ["publish", "subscribeCallback", "request", "serve"]) {
      assert.ok(!Object.hasOwn(client, key), `${key} is the prototype's again`);
    }
    await client.publish({ topic: "otel/off", payload: "off", qos: 1 });
    const [off] = await take(got, 1, "second message");
    off.ack();
    await until(() => handled.length === 2, "second callback");
    assert.deepEqual(off.properties.userProperties ?? [], [], "no traceparent");
    // Not even the handler subscribed while instrumented (its wrapper passes through now).
    assert.deepEqual(
      (await otel.spans()).map((s) => s.name).sort(),
      ["process otel/off", "publish otel/off", "receive otel/off"],
    );
    // Nothing observes stats() any more: the SDK repeats the last value it saw (or
    // nothing), not the client's count now.
    assert.equal(client.stats().publishesSent, sentBefore + 1);
    const sent = (await otel.metrics()).find((m) =>
      m.descriptor.name === "mqtt.client.publishes_sent"
    );
    assert.deepEqual(sent?.dataPoints.map((d) => d.value) ?? [sentBefore], [sentBefore]);

    using _again = instrument(client, otel);
    await client.publish({ topic: "otel/again", qos: 1 });
    await otel.named("publish otel/again");
  },
);

add(
  "instrument() leaves a publish that disconnect() ends without an unhandled rejection, and ends its span",
  async () => {
    await using broker = new FakeBroker();
    await using otel = sdk();
    const { client, conn } = await scripted(broker);
    using _i = instrument(client, otel);
    // Never awaited: without the client's tracking, its rejection would be unhandled.
    client.publish({ topic: "otel/pending", qos: 1 });
    await conn.expect(PacketType.Publish);
    await client.disconnect();
    const [span] = await otel.named("publish otel/pending");
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    assert.equal(span.attributes["error.type"], "closed");
  },
);

add(
  "instrument() traces request() and serve(): request CLIENT span, serve span its child, reply received under the serve span",
  async () => {
    await using broker = await startBroker();
    await using otel = sdk();
    await using server = new Client({ broker: broker.url, clientId: "otel-server" });
    await using requester = new Client({ broker: broker.url, clientId: "otel-requester" });
    using _s = instrument(server, otel);
    using _r = instrument(requester, otel);
    await server.connect();
    await requester.connect();
    const app = otel.tracerProvider.getTracer("app");
    await server.serve([{ topic: "otel/svc/square", qos: 1 }], async (req) => {
      await Promise.resolve();
      app.startSpan("compute").end(); // after an await: still under the serve span
      return String(Number(req.text()) ** 2);
    });
    const reply = await requester.request({ topic: "otel/svc/square", payload: "12", qos: 1 });
    assert.equal(reply.text(), "144");

    const [request] = await otel.named("request otel/svc/square");
    const [serve] = await otel.named("serve otel/svc/square");
    const [compute] = await otel.named("compute");
    const [received] = await otel.named("receive otel/svc/square");
    const [replyReceived] = await otel.named(`receive ${reply.topic}`);
    assert.equal(request.kind, SpanKind.CLIENT);
    assert.equal(request.status.code, SpanStatusCode.UNSET);
    assert.equal(request.attributes["messaging.operation.name"], "request");
    assert.equal(request.attributes["messaging.client.id"], "otel-requester");
    assert.equal(serve.kind, SpanKind.CONSUMER);
    assert.equal(serve.attributes["messaging.operation.name"], "serve");
    assert.equal(serve.attributes["messaging.client.id"], "otel-server");
    for (const s of [serve, received, compute, replyReceived]) {
      assert.equal(traceId(s), traceId(request), `${s.name}: one trace`);
    }
    assert.equal(parentId(serve), spanId(request), "serve: child of the request span");
    assert.equal(parentId(received), spanId(request));
    assert.equal(parentId(compute), spanId(serve));
    assert.equal(parentId(replyReceived), spanId(serve), "the reply carries the serve span");
    assert.deepEqual(userProperty(reply, "traceparent"), [traceparentOf(serve)]);
  },
);

add("instrument() marks a request that times out as an error span", async () => {
  await using broker = await startBroker();
  await using otel = sdk();
  await using client = new Client({ broker: broker.url });
  using _i = instrument(client, otel);
  await client.connect();
  await assert.rejects(
    client.request({ topic: "otel/nobody", qos: 1, timeoutMs: 100 }),
    (e: Error & { code?: string }) => e.code === "timeout",
  );
  const [span] = await otel.named("request otel/nobody");
  assert.equal(span.status.code, SpanStatusCode.ERROR);
  assert.equal(span.attributes["error.type"], "timeout");
});

add("instrument() checks its arguments", async () => {
  await using otel = sdk();
  const client = new Client({ broker: "mqtt://127.0.0.1:1" });
  assert.throws(() => instrument({} as Client), TypeError);
  assert.throws(() => instrument(null as unknown as Client), TypeError);
  assert.throws(() => instrument(client, null as unknown as object), TypeError);
  assert.throws(() => instrument(client, { propertyName: "" }), TypeError);
  assert.throws(() => instrument(client, { propertyName: 1 as unknown as string }), TypeError);
  assert.throws(() => instrument(client, { propagate: "yes" as unknown as boolean }), TypeError);
  assert.throws(() => instrument(client, { tracerProvider: {} as never }), TypeError);
  assert.throws(() => instrument(client, { meterProvider: {} as never }), TypeError);
  assert.ok(!Object.hasOwn(client, "publish"), "a refused instrument() changed nothing");
  const first = instrument(client, otel);
  assert.throws(() => instrument(client, otel), TypeError);
  first[Symbol.dispose]();
  instrument(client, otel)[Symbol.dispose]();
});

add("messageContext() takes a valid traceparent and tracestate, and ignores malformed ones", () => {
  const ctx = (value: string, more: [string, string][] = []) =>
    trace.getSpanContext(
      messageContext({ properties: { userProperties: [["traceparent", value], ...more] } }),
    );
  const ok = ctx("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", [
    ["tracestate", "vendor=abc,other=1"],
  ]);
  assert.equal(ok?.traceId, "0af7651916cd43dd8448eb211c80319c");
  assert.equal(ok?.spanId, "b7ad6b7169203331");
  assert.equal(ok?.traceFlags, 1);
  assert.equal(ok?.isRemote, true);
  assert.equal(ok?.traceState?.get("vendor"), "abc");
  // A later version may add fields after the fourth.
  assert.equal(ctx("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-x")?.traceFlags, 0);
  for (
    const bad of [
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", // 00 has four fields
      "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", // version ff
      "00-00000000000000000000000000000000-b7ad6b7169203331-01", // zero trace id
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", // zero span id
      "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", // upper case
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01", // short span id
      "",
    ]
  ) {
    assert.equal(ctx(bad), undefined, bad);
  }
  assert.equal(trace.getSpanContext(messageContext({ properties: {} })), undefined);
  return Promise.resolve();
});
