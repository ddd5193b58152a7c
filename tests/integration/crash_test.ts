// Crash safety of Client + FileSessionStore across processes: a child
// (tests/integration/_crash_child.ts) is SIGKILLed in the middle of its QoS 1/2
// flows, a second child opens the same store directory and must resume
// exactly the flows that were open: no more, no less.
//
// The broker is a scripted MQTT broker over TCP in this process (node:net and
// the codec of src/wire/), because the cases need acks withheld at chosen
// points, which a real broker does not do.
//
// Runtime-neutral: node:net, node:child_process, node:fs and node:os serve
// Deno and Bun. Under `deno test` this file registers its cases itself; under
// `bun test`, bun-tests/crash.test.ts registers the same cases (children run
// by the runtime that runs the test, plus one mixed-runtime case each).

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { FileSessionStore } from "../../src/store/file.ts";
import {
  encodePacket,
  type Packet,
  PacketDecoder,
  PacketType,
  type PublishPacket,
} from "../../src/wire/mod.ts";

/** One case. */
export interface CrashCase {
  name: string;
  fn: () => Promise<void>;
}

/** A JavaScript runtime that can run the child script. */
export type Runtime = "deno" | "bun";

/** The runtime running this file. */
export const RUNTIME: Runtime = "Deno" in globalThis ? "deno" : "bun";

const CHILD = new URL("./_crash_child.ts", import.meta.url).pathname;
const WAIT_MS = 10_000;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `p`, or a rejection naming `what` after `ms`. */
async function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// A scripted broker over TCP

/** Packet type names, for messages. */
const NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(PacketType).map(([k, v]) => [v, k.toUpperCase()]),
);

/** `PUBLISH#3 dup q1`, `PUBREL#7`, ...: one packet in a line. */
function label(p: Packet): string {
  const id = (p as { packetId?: number }).packetId;
  let s = NAMES[p.type] + (id !== undefined && id !== 0 ? `#${id}` : "");
  if (p.type === PacketType.Publish) s += `${p.dup ? " dup" : ""} q${p.qos}`;
  const rc = (p as { reasonCode?: number }).reasonCode;
  if (rc !== undefined && rc !== 0 && p.type !== PacketType.Connack) {
    s += ` rc=0x${rc.toString(16)}`;
  }
  return s;
}

/** The broker side of one TCP connection. */
class TcpConn {
  /** Every packet the client sent, in order. */
  readonly received: Packet[] = [];
  readonly index: number;
  /** Called for each packet the client sends (the script). */
  onPacket: ((p: Packet) => void) | undefined;
  decodeError: Error | undefined;
  readonly closed: Promise<void>;
  #socket: net.Socket;
  #decoder = new PacketDecoder();
  #watchers = new Set<() => void>();
  #isClosed = false;

  constructor(socket: net.Socket, index: number) {
    this.#socket = socket;
    this.index = index;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#isClosed = true;
      this.#notify();
    });
    socket.on("data", (chunk: Uint8Array) => {
      let packets: Packet[];
      try {
        packets = this.#decoder.push(new Uint8Array(chunk));
      } catch (err) {
        this.decodeError = err as Error;
        this.#notify();
        return;
      }
      for (const p of packets) {
        // Keep-alive traffic is not the flows under test: the client also pings to get a
        // prompt TCP ACK out while it waits for the broker (see Client #consume).
        if (p.type === PacketType.Pingreq) {
          this.send({ type: PacketType.Pingresp });
          continue;
        }
        this.received.push(p);
        this.onPacket?.(p);
      }
      this.#notify();
    });
  }

  /** Sends a packet to the client (ignored once the connection closed). */
  send(p: Packet): void {
    if (!this.#isClosed) this.#socket.write(encodePacket(p));
  }

  close(): void {
    this.#socket.destroy();
  }

  /** The received packets from index `from` on, as labels. */
  labels(from = 0): string[] {
    return this.received.slice(from).map(label);
  }

  /** Waits until `cond()` holds (checked after every packet). */
  until(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
    return within(
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (cond()) {
            this.#watchers.delete(check);
            resolve();
          } else if (this.decodeError !== undefined) {
            this.#watchers.delete(check);
            reject(new Error(`the client sent bytes that do not decode: ${this.decodeError}`));
          } else if (this.#isClosed) {
            this.#watchers.delete(check);
            reject(new Error(`connection closed while waiting for ${what}: ${this.labels()}`));
          }
        };
        this.#watchers.add(check);
        check();
      }),
      `${what} (received: ${this.labels().join(", ") || "nothing"})`,
      ms,
    ).finally(() => this.#watchers.clear());
  }

  /** Whether a packet of `type` with `packetId` was received. */
  has(type: PacketType, packetId: number): boolean {
    return this.received.some((p) =>
      p.type === type && (p as { packetId?: number }).packetId === packetId
    );
  }

  #notify(): void {
    for (const check of [...this.#watchers]) check();
  }
}

/** A TCP MQTT broker on a free loopback port whose connections are scripted by the test. */
class TcpBroker implements AsyncDisposable {
  readonly connections: TcpConn[] = [];
  /** Scripts each new connection. */
  onConnection: ((conn: TcpConn) => void) | undefined;
  readonly port: number;
  #server: net.Server;
  #waiters: ((c: TcpConn) => void)[] = [];
  #cursor = 0;

  private constructor(server: net.Server, port: number) {
    this.#server = server;
    this.port = port;
    server.on("connection", (socket) => {
      const conn = new TcpConn(socket, this.connections.length);
      this.connections.push(conn);
      this.onConnection?.(conn);
      const w = this.#waiters.shift();
      if (w !== undefined) {
        this.#cursor++;
        w(conn);
      }
    });
  }

  static async start(): Promise<TcpBroker> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return new TcpBroker(server, (server.address() as net.AddressInfo).port);
  }

  /** The next connection not yet handed out. */
  nextConnection(ms = WAIT_MS): Promise<TcpConn> {
    if (this.#cursor < this.connections.length) {
      return Promise.resolve(this.connections[this.#cursor++]);
    }
    return within(new Promise((resolve) => this.#waiters.push(resolve)), "a connection", ms);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const c of this.connections) c.close();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await Promise.all(this.connections.map((c) => c.closed));
  }
}

function connack(conn: TcpConn, sessionPresent: boolean): void {
  conn.send({ type: PacketType.Connack, sessionPresent, reasonCode: 0 });
}

function ack(conn: TcpConn, type: 4 | 5 | 6 | 7, packetId: number): void {
  conn.send({ type, packetId });
}

// ---------------------------------------------------------------------------
// Child processes

/** One line the child printed: a word and a JSON value. */
interface Report {
  word: string;
  value: Record<string, unknown>;
}

class Child {
  readonly proc: ChildProcess;
  readonly reports: Report[] = [];
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  #waiters = new Set<() => void>();

  constructor(runtime: Runtime, args: string[]) {
    const [cmd, pre] = runtimeCommand(runtime);
    this.proc = spawn(cmd, [...pre, CHILD, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let buffer = "";
    this.proc.stdout!.setEncoding("utf8");
    this.proc.stdout!.on("data", (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const sp = line.indexOf(" ");
        this.reports.push({ word: line.slice(0, sp), value: JSON.parse(line.slice(sp + 1)) });
      }
      for (const w of [...this.#waiters]) w();
    });
    this.proc.stderr!.setEncoding("utf8");
    this.proc.stderr!.on("data", (chunk: string) => this.stderr += chunk);
    this.exited = new Promise((resolve, reject) => {
      this.proc.once("error", reject);
      this.proc.once("close", (code, signal) => {
        for (const w of [...this.#waiters]) w();
        resolve({ code, signal });
      });
    });
  }

  /** The reports of one kind. */
  all(word: string): Record<string, unknown>[] {
    return this.reports.filter((r) => r.word === word).map((r) => r.value);
  }

  /** Waits for the first report of `word`. */
  report(word: string, ms = WAIT_MS): Promise<Record<string, unknown>> {
    return within(
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const check = () => {
          const r = this.reports.find((r) => r.word === word || r.word === "error");
          if (r?.word === "error") reject(new Error(`the child failed: ${r.value.message}`));
          else if (r !== undefined) resolve(r.value);
          else if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
            reject(new Error(`the child exited before "${word}"; stderr: ${this.stderr}`));
          } else return;
          this.#waiters.delete(check);
        };
        this.#waiters.add(check);
        check();
      }),
      `the child's "${word}" report`,
      ms,
    ).finally(() => this.#waiters.clear());
  }

  /** Kills the child with SIGKILL and waits for it to go. */
  async kill(): Promise<void> {
    this.proc.kill("SIGKILL");
    const { signal } = await within(this.exited, "the killed child to exit");
    assert.equal(signal, "SIGKILL", "the child died of SIGKILL");
  }

  /** Waits for a clean exit. */
  async success(): Promise<void> {
    const { code, signal } = await within(this.exited, "the child to exit");
    assert.equal(
      code,
      0,
      `the child exits 0 (signal ${signal}); reports: ${
        JSON.stringify(this.reports)
      }; stderr: ${this.stderr}`,
    );
  }
}

function runtimeCommand(runtime: Runtime): [string, string[]] {
  const exe = runtime === RUNTIME ? process.execPath : runtime;
  return runtime === "deno" ? [exe, ["run", "-A", "--quiet"]] : [exe, []];
}

async function commandExists(cmd: string): Promise<boolean> {
  return await new Promise((resolve) => {
    const p = spawn(cmd, ["--version"], { stdio: "ignore" });
    p.once("error", () => resolve(false));
    p.once("close", (code) => resolve(code === 0));
  });
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "mqttv5-crash-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `fn` with a child, killing the child if `fn` fails. */
async function withChild<T>(child: Child, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill("SIGKILL");
    await child.exited.catch(() => {});
    throw new Error(`${(err as Error).message}\nchild stderr: ${child.stderr}`, { cause: err });
  }
}

// ---------------------------------------------------------------------------
// The cases

const PUBLISHED = Array.from({ length: 10 }, (_, i) => i + 1);

/**
 * Outbound: QoS 1 #1-#5 and QoS 2 #6-#10 in flight when the first process is
 * killed; the second resumes exactly #3-#5, #9, #10 (PUBLISH DUP=1) and #7, #8
 * (PUBREL).
 */
async function outboundCrash(first: Runtime, second: Runtime): Promise<void> {
  await withDir(async (dir) => {
    await using broker = await TcpBroker.start();

    // Connection 1: PUBACK #1 #2, PUBREC #6, PUBCOMP #6, then PUBREC #7 #8; nothing else.
    // PUBREC #7/#8 wait for PUBCOMP #6, so the client has recorded every completion
    // before it records (and writes) PUBREL #7/#8: the kill loses no completed flow.
    broker.onConnection = (conn) => {
      const recLater: number[] = [];
      let completed6 = false;
      conn.onPacket = (p) => {
        if (p.type === PacketType.Connect) connack(conn, false);
        else if (p.type === PacketType.Publish) {
          const id = p.packetId!;
          if (id === 1 || id === 2) ack(conn, PacketType.Puback, id);
          else if (id === 6) ack(conn, PacketType.Pubrec, id);
          else if (id === 7 || id === 8) {
            if (completed6) ack(conn, PacketType.Pubrec, id);
            else recLater.push(id);
          }
        } else if (p.type === PacketType.Pubrel && p.packetId === 6) {
          ack(conn, PacketType.Pubcomp, 6);
          completed6 = true;
          for (const id of recLater) ack(conn, PacketType.Pubrec, id);
        }
      };
    };
    const child1 = new Child(first, [dir, String(broker.port), "publish"]);
    const conn1 = await withChild(child1, async () => {
      assert.deepEqual(await child1.report("loaded"), { outbound: [], inbound: [] });
      const conn = await broker.nextConnection();
      await conn.until(
        () => conn.has(PacketType.Pubrel, 7) && conn.has(PacketType.Pubrel, 8),
        "PUBREL #7 and #8",
      );
      return conn;
    });
    await child1.kill();

    const connect1 = conn1.received[0];
    assert.equal(connect1.type, PacketType.Connect);
    assert.equal(connect1.cleanStart, false, "child 1 connects with cleanStart false");
    const publishes = conn1.received.filter((p): p is PublishPacket =>
      p.type === PacketType.Publish
    );
    assert.deepEqual(
      publishes.map((p) => [p.packetId, p.topic, p.qos, p.dup]),
      PUBLISHED.map((n) => [n, `crash/out/${n}`, n <= 5 ? 1 : 2, false]),
      "child 1 published #1-#10 once each, packet id n for message n",
    );
    assert.deepEqual(
      conn1.received.filter((p) => p.type === PacketType.Pubrel).map(label),
      ["PUBREL#6", "PUBREL#7", "PUBREL#8"],
    );
    assert.deepEqual(
      child1.all("acked").map((r) => r.n).sort((a, b) => Number(a) - Number(b)),
      [1, 2, 6],
      "child 1 saw exactly #1, #2 and #6 complete",
    );

    // Connection 2: the session is present; the script only records until the replay is in.
    let complete = false;
    broker.onConnection = (conn) => {
      conn.onPacket = (p) => {
        if (p.type === PacketType.Connect) connack(conn, true);
        else if (complete && p.type === PacketType.Pubrel) {
          ack(conn, PacketType.Pubcomp, p.packetId);
        }
      };
    };
    const child2 = new Child(second, [dir, String(broker.port), "resume"]);
    await withChild(child2, async () => {
      assert.deepEqual(await child2.report("loaded"), {
        outbound: [
          [3, "publish"],
          [4, "publish"],
          [5, "publish"],
          [7, "pubrel"],
          [8, "pubrel"],
          [9, "publish"],
          [10, "publish"],
        ],
        inbound: [],
      }, "the store held the open flows");
      const conn = await broker.nextConnection();
      assert.equal(conn.index, 1);
      await conn.until(() => conn.received.length >= 8, "the replay (CONNECT + 7 packets)");
      await delay(300); // anything more (a PUBLISH for #1, #2 or #6, a PUBREL #6) would come now
      const connect2 = conn.received[0];
      assert.equal(connect2.type, PacketType.Connect);
      assert.equal(connect2.cleanStart, false);
      assert.equal(connect2.clientId, "crash-child");
      assert.deepEqual(await child2.report("connected"), { sessionPresent: true });

      const replay = conn.received.slice(1);
      const order = replay.map(label);
      assert.equal(replay.length, 7, `exactly 7 packets after CONNECT: ${order.join(", ")}`);
      // [MQTT-4.6.0-1] PUBLISH resends in their original order; [MQTT-4.6.0-4] PUBRELs in
      // the order of their PUBRECs. How the two kinds interleave is not specified.
      const resent = replay.filter((p): p is PublishPacket => p.type === PacketType.Publish);
      assert.deepEqual(
        resent.map((p) => [p.packetId, p.dup, p.qos, p.topic, new TextDecoder().decode(p.payload)]),
        [3, 4, 5, 9, 10].map((n) => [n, true, n <= 5 ? 1 : 2, `crash/out/${n}`, `message ${n}`]),
        `PUBLISH DUP=1 for #3, #4, #5, #9, #10 in order (sent: ${order.join(", ")})`,
      );
      assert.deepEqual(
        replay.filter((p) => p.type === PacketType.Pubrel).map(label),
        ["PUBREL#7", "PUBREL#8"],
        `PUBREL for #7, #8 in order (sent: ${order.join(", ")})`,
      );

      // The broker completes everything.
      complete = true;
      for (const id of [3, 4, 5]) ack(conn, PacketType.Puback, id);
      for (const id of [9, 10]) ack(conn, PacketType.Pubrec, id);
      for (const id of [7, 8]) ack(conn, PacketType.Pubcomp, id);
      const done = await child2.report("done");
      assert.deepEqual(done, { outbound: [], inbound: [] }, "the store is empty on disk");
      await child2.success();
      assert.deepEqual(
        conn.labels(8),
        ["PUBREL#9", "PUBREL#10", "DISCONNECT"],
        "after the replay: PUBREL for #9, #10, then DISCONNECT",
      );
      assert.deepEqual(child2.all("acked"), [], "child 2 published nothing");
    });

    const store = await FileSessionStore.open(dir);
    try {
      assert.deepEqual(store.load(), { outbound: [], inbound: [] });
    } finally {
      await store.close();
    }
  });
}

/**
 * Inbound: a QoS 2 PUBLISH delivered and answered with PUBREC when the first
 * process is killed; the second answers the broker's PUBREL with PUBCOMP and
 * delivers nothing. With `resend`, the broker first sends the PUBLISH again
 * (DUP=1), which must be answered with PUBREC and not delivered.
 */
async function inboundCrash(first: Runtime, second: Runtime, resend: boolean): Promise<void> {
  await withDir(async (dir) => {
    await using broker = await TcpBroker.start();
    const message: PublishPacket = {
      type: PacketType.Publish,
      topic: "crash/in/1",
      payload: new TextEncoder().encode("exactly once"),
      qos: 2,
      retain: false,
      dup: false,
      packetId: 42,
    };

    broker.onConnection = (conn) => {
      conn.onPacket = (p) => {
        if (p.type === PacketType.Connect) connack(conn, false);
        else if (p.type === PacketType.Subscribe) {
          conn.send({ type: PacketType.Suback, packetId: p.packetId, reasonCodes: [2] });
          conn.send(message);
        }
      };
    };
    const child1 = new Child(first, [dir, String(broker.port), "receive"]);
    const conn1 = await withChild(child1, async () => {
      const conn = await broker.nextConnection();
      await conn.until(() => conn.has(PacketType.Pubrec, 42), "PUBREC #42");
      return conn;
    });
    await child1.kill();
    assert.deepEqual(conn1.labels(1), ["SUBSCRIBE#1", "PUBREC#42"]);
    assert.deepEqual(
      child1.all("delivered"),
      [{ topic: "crash/in/1", payload: "exactly once", dup: false, qos: 2 }],
      "child 1 delivered the message once",
    );

    broker.onConnection = (conn) => {
      conn.onPacket = (p) => {
        if (p.type === PacketType.Connect) connack(conn, true);
        else if (p.type === PacketType.Subscribe) {
          conn.send({ type: PacketType.Suback, packetId: p.packetId, reasonCodes: [2] });
          if (resend) conn.send({ ...message, dup: true });
          else ack(conn, PacketType.Pubrel, 42);
        } else if (p.type === PacketType.Pubrec && p.packetId === 42) {
          ack(conn, PacketType.Pubrel, 42);
        }
      };
    };
    const child2 = new Child(second, [dir, String(broker.port), "resume-inbound"]);
    await withChild(child2, async () => {
      assert.deepEqual(await child2.report("loaded"), { outbound: [], inbound: [42] });
      const conn = await broker.nextConnection();
      await child2.success();
      assert.deepEqual(
        conn.labels(1),
        resend
          ? ["SUBSCRIBE#1", "PUBREC#42", "PUBCOMP#42", "DISCONNECT"]
          : ["SUBSCRIBE#1", "PUBCOMP#42", "DISCONNECT"],
        "child 2 completes #42 (PUBCOMP without 0x92: it knew the id)",
      );
      assert.deepEqual(child2.all("delivered"), [], "child 2 delivers nothing");
      assert.deepEqual(await child2.report("done"), { outbound: [], inbound: [] });
    });
  });
}

/**
 * The crash cases for children run by `runtime`, plus a mixed-runtime case
 * (killed under one runtime, resumed under the other) when the other runtime
 * is installed.
 */
export async function crashCases(runtime: Runtime = RUNTIME): Promise<CrashCase[]> {
  const other: Runtime = runtime === "deno" ? "bun" : "deno";
  const cases: CrashCase[] = [
    {
      name:
        `Client + FileSessionStore resume exactly the open outbound QoS 1/2 flows after SIGKILL (${runtime})`,
      fn: () => outboundCrash(runtime, runtime),
    },
    {
      name:
        `Client + FileSessionStore answer PUBREL for an inbound QoS 2 message acked before SIGKILL with PUBCOMP, no redelivery (${runtime})`,
      fn: () => inboundCrash(runtime, runtime, false),
    },
    {
      name:
        `Client + FileSessionStore answer a re-sent inbound QoS 2 PUBLISH acked before SIGKILL with PUBREC, no redelivery (${runtime})`,
      fn: () => inboundCrash(runtime, runtime, true),
    },
  ];
  if (await commandExists(other)) {
    cases.push({
      name:
        `Client + FileSessionStore resume outbound flows of a process killed under ${runtime} in a ${other} process`,
      fn: () => outboundCrash(runtime, other),
    });
  }
  return cases;
}

if ("Deno" in globalThis) {
  for (const c of await crashCases()) Deno.test(c.name, c.fn);
}
