// Request/response latency through a stock mosquitto: a requester and a responder on
// two connections of one process, one request at a time. Ours: `request()` and `serve()`;
// MQTT.js 5: the same by hand (a response-topic subscription, Correlation Data matched in
// the `message` event, the responder publishing to the Response Topic). Runs alternate
// (ours, MQTT.js, ours, ...), each with its own clients on one broker.
//
//   deno run -A --no-lock bench/request_latency.ts [--n 500] [--qos 1] [--reps 3]
//   bun bench/request_latency.ts --qos 0
//
// Prints, per run, p50 / p90 / p99 / max in ms and how many requests took over 10 ms
// (a delayed ACK under the broker's Nagle costs ~40 ms).

import process from "node:process";
import { Client } from "../mod.ts";
import { startBroker } from "./e2e.ts";

interface Packet {
  properties?: { responseTopic?: string; correlationData?: Uint8Array };
}
interface MqttJsClient {
  subscribeAsync(topic: string, opts: { qos: 0 | 1 }): Promise<unknown>;
  publishAsync(
    topic: string,
    payload: Uint8Array,
    opts: { qos: 0 | 1; properties?: Packet["properties"] },
  ): Promise<unknown>;
  on(event: "message", fn: (topic: string, payload: Uint8Array, packet: Packet) => void): unknown;
  once(event: string, fn: (arg: unknown) => void): unknown;
  endAsync(): Promise<void>;
}
interface MqttJs {
  connect(url: string, opts: { protocolVersion: 5; clean: boolean }): MqttJsClient;
}

const args = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const N = arg("n", 500);
const QOS = arg("qos", 1) as 0 | 1;
const REPS = arg("reps", 3);
const WARMUP = 20;

const importByName = (specifier: string) => import(specifier);

async function loadMqttJs(): Promise<MqttJs> {
  let mod: { default?: MqttJs } & MqttJs;
  try {
    mod = await importByName("mqtt");
  } catch {
    mod = await importByName("npm:mqtt@5");
  }
  return mod.default ?? mod;
}

async function mqttjsConnect(m: MqttJs, url: string): Promise<MqttJsClient> {
  const c = m.connect(url, { protocolVersion: 5, clean: true });
  await new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("error", (e) => reject(e));
  });
  return c;
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))].toFixed(3);
  return `p50 ${at(0.5)}  p90 ${at(0.9)}  p99 ${at(0.99)}  max ${s[s.length - 1].toFixed(1)}  ` +
    `over 10 ms ${s.filter((x) => x > 10).length}/${s.length}`;
}

async function ours(url: string, run: number): Promise<number[]> {
  const responder = new Client({ broker: url, clientId: `rl-srv-${run}` });
  const requester = new Client({ broker: url, clientId: `rl-cli-${run}` });
  await responder.connect();
  await requester.connect();
  const topic = `svc/echo/${run}`;
  await responder.serve([{ topic, qos: QOS }], (m) => m.payload);
  const out: number[] = [];
  for (let i = 0; i < N + WARMUP; i++) {
    const t = performance.now();
    await requester.request({ topic, payload: new Uint8Array([i & 255]), qos: QOS });
    if (i >= WARMUP) out.push(performance.now() - t);
  }
  await requester.disconnect();
  await responder.disconnect();
  return out;
}

async function mqttjs(m: MqttJs, url: string, run: number): Promise<number[]> {
  const responder = await mqttjsConnect(m, url);
  const requester = await mqttjsConnect(m, url);
  const topic = `svc/echo/${run}`;
  const replyTo = `reply/${run}`;
  responder.on("message", (_t, payload, packet) => {
    const p = packet.properties;
    if (p?.responseTopic === undefined) return;
    void responder.publishAsync(p.responseTopic, payload, {
      qos: QOS,
      properties: { correlationData: p.correlationData },
    });
  });
  await responder.subscribeAsync(topic, { qos: QOS });
  let waiting: { cd: number; resolve: () => void } | undefined;
  requester.on("message", (_t, _payload, packet) => {
    const cd = packet.properties?.correlationData;
    if (waiting !== undefined && cd !== undefined && cd[0] === waiting.cd) waiting.resolve();
  });
  await requester.subscribeAsync(replyTo, { qos: QOS });
  const out: number[] = [];
  for (let i = 0; i < N + WARMUP; i++) {
    const t = performance.now();
    const cd = i & 255;
    const replied = new Promise<void>((resolve) => waiting = { cd, resolve });
    await requester.publishAsync(topic, new Uint8Array([cd]), {
      qos: QOS,
      properties: { responseTopic: replyTo, correlationData: new Uint8Array([cd]) },
    });
    await replied;
    if (i >= WARMUP) out.push(performance.now() - t);
  }
  await requester.endAsync();
  await responder.endAsync();
  return out;
}

const broker = await startBroker();
try {
  const url = `mqtt://${broker.host}:${broker.port}`;
  const m = await loadMqttJs();
  console.log(
    `request/response, QoS ${QOS}, ${N} requests per run (after ${WARMUP}), one at a time`,
  );
  for (let r = 0; r < REPS; r++) {
    console.log(`ours    #${r + 1}: ${stats(await ours(url, 2 * r))}`);
    console.log(`MQTT.js #${r + 1}: ${stats(await mqttjs(m, url, 2 * r + 1))}`);
  }
} finally {
  await broker.stop();
}
