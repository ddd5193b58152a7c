/**
 * Codec micro-benchmark cases shared by `bench/wire_bench.ts` (Deno.bench) and
 * `bench/wire_bench_bun.ts` (a hand-rolled runner for Bun): decode and encode
 * of a v5 PUBLISH by our codec and by mqtt-packet 9.0.2, in groups where
 * mqtt-packet is the baseline. Runtime-neutral.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import mqttPacketModule from "mqtt-packet";
import {
  encodePacket,
  encodePacketInto,
  PacketDecoder,
  PacketType,
  type PublishPacket,
} from "../src/wire/mod.ts";

interface MqttPacketParser {
  on(event: "packet", listener: (packet: unknown) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  parse(chunk: Uint8Array): number;
}

const mqttPacket = mqttPacketModule as unknown as {
  parser(options: { protocolVersion: number }): MqttPacketParser;
  generate(packet: Record<string, unknown>, options: { protocolVersion: number }): Uint8Array;
};

/** One benchmark: a group, a name, whether it is the group's baseline, and the body. */
export interface WireBenchCase {
  /** The group; each holds one "ours" and one "mqtt-packet" case. */
  group: string;
  /** The name printed. */
  name: string;
  /** `true` for mqtt-packet, the baseline the ratio is computed against. */
  baseline: boolean;
  /** One operation. */
  fn: () => void;
}

const V5 = { protocolVersion: 5 };

function payload(n: number): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (i * 31 + 7) & 0xff;
  return p;
}

function publish(size: number, fiveProperties: boolean): PublishPacket {
  return {
    type: PacketType.Publish,
    topic: "sensors/room1/temp",
    payload: payload(size),
    qos: 1,
    retain: false,
    dup: false,
    packetId: 4242,
    properties: fiveProperties
      ? {
        payloadFormatIndicator: 1,
        messageExpiryInterval: 60,
        contentType: "application/json",
        correlationData: payload(8),
        userProperties: [["unit", "C"]],
      }
      : { userProperties: [["unit", "C"]] },
  };
}

/** The same PUBLISH as mqtt-packet's generator takes it. */
function theirPublish(p: PublishPacket): Record<string, unknown> {
  const props: Record<string, unknown> = { userProperties: { unit: "C" } };
  if (p.properties?.contentType !== undefined) {
    props.payloadFormatIndicator = true;
    props.messageExpiryInterval = 60;
    props.contentType = "application/json";
    props.correlationData = Buffer.from(p.properties.correlationData!);
  }
  return {
    cmd: "publish",
    topic: p.topic,
    payload: Buffer.from(p.payload),
    qos: p.qos,
    retain: p.retain,
    dup: p.dup,
    messageId: p.packetId,
    properties: props,
  };
}

/** Keeps results observable so no engine can drop the work. */
export let sink = 0;

function decodeCases(group: string, bytes: Uint8Array, expected: number): WireBenchCase[] {
  const ours = new PacketDecoder();
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  let theirCount = 0;
  parser.on("packet", () => theirCount++);
  parser.on("error", (err) => {
    throw err;
  });
  const buf = Buffer.from(bytes);
  // Sanity: both decode the input to `expected` packets.
  if (ours.push(bytes).length !== expected) throw new Error(`${group}: our decoder disagrees`);
  parser.parse(buf);
  if (theirCount !== expected) throw new Error(`${group}: mqtt-packet disagrees`);
  return [
    {
      group,
      name: `mqtt-packet ${group}`,
      baseline: true,
      fn: () => {
        parser.parse(buf);
        sink += theirCount;
      },
    },
    {
      group,
      name: `ours ${group}`,
      baseline: false,
      fn: () => {
        sink += ours.push(bytes).length;
      },
    },
  ];
}

function encodeCases(group: string, p: PublishPacket): WireBenchCase[] {
  const theirs = theirPublish(p);
  const a = encodePacket(p);
  const b = mqttPacket.generate(theirs, V5);
  if (a.length !== b.length) throw new Error(`${group}: sizes differ (${a.length} vs ${b.length})`);
  return [
    {
      group,
      name: `mqtt-packet ${group}`,
      baseline: true,
      fn: () => {
        sink += mqttPacket.generate(theirs, V5).length;
      },
    },
    {
      group,
      name: `ours ${group}`,
      baseline: false,
      fn: () => {
        sink += encodePacket(p).length;
      },
    },
    {
      // What the client's writer does: encode into its reused scratch buffer.
      group,
      name: `ours encodePacketInto ${group}`,
      baseline: false,
      fn: () => {
        sink += encodePacketInto(p, scratch, 0);
      },
    },
  ];
}

const scratch = new Uint8Array(64 * 1024);

const pub64 = publish(64, false);
const pub16k = publish(16384, false);
const pub5 = publish(64, true);
const bytes64 = encodePacket(pub64);
const batch = new Uint8Array(bytes64.length * 100);
for (let i = 0; i < 100; i++) batch.set(bytes64, i * bytes64.length);

/** Every case, grouped; within a group the mqtt-packet case comes first. */
export const WIRE_BENCH_CASES: readonly WireBenchCase[] = [
  ...decodeCases("decode PUBLISH 64 B", bytes64, 1),
  ...encodeCases("encode PUBLISH 64 B", pub64),
  ...decodeCases("decode PUBLISH 16 KiB", encodePacket(pub16k), 1),
  ...encodeCases("encode PUBLISH 16 KiB", pub16k),
  ...decodeCases("decode PUBLISH 64 B, 5 properties", encodePacket(pub5), 1),
  ...encodeCases("encode PUBLISH 64 B, 5 properties", pub5),
  ...decodeCases("decode 100 x PUBLISH 64 B in one chunk", batch, 100),
];

/** Minimum speed-up of ours over mqtt-packet, by operation. */
export const TARGET_RATIO: Readonly<Record<"decode" | "encode", number>> = {
  decode: 5,
  encode: 3,
};
