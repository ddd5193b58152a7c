/**
 * A {@linkcode DialFunc} on `Deno.connect` and `Deno.connectTls`: the
 * transport the client picks under Deno.
 *
 * `mqtt://` and `tcp://` dial plain TCP; `mqtts://`, `tls://`, `ssl://` (or any
 * URL when `options.tls` is given) dial TLS with certificate verification on.
 * The port defaults to 1883 for TCP and 8883 for TLS. `unix:///path/to/socket`
 * dials a Unix domain socket (`Deno.connect({ transport: "unix" })`; no TLS).
 *
 * ## What `Deno.connectTls` can and cannot do (Deno 2.9)
 *
 * | {@linkcode TlsOptions} | under Deno |
 * | --- | --- |
 * | `caCerts` | `caCerts`: trusted **in addition to** Deno's root store (webpki roots, or the system store with `DENO_TLS_CA_STORE=system`), not instead of it |
 * | `cert` + `key` | `cert` + `key` (mutual TLS) |
 * | `alpn` | `alpnProtocols` |
 * | `serverName` | not supported: `connectTls` sends and verifies the host it connects to. (`Deno.startTls` takes a separate name but cannot present a client certificate.) |
 * | `insecureSkipVerify` | not supported: only `unsafelyDisableHostnameVerification` exists, which still verifies the chain |
 *
 * When `serverName` differs from the URL's host, or `insecureSkipVerify` is
 * set, {@linkcode denoDial} therefore dials through the `node:tls` adapter
 * (`./node.ts`, loaded on demand), which supports both under Deno. Every other
 * dial uses the Deno APIs. (Such a connection, paused, still reads into
 * memory: Deno's `node:tls` does not stop reading a paused socket.)
 *
 * One more limit of `Deno.connectTls`: a `TlsConn` closed while its handshake
 * is still running does not close its TCP socket until the handshake ends
 * (Deno finishes a handshake before shutting a TLS stream down). An abort
 * during the handshake still rejects at once with `signal.reason`, but the
 * socket lingers inside Deno until the server answers or hangs up.
 *
 * @example Connect with the Deno transport
 * ```ts ignore
 * import { denoDial } from "@mqttv5/client/transport/deno";
 *
 * const conn = await denoDial(new URL("mqtts://broker.example:8883"), {
 *   tls: { alpn: ["mqtt"] },
 *   signal: AbortSignal.timeout(10_000),
 * });
 * conn.start((chunk) => console.log(chunk.length), (err) => console.log("closed", err));
 * conn.close();
 * ```
 *
 * @module
 */

import { abortable } from "../_internal/async.ts";
import type { MqttError } from "../errors.ts";
import { LINGER_MAX_CHUNK, LINGER_MS, PauseGate } from "./_gate.ts";
import { closedError, dialError, lostError, type Peer } from "./_errors.ts";
import { type Endpoint, endpoint } from "./_endpoint.ts";
import type { Connection, DialFunc, DialOptions, TlsOptions } from "./types.ts";

export type { Connection, DialFunc, DialOptions, TlsOptions } from "./types.ts";

/** Size of each read slab while data streams in. Chunks are views into it; it is never written twice. */
const SLAB_SIZE = 64 * 1024;
/** A fresh slab is taken when less than this much is left at the tail. */
const MIN_READ = 8 * 1024;
/**
 * Size of a read slab while little arrives: an idle connection's pending read
 * holds one of these, not 64 KiB. A read that fills its space switches to
 * {@linkcode SLAB_SIZE} slabs; one that brings less than
 * {@linkcode SMALL_READ} bytes switches back. Each fill doubles the size of
 * the connection's small slabs, up to {@linkcode SLAB_SMALL_MAX}, so messages
 * a little larger than a small slab do not switch back and forth on every read.
 */
const SLAB_SMALL = 512;
/** The largest small slab (see {@linkcode SLAB_SMALL}). */
const SLAB_SMALL_MAX = 2 * 1024;
/** A fresh small slab is taken when less than this much is left at its tail. */
const MIN_READ_SMALL = 128;
/** A read this short on a large slab means traffic is light: read into small slabs again. */
const SMALL_READ = 1024;

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/**
 * Opens a TCP or TLS {@linkcode Connection} with `Deno.connect` /
 * `Deno.connectTls`.
 *
 * TLS passes `caCerts`, `cert` + `key` and `alpn` (as `alpnProtocols`) to
 * `Deno.connectTls`, which uses the URL's host for SNI and verification, and
 * resolves only after the handshake completed. `serverName` (when it differs
 * from the URL's host) and `insecureSkipVerify` are beyond `Deno.connectTls`;
 * such dials go through the `node:tls` adapter instead (see the module
 * documentation). Deno adds `caCerts` to its root store rather than replacing
 * it.
 *
 * Reading fills slabs front to back and hands out `subarray` views, so a
 * chunk is never overwritten once delivered (a chunk kept by the client keeps
 * its slab alive): slabs of 512 bytes to 2 KiB while little arrives (an idle
 * connection's pending read holds no more), 64 KiB ones once a read fills its slab.
 * `pause()` stops the read loop from calling `conn.read` (a read already in flight keeps its chunk until `resume()`),
 * so the kernel's receive buffer fills and TCP slows the broker. When
 * `onData` answers true (a burst the client owes nothing for), the next read
 * waits 1 ms, unless the read filled its slab or brought 8 KiB or more. `write`
 * loops until `conn.write` has taken every byte. `close` closes the socket at
 * once. Once resolved, the connection no longer listens to `options.signal`.
 *
 * A connection that fails later reports an {@linkcode MqttError} to
 * `onClose` and rejects writes with it: `connection-lost`, or `tls-failed`
 * when the broker sent a TLS alert about our client certificate (under TLS
 * 1.3 that alert comes after the handshake, on the first read).
 *
 * A `unix:///path/to/socket` URL dials that Unix domain socket with
 * `Deno.connect({ transport: "unix", path })` (the path percent-decoded; TLS
 * settings are refused) and behaves the same way; failures name the path.
 *
 * Needs `--allow-net` for the broker's host; a Unix socket needs
 * `--allow-read` and `--allow-write` for its path instead.
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
 * @throws {TypeError} The URL has no host, `cert` comes without `key`, or a
 *   `unix:` URL names a host, has no path, or comes with TLS settings.
 * @throws The `signal.reason` when `options.signal` aborts first.
 * Every `MqttError` carries the runtime's error as its `cause`.
 *
 * @example Plain TCP
 * ```ts ignore
 * import { denoDial } from "@mqttv5/client/transport/deno";
 *
 * const conn = await denoDial(new URL("mqtt://127.0.0.1:1883"), {});
 * conn.close();
 * ```
 *
 * @example A Unix domain socket
 * ```ts ignore
 * import { denoDial } from "@mqttv5/client/transport/deno";
 *
 * const conn = await denoDial(new URL("unix:///run/mosquitto/mqtt.sock"), {});
 * conn.close();
 * ```
 *
 * @example Mutual TLS with a private CA
 * ```ts ignore
 * import { denoDial } from "@mqttv5/client/transport/deno";
 *
 * const conn = await denoDial(new URL("mqtts://broker.internal:8883"), {
 *   tls: {
 *     caCerts: [await Deno.readTextFile("ca.pem")],
 *     cert: await Deno.readTextFile("client.pem"),
 *     key: await Deno.readTextFile("client.key"),
 *   },
 * });
 * conn.close();
 * ```
 */
export const denoDial: DialFunc = async (
  url: URL,
  options: DialOptions,
): Promise<Connection> => {
  const signal = options.signal;
  signal?.throwIfAborted();
  const ep = endpoint(url, options);
  if (ep.unix !== undefined) return new DenoConnection(await connectUnix(ep.unix, ep, signal), ep);
  const tls = ep.tls;
  if (tls === undefined) return new DenoConnection(await connectTcp(ep, signal), ep);
  if (
    tls.insecureSkipVerify === true || (tls.serverName !== undefined && tls.serverName !== ep.host)
  ) {
    const { nodeDial } = await import("./node.ts");
    return nodeDial(url, options);
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError("Cannot use TLS options: cert and key must be given together");
  }
  return new DenoConnection(await connectTls(ep, tls, signal), ep);
};

async function connectTcp(ep: Endpoint, signal: AbortSignal | undefined): Promise<Deno.TcpConn> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: ep.host, port: ep.port, signal });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw dialError(err, ep, "connect");
  }
  if (signal?.aborted) {
    closeQuietly(conn);
    throw signal.reason;
  }
  try {
    conn.setNoDelay(true);
  } catch {
    // not fatal
  }
  return conn;
}

async function connectUnix(
  path: string,
  peer: Peer,
  signal: AbortSignal | undefined,
): Promise<Deno.UnixConn> {
  // Deno.connect takes no signal for a Unix socket: race it, close a late one.
  try {
    return await abortable(Deno.connect({ transport: "unix", path }), signal, closeQuietly);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw dialError(err, peer, "connect");
  }
}

async function connectTls(
  ep: Endpoint,
  tls: TlsOptions,
  signal: AbortSignal | undefined,
): Promise<Deno.TlsConn> {
  const base: Deno.ConnectTlsOptions = { hostname: ep.host, port: ep.port };
  if (tls.caCerts !== undefined) base.caCerts = tls.caCerts;
  if (tls.alpn !== undefined) base.alpnProtocols = tls.alpn;
  const options = tls.cert !== undefined && tls.key !== undefined
    ? { ...base, cert: tls.cert, key: tls.key }
    : base;
  // Deno.connectTls has no signal: race it and close whatever arrives late.
  let conn: Deno.TlsConn;
  try {
    conn = await abortable(Deno.connectTls(options), signal, closeQuietly);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw dialError(err, ep, "connect");
  }
  // connectTls resolves after the TCP connect; make the handshake (and the
  // certificate verification) happen now so that failures reject the dial.
  const onAbort = () => closeQuietly(conn);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await conn.handshake();
  } catch (err) {
    closeQuietly(conn);
    if (signal?.aborted) throw signal.reason;
    throw dialError(err, ep, "handshake");
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  if (signal?.aborted) {
    closeQuietly(conn);
    throw signal.reason;
  }
  return conn;
}

class DenoConnection implements Connection {
  readonly #conn: Deno.Conn;
  readonly #peer: Peer;
  /** close() was called, or the read loop ended. */
  #closed = false;
  /** close() was called: the end is orderly whatever the read loop saw. */
  #closedLocally = false;
  #started = false;
  #reported = false;
  #onClose: ((error?: Error) => void) | undefined;
  /** Why the connection failed: the onClose error, and what later writes reject with. */
  #failure: MqttError | undefined;
  /** A write is in progress; later ones wait in #waiting, in order. */
  #writing = false;
  #waiting: { data: Uint8Array; resolve: () => void; reject: (e: Error) => void }[] = [];
  /** pause() was called: the read loop waits (holding the chunk of a read in flight). */
  /** Holds the read loop back while the client pauses reading. */
  readonly #gate = new PauseGate();

  constructor(conn: Deno.Conn, peer: Peer) {
    this.#conn = conn;
    this.#peer = peer;
  }

  start(onData: (chunk: Uint8Array) => unknown, onClose: (error?: Error) => void): void {
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

  async #readLoop(onData: (chunk: Uint8Array) => unknown): Promise<void> {
    let small = SLAB_SMALL;
    let slab = new Uint8Array(small);
    let offset = 0;
    let error: Error | undefined;
    try {
      while (true) {
        if (this.#gate.paused) await this.#gate.wait(() => this.#closed);
        if (this.#closed) break;
        const big = slab.length === SLAB_SIZE;
        if (slab.length - offset < (big ? MIN_READ : MIN_READ_SMALL)) {
          slab = new Uint8Array(big ? SLAB_SIZE : small);
          offset = 0;
        }
        const n = await this.#conn.read(slab.subarray(offset));
        if (n === null || this.#closed) break;
        const chunk = slab.subarray(offset, offset + n);
        offset += n;
        // The read took all the room it had: more is likely waiting, read on at once.
        const filled = offset === slab.length;
        if (n === slab.length && !big) {
          // A whole small slab filled (a tail filling up proves nothing): more
          // may be waiting, read on into large slabs.
          if (small < SLAB_SMALL_MAX) small *= 2;
          slab = new Uint8Array(SLAB_SIZE);
          offset = 0;
        } else if (n < SMALL_READ && big) {
          // Light traffic: the next read (perhaps a long wait) holds a small slab.
          slab = new Uint8Array(small);
          offset = 0;
        }
        // A read in flight when pause() was called: its chunk waits for resume().
        if (this.#gate.paused) await this.#gate.wait(() => this.#closed);
        if (this.#closed) break;
        // The client owes nothing for a burst: let the next one gather (see Connection.start).
        if (onData(chunk) === true && !filled && n < LINGER_MAX_CHUNK) {
          await new Promise((r) => setTimeout(r, LINGER_MS));
        }
      }
    } catch (err) {
      if (!this.#closedLocally) error = this.#failure ??= lostError(err, this.#peer);
    }
    if (!this.#closed) {
      this.#closed = true;
      closeQuietly(this.#conn);
    }
    this.#report(error);
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    // conn.write may take part of the bytes; a write started while another is
    // resuming its rest would interleave with it, so writes run one at a time.
    if (this.#writing) {
      return new Promise((resolve, reject) => this.#waiting.push({ data, resolve, reject }));
    }
    return this.#write(data);
  }

  async #write(data: Uint8Array): Promise<void> {
    this.#writing = true;
    try {
      if (this.#closed) throw this.#closedError();
      let written = await this.#conn.write(data);
      while (written < data.length) written += await this.#conn.write(data.subarray(written));
    } catch (err) {
      if (this.#closed) throw this.#closedError();
      throw this.#failure ?? lostError(err, this.#peer);
    } finally {
      this.#writing = false;
      const next = this.#waiting.shift();
      if (next !== undefined) this.#write(next.data).then(next.resolve, next.reject);
    }
  }

  close(): void {
    if (this.#closedLocally) return;
    this.#closedLocally = true;
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#conn); // a pending read rejects; the read loop reports
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
