// wsDial on the standard WebSocket alone: what the web entry (web.ts) exports.
// The public module `ws.ts` is this plus the parts only Deno, Bun and Node
// have (handshake headers and TLS settings through each runtime's options
// object, and the classifier that turns their error texts into dns-failed /
// tls-failed with the fix), which it installs when imported. A browser bundle
// of the web entry leaves those out: a browser can apply none of them and
// never says why a WebSocket failed (about 1.9 KB of the 30 KB brotli budget
// of Client + wsDial). See ws.ts for the documentation.
import type { MqttError } from "../errors.ts";
import { closedError, dialError, lostError, type Peer } from "./_errors_plain.ts";
import type { Connection, DialFunc, DialOptions, TlsOptions } from "./types.ts";

export type { Connection, DialFunc, DialOptions, TlsOptions } from "./types.ts";

/**
 * Options of {@linkcode wsDial}.
 *
 * @example An extra handshake header and an older subprotocol
 * ```ts
 * import { wsDial, type WsDialOptions } from "@mqttv5/client/transport/ws";
 *
 * const options: WsDialOptions = {
 *   protocols: ["mqtt", "mqttv3.1"],
 *   headers: { authorization: "Bearer token" },
 * };
 * const dial = wsDial(options);
 * ```
 */
export interface WsDialOptions {
  /**
   * The subprotocols to offer, in order of preference. MQTT brokers expect
   * `mqtt` (some older ones `mqttv3.1`); an empty array offers none.
   *
   * @default {["mqtt"]}
   */
  protocols?: string[];
  /**
   * Extra headers for the opening handshake, for example `authorization` or
   * `cookie`. Supported by Deno, Bun and Node; browsers cannot set handshake
   * headers, and a dial with headers rejects there with a `TypeError`.
   *
   * @default {none}
   */
  headers?: Record<string, string>;
}

/** `write()` waits once more than this much is queued in the WebSocket. */
const HIGH_WATER = 1024 * 1024;
/** ... until it is back below this. */
const LOW_WATER = 256 * 1024;
/** How often a waiting `write()` looks at `bufferedAmount` (there is no drain event). */
const DRAIN_POLL_MS = 5;
/** A local close reports `onClose` when the close handshake ends, or after this. */
const CLOSE_WAIT_MS = 3000;

/** Where `url` goes, for messages: `host:port`, never the URL, whose path or credentials may hold secrets. */
function peerOf(url: URL, tls: TlsOptions | undefined): Peer {
  const port = url.port !== "" ? url.port : url.protocol === "wss:" ? "443" : "80";
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return {
    host,
    address: `${url.hostname}:${port}`,
    serverName: tls?.serverName ?? host,
    clientCert: tls?.cert !== undefined,
  };
}

/** What a `WebSocket` constructor takes besides the URL: subprotocols, or a runtime's options object. */
export type WebSocketInit = string[] | Record<string, unknown>;

/**
 * Builds the constructor's second argument for settings the standard
 * `WebSocket` cannot take (handshake headers, TLS), and what to release with
 * the connection; the runtime entry of `ws.ts` installs one for Deno, Bun and
 * Node.
 */
export type RuntimeInit = (
  url: URL,
  protocols: string[],
  headers: Record<string, string> | undefined,
  tls: TlsOptions | undefined,
) => { init: WebSocketInit; release: (() => void) | undefined };

let runtimeInit: RuntimeInit | undefined;

/**
 * Installs the builder of runtime WebSocket options (`ws.ts` does, for Deno,
 * Bun and Node).
 *
 * @param init The builder.
 */
export function setRuntimeInit(init: RuntimeInit): void {
  runtimeInit = init;
}

/** Whether `tls` holds a setting the standard `WebSocket` cannot apply. */
function hasTlsSettings(tls: TlsOptions | undefined): boolean {
  if (tls === undefined) return false;
  return tls.caCerts !== undefined || tls.cert !== undefined || tls.key !== undefined ||
    tls.insecureSkipVerify === true || tls.serverName !== undefined;
}

/**
 * The constructor's second argument: the plain protocol list when nothing
 * else is needed (works everywhere), else what the installed runtime builder
 * makes of headers and TLS settings.
 */
function socketInit(
  url: URL,
  protocols: string[],
  headers: Record<string, string> | undefined,
  tls: TlsOptions | undefined,
): { init: WebSocketInit; release: (() => void) | undefined } {
  const withTls = url.protocol === "wss:" && hasTlsSettings(tls);
  const withHeaders = headers !== undefined && Object.keys(headers).length > 0;
  if (!withTls && !withHeaders) return { init: protocols, release: undefined };
  if (runtimeInit !== undefined) return runtimeInit(url, protocols, headers, tls);
  throw new TypeError(
    `Cannot dial with wsDial ${
      withHeaders ? "headers" : "TLS settings"
    }: the standard WebSocket cannot apply them (a browser never can; on Deno, Bun and Node import wsDial from @mqttv5/client/transport/ws, not /web)`,
  );
}

/**
 * Returns a {@linkcode DialFunc} that opens MQTT connections over the
 * web-standard `WebSocket` (`globalThis.WebSocket`), for `ws://` and `wss://`
 * broker URLs.
 *
 * The URL is used as given (path and query included; a `#fragment` is
 * dropped); the port defaults to 80 for `ws://` and 443 for `wss://`. The
 * dial resolves once the opening handshake succeeded. For `wss://`, the
 * client's `tls` option is applied as far as the runtime allows (see the
 * module documentation); without it the runtime's trust store decides.
 *
 * @param options Subprotocols to offer and extra handshake headers.
 * @returns A dial function for `ClientOptions.dial`.
 * @throws {TypeError} When `protocols` or `headers` has the wrong shape.
 *
 * The returned function rejects with a `TypeError` for a URL that is not
 * `ws://` / `wss://`, when there is no global `WebSocket`, or for a setting
 * the runtime cannot apply; with `signal.reason` when `options.signal` aborts
 * first; and otherwise with an {@linkcode MqttError} naming `host:port` (the
 * runtime's error event, as far as it tells, is the `cause`):
 * `dns-failed` when the runtime says the name does not resolve (Deno does;
 * Bun's WebSocket reports every connect failure alike), `tls-failed` when it
 * says the server certificate was refused, else `connect-failed` (refused,
 * reset, the upgrade refused, the server closing before the handshake
 * completed). The connection reports `connection-lost` to `onClose` and to
 * writes once it fails.
 *
 * The `wsDial` of `@mqttv5/client/web` is the same function on the standard
 * `WebSocket` alone, so that a browser bundle carries nothing a browser cannot
 * use: it rejects handshake headers and TLS settings with a `TypeError` (import
 * `wsDial` from `@mqttv5/client/transport/ws` on Deno, Bun and Node for them),
 * and words every failure as `connect-failed` / `connection-lost` with the
 * runtime's own words (a browser gives none).
 *
 * @example A client over WebSocket
 * ```ts ignore
 * import { Client } from "@mqttv5/client";
 * import { wsDial } from "@mqttv5/client/transport/ws";
 *
 * await using client = new Client({ broker: "ws://127.0.0.1:8080/mqtt", dial: wsDial() });
 * await client.connect();
 * await client.publish({ topic: "hello", payload: "world", qos: 1 });
 * ```
 *
 * @example Handshake headers, and a private CA for wss:// (Deno and Bun)
 * ```ts ignore
 * import { Client } from "@mqttv5/client";
 * import { wsDial } from "@mqttv5/client/transport/ws";
 *
 * const client = new Client({
 *   broker: "wss://broker.internal/mqtt",
 *   dial: wsDial({ headers: { authorization: "Bearer token" } }),
 *   tls: { caCerts: [await Deno.readTextFile("ca.pem")] },
 * });
 * ```
 *
 * @example Use the dial function directly
 * ```ts ignore
 * import { wsDial } from "@mqttv5/client/transport/ws";
 *
 * const dial = wsDial({ protocols: ["mqtt"] });
 * const conn = await dial(new URL("ws://127.0.0.1:8080/mqtt"), {
 *   signal: AbortSignal.timeout(5_000),
 * });
 * conn.start((chunk) => console.log(chunk.length), (err) => console.log("closed", err));
 * conn.close();
 * ```
 */
export function wsDial(options: WsDialOptions = {}): DialFunc {
  const protocols = options.protocols ?? ["mqtt"];
  if (!Array.isArray(protocols) || protocols.some((p) => typeof p !== "string" || p === "")) {
    throw new TypeError("wsDial protocols must be an array of non-empty strings");
  }
  const headers = options.headers;
  if (headers !== undefined) {
    if (headers === null || typeof headers !== "object") {
      throw new TypeError("wsDial headers must be an object of header names to strings");
    }
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value !== "string") {
        throw new TypeError(`wsDial header "${name}" must be a string`);
      }
    }
  }
  const offered = [...protocols];
  const extra = headers === undefined ? undefined : { ...headers };
  return (url: URL, dialOptions: DialOptions): Promise<Connection> =>
    dialWebSocket(url, dialOptions, offered, extra);
}

function dialWebSocket(
  url: URL,
  options: DialOptions,
  protocols: string[],
  headers: Record<string, string> | undefined,
): Promise<Connection> {
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    return Promise.reject(
      new TypeError(`Cannot dial a ${url.protocol} URL with wsDial: use ws:// or wss://`),
    );
  }
  const Ctor = (globalThis as {
    WebSocket?: new (url: string, init?: WebSocketInit) => WebSocket;
  }).WebSocket;
  if (typeof Ctor !== "function") {
    return Promise.reject(
      new TypeError(
        "Cannot dial with wsDial: this runtime has no global WebSocket (Node needs 22+, or 20 with --experimental-websocket)",
      ),
    );
  }
  const peer = peerOf(url, url.protocol === "wss:" ? options.tls : undefined);
  let target = url.href;
  if (url.hash !== "") {
    const u = new URL(url.href);
    u.hash = "";
    target = u.href;
  }
  let ws: WebSocket;
  let release: (() => void) | undefined;
  try {
    const built = socketInit(url, protocols, headers, options.tls);
    release = built.release;
    ws = new Ctor(target, built.init);
  } catch (err) {
    release?.();
    if (err instanceof TypeError) return Promise.reject(err);
    return Promise.reject(dialError(err, peer, "connect"));
  }
  const conn = new WsConnection(ws, peer, release);
  return new Promise<Connection>((resolve, reject) => {
    const onAbort = () => {
      conn.close();
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    conn.opened.then(
      () => {
        signal?.removeEventListener("abort", onAbort);
        if (signal?.aborted) {
          conn.close();
          reject(signal.reason);
        } else {
          resolve(conn);
        }
      },
      (err) => {
        signal?.removeEventListener("abort", onAbort);
        reject(signal?.aborted ? signal.reason : err);
      },
    );
  });
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;

/** A {@linkcode Connection} over one WebSocket. */
class WsConnection implements Connection {
  readonly #ws: WebSocket;
  readonly #peer: Peer;
  #release: (() => void) | undefined;
  #state = CONNECTING;
  #closedLocally = false;
  #started = false;
  #reported = false;
  /** The socket is gone and its resources released. */
  #finished = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Messages that arrived before start(). */
  #early: Uint8Array[] | undefined = [];
  /** Why the connection failed, when it did. */
  #error: MqttError | undefined;
  /** The last error event's message. */
  #lastError = "";
  #onData: ((chunk: Uint8Array) => void) | undefined;
  #onClose: ((error?: Error) => void) | undefined;
  #open: { resolve: () => void; reject: (err: MqttError) => void } | undefined;
  /** Settles when the opening handshake succeeded or failed. */
  readonly opened: Promise<void>;

  constructor(ws: WebSocket, peer: Peer, release: (() => void) | undefined) {
    this.#ws = ws;
    this.#peer = peer;
    this.#release = release;
    this.opened = new Promise<void>((resolve, reject) => {
      this.#open = { resolve, reject };
    });
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      if (this.#state !== CONNECTING) return;
      this.#state = OPEN;
      const open = this.#open!;
      this.#open = undefined;
      open.resolve();
    };
    ws.onmessage = (e: MessageEvent) => this.#message(e.data);
    ws.onerror = (e: Event) => {
      const m = (e as ErrorEvent).message;
      if (typeof m === "string" && m !== "") this.#lastError = m;
    };
    ws.onclose = (e: CloseEvent) => this.#closed(e.code, e.reason, e.wasClean);
  }

  #message(data: unknown): void {
    if (this.#state === CLOSED) return;
    if (!(data instanceof ArrayBuffer)) {
      // [MQTT-6.0.0-1] MQTT is carried in binary messages only.
      this.#fail(lostError(new Error("the server sent a text message"), this.#peer));
      return;
    }
    const chunk = new Uint8Array(data);
    if (this.#early !== undefined) this.#early.push(chunk);
    else this.#onData!(chunk);
  }

  /** Fails the connection with `error` and closes the socket. */
  #fail(error: MqttError): void {
    if (this.#state === CLOSED) return;
    this.#error ??= error;
    this.#shut();
  }

  /** Starts the close handshake, and reports when it ends (or after CLOSE_WAIT_MS). */
  #shut(): void {
    const wasConnecting = this.#state === CONNECTING;
    this.#state = CLOSED;
    try {
      this.#ws.close(1000);
    } catch {
      // already closing
    }
    if (wasConnecting) {
      const open = this.#open;
      this.#open = undefined;
      open?.reject(
        this.#error ??
          dialError(new Error("closed before the WebSocket opened"), this.#peer, "connect"),
      );
    }
    this.#closeTimer ??= setTimeout(() => this.#finish(), CLOSE_WAIT_MS);
  }

  #closed(code: number, reason: string, wasClean: boolean): void {
    if (this.#state === CONNECTING) {
      this.#state = CLOSED;
      const detail = this.#lastError !== "" ? this.#lastError : `closed with code ${code}`;
      const err = dialError(new Error(detail), this.#peer, "connect");
      const open = this.#open;
      this.#open = undefined;
      open?.reject(err);
    } else if (this.#state === OPEN) {
      this.#state = CLOSED;
      if (!(wasClean && code === 1000)) {
        const detail = this.#lastError !== ""
          ? this.#lastError
          : `closed with code ${code}${reason !== "" ? ` (${reason})` : ""}`;
        this.#error ??= lostError(new Error(detail), this.#peer);
      }
    }
    this.#finish();
  }

  /** The socket is gone: release resources and report once (after start). */
  #finish(): void {
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#state = CLOSED;
    this.#finished = true;
    const release = this.#release;
    this.#release = undefined;
    release?.();
    if (this.#started) this.#report();
  }

  #report(): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#onClose!(this.#closedLocally ? undefined : this.#error);
  }

  start(onData: (chunk: Uint8Array) => void, onClose: (error?: Error) => void): void {
    if (this.#started) throw new Error("Connection.start() must be called only once");
    this.#started = true;
    this.#onData = onData;
    this.#onClose = onClose;
    const early = this.#early!;
    this.#early = undefined;
    for (let i = 0; i < early.length; i++) {
      if (this.#state === CLOSED && this.#error !== undefined) break;
      onData(early[i]);
    }
    if (this.#finished) queueMicrotask(() => this.#report());
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#state !== OPEN || this.#ws.readyState !== 1) {
      return Promise.reject(this.#closedError());
    }
    try {
      this.#ws.send(data);
    } catch (err) {
      return Promise.reject(lostError(err, this.#peer));
    }
    if (this.#ws.bufferedAmount <= HIGH_WATER) return Promise.resolve();
    return this.#drain();
  }

  #drain(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.#state !== OPEN) {
          reject(this.#closedError());
        } else if (this.#ws.bufferedAmount <= LOW_WATER) {
          resolve();
        } else {
          setTimeout(check, DRAIN_POLL_MS);
        }
      };
      setTimeout(check, DRAIN_POLL_MS);
    });
  }

  #closedError(): MqttError {
    return (this.#closedLocally ? undefined : this.#error) ?? closedError(this.#peer);
  }

  close(): void {
    if (this.#closedLocally) return;
    this.#closedLocally = true;
    if (this.#state === CLOSED) {
      if (this.#started && this.#finished) queueMicrotask(() => this.#report());
      return;
    }
    this.#shut();
  }
}
