// The words `wsDial` fails with, without the classifier of `_errors.ts`.
//
// A browser says nothing about why a WebSocket failed (no code, no message:
// the reason is hidden from scripts on purpose), so the tables that turn
// Deno's, Bun's and Node's reasons into `dns-failed` / `tls-failed` with a fix
// can never match there, and they cost about 1.5 KB of the 30 KB brotli budget
// of `Client` + `wsDial`. `_ws.ts` therefore words failures plainly
// (`connect-failed` / `connection-lost` with the runtime's own words) unless
// the public module `ws.ts` was imported, which installs the classifier: then
// `wsDial` reports exactly what the Deno, Bun and Node adapters report. The
// web entry (`web.ts`) exports the `wsDial` of `_ws.ts`.

import { MqttError } from "../errors.ts";

/** Where a connection goes, for messages. */
export interface Peer {
  /** The host name or address dialled (a Unix socket: its path). */
  host: string;
  /**
   * `host:port` (`[v6]:port`), or a Unix socket's path: never the URL, which
   * may hold credentials.
   */
  address: string;
  /** The name the server certificate is verified against (TLS). */
  serverName?: string;
  /** Whether a client certificate was offered (TLS). */
  clientCert?: boolean;
}

/** How far a dial got when it failed. */
export type DialStage = "connect" | "handshake";

/** A classifier of runtime errors: the dial and lost errors of `_errors.ts`. */
export interface ErrorWords {
  /** The error a failed dial rejects with. */
  dial(err: unknown, peer: Peer, stage: DialStage): MqttError;
  /** The error an open connection fails with. */
  lost(err: unknown, peer: Peer): MqttError;
}

let words: ErrorWords | undefined;

/**
 * Installs the classifier `wsDial` words its failures with (`ws.ts` installs
 * the one of `_errors.ts`).
 *
 * @param w The classifier.
 */
export function setErrorWords(w: ErrorWords): void {
  words = w;
}

/**
 * The runtime's own words for `err`, for the end of a message: one line, any
 * URL taken out (Bun's WebSocket names the URL, which may hold credentials).
 *
 * @param err What the runtime threw or reported.
 * @returns One line of text.
 */
export function detail(err: unknown): string {
  let e = err;
  // Skip our own wrappers.
  while (e instanceof MqttError && e.cause !== undefined) e = e.cause;
  let text: string;
  if (e instanceof Error) {
    const reason = (e as { reason?: unknown }).reason;
    // OpenSSL's messages are "<hex>:error:<code>:<library>:<function>:<reason>:<file>:<line>";
    // Node gives the reason on its own.
    text = typeof reason === "string" && /:error:/.test(e.message) ? reason : e.message;
  } else {
    text = String(e);
  }
  text = text
    .replace(/WebSocket connection to '[^']*' failed:?\s*/g, "")
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]*/gi, "<url>")
    .split("\n")[0]
    .trim();
  return text === "" ? "no detail" : text;
}

/**
 * The error a failed dial rejects with: the installed classifier's, else
 * `connect-failed` with the runtime's words.
 *
 * @param err What the runtime threw or reported.
 * @param peer Where the dial went.
 * @param stage How far the dial got.
 * @returns The error to reject the dial with.
 */
export function dialError(err: unknown, peer: Peer, stage: DialStage): MqttError {
  if (err instanceof MqttError) return err;
  if (words !== undefined) return words.dial(err, peer, stage);
  return new MqttError("connect-failed", `Cannot connect to ${peer.address}: ${detail(err)}`, {
    cause: err,
  });
}

/**
 * The error an open connection fails with: the installed classifier's, else
 * `connection-lost` with the runtime's words.
 *
 * @param err What the runtime threw or reported.
 * @param peer Where the connection goes.
 * @returns The error to report.
 */
export function lostError(err: unknown, peer: Peer): MqttError {
  if (err instanceof MqttError) return err;
  if (words !== undefined) return words.lost(err, peer);
  return new MqttError("connection-lost", `Connection to ${peer.address} lost: ${detail(err)}`, {
    cause: err,
  });
}

/**
 * The error a write on a closed connection rejects with: `connection-lost`.
 *
 * @param peer Where the connection went.
 * @returns The error.
 */
export function closedError(peer: Peer): MqttError {
  return new MqttError(
    "connection-lost",
    `Cannot write to ${peer.address}: the connection is closed`,
  );
}
