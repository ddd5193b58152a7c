/**
 * Codec demo: encodes a few MQTT v5 packets, prints their bytes, feeds them to
 * a decoder in small chunks (as a socket would deliver them) and prints what
 * comes out. Run with `deno task demo`.
 *
 * @module
 */

import { encodePacket, type Packet, PacketDecoder, PacketType } from "../src/wire/mod.ts";

const text = new TextEncoder();
const packets: Packet[] = [
  {
    type: PacketType.Connect,
    clientId: "demo-1",
    cleanStart: true,
    keepAlive: 30,
    properties: { sessionExpiryInterval: 300, receiveMaximum: 64 },
    will: { topic: "demo/status", payload: text.encode("offline"), qos: 1, retain: true },
  },
  {
    type: PacketType.Publish,
    topic: "sensors/room1/temp",
    payload: text.encode('{"celsius":21.5}'),
    qos: 1,
    retain: false,
    dup: false,
    packetId: 1,
    properties: { contentType: "application/json", userProperties: [["unit", "C"]] },
  },
  {
    type: PacketType.Subscribe,
    packetId: 2,
    filters: [{ topic: "sensors/+/temp", qos: 1, noLocal: true }],
    properties: { subscriptionIdentifier: 7 },
  },
  { type: PacketType.Pingreq },
  { type: PacketType.Disconnect, reasonCode: 0x04 },
];

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
const names = Object.fromEntries(Object.entries(PacketType).map(([k, v]) => [v, k]));

const encoded = packets.map((p) => encodePacket(p));
for (const [i, bytes] of encoded.entries()) {
  console.log(
    `${names[packets[i].type].padEnd(11)} ${bytes.length.toString().padStart(3)} B  ${hex(bytes)}`,
  );
}

// One stream, cut into 7-byte chunks: the decoder reassembles packets across them.
const stream = new Uint8Array(encoded.reduce((n, b) => n + b.length, 0));
let offset = 0;
for (const b of encoded) {
  stream.set(b, offset);
  offset += b.length;
}
const decoder = new PacketDecoder({ maximumPacketSize: 64 * 1024 });
let decoded = 0;
for (let i = 0; i < stream.length; i += 7) {
  for (const p of decoder.push(stream.subarray(i, i + 7))) {
    decoded++;
    const detail = p.type === PacketType.Publish
      ? ` topic=${p.topic} payload=${new TextDecoder().decode(p.payload)}`
      : p.type === PacketType.Disconnect
      ? ` reasonCode=0x${p.reasonCode?.toString(16).padStart(2, "0")}`
      : "";
    console.log(`decoded ${names[p.type]}${detail}`);
  }
}
console.log(`${decoded}/${packets.length} packets round-tripped through 7-byte chunks`);
if (decoded !== packets.length) throw new Error("demo failed: not every packet decoded");
