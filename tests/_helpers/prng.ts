/**
 * A small seeded pseudo-random number generator (mulberry32) for reproducible
 * random and fuzz tests. Runtime-neutral: no `Deno.*`, `Bun.*` or `node:*`.
 *
 * @module
 */

/**
 * A seeded PRNG with helpers for test data. The same seed always yields the
 * same sequence, so a failing case can be replayed from its seed.
 *
 * @example
 * ```ts
 * const rng = new Prng(42);
 * rng.int(10); // 0..9
 * rng.string(8); // up to 8 code points of valid, NUL-free UTF-8
 * ```
 */
export class Prng {
  #state: number;

  /**
   * Creates a generator.
   *
   * @param seed Any 32-bit integer; equal seeds give equal sequences.
   */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next 32-bit unsigned integer (mulberry32). */
  u32(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [min, max], both ends included. */
  range(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** `true` with probability `p`. */
  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const v = this.u32();
      out[i] = v;
      out[i + 1] = v >>> 8;
      out[i + 2] = v >>> 16;
      out[i + 3] = v >>> 24;
    }
    for (; i < n; i++) out[i] = this.u32();
    return out;
  }

  /**
   * A length biased towards small values but reaching the boundaries that
   * matter to a codec: 0, 127/128 (one vs two varint bytes), 16383/16384 (two
   * vs three) and beyond.
   *
   * @param max The largest length returned.
   */
  size(max: number): number {
    const r = this.next();
    let n: number;
    if (r < 0.15) n = 0;
    else if (r < 0.6) n = this.range(1, 16);
    else if (r < 0.8) n = this.range(17, 127);
    else if (r < 0.9) n = this.range(120, 300);
    else if (r < 0.97) n = this.range(300, 4000);
    else n = this.range(16370, 20000);
    return Math.min(n, max);
  }

  /** One Unicode code point other than U+0000 and the surrogates D800-DFFF. */
  codePoint(): number {
    const r = this.next();
    if (r < 0.55) return this.range(0x20, 0x7e); // printable ASCII
    if (r < 0.6) return this.range(0x01, 0x1f); // C0 controls (not U+0000)
    if (r < 0.75) return this.range(0x80, 0x7ff); // 2-byte UTF-8
    if (r < 0.85) {
      const c = this.range(0x800, 0xfffd); // 3-byte UTF-8
      return c >= 0xd800 && c <= 0xdfff ? c - 0x800 : c;
    }
    if (r < 0.87) return this.pick([0xfeff, 0xfffe, 0xffff, 0x7f, 0x80, 0x7ff, 0x800]);
    return this.range(0x10000, 0x10ffff); // astral: 4-byte UTF-8, a surrogate pair in JS
  }

  /**
   * A string of valid UTF-8 without U+0000 or lone surrogates: at most
   * `maxCodePoints` code points drawn from ASCII, controls, 2-, 3- and 4-byte
   * sequences; sometimes led by U+FEFF, which a receiver must keep
   * [MQTT-1.5.4-3].
   *
   * @param maxCodePoints The largest number of code points.
   * @param exclude Code points (as characters) never to emit, e.g. `"/+#"`.
   */
  string(maxCodePoints: number, exclude = ""): string {
    const n = this.int(maxCodePoints + 1);
    let s = "";
    let count = 0;
    if (n > 0 && this.bool(0.03)) {
      s = "\uFEFF";
      count = 1;
    }
    while (count < n) {
      const c = String.fromCodePoint(this.codePoint());
      if (exclude.length > 0 && exclude.includes(c)) continue;
      s += c;
      count++;
    }
    return s;
  }

  /**
   * Splits `total` bytes into chunk sizes (each >= 1) following one of a few
   * shapes: whole, byte by byte, small, random or large pieces.
   *
   * @param total Bytes to split.
   * @returns Chunk sizes summing to `total`.
   */
  chunkSizes(total: number): number[] {
    const out: number[] = [];
    if (total === 0) return out;
    let shape = this.int(5);
    if (shape === 0) return [total];
    if (shape === 1 && total > 4096) shape = 2; // byte by byte only for small streams
    const max = shape === 1
      ? 1
      : shape === 2
      ? 7
      : shape === 3
      ? Math.max(1, Math.ceil(total / 3))
      : 4096;
    let left = total;
    while (left > 0) {
      const n = Math.min(left, this.range(1, max));
      out.push(n);
      left -= n;
    }
    return out;
  }
}
