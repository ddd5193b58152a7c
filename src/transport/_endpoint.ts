/**
 * Where a TCP/TLS adapter dials: the broker URL turned into host, port, TLS
 * settings and the `host:port` used in messages. One copy for the Deno, Bun
 * and Node adapters.
 *
 * @module
 */

import type { Peer } from "./_errors.ts";
import type { DialOptions, TlsOptions } from "./types.ts";

const TLS_SCHEMES = new Set(["mqtts:", "tls:", "ssl:"]);

/** A dial target. */
export interface Endpoint extends Peer {
  /** The TCP port. */
  port: number;
  /** TLS settings: `options.tls`, or `{}` for a TLS scheme; undefined for plain TCP. */
  tls: TlsOptions | undefined;
}

/**
 * Resolves `url` for a dial. The port defaults to 1883 for TCP and 8883 for
 * TLS; IPv6 brackets are removed from the host.
 *
 * @throws {TypeError} The URL has no host.
 */
export function endpoint(url: URL, options: DialOptions): Endpoint {
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
