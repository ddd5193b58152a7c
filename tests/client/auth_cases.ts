// Enhanced authentication (MQTT v5 §4.12) and CONNECT credentials of Client
// against the scripted FakeBroker: SCRAM-SHA-256 at CONNECT and in
// reauthenticate() (examples/scram_auth.ts against the verifier in
// tests/_helpers/scram_server.ts), refused and forged exchanges, a failing
// authenticator, connectPacketBuilder token rotation and failures, and
// credentials kept out of errors and logs.
//
// The broker answers nothing on its own here (`connack: false`): every CONNECT
// and AUTH is scripted by the case through the ScriptConn API.
//
// Runtime-neutral (node:assert/strict, web-standard timers and Web Crypto): the
// runners are tests/client/auth_test.ts (`deno test`) and
// bun-tests/client_auth.test.ts (`bun test`).

import assert from "node:assert/strict";
import {
  type Authenticator,
  type Client,
  type ClientOptions,
  type ConnectOptions,
  type Logger,
  MqttError,
} from "../../mod.ts";
import {
  type AuthPacket,
  type ConnackPacket,
  type ConnectPacket,
  type DisconnectPacket,
  PacketType,
} from "../../src/wire/mod.ts";
import { FakeBroker, type FakeBrokerOptions, type ScriptConn } from "../_helpers/fake_broker.ts";
import { fakeClient } from "../_helpers/fake_setup.ts";
import { forgedServerFinal, ScramServer } from "../_helpers/scram_server.ts";
import { SCRAM_SHA_256, scramSha256 } from "../../examples/scram_auth.ts";
import { delay, waitUntil, within } from "../_helpers/timing.ts";
import { rejectsWith, track } from "../_helpers/settle.ts";

/** One scenario. */
export interface AuthCase {
  name: string;
  fn: () => Promise<void>;
}

export const authCases: AuthCase[] = [];

function add(name: string, fn: () => Promise<void>): void {
  authCases.push({ name, fn });
}

// ---------------------------------------------------------------------------
// Tools

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const USER = "alice";
const PASSWORD = "wonder-SECRET-land";

/** Whether `target` is `err` or on its `cause` chain. */
function causedBy(err: unknown, target: unknown): boolean {
  for (let e = err, depth = 0; e !== undefined && depth < 10; depth++) {
    if (e === target) return true;
    e = (e as { cause?: unknown } | null)?.cause;
  }
  return false;
}

function text(data: Uint8Array | undefined): string {
  return data === undefined ? "" : decoder.decode(data);
}

/** A client on the fake broker with fast, test-friendly timings. */
const newClient = fakeClient;

/** A broker, a client and cleanup; the broker scripts CONNECT itself. */
interface Setup extends AsyncDisposable {
  broker: FakeBroker;
  client: Client;
}

function setup(
  clientOptions: Partial<ClientOptions> = {},
  brokerOptions: FakeBrokerOptions = { connack: false },
): Setup {
  const broker = new FakeBroker({ timeoutMs: 2000, ...brokerOptions });
  const client = newClient(broker, clientOptions);
  return {
    broker,
    client,
    async [Symbol.asyncDispose]() {
      await client.disconnect();
      await broker[Symbol.asyncDispose]();
    },
  };
}

/**
 * Asserts that the connection is up: the client says so, the broker side is
 * open, and a QoS 0 probe publish reaches the broker as the next packet (taken
 * from the inbox, so later expect() calls see what follows it).
 */
async function assertUp(client: Client, conn: ScriptConn): Promise<void> {
  assert.equal(client.connected, true, "client.connected");
  assert.equal(conn.isClosed, false, "the connection was closed");
  await client.publish({ topic: "probe/up", payload: "up" });
  const p = await conn.expect(PacketType.Publish);
  assert.equal(p.topic, "probe/up", "the next packet is the probe publish");
}

function authPacket(reasonCode: number, data: Uint8Array, method = SCRAM_SHA_256): AuthPacket {
  return {
    type: PacketType.Auth,
    reasonCode,
    properties: { authenticationMethod: method, authenticationData: data },
  };
}

const CLIENT_FIRST = /^n,,n=alice,r=([\x21-\x2b\x2d-\x7e]+)$/;

/** What one scripted SCRAM exchange saw. */
interface Exchange {
  /** The client nonce of client-first. */
  nonce: string;
  /** The client-final AUTH. */
  clientFinal: AuthPacket;
}

/**
 * The broker side of one SCRAM exchange after client-first: checks
 * client-first, sends server-first in AUTH 0x18, checks that client-final
 * comes back in AUTH 0x18, verifies it, and returns server-final (or a forged
 * one) for the caller to send.
 */
async function scramSteps(
  conn: ScriptConn,
  server: ScramServer,
  clientFirst: Uint8Array | undefined,
  options: { forge?: boolean; beforeFinal?: () => void } = {},
): Promise<Exchange & { serverFinal: Uint8Array }> {
  const first = CLIENT_FIRST.exec(text(clientFirst));
  assert.ok(first !== null, `client-first "${text(clientFirst)}" is n,,n=alice,r=<nonce>`);
  const exchange = server.exchange();
  conn.send(authPacket(0x18, await exchange.serverFirst(clientFirst)));
  const clientFinal = await conn.expect(PacketType.Auth);
  assert.equal(clientFinal.reasonCode, 0x18, "client-final travels in AUTH 0x18");
  assert.equal(clientFinal.properties?.authenticationMethod, SCRAM_SHA_256, "AUTH method");
  assert.match(text(clientFinal.properties?.authenticationData), /^c=biws,r=[^,]+,p=[^,]+$/);
  const serverFinal = await exchange.serverFinal(clientFinal.properties?.authenticationData);
  options.beforeFinal?.();
  return {
    nonce: first[1],
    clientFinal,
    serverFinal: options.forge ? forgedServerFinal() : serverFinal,
  };
}

/** Scripts a SCRAM CONNECT: CONNECT, AUTH 0x18 both ways, CONNACK with server-final. */
async function serveConnect(
  conn: ScriptConn,
  server: ScramServer,
  options: { forge?: boolean; sessionPresent?: boolean; beforeFinal?: () => void } = {},
): Promise<Exchange & { connect: ConnectPacket }> {
  const connect = await conn.expect(PacketType.Connect);
  assert.equal(connect.properties?.authenticationMethod, SCRAM_SHA_256, "CONNECT method");
  const steps = await scramSteps(conn, server, connect.properties?.authenticationData, options);
  const connack: ConnackPacket = {
    type: PacketType.Connack,
    sessionPresent: options.sessionPresent ?? false,
    reasonCode: 0,
    properties: { authenticationMethod: SCRAM_SHA_256, authenticationData: steps.serverFinal },
  };
  conn.send(connack);
  return { connect, nonce: steps.nonce, clientFinal: steps.clientFinal };
}

/** Scripts a SCRAM re-authentication: AUTH 0x19, AUTH 0x18 both ways, AUTH 0x00 with server-final. */
async function serveReauth(
  conn: ScriptConn,
  server: ScramServer,
  options: { forge?: boolean; beforeFinal?: () => void } = {},
): Promise<Exchange & { start: AuthPacket }> {
  const start = await conn.expect(PacketType.Auth);
  assert.equal(start.reasonCode, 0x19, "re-authentication starts with AUTH 0x19");
  assert.equal(start.properties?.authenticationMethod, SCRAM_SHA_256, "AUTH method");
  const steps = await scramSteps(conn, server, start.properties?.authenticationData, options);
  conn.send(authPacket(0x00, steps.serverFinal));
  return { start, nonce: steps.nonce, clientFinal: steps.clientFinal };
}

/** A client connected with SCRAM, and the broker side. */
async function scramConnected(
  extra: Partial<ClientOptions> = {},
): Promise<Setup & { server: ScramServer; conn: ScriptConn; nonce: string }> {
  const server = new ScramServer({ [USER]: PASSWORD });
  const t = setup({ authenticator: scramSha256(USER, PASSWORD), ...extra });
  try {
    const connecting = t.client.connect();
    const conn = await t.broker.nextConnection();
    const { nonce } = await serveConnect(conn, server);
    await within(connecting, 2000, "connect()");
    return Object.assign(t, { server, conn, nonce });
  } catch (err) {
    await t[Symbol.asyncDispose]();
    throw err;
  }
}

// ---------------------------------------------------------------------------
// The SCRAM mechanism itself (RFC 7677 §3 example exchange)

const RFC7677 = {
  user: "user",
  password: "pencil",
  clientNonce: "rOprNGfwEbeRWgbNEkqO",
  serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
  salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
  clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
  serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

add("scramSha256() and ScramServer reproduce the RFC 7677 example exchange", async () => {
  const auth = scramSha256(RFC7677.user, RFC7677.password, { nonce: () => RFC7677.clientNonce });
  assert.equal(auth.method, "SCRAM-SHA-256");
  const salt = Uint8Array.from(atob(RFC7677.salt), (c) => c.charCodeAt(0));
  const server = new ScramServer({ user: "pencil" }, {
    salt,
    iterations: 4096,
    nonce: () => RFC7677.serverNonce,
  });
  const exchange = server.exchange();

  const clientFirst = await auth.begin();
  assert.equal(text(clientFirst), RFC7677.clientFirst, "client-first");
  const serverFirst = await exchange.serverFirst(clientFirst);
  assert.equal(text(serverFirst), RFC7677.serverFirst, "server-first");
  const clientFinal = await auth.continue(serverFirst);
  assert.equal(text(clientFinal), RFC7677.clientFinal, "client-final");
  const serverFinal = await exchange.serverFinal(clientFinal);
  assert.equal(text(serverFinal), RFC7677.serverFinal, "server-final");
  assert.equal(await auth.continue(serverFinal), undefined, "nothing follows server-final");
  assert.equal(server.verified, 1);
});

add("scramSha256() refuses a server that weakens or fakes the exchange", async () => {
  const nonce = () => RFC7677.clientNonce;
  const salt = "s=W22ZaJ0SNY7soEsUEjb6gQ==";
  // [what, the server's message, whether it answers client-final (else client-first)]
  const cases: [string, string, boolean][] = [
    ["a low iteration count", RFC7677.serverFirst.replace("i=4096", "i=1024"), false],
    ["a nonce that does not extend ours", `r=other,${salt},i=4096`, false],
    ["a nonce equal to ours", `r=${RFC7677.clientNonce},${salt},i=4096`, false],
    ["a mandatory extension", `m=ext,${RFC7677.serverFirst}`, false],
    ["a missing salt", `r=${RFC7677.clientNonce}xyz,i=4096`, false],
    ["a server error", "e=invalid-proof", true],
    ["a forged signature", text(forgedServerFinal()), true],
  ];
  for (const [what, message, final] of cases) {
    const auth = scramSha256(RFC7677.user, RFC7677.password, { nonce });
    await auth.begin();
    if (final) await auth.continue(encoder.encode(RFC7677.serverFirst));
    await assert.rejects(
      Promise.resolve().then(() => auth.continue(encoder.encode(message))),
      (err: unknown) => err instanceof Error && !err.message.includes(RFC7677.password),
      what,
    );
  }
  // Data with no exchange waiting for it.
  const idle = scramSha256(RFC7677.user, RFC7677.password);
  await assert.rejects(Promise.resolve().then(() => idle.continue(encoder.encode("r=x"))));
});

// ---------------------------------------------------------------------------
// SCRAM at CONNECT

add(
  "Client authenticates with SCRAM-SHA-256 at CONNECT: AUTH 0x18 exchange, server-final in CONNACK",
  async () => {
    const server = new ScramServer({ [USER]: PASSWORD });
    const ups: unknown[] = [];
    await using t = setup({
      authenticator: scramSha256(USER, PASSWORD),
      onConnectionUp: (c) => ups.push(c),
    });
    const connecting = track(t.client.connect());
    const conn = await t.broker.nextConnection();
    const { connect } = await serveConnect(conn, server, {
      beforeFinal: () => assert.equal(connecting.settled, false, "connect() waits for CONNACK"),
    });
    assert.equal(connect.password, undefined, "no password in CONNECT");
    const info = await within(connecting.promise, 2000, "connect()");
    assert.equal(info.reasonCode, 0);
    assert.equal(server.verified, 1, "the broker verified the client proof");
    assert.deepEqual(
      conn.received.map((p) => p.type),
      [PacketType.Connect, PacketType.Auth],
      "only AUTH goes out between CONNECT and CONNACK",
    );
    assert.equal(ups.length, 1, "onConnectionUp once");
    await assertUp(t.client, conn);
  },
);

add(
  "Client.reauthenticate() runs two SCRAM exchanges on the same connection (AUTH 0x19 .. AUTH 0x00)",
  async () => {
    await using t = await scramConnected();
    const nonces = [t.nonce];
    for (const round of [1, 2]) {
      const pending = track(t.client.reauthenticate());
      const { nonce } = await serveReauth(t.conn, t.server, {
        beforeFinal: () =>
          assert.equal(pending.settled, false, `round ${round}: waits for AUTH 0x00`),
      });
      await within(pending.promise, 2000, `reauthenticate() round ${round}`);
      nonces.push(nonce);
      await assertUp(t.client, t.conn);
    }
    assert.equal(t.server.verified, 3, "CONNECT and both re-authentications verified");
    assert.equal(new Set(nonces).size, 3, `every exchange has a fresh nonce: ${nonces}`);
    assert.equal(t.broker.dials, 1, "the connection was never replaced");
    assert.equal(t.conn.isClosed, false);
    assert.equal(t.conn.all(PacketType.Connect).length, 1, "one CONNECT");
    assert.equal(t.conn.all(PacketType.Disconnect).length, 0, "no DISCONNECT");
  },
);

for (
  const [rc, when] of [
    [0x87, "after client-final"],
    [0x8c, "instead of server-first"],
  ] as const
) {
  add(
    `Client.reauthenticate() rejects with auth-failed on DISCONNECT 0x${
      rc.toString(16)
    } ${when}; the client reconnects and authenticates afresh`,
    async () => {
      const serverDisconnects: DisconnectPacket[] = [];
      await using t = await scramConnected({
        onServerDisconnect: (d) => serverDisconnects.push(d),
      });
      const pending = track(t.client.reauthenticate());
      const start = await t.conn.expect(PacketType.Auth);
      assert.equal(start.reasonCode, 0x19);
      if (rc === 0x87) {
        await scramSteps(t.conn, t.server, start.properties?.authenticationData);
      }
      // Hand-encoded (the codec's encoder refuses DISCONNECT 0x8C, which MQTT v5 Table 2-6
      // allows in DISCONNECT): type 14, remaining length 1, the reason code.
      t.conn.sendRaw(new Uint8Array([0xe0, 0x01, rc]));
      const err = await rejectsWith(pending.promise, "auth-failed");
      await within(t.conn.closed, 1000, "the first connection closes");

      const second = await t.broker.nextConnection();
      const again = await serveConnect(second, t.server, { sessionPresent: true });
      assert.equal(again.connect.cleanStart, false, "the reconnect resumes the session");
      assert.notEqual(again.nonce, t.nonce, "a fresh exchange");
      await waitUntil(() => t.client.connected, 2000, "the client reconnected");
      await assertUp(t.client, second);
      assert.equal(t.broker.dials, 2);

      // The refusal reached the application as the broker gave it.
      assert.equal(err.reasonCode, rc, "the rejection carries the broker's reason code");
      assert.deepEqual(
        serverDisconnects.map((d) => d.reasonCode),
        [rc],
        "onServerDisconnect saw the broker's DISCONNECT",
      );
      assert.deepEqual(
        t.conn.all(PacketType.Disconnect).map((d) => d.reasonCode),
        [],
        "the client does not answer the broker's DISCONNECT",
      );

      // Re-authentication works on the new connection.
      const next = track(t.client.reauthenticate());
      await serveReauth(second, t.server);
      await within(next.promise, 2000, "reauthenticate() on the new connection");
    },
  );
}

add(
  "Client.reauthenticate() rejects with auth-failed on a forged server signature, sends DISCONNECT 0x87 and reconnects",
  async () => {
    await using t = await scramConnected();
    const pending = track(t.client.reauthenticate());
    await serveReauth(t.conn, t.server, { forge: true });
    await rejectsWith(pending.promise, "auth-failed");
    const d = await t.conn.expect(PacketType.Disconnect);
    assert.equal(d.reasonCode, 0x87, "DISCONNECT Not authorized");
    await within(t.conn.closed, 1000, "the connection closes");
    const second = await t.broker.nextConnection();
    await serveConnect(second, t.server);
    await waitUntil(() => t.client.connected, 2000, "the client reconnected");
    await assertUp(t.client, second);
  },
);

add("Client.connect() rejects with auth-failed when the server signature is wrong", async () => {
  const server = new ScramServer({ [USER]: PASSWORD });
  const errors: Error[] = [];
  let ups = 0;
  await using t = setup({
    authenticator: scramSha256(USER, PASSWORD),
    onConnectError: (e) => errors.push(e),
    onConnectionUp: () => ups++,
  });
  const connecting = t.client.connect();
  const conn = await t.broker.nextConnection();
  await serveConnect(conn, server, { forge: true });
  const err = await rejectsWith(connecting, "auth-failed");
  assert.equal(server.verified, 1, "the client's proof was fine; the server's was not");
  await within(conn.closed, 1000, "the client closes the connection");
  assert.equal(t.client.connected, false);
  assert.equal(ups, 0, "onConnectionUp never ran");
  assert.equal(errors.length, 1, "onConnectError once");
  assert.equal(errors[0], err, "onConnectError gets the error connect() rejects with");
  await delay(50);
  assert.equal(t.broker.dials, 1, "connect() does not retry on its own");
  assert.equal(conn.all(PacketType.Publish).length, 0);
});

// ---------------------------------------------------------------------------
// A failing authenticator

add(
  "Client.connect() fails the attempt and calls onConnectError when the authenticator's continue() throws",
  async () => {
    const boom = new Error("authenticator exploded");
    const seen: string[] = [];
    const authenticator: Authenticator = {
      method: "X-CHALLENGE",
      begin: () => encoder.encode("hello"),
      // deno-lint-ignore require-await
      continue: async (data) => {
        seen.push(text(data));
        throw boom;
      },
    };
    const errors: Error[] = [];
    await using t = setup({ authenticator, onConnectError: (e) => errors.push(e) });
    const connecting = t.client.connect();
    const conn = await t.broker.nextConnection();
    const connect = await conn.expect(PacketType.Connect);
    assert.equal(connect.properties?.authenticationMethod, "X-CHALLENGE");
    assert.equal(text(connect.properties?.authenticationData), "hello");
    conn.send(authPacket(0x18, encoder.encode("challenge"), "X-CHALLENGE"));
    const err = await rejectsWith(connecting, "auth-failed");
    assert.ok(causedBy(err, boom), "the authenticator's error is the cause");
    assert.deepEqual(seen, ["challenge"], "continue() got the broker's data");
    await within(conn.closed, 1000, "the client closes the connection");
    for (const d of conn.all(PacketType.Disconnect)) {
      assert.equal(d.reasonCode, 0x87, "a DISCONNECT, if sent, says Not authorized");
    }
    assert.equal(conn.all(PacketType.Auth).length, 0, "no AUTH answer");
    assert.equal(errors.length, 1, "onConnectError once");
    assert.equal(errors[0], err);
    assert.equal(t.client.connected, false);
  },
);

add(
  "Client supervisor: an authenticator continue() that throws fails that reconnect attempt, onConnectError fires, the next attempt succeeds",
  async () => {
    const boom = new Error("authenticator exploded");
    let calls = 0;
    const authenticator: Authenticator = {
      method: "X-CHALLENGE",
      begin: () => encoder.encode("hello"),
      continue: (data) => {
        if (data === undefined) return undefined; // the end of an exchange: nothing to verify
        calls++;
        if (calls === 2) throw boom; // the first reconnect's challenge
        return encoder.encode(`response to ${text(data)}`);
      },
    };
    const errors: Error[] = [];
    await using t = setup({ authenticator, onConnectError: (e) => errors.push(e) });
    const serve = async (conn: ScriptConn, expectAnswer: boolean) => {
      await conn.expect(PacketType.Connect);
      conn.send(authPacket(0x18, encoder.encode(`challenge ${conn.index}`), "X-CHALLENGE"));
      if (!expectAnswer) return;
      const answer = await conn.expect(PacketType.Auth);
      assert.equal(answer.reasonCode, 0x18);
      assert.equal(
        text(answer.properties?.authenticationData),
        `response to challenge ${conn.index}`,
      );
      conn.send({ type: PacketType.Connack, sessionPresent: conn.index > 0, reasonCode: 0 });
    };
    const connecting = t.client.connect();
    const first = await t.broker.nextConnection();
    await serve(first, true);
    await within(connecting, 2000, "connect()");

    first.close(); // the supervisor takes over
    const second = await t.broker.nextConnection();
    await serve(second, false);
    await within(second.closed, 1000, "the failed attempt's connection closes");
    await waitUntil(() => errors.length === 1, 1000, "onConnectError");
    assert.ok(errors[0] instanceof MqttError && errors[0].code === "auth-failed", `${errors[0]}`);
    assert.ok(causedBy(errors[0], boom), "the authenticator's error is the cause");

    const third = await t.broker.nextConnection();
    await serve(third, true);
    await waitUntil(() => t.client.connected, 2000, "the supervisor reconnected");
    await assertUp(t.client, third);
    assert.equal(errors.length, 1);
    assert.equal(calls, 3);
  },
);

// ---------------------------------------------------------------------------
// connectPacketBuilder

function passwordsSeen(broker: FakeBroker): string[] {
  return broker.connections.flatMap((c) => c.all(PacketType.Connect).map((p) => text(p.password)));
}

add(
  "Client connectPacketBuilder rotates the password per attempt: refused with 0x86, accepted with the next token",
  async () => {
    let attempt = 0;
    const signals: AbortSignal[] = [];
    const connectPacketBuilder = (c: ConnectOptions, signal: AbortSignal) => {
      attempt++;
      signals.push(signal);
      c.password = encoder.encode(`token-${attempt}`);
    };
    await using t = setup(
      { username: "svc", password: "initial-password", connectPacketBuilder },
      {
        // Only the second token is good (a token service that was late).
        connack: (connect) => ({ reasonCode: text(connect.password) === "token-1" ? 0x86 : 0 }),
      },
    );
    await rejectsWith(t.client.connect(), "connect-refused", { reasonCode: 0x86 });
    const info = await within(t.client.connect(), 2000, "the second connect()");
    assert.equal(info.reasonCode, 0);
    assert.deepEqual(passwordsSeen(t.broker), ["token-1", "token-2"]);
    for (const c of t.broker.connections) {
      assert.equal(c.all(PacketType.Connect)[0].username, "svc", "the user name is kept");
    }

    // The supervisor's reconnect runs the builder again.
    t.broker.connections[1].close();
    await waitUntil(() => t.client.connected && t.broker.dials === 3, 2000, "reconnected");
    const conn = t.broker.connections[2];
    assert.deepEqual(passwordsSeen(t.broker), ["token-1", "token-2", "token-3"]);
    assert.equal(signals.length, 3);
    assert.ok(signals.every((s) => s instanceof AbortSignal && !s.aborted), "live signals");
    await assertUp(t.client, conn);
  },
);

add(
  "Client.connect() rejects when the connectPacketBuilder throws, before CONNECT is written",
  async () => {
    const boom = new Error("token service unavailable");
    let attempt = 0;
    const errors: Error[] = [];
    await using t = setup({
      password: "initial-password",
      onConnectError: (e) => errors.push(e),
      connectPacketBuilder: async (c) => {
        attempt++;
        await delay(5);
        if (attempt === 1) throw boom;
        c.password = encoder.encode(`token-${attempt}`);
      },
    }, {});
    let caught: unknown;
    await assert.rejects(t.client.connect(), (e: unknown) => (caught = e, true));
    assert.ok(causedBy(caught, boom), `connect() rejects with the builder's error: ${caught}`);
    const conn = await t.broker.nextConnection();
    await within(conn.closed, 1000, "the attempt's connection closes");
    assert.equal(conn.received.length, 0, "nothing was written");
    assert.equal(errors.length, 1, "onConnectError once");
    assert.equal(errors[0], caught);
    await within(t.client.connect(), 2000, "the next connect()");
    assert.deepEqual(passwordsSeen(t.broker), ["token-2"]);
  },
);

add(
  "Client supervisor: an async connectPacketBuilder that throws fails that attempt, onConnectError fires, the supervisor retries",
  async () => {
    const boom = new Error("token service unavailable");
    let attempt = 0;
    const errors: Error[] = [];
    await using t = setup({
      onConnectError: (e) => errors.push(e),
      connectPacketBuilder: async (c) => {
        attempt++;
        await delay(5);
        if (attempt === 2) throw boom;
        c.password = encoder.encode(`token-${attempt}`);
      },
    }, {});
    await within(t.client.connect(), 2000, "connect()");
    const first = await t.broker.nextConnection();
    first.close();
    const second = await t.broker.nextConnection();
    await within(second.closed, 1000, "the failed attempt's connection closes");
    assert.equal(second.received.length, 0, "the failed attempt wrote nothing");
    const third = await t.broker.nextConnection();
    await waitUntil(() => t.client.connected && third.received.length > 0, 2000, "reconnected");
    assert.equal(errors.length, 1, "onConnectError once");
    assert.ok(causedBy(errors[0], boom), `onConnectError got the builder's error: ${errors[0]}`);
    assert.deepEqual(passwordsSeen(t.broker), ["token-1", "token-3"]);
    assert.equal(attempt, 3);
    await assertUp(t.client, third);
  },
);

// ---------------------------------------------------------------------------
// Credentials stay out of errors and logs

interface LogEntry {
  level: string;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

function captureLogger(entries: LogEntry[]): Logger {
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    entries.push({ level, msg, fields });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** Every string reachable from `value`: properties, causes, Error messages and stacks, bytes as text. */
function strings(
  value: unknown,
  out: string[] = [],
  seen = new Set<unknown>(),
  depth = 0,
): string[] {
  if (depth > 8 || value === null || value === undefined) return out;
  if (typeof value === "string") {
    out.push(value);
    return out;
  }
  if (typeof value !== "object" && typeof value !== "function") {
    out.push(String(value));
    return out;
  }
  if (seen.has(value)) return out;
  seen.add(value);
  if (value instanceof Uint8Array) {
    out.push(decoder.decode(value));
    return out;
  }
  if (value instanceof URL) {
    out.push(value.href);
    return out;
  }
  if (value instanceof Error) {
    out.push(String(value), value.message, value.stack ?? "");
    strings(value.cause, out, seen, depth + 1);
    if (value instanceof AggregateError) strings(value.errors, out, seen, depth + 1);
  }
  for (const key of Object.getOwnPropertyNames(value)) {
    strings((value as Record<string, unknown>)[key], out, seen, depth + 1);
  }
  return out;
}

add("Client never puts credentials in error messages or logger output", async () => {
  // Every credential below contains this marker.
  const secret = "SECRET";
  const logs: LogEntry[] = [];
  const errors: unknown[] = [];
  const logger = captureLogger(logs);

  // 1. Password credentials, rotated by a builder, with credentials in the URL too; a refused
  //    CONNECT, a connection lost, a server DISCONNECT and a refused reconnect.
  {
    let attempt = 0;
    await using t = setup({
      broker: "mqtt://urluser:url-SECRET-password@fake:1883",
      username: "svc",
      password: "opt-SECRET-password",
      logger,
      onConnectError: (e) => errors.push(e),
      connectPacketBuilder: (c) => {
        attempt++;
        c.password = encoder.encode(`tok-SECRET-${attempt}`);
      },
    }, {
      connack: (_connect, conn) =>
        conn.index === 0 || conn.index === 3
          ? {
            reasonCode: 0x86,
            properties: { reasonString: "Bad user name or password" },
          }
          : {},
    });
    await t.client.connect().catch((e) => errors.push(e));
    await within(t.client.connect(), 2000, "connect()");
    t.broker.connections[1].send({ type: PacketType.Disconnect, reasonCode: 0x87 });
    await waitUntil(() => t.client.connected && t.broker.dials === 3, 2000, "reconnected");
    t.broker.connections[2].close();
    await waitUntil(() => t.client.connected && t.broker.dials === 5, 2000, "reconnected again");
    assert.deepEqual(passwordsSeen(t.broker), [1, 2, 3, 4, 5].map((n) => `tok-SECRET-${n}`));
  }

  // 2. SCRAM: a forged server signature at CONNECT, then a refused re-authentication.
  {
    const server = new ScramServer({ [USER]: "scram-SECRET-password" });
    await using t = setup({
      authenticator: scramSha256(USER, "scram-SECRET-password"),
      logger,
      onConnectError: (e) => errors.push(e),
    });
    const connecting = t.client.connect().catch((e) => errors.push(e));
    await serveConnect(await t.broker.nextConnection(), server, { forge: true });
    await connecting;
    const again = t.client.connect();
    const conn = await t.broker.nextConnection();
    await serveConnect(conn, server);
    await within(again, 2000, "connect()");
    const reauth = t.client.reauthenticate().catch((e) => errors.push(e));
    await serveReauth(conn, server, { forge: true });
    await reauth;
    await serveConnect(await t.broker.nextConnection(), server);
    await waitUntil(() => t.client.connected, 2000, "reconnected");
  }

  assert.ok(errors.length >= 5, `errors were produced (${errors.length})`);
  assert.ok(logs.some((l) => l.level === "warn"), "warnings were logged");
  assert.ok(logs.length >= 8, `log entries were produced (${logs.length})`);
  const leaks: string[] = [];
  for (const e of errors) {
    for (const s of strings(e)) if (s.includes(secret)) leaks.push(`error ${e}: ${s}`);
  }
  for (const l of logs) {
    for (const s of strings([l.msg, l.fields])) {
      if (s.includes(secret)) leaks.push(`log ${l.level} "${l.msg}": ${s}`);
    }
  }
  assert.deepEqual(leaks, [], "credentials leaked");
});
