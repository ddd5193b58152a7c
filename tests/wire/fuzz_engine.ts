/**
 * A seeded fuzzer for {@linkcode PacketDecoder}: random byte frames and
 * mutated valid frames (bit flips, byte overwrites, insertions, deletions,
 * duplicated slices, truncation, remaining-length corruption), fed to a fresh
 * decoder whole or in random chunks, with and without `maximumPacketSize`.
 *
 * Invariants checked on every case:
 * - the only error thrown is an `MqttError` with code `"protocol-error"` and a
 *   reason code in {0x81, 0x82, 0x84, 0x94, 0x95}; 0x95 only when a
 *   `maximumPacketSize` was given;
 * - every packet returned (also by pushes before a throw) re-encodes without
 *   throwing, fits the `maximumPacketSize`, and decodes back to itself.
 *
 * Each case draws from its own PRNG seeded by (seed, case index), so a failure
 * is replayed with `runFuzz({ seed, from: index, cases: 1 })`. Runtime-neutral.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MqttError } from "../../src/errors.ts";
import { encodePacket, type Packet, PacketDecoder, packetLength } from "../../src/wire/mod.ts";
import { Prng } from "../_helpers/prng.ts";
import { randomPacket } from "../_helpers/random_packets.ts";

/** Reason codes a decode error may carry. */
export const DECODE_REASON_CODES: ReadonlySet<number> = new Set([0x81, 0x82, 0x84, 0x94, 0x95]);

/** Options of {@linkcode runFuzz}. */
export interface FuzzOptions {
  /** Number of cases to run. */
  cases: number;
  /** Seed of the whole run. */
  seed: number;
  /** Index of the first case (to replay one case). @default 0 */
  from?: number;
  /** Called with running statistics every `logEvery` cases and at the end. */
  log?: (stats: FuzzStats) => void;
  /** Cases between two `log` calls. @default 100000 */
  logEvery?: number;
}

/** Statistics of a fuzz run. */
export interface FuzzStats {
  /** Cases run so far. */
  cases: number;
  /** Cases whose decoder threw (an allowed protocol error). */
  threw: number;
  /** Packets the decoders returned (all re-encoded and re-decoded). */
  packets: number;
  /** Errors by reason code, e.g. `{ "0x81": 1234 }`. */
  reasonCodes: Record<string, number>;
  /** Cases by input strategy. */
  strategies: Record<string, number>;
  /** Milliseconds since the start. */
  elapsedMs: number;
}

/** A fuzz case that broke an invariant, with what is needed to replay it. */
export class FuzzFailure extends Error {
  /** Creates the failure. */
  constructor(
    message: string,
    /** The case index. */
    readonly caseIndex: number,
    /** The run seed. */
    readonly seed: number,
    /** The input bytes. */
    readonly input: Uint8Array,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "FuzzFailure";
  }
}

const INTERESTING = [0x00, 0x01, 0x02, 0x7f, 0x80, 0x81, 0xff, 0xfe, 0x0b, 0x23, 0x26, 0x2a, 0x3f];

function hex(b: Uint8Array, max = 600): string {
  let s = "";
  for (let i = 0; i < Math.min(b.length, max); i++) s += b[i].toString(16).padStart(2, "0");
  return b.length > max ? `${s}... (${b.length} bytes)` : s;
}

function writeVarint(value: number): number[] {
  const out: number[] = [];
  do {
    let d = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) d |= 0x80;
    out.push(d);
  } while (value > 0);
  return out;
}

/** Where the fixed header's remaining length sits: [start, end). */
function varintSpan(frame: Uint8Array): [number, number] {
  let i = 1;
  while (i < frame.length && i < 5 && (frame[i] & 0x80) !== 0) i++;
  return [1, Math.min(i + 1, frame.length)];
}

function splice(a: Uint8Array, at: number, del: number, insert: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(a.length - del + insert.length);
  out.set(a.subarray(0, at), 0);
  out.set(insert, at);
  out.set(a.subarray(at + del), at + insert.length);
  return out;
}

function mutate(rng: Prng, frame: Uint8Array): Uint8Array {
  // Always a copy: PINGREQ, PINGRESP and DISCONNECT encode to shared constants.
  let f: Uint8Array = frame.slice();
  const n = rng.pick([1, 1, 1, 2, 2, 3, 5]);
  for (let m = 0; m < n; m++) {
    const len = f.length;
    switch (rng.int(9)) {
      case 0: // bit flip
      case 1: {
        if (len === 0) break;
        f[rng.int(len)] ^= 1 << rng.int(8);
        break;
      }
      case 2: { // overwrite with an interesting or random byte
        if (len === 0) break;
        f[rng.int(len)] = rng.bool() ? rng.pick(INTERESTING) : rng.int(256);
        break;
      }
      case 3: // insert bytes
        f = splice(f, rng.int(len + 1), 0, rng.bytes(rng.range(1, 4)));
        break;
      case 4: { // delete bytes
        if (len === 0) break;
        const at = rng.int(len);
        f = splice(f, at, Math.min(len - at, rng.range(1, 4)), []);
        break;
      }
      case 5: // truncate
        f = f.subarray(0, rng.int(len + 1));
        break;
      case 6: { // duplicate a slice elsewhere (repeated properties, filters, ...)
        if (len < 2) break;
        const from = rng.int(len);
        const size = Math.min(len - from, rng.range(1, 12));
        f = splice(f, rng.int(len + 1), 0, f.slice(from, from + size));
        break;
      }
      case 7: // add a small delta to a byte (string / property lengths)
        if (len === 0) break;
        f[rng.int(len)] += rng.pick([1, 2, 255, 254]);
        break;
      default: { // corrupt the remaining length
        if (len < 2) break;
        const [start, end] = varintSpan(f);
        let current = 0;
        for (let i = end - 1; i >= start; i--) current = current * 128 + (f[i] & 0x7f);
        let replacement: number[];
        switch (rng.int(5)) {
          case 0:
            replacement = writeVarint(Math.max(0, current + rng.pick([-3, -2, -1, 1, 2, 3])));
            break;
          case 1:
            replacement = writeVarint(rng.int(268435456));
            break;
          case 2: { // non-minimal encoding [MQTT-1.5.5-1]
            replacement = writeVarint(current);
            if (replacement.length < 4) {
              replacement[replacement.length - 1] |= 0x80;
              replacement.push(0);
            }
            break;
          }
          case 3: // five bytes
            replacement = [0xff, 0xff, 0xff, 0xff, 0x7f];
            break;
          default:
            replacement = [0xff, 0xff, 0xff, 0x7f];
        }
        f = splice(f, start, end - start, replacement);
      }
    }
  }
  return f;
}

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

function validFrame(rng: Prng): Uint8Array {
  return encodePacket(randomPacket(rng, undefined, { maxPayload: rng.bool(0.02) ? 20000 : 300 }));
}

/** A frame with a plausible fixed header (right flags, minimal length) and a random body. */
function randomFrame(rng: Prng): Uint8Array {
  const type = rng.range(0, 15);
  let flags = type === 6 || type === 8 || type === 10 ? 2 : 0;
  if (type === 3) flags = rng.int(16);
  if (rng.bool(0.05)) flags = rng.int(16);
  const body = rng.bytes(rng.pick([0, 1, 2, 3, 5, rng.int(40), rng.int(300)]));
  return concat([Uint8Array.of((type << 4) | flags, ...writeVarint(body.length)), body]);
}

const STRATEGIES = ["noise", "random-frame", "mutated", "mutated-stream", "valid-stream"] as const;

function makeInput(rng: Prng): [typeof STRATEGIES[number], Uint8Array] {
  const r = rng.next();
  if (r < 0.1) return ["noise", rng.bytes(rng.int(64))];
  if (r < 0.3) return ["random-frame", randomFrame(rng)];
  if (r < 0.85) return ["mutated", mutate(rng, validFrame(rng))];
  if (r < 0.97) {
    const frames: Uint8Array[] = [];
    for (let i = rng.range(2, 5); i > 0; i--) frames.push(validFrame(rng));
    const k = rng.int(frames.length);
    frames[k] = mutate(rng, frames[k]);
    return ["mutated-stream", concat(frames)];
  }
  const frames: Uint8Array[] = [];
  for (let i = rng.range(1, 5); i > 0; i--) frames.push(validFrame(rng));
  return ["valid-stream", concat(frames)];
}

function checkPacket(p: Packet, maximumPacketSize: number | undefined): void {
  const bytes = encodePacket(p); // everything decoded must be valid
  if (maximumPacketSize !== undefined) {
    assert.ok(packetLength(p) <= maximumPacketSize, "decoded a packet above maximumPacketSize");
  }
  const again = new PacketDecoder().push(bytes);
  assert.equal(again.length, 1);
  assert.deepStrictEqual(again[0], p);
}

/**
 * Runs the fuzzer.
 *
 * @param options Cases, seed, first case and progress logging.
 * @returns The statistics of the run.
 * @throws {FuzzFailure} On the first case that breaks an invariant.
 */
export function runFuzz(options: FuzzOptions): FuzzStats {
  const { cases, seed, log } = options;
  const from = options.from ?? 0;
  const logEvery = options.logEvery ?? 100_000;
  const stats: FuzzStats = {
    cases: 0,
    threw: 0,
    packets: 0,
    reasonCodes: {},
    strategies: {},
    elapsedMs: 0,
  };
  const started = performance.now();
  for (let i = from; i < from + cases; i++) {
    const rng = new Prng((Math.imul(i + 1, 0x9e3779b1) ^ seed) >>> 0);
    const [strategy, input] = makeInput(rng);
    stats.strategies[strategy] = (stats.strategies[strategy] ?? 0) + 1;
    let maximumPacketSize: number | undefined;
    if (rng.bool(0.3)) {
      maximumPacketSize = rng.bool(0.5) ? rng.range(2, 8) : rng.range(2, input.length * 2 + 2);
    }
    const decoder = maximumPacketSize === undefined
      ? new PacketDecoder()
      : new PacketDecoder({ maximumPacketSize });
    const sizes = rng.bool(0.5) ? [input.length] : rng.chunkSizes(input.length);
    const fail = (what: string, cause?: unknown): never => {
      throw new FuzzFailure(
        `fuzz case ${i} (seed ${seed}, ${strategy}, maximumPacketSize ${maximumPacketSize}, ` +
          `chunks ${sizes.length}): ${what}\ninput: ${hex(input)}`,
        i,
        seed,
        input,
        { cause },
      );
    };
    let offset = 0;
    for (const size of sizes) {
      let out: Packet[];
      try {
        out = decoder.push(input.subarray(offset, offset + size));
      } catch (err) {
        if (!(err instanceof MqttError)) fail(`threw a non-MqttError: ${String(err)}`, err);
        const e = err as MqttError;
        if (e.code !== "protocol-error") fail(`threw code ${e.code}`, err);
        if (e.reasonCode === undefined || !DECODE_REASON_CODES.has(e.reasonCode)) {
          fail(`threw reason code ${e.reasonCode}`, err);
        }
        if (e.reasonCode === 0x95 && maximumPacketSize === undefined) {
          fail("threw 0x95 without a maximumPacketSize", err);
        }
        const key = `0x${e.reasonCode!.toString(16)}`;
        stats.reasonCodes[key] = (stats.reasonCodes[key] ?? 0) + 1;
        stats.threw++;
        break;
      }
      for (const p of out) {
        try {
          checkPacket(p, maximumPacketSize);
        } catch (err) {
          fail(`decoded packet failed re-encode/re-decode: ${String(err)}`, err);
        }
        stats.packets++;
      }
      offset += size;
    }
    stats.cases++;
    if (log !== undefined && stats.cases % logEvery === 0) {
      stats.elapsedMs = performance.now() - started;
      log(stats);
    }
  }
  stats.elapsedMs = performance.now() - started;
  if (log !== undefined && stats.cases % logEvery !== 0) log(stats);
  return stats;
}
