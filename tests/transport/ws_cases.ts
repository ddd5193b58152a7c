// wsDial() against a real mosquitto behind the WebSocket bridge of
// tests/_helpers/ws_bridge.ts, shared by tests/transport/ws_test.ts (Deno.test)
// and bun-tests/ws.test.ts (bun:test).
//
// wss:// is tested in process with the test CA handed over as tls.caCerts
// (Deno: a Deno.createHttpClient; Bun: the WebSocket's tls.ca), and in a child
// process of the same runtime that trusts the CA through the environment
// (DENO_CERT for Deno, NODE_EXTRA_CA_CERTS for Bun) and dials with plain
// wsDial(): the route for runtimes whose WebSocket takes no TLS settings.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Client, constantBackoff, type Message, MqttError, type StatusEvent } from "../../mod.ts";
import { wsDial } from "../../src/transport/ws.ts";
import { encodePacket, PacketDecoder, PacketType } from "../../src/wire/mod.ts";
import { startBroker } from "../_helpers/broker.ts";
import { startWsBridge } from "../_helpers/ws_bridge.ts";
import { type Case, delay, runtime, take, takeAcked, until, within } from "../group/_wait.ts";

/** Rejects-with-MqttError-code predicate for assert.rejects. */
function code(expected: string) {
  return (err: unknown) => {
    assert.ok(err instanceof MqttError, `expected an MqttError, got ${String(err)}`);
    assert.equal(err.code, expected, err.message);
    return true;
  };
}

/** A raw Connection's inbound bytes decoded into packets, and its close. */
function watch(conn: { start: (d: (c: Uint8Array) => void, c: (e?: Error) => void) => void }) {
  const decoder = new PacketDecoder();
  const packets: { type: number; reasonCode?: number }[] = [];
  let closed: { error: Error | undefined } | undefined;
  const done = Promise.withResolvers<Error | undefined>();
  conn.start(
    (chunk) => packets.push(...decoder.push(chunk)),
    (error) => {
      closed = { error };
      done.resolve(error);
    },
  );
  return { packets, closedWith: () => closed, done: done.promise };
}

function connectBytes(clientId: string): Uint8Array {
  return encodePacket({ type: PacketType.Connect, clientId, cleanStart: true, keepAlive: 0 });
}

async function roundTrip(client: Client, prefix: string): Promise<void> {
  const sub = await client.subscribe([{ topic: `${prefix}/#`, qos: 2 }]);
  const big = new Uint8Array(20_000).map((_, i) => i & 0xff);
  await client.publish({ topic: `${prefix}/0`, payload: "zero", qos: 0 });
  await client.publish({ topic: `${prefix}/1`, payload: big, qos: 1 });
  await client.publish({ topic: `${prefix}/2`, payload: "two", qos: 2 });
  const got = await takeAcked(sub, 3, `${prefix} messages`);
  const byTopic = new Map(got.map((m) => [m.topic, m]));
  assert.equal(byTopic.get(`${prefix}/0`)?.text(), "zero");
  assert.equal(byTopic.get(`${prefix}/0`)?.qos, 0);
  assert.deepEqual(byTopic.get(`${prefix}/1`)?.payload, big);
  assert.equal(byTopic.get(`${prefix}/1`)?.qos, 1);
  assert.equal(byTopic.get(`${prefix}/2`)?.text(), "two");
  assert.equal(byTopic.get(`${prefix}/2`)?.qos, 2);
  await sub.unsubscribe();
}

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = join(HERE, "..", "..");

/** Runs `script` (TypeScript) in a child process of this runtime with `env` added. */
async function runChild(script: string, env: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mqttv5-ws-child-"));
  try {
    const file = join(dir, "child.ts");
    await writeFile(file, script);
    const g = globalThis as { Deno?: { execPath(): string } };
    const exec = g.Deno !== undefined ? g.Deno.execPath() : process.execPath;
    const args = g.Deno !== undefined ? ["run", "-A", "--no-lock", file] : [file];
    return await new Promise<string>((resolve, reject) => {
      execFile(exec, args, { env: { ...process.env, ...env }, timeout: 20_000 }, (err, out, e) => {
        if (err) reject(new Error(`child failed: ${err.message}\n${out}\n${e}`));
        else resolve(out);
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const cases: Case[] = [
  {
    name: "wsDial() carries QoS 0, 1 and 2 through a WebSocket bridge in binary frames",
    async fn() {
      await using broker = await startBroker();
      await using bridge = await startWsBridge(broker.url);
      await using client = new Client({ broker: bridge.url, dial: wsDial() });
      await client.connect();
      assert.ok(client.connected);
      await roundTrip(client, "ws");
      await client.disconnect();
      assert.equal(bridge.handshakes.length, 1);
      assert.equal(bridge.handshakes[0].path, "/mqtt");
      assert.deepEqual(bridge.handshakes[0].protocols, ["mqtt"]);
      // The writer coalesces packets, so the frame count varies; every frame is binary.
      assert.ok(bridge.frames.binary > 0, `binary frames: ${bridge.frames.binary}`);
      assert.equal(bridge.frames.text, 0); // [MQTT-6.0.0-1]
      assert.equal(bridge.frames.unmasked, 0); // RFC 6455 §5.1
      await until(() => bridge.open === 0, "the bridge connection to close");
    },
  },
  {
    name: "wsDial() reassembles packets split across WebSocket messages [MQTT-6.0.0-2]",
    async fn() {
      await using broker = await startBroker();
      await using bridge = await startWsBridge(broker.url, { maxMessageSize: 5 });
      await using client = new Client({ broker: bridge.url, dial: wsDial() });
      await client.connect();
      const sub = await client.subscribe([{ topic: "split/#", qos: 1 }]);
      const big = new Uint8Array(5000).map((_, i) => (i * 7) & 0xff);
      for (let i = 0; i < 20; i++) {
        await client.publish({ topic: `split/${i}`, payload: i === 10 ? big : `m${i}`, qos: 1 });
      }
      const got = await takeAcked(sub, 20, "split messages");
      got.forEach((m, i) => {
        assert.equal(m.topic, `split/${i}`);
        if (i === 10) assert.deepEqual(m.payload, big);
        else assert.equal(m.text(), `m${i}`);
      });
    },
  },
  {
    name: "wsDial() sends the handshake headers and offers the protocols it was given",
    async fn() {
      await using broker = await startBroker();
      await using bridge = await startWsBridge(broker.url);
      const dial = wsDial({
        protocols: ["mqttv5-test", "mqtt"],
        headers: { authorization: "Bearer t0k", "x-tenant": "blue" },
      });
      await using client = new Client({ broker: bridge.url, dial });
      await client.connect();
      const hs = bridge.handshakes[0];
      assert.equal(hs.headers["authorization"], "Bearer t0k");
      assert.equal(hs.headers["x-tenant"], "blue");
      assert.deepEqual(hs.protocols, ["mqttv5-test", "mqtt"]);
      await client.publish({ topic: "h/1", payload: "x", qos: 1 });
    },
  },
  {
    name:
      "wsDial() a closed port fails with connect-failed, a .invalid host with dns-failed (or connect-failed on Bun)",
    async fn() {
      // A port that was free a moment ago.
      const server = createServer();
      const port = await new Promise<number>((resolve) => {
        server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const refused = await wsDial()(new URL(`ws://alice:s3cr3t@127.0.0.1:${port}/mqtt`), {})
        .then(() => undefined, (err: unknown) => err);
      code("connect-failed")(refused);
      assert.ok((refused as Error).cause !== undefined);
      assert.ok(!(refused as Error).message.includes("s3cr3t"), "no credentials in the message");
      const unresolved = await wsDial()(
        new URL("ws://alice:s3cr3t@no-such-broker.invalid/mqtt"),
        {},
      )
        .then(() => undefined, (err: unknown) => err);
      // Bun's WebSocket reports a failed lookup like any other failed connect.
      code(runtime === "bun" ? "connect-failed" : "dns-failed")(unresolved);
      assert.ok(!(unresolved as Error).message.includes("s3cr3t"), "no credentials in the message");
    },
  },
  {
    name:
      "wsDial() dial fails with connect-failed when the server refuses the offered subprotocols",
    async fn() {
      await using broker = await startBroker();
      await using bridge = await startWsBridge(broker.url);
      await using client = new Client({
        broker: bridge.url,
        dial: wsDial({ protocols: ["mqttv3.1"] }),
        connectTimeoutMs: 3000,
      });
      await assert.rejects(client.connect(), (err: Error) => {
        assert.ok(err instanceof MqttError, `an MqttError, got ${err}`);
        assert.equal(err.code, "connect-failed", err.message);
        assert.ok(err.cause !== undefined, "the runtime's error is the cause");
        return true;
      });
      assert.equal(bridge.refused, 1);
      assert.equal(bridge.handshakes.length, 0);
      assert.equal(client.connected, false);
    },
  },
  {
    name: "wsDial() rejects other URL schemes, bad options, and ws:// without a dial",
    async fn() {
      const dial = wsDial();
      await assert.rejects(dial(new URL("mqtt://127.0.0.1:1883"), {}), TypeError);
      await assert.rejects(dial(new URL("http://127.0.0.1:1883/mqtt"), {}), TypeError);
      assert.throws(() => wsDial({ protocols: [""] }), TypeError);
      assert.throws(
        () => wsDial({ headers: { "x-n": 1 as unknown as string } }),
        TypeError,
      );
      assert.throws(
        () => new Client({ broker: "ws://127.0.0.1:9/mqtt" }),
        (err: MqttError) => err.code === "invalid-broker-url",
      );
      const reason = new Error("stop");
      await assert.rejects(
        dial(new URL("ws://127.0.0.1:9/mqtt"), { signal: AbortSignal.abort(reason) }),
        (err) => err === reason,
      );
    },
  },
  {
    name: "wsDial() rejects with signal.reason when the handshake is aborted",
    async fn() {
      // A server that accepts TCP connections and never answers the upgrade.
      const sockets = new Set<Socket>();
      const server = createServer((s) => {
        sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => sockets.delete(s));
      });
      const port = await new Promise<number>((resolve) => {
        server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
      });
      try {
        const ac = new AbortController();
        const reason = new Error("gave up");
        const started = Date.now();
        const p = wsDial()(new URL(`ws://127.0.0.1:${port}/mqtt`), { signal: ac.signal });
        setTimeout(() => ac.abort(reason), 50);
        await assert.rejects(p, (err) => err === reason);
        assert.ok(Date.now() - started < 2000);
        // Deno 2.9 and Bun 1.4 keep the TCP socket of a WebSocket closed while
        // CONNECTING until the server answers or hangs up (documented in ws.ts):
        // hang up here, which lets the runtime release it.
        assert.equal(sockets.size, 1);
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  },
  {
    name:
      "wsDial() Connection: writes survive reuse of the caller's buffer; local close is orderly",
    async fn() {
      await using broker = await startBroker();
      await using bridge = await startWsBridge(broker.url);
      const conn = await wsDial()(new URL(bridge.url), {});
      const w = watch(conn);
      const connect = connectBytes("ws-raw");
      await conn.write(connect);
      connect.fill(0xff); // the adapter must have taken its own copy
      await until(() => w.packets.length > 0, "CONNACK");
      assert.equal(w.packets[0].type, PacketType.Connack);
      assert.equal(w.packets[0].reasonCode, 0);
      conn.close();
      conn.close(); // idempotent
      assert.equal(await within(w.done, "onClose"), undefined);
      await assert.rejects(conn.write(new Uint8Array([0xc0, 0])), code("connection-lost"));
    },
  },
  {
    name:
      "wsDial() Connection: the broker's close arrives as an orderly end, a cut as connection-lost",
    async fn() {
      await using broker = await startBroker();
      await using bridge = await startWsBridge(broker.url);
      // DISCONNECT: mosquitto closes TCP, the bridge closes the WebSocket with 1000.
      const a = await wsDial()(new URL(bridge.url), {});
      const wa = watch(a);
      await a.write(connectBytes("ws-a"));
      await until(() => wa.packets.length > 0, "CONNACK a");
      await a.write(encodePacket({ type: PacketType.Disconnect, reasonCode: 0 }));
      assert.equal(await within(wa.done, "orderly close"), undefined);
      // A cut (no close handshake) is an error.
      const b = await wsDial()(new URL(bridge.url), {});
      const wb = watch(b);
      await b.write(connectBytes("ws-b"));
      await until(() => wb.packets.length > 0, "CONNACK b");
      bridge.cutAll();
      const err = await within(wb.done, "cut close");
      code("connection-lost")(err);
      await assert.rejects(b.write(new Uint8Array([0xc0, 0])), code("connection-lost"));
      b.close();
    },
  },
  {
    name: "wsDial() Connection: write() waits while the WebSocket's send buffer is full",
    async fn() {
      await using broker = await startBroker();
      await using bridge = await startWsBridge(broker.url);
      await using observer = new Client({ broker: broker.url });
      await observer.connect();
      const sub = await observer.subscribe([{ topic: "bulk/#", qos: 0 }], { buffer: 1000 });
      await using client = new Client({ broker: bridge.url, dial: wsDial(), writeQueueSize: 2 });
      await client.connect();
      // Stall the bridge: the kernel buffers fill, then the WebSocket's own queue.
      bridge.pause();
      const N = 96;
      const size = 256 * 1024;
      let resolved = 0;
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < N; i++) {
        const payload = new Uint8Array(size).fill(i);
        sends.push(
          client.publish({ topic: `bulk/${i}`, payload, qos: 0 }).then(() => resolved++),
        );
      }
      await delay(300);
      assert.ok(resolved < N, `every publish resolved (${resolved}) though nothing was read`);
      const stalledAt = resolved;
      bridge.resume();
      await within(Promise.all(sends), "the publishes after resume", 20_000);
      assert.ok(resolved === N && stalledAt < N);
      const got = await take(sub, N, "bulk messages");
      got.forEach((m, i) => {
        assert.equal(m.topic, `bulk/${i}`);
        assert.equal(m.payload.length, size);
        assert.equal(m.payload[0], i & 0xff);
        assert.equal(m.payload[size - 1], i & 0xff);
      });
    },
  },
  {
    name: "wsDial() fails the connection on a text message from the server [MQTT-6.0.0-1]",
    async fn() {
      await using broker = await startBroker();
      await using bridge = await startWsBridge(broker.url);
      const conn = await wsDial()(new URL(bridge.url), {});
      const w = watch(conn);
      await conn.write(connectBytes("ws-text"));
      await until(() => w.packets.length > 0, "CONNACK");
      bridge.sendText("not mqtt");
      const err = await within(w.done, "close after a text message");
      code("connection-lost")(err);
      assert.match(err!.message, /text message/);
      conn.close();
    },
  },
  {
    name: "wsDial() client reconnects over WebSocket after a cut and resubscribes",
    async fn() {
      await using broker = await startBroker();
      await using bridge = await startWsBridge(broker.url);
      await using client = new Client({
        broker: bridge.url,
        dial: wsDial(),
        reconnectBackoff: constantBackoff(50),
      });
      const events: StatusEvent[] = [];
      const status = client.status();
      const reading = (async () => {
        for await (const e of status) events.push(e);
      })();
      await client.connect();
      const sub = await client.subscribe([{ topic: "re/#", qos: 1 }]);
      bridge.cutAll();
      await until(
        () => events.filter((e) => e.type === "connected").length >= 2,
        "the reconnect",
      );
      await client.publish({ topic: "re/1", payload: "after", qos: 1 });
      const [m] = await takeAcked(sub, 1, "message after reconnect");
      assert.equal(m.text(), "after");
      assert.ok(events.some((e) => e.type === "disconnected" && e.error instanceof Error));
      assert.equal(bridge.handshakes.length, 2);
      await client.disconnect();
      await reading;
    },
  },
  {
    name:
      "wsDial() wss:// verifies the bridge with tls.caCerts and fails with tls-failed without the CA",
    async fn() {
      await using broker = await startBroker({ tls: true });
      const certs = broker.certs!;
      await using bridge = await startWsBridge(broker.url, { tls: certs.server });
      assert.ok(bridge.url.startsWith("wss://localhost:"));
      {
        await using client = new Client({
          broker: bridge.url,
          dial: wsDial(),
          tls: { caCerts: [certs.ca.cert] },
        });
        await client.connect();
        await roundTrip(client, "wss");
      }
      {
        // The default trust store does not know the test CA.
        await using client = new Client({ broker: bridge.url, dial: wsDial() });
        await assert.rejects(client.connect(), (err: Error) => {
          assert.ok(err instanceof MqttError, `an MqttError, got ${err}`);
          assert.equal(err.code, "tls-failed", err.message);
          return true;
        });
      }
      {
        // A CA that signed nothing here is not enough either.
        await using client = new Client({
          broker: bridge.url,
          dial: wsDial(),
          tls: { caCerts: [certs.otherCa.cert] },
        });
        await assert.rejects(client.connect(), (err: Error) => {
          assert.ok(err instanceof MqttError, `an MqttError, got ${err}`);
          assert.equal(err.code, "tls-failed", err.message);
          return true;
        });
      }
      assert.equal(bridge.handshakes.length, 1);
    },
  },
  {
    name: "wsDial() wss:// insecureSkipVerify: honoured by Bun, refused with a TypeError by Deno",
    async fn() {
      await using broker = await startBroker({ tls: true });
      await using bridge = await startWsBridge(broker.url, { tls: broker.certs!.server });
      await using client = new Client({
        broker: bridge.url,
        dial: wsDial(),
        tls: { insecureSkipVerify: true },
      });
      if (runtime === "bun") {
        await client.connect();
        await client.publish({ topic: "insecure/1", payload: "x", qos: 1 });
      } else {
        await assert.rejects(client.connect(), TypeError);
      }
    },
  },
  {
    name: "wsDial() wss:// trusts a CA given to the runtime (DENO_CERT / NODE_EXTRA_CA_CERTS)",
    async fn() {
      await using broker = await startBroker({ tls: true });
      const certs = broker.certs!;
      await using bridge = await startWsBridge(broker.url, { tls: certs.server });
      const observer = new Client({ broker: broker.url });
      await observer.connect();
      try {
        const sub = await observer.subscribe([{ topic: "env/ca", qos: 1 }]);
        const script = `
          import { Client } from ${JSON.stringify(join(ROOT, "mod.ts"))};
          import { wsDial } from ${JSON.stringify(join(ROOT, "src/transport/ws.ts"))};
          const env = (globalThis as any).Deno?.env.toObject() ?? (globalThis as any).process.env;
          const client = new Client({ broker: env.WSS_URL, dial: wsDial(), connectTimeoutMs: 5000 });
          await client.connect();
          await client.publish({ topic: "env/ca", payload: "trusted", qos: 1 });
          await client.disconnect();
          console.log("done");
        `;
        const env: Record<string, string> = runtime === "deno"
          ? { DENO_CERT: certs.ca.certPath, WSS_URL: bridge.url }
          : { NODE_EXTRA_CA_CERTS: certs.ca.certPath, WSS_URL: bridge.url };
        const out = await runChild(script, env);
        assert.match(out, /done/);
        const [m] = await take<Message>(sub, 1, "the child's publish");
        m.ack();
        assert.equal(m.text(), "trusted");
      } finally {
        await observer.disconnect();
      }
    },
  },
];
