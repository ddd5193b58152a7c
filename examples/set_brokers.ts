/**
 * Multi-broker failover on one client. `brokers` is a list of interchangeable
 * brokers: `connect()` and every reconnect try them in turn. `setBrokers()`
 * replaces the list at runtime; the canonical caller is `onServerDisconnect`
 * acting on a DISCONNECT 0x9C / 0x9D (Use another server / Server moved)
 * that names a Server Reference.
 *
 * Two parts:
 * 1. `brokers: [down, up]`: the first is unreachable, `connect()` moves on to the second.
 * 2. A broker that answers every CONNECT with "Server moved" to the real broker
 *    (a small stand-in at the end of this file: mosquitto never sends it); the
 *    handler calls `setBrokers()` and the supervisor reconnects there.
 *
 * ```sh
 * deno run -A examples/set_brokers.ts                          # starts a local mosquitto
 * deno run -A examples/set_brokers.ts mqtt://127.0.0.1:1883    # or MQTT_URL=...; also: bun examples/set_brokers.ts
 * ```
 *
 * @module
 */

import { createServer, type Server } from "node:net";
import process from "node:process";
import { Client, constantBackoff } from "../mod.ts";
import { encodePacket, PacketDecoder, PacketType, ReasonCode } from "../src/wire/mod.ts";
import { startBroker } from "../tests/_helpers/broker.ts";

const given = process.argv[2] ?? process.env.MQTT_URL;
await using local = given === undefined ? await startBroker() : undefined;
const url = given ?? local!.url;

// Part 1: failover through the list. Port 1 on loopback refuses connections.
const down = "mqtt://127.0.0.1:1";
{
  await using client = new Client({
    brokers: [down, url],
    onConnectError: (err) => console.log(`  connect error: ${err.message}`),
  });
  await client.connect({ signal: AbortSignal.timeout(10_000) });
  console.log(`failover: connected through the list [${down}, ${url}]`);
}

// Part 2: a redirect. The real-world shape, for brokers that send Server Reference:
//   onServerDisconnect: (d) => { if (d.properties?.serverReference) client.setBrokers(d.properties.serverReference); }
await using moved = await startMovedBroker(url);
const reconnected = Promise.withResolvers<void>();
let ups = 0;
const client: Client = new Client({
  broker: moved.url,
  reconnectBackoff: constantBackoff(100),
  onServerDisconnect: (d) => {
    const ref = d.properties?.serverReference;
    console.log(`server disconnect 0x${d.reasonCode?.toString(16)}, server reference ${ref}`);
    if (ref !== undefined) client.setBrokers(ref); // the next reconnect goes there
  },
  onReconnectAttempt: (attempt, to) => console.log(`reconnect attempt ${attempt} to ${to}`),
  onConnectionUp: () => {
    console.log(`connection up (${++ups})`);
    if (ups === 2) reconnected.resolve();
  },
});
try {
  await client.connect({ signal: AbortSignal.timeout(10_000) });
  const timer = setTimeout(() => reconnected.reject(new Error("no reconnect within 5 s")), 5_000);
  await reconnected.promise.finally(() => clearTimeout(timer));
  const result = await client.publish({ topic: "examples/moved", payload: "hello", qos: 1 });
  console.log(
    `redirected: reconnected to ${url}, published (reason 0x${result.reasonCode.toString(16)})`,
  );
} finally {
  await client.disconnect();
}

// ---------------------------------------------------------------------------
// Demo scaffolding, not part of the lesson: a "broker" on a free loopback port
// that accepts each CONNECT and at once sends DISCONNECT 0x9D Server moved,
// with Server Reference `target`.

async function startMovedBroker(target: string): Promise<{ url: string } & AsyncDisposable> {
  const server: Server = createServer((socket) => {
    const decoder = new PacketDecoder();
    socket.on("error", () => socket.destroy());
    socket.on("data", (chunk: Uint8Array) => {
      for (const packet of decoder.push(chunk)) {
        if (packet.type !== PacketType.Connect) continue;
        socket.write(
          encodePacket({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 }),
        );
        socket.end(encodePacket({
          type: PacketType.Disconnect,
          reasonCode: ReasonCode.ServerMoved,
          properties: { serverReference: target },
        }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `mqtt://127.0.0.1:${port}`,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
