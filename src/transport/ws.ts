/**
 * MQTT over WebSocket (MQTT v5 §6): {@linkcode wsDial} returns a
 * {@linkcode DialFunc} on the web-standard `WebSocket`, for `ws://` and
 * `wss://` broker URLs. The client has no built-in transport for these
 * schemes: pass the dial function explicitly.
 *
 * ```ts ignore
 * new Client({ broker: "ws://127.0.0.1:8080/mqtt", dial: wsDial() });
 * ```
 *
 * It offers the subprotocol `mqtt` (RFC 6455 `Sec-WebSocket-Protocol`), sends
 * every MQTT byte in binary messages [MQTT-6.0.0-1], and accepts packets that
 * span messages or share one [MQTT-6.0.0-2]; a text message from the server
 * fails the connection.
 *
 * ## What each runtime's `WebSocket` can do
 *
 * The standard constructor takes only a URL and subprotocols. Deno, Bun and
 * Node also take a (non-standard) options object, which this module uses only
 * when it must: for `headers`, and for TLS settings on `wss://`.
 *
 * | | Deno 2.x | Bun 1.x | Node (global `WebSocket`: 22+, or 20 with `--experimental-websocket`) | browsers |
 * | --- | --- | --- | --- | --- |
 * | `headers` | yes | yes | yes | no: `wsDial` rejects the dial with a `TypeError` |
 * | `tls.caCerts` | yes, through a `Deno.createHttpClient({ caCerts })` (added to the root store) | yes (`tls.ca`) | no | no |
 * | `tls.cert` + `tls.key` (mutual TLS) | yes (`createHttpClient`) | yes | no | no |
 * | `tls.insecureSkipVerify` | no | yes (`rejectUnauthorized: false`) | no | no |
 * | `tls.serverName` | no | yes | no | no |
 * | `tls.alpn` | ignored: the upgrade is HTTP/1.1 | ignored | ignored | ignored |
 *
 * A TLS setting the runtime cannot apply rejects the dial with a `TypeError`
 * naming it, rather than being dropped silently. Without TLS settings a
 * `wss://` dial verifies the server against the runtime's trust store. To
 * trust a private CA where the table says no, extend that store for the
 * process instead: `NODE_EXTRA_CA_CERTS=/path/ca.pem` (Node, and Bun),
 * `DENO_CERT=/path/ca.pem` or `--cert /path/ca.pem` (Deno), or
 * `DENO_TLS_CA_STORE=system` / `--use-system-ca` to use the operating
 * system's store. Deno's `--unsafely-ignore-certificate-errors=<host>` skips
 * verification for named hosts (tests only).
 *
 * ## The Connection it returns
 *
 * Each binary message becomes one `onData` chunk: a view of the message's own
 * `ArrayBuffer`, which the runtime never reuses, so chunks are never written to
 * after delivery. `write()` hands the bytes to `WebSocket.send()` (which
 * copies them: client frames are masked into a fresh buffer) and resolves at
 * once, or, when more than 1 MiB is queued (`bufferedAmount`), once the queue
 * has drained below 256 KiB. A server's orderly close (code 1000) ends the
 * connection without an error; any other close reports one.
 *
 * One limit of the runtimes' `WebSocket` (Deno 2.9, Bun 1.4): closing one that
 * is still in its opening handshake fires its `close` event at once but keeps
 * its TCP socket until the server answers or hangs up. An aborted dial still
 * rejects at once with `signal.reason`; the socket lingers in the runtime.
 *
 * @example Connect over WebSocket
 * ```ts ignore
 * import { Client } from "@mqttv5/client";
 * import { wsDial } from "@mqttv5/client/transport/ws";
 *
 * await using client = new Client({
 *   broker: "wss://broker.example/mqtt",
 *   dial: wsDial({ headers: { authorization: "Bearer token" } }),
 * });
 * await client.connect();
 * ```
 *
 * @module
 */

import { dialError, lostError } from "./_errors.ts";
import { setErrorWords } from "./_errors_plain.ts";
import { setRuntimeInit } from "./_ws.ts";
import type { TlsOptions } from "./types.ts";

export { wsDial } from "./_ws.ts";
export type { WsDialOptions } from "./_ws.ts";
export type { Connection, DialFunc, DialOptions, TlsOptions } from "./types.ts";

// The non-standard parts of each runtime's WebSocket this module uses, reached
// through globalThis so that the module type-checks anywhere.

interface DenoHttpClient {
  close(): void;
}

interface DenoRuntime {
  createHttpClient?(options: { caCerts?: string[]; cert?: string; key?: string }): DenoHttpClient;
}

type RuntimeOptions = {
  protocols: string[];
  headers?: Record<string, string>;
  client?: DenoHttpClient;
  tls?: {
    ca?: string[];
    cert?: string;
    key?: string;
    serverName?: string;
    rejectUnauthorized?: boolean;
  };
};

type Runtime = "deno" | "bun" | "node" | "web";

function runtime(): Runtime {
  const g = globalThis as {
    Deno?: unknown;
    Bun?: unknown;
    process?: { versions?: { node?: string } };
  };
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  if (typeof g.process?.versions?.node === "string") return "node";
  return "web";
}

function unsupported(what: string, rt: Runtime): TypeError {
  const name = rt === "deno" ? "Deno" : rt === "bun" ? "Bun" : rt === "node" ? "Node" : "this";
  const hint = rt === "deno"
    ? "use DENO_CERT / --cert for a private CA, or --unsafely-ignore-certificate-errors=<host> in tests"
    : "use NODE_EXTRA_CA_CERTS for a private CA";
  return new TypeError(
    `Cannot dial wss:// with tls.${what}: ${name} runtime's WebSocket cannot apply it (${hint})`,
  );
}

/**
 * Builds the runtime's options object for handshake headers and TLS settings
 * (`_ws.ts` calls it only when there are some), and a Deno HTTP client to
 * close with the connection.
 */
function runtimeInit(
  url: URL,
  protocols: string[],
  headers: Record<string, string> | undefined,
  tls: TlsOptions | undefined,
): { init: RuntimeOptions; release: (() => void) | undefined } {
  const rt = runtime();
  const withTls = url.protocol === "wss:" && tls !== undefined &&
    (tls.caCerts !== undefined || tls.cert !== undefined || tls.key !== undefined ||
      tls.insecureSkipVerify === true || tls.serverName !== undefined);
  const withHeaders = headers !== undefined && Object.keys(headers).length > 0;
  if (withHeaders && rt === "web") {
    throw new TypeError(
      "Cannot dial with wsDial headers: this runtime's WebSocket cannot set handshake headers",
    );
  }
  const init: RuntimeOptions = { protocols };
  if (withHeaders) init.headers = { ...headers };
  let release: (() => void) | undefined;
  if (withTls) {
    const t = tls!;
    if ((t.cert === undefined) !== (t.key === undefined)) {
      throw new TypeError("Cannot use TLS options: cert and key must be given together");
    }
    if (rt === "bun") {
      init.tls = {};
      if (t.caCerts !== undefined) init.tls.ca = t.caCerts;
      if (t.cert !== undefined && t.key !== undefined) {
        init.tls.cert = t.cert;
        init.tls.key = t.key;
      }
      if (t.serverName !== undefined) init.tls.serverName = t.serverName;
      if (t.insecureSkipVerify === true) init.tls.rejectUnauthorized = false;
    } else if (rt === "deno") {
      if (t.insecureSkipVerify === true) throw unsupported("insecureSkipVerify", rt);
      if (t.serverName !== undefined && t.serverName !== url.hostname) {
        throw unsupported("serverName", rt);
      }
      const deno = (globalThis as { Deno?: DenoRuntime }).Deno!;
      if (typeof deno.createHttpClient !== "function") throw unsupported("caCerts", rt);
      const options: { caCerts?: string[]; cert?: string; key?: string } = {};
      if (t.caCerts !== undefined) options.caCerts = t.caCerts;
      if (t.cert !== undefined && t.key !== undefined) {
        options.cert = t.cert;
        options.key = t.key;
      }
      if (Object.keys(options).length > 0) {
        const client = deno.createHttpClient(options);
        init.client = client;
        release = () => client.close();
      }
    } else {
      const what = t.caCerts !== undefined
        ? "caCerts"
        : t.cert !== undefined
        ? "cert"
        : t.insecureSkipVerify === true
        ? "insecureSkipVerify"
        : "serverName";
      throw unsupported(what, rt);
    }
  }
  return { init, release };
}

// Importing this module gives wsDial what only Deno, Bun and Node have.
setRuntimeInit(runtimeInit);
setErrorWords({ dial: dialError, lost: lostError });
