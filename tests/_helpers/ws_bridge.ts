// A WebSocket-to-TCP bridge in front of a real broker, for testing wsDial():
// MQTT over WebSocket (MQTT §6) terminated here and relayed as a plain byte
// stream to mosquitto (whose Debian build has no WebSocket listener).
//
//   await using broker = await startBroker();
//   await using bridge = await startWsBridge(broker.url);                 // ws://127.0.0.1:<port>/mqtt
//   await using tls = await startWsBridge(broker.url, { tls: certs.server }); // wss://localhost:<port>/mqtt
//   const client = new Client({ broker: bridge.url, dial: wsDial() });
//   // a restart: dispose it, then listen on its port again (its clients reconnect there)
//   await bridge[Symbol.asyncDispose]();
//   const again = await startWsBridge(broker.url, { port: bridge.port });
//
// Runtime-neutral: node:net / node:tls and a minimal RFC 6455 server written
// here (handshake, frame parsing with unmasking, ping/pong, close), so one
// bridge serves `deno test` (sanitizers on: dispose waits for every socket and
// the listener) and `bun test`. What it checks of the client, and records for
// the tests: the subprotocol offered (default required: `mqtt`, answered in
// Sec-WebSocket-Protocol), the handshake headers, that every client frame is
// masked [RFC 6455 §5.1] and binary [MQTT-6.0.0-1] (a text frame is answered
// with close code 1003 and counted). Broker -> client bytes can be cut into
// small WebSocket messages (`maxMessageSize`) so that MQTT packets span
// messages, which the client must reassemble [MQTT-6.0.0-2].

import { createHash } from "node:crypto";
import { connect as netConnect, createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";

const HOST = "127.0.0.1";
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_HEADER = 16 * 1024;

/** Options of {@linkcode startWsBridge}. */
export interface WsBridgeOptions {
  /** Serve `wss://` with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** The subprotocol the client must offer; `null` accepts any (and answers none). @default {"mqtt"} */
  protocol?: string | null;
  /** Cut broker -> client bytes into WebSocket messages of at most this many bytes. @default {unlimited} */
  maxMessageSize?: number;
  /**
   * Listen on this port, e.g. the port of a bridge disposed a moment ago, to
   * "restart" it where its clients reconnect. @default {0 (a free port)}
   */
  port?: number;
}

/** One accepted WebSocket handshake. */
export interface Handshake {
  /** The request target, e.g. `/mqtt`. */
  path: string;
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
  /** The subprotocols the client offered, in order. */
  protocols: string[];
}

/** Counters of the frames the bridge received from clients. */
export interface FrameCounts {
  binary: number;
  text: number;
  continuation: number;
  ping: number;
  pong: number;
  close: number;
  /** Frames that arrived without a mask (a protocol error; the connection is failed). */
  unmasked: number;
}

/** A running bridge, from {@linkcode startWsBridge}. */
export interface WsBridge extends AsyncDisposable {
  /** `ws://127.0.0.1:<port>/mqtt`, or `wss://localhost:<port>/mqtt` with `tls`. */
  readonly url: string;
  readonly port: number;
  /** Handshakes accepted so far. */
  readonly handshakes: Handshake[];
  /** Handshakes refused (bad request or subprotocol missing). */
  readonly refused: number;
  /** Frames received from clients, by kind. */
  readonly frames: FrameCounts;
  /** Close codes the clients sent, in order. */
  readonly closeCodes: number[];
  /** Bytes relayed client -> broker. */
  readonly bytesToBroker: number;
  /** Connections open right now. */
  readonly open: number;
  /** Destroys every connection (both sides, no close handshake). */
  cutAll(): void;
  /** Sends a text message to every client (which MQTT forbids [MQTT-6.0.0-1]). */
  sendText(text: string): void;
  /** Stops reading from clients (open and future connections) until {@linkcode WsBridge.resume}. */
  pause(): void;
  /** Reads from clients again. */
  resume(): void;
}

interface Conn {
  client: Socket;
  upstream: Socket | undefined;
}

function parseTarget(target: string): { host: string; port: number } {
  const u = new URL(target);
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  return { host, port: Number(u.port === "" ? 1883 : u.port) };
}

/** A server frame (never masked) with `payload`. */
function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = new Uint8Array(head + n);
  out[0] = 0x80 | opcode;
  if (n < 126) {
    out[1] = n;
  } else if (n < 65536) {
    out[1] = 126;
    out[2] = n >> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 127;
    const view = new DataView(out.buffer);
    view.setUint32(2, Math.floor(n / 2 ** 32));
    view.setUint32(6, n >>> 0);
  }
  out.set(payload, head);
  return out;
}

function closeFrame(code: number): Uint8Array {
  return frame(0x8, new Uint8Array([code >> 8, code & 0xff]));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

class Bridge implements WsBridge {
  readonly url: string;
  readonly port: number;
  readonly handshakes: Handshake[] = [];
  refused = 0;
  readonly frames: FrameCounts = {
    binary: 0,
    text: 0,
    continuation: 0,
    ping: 0,
    pong: 0,
    close: 0,
    unmasked: 0,
  };
  readonly closeCodes: number[] = [];
  bytesToBroker = 0;

  #server: Server;
  #target: { host: string; port: number };
  #options: WsBridgeOptions;
  #conns = new Set<Conn>();
  #sockets = new Set<Socket>();
  #closing = new Set<Promise<void>>();
  #disposed = false;

  constructor(
    server: Server,
    port: number,
    target: { host: string; port: number },
    options: WsBridgeOptions,
  ) {
    this.#server = server;
    this.port = port;
    this.#target = target;
    this.#options = options;
    this.url = options.tls ? `wss://localhost:${port}/mqtt` : `ws://${HOST}:${port}/mqtt`;
    server.on(options.tls ? "secureConnection" : "connection", (s: Socket) => this.#accept(s));
    // A failed TLS handshake (an untrusting client) is not the bridge's problem.
    server.on("tlsClientError", () => {});
  }

  get open(): number {
    return this.#conns.size;
  }

  cutAll(): void {
    for (const c of [...this.#conns]) {
      this.#conns.delete(c);
      c.client.destroy();
      c.upstream?.destroy();
    }
  }

  #paused = false;

  pause(): void {
    this.#paused = true;
    for (const c of this.#conns) c.client.pause();
  }

  resume(): void {
    this.#paused = false;
    for (const c of this.#conns) c.client.resume();
  }

  sendText(text: string): void {
    const f = frame(0x1, new TextEncoder().encode(text));
    for (const c of this.#conns) c.client.write(f);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const serverClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#conns.clear();
    for (const s of [...this.#sockets]) s.destroy();
    await serverClosed;
    while (this.#closing.size > 0) await Promise.all([...this.#closing]);
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    const closed = new Promise<void>((resolve) => {
      socket.once("close", () => {
        this.#sockets.delete(socket);
        resolve();
      });
    });
    this.#closing.add(closed);
    closed.then(() => this.#closing.delete(closed));
  }

  #accept(client: Socket): void {
    this.#track(client);
    client.on("error", () => client.destroy());
    if (this.#disposed) {
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    let head: Uint8Array = new Uint8Array(0);
    const onHead = (data: Uint8Array) => {
      head = concat(head, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      const end = indexOfCrlfCrlf(head);
      if (end < 0) {
        if (head.length > MAX_HEADER) this.#refuse(client, 431, "Request Header Fields Too Large");
        return;
      }
      client.off("data", onHead);
      this.#handshake(client, new TextDecoder().decode(head.subarray(0, end)), head.slice(end + 4));
    };
    client.on("data", onHead);
  }

  #refuse(client: Socket, status: number, text: string): void {
    this.refused++;
    client.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  #handshake(client: Socket, head: string, rest: Uint8Array): void {
    const lines = head.split("\r\n");
    const [method, path] = lines[0].split(" ");
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      if (i <= 0) continue;
      const name = line.slice(0, i).trim().toLowerCase();
      const value = line.slice(i + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    const key = headers["sec-websocket-key"];
    if (
      method !== "GET" || headers["upgrade"]?.toLowerCase() !== "websocket" ||
      key === undefined || headers["sec-websocket-version"] !== "13"
    ) {
      return this.#refuse(client, 400, "Bad Request");
    }
    const protocols = (headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim())
      .filter((p) => p !== "");
    const wanted = this.#options.protocol === undefined ? "mqtt" : this.#options.protocol;
    if (wanted !== null && !protocols.includes(wanted)) {
      return this.#refuse(client, 400, "Bad Request");
    }
    this.handshakes.push({ path, headers, protocols });
    const accept = createHash("sha1").update(key + WS_GUID).digest("base64");
    client.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n` +
        (wanted !== null ? `Sec-WebSocket-Protocol: ${wanted}\r\n` : "") + "\r\n",
    );
    const upstream = netConnect({ host: this.#target.host, port: this.#target.port });
    this.#track(upstream);
    upstream.setNoDelay(true);
    const conn: Conn = { client, upstream };
    this.#conns.add(conn);
    const teardown = () => {
      this.#conns.delete(conn);
      client.destroy();
      upstream.destroy();
    };
    upstream.on("error", teardown);
    client.on("error", teardown);
    client.on("close", () => {
      this.#conns.delete(conn);
      upstream.destroy();
    });
    upstream.on("close", () => {
      this.#conns.delete(conn);
      // The broker hung up: an orderly WebSocket close, then the TCP end.
      if (!client.destroyed && client.writable) client.end(closeFrame(1000));
    });
    const max = this.#options.maxMessageSize ?? Infinity;
    upstream.on("data", (data: Uint8Array) => {
      if (client.destroyed) return;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      let ok = true;
      for (let i = 0; i < bytes.length; i += max) {
        ok = client.write(frame(0x2, bytes.subarray(i, Math.min(bytes.length, i + max)))) && ok;
      }
      if (!ok) {
        upstream.pause();
        client.once("drain", () => upstream.resume());
      }
    });
    const parser = new FrameParser((opcode, masked, payload) => {
      if (!masked) {
        this.frames.unmasked++;
        client.end(closeFrame(1002));
        upstream.destroy();
        return false;
      }
      switch (opcode) {
        case 0x0:
        case 0x2: {
          if (opcode === 0) this.frames.continuation++;
          else this.frames.binary++;
          this.bytesToBroker += payload.length;
          if (!upstream.destroyed && !upstream.write(payload)) {
            client.pause();
            upstream.once("drain", () => {
              if (!this.#paused) client.resume();
            });
          }
          return true;
        }
        case 0x1:
          // [MQTT-6.0.0-1] MQTT travels in binary frames only.
          this.frames.text++;
          client.end(closeFrame(1003));
          upstream.destroy();
          return false;
        case 0x8: {
          this.frames.close++;
          const code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
          this.closeCodes.push(code);
          client.end(closeFrame(code === 1005 ? 1000 : code));
          upstream.end();
          return false;
        }
        case 0x9:
          this.frames.ping++;
          client.write(frame(0xa, payload));
          return true;
        case 0xa:
          this.frames.pong++;
          return true;
        default:
          client.end(closeFrame(1002));
          upstream.destroy();
          return false;
      }
    });
    client.on("data", (data: Uint8Array) => {
      parser.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    });
    if (rest.length > 0) parser.push(rest);
    if (this.#paused) client.pause();
  }
}

function indexOfCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

/**
 * Parses client frames [RFC 6455 §5.2]; `onFrame` returns false to stop
 * (the connection is being closed).
 */
class FrameParser {
  #buf: Uint8Array = new Uint8Array(0);
  #stopped = false;
  #onFrame: (opcode: number, masked: boolean, payload: Uint8Array) => boolean;

  constructor(onFrame: (opcode: number, masked: boolean, payload: Uint8Array) => boolean) {
    this.#onFrame = onFrame;
  }

  push(chunk: Uint8Array): void {
    if (this.#stopped) return;
    let b = concat(this.#buf, chunk);
    while (b.length >= 2) {
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = (b[2] << 8) | b[3];
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
        len = view.getUint32(2) * 2 ** 32 + view.getUint32(6);
        off = 10;
      }
      const maskOff = off;
      if (masked) off += 4;
      if (b.length < off + len) break;
      const payload = b.slice(off, off + len);
      if (masked) {
        for (let i = 0; i < len; i++) payload[i] ^= b[maskOff + (i & 3)];
      }
      b = b.subarray(off + len);
      if (!this.#onFrame(opcode, masked, payload)) {
        this.#stopped = true;
        this.#buf = new Uint8Array(0);
        return;
      }
    }
    this.#buf = b.slice();
  }
}

/**
 * Starts a WebSocket bridge on a free loopback port relaying to `target`.
 *
 * @param target The broker: an `mqtt://host:port` URL.
 * @param options TLS, the subprotocol to require, message splitting, the port.
 * @returns The listening bridge; dispose it (`await using`) to close everything.
 */
export async function startWsBridge(
  target: string,
  options: WsBridgeOptions = {},
): Promise<WsBridge> {
  const server: Server = options.tls
    ? createTlsServer({ cert: options.tls.cert, key: options.tls.key })
    : createServer();
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, HOST, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    });
  });
  return new Bridge(server, port, parseTarget(target), options);
}
