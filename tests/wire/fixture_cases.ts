/**
 * The fixture-driven codec checks as plain named functions, shared by the Deno
 * test (`tests/wire/fixtures_test.ts`) and the Bun test
 * (`bun-tests/wire_fixtures.test.ts`). Runtime-neutral: only
 * `node:assert/strict`, which both runtimes provide.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MqttError } from "../../src/errors.ts";
import {
  DISCONNECT_BYTES,
  encodePacket,
  encodePacketInto,
  type Packet,
  PacketDecoder,
  packetLength,
  PacketType,
  PINGREQ_BYTES,
  PINGRESP_BYTES,
} from "../../src/wire/mod.ts";
import { decodeOnlyFixtures, type Fixture, fixtures, normalized } from "./fixtures.ts";
import { type DecodeErrorCase, decodeErrors, encodeErrors } from "./error_fixtures.ts";

/** One named check; the runner registers `fn` as a test called `name`. */
export interface Case {
  /** The test name. */
  name: string;
  /** The check; throws on failure. */
  fn: () => void;
}

/** Fixtures longer than this are split at sampled points instead of at every point. */
const SPLIT_EVERY_POINT_MAX = 2048;

/**
 * A deep copy with plain prototypes and Uint8Array copies, so that views into
 * a decoder's buffer, frozen or null-prototype objects compare by content.
 */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[key] = plain((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

function assertPackets(actual: Packet[], expected: Packet[], message?: string): void {
  assert.deepStrictEqual(actual.map(plain), expected.map(plain), message);
}

/** The length of the fixed header (type byte + remaining length varint), read by hand. */
export function fixedHeaderLength(bytes: ArrayLike<number>): number {
  let i = 1;
  while (i < bytes.length && i < 5 && (bytes[i] & 0x80) !== 0) i++;
  return i + 1;
}

/** The remaining length announced by the fixed header, read by hand (§1.5.5). */
function remainingLength(bytes: ArrayLike<number>): number {
  let value = 0;
  let multiplier = 1;
  for (let i = 1; i < 5; i++) {
    value += (bytes[i] & 0x7f) * multiplier;
    if ((bytes[i] & 0x80) === 0) return value;
    multiplier *= 128;
  }
  throw new Error("remaining length longer than 4 bytes");
}

function assertThrowsProtocolError(fn: () => unknown, reasonCode: number): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MqttError, `expected MqttError, got ${String(err)}`);
    assert.equal(err.code, "protocol-error");
    assert.equal(err.reasonCode, reasonCode, `reasonCode 0x${err.reasonCode?.toString(16)}`);
    return true;
  });
}

/** Split points for `n` bytes: every point when short, a spread sample when long. */
function splitPoints(n: number): number[] {
  if (n <= SPLIT_EVERY_POINT_MAX) return Array.from({ length: n - 1 }, (_, i) => i + 1);
  const points = new Set<number>();
  for (let i = 1; i < 32; i++) points.add(i);
  for (let i = 32; i < n - 32; i += 97) points.add(i);
  for (let i = n - 32; i < n; i++) points.add(i);
  return [...points];
}

function fixtureCases(f: Fixture): Case[] {
  const expected = normalized(f);
  const bytes = () => Uint8Array.from(f.bytes);
  return [
    {
      name: `fixture table: remaining length of ${f.name} matches its bytes`,
      fn: () => {
        assert.equal(remainingLength(f.bytes), f.bytes.length - fixedHeaderLength(f.bytes));
      },
    },
    {
      name: `encodePacket() writes ${f.name}`,
      fn: () => {
        const out = encodePacket(f.packet);
        assert.ok(out instanceof Uint8Array);
        assert.deepStrictEqual(Array.from(out), f.bytes);
      },
    },
    {
      name: `packetLength() measures ${f.name}`,
      fn: () => assert.equal(packetLength(f.packet), f.bytes.length),
    },
    {
      name: `encodePacketInto() writes ${f.name} at an offset`,
      fn: () => {
        const n = f.bytes.length;
        const target = new Uint8Array(n + 10).fill(0xaa);
        assert.equal(encodePacketInto(f.packet, target, 3), n);
        assert.deepStrictEqual(Array.from(target.subarray(3, 3 + n)), f.bytes);
        assert.ok(target.subarray(0, 3).every((b) => b === 0xaa), "bytes before the offset kept");
        assert.ok(target.subarray(3 + n).every((b) => b === 0xaa), "bytes after the packet kept");
        const exact = new Uint8Array(n);
        assert.equal(encodePacketInto(f.packet, exact), n);
        assert.deepStrictEqual(Array.from(exact), f.bytes);
      },
    },
    {
      name: `encodePacketInto() writes nothing of ${f.name} when one byte short`,
      fn: () => {
        const n = f.bytes.length;
        const target = new Uint8Array(3 + n - 1).fill(0xaa);
        const written = encodePacketInto(f.packet, target, 3);
        assert.ok(written < 0, `expected a negative result, got ${written}`);
        assert.ok(target.every((b) => b === 0xaa), "target untouched");
        const empty = new Uint8Array(0);
        assert.ok(encodePacketInto(f.packet, empty) < 0);
      },
    },
    {
      name: `PacketDecoder.push() reads ${f.name}`,
      fn: () => assertPackets(new PacketDecoder().push(bytes()), [expected]),
    },
    {
      name: `PacketDecoder.push() reads ${f.name} with maximumPacketSize equal to its size`,
      fn: () => {
        const decoder = new PacketDecoder({ maximumPacketSize: f.bytes.length });
        assertPackets(decoder.push(bytes()), [expected]);
      },
    },
    {
      name: `PacketDecoder.push() round-trips ${f.name} through encodePacket()`,
      fn: () => assertPackets(new PacketDecoder().push(encodePacket(f.packet)), [expected]),
    },
    {
      name: `PacketDecoder.push() reads ${f.name} one byte at a time`,
      fn: () => {
        const decoder = new PacketDecoder();
        const all = bytes();
        for (let i = 0; i < all.length - 1; i++) {
          assert.deepStrictEqual(decoder.push(all.subarray(i, i + 1)), [], `byte ${i}`);
        }
        assertPackets(decoder.push(all.subarray(all.length - 1)), [expected]);
      },
    },
    {
      name: `PacketDecoder.push() reads ${f.name} split in two chunks at every point`,
      fn: () => {
        const all = bytes();
        for (const at of splitPoints(all.length)) {
          const decoder = new PacketDecoder();
          // Separate buffers, as a transport would deliver them.
          assert.deepStrictEqual(decoder.push(all.slice(0, at)), [], `split at ${at}`);
          assertPackets(decoder.push(all.slice(at)), [expected], `split at ${at}`);
        }
      },
    },
  ];
}

function decodeErrorCases(e: DecodeErrorCase): Case[] {
  const cases: Case[] = [
    {
      name: `PacketDecoder.push() rejects ${e.name}`,
      fn: () => {
        const decoder = new PacketDecoder(e.options);
        assertThrowsProtocolError(() => decoder.push(Uint8Array.from(e.bytes)), e.reasonCode);
      },
    },
    {
      name: `PacketDecoder.push() rejects ${e.name}, fed one byte at a time`,
      fn: () => {
        const decoder = new PacketDecoder(e.options);
        let thrown: unknown;
        let at = -1;
        for (let i = 0; i < e.bytes.length; i++) {
          try {
            assert.deepStrictEqual(decoder.push(Uint8Array.of(e.bytes[i])), [], `byte ${i}`);
          } catch (err) {
            if (!(err instanceof MqttError)) throw err;
            thrown = err;
            at = i;
            break;
          }
        }
        assertThrowsProtocolError(() => {
          if (thrown !== undefined) throw thrown;
        }, e.reasonCode);
        assert.ok(at >= 0);
      },
    },
  ];
  if (e.options?.maximumPacketSize !== undefined) {
    cases.push({
      name: `PacketDecoder.push() rejects ${e.name} as soon as the fixed header is complete`,
      fn: () => {
        const decoder = new PacketDecoder(e.options);
        const header = Uint8Array.from(e.bytes.slice(0, fixedHeaderLength(e.bytes)));
        assertThrowsProtocolError(() => decoder.push(header), e.reasonCode);
      },
    });
  }
  return cases;
}

/** Checks that span several fixtures, or none. */
function streamCases(): Case[] {
  const byName = (name: string): Fixture => {
    const f = fixtures.find((x) => x.name === name);
    if (f === undefined) throw new Error(`no fixture named ${name}`);
    return f;
  };
  return [
    {
      name: "PacketDecoder.push() reads all fixtures concatenated in one chunk, in order",
      fn: () => {
        const chunk = Uint8Array.from(fixtures.flatMap((f) => f.bytes));
        assertPackets(new PacketDecoder().push(chunk), fixtures.map(normalized));
      },
    },
    {
      name: "PacketDecoder.push() reads all fixtures concatenated and cut into 7-byte chunks",
      fn: () => {
        const all = Uint8Array.from(fixtures.flatMap((f) => f.bytes));
        const decoder = new PacketDecoder();
        const got: Packet[] = [];
        for (let i = 0; i < all.length; i += 7) got.push(...decoder.push(all.slice(i, i + 7)));
        assertPackets(got, fixtures.map(normalized));
      },
    },
    {
      name: "PacketDecoder.push() gives a PUBLISH payload that is a view into the chunk",
      fn: () => {
        const f = byName("PUBLISH with a 200-byte payload (2-byte remaining length)");
        const chunk = Uint8Array.from([0xd0, 0x00, ...f.bytes, 0xd0, 0x00]);
        const packets = new PacketDecoder().push(chunk);
        assert.equal(packets.length, 3);
        const p = packets[1];
        assert.equal(p.type, PacketType.Publish);
        if (p.type !== PacketType.Publish) return;
        assert.equal(p.payload.buffer, chunk.buffer, "payload shares the chunk's buffer");
        // PINGRESP (2) + fixed header (3) + topic (3) + property length (1)
        assert.equal(p.payload.byteOffset, 2 + 3 + 3 + 1);
        assert.equal(p.payload.length, 200);
        assertPackets(packets, [{ type: PacketType.Pingresp }, normalized(f), {
          type: PacketType.Pingresp,
        }]);
      },
    },
    {
      name: "PacketDecoder.push() reads a PUBLISH payload that spans chunks",
      fn: () => {
        const f = byName("PUBLISH with a 200-byte payload (2-byte remaining length)");
        const all = Uint8Array.from(f.bytes);
        for (const at of [8, 50, 106, 206]) {
          const decoder = new PacketDecoder();
          const first = all.slice(0, at);
          const second = all.slice(at);
          assert.deepStrictEqual(decoder.push(first), []);
          const got = decoder.push(second);
          assertPackets(got, [normalized(f)], `split at ${at}`);
        }
      },
    },
    {
      name: "PacketDecoder.reset() drops a partial packet",
      fn: () => {
        const f = byName("PUBLISH QoS 1 with topic alias");
        const decoder = new PacketDecoder();
        assert.deepStrictEqual(decoder.push(Uint8Array.from(f.bytes.slice(0, 5))), []);
        decoder.reset();
        assertPackets(decoder.push(Uint8Array.from(f.bytes)), [normalized(f)]);
      },
    },
    {
      name: "PINGREQ_BYTES, PINGRESP_BYTES and DISCONNECT_BYTES hold the 2-byte packets",
      fn: () => {
        assert.deepStrictEqual(Array.from(PINGREQ_BYTES), [0xc0, 0x00]);
        assert.deepStrictEqual(Array.from(PINGRESP_BYTES), [0xd0, 0x00]);
        assert.deepStrictEqual(Array.from(DISCONNECT_BYTES), [0xe0, 0x00]);
      },
    },
  ];
}

/** Every fixture-driven check, in a stable order. */
export function wireFixtureCases(): Case[] {
  const cases: Case[] = [];
  for (const f of fixtures) cases.push(...fixtureCases(f));
  for (const f of decodeOnlyFixtures) {
    cases.push({
      name: `fixture table: remaining length of ${f.name} matches its bytes`,
      fn: () => {
        assert.equal(remainingLength(f.bytes), f.bytes.length - fixedHeaderLength(f.bytes));
      },
    });
    cases.push({
      name: `PacketDecoder.push() accepts ${f.name}`,
      fn: () => assertPackets(new PacketDecoder().push(Uint8Array.from(f.bytes)), [f.decoded]),
    });
    cases.push({
      name: `PacketDecoder.push() accepts ${f.name}, one byte at a time`,
      fn: () => {
        const decoder = new PacketDecoder();
        const got: Packet[] = [];
        for (const b of f.bytes) got.push(...decoder.push(Uint8Array.of(b)));
        assertPackets(got, [f.decoded]);
      },
    });
  }
  for (const e of decodeErrors) cases.push(...decodeErrorCases(e));
  for (const e of encodeErrors) {
    cases.push({
      name: `encodePacket() refuses ${e.name} with ${e.error.name}`,
      fn: () => assert.throws(() => encodePacket(e.packet as Packet), e.error),
    });
    cases.push({
      name: `encodePacketInto() refuses ${e.name} with ${e.error.name}`,
      fn: () => {
        const target = new Uint8Array(1 << 20);
        assert.throws(() => encodePacketInto(e.packet as Packet, target), e.error);
      },
    });
  }
  cases.push(...streamCases());
  return cases;
}
