// The mosquitto test helper: start, stop, restart on the same ports,
// persistence, TLS and mutual TLS, extra configuration, cleanup.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { encodePacket, PacketType } from "../../src/wire/mod.ts";
import { denoDial } from "../../src/transport/deno.ts";
import { canConnect, startBroker } from "./broker.ts";
import { mqttConnect, open, Recorder, within } from "../transport/transport_cases.ts";

async function connectAndClose(url: string, caCert?: string): Promise<void> {
  const r = await open(denoDial, url, caCert ? { tls: { caCerts: [caCert] } } : {});
  await mqttConnect(r);
  await r.finish();
}

async function subscribe(r: Recorder, topic: string): Promise<void> {
  await r.conn.write(encodePacket({
    type: PacketType.Subscribe,
    packetId: 1,
    filters: [{ topic, qos: 0 }],
  }));
  await r.next(PacketType.Suback);
}

Deno.test("startBroker() serves MQTT on a free loopback port; stop() ends it", async () => {
  await using broker = await startBroker();
  assert.equal(broker.host, "127.0.0.1");
  assert.equal(broker.url, `mqtt://127.0.0.1:${broker.port}`);
  assert.equal(broker.tlsPort, undefined);
  assert.equal(broker.tlsUrl, undefined);
  assert.equal(broker.certs, undefined);
  await connectAndClose(broker.url);
  await broker.stop();
  assert.equal(await canConnect(broker.port), false);
  await broker.stop(); // idempotent
});

Deno.test("startBroker() restart() comes back on the same ports", async () => {
  await using broker = await startBroker({ tls: true });
  const { port, tlsPort } = broker;
  await broker.restart();
  assert.equal(broker.port, port);
  assert.equal(broker.tlsPort, tlsPort);
  await connectAndClose(broker.url);
  await connectAndClose(broker.tlsUrl!, broker.certs!.ca.cert);
  await broker.stop();
  await broker.restart(); // from stopped
  await connectAndClose(broker.url);
});

Deno.test("startBroker() restart() drops connected clients", async () => {
  await using broker = await startBroker();
  const r = await open(denoDial, broker.url);
  await mqttConnect(r);
  await broker.restart();
  await within(5000, r.closed, "the client's connection ending");
  r.conn.close();
  r.check();
});

Deno.test("startBroker({ persistence: true }) keeps retained messages across restart()", async () => {
  await using broker = await startBroker({ persistence: true });
  const payload = new TextEncoder().encode("kept");
  const a = await open(denoDial, broker.url);
  await mqttConnect(a);
  await a.conn.write(encodePacket({
    type: PacketType.Publish,
    topic: "persist/me",
    payload,
    qos: 1,
    packetId: 7,
    retain: true,
    dup: false,
  }));
  await a.next(PacketType.Puback);
  await a.finish();
  await broker.restart();
  const b = await open(denoDial, broker.url);
  await mqttConnect(b);
  await subscribe(b, "persist/me");
  const got = await b.next(PacketType.Publish);
  assert.ok(got.type === PacketType.Publish && got.retain);
  if (got.type === PacketType.Publish) assert.deepEqual(got.payload, payload);
  await b.finish();
});

Deno.test("startBroker() without persistence forgets retained messages on restart()", async () => {
  await using broker = await startBroker();
  const a = await open(denoDial, broker.url);
  await mqttConnect(a);
  await a.conn.write(encodePacket({
    type: PacketType.Publish,
    topic: "forget/me",
    payload: new Uint8Array([1]),
    qos: 1,
    packetId: 7,
    retain: true,
    dup: false,
  }));
  await a.next(PacketType.Puback);
  await a.finish();
  await broker.restart();
  const b = await open(denoDial, broker.url);
  await mqttConnect(b);
  await subscribe(b, "forget/me");
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(b.packets.filter((p) => p.type === PacketType.Publish).length, 0);
  await b.finish();
});

Deno.test("startBroker({ tls: true }) serves TLS with the generated certificates", async () => {
  await using broker = await startBroker({ tls: true });
  assert.ok(broker.tlsPort !== undefined && broker.tlsPort !== broker.port);
  assert.equal(broker.tlsUrl, `mqtts://localhost:${broker.tlsPort}`);
  const certs = broker.certs!;
  for (const pem of [certs.ca.cert, certs.server.cert, certs.client.cert, certs.otherCa.cert]) {
    assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
  }
  assert.match(certs.client.key, /-----BEGIN PRIVATE KEY-----/);
  await connectAndClose(broker.tlsUrl!, certs.ca.cert);
  await connectAndClose(`mqtts://127.0.0.1:${broker.tlsPort}`, certs.ca.cert);
  await connectAndClose(broker.url); // the plain listener too
  await assert.rejects(
    denoDial(new URL(broker.tlsUrl!), { tls: { caCerts: [certs.otherCa.cert] } }),
  );
});

Deno.test("startBroker({ mtls: true }) requires a client certificate", async () => {
  await using broker = await startBroker({ mtls: true });
  const { ca, client } = broker.certs!;
  const r = await open(denoDial, broker.tlsUrl!, {
    tls: { caCerts: [ca.cert], cert: client.cert, key: client.key },
  });
  await mqttConnect(r);
  await r.finish();
  // Without one: the dial fails, or the broker drops the connection at once.
  const outcome = await denoDial(new URL(broker.tlsUrl!), { tls: { caCerts: [ca.cert] } })
    .then((conn) => ({ conn }), (error: unknown) => ({ error }));
  if ("conn" in outcome) {
    const r2 = new Recorder(outcome.conn);
    await within(5000, r2.closed, "the broker refusing the client");
    r2.conn.close();
  }
});

Deno.test("startBroker({ config }) appends configuration lines", async () => {
  await using broker = await startBroker({ config: ["max_keepalive 10"] });
  const r = await open(denoDial, broker.url);
  const connack = await mqttConnect(r); // asks for 60 s
  assert.ok(connack.type === PacketType.Connack);
  if (connack.type === PacketType.Connack) assert.equal(connack.properties?.serverKeepAlive, 10);
  await r.finish();
});

Deno.test("startBroker() runs brokers side by side; dispose deletes their files", async () => {
  const a = await startBroker({ tls: true });
  const b = await startBroker({ tls: true });
  const dirs = [a.certs!.dir, b.certs!.dir];
  try {
    assert.equal(new Set([a.port, a.tlsPort, b.port, b.tlsPort]).size, 4);
    await connectAndClose(a.url);
    await connectAndClose(b.url);
    assert.match(await a.log(), /mosquitto version [\d.]+ running/);
  } finally {
    await a[Symbol.asyncDispose]();
    await b[Symbol.asyncDispose]();
  }
  assert.equal(await canConnect(a.port), false);
  assert.equal(await canConnect(b.port), false);
  for (const dir of dirs) assert.equal(existsSync(dir), false);
  await a[Symbol.asyncDispose](); // idempotent
});

Deno.test("startBroker() rejects a configuration mosquitto refuses", async () => {
  await assert.rejects(startBroker({ config: ["no_such_option 1"] }), /mosquitto exited/);
});
