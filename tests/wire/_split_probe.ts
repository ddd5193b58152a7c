/**
 * Run in a process of its own by split_cases.ts, so that what it imports is
 * all that is loaded: the client's modules alone (which leave the server's
 * side of the codec, src/wire/_server.ts, out), the public wire entry alone,
 * or both in either order. Prints one JSON line: what the codec does with the
 * server-only packets, and how a client answers them from a broker.
 *
 *   deno run -A tests/wire/_split_probe.ts <mode>     (or: bun tests/wire/_split_probe.ts <mode>)
 *
 * Modes: "client", "wire", "client-then-wire", "wire-then-client".
 *
 * Runtime-neutral: no Deno.*, Bun.* or node:* APIs but process.argv.
 *
 * @module
 */

import process from "node:process";
import type { Connection, DialFunc } from "../../src/transport/types.ts";
import type { Packet } from "../../src/wire/types.ts";

/** What the probe prints. */
export interface ProbeReport {
  mode: string;
  /** Per server-only type sent through encodePacket: `"bytes:<hex>"` or `"TypeError:<message>"`. */
  encode: Record<string, string>;
  /** Per server-only type pushed through a PacketDecoder: the packet as JSON, or the error. */
  decode: Record<string, string>;
  /** Per packet a broker must not send (after CONNACK): how the client answered. */
  client?: Record<string, ClientAnswer>;
}

/** How the client answered one packet from the broker. */
export interface ClientAnswer {
  /** Reason code of the DISCONNECT the client wrote. */
  disconnect: number | null;
  /** The `disconnected` status event's error code, reason code and message. */
  code?: string;
  reasonCode?: number;
  message?: string;
}

/** Server-only packets to encode, by name. */
export const SERVER_PACKETS: Record<string, Packet> = {
  CONNACK: { type: 2, sessionPresent: true, reasonCode: 0, properties: { receiveMaximum: 10 } },
  SUBACK: { type: 9, packetId: 7, reasonCodes: [0, 1, 0x80] },
  UNSUBACK: { type: 11, packetId: 8, reasonCodes: [0, 0x11] },
};

/** Packets a broker must not send, as bytes (hand-encoded, §3.1, §3.8, §3.10, §3.12). */
export const CLIENT_ONLY_BYTES: Record<string, number[]> = {
  // CONNECT: "MQTT" level 5, flags 0x02 (clean start), keep alive 60, no properties, client id "x"
  CONNECT: [0x10, 14, 0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x02, 0, 60, 0, 0, 1, 0x78],
  // SUBSCRIBE: packet id 1, no properties, "a/b" at QoS 0
  SUBSCRIBE: [0x82, 9, 0, 1, 0, 0, 3, 0x61, 0x2f, 0x62, 0],
  // UNSUBSCRIBE: packet id 1, no properties, "a/b"
  UNSUBSCRIBE: [0xa2, 8, 0, 1, 0, 0, 3, 0x61, 0x2f, 0x62],
  // PINGREQ
  PINGREQ: [0xc0, 0],
};

const CONNACK_BYTES = [0x20, 3, 0, 0, 0];

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function described(err: unknown): string {
  return err instanceof Error ? `${err.name}:${err.message}` : String(err);
}

/** A connection the probe plays the broker on: CONNACK to the CONNECT, then what it is told. */
class ProbeConn implements Connection {
  #onData: ((chunk: Uint8Array) => void) | undefined;
  #onClose: ((error?: Error) => void) | undefined;
  #closed = false;
  #writes = 0;
  readonly written: Uint8Array[] = [];
  #waiter: (() => void) | undefined;

  start(onData: (chunk: Uint8Array) => void, onClose: (error?: Error) => void): void {
    this.#onData = onData;
    this.#onClose = onClose;
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("probe connection closed"));
    this.written.push(data.slice());
    if (this.#writes++ === 0) this.send(CONNACK_BYTES); // the CONNECT
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
    return Promise.resolve();
  }

  send(bytes: number[]): void {
    const chunk = new Uint8Array(bytes);
    queueMicrotask(() => {
      if (!this.#closed) this.#onData?.(chunk);
    });
  }

  /** Resolves on the next write. */
  nextWrite(): Promise<void> {
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
    queueMicrotask(() => this.#onClose?.());
  }
}

/** `p`, or undefined after `ms` (the timer is cleared either way). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function clientAnswers(): Promise<Record<string, ClientAnswer>> {
  const { Client } = await import("../../src/client/client.ts");
  const { PacketDecoder } = await import("../../src/wire/decode.ts");
  const out: Record<string, ClientAnswer> = {};
  for (const [name, bytes] of Object.entries(CLIENT_ONLY_BYTES)) {
    let conn: ProbeConn | undefined;
    const dial: DialFunc = () => Promise.resolve(conn = new ProbeConn());
    const client = new Client({
      broker: "mqtt://probe.test",
      dial,
      reconnectBackoff: () => 60_000,
    });
    const events = client.status();
    const disconnected = (async () => {
      for await (const e of events) if (e.type === "disconnected") return e;
      return undefined;
    })();
    await client.connect();
    const c = conn!;
    const before = c.written.length;
    c.send(bytes);
    let disconnect: number | null = null;
    for (let i = 0; i < 10 && disconnect === null; i++) {
      await within(c.nextWrite(), 200);
      for (const w of c.written.slice(before)) {
        for (const p of new PacketDecoder().push(w)) {
          if (p.type === 14) disconnect = p.reasonCode ?? 0;
        }
      }
    }
    const e = await within(disconnected, 2000) as
      | { error?: Error & { code?: string; reasonCode?: number } }
      | undefined;
    out[name] = {
      disconnect,
      code: e?.error?.code,
      reasonCode: e?.error?.reasonCode,
      message: e?.error?.message,
    };
    await client.disconnect();
  }
  return out;
}

async function codec(): Promise<Pick<ProbeReport, "encode" | "decode">> {
  const { encodePacket } = await import("../../src/wire/encode.ts");
  const { PacketDecoder } = await import("../../src/wire/decode.ts");
  const encode: Record<string, string> = {};
  for (const [name, p] of Object.entries(SERVER_PACKETS)) {
    try {
      encode[name] = `bytes:${hex(encodePacket(p))}`;
    } catch (err) {
      encode[name] = described(err);
    }
  }
  const decode: Record<string, string> = {};
  for (const [name, bytes] of Object.entries(CLIENT_ONLY_BYTES)) {
    try {
      decode[name] = JSON.stringify(new PacketDecoder().push(new Uint8Array(bytes)));
    } catch (err) {
      decode[name] = described(err);
    }
  }
  return { encode, decode };
}

const mode = process.argv[2] ?? "";
const report: ProbeReport = { mode, encode: {}, decode: {} };
switch (mode) {
  case "client":
    report.client = await clientAnswers();
    Object.assign(report, await codec());
    break;
  case "wire":
    await import("../../src/wire/mod.ts");
    Object.assign(report, await codec());
    break;
  case "client-then-wire":
    await import("../../src/client/client.ts");
    await import("../../src/wire/mod.ts");
    report.client = await clientAnswers();
    Object.assign(report, await codec());
    break;
  case "wire-then-client":
    await import("../../src/wire/mod.ts");
    report.client = await clientAnswers();
    Object.assign(report, await codec());
    break;
  default:
    throw new TypeError(`unknown mode "${mode}"`);
}
console.log(JSON.stringify(report));
