/**
 * Where a TCP/TLS/Unix socket adapter dials: the broker URL turned into host,
 * port, TLS settings and the `host:port` used in messages, or, for
 * `unix:///path/to/socket`, the socket path. One copy for the Deno, Bun and
 * Node adapters (and, for {@linkcode unixSocketPath}, for the client's broker
 * URL check).
 *
 * @module
 */

import type { Peer } from "./_errors_plain.ts";
import type { DialOptions, TlsOptions } from "./types.ts";

const TLS_SCHEMES = new Set(["mqtts:", "tls:", "ssl:"]);

/** The scheme of a broker on a Unix domain socket: `unix:///path/to/socket`. */
export const UNIX_SCHEME = "unix:";

/** A dial target. */
export interface Endpoint extends Peer {
  /** The TCP port; 0 for a Unix socket. */
  port: number;
  /** TLS settings: `options.tls`, or `{}` for a TLS scheme; undefined for plain TCP. */
  tls: TlsOptions | undefined;
  /**
   * The Unix domain socket path, for a `unix:` URL (then `host` and
   * `address` are this path too); undefined for TCP and TLS.
   */
  unix?: string;
}

/**
 * The socket path of a `unix:///path/to/socket` URL, percent-decoded
 * (`unix:///run/my%20broker.sock` is `/run/my broker.sock`).
 *
 * @param url A URL whose protocol is `unix:`.
 * @param subject What the messages call the URL.
 * @returns The absolute path.
 * @throws {TypeError} The URL names a host (`unix://tmp/mqtt.sock`, two
 *   slashes), is not of the form `unix:///...` (`unix:/tmp/mqtt.sock`), has no
 *   path or only `/`, has a query or fragment, or its path has a malformed
 *   percent-encoding or a NUL byte. The message names the rule (never the
 *   URL's credentials, which a `unix:` URL cannot carry anyway).
 */
export function unixSocketPath(url: URL, subject = "A unix: URL"): string {
  if (url.hostname !== "") {
    throw new TypeError(
      `${subject} must not name a host ("${url.hostname}"): write three slashes, unix:///path/to/socket`,
    );
  }
  if (!url.href.startsWith("unix://") || !url.pathname.startsWith("/")) {
    throw new TypeError(
      `${subject} must have the form unix:///path/to/socket, with three slashes and an absolute path`,
    );
  }
  if (url.search !== "" || url.hash !== "") {
    throw new TypeError(
      `${subject} must not have a query or fragment: write ? as %3F and # as %23 in the socket path`,
    );
  }
  if (url.pathname === "/") {
    throw new TypeError(`${subject} must name a socket path: unix:///path/to/socket`);
  }
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    throw new TypeError(`${subject} must not have a malformed percent-encoding in its path`);
  }
  if (path.includes("\0")) {
    throw new TypeError(`${subject} must not have a NUL byte (%00) in its path`);
  }
  const bytes = new TextEncoder().encode(path).length;
  if (bytes > MAX_UNIX_PATH) {
    // Node cuts a longer path short and dials another one; Deno and Bun fail with EINVAL.
    throw new TypeError(
      `${subject} names a socket path of ${bytes} bytes; a Unix socket path holds at most ${MAX_UNIX_PATH} (Linux; 103 on macOS): use a shorter path`,
    );
  }
  return path;
}

/** The longest Unix socket path Linux takes: `sun_path` is 108 bytes with its NUL. */
const MAX_UNIX_PATH = 107;

/**
 * Resolves `url` for a dial. The port defaults to 1883 for TCP and 8883 for
 * TLS; IPv6 brackets are removed from the host. A `unix:` URL resolves to its
 * socket path (see {@linkcode unixSocketPath}).
 *
 * @throws {TypeError} The URL has no host; a `unix:` URL that breaks a rule
 *   of {@linkcode unixSocketPath}, or comes with TLS settings.
 */
export function endpoint(url: URL, options: DialOptions): Endpoint {
  if (url.protocol === UNIX_SCHEME) {
    if (options.tls !== undefined) {
      throw new TypeError(
        "Cannot dial a unix: URL with TLS settings: TLS over a Unix socket is not supported",
      );
    }
    const path = unixSocketPath(url);
    return { host: path, port: 0, address: path, tls: undefined, unix: path };
  }
  const tls = options.tls ?? (TLS_SCHEMES.has(url.protocol) ? {} : undefined);
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  if (host === "") throw new TypeError(`Cannot dial a ${url.protocol} URL without a host name`);
  const port = url.port === "" ? (tls ? 8883 : 1883) : Number(url.port);
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return {
    host,
    port,
    address,
    tls,
    serverName: tls?.serverName ?? host,
    clientCert: tls?.cert !== undefined,
  };
}
