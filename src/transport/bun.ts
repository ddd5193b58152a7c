/**
 * A {@linkcode DialFunc} on `Bun.connect`: the transport the client picks
 * under Bun.
 *
 * `mqtt://` and `tcp://` dial plain TCP; `mqtts://`, `tls://`, `ssl://` (or any
 * URL when `options.tls` is given) dial TLS with certificate verification on.
 * The port defaults to 1883 for TCP and 8883 for TLS. `unix:///path/to/socket`
 * dials a Unix domain socket (`Bun.connect({ unix })`; no TLS).
 *
 * `Bun` is reached through `globalThis` and typed by a minimal local
 * interface, so this module type-checks anywhere and needs no Bun typings.
 *
 * @example Connect with the Bun transport
 * ```ts ignore
 * import { bunDial } from "@mqttv5/client/transport/bun";
 *
 * const conn = await bunDial(new URL("mqtts://broker.example:8883"), {
 *   tls: { alpn: ["mqtt"] },
 *   signal: AbortSignal.timeout(10_000),
 * });
 * conn.start((chunk) => console.log(chunk.length), (err) => console.log("closed", err));
 * conn.close();
 * ```
 *
 * @module
 */

import { toError } from "../_internal/error.ts";
import type { MqttError } from "../errors.ts";
import { closedError, dialError, lostError, type Peer } from "./_errors.ts";
import { type Endpoint, endpoint } from "./_endpoint.ts";
import { LINGER_MAX_CHUNK, LINGER_MS } from "./_gate.ts";
import { HeldChunks } from "./_held.ts";
import type { Connection, DialFunc, DialOptions, TlsOptions } from "./types.ts";

export type { Connection, DialFunc, DialOptions, TlsOptions } from "./types.ts";

// The part of Bun's socket API this adapter uses (Bun 1.4).

interface BunSocket {
  /** Bytes taken (kernel or TLS buffer); fewer under backpressure, -1 when closed. */
  write(data: Uint8Array): number;
  /** Flushes, sends FIN (close_notify for TLS) and closes the descriptor. */
  end(): void;
  /** Closes at once with a reset (SO_LINGER 0). */
  terminate(): void;
  /** Shuts the TCP stream down for writing (FIN), without waiting for the peer. */
  shutdown(halfClose?: boolean): void;
  /** Stops reading from the socket (the kernel buffers, then TCP backs up). */
  pause(): void;
  /** Starts reading again after pause(). */
  resume(): void;
}

interface BunSocketHandler {
  binaryType: "uint8array";
  open?(socket: BunSocket): void;
  handshake?(socket: BunSocket, success: boolean, authorizationError: Error | null): void;
  data?(socket: BunSocket, data: Uint8Array): void;
  drain?(socket: BunSocket): void;
  end?(socket: BunSocket): void;
  error?(socket: BunSocket, error: Error): void;
  close?(socket: BunSocket, error?: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
}

interface BunTlsOptions {
  ca?: string[];
  cert?: string;
  key?: string;
  serverName?: string;
  rejectUnauthorized?: boolean;
  /** Wire format (length-prefixed names); Bun rejects an array of strings. */
  ALPNProtocols?: Uint8Array;
}

interface BunConnectOptions {
  hostname?: string;
  port?: number;
  /** A Unix domain socket path, instead of hostname and port. */
  unix?: string;
  tls?: BunTlsOptions;
  socket: BunSocketHandler;
}

interface BunRuntime {
  connect(options: BunConnectOptions): Promise<BunSocket>;
}

function bunRuntime(): BunRuntime {
  const bun = (globalThis as { Bun?: BunRuntime }).Bun;
  if (bun === undefined) throw new TypeError("Cannot use bunDial: this runtime is not Bun");
  return bun;
}

const encoder = new TextEncoder();

/** Whether a TLS authorization error is about the certificate (not the handshake). */
function isCertificateError(error: Error | null): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /CERT|SIGNATURE|ISSUER|ALTNAME|HOSTNAME/.test(code);
}

/** How long close() lets an orderly shutdown take before resetting the socket. */
const CLOSE_GRACE_MS = 1000;

/** ALPN protocol names in the TLS wire format: each prefixed by its length. */
function alpnWire(protocols: string[]): Uint8Array {
  const names = protocols.map((p) => encoder.encode(p));
  const out = new Uint8Array(names.reduce((n, b) => n + 1 + b.length, 0));
  let i = 0;
  for (let k = 0; k < names.length; k++) {
    const name = names[k];
    if (name.length === 0 || name.length > 255) {
      throw new RangeError(
        `Cannot offer ALPN protocol "${protocols[k]}": names take 1 to 255 bytes`,
      );
    }
    out[i++] = name.length;
    out.set(name, i);
    i += name.length;
  }
  return out;
}

function bunTlsOptions(ep: Endpoint, tls: TlsOptions): BunTlsOptions {
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError("Cannot use TLS options: cert and key must be given together");
  }
  const options: BunTlsOptions = {
    serverName: tls.serverName ?? ep.host,
    rejectUnauthorized: tls.insecureSkipVerify !== true,
  };
  if (tls.caCerts !== undefined) options.ca = tls.caCerts;
  if (tls.cert !== undefined) options.cert = tls.cert;
  if (tls.key !== undefined) options.key = tls.key;
  if (tls.alpn !== undefined) options.ALPNProtocols = alpnWire(tls.alpn);
  return options;
}

/**
 * Opens a TCP or TLS {@linkcode Connection} with `Bun.connect`.
 *
 * TLS maps {@linkcode TlsOptions} onto Bun's `tls` options: `caCerts` → `ca`
 * (replacing the default trust store), `cert`/`key`, `serverName` (SNI and
 * the name verified; default: the URL's host), `insecureSkipVerify` →
 * `rejectUnauthorized: false`, `alpn` → `ALPNProtocols`. Resolves once the TCP
 * connection is up or, for TLS, once the handshake and verification succeeded.
 *
 * Bun hands each `data` callback a fresh buffer (checked by experiment on Bun
 * 1.4.5: every chunk had its own `ArrayBuffer`, none changed after delivery),
 * so chunks are passed on without a copy. `pause()` / `resume()` map to the
 * socket's own; a chunk Bun still hands over after `pause()` is held and
 * delivered first on `resume()`. When `onData` answers true (a burst the
 * client owes nothing for), the socket pauses for 1 ms so that the next
 * `data` callback brings more. `socket.write` may take only part of
 * the bytes; the rest is written on `drain`, and `write` resolves once every
 * byte was taken. `close` ends the socket (flushing what was written, then
 * FIN); a dial aborted midway resets it. Once resolved, the connection no
 * longer listens to `options.signal`.
 *
 * A `unix:///path/to/socket` URL dials that Unix domain socket with
 * `Bun.connect({ unix: path })` (the path percent-decoded; TLS settings are
 * refused) and behaves the same way; failures name the path.
 *
 * A connection that fails later reports an {@linkcode MqttError} to
 * `onClose` and rejects writes with it: `connection-lost`, or `tls-failed`
 * when the broker sent a TLS alert about our client certificate (under TLS
 * 1.3 that alert comes after the handshake, on the first read).
 *
 * @param url The broker URL; only its scheme, host and port (a `unix:` URL:
 *   its path) are used.
 * @param options TLS settings and an abort signal.
 * @returns The open connection.
 * @throws {MqttError} `dns-failed`: the host name does not resolve.
 * @throws {MqttError} `connect-failed`: the connection was refused, the host
 *   is unreachable, the Unix socket does not exist, or the connection closed
 *   before it was ready; the message names `host:port` (or the socket path).
 * @throws {MqttError} `tls-failed`: the TLS handshake failed (server
 *   certificate not trusted or not for this host, a client certificate
 *   required or rejected, a port that does not speak TLS); the message names
 *   the fix where it is known.
 * @throws {TypeError} Not running on Bun, the URL has no host, `cert` comes
 *   without `key`, or a `unix:` URL names a host, has no path, or comes with
 *   TLS settings.
 * @throws The `signal.reason` when `options.signal` aborts first.
 * Every `MqttError` carries the runtime's error as its `cause`.
 *
 * @example Plain TCP
 * ```ts ignore
 * import { bunDial } from "@mqttv5/client/transport/bun";
 *
 * const conn = await bunDial(new URL("mqtt://127.0.0.1:1883"), {});
 * conn.close();
 * ```
 *
 * @example A Unix domain socket
 * ```ts ignore
 * import { bunDial } from "@mqttv5/client/transport/bun";
 *
 * const conn = await bunDial(new URL("unix:///run/mosquitto/mqtt.sock"), {});
 * conn.close();
 * ```
 *
 * @example Mutual TLS with a private CA
 * ```ts ignore
 * import { readFile } from "node:fs/promises";
 * import { bunDial } from "@mqttv5/client/transport/bun";
 *
 * const conn = await bunDial(new URL("mqtts://broker.internal:8883"), {
 *   tls: {
 *     caCerts: [await readFile("ca.pem", "utf8")],
 *     cert: await readFile("client.pem", "utf8"),
 *     key: await readFile("client.key", "utf8"),
 *   },
 * });
 * conn.close();
 * ```
 */
export const bunDial: DialFunc = async (
  url: URL,
  options: DialOptions,
): Promise<Connection> => {
  const signal = options.signal;
  signal?.throwIfAborted();
  const bun = bunRuntime();
  const ep = endpoint(url, options);
  const tls = ep.tls ? bunTlsOptions(ep, ep.tls) : undefined;
  const conn = new BunConnection(
    ep,
    tls !== undefined,
    tls !== undefined && tls.rejectUnauthorized === false,
  );
  const connectOptions: BunConnectOptions = ep.unix !== undefined
    ? { unix: ep.unix, socket: conn.handler(false) }
    : { hostname: ep.host, port: ep.port, socket: conn.handler(tls !== undefined) };
  if (tls) connectOptions.tls = tls;

  // Bun.connect has no signal: settle on the first of connect, handshake
  // (TLS), failure or abort, and reset whatever is left behind.
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    if (!signal) return;
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});
  const connecting = bun.connect(connectOptions);
  try {
    let socket: BunSocket;
    try {
      socket = await Promise.race([connecting, aborted]);
    } catch (err) {
      if (signal?.aborted) {
        connecting.then((s) => s.terminate(), () => {});
        throw signal.reason;
      }
      throw dialError(err, ep, "connect");
    }
    conn.attach(socket);
    if (tls) {
      try {
        await Promise.race([conn.handshaken, aborted]);
      } catch (err) {
        conn.abandon(socket);
        if (signal?.aborted) throw signal.reason;
        throw err;
      }
    }
    return conn;
  } finally {
    if (onAbort) signal!.removeEventListener("abort", onAbort);
  }
};

interface PendingWrite {
  data: Uint8Array;
  offset: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

const RESOLVED: Promise<void> = Promise.resolve();

class BunConnection implements Connection {
  readonly #peer: Peer;
  readonly #tls: boolean;
  readonly #insecure: boolean;
  #socket: BunSocket | undefined;
  /** close() was called. */
  #closed = false;
  /** Bun reported "close". */
  #ended = false;
  #error: Error | undefined;
  /** #error as reported: the onClose error, and what later writes reject with. */
  #failure: MqttError | undefined;
  #started = false;
  #reported = false;
  #onData: ((chunk: Uint8Array) => unknown) | undefined;
  #onClose: ((error?: Error) => void) | undefined;
  #paused = false;
  /** The socket itself was paused (and must be resumed). */
  #socketPaused = false;
  /**
   * Chunks not delivered yet, oldest first: those that arrived before start(),
   * while paused, or behind other held ones. Delivered from a microtask.
   */
  #held = new HeldChunks(() => this.#deliverHeld());
  /** Writes waiting for "drain", oldest first (head index, no shift()). */
  #writes: PendingWrite[] = [];
  #writeHead = 0;
  #handshakeSettle: { resolve: () => void; reject: (error: Error) => void } | undefined;

  /** Resolves when the TLS handshake succeeded; rejects when it failed. */
  readonly handshaken: Promise<void>;

  constructor(peer: Peer, tls: boolean, insecure: boolean) {
    this.#peer = peer;
    this.#tls = tls;
    this.#insecure = insecure;
    this.handshaken = new Promise<void>((resolve, reject) => {
      this.#handshakeSettle = { resolve, reject };
    });
    this.handshaken.catch(() => {});
  }

  handler(tls: boolean): BunSocketHandler {
    const handler: BunSocketHandler = {
      binaryType: "uint8array",
      open: (socket) => {
        this.#socket = socket;
      },
      data: (_socket, chunk) => this.#data(chunk),
      drain: () => this.#drain(),
      error: (_socket, error) => {
        this.#error ??= error;
      },
      close: (_socket, error) => this.#socketClosed(error),
      connectError: () => {
        // The Bun.connect promise rejects with the error; handled there.
      },
    };
    if (tls) {
      handler.handshake = (socket, success, authorizationError) => {
        this.#socket = socket;
        const settle = this.#handshakeSettle;
        this.#handshakeSettle = undefined;
        // insecureSkipVerify (rejectUnauthorized: false) skips certificate checks
        // only: Bun reports some certificate problems as a failure even then, but a
        // handshake that failed (not TLS, a protocol error) must never pass.
        if (success || (this.#insecure && isCertificateError(authorizationError))) {
          settle?.resolve();
        } else {
          const cause = authorizationError ?? this.#error ?? new Error("not authorized");
          settle?.reject(dialError(cause, this.#peer, "handshake"));
        }
      };
    }
    return handler;
  }

  /** Takes the socket `Bun.connect` resolved with. */
  attach(socket: BunSocket): void {
    this.#socket = socket;
    if (this.#paused) this.#pauseSocket();
  }

  /** Resets a socket whose dial failed or was aborted. */
  abandon(socket: BunSocket): void {
    this.#closed = true;
    try {
      socket.terminate();
    } catch {
      // already closed
    }
  }

  start(onData: (chunk: Uint8Array) => unknown, onClose: (error?: Error) => void): void {
    if (this.#started) throw new Error("Connection.start() must be called only once");
    this.#started = true;
    this.#onData = onData;
    this.#onClose = onClose;
    if (!this.#held.empty || this.#ended) this.#held.schedule();
  }

  /** The socket is paused for a moment after a burst (see {@linkcode BunConnection.#linger}). */
  #lingering = false;

  /**
   * Pauses the socket for {@linkcode LINGER_MS} so that the next read brings
   * more (`onData` answered true).
   */
  #linger(): void {
    if (this.#lingering || this.#paused || this.#closed) return;
    this.#lingering = true;
    this.#pauseSocket();
    setTimeout(() => {
      this.#lingering = false;
      // A pause() meanwhile holds; so does a close (and resume() may have resumed it already).
      if (!this.#paused && !this.#closed) this.#resumeSocket();
    }, LINGER_MS);
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#pauseSocket();
  }

  #pauseSocket(): void {
    const socket = this.#socket;
    if (socket === undefined || this.#socketPaused) return;
    this.#socketPaused = true;
    try {
      socket.pause();
    } catch {
      // closed: "close" reports
    }
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#held.schedule(); // from a microtask: never inside resume()
  }

  #data(chunk: Uint8Array): void {
    if (this.#closed || this.#reported) return;
    if (!this.#started || this.#paused || this.#held.waiting) {
      this.#held.push(chunk);
    } else {
      this.#deliver(chunk);
    }
  }

  /** Delivers the held chunks (until paused again), then reads on, or reports the end. */
  #deliverHeld(): void {
    this.#held.drain(
      () => !this.#paused && !this.#closed && !this.#reported,
      (chunk) => this.#deliver(chunk),
    );
    if (this.#closed || this.#ended) {
      // A local close drops what is held; "close" (or this, after start()) reports.
      if (this.#ended && (this.#closed || !this.#paused)) this.#report();
      return;
    }
    if (this.#paused) return;
    this.#resumeSocket();
  }

  /** Resumes the socket if it was paused (by pause() or a linger). */
  #resumeSocket(): void {
    if (!this.#socketPaused) return;
    this.#socketPaused = false;
    try {
      this.#socket?.resume();
    } catch {
      // closed: "close" reports
    }
  }

  #deliver(chunk: Uint8Array): void {
    if (this.#closed || this.#reported) return;
    try {
      // The client owes nothing for a burst: let the next one gather (see Connection.start).
      // (Not after a large chunk: the stream outruns us and waiting would only slow it.)
      if (this.#onData!(chunk) === true && chunk.length < LINGER_MAX_CHUNK) this.#linger();
    } catch (err) {
      this.#error ??= toError(err);
      this.#socket?.terminate();
    }
  }

  #socketClosed(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error) this.#error ??= error;
    const settle = this.#handshakeSettle;
    this.#handshakeSettle = undefined;
    if (settle) {
      settle.reject(
        dialError(this.#error ?? new Error("connection closed"), this.#peer, "handshake"),
      );
    }
    this.#failWrites();
    // Bun may call "close" inside end(); report from a microtask so that
    // onClose never runs inside close(), and after the held chunks (which a
    // local close drops; a paused connection delivers them on resume()).
    if (!this.#started) return;
    if (this.#closed || !this.#held.waiting) {
      queueMicrotask(() => this.#report());
    }
  }

  write(data: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#closed || this.#ended || socket === undefined) {
      return Promise.reject(this.#closedError());
    }
    if (this.#writeHead < this.#writes.length) {
      // Behind another write: keep the order.
      return new Promise<void>((resolve, reject) => {
        this.#writes.push({ data, offset: 0, resolve, reject });
      });
    }
    const n = socket.write(data);
    if (n === data.length) return RESOLVED;
    if (n < 0) return Promise.reject(this.#closedError());
    return new Promise<void>((resolve, reject) => {
      this.#writes.push({ data, offset: n, resolve, reject });
    });
  }

  #drain(): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    while (this.#writeHead < this.#writes.length) {
      const w = this.#writes[this.#writeHead];
      const n = socket.write(w.data.subarray(w.offset));
      if (n < 0) {
        this.#failWrites();
        return;
      }
      w.offset += n;
      if (w.offset < w.data.length) return; // wait for the next drain
      this.#writes[this.#writeHead++] = undefined as unknown as PendingWrite;
      w.resolve();
    }
    this.#writes = [];
    this.#writeHead = 0;
  }

  #failWrites(): void {
    const writes = this.#writes;
    const head = this.#writeHead;
    this.#writes = [];
    this.#writeHead = 0;
    for (let i = head; i < writes.length; i++) writes[i].reject(this.#closedError());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failWrites();
    if (this.#ended) {
      // Ended while paused with chunks held: a local close drops them and reports.
      if (this.#started) queueMicrotask(() => this.#report());
      return;
    }
    const socket = this.#socket;
    try {
      // Over TLS, end() alone waits for the peer's close_notify, so a silent or
      // dead peer held the socket (and onClose) forever: shut the TCP stream down
      // first (measured: Bun then closes, FIN after the data already written).
      if (this.#tls) socket?.shutdown();
      socket?.end();
    } catch {
      // already closed
    }
    if (socket !== undefined && !this.#ended) {
      // A safety net: should Bun still not report "close", reset and report it.
      const timer = setTimeout(() => {
        if (this.#ended) return;
        try {
          socket.terminate();
        } catch {
          // already closed
        }
        // Bun does not call "close" for a socket terminated after end(): report it here.
        this.#socketClosed(undefined);
      }, CLOSE_GRACE_MS);
      (timer as { unref?: () => void }).unref?.();
    }
  }

  /** The connection's failure, classified once: what onClose and writes report. */
  #failed(): MqttError | undefined {
    if (this.#closed || this.#error === undefined) return undefined;
    return this.#failure ??= lostError(this.#error, this.#peer);
  }

  #closedError(): MqttError {
    return this.#failed() ?? closedError(this.#peer);
  }

  #report(): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#onClose!(this.#failed());
  }
}
