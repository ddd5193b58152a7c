import assert from "node:assert/strict";
import { crc32c } from "../../src/store/crc32c.ts";
import { Prng } from "../_helpers/prng.ts";

const ascii = (s: string) => new TextEncoder().encode(s);

/** Bit by bit, straight from the definition: the reference the table is checked against. */
function bitwise(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

Deno.test('crc32c() of "123456789" is the check value 0xE3069283', () => {
  assert.equal(crc32c(ascii("123456789")), 0xe3069283);
});

Deno.test("crc32c() matches the iSCSI test vectors of RFC 3720 B.4", () => {
  const inc = Uint8Array.from({ length: 32 }, (_, i) => i);
  const dec = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(inc), 0x46dd794e);
  assert.equal(crc32c(dec), 0x113fdb5c);
});

Deno.test("crc32c() of nothing is 0, and of one byte matches the definition", () => {
  assert.equal(crc32c(new Uint8Array(0)), 0);
  for (let b = 0; b < 256; b++) {
    assert.equal(crc32c(new Uint8Array([b])), bitwise(new Uint8Array([b])));
  }
  assert.equal(crc32c(ascii("a")), 0xc1d04330);
});

Deno.test("crc32c() agrees with the bitwise definition at every length and alignment", () => {
  const rng = new Prng(0xc5c);
  const data = rng.bytes(300);
  for (let start = 0; start < 9; start++) {
    for (let end = start; end <= data.length; end += 1 + (end >> 4)) {
      const view = data.subarray(start, end);
      assert.equal(crc32c(view), bitwise(view), `bytes ${start}..${end}`);
    }
  }
});

Deno.test("crc32c() continues from a previous result", () => {
  const rng = new Prng(7);
  const data = rng.bytes(1000);
  const whole = crc32c(data);
  for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
    assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), whole, `cut ${cut}`);
  }
});

Deno.test("crc32c() detects every single-bit flip", () => {
  const data = new Prng(3).bytes(64);
  const good = crc32c(data);
  for (let bit = 0; bit < data.length * 8; bit++) {
    data[bit >> 3] ^= 1 << (bit & 7);
    assert.notEqual(crc32c(data), good, `bit ${bit}`);
    data[bit >> 3] ^= 1 << (bit & 7);
  }
});
