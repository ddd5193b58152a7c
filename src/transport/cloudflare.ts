/**
 * A {@linkcode DialFunc} for Cloudflare Workers (and workerd): TCP and TLS
 * through `connect()` from `cloudflare:sockets`.
 *
 * `mqtt://` and `tcp://` dial plain TCP; `mqtts://`, `tls://`, `ssl://` (or
 * any URL when `options.tls` is given) dial TLS (`secureTransport: "on"`),
 * verified against the runtime's own trust store. The port defaults to 1883
 * for TCP and 8883 for TLS. Use it with the web entry, which carries no
 * Deno, Bun or Node transport:
 *
 * ```ts ignore
 * import { Client } from "@mqttv5/client/web";
 * import { cloudflareDial } from "@mqttv5/client/transport/cloudflare";
 *
 * const client = new Client({ broker: "mqtts://broker.example:8883", dial: cloudflareDial() });
 * ```
 *
 * `cloudflare:sockets` is loaded on the first dial with a dynamic `import()`
 * whose specifier is not a literal, so that Deno, JSR and bundlers leave it
 * alone (and the module still type-checks and loads outside Workers; dialing
 * there rejects with a `TypeError`). A bundler that cannot leave such an
 * import in place can be given `connect` instead:
 * `cloudflareDial({ connect })` with `import { connect } from "cloudflare:sockets"`.
 *
 * ## What Workers' `connect()` can do
 *
 * | {@linkcode TlsOptions} | on Workers |
 * | --- | --- |
 * | `caCerts` | no: the runtime's trust store only (workerd: its network service's `tlsOptions`) |
 * | `cert` + `key` (mutual TLS) | no |
 * | `serverName` | only the URL's host |
 * | `insecureSkipVerify` | no |
 * | `alpn` | no |
 *
 * A setting the runtime cannot apply rejects the dial with a `TypeError`
 * naming it rather than being dropped silently.
 *
 * Workers tie a socket to the request (or Durable Object) that opened it:
 * create the client, use it and close it within one request, or keep it in
 * a Durable Object. Cloudflare's network refuses some destinations (its own
 * addresses, port 25); workerd dials what its network service allows.
 * Workers' errors say little: a refused port, an unknown host and a failed
 * TLS handshake all reject with `connect-failed` ("proxy request failed,
 * cannot connect to the specified address", measured on workerd 2026-11-23).
 *
 * @example Publish from a Worker
 * ```ts ignore
 * import { Client } from "@mqttv5/client/web";
 * import { cloudflareDial } from "@mqttv5/client/transport/cloudflare";
 *
 * export default {
 *   async fetch(request: Request): Promise<Response> {
 *     await using client = new Client({
 *       broker: "mqtts://broker.example:8883",
 *       dial: cloudflareDial(),
 *     });
 *     await client.connect();
 *     await client.publish({ topic: "worker/hits", payload: request.url, qos: 1 });
 *     return new Response("published");
 *   },
 * };
 * ```
 *
 * @module
 */

import type { MqttError } from "../errors.ts";
import { PauseGate } from "./_gate.ts";
import { closedError, dialError, lostError, type Peer } from "./_errors.ts";
import { type Endpoint, endpoint } from "./_endpoint.ts";
import type { Connection, DialFunc, DialOptions, TlsOptions } from "./types.ts";

export type { Connection, DialFunc, DialOptions, TlsOptions } from "./types.ts";

/**
 * The part of a `cloudflare:sockets` `Socket` this adapter uses.
 *
 * @example A socket from `connect()`
 * ```ts ignore
 * import { connect } from "cloudflare:sockets";
 * import type { CloudflareSocket } from "@mqttv5/client/transport/cloudflare";
 *
 * const socket: CloudflareSocket = connect({ hostname: "broker.example", port: 1883 });
 * await socket.opened;
 * ```
 */
export interface CloudflareSocket {
  /** Inbound bytes. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Outbound bytes. */
  readonly writable: WritableStream<Uint8Array>;
  /** Resolves once the connection (and, with TLS, the handshake) is up; rejects when it fails. */
  readonly opened: Promise<unknown>;
  /** Resolves once the socket is closed; rejects when it failed. */
  readonly closed: Promise<unknown>;
  /**
   * Closes both directions.
   *
   * @returns Resolves once the socket is closed.
   */
  close(): Promise<void>;
}

/**
 * The options of `connect()` from `cloudflare:sockets` that this adapter sets.
 *
 * @example TLS without half-open connections
 * ```ts
 * import type { CloudflareSocketOptions } from "@mqttv5/client/transport/cloudflare";
 *
 * const options: CloudflareSocketOptions = { secureTransport: "on", allowHalfOpen: false };
 * ```
 */
export interface CloudflareSocketOptions {
  /** `"on"` for TLS from the start, `"off"` for plain TCP. */
  secureTransport?: "off" | "on" | "starttls";
  /** Whether the writable side stays open once the peer ended its side. */
  allowHalfOpen?: boolean;
}

/**
 * The signature of `connect()` from `cloudflare:sockets`.
 *
 * @example Pass Workers' connect explicitly
 * ```ts ignore
 * import { connect } from "cloudflare:sockets";
 * import { type CloudflareConnect, cloudflareDial } from "@mqttv5/client/transport/cloudflare";
 *
 * const connectFn: CloudflareConnect = connect;
 * const dial = cloudflareDial({ connect: connectFn });
 * ```
 */
export type CloudflareConnect = (
  address: { hostname: string; port: number },
  options?: CloudflareSocketOptions,
) => CloudflareSocket;

/**
 * Options of {@linkcode cloudflareDial}.
 *
 * @example The default: load `cloudflare:sockets` on the first dial
 * ```ts
 * import { cloudflareDial, type CloudflareDialOptions } from "@mqttv5/client/transport/cloudflare";
 *
 * const options: CloudflareDialOptions = {};
 * const dial = cloudflareDial(options);
 * ```
 */
export interface CloudflareDialOptions {
  /**
   * `connect` from `cloudflare:sockets`, for a bundler or a test that
   * provides it.
   *
   * @default {loaded with `import("cloudflare:sockets")` on the first dial}
   */
  connect?: CloudflareConnect;
}

let loading: Promise<CloudflareConnect> | undefined;

function loadConnect(): Promise<CloudflareConnect> {
  // A literal specifier: Deno and JSR leave a scheme they do not know alone, bundlers
  // for Workers resolve it, and the Node builds mark cloudflare:* external.
  loading ??= import("cloudflare:sockets").then(
    (m: { connect?: unknown }) => {
      if (typeof m.connect !== "function") throw new Error("it has no connect()");
      return m.connect as CloudflareConnect;
    },
  ).catch((err: unknown) => {
    loading = undefined;
    throw new TypeError(
      "Cannot use cloudflareDial: cloudflare:sockets is not available (it exists on Cloudflare Workers and workerd)",
      { cause: err },
    );
  });
  return loading;
}

const SCHEMES = new Set(["mqtt:", "tcp:", "mqtts:", "tls:", "ssl:"]);

function unsupported(what: string): TypeError {
  return new TypeError(
    `Cannot dial with tls.${what}: Cloudflare's connect() cannot apply it (it verifies the URL's host against the runtime's trust store)`,
  );
}

/** Rejects the TLS settings Workers cannot apply. */
function checkTls(ep: Endpoint, tls: TlsOptions): void {
  if (tls.caCerts !== undefined) throw unsupported("caCerts");
  if (tls.cert !== undefined || tls.key !== undefined) throw unsupported("cert and tls.key");
  if (tls.insecureSkipVerify === true) throw unsupported("insecureSkipVerify");
  if (tls.serverName !== undefined && tls.serverName !== ep.host) {
    throw unsupported("serverName");
  }
  if (tls.alpn !== undefined && tls.alpn.length > 0) throw unsupported("alpn");
}

function closeQuietly(socket: CloudflareSocket): void {
  try {
    socket.close().catch(() => {});
  } catch {
    // already closed
  }
}

/**
 * Returns a {@linkcode DialFunc} that opens TCP or TLS connections with
 * `connect()` from `cloudflare:sockets`.
 *
 * The dial resolves once `socket.opened` did (for TLS: after the handshake
 * and the verification of the server certificate). Reading pulls from the
 * socket's `readable`, whose every chunk is a fresh buffer (checked on
 * workerd: the runtime never writes to a chunk once read), so chunks are
 * passed on without a copy. `pause()` stops pulling, so the bytes stay in
 * the runtime's socket and TCP slows the broker; a read in flight keeps its
 * chunk until `resume()`. `write` resolves once the socket's `writable` has
 * taken the bytes. `close` closes the socket at once. Once resolved, the
 * connection no longer listens to `options.signal`.
 *
 * @param options Where `connect()` comes from.
 * @returns The dial function, for `new Client({ dial })`.
 * @throws {MqttError} (from the dial) `connect-failed` when the connection
 *   or the TLS handshake fails (Workers do not say which), `dns-failed` when
 *   the runtime says the name does not resolve; the message names
 *   `host:port`, and the runtime's error is the `cause`.
 * @throws {TypeError} (from the dial) Not on Workers (no
 *   `cloudflare:sockets`), a scheme other than `mqtt`, `tcp`, `mqtts`, `tls`,
 *   `ssl`, a URL without a host, or a TLS setting Workers cannot apply.
 * @throws (from the dial) The `signal.reason` when `options.signal` aborts
 *   first.
 *
 * @example Connect from a Worker over TLS
 * ```ts ignore
 * import { Client } from "@mqttv5/client/web";
 * import { cloudflareDial } from "@mqttv5/client/transport/cloudflare";
 *
 * await using client = new Client({
 *   broker: "mqtts://broker.example:8883",
 *   dial: cloudflareDial(),
 * });
 * await client.connect();
 * ```
 *
 * @example Give it connect() yourself
 * ```ts ignore
 * import { connect } from "cloudflare:sockets";
 * import { cloudflareDial } from "@mqttv5/client/transport/cloudflare";
 *
 * const dial = cloudflareDial({ connect });
 * ```
 */
export function cloudflareDial(options: CloudflareDialOptions = {}): DialFunc {
  const given = options.connect;
  if (given !== undefined && typeof given !== "function") {
    throw new TypeError("Cannot use cloudflareDial: options.connect must be a function");
  }
  return async (url: URL, dialOptions: DialOptions): Promise<Connection> => {
    const signal = dialOptions.signal;
    signal?.throwIfAborted();
    if (!SCHEMES.has(url.protocol)) {
      throw new TypeError(
        `Cannot dial a ${url.protocol} URL with cloudflareDial: use mqtt:// or mqtts:// (wsDial() for ws:// and wss://)`,
      );
    }
    const ep = endpoint(url, dialOptions);
    if (ep.tls !== undefined) checkTls(ep, ep.tls);
    const connect = given ?? await loadConnect();
    signal?.throwIfAborted();
    let socket: CloudflareSocket;
    try {
      socket = connect({ hostname: ep.host, port: ep.port }, {
        secureTransport: ep.tls !== undefined ? "on" : "off",
        allowHalfOpen: false,
      });
    } catch (err) {
      throw dialError(err, ep, "connect");
    }
    // A failure reaches `opened`, the read loop and write(); this would go unhandled.
    socket.closed.catch(() => {});
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_resolve, reject) => {
      if (signal === undefined) return;
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([socket.opened, aborted]);
    } catch (err) {
      closeQuietly(socket);
      if (signal?.aborted) throw signal.reason;
      throw dialError(err, ep, "connect");
    } finally {
      if (onAbort !== undefined) signal!.removeEventListener("abort", onAbort);
    }
    return new CloudflareConnection(socket, ep);
  };
}

/** A {@linkcode Connection} over one `cloudflare:sockets` socket. */
class CloudflareConnection implements Connection {
  readonly #socket: CloudflareSocket;
  readonly #peer: Peer;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  /** close() was called, or the read loop ended. */
  #closed = false;
  /** close() was called: the end is orderly whatever the read loop saw. */
  #closedLocally = false;
  #started = false;
  #reported = false;
  #onClose: ((error?: Error) => void) | undefined;
  /** Why the connection failed: the onClose error, and what later writes reject with. */
  #failure: MqttError | undefined;
  /** pause() was called: the read loop waits (holding the chunk of a read in flight). */
  /** Holds the read loop back while the client pauses reading. */
  readonly #gate = new PauseGate();

  constructor(socket: CloudflareSocket, peer: Peer) {
    this.#socket = socket;
    this.#peer = peer;
    this.#reader = socket.readable.getReader();
    this.#writer = socket.writable.getWriter();
    // A failure reaches the read loop and write(); this would go unhandled.
    this.#writer.closed.catch(() => {});
  }

  start(onData: (chunk: Uint8Array) => void, onClose: (error?: Error) => void): void {
    if (this.#started) throw new Error("Connection.start() must be called only once");
    this.#started = true;
    this.#onClose = onClose;
    if (this.#closed) queueMicrotask(() => this.#report(undefined));
    else void this.#readLoop(onData);
  }

  pause(): void {
    this.#gate.pause();
  }

  resume(): void {
    this.#gate.resume(); // the loop goes on from a microtask, never inside resume()
  }

  async #readLoop(onData: (chunk: Uint8Array) => void): Promise<void> {
    const reader = this.#reader;
    let error: Error | undefined;
    try {
      while (true) {
        if (this.#gate.paused) await this.#gate.wait(() => this.#closed);
        if (this.#closed) break;
        const { done, value } = await reader.read();
        if (done || this.#closed) break;
        // A read in flight when pause() was called: its chunk waits for resume().
        if (this.#gate.paused) await this.#gate.wait(() => this.#closed);
        if (this.#closed) break;
        if (value.byteLength > 0) onData(value);
      }
    } catch (err) {
      if (!this.#closedLocally) error = this.#failure ??= lostError(err, this.#peer);
    }
    if (!this.#closed) {
      this.#closed = true;
      closeQuietly(this.#socket);
    }
    this.#report(error);
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    // The writable queues writes in order; its promise settles once the
    // socket has taken these bytes.
    return this.#writer.write(data).catch((err: unknown) => {
      throw this.#closed ? this.#closedError() : this.#failure ?? lostError(err, this.#peer);
    });
  }

  close(): void {
    if (this.#closedLocally) return;
    this.#closedLocally = true;
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#socket); // a pending read settles; the read loop reports
    this.#gate.wake(); // a paused read loop ends and reports
  }

  #closedError(): MqttError {
    return (this.#closedLocally ? undefined : this.#failure) ?? closedError(this.#peer);
  }

  #report(error: Error | undefined): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#onClose!(this.#closedLocally ? undefined : error);
  }
}
