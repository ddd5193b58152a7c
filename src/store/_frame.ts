// The record framing shared by the file-backed session store and publisher queue:
// [u32 length, little endian][u32 CRC32C of the body][body].

import { crc32c } from "./crc32c.ts";

/** Bytes before a record's body: its length and its CRC32C. */
export const FRAME_HEAD = 8;

/** Writes `v` as a little-endian u32 at `b[at]`. */
export function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

/** Reads a little-endian u32 at `b[at]`. */
export function getU32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

/** Fills in the length and CRC of a frame whose body (after FRAME_HEAD) is written. */
export function sealFrame(frame: Uint8Array): Uint8Array {
  putU32(frame, 0, frame.length - FRAME_HEAD);
  putU32(frame, 4, crc32c(frame.subarray(FRAME_HEAD)));
  return frame;
}

/** Why a log stops being readable at some offset; `middle`: more bytes follow the damage. */
export interface BadRecord {
  reason: string;
  middle: boolean;
}

/** The record at `pos` (its body and where the next one starts), or why there is none. */
export type FrameRead =
  | { body: Uint8Array; end: number; bad?: undefined }
  | { body?: undefined; end?: undefined; bad: BadRecord };

/**
 * Reads the framed record at `bytes[pos]`. A torn header, a truncated body or
 * a bad CRC on the last record are torn writes (`middle: false`); an
 * impossible length, a bad CRC with bytes after it, or a length running past
 * the end with whole valid records after it is damage in the middle.
 */
export function readFrame(
  bytes: Uint8Array,
  pos: number,
  minLen: number,
  maxBody: number,
): FrameRead {
  const n = bytes.length;
  if (n - pos < FRAME_HEAD) {
    return { bad: { reason: `torn record header (${n - pos} bytes)`, middle: false } };
  }
  const len = getU32(bytes, pos);
  const end = pos + FRAME_HEAD + len;
  if (len < minLen || len > maxBody) {
    return { bad: { reason: `impossible record length ${len}`, middle: true } };
  }
  if (end > n) {
    const present = n - pos - FRAME_HEAD;
    // A torn write leaves the file ending inside its last record. A whole, valid
    // record further on means the length itself was damaged in the middle.
    if (validFrameAfter(bytes, pos + 1, minLen, maxBody)) {
      return {
        bad: {
          reason: `record length ${len} runs past the end of the log, yet whole records follow`,
          middle: true,
        },
      };
    }
    return {
      bad: {
        reason: `truncated record: ${len} bytes announced, ${present} present`,
        middle: false,
      },
    };
  }
  const body = bytes.subarray(pos + FRAME_HEAD, end);
  if (crc32c(body) !== getU32(bytes, pos + 4)) {
    return {
      bad: end === n ? { reason: "bad CRC in the last record (torn write)", middle: false } : {
        reason: `bad CRC in a record followed by ${n - end} more bytes; reading stopped there`,
        middle: true,
      },
    };
  }
  return { body, end };
}

/** Whether a whole record with a matching CRC starts anywhere in `bytes[from..]`. */
function validFrameAfter(
  bytes: Uint8Array,
  from: number,
  minLen: number,
  maxBody: number,
): boolean {
  const n = bytes.length;
  for (let q = from; q + FRAME_HEAD <= n; q++) {
    const len = getU32(bytes, q);
    if (len < minLen || len > maxBody || q + FRAME_HEAD + len > n) continue;
    if (crc32c(bytes.subarray(q + FRAME_HEAD, q + FRAME_HEAD + len)) === getU32(bytes, q + 4)) {
      return true;
    }
  }
  return false;
}
