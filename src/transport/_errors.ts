// The runtimes' connection errors as MqttErrors with a stable code and a
// message that names host:port (never the URL, which may hold credentials)
// and, where it can be known, the fix. Shared by the Deno, Bun, Node and
// WebSocket adapters.
//
// What the runtimes report, measured on Deno 2.9.6 (Deno.connect /
// Deno.connectTls on rustls, and node:tls), Bun 1.4.5 (Bun.connect and
// node:tls, both BoringSSL) and Node 20 (OpenSSL), against mosquitto 2.0.11:
//
// | failure | Deno | Node (and node:* under Deno / Bun) | Bun.connect |
// | --- | --- | --- | --- |
// | name does not resolve | `failed to lookup address information: ...` (no code) | `ENOTFOUND`, `EAI_AGAIN` | `ENOTFOUND` |
// | port closed | `ConnectionRefused`, code `ECONNREFUSED` | `ECONNREFUSED` | `ECONNREFUSED` |
// | server CA unknown | `invalid peer certificate: UnknownIssuer` | `SELF_SIGNED_CERT_IN_CHAIN`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, ... | the same codes |
// | name not in the certificate | `invalid peer certificate: NotValidForName...` | `ERR_TLS_CERT_ALTNAME_INVALID` | the same |
// | no client certificate (TLS 1.3: after the dial) | `received fatal alert: CertificateRequired` | `ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED` | `EPROTO`, `...TLSV1_ALERT_CERTIFICATE_REQUIRED` |
// | client certificate refused (TLS 1.3: after the dial) | `received fatal alert: UnknownCA` (`BadCertificate`, ...) | `ERR_SSL_TLSV1_ALERT_UNKNOWN_CA` (`..._BAD_CERTIFICATE`, ...) | `EPROTO`, `...TLSV1_ALERT_UNKNOWN_CA` |
// | plain port dialled with TLS | `ConnectionReset`, or `received corrupt message of type InvalidContentType` | `ECONNRESET`, `ERR_SSL_WRONG_VERSION_NUMBER` | `ECONNRESET`, `EPROTO` `WRONG_VERSION_NUMBER` |
// | peer resets an open connection | `ConnectionReset` | `ECONNRESET` | `ECONNRESET` |
// | Unix socket path missing | `NotFound`, code `ENOENT` | `ENOENT` | `ENOENT` |
// | Unix socket path not listened on (a stale socket, a regular file) | `ConnectionRefused`, code `ECONNREFUSED` | `ECONNREFUSED` | `ECONNREFUSED` |
// | Unix socket path too long | `TypeError`, code `EINVAL` | Node: `ENOENT` (truncated), Deno / Bun: `EINVAL` | `EINVAL` |
//
// Under TLS 1.3 the client finishes its handshake before the server has
// checked the client certificate, so the server's alert arrives on the first
// read of an open connection; `lostError()` turns such an alert into
// `tls-failed` too. Alerts appear in these errors only when the server sent
// them (an alert the client sends shows up as the verification error instead).
//
// `wsDial` words its failures through `_errors_plain.ts`, which uses these
// functions once `transport/ws.ts` has installed them: a browser bundle of the
// web entry leaves the tables out (a browser never says why a WebSocket
// failed).

import { MqttError } from "../errors.ts";
import { closedError, detail, type DialStage, type Peer } from "./_errors_plain.ts";

// Re-exported so that this module's documentation (`deno doc --lint`) reaches
// the types its functions return.
export { MqttError };
export type { MqttErrorCode, MqttErrorOptions } from "../errors.ts";
export { closedError, detail };
export type { DialStage, Peer };

/** What went wrong, as far as the runtime's error tells. */
export type FailureKind =
  | "cert-rejected"
  | "cert-required"
  | "handshake-refused"
  | "name-mismatch"
  | "expired"
  | "untrusted"
  | "server-cert"
  | "not-tls"
  | "dns"
  | "refused"
  | "no-socket"
  | "unreachable"
  | "timeout"
  | "reset"
  | "tls"
  | "other";

// Matched against the normalised text of an error and its causes (codes,
// names, messages): upper case, words joined by "_", CamelCase split
// ("UnknownCA" -> "UNKNOWN_CA"), wrapped in "_" so that /_X_/ is a whole word.
const PATTERNS: [FailureKind, RegExp][] = [
  // Alerts the server sent about our certificate.
  [
    "cert-rejected",
    /_ALERT_(BAD_CERTIFICATE|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|CERTIFICATE_UNKNOWN|UNKNOWN_CA)_/,
  ],
  ["cert-required", /_ALERT_CERTIFICATE_REQUIRED_/],
  ["handshake-refused", /_ALERT_HANDSHAKE_FAILURE_/],
  // The server's certificate, as we verified it.
  ["name-mismatch", /_(ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH|NOT_VALID_FOR_NAME)/],
  [
    "expired",
    /_(CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|INVALID_PEER_CERTIFICATE_(EXPIRED|NOT_VALID_YET))/,
  ],
  [
    "untrusted",
    /_(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_UNTRUSTED|UNKNOWN_ISSUER|UNABLE_TO_VERIFY_THE_FIRST_CERTIFICATE|SELF_SIGNED_CERTIFICATE)_/,
  ],
  ["server-cert", /_(INVALID_PEER_CERTIFICATE|CERT_[A-Z_]+|ERR_TLS_CERT[A-Z_]*)_/],
  // Bytes that are not TLS.
  [
    "not-tls",
    /_(WRONG_VERSION_NUMBER|INVALID_CONTENT_TYPE|CORRUPT_MESSAGE|HTTP_REQUEST|UNKNOWN_PROTOCOL|PACKET_LENGTH_TOO_LONG)_/,
  ],
  [
    "dns",
    /_(ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL|EAI_NODATA|EAI_ADDRFAMILY|FAILED_TO_LOOKUP_ADDRESS_INFORMATION|DNS_ERROR|NAME_OR_SERVICE_NOT_KNOWN|TEMPORARY_FAILURE_IN_NAME_RESOLUTION|NO_ADDRESS_ASSOCIATED_WITH_HOSTNAME)_/,
  ],
  ["refused", /_(ECONNREFUSED|CONNECTION_REFUSED)_/],
  // A Unix socket path that does not exist.
  ["no-socket", /_(ENOENT|NO_SUCH_FILE_OR_DIRECTORY)_/],
  [
    "unreachable",
    /_(EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ENETDOWN|EADDRNOTAVAIL|HOST_UNREACHABLE|NETWORK_UNREACHABLE|NO_ROUTE_TO_HOST|NETWORK_IS_UNREACHABLE|ADDR_NOT_AVAILABLE)_/,
  ],
  ["timeout", /_(ETIMEDOUT|TIMED_OUT)_/],
  [
    "reset",
    /_(ECONNRESET|ECONNABORTED|EPIPE|ENOTCONN|CONNECTION_RESET|CONNECTION_ABORTED|BROKEN_PIPE|NOT_CONNECTED|UNEXPECTED_EOF|UNEXPECTED_END_OF_FILE|CLOSE_NOTIFY|CONNECTION_ENDED|CLOSED_BEFORE_IT_WAS_READY)_/,
  ],
  ["tls", /_(ERR_SSL|ERR_TLS|SSL_ROUTINES|TLS|SSL|EPROTO|INVALID_DATA|HANDSHAKE)/],
];

function normalise(text: string): string {
  return text.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase().replace(/[^A-Z0-9]+/g, "_");
}

/** The error and its causes, outermost first (at most 6). */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  let e = err;
  while (e !== undefined && e !== null && out.length < 6 && !out.includes(e)) {
    out.push(e);
    e = typeof e === "object" ? (e as { cause?: unknown }).cause : undefined;
  }
  return out;
}

/**
 * Classifies a runtime's connection error (its `code`, `name`, `message`,
 * and those of its causes).
 *
 * @param err What the runtime threw or reported.
 * @returns The kind of failure; `"other"` when nothing is recognised.
 */
export function failureKind(err: unknown): FailureKind {
  const parts: string[] = [];
  for (const e of chain(err)) {
    if (typeof e !== "object") {
      parts.push(String(e));
      continue;
    }
    const o = e as { code?: unknown; name?: unknown; message?: unknown; reason?: unknown };
    for (const v of [o.code, o.name, o.message, o.reason]) {
      if (typeof v === "string") parts.push(v);
    }
  }
  const text = `_${normalise(parts.join(" "))}_`;
  for (const [kind, pattern] of PATTERNS) if (pattern.test(text)) return kind;
  return "other";
}

/** The message for a TLS failure of `kind`, or undefined when `kind` is not about TLS. */
function tlsMessage(kind: FailureKind, peer: Peer, err: unknown): string | undefined {
  const failed = `TLS handshake with ${peer.address} failed`;
  switch (kind) {
    case "cert-rejected":
      return `${failed}: the broker rejected our client certificate (is tls.cert signed by a CA the broker trusts, and still valid?)`;
    case "cert-required":
      return peer.clientCert
        ? `${failed}: the broker rejected our client certificate (it asked for one it trusts)`
        : `${failed}: the broker requires a client certificate: set tls.cert and tls.key`;
    case "handshake-refused":
      return peer.clientCert
        ? `${failed}: the broker refused the handshake (${detail(err)})`
        : `${failed}: the broker refused the handshake; if it requires a client certificate, set tls.cert and tls.key (${
          detail(err)
        })`;
    case "name-mismatch":
      return `${failed}: the server certificate does not match the host name "${
        peer.serverName ?? peer.host
      }": set tls.serverName to a name the certificate holds`;
    case "expired":
      return `${failed}: the server certificate has expired or is not yet valid (${detail(err)})`;
    case "untrusted":
      return `${failed}: the server certificate is not trusted: pass its CA in tls.caCerts`;
    case "server-cert":
      return `${failed}: the server certificate was rejected (${detail(err)})`;
    case "not-tls":
      return `${failed}: ${peer.address} does not speak TLS: use mqtt:// for a plain port`;
    case "tls":
      return `${failed}: ${detail(err)}`;
    default:
      return undefined;
  }
}

/**
 * The error a failed dial rejects with: `dns-failed`, `connect-failed` or
 * `tls-failed`, with `err` as the cause.
 *
 * @param err What the runtime threw or reported.
 * @param peer Where the dial went.
 * @param stage `"handshake"` once TCP was up and TLS was being negotiated: a
 *   connection closed then is a TLS failure (most often a port that does not
 *   speak TLS).
 * @returns The error to reject the dial with.
 */
export function dialError(err: unknown, peer: Peer, stage: DialStage): MqttError {
  if (err instanceof MqttError) return err;
  const kind = failureKind(err);
  const tls = tlsMessage(kind, peer, err);
  if (tls !== undefined) return new MqttError("tls-failed", tls, { cause: err });
  if (stage === "handshake" && kind !== "dns" && kind !== "refused" && kind !== "unreachable") {
    return new MqttError(
      "tls-failed",
      `TLS handshake with ${peer.address} failed: the connection closed during the handshake (${
        detail(err)
      }): does the port speak TLS? (use mqtt:// for a plain port)`,
      { cause: err },
    );
  }
  switch (kind) {
    case "dns":
      return new MqttError(
        "dns-failed",
        `Cannot connect to ${peer.address}: the host name ${peer.host} does not resolve (${
          detail(err)
        })`,
        { cause: err },
      );
    case "refused":
      return new MqttError(
        "connect-failed",
        `Cannot connect to ${peer.address}: connection refused: is a broker listening on ${peer.address}?`,
        { cause: err },
      );
    case "no-socket":
      return new MqttError(
        "connect-failed",
        `Cannot connect to ${peer.address}: no such socket: is a broker listening on ${peer.address}?`,
        { cause: err },
      );
    case "unreachable":
      return new MqttError(
        "connect-failed",
        `Cannot connect to ${peer.address}: the host or network is unreachable (${detail(err)})`,
        { cause: err },
      );
    case "timeout":
      return new MqttError("connect-failed", `Cannot connect to ${peer.address}: timed out`, {
        cause: err,
      });
    case "reset":
      return new MqttError(
        "connect-failed",
        `Cannot connect to ${peer.address}: the connection closed before it was ready (${
          detail(err)
        })`,
        { cause: err },
      );
    default:
      return new MqttError("connect-failed", `Cannot connect to ${peer.address}: ${detail(err)}`, {
        cause: err,
      });
  }
}

/**
 * The error an open connection fails with (its `onClose` error and the
 * rejection of writes): `tls-failed` for an alert the server sent about our
 * client certificate (under TLS 1.3 it arrives after the dial resolved),
 * else `connection-lost`; `err` is the cause.
 *
 * @param err What the runtime threw or reported.
 * @param peer Where the connection goes.
 * @returns The error to report.
 */
export function lostError(err: unknown, peer: Peer): MqttError {
  if (err instanceof MqttError) return err;
  const kind = failureKind(err);
  if (kind === "cert-rejected" || kind === "cert-required" || kind === "handshake-refused") {
    return new MqttError("tls-failed", tlsMessage(kind, peer, err)!, { cause: err });
  }
  const what = kind === "reset"
    ? `the connection was reset (${detail(err)})`
    : kind === "timeout"
    ? `timed out (${detail(err)})`
    : detail(err);
  return new MqttError("connection-lost", `Connection to ${peer.address} lost: ${what}`, {
    cause: err,
  });
}
