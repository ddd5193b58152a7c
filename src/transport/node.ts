/**
 * A {@linkcode DialFunc} on `node:net` and `node:tls`: the transport for Node,
 * and the one Deno falls back to for TLS options `Deno.connectTls` lacks.
 *
 * `mqtt://` and `tcp://` dial plain TCP; `mqtts://`, `tls://`, `ssl://` (or any
 * URL when `options.tls` is given) dial TLS with certificate verification on.
 * The port defaults to 1883 for TCP and 8883 for TLS. `unix:///path/to/socket`
 * dials a Unix domain socket (`net.connect({ path })`; no TLS).
 *
 * @example Connect with the Node transport
 * ```ts ignore
 * import { nodeDial } from "@mqttv5/client/transport/node";
 *
 * const conn = await nodeDial(new URL("mqtts://broker.example:8883"), {
 *   tls: { alpn: ["mqtt"] },
 *   signal: AbortSignal.timeout(10_000),
 * });
 * conn.start((chunk) => console.log(chunk.length), (err) => console.log("closed", err));
 * conn.close();
 * ```
 *
 * @module
 */

import { connect as netConnect, isIP, type Socket } from "node:net";
import {
  checkServerIdentity,
  connect as tlsConnect,
  type ConnectionOptions as NodeTlsConnectionOptions,
} from "node:tls";
import { toError } from "../_internal/error.ts";
import type { MqttError } from "../errors.ts";
import { closedError, dialError, lostError, type Peer } from "./_errors.ts";
import { type Endpoint, endpoint } from "./_endpoint.ts";
import { HeldChunks } from "./_held.ts";
import type { Connection, DialFunc, DialOptions, TlsOptions } from "./types.ts";

export type { Connection, DialFunc, DialOptions, TlsOptions } from "./types.ts";

function tlsOptions(ep: Endpoint, tls: TlsOptions): NodeTlsConnectionOptions {
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError("Cannot use TLS options: cert and key must be given together");
  }
  const serverName = tls.serverName ?? ep.host;
  const options: NodeTlsConnectionOptions = {
    host: ep.host,
    port: ep.port,
    rejectUnauthorized: tls.insecureSkipVerify !== true,
  };
  if (isIP(serverName) === 0) {
    options.servername = serverName; // SNI and the name verified.
  } else if (serverName !== ep.host) {
    // SNI must not carry an IP address (RFC 6066); verify against it anyway.
    options.checkServerIdentity = (_host, cert) => checkServerIdentity(serverName, cert);
  }
  if (tls.caCerts !== undefined) options.ca = tls.caCerts;
  if (tls.cert !== undefined) options.cert = tls.cert;
  if (tls.key !== undefined) options.key = tls.key;
  if (tls.alpn !== undefined) options.ALPNProtocols = tls.alpn;
  return options;
}

/**
 * Opens a TCP or TLS {@linkcode Connection} with `node:net` / `node:tls`.
 *
 * TLS maps {@linkcode TlsOptions} onto `tls.connect`: `caCerts` → `ca`
 * (replacing the default trust store), `cert`/`key`, `serverName` →
 * `servername` (SNI and the name verified; default: the URL's host),
 * `insecureSkipVerify` → `rejectUnauthorized: false`, `alpn` →
 * `ALPNProtocols`. Resolves once the TCP connection is up or, for TLS, once the
 * handshake and verification succeeded.
 *
 * Once resolved, the connection no longer listens to `options.signal`.
 * Inbound chunks are fresh `Uint8Array` views of the buffers the runtime
 * allocates for each read (not `Buffer`s, whose `slice` does not copy).
 * `pause()` / `resume()` map to `socket.pause()` / `socket.resume()`; a chunk
 * the socket still emits after `pause()` is held and delivered first on
 * `resume()` (under Deno 2.9, a paused `node:tls` socket still reads into
 * memory: `onData` stops, but TCP does not slow the sender; its `node:net`
 * sockets do stop reading). `write` resolves from the `socket.write`
 * callback; `close` destroys the socket at once.
 *
 * A `unix:///path/to/socket` URL dials that Unix domain socket with
 * `net.connect({ path })` (the path percent-decoded; TLS settings are
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
 * @throws {MqttError} `dns-failed`: the host name does not resolve
 *   (`ENOTFOUND`, `EAI_AGAIN`).
 * @throws {MqttError} `connect-failed`: the connection was refused, the host
 *   is unreachable, the Unix socket does not exist (`ENOENT`), or the
 *   connection closed before it was ready; the message names `host:port` (or
 *   the socket path).
 * @throws {MqttError} `tls-failed`: the TLS handshake failed (server
 *   certificate not trusted or not for this host, a client certificate
 *   required or rejected, a port that does not speak TLS); the message names
 *   the fix where it is known.
 * @throws {TypeError} The URL has no host, `cert` comes without `key`, or a
 *   `unix:` URL names a host, has no path, or comes with TLS settings.
 * @throws The `signal.reason` when `options.signal` aborts first.
 * Every `MqttError` carries the runtime's error as its `cause`.
 *
 * @example Plain TCP
 * ```ts ignore
 * import { nodeDial } from "@mqttv5/client/transport/node";
 *
 * const conn = await nodeDial(new URL("mqtt://127.0.0.1:1883"), {});
 * conn.close();
 * ```
 *
 * @example A Unix domain socket
 * ```ts ignore
 * import { nodeDial } from "@mqttv5/client/transport/node";
 *
 * const conn = await nodeDial(new URL("unix:///run/mosquitto/mqtt.sock"), {});
 * conn.close();
 * ```
 *
 * @example Mutual TLS with a private CA
 * ```ts ignore
 * import { readFile } from "node:fs/promises";
 * import { nodeDial } from "@mqttv5/client/transport/node";
 *
 * const conn = await nodeDial(new URL("mqtts://broker.internal:8883"), {
 *   tls: {
 *     caCerts: [await readFile("ca.pem", "utf8")],
 *     cert: await readFile("client.pem", "utf8"),
 *     key: await readFile("client.key", "utf8"),
 *   },
 * });
 * conn.close();
 * ```
 */
export const nodeDial: DialFunc = (url: URL, options: DialOptions): Promise<Connection> => {
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  let ep: Endpoint;
  let connectOptions: NodeTlsConnectionOptions | undefined;
  try {
    ep = endpoint(url, options);
    if (ep.tls) connectOptions = tlsOptions(ep, ep.tls);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise<Connection>((resolve, reject) => {
    const socket: Socket = connectOptions
      ? tlsConnect(connectOptions)
      : ep.unix !== undefined
      ? netConnect({ path: ep.unix })
      : netConnect({ host: ep.host, port: ep.port });
    let tcpUp = false;
    const onTcp = () => {
      tcpUp = true;
    };
    const cleanup = () => {
      socket.off("connect", onTcp);
      socket.off(connectOptions ? "secureConnect" : "connect", onReady);
      socket.off("error", onError);
      socket.off("close", onEarlyClose);
      signal?.removeEventListener("abort", onAbort);
    };
    const onReady = () => {
      const conn = new NodeConnection(socket, ep); // attaches its own listeners first
      cleanup();
      resolve(conn);
    };
    const onError = (err: Error) => {
      cleanup();
      socket.on("error", () => {}); // late errors of the destroyed socket
      socket.destroy();
      reject(dialError(err, ep, connectOptions && tcpUp ? "handshake" : "connect"));
    };
    // Closed before the connection was ready without an "error" (Bun's node:tls, for
    // one, only closes when the peer does not speak TLS).
    const onEarlyClose = () => onError(new Error("the connection closed before it was ready"));
    const onAbort = () => {
      cleanup();
      socket.on("error", () => {}); // late errors of the destroyed socket
      socket.destroy();
      reject(signal!.reason);
    };
    socket.on("connect", onTcp);
    socket.once(connectOptions ? "secureConnect" : "connect", onReady);
    socket.once("error", onError);
    socket.once("close", onEarlyClose);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
};

class NodeConnection implements Connection {
  readonly #socket: Socket;
  readonly #peer: Peer;
  /** close() was called. */
  #closed = false;
  /** The socket emitted "close". */
  #ended = false;
  #error: Error | undefined;
  /** #error as reported: the onClose error, and what later writes reject with. */
  #failure: MqttError | undefined;
  #started = false;
  #reported = false;
  #onData: ((chunk: Uint8Array) => void) | undefined;
  #onClose: ((error?: Error) => void) | undefined;
  #pendingReject: ((error: Error) => void) | undefined;
  #paused = false;
  /** Chunks that came while paused (or while earlier ones wait), oldest first. */
  #held = new HeldChunks(() => this.#drain());

  constructor(socket: Socket, peer: Peer) {
    this.#socket = socket;
    this.#peer = peer;
    socket.setNoDelay(true);
    socket.on("error", (err: Error) => {
      this.#error ??= err;
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#pendingReject?.(this.#closedError());
      // Chunks held while paused go first: report once resume() delivered them
      // (a local close drops them).
      if (this.#started && (this.#closed || this.#held.empty)) {
        this.#report();
      }
    });
  }

  start(onData: (chunk: Uint8Array) => void, onClose: (error?: Error) => void): void {
    if (this.#started) throw new Error("Connection.start() must be called only once");
    this.#started = true;
    this.#onData = onData;
    this.#onClose = onClose;
    if (this.#ended) {
      queueMicrotask(() => this.#report());
      return;
    }
    this.#socket.on("data", (buf: Uint8Array) => {
      if (this.#closed || this.#reported) return;
      const chunk = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      if (this.#paused || this.#held.waiting) {
        this.#held.push(chunk);
      } else {
        this.#deliver(chunk);
      }
    });
    // Attaching "data" starts the flow, unless pause() came first.
    if (this.#paused) this.#socket.pause();
  }

  #deliver(chunk: Uint8Array): void {
    try {
      this.#onData!(chunk);
    } catch (err) {
      this.#error ??= toError(err);
      this.#socket.destroy();
    }
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#held.schedule(); // from a microtask: never inside resume()
  }

  /** Delivers the held chunks (until paused again), then lets the socket flow. */
  #drain(): void {
    this.#held.drain(
      () => !this.#paused && !this.#closed && !this.#reported,
      (chunk) => this.#deliver(chunk),
    );
    if (this.#paused || this.#closed) return;
    if (this.#ended) this.#report();
    else this.#socket.resume();
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#closed || this.#ended || this.#socket.destroyed) {
      return Promise.reject(this.#closedError());
    }
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        if (this.#pendingReject === fail) this.#pendingReject = undefined;
        reject(error);
      };
      this.#pendingReject = fail; // close() and "close" reject it
      this.#socket.write(data, (err) => {
        if (settled) return;
        // Node calls back without an error when the socket was destroyed
        // with the write still pending: that write did not complete.
        if (!err && !this.#socket.destroyed) {
          settled = true;
          if (this.#pendingReject === fail) this.#pendingReject = undefined;
          resolve();
        } else if (this.#closed || this.#ended || !err) {
          fail(this.#closedError());
        } else {
          fail(this.#failed(err));
        }
      });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pendingReject?.(this.#closedError());
    this.#socket.destroy();
    // Paused with held chunks, "close" did not report: a local close drops them.
    if (this.#ended && this.#started) queueMicrotask(() => this.#report());
  }

  /** The connection's failure (the first runtime error wins), classified once. */
  #failed(err: Error): MqttError {
    this.#error ??= err;
    return this.#failure ??= lostError(this.#error, this.#peer);
  }

  #closedError(): MqttError {
    if (this.#closed || this.#error === undefined) return closedError(this.#peer);
    return this.#failed(this.#error);
  }

  #report(): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#onClose!(
      this.#closed || this.#error === undefined ? undefined : this.#failed(this.#error),
    );
  }
}
