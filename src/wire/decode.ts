/**
 * The MQTT v5 decoder: {@linkcode PacketDecoder}, a push parser that takes
 * chunks of any size and returns the packets they complete.
 *
 * The bodies of CONNECT, SUBSCRIBE and UNSUBSCRIBE (packets only a client
 * sends) are decoded by `_server.ts`, which the public entry (`mod.ts`)
 * registers. The client imports this module without it, so its bundle leaves
 * them out: such a packet then comes back bare, `{ type }` with its body
 * skipped, and the client refuses it as it refuses any packet a broker must
 * not send (DISCONNECT 0x82).
 *
 * @module
 */

import { MqttError } from "../errors.ts";
import { isValidReasonCode } from "./constants.ts";
import { topicNameShapeError } from "../topic/validate.ts";
import {
  byId,
  K_BIN,
  K_BOOL,
  K_BYTE,
  K_PAIR,
  K_STR,
  K_U16,
  K_U32,
  K_VARINT,
  K_VARINT_LIST,
  PACKET_NAMES,
} from "./_properties.ts";
import { readUtf8 } from "./_utf8.ts";
import type { Packet, PacketType, QoS } from "./types.ts";

/**
 * Options of {@linkcode PacketDecoder}.
 *
 * @example Refuse large packets
 * ```ts
 * import { PacketDecoder, type PacketDecoderOptions } from "@mqttv5/client/wire";
 *
 * const options: PacketDecoderOptions = { maximumPacketSize: 64 * 1024 };
 * const decoder = new PacketDecoder(options);
 * ```
 */
export interface PacketDecoderOptions {
  /**
   * The largest packet accepted, in bytes, fixed header included. A fixed
   * header announcing more raises a protocol error with reason code 0x95
   * before the body is buffered.
   *
   * @default {268435460}
   */
  maximumPacketSize?: number;
}

const MALFORMED = 0x81;
const PROTOCOL = 0x82;
const TOO_LARGE = 0x95;
const TOPIC_ALIAS_INVALID = 0x94;
const MAX_PACKET = 268_435_460; // 5-byte fixed header + 268,435,455

const NO_PACKETS: Packet[] = [];
Object.freeze(NO_PACKETS);
const NO_PROPS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

function fail(reasonCode: number, message: string): never {
  throw new MqttError("protocol-error", message, { reasonCode });
}

// ---------------------------------------------------------------------------
// The body reader. Decoding is synchronous and never reentrant, so the cursor
// lives in module-level slots instead of an object per packet.

let rb: Uint8Array = new Uint8Array(0);
let rp = 0;
let re = 0;
let rType = 0;
/** The chunk whose `buffer` and `byteOffset` are cached below (see `view`). */
let rbViewed: Uint8Array | null = null;
let rbBuffer: ArrayBufferLike = rb.buffer;
let rbOffset = 0;

function truncated(): never {
  return fail(MALFORMED, `${PACKET_NAMES[rType]} is shorter than its fields (remaining length)`);
}

function u8(): number {
  if (rp >= re) truncated();
  return rb[rp++];
}

function u16(): number {
  if (rp + 2 > re) truncated();
  const v = (rb[rp] << 8) | rb[rp + 1];
  rp += 2;
  return v;
}

function u32(): number {
  if (rp + 4 > re) truncated();
  const v = rb[rp] * 0x1000000 + ((rb[rp + 1] << 16) | (rb[rp + 2] << 8) | rb[rp + 3]);
  rp += 4;
  return v;
}

function varint(): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    const byte = u8();
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) {
      // [MQTT-1.5.5-1] the minimum number of bytes.
      if (byte === 0 && i > 0) {
        fail(MALFORMED, "variable byte integer is not minimally encoded [MQTT-1.5.5-1]");
      }
      return v;
    }
    mul *= 0x80;
  }
  return fail(MALFORMED, "variable byte integer longer than 4 bytes [MQTT-1.5.5-1]");
}

function str(field: string): string {
  const n = u16();
  if (rp + n > re) truncated();
  const s = readUtf8(rb, rp, rp + n);
  if (s === undefined) {
    fail(
      MALFORMED,
      `${
        PACKET_NAMES[rType]
      } ${field} is not well-formed UTF-8 or holds U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2]`,
    );
  }
  rp += n;
  return s;
}

/**
 * A plain `Uint8Array` view of `n` bytes of the packet at `at`. The
 * constructor, not `subarray`: on a Bun `Buffer` chunk `subarray` builds a
 * `Buffer` through the species lookup, which cost ~0.8 µs per message there.
 */
function view(at: number, n: number): Uint8Array {
  if (rbViewed !== rb) {
    // `buffer` is slow on JavaScriptCore (it materializes the ArrayBuffer of a
    // fresh chunk): read it once per chunk, not once per packet.
    rbViewed = rb;
    rbBuffer = rb.buffer;
    rbOffset = rb.byteOffset;
  }
  return new Uint8Array(rbBuffer, rbOffset + at, n);
}

function bin(): Uint8Array {
  const n = u16();
  if (rp + n > re) truncated();
  const v = view(rp, n);
  rp += n;
  return v;
}

/**
 * Frozen `{ subscriptionIdentifiers: [id] }` objects by id (1..16383): a
 * broker puts exactly this on every PUBLISH matched by a subscription that
 * carries an identifier, so one object per id is shared instead of an object
 * and an array per message.
 */
const SUB_ID_ONLY: (Record<string, unknown> | undefined)[] = [];

function subIdOnly(id: number): Record<string, unknown> {
  return SUB_ID_ONLY[id] ??= Object.freeze({
    subscriptionIdentifiers: Object.freeze([id]),
  }) as Record<string, unknown>;
}

/** Reads a property set for packet `type` (WILL for will properties). */
function props(type: number): Record<string, unknown> {
  const len = varint();
  if (len === 0) return NO_PROPS;
  if (type === 3 && rb[rp] === 0x0b && rp + len <= re) {
    // Fast path: only a one- or two-byte Subscription Identifier, minimally encoded.
    const b1 = rb[rp + 1];
    if (len === 2 && b1 > 0 && b1 < 0x80) {
      rp += 2;
      return subIdOnly(b1);
    }
    const b2 = rb[rp + 2];
    if (len === 3 && b1 >= 0x80 && b2 > 0 && b2 < 0x80) {
      rp += 3;
      return subIdOnly((b1 & 0x7f) + b2 * 0x80);
    }
  }
  const end = rp + len;
  if (end > re) fail(MALFORMED, `${PACKET_NAMES[rType]} property length runs past the packet`);
  const outerEnd = re;
  re = end;
  const out: Record<string, unknown> = {};
  const bit = 1 << type;
  while (rp < end) {
    const id = rb[rp++];
    const d = byId(id, type);
    // §2.2.2.2: an identifier not valid for the packet type makes it malformed.
    if (d === undefined || (d.mask & bit) === 0) {
      fail(
        MALFORMED,
        `property 0x${id.toString(16)} is not valid in ${PACKET_NAMES[type]} (§2.2.2.2)`,
      );
    }
    const name = d.name;
    const kind = d.kind;
    if (kind !== K_PAIR && kind !== K_VARINT_LIST && out[name] !== undefined) {
      // Every property but user property (and a PUBLISH's subscription identifiers) appears at most once.
      fail(PROTOCOL, `property ${name} appears more than once in ${PACKET_NAMES[type]} (§2.2.2.2)`);
    }
    switch (kind) {
      case K_BYTE: {
        const v = u8();
        if (v > d.max) fail(PROTOCOL, `${name} must be 0 or 1, got ${v}`);
        out[name] = v;
        break;
      }
      case K_BOOL: {
        const v = u8();
        if (v > 1) fail(PROTOCOL, `${name} must be 0 or 1, got ${v}`);
        out[name] = v === 1;
        break;
      }
      case K_U16: {
        const v = u16();
        if (v < d.min) {
          // A topic alias of 0 is answered with 0x94 Topic Alias invalid (§3.3.2.3.4, [MQTT-3.3.2-8]).
          fail(d.id === 0x23 ? TOPIC_ALIAS_INVALID : PROTOCOL, `${name} must not be 0`);
        }
        out[name] = v;
        break;
      }
      case K_U32: {
        const v = u32();
        if (v < d.min) fail(PROTOCOL, `${name} must not be 0`);
        out[name] = v;
        break;
      }
      case K_VARINT: {
        const v = varint();
        if (v === 0) fail(PROTOCOL, `${name} must not be 0`);
        out[name] = v;
        break;
      }
      case K_VARINT_LIST: {
        const v = varint();
        if (v === 0) fail(PROTOCOL, `${name} must not be 0`);
        const list = out[name] as number[] | undefined;
        if (list === undefined) out[name] = [v];
        else list.push(v);
        break;
      }
      case K_STR: {
        const v = str(name);
        if (d.id === 0x08) {
          // [MQTT-3.3.2-14] a Response Topic is a topic name: not empty, no wildcards.
          const err = topicNameShapeError(v);
          if (err !== undefined) fail(PROTOCOL, `${name} "${v}": ${err} [MQTT-3.3.2-14]`);
        }
        out[name] = v;
        break;
      }
      case K_BIN:
        out[name] = bin();
        break;
      case K_PAIR: {
        const k = str(name);
        const v = str(name);
        const list = out[name] as [string, string][] | undefined;
        if (list === undefined) out[name] = [[k, v]];
        else list.push([k, v]);
        break;
      }
    }
  }
  re = outerEnd;
  return out;
}

/** Whether the packet being decoded has bytes left. */
function more(): boolean {
  return rp < re;
}

/**
 * Body decoders of the packet types only a client sends (CONNECT, SUBSCRIBE,
 * UNSUBSCRIBE), by type. `_server.ts` registers them and the public entry
 * (`mod.ts`) imports it; a client that imports this module alone leaves them
 * out of its bundle.
 */
const SERVER: ((() => Packet) | undefined)[] = [];

/** The body readers a server-side decoder reads with (see {@linkcode serverReader}). */
export interface BodyReader {
  u8(): number;
  u16(): number;
  str(field: string): string;
  bin(): Uint8Array;
  props(type: number): Record<string, unknown>;
  packetId(): number;
  /** Whether the packet has bytes left. */
  more(): boolean;
  fail(reasonCode: number, message: string): never;
}

/**
 * The body readers, for `_server.ts`. An object rather than exports of the
 * functions themselves: exported, they are module bindings V8 reads through a
 * cell, and the PUBLISH path measured 5-10% slower.
 *
 * @returns The readers.
 */
export function serverReader(): BodyReader {
  return { u8, u16, str, bin, props, packetId, more, fail };
}

/**
 * Registers the body decoder of packet type `type`: it reads the body with
 * {@linkcode serverReader} and returns the packet; the caller checks that
 * nothing is left over.
 *
 * @param type The packet type.
 * @param body Its body decoder.
 */
export function registerServerDecoder(type: number, body: () => Packet): void {
  SERVER[type] = body;
}

function packetId(): number {
  const id = u16();
  if (id === 0) {
    fail(PROTOCOL, `${PACKET_NAMES[rType]} packet identifier must not be 0 [MQTT-2.2.1-3]`);
  }
  return id;
}

function reasonCode(): number {
  const rc = u8();
  if (!isValidReasonCode(rType as PacketType, rc)) {
    fail(
      MALFORMED,
      `reason code 0x${rc.toString(16)} is not valid in ${PACKET_NAMES[rType]} (§2.4)`,
    );
  }
  return rc;
}

function done(): void {
  if (rp !== re) {
    fail(
      MALFORMED,
      `${PACKET_NAMES[rType]} has ${re - rp} bytes past its fields (remaining length)`,
    );
  }
}

// A small direct-mapped cache of recently decoded topic names. MQTT streams
// repeat a limited set of topics; a hit costs one pass over the bytes and no
// string allocation. Keys are copies, so cached entries never alias a chunk.
const TOPIC_CACHE_SIZE = 512;
const TOPIC_CACHE_MAX_LEN = 96;
const topicKeys: (Uint8Array | undefined)[] = new Array(TOPIC_CACHE_SIZE).fill(undefined);
const topicVals: string[] = new Array(TOPIC_CACHE_SIZE).fill("");

/** Reads a PUBLISH topic name: UTF-8 rules, no wildcards [MQTT-3.3.2-2]. */
function topicName(): string {
  const n = u16();
  const start = rp;
  const end = start + n;
  if (end > re) truncated();
  rp = end;
  if (n === 0) return "";
  const b = rb;
  let h = n;
  let ascii = true;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c >= 0x80) ascii = false;
    else if (c === 0x2b || c === 0x23) {
      fail(PROTOCOL, "PUBLISH topic name contains a wildcard [MQTT-3.3.2-2]");
    } else if (c === 0) fail(MALFORMED, "PUBLISH topic holds U+0000 [MQTT-1.5.4-2]");
    h = (Math.imul(h, 31) + c) | 0;
  }
  if (!ascii || n > TOPIC_CACHE_MAX_LEN) {
    const s = readUtf8(b, start, end);
    if (s === undefined) fail(MALFORMED, "PUBLISH topic is not well-formed UTF-8 [MQTT-1.5.4-1]");
    return s;
  }
  const slot = h & (TOPIC_CACHE_SIZE - 1);
  const key = topicKeys[slot];
  if (key !== undefined && key.length === n) {
    let i = 0;
    while (i < n && key[i] === b[start + i]) i++;
    if (i === n) return topicVals[slot];
  }
  const s = readUtf8(b, start, end) as string; // ASCII without U+0000: always valid
  topicKeys[slot] = b.slice(start, end);
  topicVals[slot] = s;
  return s;
}

function decodePublish(b0: number): Packet {
  const qos = (b0 >> 1) & 3;
  const topic = topicName();
  const id = qos > 0 ? packetId() : 0;
  const properties = props(3);
  if (topic.length === 0 && properties.topicAlias === undefined) {
    // A zero-length topic needs a topic alias to stand in for it (§3.3.2.3.4).
    fail(PROTOCOL, "PUBLISH has an empty topic and no topic alias");
  }
  const payload = view(rp, re - rp);
  rp = re;
  return {
    type: 3,
    topic,
    payload,
    qos: qos as QoS,
    retain: (b0 & 1) === 1,
    dup: (b0 & 8) === 8,
    packetId: id,
    properties,
  };
}

function decodeBody(b0: number, buf: Uint8Array, start: number, end: number): Packet {
  const type = b0 >> 4;
  rb = buf;
  rp = start;
  re = end;
  rType = type;
  let p: Packet;
  switch (type) {
    case 3:
      return decodePublish(b0);
    case 4:
    case 5:
    case 6:
    case 7: {
      const id = packetId();
      if (rp === re) return { type: type as 4, packetId: id, reasonCode: 0, properties: NO_PROPS };
      const rc = reasonCode();
      const properties = rp === re ? NO_PROPS : props(type);
      p = { type: type as 4, packetId: id, reasonCode: rc, properties };
      break;
    }
    case 2: {
      const flags = u8();
      if (flags & 0xfe) {
        fail(MALFORMED, "CONNACK acknowledge flags bits 7-1 must be 0 [MQTT-3.2.2-1]");
      }
      const rc = reasonCode();
      if (flags === 1 && rc !== 0) {
        fail(PROTOCOL, "CONNACK session present with a refusal [MQTT-3.2.2-6]");
      }
      const properties = props(2); // the property length is required (§3.2.2.3.1)
      p = { type: 2, sessionPresent: flags === 1, reasonCode: rc, properties };
      break;
    }
    case 9:
    case 11: {
      const id = packetId();
      const properties = props(type);
      const reasonCodes: number[] = [];
      while (rp < re) reasonCodes.push(reasonCode());
      if (reasonCodes.length === 0) {
        fail(PROTOCOL, `${PACKET_NAMES[type]} must hold at least one reason code`);
      }
      p = { type: type as 9, packetId: id, reasonCodes, properties };
      break;
    }
    case 12:
    case 13:
      p = { type: type as 12 };
      break;
    case 14:
    case 15: {
      if (rp === re) return { type: type as 14, reasonCode: 0, properties: NO_PROPS };
      const rc = reasonCode();
      // DISCONNECT may stop after the reason code (§3.14.2.2.1); AUTH may not (§3.15.2.1).
      const properties = rp === re && type === 14 ? NO_PROPS : props(type);
      p = { type: type as 14, reasonCode: rc, properties };
      break;
    }
    default: {
      // CONNECT, SUBSCRIBE, UNSUBSCRIBE: only a client sends them (_server.ts).
      const body = SERVER[type];
      if (body === undefined) {
        // Not registered (the client's codec): bare, see the module doc.
        rp = re;
        return { type } as Packet;
      }
      p = body();
    }
  }
  done();
  return p;
}

/** Checks the fixed header's first byte [MQTT-2.1.3-1]. */
function checkFirstByte(b0: number): void {
  const type = b0 >> 4;
  const flags = b0 & 0x0f;
  switch (type) {
    case 0:
      fail(MALFORMED, "packet type 0 is reserved (§2.1.2)");
      break;
    case 3:
      if ((flags & 0x06) === 0x06) fail(MALFORMED, "PUBLISH QoS must not be 3 [MQTT-3.3.1-4]");
      if ((flags & 0x0e) === 0x08) fail(MALFORMED, "PUBLISH DUP must be 0 at QoS 0 [MQTT-3.3.1-2]");
      break;
    case 6:
    case 8:
    case 10:
      if (flags !== 0x02) {
        fail(MALFORMED, `${PACKET_NAMES[type]} fixed header flags must be 0010 [MQTT-2.1.3-1]`);
      }
      break;
    default:
      if (flags !== 0) {
        fail(MALFORMED, `${PACKET_NAMES[type]} fixed header flags must be 0000 [MQTT-2.1.3-1]`);
      }
  }
}

/**
 * A push parser for MQTT v5 packets. Feed it chunks of any size, from one byte
 * to many packets; each {@linkcode PacketDecoder.push} returns the packets the
 * chunk completed. A PUBLISH payload that lies inside one chunk is a view into
 * that chunk (no copy); a packet that spans chunks is assembled with one copy.
 *
 * Every inbound packet is validated (fixed-header flags, lengths, UTF-8, which
 * properties each packet may carry, reason codes, packet identifiers, topic
 * names and filters). A violation throws an {@linkcode MqttError} with code
 * `"protocol-error"` and the reason code the specification names (0x81
 * Malformed Packet, 0x82 Protocol Error, 0x84 Unsupported Protocol Version,
 * 0x95 Packet Too Large); the decoder then stays failed. Memory held is
 * bounded by the maximum packet size.
 *
 * @example Decode packets from a stream of chunks
 * ```ts
 * import { encodePacket, PacketDecoder, PacketType } from "@mqttv5/client/wire";
 *
 * const bytes = encodePacket({ type: PacketType.Puback, packetId: 9 });
 * const decoder = new PacketDecoder({ maximumPacketSize: 1024 });
 * console.log(decoder.push(bytes.subarray(0, 1)).length); // 0
 * const [ack] = decoder.push(bytes.subarray(1));
 * console.log(ack.type === PacketType.Puback && ack.packetId); // 9
 * ```
 */
export class PacketDecoder {
  #max: number;
  /** Pending fixed-header bytes of a packet whose header spans chunks. */
  #header = new Uint8Array(5);
  #headerLen = 0;
  /** Body of a packet that spans chunks, and how much of it has arrived. */
  #body: Uint8Array | null = null;
  #bodyFill = 0;
  #bodyB0 = 0;
  #failed: MqttError | null = null;

  /**
   * Creates a decoder.
   *
   * @param options The maximum packet size.
   * @throws {RangeError} When `maximumPacketSize` is not an integer of at least 2.
   */
  constructor(options?: PacketDecoderOptions) {
    const max = options?.maximumPacketSize ?? MAX_PACKET;
    if (!Number.isInteger(max) || max < 2) {
      throw new RangeError(`maximumPacketSize must be an integer >= 2, got ${String(max)}`);
    }
    this.#max = max;
  }

  /** Bytes held for an incomplete packet. */
  get buffered(): number {
    return this.#headerLen + this.#bodyFill;
  }

  /** Drops any partial packet and clears a failure, for a new connection. */
  reset(): void {
    this.#headerLen = 0;
    this.#body = null;
    this.#bodyFill = 0;
    this.#failed = null;
  }

  /**
   * Feeds a chunk of bytes.
   *
   * @param chunk The next bytes of the stream.
   * @returns The packets this chunk completed, in order (often none).
   * @throws {MqttError} With code `"protocol-error"` when the stream breaks the
   * specification; later calls throw the same error until {@linkcode PacketDecoder.reset}.
   */
  push(chunk: Uint8Array): Packet[] {
    if (this.#failed !== null) throw this.#failed;
    try {
      return this.#push(chunk);
    } catch (err) {
      if (err instanceof MqttError) this.#failed = err;
      this.#body = null;
      this.#headerLen = 0;
      throw err;
    }
  }

  #push(chunk: Uint8Array): Packet[] {
    const n = chunk.length;
    let pos = 0;
    let out: Packet[] | undefined;

    // 1. A packet body that started in an earlier chunk.
    if (this.#body !== null) {
      const body = this.#body;
      const take = Math.min(body.length - this.#bodyFill, n);
      body.set(take === n ? chunk : chunk.subarray(0, take), this.#bodyFill);
      this.#bodyFill += take;
      pos = take;
      if (this.#bodyFill < body.length) return NO_PACKETS;
      this.#body = null;
      this.#bodyFill = 0;
      out = [decodeBody(this.#bodyB0, body, 0, body.length)];
    }

    // 2. A fixed header that started in an earlier chunk.
    if (this.#headerLen > 0) {
      const h = this.#header;
      let complete = false;
      while (pos < n) {
        const byte = chunk[pos++];
        h[this.#headerLen++] = byte;
        if (byte < 0x80) {
          complete = true;
          break;
        } else if (this.#headerLen === 5) {
          fail(MALFORMED, "remaining length longer than 4 bytes [MQTT-1.5.5-1]");
        }
      }
      if (!complete) return out ?? NO_PACKETS;
      const hl = this.#headerLen;
      this.#headerLen = 0;
      let rl = 0;
      let mul = 1;
      for (let i = 1; i < hl; i++) {
        rl += (h[i] & 0x7f) * mul;
        mul *= 0x80;
      }
      if (hl > 2 && h[hl - 1] === 0) {
        fail(MALFORMED, "remaining length is not minimally encoded [MQTT-1.5.5-1]");
      }
      pos = this.#start(h[0], rl, hl, chunk, pos, out ??= []);
    }

    // 3. Whole packets and the start of the next one.
    while (pos < n) {
      const b0 = chunk[pos];
      checkFirstByte(b0);
      let i = pos + 1;
      let rl = 0;
      let mul = 1;
      let complete = false;
      for (let k = 0; k < 4 && i < n; k++) {
        const byte = chunk[i++];
        rl += (byte & 0x7f) * mul;
        if (byte < 0x80) {
          if (byte === 0 && k > 0) {
            fail(MALFORMED, "remaining length is not minimally encoded [MQTT-1.5.5-1]");
          }
          complete = true;
          break;
        }
        mul *= 0x80;
      }
      if (!complete) {
        if (i - pos === 5) fail(MALFORMED, "remaining length longer than 4 bytes [MQTT-1.5.5-1]");
        this.#header.set(chunk.subarray(pos, n));
        this.#headerLen = n - pos;
        break;
      }
      pos = this.#start(b0, rl, i - pos, chunk, i, out ??= []);
    }
    return out ?? NO_PACKETS;
  }

  /** Starts the packet whose fixed header ends at `pos` (read in this chunk or assembled). */
  #start(
    b0: number,
    rl: number,
    headerLen: number,
    chunk: Uint8Array,
    pos: number,
    out: Packet[],
  ): number {
    const total = headerLen + rl;
    if (total > this.#max) {
      fail(TOO_LARGE, `packet of ${total} bytes exceeds the maximum packet size ${this.#max}`);
    }
    const n = chunk.length;
    if (n - pos >= rl) {
      out.push(decodeBody(b0, chunk, pos, pos + rl));
      return pos + rl;
    }
    const body = new Uint8Array(rl);
    body.set(chunk.subarray(pos));
    this.#body = body;
    this.#bodyFill = n - pos;
    this.#bodyB0 = b0;
    return n;
  }
}
