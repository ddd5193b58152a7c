/**
 * The transport contract: a {@linkcode DialFunc} opens a {@linkcode Connection}
 * to a broker URL. The client speaks MQTT over any byte stream that meets this
 * contract: TCP, TLS and Unix socket adapters for Deno, Bun and Node ship
 * with the package, `wsDial()` covers WebSocket, and tests plug in in-memory
 * pipes.
 *
 * ## The Connection contract
 *
 * - **Reading.** The client calls {@linkcode Connection.start} exactly once.
 *   The adapter then calls `onData(chunk)` for every chunk of inbound bytes, in
 *   order, and `onClose(error?)` exactly once when the stream ends (no error
 *   for an orderly end). The chunk belongs to the client from then on: the
 *   adapter must never write into a buffer it has handed over (copy first when
 *   the runtime reuses its read buffer). `onData` is never called after
 *   `onClose`.
 * - **Writing.** {@linkcode Connection.write} writes all of `data` and resolves
 *   when the runtime has taken every byte (partial writes are resumed by the
 *   adapter); `data` may be reused by the caller after that. The client keeps
 *   at most one write in flight. A write on a broken or closed connection
 *   rejects.
 * - **Closing.** {@linkcode Connection.close} closes both directions at once,
 *   is idempotent, and leads to `onClose` (if `start` was called).
 * - **Pausing.** {@linkcode Connection.pause} (optional) stops reading: once
 *   it returns, `onData` is not called until {@linkcode Connection.resume},
 *   and the runtime leaves further bytes in the kernel, so TCP slows the
 *   sender. Chunks the adapter already had (a read in flight, a chunk the
 *   runtime still handed over) are held and delivered first, in order, from a
 *   microtask after `resume()` (never inside it). Both are idempotent;
 *   `close()` while paused drops the held chunks and still leads to one
 *   `onClose`. An end the adapter sees while it holds chunks is reported
 *   after they were delivered.
 * - **Failing.** The shipped adapters reject a failed dial with an
 *   `MqttError` (`dns-failed`, `connect-failed`, `tls-failed`; the runtime's
 *   error is the `cause`), and report a failed connection to `onClose` and to
 *   later writes as `connection-lost` (or `tls-failed`, for a TLS alert the
 *   broker sends about our client certificate after the handshake). An
 *   aborted dial rejects with `signal.reason`; bad arguments with a
 *   `TypeError`.
 *
 * @example A DialFunc that logs before delegating
 * ```ts
 * import type { DialFunc } from "@mqttv5/client";
 *
 * function logged(inner: DialFunc): DialFunc {
 *   return (url, options) => {
 *     console.log("dialing", url.href);
 *     return inner(url, options);
 *   };
 * }
 * ```
 *
 * @module
 */

/**
 * TLS settings for `mqtts://`, `tls://`, `ssl://` and `wss://`. Certificate
 * verification is on unless `insecureSkipVerify` is set.
 *
 * @example Trust a private CA
 * ```ts
 * import type { TlsOptions } from "@mqttv5/client";
 *
 * const tls: TlsOptions = {
 *   caCerts: ["-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----"],
 *   serverName: "broker.internal",
 * };
 * ```
 */
export interface TlsOptions {
  /**
   * PEM-encoded CA certificates to trust. Node and Bun trust only these; Deno
   * adds them to its root store (`Deno.connectTls` cannot replace it).
   */
  caCerts?: string[];
  /** PEM-encoded client certificate chain, for mutual TLS. */
  cert?: string;
  /** PEM-encoded private key of `cert`. */
  key?: string;
  /**
   * The name to verify the server certificate against (SNI).
   *
   * @default {the URL's host name}
   */
  serverName?: string;
  /**
   * Skip server certificate verification. Never in production.
   *
   * @default {false}
   */
  insecureSkipVerify?: boolean;
  /** ALPN protocols to offer, for example `["mqtt"]`. */
  alpn?: string[];
}

/**
 * What the client passes to a {@linkcode DialFunc} for each attempt.
 *
 * @example Bound a dial with a signal
 * ```ts
 * import type { DialOptions } from "@mqttv5/client";
 *
 * const options: DialOptions = { signal: AbortSignal.timeout(5000) };
 * ```
 */
export interface DialOptions {
  /** TLS settings; present for TLS schemes. */
  tls?: TlsOptions;
  /** Aborted when the attempt times out or the client gives up. */
  signal?: AbortSignal;
}

/**
 * An open byte stream to a broker. See the module documentation for the full
 * contract adapters must meet.
 *
 * @example Write to and read from a connection
 * ```ts
 * import type { Connection } from "@mqttv5/client";
 *
 * async function ping(conn: Connection) {
 *   conn.start((chunk) => console.log(chunk.byteLength), (err) => console.log("closed", err));
 *   await conn.write(new Uint8Array([0xc0, 0x00])); // PINGREQ
 * }
 * ```
 */
export interface Connection {
  /**
   * Starts delivering inbound bytes. Called once.
   *
   * @param onData Receives each inbound chunk; the chunk is the client's to
   *   keep. It returns `true` (anything else: no hint) after a chunk that brought many packets and
   *   needs no answer: the broker is sending faster than the client reads,
   *   and nothing waits on what comes next. The adapter may then wait a moment
   *   before it reads again (the shipped Deno and Bun adapters: 1 ms, and not
   *   after a read that filled its buffer or brought 8 KiB or more), so the
   *   next read brings more and a
   *   sustained stream costs fewer reads and wake-ups. An adapter may ignore it.
   * @param onClose Called once when the stream ends, with the error if it
   *   failed (the shipped adapters: an `MqttError`, `connection-lost` or
   *   `tls-failed`).
   */
  start(onData: (chunk: Uint8Array) => unknown, onClose: (error?: Error) => void): void;
  /**
   * Writes all of `data`.
   *
   * @param data The bytes; the caller may reuse the buffer once this resolves.
   * @returns Resolves when the runtime has taken every byte.
   */
  write(data: Uint8Array): Promise<void>;
  /** Closes the connection. Idempotent. */
  close(): void;
  /**
   * Stops reading: the runtime leaves inbound bytes in the kernel, so a
   * broker that keeps sending backs up in TCP (how the client slows the
   * broker for a slow consumer). Once `pause()` returns, `onData` is not
   * called until {@linkcode Connection.resume}; bytes read meanwhile are held
   * by the adapter and delivered first, in order. Idempotent. Optional: a
   * connection without it (a WebSocket, which has no receive backpressure)
   * keeps delivering and the client holds the chunks itself.
   */
  pause?(): void;
  /** Starts reading again after {@linkcode Connection.pause}. Idempotent. */
  resume?(): void;
}

/**
 * Opens a {@linkcode Connection} to `url`. Rejects when the connection cannot
 * be made (or `options.signal` aborts, with the signal's reason). The shipped
 * adapters reject with an `MqttError` whose code says what failed:
 * `dns-failed`, `connect-failed` or `tls-failed`, with the runtime's error as
 * the `cause` and a message that names `host:port` (for a
 * `unix:///path/to/socket` URL, the socket path), never the URL.
 *
 * @example An in-memory transport for tests
 * ```ts
 * import type { Connection, DialFunc } from "@mqttv5/client";
 *
 * const dial: DialFunc = (_url, _options) => {
 *   const conn: Connection = {
 *     start(_onData, _onClose) {},
 *     write(_data) {
 *       return Promise.resolve();
 *     },
 *     close() {},
 *   };
 *   return Promise.resolve(conn);
 * };
 * ```
 */
export type DialFunc = (url: URL, options: DialOptions) => Promise<Connection>;
