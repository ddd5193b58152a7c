/**
 * CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78): the
 * checksum the file-backed stores put on every log record. It detects every
 * burst error up to 32 bits and is the CRC used by iSCSI, ext4 and SCTP.
 *
 * Table-driven, slicing by 8 (eight 256-entry tables, 8 KiB, built once at
 * load): about eight bytes per step instead of one. Runtime-neutral.
 *
 * @example Usage
 * ```ts
 * import { crc32c } from "./crc32c.ts";
 *
 * const bytes = new TextEncoder().encode("123456789");
 * console.log(crc32c(bytes).toString(16)); // e3069283
 * // Incremental: feed the previous result back in.
 * const whole = crc32c(bytes.subarray(4), crc32c(bytes.subarray(0, 4)));
 * console.log(whole === crc32c(bytes)); // true
 * ```
 *
 * @module
 */

const POLY = 0x82f63b78;

/** `T[k * 256 + b]`: the CRC of byte `b` followed by `k` zero bytes. */
const T: Uint32Array = /* @__PURE__ */ (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/**
 * Computes the CRC32C of `bytes`, optionally continuing from a previous
 * result so that `crc32c(b, crc32c(a))` equals `crc32c(a ++ b)`.
 *
 * @param bytes The data.
 * @param previous The CRC32C of the data that precedes `bytes` (0, the
 * default, starts a new checksum).
 * @returns The CRC32C as an unsigned 32-bit integer.
 *
 * @example Usage
 * ```ts
 * import { crc32c } from "./crc32c.ts";
 *
 * console.log(crc32c(new Uint8Array(32)) === 0x8a9136aa); // true
 * ```
 */
export function crc32c(bytes: Uint8Array, previous = 0): number {
  let crc = ~previous;
  let i = 0;
  const n = bytes.length;
  const end8 = n - (n & 7);
  while (i < end8) {
    const lo = crc ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    crc = T[0x700 + (lo & 0xff)] ^ T[0x600 + ((lo >>> 8) & 0xff)] ^
      T[0x500 + ((lo >>> 16) & 0xff)] ^ T[0x400 + (lo >>> 24)] ^
      T[0x300 + bytes[i + 4]] ^ T[0x200 + bytes[i + 5]] ^
      T[0x100 + bytes[i + 6]] ^ T[bytes[i + 7]];
    i += 8;
  }
  while (i < n) crc = T[(crc ^ bytes[i++]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}
