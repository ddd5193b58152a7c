// Seeded random round trips: random VALID packets of every type -> encodePacket
// -> PacketDecoder fed in random chunk sizes -> compared with the normalized
// expected packet (WIRE_API_NOTES.md "Decoded shape"). 20,000 packets in all.

import assert from "node:assert/strict";
import {
  encodePacket,
  encodePacketInto,
  type Packet,
  PacketDecoder,
  packetLength,
  PacketType,
} from "../../src/wire/mod.ts";
import { Prng } from "../_helpers/prng.ts";
import { normalizePacket, randomPacket } from "../_helpers/random_packets.ts";

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function describe(p: unknown): string {
  return JSON.stringify(p, (_k, v) => v instanceof Uint8Array ? `<${v.length} bytes>` : v)
    .slice(0, 1500);
}

/**
 * Round-trips `count` random packets (of `type`, or of every type) in batches
 * of 1..40 packets; each batch is one byte stream split into random chunks
 * and pushed into one long-lived decoder. Packets are compared only after the
 * whole batch was pushed, so a payload view that a later push overwrote is
 * caught too.
 */
function roundTrip(seed: number, count: number, type?: PacketType): Map<number | string, number> {
  const rng = new Prng(seed);
  const decoder = new PacketDecoder();
  const seen = new Map<number | string, number>();
  const count1 = (key: number | string) => seen.set(key, (seen.get(key) ?? 0) + 1);
  let done = 0;
  let batch = 0;
  while (done < count) {
    const n = Math.min(count - done, rng.range(1, 40));
    const packets: Packet[] = [];
    const frames: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const p = randomPacket(rng, type);
      let bytes: Uint8Array;
      try {
        bytes = encodePacket(p);
      } catch (err) {
        throw new Error(`seed ${seed} batch ${batch}: encodePacket threw on ${describe(p)}`, {
          cause: err,
        });
      }
      assert.equal(packetLength(p), bytes.length, `packetLength of ${describe(p)}`);
      if (rng.bool(0.1)) {
        // encodePacketInto writes the same bytes at an offset, or asks for room.
        const offset = rng.int(8);
        const target = new Uint8Array(offset + bytes.length + rng.int(3));
        assert.equal(encodePacketInto(p, target, offset), bytes.length);
        assert.deepStrictEqual(target.subarray(offset, offset + bytes.length), bytes);
        assert.equal(encodePacketInto(p, new Uint8Array(bytes.length - 1), 0), -bytes.length);
      }
      packets.push(p);
      frames.push(bytes);
      count1(p.type);
      if (p.type === PacketType.Publish) {
        const size = p.payload.length;
        count1(
          size === 0
            ? "payload 0"
            : size > 16384
            ? "payload > 16384"
            : size > 128
            ? "payload > 128"
            : "payload 1..128",
        );
      }
    }
    const stream = concat(frames);
    const decoded: Packet[] = [];
    let offset = 0;
    for (const size of rng.chunkSizes(stream.length)) {
      // Sometimes hand the decoder a copy, so nothing relies on chunk identity.
      const chunk = rng.bool(0.2)
        ? stream.slice(offset, offset + size)
        : stream.subarray(offset, offset + size);
      for (const p of decoder.push(chunk)) decoded.push(p);
      offset += size;
    }
    assert.equal(decoded.length, packets.length, `seed ${seed} batch ${batch}: packet count`);
    for (let i = 0; i < n; i++) {
      try {
        assert.deepStrictEqual(decoded[i], normalizePacket(packets[i]));
      } catch (err) {
        throw new Error(
          `seed ${seed} batch ${batch} packet ${i}: ${describe(packets[i])}`,
          { cause: err },
        );
      }
    }
    done += n;
    batch++;
  }
  return seen;
}

const ALL_TYPES = Object.entries(PacketType) as [string, PacketType][];

for (const [name, type] of ALL_TYPES) {
  Deno.test(`PacketDecoder round-trips 1,000 random ${name} packets in random chunks`, () => {
    const seen = roundTrip(0x1000 + type, 1000, type);
    assert.equal(seen.get(type), 1000);
    if (type === PacketType.Publish) {
      for (const key of ["payload 0", "payload 1..128", "payload > 128", "payload > 16384"]) {
        assert.ok((seen.get(key) ?? 0) >= 10, `${key}: ${seen.get(key)}`);
      }
    }
  });
}

Deno.test("PacketDecoder round-trips 5,000 random packets of mixed types in random chunks", () => {
  const seen = roundTrip(0xc0ffee, 5000);
  for (const [, type] of ALL_TYPES) assert.ok((seen.get(type) ?? 0) > 200, `type ${type}`);
});

Deno.test("Prng string() never yields U+0000 or a lone surrogate", () => {
  const rng = new Prng(7);
  const enc = new TextEncoder();
  const dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let astral = 0;
  let multiByte = 0;
  for (let i = 0; i < 2000; i++) {
    const s = rng.string(50);
    assert.ok(!s.includes("\u0000"));
    assert.equal(s.isWellFormed(), true);
    assert.equal(dec.decode(enc.encode(s)), s);
    if (/[\u{10000}-\u{10FFFF}]/u.test(s)) astral++;
    if ([...s].some((c) => c.codePointAt(0)! > 0x7f)) multiByte++;
  }
  assert.ok(astral > 100 && multiByte > 500);
});
