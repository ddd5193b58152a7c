/**
 * The records of a `FilePublisherQueue` segment: how an entry and a batch of
 * acks are encoded into the shared record log (`../store/_log.ts`), and how a
 * segment file is read back. See `file.ts` for the format. Internal: not
 * exported from any entry point.
 *
 * @module
 */

import { copyPublishProperties, type PublishOptions, publishPacket } from "../session/publish.ts";
import { FRAME_HEAD, getU32, type LogScan, putU32, scanRecords, sealFrame } from "../store/_log.ts";
import { encodePacketInto, PacketDecoder, packetLength } from "../wire/mod.ts";
import type { PublishPacket } from "../wire/mod.ts";
import { entryError } from "./_entry.ts";
import type { QueueEntry } from "./types.ts";

/** The first 8 bytes of a segment: "MQ5QSEG" and format version 1. */
export const MAGIC = new Uint8Array([0x4d, 0x51, 0x35, 0x51, 0x53, 0x45, 0x47, 0x01]);
const OP_ENQUEUE = 1;
const OP_ACK = 2;
/** op + seq + enqueuedAt + id length. */
const ENQ_FIXED = 1 + 8 + 8 + 1;
/** Largest body: the fixed part, a 255-byte id, the largest MQTT packet. */
const MAX_BODY = ENQ_FIXED + 255 + 268_435_460;
/** A segment's file name; the number is the sequence of its first entry. */
export const SEGMENT_RE = /^seg-(\d{16})\.log$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const NO_ID = new Uint8Array(0);

/** The file name of the segment whose first entry is `firstSeq`. */
export function segmentName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, "0")}.log`;
}

function putSeq(b: Uint8Array, at: number, seq: number): void {
  putU32(b, at, seq >>> 0);
  putU32(b, at + 4, Math.floor(seq / 0x1_0000_0000));
}

function getSeq(b: Uint8Array, at: number): number {
  return getU32(b, at) + getU32(b, at + 4) * 0x1_0000_0000;
}

/** The message of a PUBLISH as a queue entry holds it (no empty properties, no false retain). */
function publishOf(p: PublishPacket): PublishOptions {
  const publish: PublishOptions = { topic: p.topic, payload: p.payload, qos: p.qos };
  if (p.retain) publish.retain = true;
  if (p.properties !== undefined && Object.keys(p.properties).length > 0) {
    publish.properties = p.properties;
  }
  return publish;
}

/**
 * Encodes an enqueue record; returns it with the entry as the queue keeps it
 * in memory (its payload a view of the record, its properties a copy).
 */
export function enqueueFrame(
  seq: number,
  entry: QueueEntry,
): { frame: Uint8Array; kept: QueueEntry } {
  const bad = entryError(entry);
  if (bad !== undefined) throw bad;
  if (entry.id !== undefined && typeof entry.id !== "string") {
    throw new TypeError("Cannot enqueue: entry.id must be a string");
  }
  const id = entry.id === undefined ? NO_ID : encoder.encode(entry.id);
  if (id.length > 255) {
    throw new RangeError(`Cannot enqueue: entry.id takes ${id.length} bytes, at most 255 fit`);
  }
  const packet = publishPacket(entry.publish, "Cannot enqueue: entry.publish");
  if (packet.properties !== undefined) {
    packet.properties = copyPublishProperties(packet.properties);
  }
  if (packet.qos > 0) packet.packetId = 1;
  const head = FRAME_HEAD + ENQ_FIXED + id.length;
  const frame = new Uint8Array(head + packetLength(packet));
  frame[FRAME_HEAD] = OP_ENQUEUE;
  putSeq(frame, FRAME_HEAD + 1, seq);
  new DataView(frame.buffer).setFloat64(FRAME_HEAD + 9, entry.enqueuedAt, true);
  frame[FRAME_HEAD + 17] = id.length;
  frame.set(id, FRAME_HEAD + ENQ_FIXED);
  encodePacketInto(packet, frame, head);
  sealFrame(frame);
  packet.payload = frame.subarray(frame.length - packet.payload.length);
  const kept: QueueEntry = { publish: publishOf(packet), enqueuedAt: entry.enqueuedAt };
  if (entry.id !== undefined) kept.id = entry.id;
  return { frame, kept };
}

/** Encodes the ack record of the entries `seqs` (all in one segment). */
export function ackFrame(seqs: number[]): Uint8Array {
  const frame = new Uint8Array(FRAME_HEAD + 5 + 8 * seqs.length);
  frame[FRAME_HEAD] = OP_ACK;
  putU32(frame, FRAME_HEAD + 1, seqs.length);
  let at = FRAME_HEAD + 5;
  for (const s of seqs) {
    putSeq(frame, at, s);
    at += 8;
  }
  return sealFrame(frame);
}

/** A segment as read from disk. */
export interface SegmentScan extends LogScan {
  /** Live entries (enqueued, not acknowledged) in order; values only when decoded entries were asked for. */
  live: Map<number, QueueEntry | null>;
  /** Enqueue records in the segment. */
  total: number;
  /** The highest sequence number seen. */
  maxSeq: number;
}

/** Reads a segment's records (after the header); stops at the first bad one. */
export function scanSegment(bytes: Uint8Array, firstSeq: number, keep: boolean): SegmentScan {
  const live = new Map<number, QueueEntry | null>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pd = new PacketDecoder();
  let total = 0;
  let maxSeq = firstSeq - 1;
  const { end, bad } = scanRecords(bytes, MAGIC.length, 5, MAX_BODY, (body, at) => {
    const len = body.length;
    const op = body[0];
    if (op === OP_ENQUEUE && len > ENQ_FIXED) {
      const seq = getSeq(body, 1);
      const idLen = body[17];
      if (seq <= maxSeq || !Number.isSafeInteger(seq) || ENQ_FIXED + idLen >= len) {
        return { reason: `malformed enqueue record (sequence ${seq})`, middle: true };
      }
      const entry = decodeEntry(pd, body, idLen, view.getFloat64(at + FRAME_HEAD + 9, true));
      if (entry === undefined) {
        return { reason: `undecodable message in the record of sequence ${seq}`, middle: true };
      }
      live.set(seq, keep ? entry : null);
      total++;
      maxSeq = seq;
      return undefined;
    }
    if (op === OP_ACK && len === 5 + 8 * getU32(body, 1)) {
      const count = getU32(body, 1);
      for (let i = 0; i < count; i++) live.delete(getSeq(body, 5 + 8 * i));
      return undefined;
    }
    return { reason: `malformed record (type ${op}, ${len} bytes)`, middle: true };
  });
  return { end, bad, live, total, maxSeq };
}

/** The entry of an enqueue record's body, or `undefined` when it does not decode. */
function decodeEntry(
  pd: PacketDecoder,
  body: Uint8Array,
  idLen: number,
  enqueuedAt: number,
): QueueEntry | undefined {
  try {
    const id = idLen === 0
      ? undefined
      : decoder.decode(body.subarray(ENQ_FIXED, ENQ_FIXED + idLen));
    const packets = pd.push(body.subarray(ENQ_FIXED + idLen));
    const p = packets[0];
    if (packets.length !== 1 || pd.buffered !== 0 || p.type !== 3) return undefined;
    const entry: QueueEntry = { publish: publishOf(p), enqueuedAt };
    if (id !== undefined) entry.id = id;
    return entry;
  } catch {
    return undefined;
  }
}
