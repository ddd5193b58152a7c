// A Cloudflare Worker for workerd_test.ts, bundled with esbuild (as Wrangler
// would) from the web entry and the Cloudflare transport. On a request
//
//   GET /?tcp=mqtt://...&tls=mqtts://...&ws=ws://...&refused=mqtt://...
//
// it does one QoS 1 round trip (subscribe, publish, receive, ack) per given
// URL: over cloudflareDial() for tcp and tls (TLS verified by workerd against
// the CA its network service trusts) and over wsDial() for ws; dials
// `refused` (a closed port) and `notTls` (mqtts:// to a plain port) and
// reports the error codes; with
// `paused=mqtt://host:port` it dials a server that sends 16 MiB and ends,
// pauses the connection for `pauseMs`, then reads to the end. The answer is
// JSON: a RoundTrip per URL.

import { Client, type DialFunc, MqttError, wsDial } from "../../web.ts";
import { cloudflareDial } from "../../src/transport/cloudflare.ts";

/** What one round trip did, for the test to assert. */
export interface RoundTrip {
  ok: boolean;
  /** The PUBACK's reason code. */
  reasonCode?: number;
  /** The message received back. */
  topic?: string;
  payload?: string;
  qos?: number;
  /** `paused`: bytes delivered while paused, and in all. */
  duringPause?: number;
  received?: number;
  /** The failure: the error's name, MqttError code and message. */
  error?: { name: string; code?: string; message: string };
  ms: number;
}

function describeError(err: unknown): RoundTrip["error"] {
  if (err instanceof MqttError) return { name: err.name, code: err.code, message: err.message };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: "unknown", message: String(err) };
}

async function roundTrip(broker: string, dial: DialFunc, label: string): Promise<RoundTrip> {
  const started = Date.now();
  const client = new Client({
    broker,
    dial,
    clientId: `workerd-${label}-${crypto.randomUUID().slice(0, 8)}`,
    connectTimeoutMs: 5000,
  });
  try {
    await client.connect();
    const topic = `web/workerd/${label}/${crypto.randomUUID()}`;
    const sub = await client.subscribe([{ topic, qos: 1 }]);
    const { reasonCode } = await client.publish({
      topic,
      payload: `hello over ${label}`,
      qos: 1,
    });
    const it = sub[Symbol.asyncIterator]();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      it.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no message within 5 s")), 5000);
      }),
    ]).finally(() => clearTimeout(timer));
    if (next.done) throw new Error("the subscription ended");
    const m = next.value;
    m.ack();
    return {
      ok: true,
      reasonCode,
      topic: m.topic === topic ? "(the topic published to)" : m.topic,
      payload: m.text(),
      qos: m.qos,
      ms: Date.now() - started,
    };
  } catch (err) {
    return { ok: false, error: describeError(err), ms: Date.now() - started };
  } finally {
    await client.disconnect();
  }
}

async function refused(url: string): Promise<RoundTrip> {
  const started = Date.now();
  try {
    const conn = await cloudflareDial()(new URL(url), {});
    conn.close();
    return { ok: true, ms: Date.now() - started };
  } catch (err) {
    return { ok: false, error: describeError(err), ms: Date.now() - started };
  }
}

async function paused(url: string, pauseMs: number): Promise<RoundTrip> {
  const started = Date.now();
  try {
    const conn = await cloudflareDial()(new URL(url), {});
    let received = 0;
    const ended = new Promise<Error | undefined>((resolve) => {
      conn.start((chunk) => (received += chunk.byteLength), resolve);
    });
    conn.pause!();
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const duringPause = received;
    conn.resume!();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const error = await Promise.race([
      ended,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no end within 10 s")), 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    conn.close();
    if (error !== undefined) throw error;
    return { ok: true, duringPause, received, ms: Date.now() - started };
  } catch (err) {
    return { ok: false, error: describeError(err), ms: Date.now() - started };
  }
}

export default {
  async fetch(request: Request): Promise<Response> {
    const params = new URL(request.url).searchParams;
    const out: Record<string, RoundTrip> = {};
    const tcp = params.get("tcp");
    const tls = params.get("tls");
    const ws = params.get("ws");
    const closed = params.get("refused");
    if (tcp !== null) out.tcp = await roundTrip(tcp, cloudflareDial(), "tcp");
    if (tls !== null) out.tls = await roundTrip(tls, cloudflareDial(), "tls");
    if (ws !== null) out.ws = await roundTrip(ws, wsDial(), "ws");
    if (closed !== null) out.refused = await refused(closed);
    const notTls = params.get("notTls");
    if (notTls !== null) out.notTls = await refused(notTls);
    const slow = params.get("paused");
    if (slow !== null) out.paused = await paused(slow, Number(params.get("pauseMs") ?? 1000));
    return Response.json(out);
  },
};
