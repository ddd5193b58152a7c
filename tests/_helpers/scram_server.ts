// The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677), for the scripted
// broker of the SCRAM example (examples/scram_auth.ts) and the enhanced
// authentication tests (tests/client/auth_cases.ts).
//
//   const server = new ScramServer({ alice: "wonderland" });
//   const exchange = server.exchange();
//   const serverFirst = await exchange.serverFirst(connect.properties!.authenticationData);
//   // ... AUTH 0x18 with serverFirst, AUTH 0x18 back with the client-final ...
//   const serverFinal = await exchange.serverFinal(auth.properties!.authenticationData);
//   // ... CONNACK (or AUTH 0x00) with serverFinal
//
// It is written independently of the client-side authenticator on purpose (its
// own base64, attribute parsing and key derivation), so that the two check
// each other; both reproduce the RFC 7677 example exchange.
//
// Runtime-neutral: Web Crypto (`crypto.subtle`), TextEncoder, btoa/atob.

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Why an exchange was refused. */
export type ScramFailure =
  | "malformed"
  | "channel-binding-unsupported"
  | "unknown-user"
  | "nonce-mismatch"
  | "invalid-proof"
  | "out-of-order";

/** A refused exchange: `failure` says why; the message never contains a password. */
export class ScramError extends Error {
  /** Why the exchange was refused. */
  readonly failure: ScramFailure;

  /**
   * @param failure Why the exchange was refused.
   * @param message Detail for a human.
   */
  constructor(failure: ScramFailure, message: string) {
    super(`SCRAM server: ${message}`);
    this.name = "ScramError";
    this.failure = failure;
  }
}

/** Options of {@linkcode ScramServer}. */
export interface ScramServerOptions {
  /** PBKDF2 iteration count announced in server-first. @default {4096} */
  iterations?: number;
  /** Salt of every user. @default {16 random bytes per server} */
  salt?: Uint8Array;
  /** The server's part of the nonce, per exchange. @default {18 random bytes, base64} */
  nonce?: () => string;
}

interface UserKeys {
  storedKey: Uint8Array<ArrayBuffer>;
  serverKey: Uint8Array<ArrayBuffer>;
}

/**
 * A SCRAM-SHA-256 verifier for a fixed table of users. Each authentication
 * (at CONNECT or a re-authentication) is one {@linkcode ScramExchange}.
 */
export class ScramServer {
  /** The user names of every client-first seen, in order. */
  readonly usernames: string[] = [];
  /** The client nonces of every client-first seen, in order. */
  readonly clientNonces: string[] = [];
  /** How many exchanges ended with a verified client proof. */
  verified = 0;
  readonly iterations: number;
  readonly salt: Uint8Array<ArrayBuffer>;
  readonly #users: Map<string, string>;
  readonly #keys = new Map<string, Promise<UserKeys>>();
  readonly #nonce: () => string;

  /**
   * @param users User name -> password.
   * @param options Iterations, salt and nonce source.
   */
  constructor(users: Record<string, string>, options: ScramServerOptions = {}) {
    this.#users = new Map(Object.entries(users));
    this.iterations = options.iterations ?? 4096;
    const salt = new Uint8Array(16);
    if (options.salt !== undefined) {
      this.salt = new Uint8Array(options.salt);
    } else {
      crypto.getRandomValues(salt);
      this.salt = salt;
    }
    this.#nonce = options.nonce ?? (() => base64(crypto.getRandomValues(new Uint8Array(18))));
  }

  /** Starts one authentication exchange. */
  exchange(): ScramExchange {
    return new ScramExchange(this, (user) => this.#keysOf(user), this.#nonce);
  }

  #keysOf(user: string): Promise<UserKeys> | undefined {
    const password = this.#users.get(user);
    if (password === undefined) return undefined;
    let keys = this.#keys.get(user);
    if (keys === undefined) {
      keys = deriveKeys(password, this.salt, this.iterations);
      this.#keys.set(user, keys);
    }
    return keys;
  }
}

/** One SCRAM exchange on the server side: server-first, then server-final. */
export class ScramExchange {
  /** The authenticated (or claimed) user name, once client-first was read. */
  username: string | undefined;
  readonly #server: ScramServer;
  readonly #keysOf: (user: string) => Promise<UserKeys> | undefined;
  readonly #serverNonce: () => string;
  #step: "first" | "final" | "done" = "first";
  #gs2Header = "";
  #clientFirstBare = "";
  #serverFirst = "";
  #nonce = "";
  #keys: Promise<UserKeys> | undefined;

  /** @internal Use {@linkcode ScramServer.exchange}. */
  constructor(
    server: ScramServer,
    keysOf: (user: string) => Promise<UserKeys> | undefined,
    serverNonce: () => string,
  ) {
    this.#server = server;
    this.#keysOf = keysOf;
    this.#serverNonce = serverNonce;
  }

  /**
   * Reads client-first (`n,,n=user,r=cnonce`) and answers server-first
   * (`r=cnonce+snonce,s=salt,i=iterations`).
   *
   * @throws {ScramError} `malformed`, `channel-binding-unsupported`, `unknown-user`, `out-of-order`.
   */
  // deno-lint-ignore require-await
  async serverFirst(clientFirst: Uint8Array | undefined): Promise<Uint8Array> {
    if (this.#step !== "first") {
      throw new ScramError("out-of-order", "client-first after the exchange started");
    }
    const text = utf8(clientFirst, "client-first");
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    const m = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/.exec(text);
    if (m === null) throw new ScramError("malformed", "client-first has no GS2 header");
    if (m[1].startsWith("p=")) {
      throw new ScramError("channel-binding-unsupported", "channel binding is not offered");
    }
    if (m[2] !== undefined) {
      throw new ScramError("malformed", "an authorization identity is not supported");
    }
    this.#gs2Header = `${m[1]},,`;
    this.#clientFirstBare = m[3];
    const attrs = attributes(m[3], "client-first");
    const [first, second] = attrs;
    if (first?.[0] !== "n" || second?.[0] !== "r" || second[1] === "") {
      throw new ScramError("malformed", "client-first must start with n= and r=");
    }
    const user = unescapeName(first[1]);
    this.username = user;
    this.#server.usernames.push(user);
    this.#server.clientNonces.push(second[1]);
    this.#keys = this.#keysOf(user);
    if (this.#keys === undefined) throw new ScramError("unknown-user", "unknown user");
    this.#nonce = second[1] + this.#serverNonce();
    this.#serverFirst = `r=${this.#nonce},s=${
      base64(this.#server.salt)
    },i=${this.#server.iterations}`;
    this.#step = "final";
    return encoder.encode(this.#serverFirst);
  }

  /**
   * Reads client-final (`c=biws,r=nonce,p=proof`), checks the proof and
   * answers server-final (`v=server signature`).
   *
   * @throws {ScramError} `malformed`, `nonce-mismatch`, `invalid-proof`, `out-of-order`.
   */
  async serverFinal(clientFinal: Uint8Array | undefined): Promise<Uint8Array> {
    if (this.#step !== "final") {
      throw new ScramError("out-of-order", "client-final before server-first");
    }
    this.#step = "done";
    const text = utf8(clientFinal, "client-final");
    const at = text.lastIndexOf(",p=");
    if (at < 0) throw new ScramError("malformed", "client-final has no proof");
    const withoutProof = text.slice(0, at);
    const attrs = attributes(withoutProof, "client-final");
    const c = attrs.find(([k]) => k === "c")?.[1];
    const r = attrs.find(([k]) => k === "r")?.[1];
    if (c !== base64(encoder.encode(this.#gs2Header))) {
      throw new ScramError("malformed", "client-final channel binding does not match the header");
    }
    if (r !== this.#nonce) throw new ScramError("nonce-mismatch", "client-final nonce differs");
    const proof = unbase64(text.slice(at + 3), "the client proof");
    const keys = await this.#keys!;
    const authMessage = encoder.encode(
      `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`,
    );
    const clientSignature = await hmacSha256(keys.storedKey, authMessage);
    if (proof.length !== clientSignature.length) {
      throw new ScramError("invalid-proof", "the client proof has the wrong length");
    }
    const clientKey = new Uint8Array(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i] ^ clientSignature[i];
    const storedKey = new Uint8Array(await crypto.subtle.digest("SHA-256", clientKey));
    if (!sameBytes(storedKey, keys.storedKey)) {
      throw new ScramError("invalid-proof", "the client proof does not verify");
    }
    this.#server.verified++;
    const serverSignature = await hmacSha256(keys.serverKey, authMessage);
    return encoder.encode(`v=${base64(serverSignature)}`);
  }
}

/** A server-final whose signature is wrong (32 zero bytes), for tests. */
export function forgedServerFinal(): Uint8Array {
  return encoder.encode(`v=${base64(new Uint8Array(32))}`);
}

async function deriveKeys(
  password: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<UserKeys> {
  const base = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const salted = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt, iterations },
      base,
      256,
    ),
  );
  const clientKey = await hmacSha256(salted, encoder.encode("Client Key"));
  const storedKey = new Uint8Array(await crypto.subtle.digest("SHA-256", clientKey));
  const serverKey = await hmacSha256(salted, encoder.encode("Server Key"));
  return { storedKey, serverKey };
}

async function hmacSha256(
  key: Uint8Array<ArrayBuffer>,
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

function utf8(data: Uint8Array | undefined, what: string): string {
  if (data === undefined) throw new ScramError("malformed", `${what} is missing`);
  try {
    return decoder.decode(data);
  } catch {
    throw new ScramError("malformed", `${what} is not UTF-8`);
  }
}

/** `k=v,k=v` into ordered pairs. */
function attributes(text: string, what: string): [string, string][] {
  return text.split(",").map((part) => {
    if (part.length < 2 || part[1] !== "=") {
      throw new ScramError("malformed", `${what} has a malformed attribute`);
    }
    return [part[0], part.slice(2)];
  });
}

/** saslname: `=2C` is ",", `=3D` is "="; any other "=" is malformed. */
function unescapeName(name: string): string {
  if (/=(?!2C|3D)/.test(name)) throw new ScramError("malformed", "bad escape in the user name");
  return name.replaceAll("=2C", ",").replaceAll("=3D", "=");
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

function unbase64(text: string, what: string): Uint8Array<ArrayBuffer> {
  let s: string;
  try {
    s = atob(text);
  } catch {
    throw new ScramError("malformed", `${what} is not base64`);
  }
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
