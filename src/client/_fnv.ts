// FNV-1a (32-bit) over the UTF-8 bytes of a string: the hash-by-topic publish
// policy of ClientGroup and the publisher pool.

const OFFSET_BASIS = 0x811c9dc5;
const PRIME = 0x01000193;

const encoder = new TextEncoder();
/** UTF-8 of a non-ASCII string being hashed (3 bytes per UTF-16 unit at most). */
let scratch = new Uint8Array(0);

/**
 * The 32-bit FNV-1a hash of the UTF-8 encoding of `s` (a lone surrogate
 * counts as U+FFFD, as `TextEncoder` encodes it). ASCII, the common topic, is
 * hashed as it is read; anything else is encoded first.
 *
 * @param s The string to hash.
 * @returns The hash, an unsigned 32-bit integer.
 */
export function fnv1a32(s: string): number {
  let h = OFFSET_BASIS;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) {
      if (scratch.length < s.length * 3) scratch = new Uint8Array(s.length * 3);
      const n = encoder.encodeInto(s, scratch).written;
      h = OFFSET_BASIS;
      for (let k = 0; k < n; k++) h = Math.imul(h ^ scratch[k], PRIME);
      break;
    }
    h = Math.imul(h ^ c, PRIME);
  }
  return h >>> 0;
}
