// UTF-8 helpers for the codec: measuring, writing and reading MQTT strings
// (§1.5.4) without intermediate allocations on the short-ASCII fast path.

const textEncoder = new TextEncoder();
// fatal: ill-formed input (including encoded surrogates) throws [MQTT-1.5.4-1].
// ignoreBOM: a leading U+FEFF is kept, never stripped [MQTT-1.5.4-3].
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** utf8Length result for a string holding a lone surrogate [MQTT-1.5.4-1]. */
export const LONE_SURROGATE = -1;
/** utf8Length result for a string holding U+0000 [MQTT-1.5.4-2]. */
export const NUL_CHAR = -2;

/**
 * The UTF-8 byte length of `s`, or {@link LONE_SURROGATE} / {@link NUL_CHAR}
 * when MQTT forbids the string.
 */
export function utf8Length(s: string): number {
  const len = s.length;
  let n = len;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0) return NUL_CHAR;
    } else if (c < 0x800) {
      n += 1;
    } else if (c < 0xd800 || c > 0xdfff) {
      n += 2;
    } else {
      // A high surrogate must be followed by a low one; together they are 4 bytes.
      if (c > 0xdbff || i + 1 === len) return LONE_SURROGATE;
      const d = s.charCodeAt(i + 1);
      if (d < 0xdc00 || d > 0xdfff) return LONE_SURROGATE;
      i++;
      n += 2; // 2 UTF-16 units counted already, 4 bytes in all
    }
  }
  return n;
}

/**
 * Writes `s` (already validated by {@link utf8Length}) at `buf[pos]` and
 * returns the position after it. The caller guarantees room.
 */
export function writeUtf8(buf: Uint8Array, pos: number, s: string): number {
  const len = s.length;
  if (len > 64) return pos + textEncoder.encodeInto(s, buf.subarray(pos)).written;
  for (let i = 0; i < len; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[pos++] = c;
    } else if (c < 0x800) {
      buf[pos++] = 0xc0 | (c >> 6);
      buf[pos++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      buf[pos++] = 0xe0 | (c >> 12);
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
      buf[pos++] = 0x80 | (c & 0x3f);
    } else {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      buf[pos++] = 0xf0 | (c >> 18);
      buf[pos++] = 0x80 | ((c >> 12) & 0x3f);
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
      buf[pos++] = 0x80 | (c & 0x3f);
    }
  }
  return pos;
}

/**
 * Decodes `buf[start, end)` as an MQTT UTF-8 string, or returns `undefined`
 * when it is ill-formed UTF-8 [MQTT-1.5.4-1] or holds U+0000 [MQTT-1.5.4-2].
 */
export function readUtf8(buf: Uint8Array, start: number, end: number): string | undefined {
  if (end - start <= 32) {
    // Short ASCII fast path: no TextDecoder call, no subarray.
    let s = "";
    let i = start;
    for (; i < end; i++) {
      const c = buf[i];
      if (c >= 0x80) break;
      if (c === 0) return undefined;
      s += String.fromCharCode(c);
    }
    if (i === end) return s;
  }
  let s: string;
  try {
    s = textDecoder.decode(buf.subarray(start, end));
  } catch {
    return undefined;
  }
  return s.indexOf("\0") === -1 ? s : undefined;
}
