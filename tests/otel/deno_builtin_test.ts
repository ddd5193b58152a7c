// instrument() under Deno's built-in OpenTelemetry (OTEL_DENO=true), with no SDK: a
// child `deno run` (tests/otel/_deno_child.ts) exports over OTLP/HTTP JSON to a
// collector of a few lines here, on loopback. Its spans show that instrument()
// picked up Deno's global providers and that the traceparent linked the receive
// span to the publish span; its metrics, that the meter works too. Deno only: the
// built-in OpenTelemetry is Deno's (Bun and Node need an SDK, as otel_cases.ts uses).
//
// Also here: only the ./otel entry's module graph holds @opentelemetry/api.

import assert from "node:assert/strict";
import { startBroker } from "../_helpers/broker.ts";
import { delay, until } from "../group/_wait.ts";

const ROOT = new URL("../../", import.meta.url);

/** An OTLP/JSON attribute. */
interface KeyValue {
  key: string;
  value: {
    stringValue?: string;
    intValue?: string | number;
    doubleValue?: number;
    boolValue?: boolean;
  };
}
interface OtlpSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes?: KeyValue[];
}
interface OtlpMetric {
  name: string;
  unit?: string;
  histogram?: { dataPoints: { count: string | number }[] };
  sum?: { dataPoints: { asInt?: string | number; asDouble?: number }[] };
}

/** OTLP's SpanKind: PRODUCER 4, CONSUMER 5. */
const PRODUCER = 4;
const CONSUMER = 5;

const attr = (s: OtlpSpan, key: string) => s.attributes?.find((a) => a.key === key)?.value;

/** The value of a sum's single data point. */
function value(m: OtlpMetric): number | undefined {
  const points = m.sum?.dataPoints ?? [];
  return points.length === 1 ? Number(points[0].asInt ?? points[0].asDouble) : undefined;
}

Deno.test("instrument() exports spans and metrics through Deno's built-in OpenTelemetry (OTEL_DENO=true), with no SDK", async () => {
  await using broker = await startBroker();
  const spans: OtlpSpan[] = [];
  const metrics: OtlpMetric[] = [];
  const paths: string[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      paths.push(`${path} ${req.headers.get("content-type")}`);
      const body = await req.json();
      for (const rs of body.resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) {
          if (ss.scope?.name === "@mqttv5/client") spans.push(...ss.spans);
        }
      }
      for (const rm of body.resourceMetrics ?? []) {
        for (const sm of rm.scopeMetrics ?? []) {
          if (sm.scope?.name === "@mqttv5/client") metrics.push(...sm.metrics);
        }
      }
      return Response.json({});
    },
  );
  const topic = `otel/deno/${Date.now()}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tests/otel/_deno_child.ts", broker.url, topic],
    cwd: ROOT,
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
      OTEL_METRIC_EXPORT_INTERVAL: "100",
      OTEL_DENO_CONSOLE: "ignore",
      OTEL_SERVICE_NAME: "mqttv5-otel-test",
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const statsSeen = () =>
    metrics.some((m) => m.name === "mqtt.client.publishes_sent" && value(m) === 1);
  // Observable metrics come with the periodic exports, while the child runs. The
  // bound covers the child's start too (a busy CI machine runs tests in parallel); a
  // child that fails ends the wait.
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  const deadline = Date.now() + 30_000;
  while (!statsSeen() && !exited && Date.now() < deadline) await delay(10);
  await child.stdin.close().catch(() => {}); // the child exits, exporting its spans
  const out = await child.output();
  await status;
  const text = new TextDecoder();
  assert.ok(out.success, text.decode(out.stderr));
  assert.equal(text.decode(out.stdout), "built in\n");
  assert.ok(statsSeen(), `mqtt.client.publishes_sent = 1 exported (${paths.length} exports came)`);
  const wanted = [`publish ${topic}`, `receive ${topic}`, `process ${topic}`];
  await until(
    () => wanted.every((n) => spans.some((s) => s.name === n)),
    "the spans exported",
    30_000,
  );
  assert.ok(paths.every((p) => p.endsWith(" application/json")), [...new Set(paths)].join(", "));

  const one = (name: string) => {
    const found = spans.filter((s) => s.name === name);
    assert.equal(found.length, 1, name);
    return found[0];
  };
  const publish = one(`publish ${topic}`);
  const receive = one(`receive ${topic}`);
  const process = one(`process ${topic}`);
  assert.equal(publish.kind, PRODUCER);
  assert.equal(receive.kind, CONSUMER);
  assert.equal(process.kind, CONSUMER);
  assert.equal(attr(publish, "messaging.system")?.stringValue, "mqtt");
  assert.equal(attr(publish, "messaging.destination.name")?.stringValue, topic);
  assert.equal(attr(publish, "messaging.client.id")?.stringValue, "otel-deno-builtin");
  const qos = attr(publish, "messaging.mqtt.qos"); // a JS number: Deno sends a double
  assert.equal(Number(qos?.intValue ?? qos?.doubleValue), 1, JSON.stringify(qos));
  for (const s of [receive, process]) {
    assert.equal(s.traceId, publish.traceId, `${s.name}: same trace`);
    assert.equal(s.parentSpanId, publish.spanId, `${s.name}: child of the publish span`);
  }

  // The histogram is cumulative: every export repeats its one publish.
  const duration = metrics.find((m) => m.name === "mqtt.client.publish.duration");
  assert.equal(duration?.unit, "ms");
  assert.equal(Number(duration?.histogram?.dataPoints[0]?.count), 1);
  assert.ok(
    metrics.some((m) => m.name === "mqtt.client.connects" && value(m) === 1),
    "mqtt.client.connects",
  );
});

/** The modules `deno info` finds under an entry point, as specifiers. */
async function graph(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  return info.modules.map((m) => m.specifier);
}

Deno.test("only the ./otel entry imports @opentelemetry/api: mod.ts, web.ts and the other entries do not", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const entries = Object.entries(config.exports as Record<string, string>);
  assert.ok(entries.some(([name]) => name === "./otel"));
  for (const [name, path] of entries) {
    const otel = (await graph(path)).filter((s) => s.includes("@opentelemetry"));
    if (name === "./otel") {
      assert.ok(otel.length > 0, `${path}: @opentelemetry/api is in its graph`);
      const other = otel.filter((s) => !/@opentelemetry\/api@/.test(s));
      assert.deepEqual(other, [], `${path}: the API only, no SDK`);
    } else assert.deepEqual(otel, [], `${name} (${path}) holds no @opentelemetry module`);
  }
});
