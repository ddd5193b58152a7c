// Runtime-neutral cases for a DialFunc, run against a real mosquitto (and, for
// ALPN and aborts, small node:net / node:tls servers on loopback). The runners
// are tests/transport/deno_test.ts (denoDial), tests/transport/node_test.ts
// (nodeDial under Deno) and bun-tests/transport.test.ts (bunDial and nodeDial
// under Bun). UNIX_CASES, for `unix:///path/to/socket` URLs, have runners of
// their own: tests/transport/unix_test.ts, bun-tests/transport_unix.test.ts
// and node-tests/transport_unix.test.mjs.
//
// Every connection goes through `open()`, whose recorder checks the contract on
// the way: each chunk is copied when it is delivered and compared with the
// chunk itself at the end (chunks must never be written to after delivery),
// onClose must come once, and onData never after it.
//
// Failures are checked by `code` and `cause` (and that no message holds
// credentials), never by message text. Not by `instanceof MqttError` either:
// under Node these cases are bundled apart from the adapter (dist/node-tests
// vs dist/node), each with its own MqttError class.

import assert from "node:assert/strict";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import {
  createServer as createTlsServer,
  type Server as TlsServer,
  type TLSSocket,
} from "node:tls";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "../../mod.ts";
import { encodePacket, type Packet, PacketDecoder, PacketType } from "../../src/wire/mod.ts";
import type { Connection, DialFunc, DialOptions } from "../../src/transport/types.ts";
import {
  type Broker,
  type BrokerOptions,
  freePort,
  startBroker,
  unixUrlOf,
} from "../_helpers/broker.ts";
import { makeCerts } from "../_helpers/certs.ts";

/** Known, documented limits of a runtime that some cases allow for. */
export interface Quirks {
  /**
   * A TLS dial aborted during the handshake rejects promptly, but the runtime
   * keeps the TCP socket until the peer answers or closes. Deno: a TlsConn
   * closed mid-handshake lingers until the handshake completes
   * (rustls-tokio-stream's close task; denoland/deno#14547).
   */
  abortedTlsHandshakeLingers?: boolean;
  /**
   * A paused TLS connection holds back onData, but the runtime keeps reading
   * from the socket (buffering in memory), so the sender does not back up.
   * Deno's node:tls client (nodeDial under Deno 2.9): measured, 16 MiB taken
   * while paused; its node:net sockets do stop reading.
   */
  pausedTlsStillReads?: boolean;
}

/** What a case gets to work with. */
export interface CaseContext {
  /** The DialFunc under test. */
  dial: DialFunc;
  /** What the runtime cannot do. */
  quirks: Quirks;
  /** The broker the case asked for (`TransportCase.broker`). */
  broker: Broker;
  /**
   * The Client class to drive `dial` with: the one of the same build as the
   * adapter, so that both share one MqttError class (under Node the adapter
   * comes from dist/node/ and these cases from dist/node-tests/).
   */
  Client: typeof Client;
}

/** One behaviour of a DialFunc. */
export interface TransportCase {
  /** Test name, without the adapter's name. */
  name: string;
  /** The broker to start for the case; `false` for none. */
  broker: BrokerOptions | false;
  run(ctx: CaseContext): Promise<void>;
}

// ---------------------------------------------------------------------------
// Tools

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Listens on a free loopback port; returns the port. */
async function listenLoopback(server: Server | TlsServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}

/** Rejects when `promise` takes longer than `ms`, so that a case fails instead of hanging. */
export async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the rejection of `promise`; fails when it resolves. */
async function rejection(promise: Promise<unknown>, ms: number, what: string): Promise<unknown> {
  const outcome = await within(
    ms,
    promise.then(
      (value) => ({ ok: true as const, value }),
      (error) => ({ ok: false as const, error }),
    ),
    what,
  );
  if (outcome.ok) {
    if (isConnection(outcome.value)) outcome.value.close();
    assert.fail(`${what}: expected a rejection, got a value`);
  }
  return outcome.error;
}

function isConnection(value: unknown): value is Connection {
  return typeof value === "object" && value !== null && "close" in value && "write" in value;
}

/** An open connection whose inbound bytes are recorded, checked and decoded. */
export class Recorder {
  readonly conn: Connection;
  readonly chunks: Uint8Array[] = [];
  readonly copies: Uint8Array[] = [];
  readonly packets: Packet[] = [];
  readonly #decoder = new PacketDecoder();
  closeCalls = 0;
  closeError: Error | undefined;
  dataAfterClose = 0;
  readonly closed: Promise<Error | undefined>;
  #waiters: { type: number; resolve: (p: Packet) => void }[] = [];
  #taken = 0;
  #decodeError: unknown;

  constructor(conn: Connection) {
    this.conn = conn;
    let resolveClosed!: (error: Error | undefined) => void;
    this.closed = new Promise((resolve) => (resolveClosed = resolve));
    conn.start(
      (chunk) => {
        if (this.closeCalls > 0) this.dataAfterClose++;
        this.chunks.push(chunk);
        this.copies.push(chunk.slice());
        try {
          for (const p of this.#decoder.push(chunk)) this.packets.push(p);
        } catch (err) {
          this.#decodeError ??= err;
        }
        this.#wake();
      },
      (error) => {
        this.closeCalls++;
        if (this.closeCalls === 1) {
          this.closeError = error;
          resolveClosed(error);
        }
      },
    );
  }

  /** The next packet of `type` not yet taken (packets of other types are skipped). */
  next(type: number, ms = 5000): Promise<Packet> {
    const found = this.#find(type);
    if (found) return Promise.resolve(found);
    return within(
      ms,
      new Promise<Packet>((resolve) => this.#waiters.push({ type, resolve })),
      `waiting for packet type ${type}`,
    );
  }

  #find(type: number): Packet | undefined {
    while (this.#taken < this.packets.length) {
      const p = this.packets[this.#taken++];
      if (p.type === type) return p;
    }
    return undefined;
  }

  #wake(): void {
    while (this.#waiters.length > 0) {
      const found = this.#find(this.#waiters[0].type);
      if (!found) return;
      this.#waiters.shift()!.resolve(found);
    }
  }

  /** Asserts the contract invariants observed so far. */
  check(): void {
    assert.equal(this.#decodeError, undefined, "inbound bytes decode as MQTT");
    assert.equal(this.dataAfterClose, 0, "onData is never called after onClose");
    assert.ok(this.closeCalls <= 1, `onClose is called once, not ${this.closeCalls} times`);
    for (let i = 0; i < this.chunks.length; i++) {
      assert.ok(this.chunks[i].length > 0, `chunk ${i} is not empty`);
      assert.ok(
        equalBytes(this.chunks[i], this.copies[i]),
        `chunk ${i} (${this.chunks[i].length} bytes) was changed after delivery`,
      );
    }
  }

  /** Closes, waits for onClose, checks the invariants; returns the close error. */
  async finish(): Promise<Error | undefined> {
    this.conn.close();
    const error = await within(5000, this.closed, "onClose after close()");
    await delay(10);
    this.check();
    assert.equal(this.closeCalls, 1);
    return error;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Dials and starts recording. */
export async function open(
  dial: DialFunc,
  url: string,
  options: DialOptions = {},
): Promise<Recorder> {
  const conn = await within(10_000, dial(new URL(url), options), `dialing ${url}`);
  return new Recorder(conn);
}

let clientCounter = 0;

/** Sends CONNECT and returns the CONNACK. */
export async function mqttConnect(r: Recorder): Promise<Packet> {
  await r.conn.write(encodePacket({
    type: PacketType.Connect,
    clientId: `transport-test-${Date.now()}-${clientCounter++}`,
    cleanStart: true,
    keepAlive: 60,
  }));
  const connack = await r.next(PacketType.Connack);
  assert.equal(connack.type, PacketType.Connack);
  if (connack.type === PacketType.Connack) assert.equal(connack.reasonCode, 0);
  return connack;
}

async function mqttSubscribe(r: Recorder, topic: string): Promise<void> {
  await r.conn.write(encodePacket({
    type: PacketType.Subscribe,
    packetId: 1,
    filters: [{ topic, qos: 0 }],
  }));
  const suback = await r.next(PacketType.Suback);
  if (suback.type === PacketType.Suback) assert.deepEqual(suback.reasonCodes, [0]);
}

function publish(topic: string, payload: Uint8Array): Uint8Array {
  return encodePacket({
    type: PacketType.Publish,
    topic,
    payload,
    qos: 0,
    retain: false,
    dup: false,
  });
}

/** `n` bytes of a pattern that differs per seed and per position. */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * A TCP server on loopback that accepts and never writes; with `read: false`
 * it does not read either (and then does not notice the peer closing).
 */
async function holdServer({ read }: { read: boolean }): Promise<{
  port: number;
  sockets: Socket[];
  accepted: Promise<Socket>;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const sockets: Socket[] = [];
  let resolveAccepted!: (s: Socket) => void;
  const accepted = new Promise<Socket>((resolve) => (resolveAccepted = resolve));
  const server: Server = createTcpServer((socket) => {
    socket.on("error", () => {});
    if (read) socket.resume(); // discard
    else socket.pause();
    sockets.push(socket);
    resolveAccepted(socket);
  });
  const port = await listenLoopback(server);
  return {
    port,
    sockets,
    accepted,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A TCP (or, with `tls`, TLS) server on loopback that writes `bytes` (in one
 * `socket.write`) to each connection, then ends it when `end` is set.
 * `written` resolves once the runtime took the last byte (a peer that does
 * not read holds it back).
 */
async function sendServer(
  bytes: Uint8Array,
  { end = false, tls }: { end?: boolean; tls?: { cert: string; key: string } } = {},
): Promise<{
  port: number;
  accepted: Promise<Socket>;
  written: Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const sockets: Socket[] = [];
  let resolveAccepted!: (s: Socket) => void;
  const accepted = new Promise<Socket>((resolve) => (resolveAccepted = resolve));
  let resolveWritten!: () => void;
  const written = new Promise<void>((resolve) => (resolveWritten = resolve));
  const onSocket = (socket: Socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    socket.resume(); // discard what the client sends
    socket.write(bytes, () => resolveWritten());
    if (end) socket.end();
    resolveAccepted(socket);
  };
  const server: Server | TlsServer = tls
    ? createTlsServer({ cert: tls.cert, key: tls.key }, onSocket)
    : createTcpServer(onSocket);
  const port = await listenLoopback(server);
  return {
    port,
    accepted,
    written,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Collects a raw byte stream (no MQTT framing) and checks it against
 * `expected` as it arrives: in order, nothing twice, nothing extra.
 */
class ByteSink {
  readonly expected: Uint8Array;
  received = 0;
  chunks = 0;
  closeCalls = 0;
  closeError: Error | undefined;
  dataAfterClose = 0;
  /** Set while the test is inside pause() / resume(): onData must not run then. */
  inCall = false;
  dataInsideCall = 0;
  mismatch: string | undefined;
  readonly closed: Promise<Error | undefined>;
  #waiters: { bytes: number; resolve: () => void }[] = [];

  constructor(readonly conn: Connection, expected: Uint8Array) {
    this.expected = expected;
    let resolveClosed!: (error: Error | undefined) => void;
    this.closed = new Promise((resolve) => (resolveClosed = resolve));
    conn.start(
      (chunk) => {
        if (this.closeCalls > 0) this.dataAfterClose++;
        if (this.inCall) this.dataInsideCall++;
        this.chunks++;
        if (this.mismatch === undefined) {
          if (this.received + chunk.length > expected.length) {
            this.mismatch = `${this.received + chunk.length} bytes, more than ${expected.length}`;
          } else {
            for (let i = 0; i < chunk.length; i++) {
              if (chunk[i] !== expected[this.received + i]) {
                this.mismatch = `byte ${this.received + i} differs`;
                break;
              }
            }
          }
        }
        this.received += chunk.length;
        this.#waiters = this.#waiters.filter((w) => {
          if (this.received < w.bytes) return true;
          w.resolve();
          return false;
        });
      },
      (error) => {
        this.closeCalls++;
        if (this.closeCalls === 1) {
          this.closeError = error;
          resolveClosed(error);
        }
      },
    );
  }

  /** Resolves once at least `bytes` bytes arrived. */
  upTo(bytes: number, ms: number): Promise<void> {
    if (this.received >= bytes) return Promise.resolve();
    return within(
      ms,
      new Promise<void>((resolve) => this.#waiters.push({ bytes, resolve })),
      `receiving ${bytes} bytes (got ${this.received})`,
    );
  }

  pause(): void {
    this.inCall = true;
    try {
      this.conn.pause!();
    } finally {
      this.inCall = false;
    }
  }

  resume(): void {
    this.inCall = true;
    try {
      this.conn.resume!();
    } finally {
      this.inCall = false;
    }
  }

  check(): void {
    assert.equal(this.mismatch, undefined, "bytes arrive in order, once");
    assert.equal(this.dataAfterClose, 0, "onData is never called after onClose");
    assert.equal(this.dataInsideCall, 0, "onData is never called inside pause() / resume()");
    assert.ok(this.closeCalls <= 1, `onClose is called once, not ${this.closeCalls} times`);
  }
}

async function dialRaw(dial: DialFunc, port: number, caCert?: string): Promise<Connection> {
  const url = caCert === undefined ? `mqtt://127.0.0.1:${port}` : `mqtts://localhost:${port}`;
  const options: DialOptions = caCert === undefined ? {} : { tls: { caCerts: [caCert] } };
  const conn = await within(5000, dial(new URL(url), options), "the dial");
  assert.equal(typeof conn.pause, "function", "the adapter implements pause()");
  assert.equal(typeof conn.resume, "function", "the adapter implements resume()");
  return conn;
}

function socketClosed(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => socket.once("close", () => resolve()));
}

/**
 * Asserts an MqttError with `code` whose cause is the runtime's error (not one
 * of ours), and whose message holds none of `secrets`.
 */
function assertFailure(error: unknown, code: string, secrets: string[] = []): void {
  assert.ok(error instanceof Error, `an Error, got ${String(error)}`);
  assert.equal(error.name, "MqttError", `an MqttError, got ${error.name}: ${error.message}`);
  assert.equal((error as Error & { code?: unknown }).code, code, error.message);
  assert.ok(error.cause !== undefined, `the runtime's error is the cause: ${error.message}`);
  assert.notEqual((error.cause as Error).name, "MqttError", "the cause is the runtime's error");
  for (const secret of secrets) {
    assert.ok(!error.message.includes(secret), `the message does not contain "${secret}"`);
  }
}

/** Asserts the MqttError a write on a closed or failed connection rejects with. */
function assertClosedWrite(error: unknown): void {
  assert.ok(error instanceof Error, `an Error, got ${String(error)}`);
  assert.equal(error.name, "MqttError", `an MqttError, got ${error.name}: ${error.message}`);
  assert.equal((error as Error & { code?: unknown }).code, "connection-lost", error.message);
}

/**
 * The outcome of a TLS dial the broker refuses: under TLS 1.2 the dial
 * rejects; under TLS 1.3 the client finishes its handshake first, so the dial
 * resolves and the broker's alert fails the connection (onClose, or a write).
 * Returns that error either way.
 */
async function refusedTls(dial: DialFunc, url: string, options: DialOptions): Promise<unknown> {
  const outcome = await within(
    5000,
    dial(new URL(url), options).then((conn) => ({ conn }), (error: unknown) => ({ error })),
    "the TLS dial",
  );
  if ("error" in outcome) return outcome.error;
  const r = new Recorder(outcome.conn);
  let writeError: unknown;
  const wrote = r.conn.write(encodePacket({
    type: PacketType.Connect,
    clientId: "tls-refused",
    cleanStart: true,
    keepAlive: 60,
  })).catch((err: unknown) => (writeError = err));
  const closeError = await within(5000, r.closed, "the broker closing the connection");
  await wrote;
  assert.equal(r.packets.filter((p) => p.type === PacketType.Connack).length, 0);
  r.check();
  r.conn.close();
  if (writeError !== undefined) assertFailure(writeError, "tls-failed");
  const after = await rejection(r.conn.write(new Uint8Array([0xc0, 0])), 1000, "a later write");
  assert.ok(after instanceof Error);
  return closeError;
}

/** A TLS server on loopback with `cert`, for cases mosquitto cannot stage. */
async function tlsServer(cert: { cert: string; key: string }): Promise<{
  port: number;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const sockets: TLSSocket[] = [];
  const server = createTlsServer({ cert: cert.cert, key: cert.key }, (s) => {
    sockets.push(s);
    s.on("error", () => {});
    s.end();
  });
  server.on("tlsClientError", () => {});
  const port = await listenLoopback(server);
  return {
    port,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------
// Cases

const TLS: BrokerOptions = { tls: true };
const MTLS: BrokerOptions = { mtls: true };

/** Round-trips `publishes` through the broker on topic `t/<id>` and checks every payload. */
async function roundTrip(r: Recorder, payloads: Uint8Array[]): Promise<void> {
  const topic = `t/${clientCounter++}`;
  await mqttSubscribe(r, topic);
  for (const p of payloads) await r.conn.write(publish(topic, p));
  for (let i = 0; i < payloads.length; i++) {
    const got = await r.next(PacketType.Publish, 20_000);
    assert.equal(got.type, PacketType.Publish);
    if (got.type !== PacketType.Publish) return;
    assert.equal(got.topic, topic);
    assert.equal(got.payload.length, payloads[i].length, `payload ${i} length`);
    assert.ok(equalBytes(got.payload, payloads[i]), `payload ${i} bytes`);
  }
}

export const TRANSPORT_CASES: TransportCase[] = [
  {
    name: "plain TCP: CONNECT gets a CONNACK from mosquitto",
    broker: {},
    async run({ dial, broker }) {
      const r = await open(dial, broker.url);
      await mqttConnect(r);
      assert.equal(await r.finish(), undefined);
    },
  },
  {
    name: "plain TCP: tcp:// dials plain TCP too",
    broker: {},
    async run({ dial, broker }) {
      const r = await open(dial, `tcp://${broker.host}:${broker.port}`);
      await mqttConnect(r);
      await r.finish();
    },
  },
  {
    name: "TLS: CONNECT gets a CONNACK, the server verified against caCerts (DNS SAN)",
    broker: TLS,
    async run({ dial, broker }) {
      const r = await open(dial, broker.tlsUrl!, { tls: { caCerts: [broker.certs!.ca.cert] } });
      await mqttConnect(r);
      assert.equal(await r.finish(), undefined);
    },
  },
  {
    name: "TLS: verifies an IP address SAN when the URL host is an IP",
    broker: TLS,
    async run({ dial, broker }) {
      const r = await open(dial, `mqtts://127.0.0.1:${broker.tlsPort}`, {
        tls: { caCerts: [broker.certs!.ca.cert] },
      });
      await mqttConnect(r);
      await r.finish();
    },
  },
  {
    name: "TLS: tls://, ssl:// and options.tls on any scheme select TLS",
    broker: TLS,
    async run({ dial, broker }) {
      const tls = { caCerts: [broker.certs!.ca.cert] };
      for (
        const url of [`tls://localhost:${broker.tlsPort}`, `ssl://localhost:${broker.tlsPort}`]
      ) {
        const r = await open(dial, url, { tls });
        await mqttConnect(r);
        await r.finish();
      }
      const r = await open(dial, `mqtt://localhost:${broker.tlsPort}`, { tls });
      await mqttConnect(r);
      await r.finish();
    },
  },
  {
    name: "TLS: rejects a server certificate from an unknown CA with tls-failed",
    broker: TLS,
    async run({ dial, broker }) {
      const started = Date.now();
      const error = await rejection(
        dial(new URL(broker.tlsUrl!), { tls: { caCerts: [broker.certs!.otherCa.cert] } }),
        5000,
        "dial with the wrong CA",
      );
      assertFailure(error, "tls-failed");
      assert.ok(Date.now() - started < 3000, "rejects promptly");
    },
  },
  {
    name: "TLS: verification is on by default (no caCerts, no tls options)",
    broker: TLS,
    async run({ dial, broker }) {
      for (const options of [{}, { tls: {} }] as DialOptions[]) {
        const error = await rejection(dial(new URL(broker.tlsUrl!), options), 5000, "default dial");
        assertFailure(error, "tls-failed");
      }
    },
  },
  {
    name: "TLS: serverName is the name verified, whatever host is dialed",
    broker: TLS,
    async run({ dial, broker }) {
      const caCerts = [broker.certs!.ca.cert];
      const url = `mqtts://127.0.0.1:${broker.tlsPort}`;
      const r = await open(dial, url, { tls: { caCerts, serverName: "localhost" } });
      await mqttConnect(r);
      await r.finish();
      const error = await rejection(
        dial(new URL(url), { tls: { caCerts, serverName: "not-this-broker.invalid" } }),
        5000,
        "dial with a serverName the certificate does not cover",
      );
      assertFailure(error, "tls-failed");
    },
  },
  {
    name: "TLS: insecureSkipVerify accepts an untrusted certificate",
    broker: TLS,
    async run({ dial, broker }) {
      const r = await open(dial, broker.tlsUrl!, { tls: { insecureSkipVerify: true } });
      await mqttConnect(r);
      await r.finish();
      const r2 = await open(dial, `mqtts://127.0.0.1:${broker.tlsPort}`, {
        tls: { insecureSkipVerify: true, serverName: "not-this-broker.invalid" },
      });
      await mqttConnect(r2);
      await r2.finish();
    },
  },
  {
    name: "TLS: insecureSkipVerify does not accept a peer that does not speak TLS",
    broker: false,
    async run({ dial }) {
      const sockets: Socket[] = [];
      const server = createTcpServer((socket) => {
        sockets.push(socket);
        socket.on("error", () => {});
        socket.end("hello, not TLS");
      });
      const port = await listenLoopback(server);
      try {
        const error = await rejection(
          dial(new URL(`mqtts://127.0.0.1:${port}`), { tls: { insecureSkipVerify: true } }),
          5000,
          "the dial failing",
        );
        assertFailure(error, "tls-failed");
      } finally {
        // A client whose TLS dial failed may leave its TCP connection for the runtime to
        // close later (Bun's node:tls did); end it so that server.close() returns.
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  },
  {
    name: "TLS close: close() ends the connection even when the peer never answers",
    broker: false,
    async run({ dial }) {
      const dir = await mkdtemp(join(tmpdir(), "mqttv5-silent-"));
      try {
        const certs = await makeCerts(dir);
        const sockets: TLSSocket[] = [];
        // A peer that completes the handshake, then never reads, writes or closes.
        const server = createTlsServer({ cert: certs.server.cert, key: certs.server.key }, (s) => {
          sockets.push(s);
          s.on("error", () => {});
          s.pause();
        });
        const port = await listenLoopback(server);
        try {
          const r = await open(dial, `mqtts://localhost:${port}`, {
            tls: { caCerts: [certs.ca.cert] },
          });
          await delay(100);
          r.conn.close();
          assert.equal(await within(3000, r.closed, "onClose after close()"), undefined);
          assert.equal(r.closeCalls, 1);
          assertClosedWrite(await rejection(r.conn.write(new Uint8Array(1)), 1000, "a write"));
        } finally {
          for (const s of sockets) s.destroy();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: "write: overlapping large writes arrive whole and in order",
    broker: false,
    async run({ dial }) {
      const received: Uint8Array[] = [];
      let conn: Connection | undefined;
      const sockets: Socket[] = [];
      let total = 0;
      const WRITES = 24;
      const SIZE = 256 * 1024;
      let done!: () => void;
      const all = new Promise<void>((resolve) => done = resolve);
      const server = createTcpServer((socket) => {
        sockets.push(socket);
        socket.on("error", () => {});
        socket.on("data", (d: Uint8Array) => {
          received.push(d);
          total += d.length;
          if (total >= WRITES * SIZE) done();
        });
      });
      const port = await listenLoopback(server);
      try {
        const r = await open(dial, `mqtt://127.0.0.1:${port}`, {});
        conn = r.conn;
        const writes: Promise<void>[] = [];
        for (let i = 0; i < WRITES; i++) writes.push(r.conn.write(new Uint8Array(SIZE).fill(i)));
        await within(10_000, Promise.all(writes), "every write settling");
        await within(10_000, all, "the server receiving every byte");
        // Each write's bytes are one run of its fill value, in write order.
        let at = 0;
        for (const chunk of received) {
          for (let k = 0; k < chunk.length; k++, at++) {
            if (chunk[k] !== Math.floor(at / SIZE)) {
              assert.fail(`byte ${at} is ${chunk[k]}, expected ${Math.floor(at / SIZE)}`);
            }
          }
        }
        assert.equal(at, WRITES * SIZE);
        r.conn.close();
        await within(3000, r.closed, "onClose");
      } finally {
        conn?.close();
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  },
  {
    name: "TLS: offers the alpn protocols",
    broker: false,
    async run({ dial }) {
      const dir = await mkdtemp(join(tmpdir(), "mqttv5-alpn-"));
      try {
        const certs = await makeCerts(dir);
        const seen: (string | false | null)[] = [];
        const sockets: TLSSocket[] = [];
        const server = createTlsServer({
          cert: certs.server.cert,
          key: certs.server.key,
          ALPNProtocols: ["mqtt"],
        }, (socket) => {
          sockets.push(socket);
          seen.push(socket.alpnProtocol);
          socket.on("error", () => {});
          socket.end();
        });
        const port = await listenLoopback(server);
        try {
          const r = await open(dial, `mqtts://localhost:${port}`, {
            tls: { caCerts: [certs.ca.cert], alpn: ["x-unknown", "mqtt"] },
          });
          await within(5000, r.closed, "the server closing");
          r.check();
          assert.deepEqual(seen, ["mqtt"]);
        } finally {
          for (const s of sockets) s.destroy();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: "mTLS: presents the client certificate to a broker that requires one",
    broker: MTLS,
    async run({ dial, broker }) {
      const { ca, client } = broker.certs!;
      const r = await open(dial, broker.tlsUrl!, {
        tls: { caCerts: [ca.cert], cert: client.cert, key: client.key },
      });
      await mqttConnect(r);
      await r.finish();
    },
  },
  {
    name: "mTLS: without a client certificate the broker refuses the connection: tls-failed",
    broker: MTLS,
    async run({ dial, broker }) {
      const error = await refusedTls(dial, broker.tlsUrl!, {
        tls: { caCerts: [broker.certs!.ca.cert] },
      });
      assertFailure(error, "tls-failed");
    },
  },
  {
    name: "mTLS: a client certificate the broker does not trust fails with tls-failed",
    broker: MTLS,
    async run({ dial, broker }) {
      const { ca, otherClient } = broker.certs!;
      const error = await refusedTls(dial, broker.tlsUrl!, {
        tls: { caCerts: [ca.cert], cert: otherClient.cert, key: otherClient.key },
      });
      assertFailure(error, "tls-failed");
    },
  },
  {
    name:
      "mTLS: Client.connect() with a client certificate the broker rejects fails with tls-failed",
    broker: MTLS,
    async run({ dial, broker, Client }) {
      const { ca, otherClient } = broker.certs!;
      for (const cert of [otherClient, undefined]) {
        const tls = cert === undefined
          ? { caCerts: [ca.cert] }
          : { caCerts: [ca.cert], cert: cert.cert, key: cert.key };
        await using client = new Client({
          broker: broker.tlsUrl!,
          dial,
          tls,
          clientId: "mtls-stranger",
          connectTimeoutMs: 5000,
        });
        const error = await rejection(client.connect(), 8000, "Client.connect()");
        assertFailure(error, "tls-failed");
        assert.equal(client.connected, false);
      }
    },
  },
  {
    name: "TLS: a server certificate for another host name fails with tls-failed",
    broker: false,
    async run({ dial }) {
      const dir = await mkdtemp(join(tmpdir(), "mqttv5-wrong-name-"));
      try {
        const certs = await makeCerts(dir);
        await using server = await tlsServer(certs.wrongName);
        const caCerts = [certs.ca.cert];
        for (const host of ["localhost", "127.0.0.1"]) {
          const error = await rejection(
            dial(new URL(`mqtts://${host}:${server.port}`), { tls: { caCerts } }),
            5000,
            `dial ${host} with a certificate for wrong-name.invalid`,
          );
          assertFailure(error, "tls-failed");
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: "TLS: mqtts:// to a plain MQTT port fails with tls-failed (it does not speak TLS)",
    broker: TLS,
    async run({ dial, broker }) {
      const started = Date.now();
      const error = await rejection(
        dial(new URL(`mqtts://127.0.0.1:${broker.port}`), {
          tls: { caCerts: [broker.certs!.ca.cert] },
        }),
        5000,
        "a TLS dial to the plain listener",
      );
      assertFailure(error, "tls-failed");
      assert.ok(Date.now() - started < 3000, "rejects promptly");
    },
  },
  {
    name: "abort: an already aborted signal rejects with its reason and dials nothing",
    broker: false,
    async run({ dial }) {
      await using hold = await holdServer({ read: true });
      const reason = new Error("gave up");
      const ac = new AbortController();
      ac.abort(reason);
      for (const scheme of ["mqtt", "mqtts"]) {
        const error = await rejection(
          dial(new URL(`${scheme}://127.0.0.1:${hold.port}`), { signal: ac.signal }),
          1000,
          "aborted dial",
        );
        assert.equal(error, reason);
      }
      await delay(50);
      assert.equal(hold.sockets.length, 0, "no connection was made");
    },
  },
  {
    name: "abort: aborting during the TLS handshake rejects with the reason and closes the socket",
    broker: false,
    async run({ dial, quirks }) {
      await using hold = await holdServer({ read: true });
      const ac = new AbortController();
      const reason = new DOMException("timed out", "TimeoutError");
      const dialing = dial(new URL(`mqtts://127.0.0.1:${hold.port}`), { signal: ac.signal });
      const serverSide = await within(5000, hold.accepted, "the TCP connection");
      await delay(20);
      const started = Date.now();
      ac.abort(reason);
      const error = await rejection(dialing, 2000, "aborted TLS dial");
      assert.equal(error, reason);
      assert.ok(Date.now() - started < 1000, "rejects promptly");
      if (quirks.abortedTlsHandshakeLingers) {
        await delay(200);
        assert.equal(serverSide.destroyed, false, "the quirk still holds (else drop it)");
        return; // released when the server side closes (hold's dispose)
      }
      await within(5000, socketClosed(serverSide), "the half-open socket being closed");
    },
  },
  {
    name: "abort: a signal aborted after the dial resolved leaves the connection alone",
    broker: {},
    async run({ dial, broker }) {
      const ac = new AbortController();
      const r = await open(dial, broker.url, { signal: ac.signal });
      ac.abort(new Error("too late"));
      await mqttConnect(r);
      assert.equal(await r.finish(), undefined);
    },
  },
  {
    name: "connect refused: a closed port rejects fast with connect-failed and no credentials",
    broker: false,
    async run({ dial }) {
      const port = await freePort();
      for (const scheme of ["mqtt", "mqtts"]) {
        const started = Date.now();
        const error = await rejection(
          dial(new URL(`${scheme}://alice:s3cr3t-pw@127.0.0.1:${port}`), {}),
          5000,
          "dial to a closed port",
        );
        assertFailure(error, "connect-failed", ["s3cr3t-pw", "alice"]);
        assert.ok(Date.now() - started < 2000, `rejected in ${Date.now() - started} ms`);
      }
    },
  },
  {
    name: "dns: a host name that does not resolve (.invalid, RFC 6761) fails with dns-failed",
    broker: false,
    async run({ dial }) {
      for (const scheme of ["mqtt", "mqtts"]) {
        const error = await rejection(
          dial(new URL(`${scheme}://alice:s3cr3t-pw@no-such-broker.invalid:1883`), {}),
          10_000,
          "dial to a name under .invalid",
        );
        assertFailure(error, "dns-failed", ["s3cr3t-pw", "alice"]);
      }
    },
  },
  {
    name: "connection lost: a peer that resets the connection fails it with connection-lost",
    broker: false,
    async run({ dial }) {
      await using hold = await holdServer({ read: true });
      const r = await open(dial, `mqtt://127.0.0.1:${hold.port}`);
      const serverSide = await within(5000, hold.accepted, "the TCP connection");
      serverSide.resetAndDestroy();
      const error = await within(5000, r.closed, "onClose after the reset");
      assertFailure(error, "connection-lost");
      await delay(20);
      assertClosedWrite(await rejection(r.conn.write(new Uint8Array([0xc0, 0])), 1000, "write"));
      r.conn.close();
      await delay(20);
      assert.equal(r.closeCalls, 1);
      r.check();
    },
  },
  {
    name:
      "pause: no onData while paused and the sender backs up; resume() delivers every byte in order",
    broker: false,
    async run({ dial }) {
      const payload = pattern(16 << 20, 21);
      await using server = await sendServer(payload);
      const sink = new ByteSink(await dialRaw(dial, server.port), payload);
      sink.pause(); // right after start()
      const serverSide = await within(5000, server.accepted, "the TCP connection");
      let written = false;
      void server.written.then(() => (written = true));
      await delay(300);
      assert.equal(sink.chunks, 0, "no onData while paused");
      assert.equal(written, false, "the server could not write 16 MiB to a paused client");
      assert.ok(serverSide.writableLength > 0, "the server's writes back up");
      sink.resume();
      assert.equal(sink.dataInsideCall, 0, "resume() does not deliver synchronously");
      await sink.upTo(payload.length, 20_000);
      await within(5000, server.written, "the server's write completing");
      assert.equal(sink.received, payload.length);
      sink.conn.close();
      assert.equal(await within(5000, sink.closed, "onClose"), undefined);
      await delay(20);
      sink.check();
      assert.equal(sink.closeCalls, 1);
    },
  },
  {
    name: "pause: over TLS too, no onData while paused; resume() delivers every byte in order",
    broker: false,
    async run({ dial, quirks }) {
      const dir = await mkdtemp(join(tmpdir(), "mqttv5-pause-"));
      try {
        const certs = await makeCerts(dir);
        const payload = pattern(16 << 20, 25);
        await using server = await sendServer(payload, { tls: certs.server });
        const sink = new ByteSink(await dialRaw(dial, server.port, certs.ca.cert), payload);
        sink.pause();
        const serverSide = await within(5000, server.accepted, "the TLS connection");
        let written = false;
        void server.written.then(() => (written = true));
        await delay(300);
        assert.equal(sink.chunks, 0, "no onData while paused");
        if (!quirks.pausedTlsStillReads) {
          assert.equal(written, false, "the server could not write 16 MiB to a paused client");
          assert.ok(serverSide.writableLength > 0, "the server's writes back up");
        }
        sink.resume();
        await sink.upTo(payload.length, 20_000);
        sink.conn.close();
        assert.equal(await within(5000, sink.closed, "onClose"), undefined);
        await delay(20);
        sink.check();
        assert.equal(sink.closeCalls, 1);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: "pause: pause() and resume() are idempotent, and pausing again mid-stream holds the rest",
    broker: false,
    async run({ dial }) {
      const payload = pattern(8 << 20, 22);
      await using server = await sendServer(payload);
      const sink = new ByteSink(await dialRaw(dial, server.port), payload);
      sink.pause();
      sink.pause();
      await delay(100);
      assert.equal(sink.chunks, 0, "no onData while paused");
      sink.resume();
      sink.resume();
      await sink.upTo(1 << 20, 10_000);
      sink.pause();
      sink.pause();
      const atPause = sink.received;
      await delay(200);
      assert.equal(sink.received, atPause, "nothing is delivered once pause() returned");
      assert.ok(atPause < payload.length, "the pause came before the end of the stream");
      sink.resume();
      sink.pause(); // paused again before the held bytes could go out
      await delay(50);
      assert.equal(sink.received, atPause, "resume() then pause() delivers nothing");
      sink.resume();
      sink.resume();
      await sink.upTo(payload.length, 20_000);
      await delay(50);
      assert.equal(sink.received, payload.length, "every byte once");
      sink.conn.close();
      await within(5000, sink.closed, "onClose");
      await delay(20);
      sink.check();
      assert.equal(sink.closeCalls, 1);
    },
  },
  {
    name: "pause: close() while paused reports onClose once, without an error",
    broker: false,
    async run({ dial }) {
      const payload = pattern(16 << 20, 23);
      await using server = await sendServer(payload);
      // Paused before any byte came, and paused with bytes already held.
      for (const readFirst of [0, 256 * 1024]) {
        const sink = new ByteSink(await dialRaw(dial, server.port), payload);
        if (readFirst > 0) await sink.upTo(readFirst, 10_000);
        sink.pause();
        const atPause = sink.received;
        await delay(100);
        sink.conn.close();
        sink.conn.close();
        assert.equal(await within(5000, sink.closed, "onClose after close()"), undefined);
        sink.resume(); // after close: nothing happens
        await delay(100);
        assert.equal(sink.received, atPause, "no onData after pause()");
        assert.equal(sink.closeCalls, 1);
        sink.check();
        assertClosedWrite(await rejection(sink.conn.write(new Uint8Array(1)), 1000, "a write"));
      }
    },
  },
  {
    name: "pause: bytes and an end that come while paused are delivered on resume(), bytes first",
    broker: false,
    async run({ dial }) {
      const payload = pattern(64 * 1024, 24);
      await using server = await sendServer(payload, { end: true });
      const sink = new ByteSink(await dialRaw(dial, server.port), payload);
      sink.pause();
      await within(5000, server.written, "the server's write");
      await delay(200);
      assert.equal(sink.chunks, 0, "no onData while paused");
      sink.resume();
      assert.equal(await within(5000, sink.closed, "onClose after the bytes"), undefined);
      assert.equal(sink.received, payload.length, "every byte came before onClose");
      sink.conn.close();
      await delay(20);
      sink.check();
      assert.equal(sink.closeCalls, 1);
    },
  },
  {
    name: "large write: a 4 MiB PUBLISH round-trips through the broker (TCP)",
    broker: {},
    async run({ dial, broker }) {
      const r = await open(dial, broker.url);
      await mqttConnect(r);
      await roundTrip(r, [pattern(4 << 20, 1), pattern(100, 2)]);
      assert.ok(r.chunks.length > 1, "arrived in several chunks");
      await r.finish();
    },
  },
  {
    name: "large write: a 4 MiB PUBLISH round-trips through the broker (TLS)",
    broker: TLS,
    async run({ dial, broker }) {
      const r = await open(dial, broker.tlsUrl!, { tls: { caCerts: [broker.certs!.ca.cert] } });
      await mqttConnect(r);
      await roundTrip(r, [pattern(4 << 20, 3), pattern(100, 4)]);
      await r.finish();
    },
  },
  {
    name: "large write: a write larger than the socket buffers settles when close() interrupts it",
    broker: false,
    async run({ dial }) {
      await using hold = await holdServer({ read: false });
      const r = await open(dial, `mqtt://127.0.0.1:${hold.port}`);
      const big = new Uint8Array(64 << 20);
      let settled = false;
      const writing = r.conn.write(big).then(
        () => "resolved",
        (err: unknown) => (err instanceof Error ? "rejected" : "rejected with a non-Error"),
      ).finally(() => (settled = true));
      await delay(100);
      assert.equal(settled, false, "64 MiB cannot be taken by a peer that does not read");
      r.conn.close();
      assert.equal(await within(5000, writing, "the pending write to settle"), "rejected");
      await within(5000, r.closed, "onClose");
      r.check();
    },
  },
  {
    name: "chunks: delivered chunks are never written to again",
    broker: {},
    async run({ dial, broker }) {
      const r = await open(dial, broker.url);
      await mqttConnect(r);
      const payloads: Uint8Array[] = [];
      for (let i = 0; i < 400; i++) payloads.push(pattern(1 + ((i * 7919) % 30_000), i + 10));
      payloads.push(pattern(1 << 20, 5));
      for (let i = 0; i < 200; i++) payloads.push(pattern(1 + (i % 50), i + 1000));
      await roundTrip(r, payloads);
      r.check();
      // Decode again from the chunks the client was handed: the bytes must
      // still be the ones delivered.
      const again = new PacketDecoder();
      const publishes = r.chunks.flatMap((c) => again.push(c)).filter((p) =>
        p.type === PacketType.Publish
      );
      assert.equal(publishes.length, payloads.length);
      await r.finish();
    },
  },
  {
    name: "close: close() is idempotent, onClose comes once without an error, write then rejects",
    broker: {},
    async run({ dial, broker }) {
      const r = await open(dial, broker.url);
      await mqttConnect(r);
      r.conn.close();
      r.conn.close();
      assert.equal(await within(5000, r.closed, "onClose"), undefined);
      r.conn.close();
      await delay(50);
      assert.equal(r.closeCalls, 1);
      const error = await rejection(
        r.conn.write(new Uint8Array([0xc0, 0])),
        1000,
        "write after close",
      );
      assertClosedWrite(error);
      r.check();
    },
  },
  {
    name: "close: close() before start() still leads to one onClose",
    broker: {},
    async run({ dial, broker }) {
      const conn = await dial(new URL(broker.url), {});
      conn.close();
      const r = new Recorder(conn);
      assert.equal(await within(5000, r.closed, "onClose"), undefined);
      await delay(20);
      assert.equal(r.closeCalls, 1);
      r.check();
    },
  },
  {
    name: "close: the broker ending the connection calls onClose once, without an error",
    broker: {},
    async run({ dial, broker }) {
      const r = await open(dial, broker.url);
      await mqttConnect(r);
      await r.conn.write(encodePacket({ type: PacketType.Disconnect, reasonCode: 0 }));
      assert.equal(await within(5000, r.closed, "onClose after DISCONNECT"), undefined);
      await delay(20);
      await rejection(r.conn.write(new Uint8Array([0xc0, 0])), 1000, "write after the peer closed");
      r.conn.close();
      await delay(20);
      assert.equal(r.closeCalls, 1);
      r.check();
    },
  },
  {
    name: "close: stopping the broker ends the connection",
    broker: TLS,
    async run({ dial, broker }) {
      const plain = await open(dial, broker.url);
      const tls = await open(dial, broker.tlsUrl!, { tls: { caCerts: [broker.certs!.ca.cert] } });
      await mqttConnect(plain);
      await mqttConnect(tls);
      await broker.stop();
      await within(5000, plain.closed, "onClose (TCP)");
      await within(5000, tls.closed, "onClose (TLS)");
      for (const r of [plain, tls]) {
        r.conn.close();
        await delay(20);
        assert.equal(r.closeCalls, 1);
        r.check();
      }
    },
  },
];

// ---------------------------------------------------------------------------
// Unix domain sockets: `unix:///path/to/socket` (issue #13)

const UNIX: BrokerOptions = { unix: true };

/**
 * A node:net server on a Unix socket, `name` in a fresh temporary directory,
 * that hands each connection to `onSocket`. Disposing it destroys the
 * connections, closes the server and deletes the directory.
 */
async function unixServer(onSocket: (socket: Socket) => void, name = "test.sock"): Promise<{
  path: string;
  url: string;
  accepted: Promise<Socket>;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "mqttv5-unix-"));
  const path = join(dir, name);
  const sockets: Socket[] = [];
  let resolveAccepted!: (s: Socket) => void;
  const accepted = new Promise<Socket>((resolve) => (resolveAccepted = resolve));
  const server = createTcpServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    onSocket(socket);
    resolveAccepted(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  return {
    path,
    url: unixUrlOf(path),
    accepted,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh temporary directory, deleted on dispose. */
async function tempDir(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "mqttv5-unix-"));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Asserts the `connect-failed` a dial to a Unix socket path rejects with: the
 * runtime's error as the cause, the path in the message (and no `host:port`
 * made of nothing, such as `:0`).
 */
function assertUnixConnectFailed(error: unknown, path: string): void {
  assertFailure(error, "connect-failed");
  const message = (error as Error).message;
  assert.ok(message.includes(path), `the message names the socket path: ${message}`);
  assert.ok(!/:(0|1883)\b/.test(message), `the message names no port: ${message}`);
}

/**
 * Cases for `unix:///path/to/socket` broker URLs, run with each runtime's
 * adapter (tests/transport/unix_test.ts, bun-tests/transport_unix.test.ts,
 * node-tests/transport_unix.test.mjs) against mosquitto's Unix socket listener
 * (`listener 0 <path>`, mosquitto >= 2.0) and node:net servers on a socket.
 */
export const UNIX_CASES: TransportCase[] = [
  {
    name: "unix: CONNECT gets a CONNACK from mosquitto over unix:///path",
    broker: UNIX,
    async run({ dial, broker }) {
      assert.ok(broker.unixUrl!.startsWith("unix:///"));
      const r = await open(dial, broker.unixUrl!);
      await mqttConnect(r);
      assert.equal(await r.finish(), undefined);
    },
  },
  {
    name: "unix: a 4 MiB PUBLISH and many small ones round-trip through mosquitto, chunks intact",
    broker: UNIX,
    async run({ dial, broker }) {
      const r = await open(dial, broker.unixUrl!);
      await mqttConnect(r);
      const payloads = [pattern(4 << 20, 31)];
      for (let i = 0; i < 200; i++) payloads.push(pattern(1 + ((i * 7919) % 5000), i + 32));
      await roundTrip(r, payloads);
      assert.ok(r.chunks.length > 1, "arrived in several chunks");
      r.check();
      await r.finish();
    },
  },
  {
    name: "unix: Client subscribes, then publishes and receives at QoS 0, 1 and 2 over unix://",
    broker: UNIX,
    async run({ dial, broker, Client }) {
      await using sub = new Client({ broker: broker.unixUrl!, dial, clientId: "unix-sub" });
      await using pub = new Client({ broker: broker.unixUrl!, dial, clientId: "unix-pub" });
      await within(5000, sub.connect(), "the subscriber's connect");
      await within(5000, pub.connect(), "the publisher's connect");
      const subscription = await within(
        5000,
        sub.subscribe([{ topic: "unix/+", qos: 2 }]),
        "the subscribe",
      );
      const it = subscription[Symbol.asyncIterator]();
      for (const qos of [0, 1, 2] as const) {
        const payload = pattern(1000 + qos, 40 + qos);
        const sent = await within(
          5000,
          pub.publish({ topic: `unix/q${qos}`, payload, qos }),
          `the QoS ${qos} publish`,
        );
        if (qos > 0) assert.equal(sent.reasonCode, 0, `QoS ${qos} acknowledged`);
        const got = await within(5000, it.next(), `the QoS ${qos} message`);
        assert.equal(got.done, false);
        if (got.done) return;
        const m = got.value;
        m.ack();
        assert.equal(m.topic, `unix/q${qos}`);
        assert.equal(m.qos, qos);
        assert.ok(equalBytes(m.clonePayload(), payload), `the QoS ${qos} payload`);
      }
      assert.equal(sub.connected, true);
      assert.equal(pub.connected, true);
    },
  },
  {
    name: "unix: Client without a dial option connects over unix:// with the runtime's adapter",
    broker: UNIX,
    async run({ broker, Client }) {
      await using client = new Client({ broker: broker.unixUrl!, clientId: "unix-default" });
      const info = await within(5000, client.connect(), "the connect");
      assert.equal(info.reasonCode, 0);
      const subscription = await client.subscribe([{ topic: "unix/default", qos: 1 }]);
      await client.publish({ topic: "unix/default", payload: "over the socket", qos: 1 });
      const got = await within(5000, subscription[Symbol.asyncIterator]().next(), "the message");
      assert.equal(got.done, false);
      if (!got.done) {
        got.value.ack();
        assert.equal(got.value.text(), "over the socket");
      }
    },
  },
  {
    name: "unix: a socket path that does not exist fails fast with connect-failed naming the path",
    broker: false,
    async run({ dial, Client }) {
      await using dir = await tempDir();
      const path = join(dir.path, "no-broker-here.sock");
      const started = Date.now();
      const error = await rejection(dial(new URL(unixUrlOf(path)), {}), 5000, "the dial");
      assertUnixConnectFailed(error, path);
      assert.ok(Date.now() - started < 2000, `rejected in ${Date.now() - started} ms`);
      // The same through Client.connect() (parseBrokerUrl, the handshake's dial).
      await using client = new Client({
        broker: unixUrlOf(path),
        dial,
        clientId: "unix-missing",
        connectTimeoutMs: 5000,
      });
      const viaClient = await rejection(client.connect(), 8000, "Client.connect()");
      assertUnixConnectFailed(viaClient, path);
      assert.equal(client.connected, false);
    },
  },
  {
    name: "unix: a path nobody listens on (a regular file) fails with connect-failed",
    broker: false,
    async run({ dial }) {
      await using dir = await tempDir();
      const path = join(dir.path, "not-a-socket");
      await writeFile(path, "plain file");
      const error = await rejection(dial(new URL(unixUrlOf(path)), {}), 5000, "the dial");
      assertUnixConnectFailed(error, path);
    },
  },
  {
    name: "unix: a host, no socket path, or TLS settings are refused with a TypeError",
    broker: false,
    async run({ dial }) {
      for (const url of ["unix://tmp/mqtt.sock", "unix://localhost/tmp/mqtt.sock", "unix:///"]) {
        const error = await rejection(dial(new URL(url), {}), 1000, `dialing ${url}`);
        assert.ok(error instanceof TypeError, `${url}: a TypeError, got ${String(error)}`);
      }
      const error = await rejection(
        dial(new URL("unix:///tmp/mqtt.sock"), { tls: {} }),
        1000,
        "a unix: dial with TLS settings",
      );
      assert.ok(error instanceof TypeError, `a TypeError, got ${String(error)}`);
    },
  },
  {
    name: "unix: an aborted signal rejects the dial with its reason, and no connection is made",
    broker: false,
    async run({ dial }) {
      await using server = await unixServer(() => {});
      let accepted = false;
      void server.accepted.then(() => (accepted = true));
      const ac = new AbortController();
      const reason = new Error("stop");
      ac.abort(reason);
      const error = await rejection(
        dial(new URL(server.url), { signal: ac.signal }),
        1000,
        "aborted dial",
      );
      assert.equal(error, reason);
      await delay(50);
      assert.equal(accepted, false, "no connection was made");
    },
  },
  {
    name: "unix: a percent-encoded socket path is decoded (a space and a % in the name)",
    broker: false,
    async run({ dial }) {
      const hello = pattern(1000, 50);
      await using server = await unixServer((s) => s.end(hello), "my broker 100%.sock");
      assert.ok(server.url.includes("my%20broker%20100%25.sock"), server.url);
      const conn = await within(5000, dial(new URL(server.url), {}), "the dial");
      const sink = new ByteSink(conn, hello);
      await sink.upTo(hello.length, 5000);
      assert.equal(await within(5000, sink.closed, "onClose after the server ended"), undefined);
      sink.check();
      conn.close();
    },
  },
  {
    name: "unix: pause: no onData while paused and the sender backs up; resume() delivers all",
    broker: false,
    async run({ dial }) {
      const payload = pattern(16 << 20, 51);
      let resolveWritten!: () => void;
      const written = new Promise<void>((resolve) => (resolveWritten = resolve));
      await using server = await unixServer((s) => {
        s.resume(); // discard what the client sends
        s.write(payload, () => resolveWritten());
      });
      const conn = await within(5000, dial(new URL(server.url), {}), "the dial");
      assert.equal(typeof conn.pause, "function", "the adapter implements pause()");
      const sink = new ByteSink(conn, payload);
      sink.pause();
      const serverSide = await within(5000, server.accepted, "the connection");
      let done = false;
      void written.then(() => (done = true));
      await delay(300);
      assert.equal(sink.chunks, 0, "no onData while paused");
      assert.equal(done, false, "the server could not write 16 MiB to a paused client");
      assert.ok(serverSide.writableLength > 0, "the server's writes back up");
      sink.resume();
      assert.equal(sink.dataInsideCall, 0, "resume() does not deliver synchronously");
      await sink.upTo(payload.length, 20_000);
      await within(5000, written, "the server's write completing");
      conn.close();
      assert.equal(await within(5000, sink.closed, "onClose"), undefined);
      await delay(20);
      sink.check();
      assert.equal(sink.closeCalls, 1);
    },
  },
  {
    name: "unix: stopping the broker ends the connection; after restart() a dial succeeds again",
    broker: UNIX,
    async run({ dial, broker }) {
      const r = await open(dial, broker.unixUrl!);
      await mqttConnect(r);
      await broker.stop();
      await within(5000, r.closed, "onClose after the broker stopped");
      r.conn.close();
      await delay(20);
      assert.equal(r.closeCalls, 1);
      r.check();
      await broker.restart();
      const again = await open(dial, broker.unixUrl!);
      await mqttConnect(again);
      assert.equal(await again.finish(), undefined);
    },
  },
];

/**
 * Runs one case: starts its broker (if any), runs it, stops the broker.
 * `client` is the Client class of the adapter's build (default: the sources').
 */
export async function runCase(
  c: TransportCase,
  dial: DialFunc,
  quirks: Quirks = {},
  client: typeof Client = Client,
): Promise<void> {
  if (c.broker === false) {
    await c.run({ dial, quirks, broker: undefined as unknown as Broker, Client: client });
    return;
  }
  await using broker = await startBroker(c.broker);
  await c.run({ dial, quirks, broker, Client: client });
}
