/**
 * MQTT v5 enhanced authentication (§4.12) with SCRAM-SHA-256 (RFC 5802,
 * RFC 7677): an {@linkcode Authenticator} built on Web Crypto
 * (`crypto.subtle`), usable on Deno, Bun, Node and in browsers.
 *
 * The exchange, as the client sees it:
 *
 * ```text
 * CONNECT  method SCRAM-SHA-256, data client-first  "n,,n=alice,r=<cnonce>"
 * AUTH 0x18  <- server-first   "r=<cnonce><snonce>,s=<salt>,i=<iterations>"
 * AUTH 0x18  -> client-final   "c=biws,r=<cnonce><snonce>,p=<proof>"
 * CONNACK    <- server-final   "v=<server signature>"    (checked: mutual authentication)
 * ```
 *
 * `client.reauthenticate()` runs the same exchange on a live connection:
 * AUTH 0x19 carries client-first, and the broker ends with AUTH 0x00 carrying
 * server-final.
 *
 * Run it:
 *
 * ```sh
 * deno run examples/scram_auth.ts
 * ```
 *
 * mosquitto has no SCRAM support (its enhanced authentication needs a
 * plugin), so the runnable part talks to an in-process scripted broker whose
 * SCRAM verifier is `tests/_helpers/scram_server.ts`.
 *
 * @example Use it with a broker that supports SCRAM-SHA-256
 * ```ts ignore
 * import { Client } from "@mqttv5/client";
 * import { scramSha256 } from "./scram_auth.ts";
 *
 * await using client = new Client({
 *   broker: "mqtts://broker.example:8883",
 *   authenticator: scramSha256("alice", Deno.env.get("MQTT_PASSWORD")!),
 * });
 * await client.connect();
 * await client.reauthenticate(); // later, on the same connection
 * ```
 *
 * @module
 */

import { type Authenticator, Client, MqttError } from "../mod.ts";
import { type AuthPacket, PacketType } from "../src/wire/mod.ts";
import { FakeBroker, type ScriptConn } from "../tests/_helpers/fake_broker.ts";
import { ScramError, ScramServer } from "../tests/_helpers/scram_server.ts";

/** The Authentication Method name (RFC 7677). */
export const SCRAM_SHA_256 = "SCRAM-SHA-256";

/** Options of {@linkcode scramSha256}. */
export interface ScramOptions {
  /**
   * The lowest PBKDF2 iteration count accepted from the server. A low count
   * makes a captured exchange cheaper to brute-force, so a server (or an
   * attacker in its place) announcing fewer is refused. RFC 7677 asks for at
   * least 4096.
   *
   * @default {4096}
   */
  minIterations?: number;
  /**
   * The client nonce of each exchange: printable ASCII without ",". For tests
   * that replay a known exchange; never fix it in production.
   *
   * @default {18 random bytes from crypto.getRandomValues, base64}
   */
  nonce?: () => string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
/** GS2 header: no channel binding, no authorization identity. */
const GS2_HEADER = "n,,";
/** `c=` of client-final: base64 of the GS2 header. */
const CHANNEL_BINDING = "biws";

/**
 * Creates a SCRAM-SHA-256 {@linkcode Authenticator} for one user.
 *
 * `begin()` starts a new exchange (a fresh nonce) each time the client
 * connects or re-authenticates; `continue()` answers server-first with
 * client-final and then checks the server signature in server-final, so a
 * broker that does not know the password is refused (the client's
 * `connect()` or `reauthenticate()` rejects with `MqttError` code
 * `"auth-failed"`).
 *
 * The password is used as UTF-8 as given; SASLprep (RFC 4013) is not applied,
 * which makes no difference for ASCII passwords. The password never appears
 * in an error message.
 *
 * One exchange runs at a time: the authenticator keeps the state of the
 * current one, so give each client its own (do not share one across a
 * client pool).
 *
 * @param username The user name (escaped as RFC 5802 saslname).
 * @param password The password.
 * @param options Minimum iteration count; a fixed nonce for tests.
 * @returns The authenticator, for `ClientOptions.authenticator`.
 * @throws {TypeError} When `username` is empty or contains a NUL.
 *
 * @example
 * ```ts
 * import { Client } from "@mqttv5/client";
 * import { scramSha256 } from "./scram_auth.ts";
 *
 * const client = new Client({
 *   broker: "mqtt://localhost:1883",
 *   authenticator: scramSha256("alice", "wonderland"),
 * });
 * ```
 */
export function scramSha256(
  username: string,
  password: string,
  options: ScramOptions = {},
): Authenticator {
  if (typeof username !== "string" || username === "" || username.includes("\0")) {
    throw new TypeError("SCRAM user name must be a non-empty string without NUL");
  }
  const minIterations = options.minIterations ?? 4096;
  const newNonce = options.nonce ??
    (() => toBase64(crypto.getRandomValues(new Uint8Array(18))));
  const passwordBytes = encoder.encode(password);

  // State of the exchange in progress.
  let step: "idle" | "server-first" | "server-final" = "idle";
  let clientNonce = "";
  let clientFirstBare = "";
  let expectedServerSignature: Uint8Array | undefined;

  const fail = (message: string): never => {
    step = "idle";
    expectedServerSignature = undefined;
    throw new Error(`SCRAM-SHA-256: ${message}`);
  };

  return {
    method: SCRAM_SHA_256,

    begin(): Uint8Array {
      clientNonce = newNonce();
      if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce)) {
        fail("the client nonce must be printable ASCII without ','");
      }
      clientFirstBare = `n=${escapeName(username)},r=${clientNonce}`;
      expectedServerSignature = undefined;
      step = "server-first";
      return encoder.encode(GS2_HEADER + clientFirstBare);
    },

    async continue(data: Uint8Array | undefined): Promise<Uint8Array | undefined> {
      if (step === "server-first") {
        const serverFirst = text(data, "server-first", fail);
        const attrs = parseAttributes(serverFirst, "server-first", fail);
        if (attrs.has("m")) fail("the server requires an unsupported extension");
        const nonce = attrs.get("r");
        const salt = attrs.get("s");
        const iterations = Number(attrs.get("i"));
        if (nonce === undefined || salt === undefined || !attrs.has("i")) {
          return fail("server-first lacks r=, s= or i=");
        }
        if (!nonce.startsWith(clientNonce) || nonce.length === clientNonce.length) {
          return fail("the server nonce does not extend the client nonce");
        }
        if (!Number.isSafeInteger(iterations) || iterations < minIterations) {
          return fail(`iteration count ${attrs.get("i")} is below the minimum ${minIterations}`);
        }
        const saltBytes = fromBase64(salt, "the salt", fail);

        const clientFinalWithoutProof = `c=${CHANNEL_BINDING},r=${nonce}`;
        const authMessage = encoder.encode(
          `${clientFirstBare},${serverFirst},${clientFinalWithoutProof}`,
        );
        const salted = await pbkdf2(passwordBytes, saltBytes, iterations);
        const clientKey = await hmac(salted, encoder.encode("Client Key"));
        const storedKey = new Uint8Array(await crypto.subtle.digest("SHA-256", clientKey));
        const clientSignature = await hmac(storedKey, authMessage);
        const proof = new Uint8Array(clientKey.length);
        for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i] ^ clientSignature[i];
        const serverKey = await hmac(salted, encoder.encode("Server Key"));
        expectedServerSignature = await hmac(serverKey, authMessage);
        step = "server-final";
        return encoder.encode(`${clientFinalWithoutProof},p=${toBase64(proof)}`);
      }
      if (step === "server-final") {
        const serverFinal = text(data, "server-final", fail);
        const attrs = parseAttributes(serverFinal, "server-final", fail);
        const error = attrs.get("e");
        if (error !== undefined) fail(`the server refused: ${error}`);
        const v = attrs.get("v");
        if (v === undefined) return fail("server-final lacks v=");
        const signature = fromBase64(v, "the server signature", fail);
        if (!sameBytes(signature, expectedServerSignature!)) {
          fail("the server signature does not verify: the server does not know the password");
        }
        step = "idle";
        expectedServerSignature = undefined;
        return undefined;
      }
      return fail("unexpected authentication data: no exchange is waiting for it");
    },
  };
}

/** RFC 5802 saslname: "," and "=" are escaped as "=2C" and "=3D". */
function escapeName(name: string): string {
  return name.replaceAll("=", "=3D").replaceAll(",", "=2C");
}

function text(data: Uint8Array | undefined, what: string, fail: (m: string) => never): string {
  if (data === undefined || data.length === 0) return fail(`${what} is missing`);
  try {
    return decoder.decode(data);
  } catch {
    return fail(`${what} is not UTF-8`);
  }
}

/** `k=v,k=v,...` into a map; a repeated or malformed attribute fails. */
function parseAttributes(
  message: string,
  what: string,
  fail: (m: string) => never,
): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const part of message.split(",")) {
    if (part.length < 2 || part[1] !== "=" || attrs.has(part[0])) {
      fail(`${what} is malformed`);
    }
    attrs.set(part[0], part.slice(2));
  }
  return attrs;
}

async function pbkdf2(
  password: Uint8Array<ArrayBuffer>,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey("raw", password, "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}

async function hmac(
  key: Uint8Array<ArrayBuffer>,
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

function fromBase64(
  value: string,
  what: string,
  fail: (m: string) => never,
): Uint8Array<ArrayBuffer> {
  let s: string;
  try {
    s = atob(value);
  } catch {
    return fail(`${what} is not base64`);
  }
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Constant-time comparison (for equal lengths). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// ---------------------------------------------------------------------------
// The runnable part: a scripted SCRAM broker in this process.

const show = (data: Uint8Array | undefined) => data === undefined ? "-" : decoder.decode(data);

function auth(reasonCode: 0x00 | 0x18, data: Uint8Array): AuthPacket {
  return {
    type: PacketType.Auth,
    reasonCode,
    properties: { authenticationMethod: SCRAM_SHA_256, authenticationData: data },
  };
}

/**
 * The broker side of one SCRAM exchange. `first` is the client-first (from
 * CONNECT or AUTH 0x19); the exchange ends with `finish(serverFinal)` on
 * success, or a CONNACK / DISCONNECT 0x87 when the proof does not verify.
 */
async function serveExchange(
  conn: ScriptConn,
  server: ScramServer,
  first: Uint8Array | undefined,
  finish: (serverFinal: Uint8Array) => void,
  refuse: () => void,
): Promise<void> {
  const exchange = server.exchange();
  console.log(`  client-first  ${show(first)}`);
  const serverFirst = await exchange.serverFirst(first);
  console.log(`  server-first  ${show(serverFirst)}`);
  conn.send(auth(0x18, serverFirst));
  const clientFinal = await conn.expect(PacketType.Auth);
  console.log(`  client-final  ${show(clientFinal.properties?.authenticationData)}`);
  try {
    const serverFinal = await exchange.serverFinal(clientFinal.properties?.authenticationData);
    console.log(`  server-final  ${show(serverFinal)}`);
    finish(serverFinal);
  } catch (err) {
    if (!(err instanceof ScramError)) throw err;
    console.log(`  broker refuses: ${err.failure}`);
    refuse();
  }
}

/** Answers one CONNECT with a SCRAM exchange and CONNACK. */
async function serveConnect(conn: ScriptConn, server: ScramServer): Promise<void> {
  const connect = await conn.expect(PacketType.Connect);
  console.log(`CONNECT (method ${connect.properties?.authenticationMethod})`);
  await serveExchange(
    conn,
    server,
    connect.properties?.authenticationData,
    (serverFinal) =>
      conn.send({
        type: PacketType.Connack,
        sessionPresent: false,
        reasonCode: 0,
        properties: { authenticationMethod: SCRAM_SHA_256, authenticationData: serverFinal },
      }),
    () => conn.send({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0x87 }),
  );
}

/** Answers one AUTH 0x19 with a SCRAM exchange ending in AUTH 0x00. */
async function serveReauth(conn: ScriptConn, server: ScramServer): Promise<void> {
  const start = await conn.expect(PacketType.Auth);
  console.log(`AUTH 0x${start.reasonCode?.toString(16)} (re-authenticate)`);
  await serveExchange(
    conn,
    server,
    start.properties?.authenticationData,
    (serverFinal) => conn.send(auth(0x00, serverFinal)),
    () => conn.send({ type: PacketType.Disconnect, reasonCode: 0x87 }),
  );
}

if (import.meta.main) {
  console.log(
    "SCRAM-SHA-256 needs a broker that implements it; mosquitto does not (without a plugin).\n" +
      "This example runs against an in-process scripted broker with a SCRAM verifier instead.\n",
  );
  const server = new ScramServer({ alice: "wonderland" });
  await using broker = new FakeBroker({ connack: false, timeoutMs: 5000 });

  const client = new Client({
    broker: "mqtt://scram.invalid:1883",
    dial: broker.dial,
    clientId: "scram-example",
    authenticator: scramSha256("alice", "wonderland"),
  });
  const connecting = client.connect();
  const conn = await broker.nextConnection();
  await serveConnect(conn, server);
  const connack = await connecting;
  console.log(`connected (reason 0x${connack.reasonCode.toString(16)}), server verified\n`);

  const reauth = client.reauthenticate();
  await serveReauth(conn, server);
  await reauth;
  console.log("re-authenticated on the same connection\n");
  await client.disconnect();

  const impostor = new Client({
    broker: "mqtt://scram.invalid:1883",
    dial: broker.dial,
    clientId: "scram-impostor",
    authenticator: scramSha256("alice", "guess"),
  });
  const attempt = impostor.connect();
  await serveConnect(await broker.nextConnection(), server);
  try {
    await attempt;
    throw new Error("the impostor was let in");
  } catch (err) {
    if (!(err instanceof MqttError)) throw err;
    console.log(
      `wrong password: connect() rejected with ${err.code} 0x${err.reasonCode?.toString(16)}`,
    );
  } finally {
    await impostor.disconnect();
  }
}
