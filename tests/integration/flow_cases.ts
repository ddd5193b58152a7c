// What a user meets on the defaults, against mosquitto with its stock TCP
// settings: slow consumers lose nothing and slow the broker instead, round
// trips on one connection never wait out a delayed ACK, a forgotten ack() or a
// blocked subscription is reported, a lowered Receive Maximum that mosquitto
// 2.0.11 ignores does not loop, and a program that shuts down with calls it
// never awaited exits 0. Shared by tests/integration/flow_test.ts (Deno.test)
// and bun-tests/flow.test.ts (bun:test).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  Client,
  ClientGroup,
  type Message,
  MqttError,
  type StatusEvent,
  type Subscription,
} from "../../mod.ts";
import { startBroker } from "../_helpers/broker.ts";
import { connected, recordingLogger } from "../_helpers/clients.ts";
import { delay, waitUntil, within } from "../_helpers/timing.ts";

/** One case. */
export interface Case {
  name: string;
  fn: () => Promise<void>;
}

export const cases: Case[] = [];
function add(name: string, fn: () => Promise<void>): void {
  cases.push({ name, fn });
}

const WAIT_MS = 15_000;
/** More than the iterator's default buffer (64), fewer than mosquitto's max_queued_messages (1000). */
const BURST = 300;
/** A consumer as slow as a real one: work, then ack. */
const WORK_MS = 2;

/** Collects status events until the client closes. */
function watch(client: Client): StatusEvent[] {
  const events: StatusEvent[] = [];
  void (async () => {
    for await (const e of client.status()) events.push(e);
  })();
  return events;
}

/** The next message of an iterator, within WAIT_MS. */
async function nextOf(it: AsyncIterator<Message>, what: string): Promise<Message> {
  const r = await within(it.next(), WAIT_MS, what);
  if (r.done) throw new Error(`the subscription ended before ${what}`);
  return r.value;
}

const BROKERS: { label: string; config: string[] }[] = [
  { label: "stock mosquitto", config: [] },
  { label: "max_inflight_messages 0", config: ["max_inflight_messages 0"] },
];

// --- slow consumers lose nothing --------------------------------------------------

for (const { label, config } of BROKERS) {
  for (const qos of [1, 2] as const) {
    add(
      `Client.subscribe() on the defaults delivers all ${BURST} QoS ${qos} messages, in order, to a consumer slower than the publisher (${label})`,
      async () => {
        await using broker = await startBroker({ config });
        await using sub = await connected(broker.url, { clientId: "slow", stats: true });
        await using pub = await connected(broker.url, { clientId: "pub" });
        const s = await sub.subscribe([{ topic: "slow/t", qos }]);
        const published = Promise.all(
          Array.from(
            { length: BURST },
            (_, i) => pub.publish({ topic: "slow/t", payload: `${i}`, qos }),
          ),
        );
        const got: number[] = [];
        const it = s[Symbol.asyncIterator]();
        while (got.length < BURST) {
          const m = await nextOf(it, `message ${got.length} of ${BURST}`);
          await delay(WORK_MS);
          got.push(Number(m.text()));
          m.ack();
        }
        await within(published, WAIT_MS, "every PUBACK / PUBCOMP for the publisher");
        assert.deepEqual(got, Array.from({ length: BURST }, (_, i) => i), "all, once, in order");
        const st = sub.stats();
        assert.equal(st.inboundDropped, 0, "nothing dropped");
        assert.equal(st.disconnects, 0, "the connection held");
        if (config.length > 0) {
          // Nothing throttles the broker: the buffer of 64 fills and reading pauses.
          assert.ok(st.inboundBlocked > 0, "the full buffer held the broker back");
        }
        assert.equal(st.subscriptionsBlocked, 0, "no subscription is held back once drained");
      },
    );
    add(
      `Client.subscribeQueue() holds at most maxQueueSize QoS ${qos} messages of a slow consumer and loses none (${label})`,
      async () => {
        await using broker = await startBroker({ config });
        await using sub = await connected(broker.url, { clientId: "slowq", stats: true });
        await using pub = await connected(broker.url, { clientId: "pub" });
        const limit = 16;
        const s = await sub.subscribeQueue([{ topic: "slowq/t", qos }], { maxQueueSize: limit });
        const published = Promise.all(
          Array.from(
            { length: BURST },
            (_, i) => pub.publish({ topic: "slowq/t", payload: `${i}`, qos }),
          ),
        );
        const got: number[] = [];
        let longest = 0;
        while (got.length < BURST) {
          longest = Math.max(longest, s.queue.length);
          const m = await within(s.queue.dequeue(), WAIT_MS, `message ${got.length}`);
          assert.ok(m !== undefined, "the queue stays open");
          await delay(WORK_MS);
          got.push(Number(m.text()));
          m.ack();
        }
        await within(published, WAIT_MS, "every PUBACK / PUBCOMP for the publisher");
        assert.deepEqual(got, Array.from({ length: BURST }, (_, i) => i), "all, once, in order");
        assert.ok(longest <= limit, `the queue never held more than ${limit} (held ${longest})`);
        assert.equal(sub.stats().inboundDropped, 0);
      },
    );
  }
}

for (const { label, config } of BROKERS) {
  for (const qos of [1, 2] as const) {
    add(
      `Client.subscribeCallback() with a handler that works ${WORK_MS} ms per message receives all ${BURST} QoS ${qos} messages, in order (${label})`,
      async () => {
        await using broker = await startBroker({ config });
        await using sub = await connected(broker.url, { clientId: "slowcb", stats: true });
        await using pub = await connected(broker.url, { clientId: "pub" });
        const got: number[] = [];
        await sub.subscribeCallback([{ topic: "slowcb/t", qos }], (m) => {
          // A synchronous handler is as slow as its work: the read path waits for it.
          const until = performance.now() + WORK_MS;
          while (performance.now() < until) { /* work */ }
          got.push(Number(m.text()));
        });
        const published = Promise.all(
          Array.from(
            { length: BURST },
            (_, i) => pub.publish({ topic: "slowcb/t", payload: `${i}`, qos }),
          ),
        );
        await waitUntil(() => got.length === BURST, WAIT_MS, `${BURST} messages`);
        await within(published, WAIT_MS, "every PUBACK / PUBCOMP for the publisher");
        assert.deepEqual(got, Array.from({ length: BURST }, (_, i) => i), "all, once, in order");
        assert.equal(sub.stats().inboundDropped, 0);
      },
    );
  }
}

add(
  "ClientGroup.subscribe() on the defaults loses no QoS 1 message to a slow consumer",
  async () => {
    await using broker = await startBroker({ config: ["max_inflight_messages 0"] });
    await using group = new ClientGroup([{ broker: broker.url, name: "a" }], {
      shared: { stats: true },
    });
    await group.connect();
    await using pub = await connected(broker.url, { clientId: "pub" });
    const s = await group.subscribe([{ topic: "g/t", qos: 1 }], { buffer: 8 });
    const published = Promise.all(
      Array.from(
        { length: BURST },
        (_, i) => pub.publish({ topic: "g/t", payload: `${i}`, qos: 1 }),
      ),
    );
    const got: number[] = [];
    const it = s[Symbol.asyncIterator]();
    while (got.length < BURST) {
      const m = await nextOf(it, `message ${got.length}`);
      await delay(WORK_MS);
      got.push(Number(m.text()));
      m.ack();
    }
    await within(published, WAIT_MS, "the publisher's PUBACKs");
    assert.deepEqual(got, Array.from({ length: BURST }, (_, i) => i));
    const member = group.member("a")!;
    assert.equal(member.stats().inboundDropped, 0);
    assert.ok(member.stats().inboundBlocked > 0, "the member's bounded queue slowed its broker");
  },
);

// --- no stall on one connection ------------------------------------------------

/**
 * Fails when the median or p90 of `times` (ms) looks like a delayed ACK: it
 * costs 40+ ms on every exchange, so generous bounds still tell.
 */
function assertNoDelayedAck(times: number[], what: string): void {
  const sorted = [...times].sort((a, b) => a - b);
  const p50 = sorted[Math.floor(sorted.length / 2)];
  const p90 = sorted[Math.floor(sorted.length * 0.9)];
  const all = sorted.map((t) => t.toFixed(1));
  assert.ok(p50 < 15, `median ${what} ${p50.toFixed(2)} ms (all: ${all})`);
  assert.ok(p90 < 35, `p90 ${what} ${p90.toFixed(2)} ms (all: ${all})`);
}

const SHAPES = ["iterator", "queue", "callback"] as const;
const ROUND_TRIPS = 40;

for (const shape of SHAPES) {
  for (const qos of [1, 2] as const) {
    add(
      `Client round trips on one connection (publish QoS ${qos}, read it back through the ${shape}) never wait out a delayed ACK on stock mosquitto`,
      async () => {
        await using broker = await startBroker();
        await using client = await connected(broker.url, { clientId: `rt-${shape}` });
        const topic = `rt/${shape}`;
        let receive: () => Promise<Message>;
        if (shape === "callback") {
          const inbox: Message[] = [];
          let wake: (() => void) | undefined;
          await client.subscribeCallback([{ topic, qos }], (m) => {
            inbox.push(m);
            wake?.();
          });
          receive = async () => {
            while (inbox.length === 0) await new Promise<void>((r) => wake = r);
            return inbox.shift()!;
          };
        } else if (shape === "queue") {
          const s = await client.subscribeQueue([{ topic, qos }]);
          receive = async () => (await s.queue.dequeue())!;
        } else {
          const s: Subscription = await client.subscribe([{ topic, qos }]);
          const it = s[Symbol.asyncIterator]();
          receive = () => nextOf(it, "the message back");
        }
        const times: number[] = [];
        for (let i = 0; i < ROUND_TRIPS + 5; i++) {
          const started = performance.now();
          await client.publish({ topic, payload: `${i}`, qos });
          const m = await within(receive(), WAIT_MS, `round trip ${i}`);
          const ms = performance.now() - started;
          assert.equal(m.text(), `${i}`);
          m.ack();
          if (i >= 5) times.push(ms); // the first ones warm up the runtime
        }
        assertNoDelayedAck(times, "round trip");
      },
    );
  }
}

for (const qos of [1, 0] as const) {
  add(
    `Client.request() at QoS ${qos} with a responder on another connection never waits out a delayed ACK on stock mosquitto`,
    async () => {
      // mosquitto writes the request's PUBACK at once and the reply a moment later, held by
      // its Nagle until our TCP ACK of the PUBACK: 40+ ms on every request unless the client
      // sends something (a nudge) while it waits for the reply.
      await using broker = await startBroker();
      await using responder = await connected(broker.url, { clientId: `rr-srv-${qos}` });
      await using client = await connected(broker.url, { clientId: `rr-cli-${qos}` });
      await responder.serve([{ topic: "svc/echo", qos }], (m) => m.payload);
      const times: number[] = [];
      for (let i = 0; i < ROUND_TRIPS + 5; i++) {
        const started = performance.now();
        const reply = await client.request({
          topic: "svc/echo",
          payload: `${i}`,
          qos,
          timeoutMs: WAIT_MS,
        });
        const ms = performance.now() - started;
        assert.equal(reply.text(), `${i}`);
        if (i >= 5) times.push(ms); // the first ones warm up the runtime
      }
      assertNoDelayedAck(times, "request");
    },
  );
}

// --- mistakes made visible -------------------------------------------------------

add(
  "Client reports a message left unacked past unackedWarningMs: a warning and an unacked status event naming the subscription",
  async () => {
    await using broker = await startBroker();
    const logger = recordingLogger();
    await using sub = await connected(broker.url, {
      clientId: "forgetful",
      unackedWarningMs: 300,
      logger,
      stats: true,
    });
    const events = watch(sub);
    await using pub = await connected(broker.url, { clientId: "pub" });
    const s = await sub.subscribe([{ topic: "forget/t", qos: 1 }]);
    for (let i = 0; i < 5; i++) await pub.publish({ topic: "forget/t", payload: `${i}`, qos: 1 });
    const it = s[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) await nextOf(it, `message ${i}`); // never acked
    await waitUntil(() => events.some((e) => e.type === "unacked"), WAIT_MS, "an unacked event");
    const e = events.find((e) => e.type === "unacked");
    assert.ok(e?.type === "unacked");
    assert.equal(e.token, s.token, "names the subscription");
    assert.equal(e.count, 5);
    assert.equal(e.topic, "forget/t");
    assert.ok(e.ageMs >= 300);
    assert.equal(sub.stats().unackedWarnings, 5);
    const warned = logger.lines.filter((l) => l.level === "warn" && l.msg.includes("ack()"));
    assert.equal(warned.length, 1, "one warning for the five");
    await delay(400);
    assert.equal(
      events.filter((e) => e.type === "unacked").length,
      1,
      "each message reported once",
    );
  },
);

add(
  "Client reports a subscription held back by a full buffer: blocked / unblocked events, stats, and a warning when it lasts",
  async () => {
    await using broker = await startBroker({ config: ["max_inflight_messages 0"] });
    const logger = recordingLogger();
    await using sub = await connected(broker.url, {
      clientId: "blocked",
      unackedWarningMs: 300,
      logger,
      stats: true,
    });
    const events = watch(sub);
    await using pub = await connected(broker.url, { clientId: "pub" });
    const s = await sub.subscribeQueue([{ topic: "blk/t", qos: 0 }], { maxQueueSize: 4 });
    for (let i = 0; i < 50; i++) await pub.publish({ topic: "blk/t", payload: `${i}`, qos: 1 });
    await waitUntil(() => events.some((e) => e.type === "blocked"), WAIT_MS, "a blocked event");
    const blocked = events.find((e) => e.type === "blocked");
    assert.ok(blocked?.type === "blocked");
    assert.equal(blocked.token, s.token);
    assert.equal(blocked.buffered, 4);
    assert.equal(sub.stats().subscriptionsBlocked, 1);
    await waitUntil(
      () => logger.lines.some((l) => l.level === "warn" && l.msg.includes("held the broker back")),
      WAIT_MS,
      "the long-block warning",
    );
    const got: number[] = [];
    while (got.length < 50) {
      const m = await within(s.queue.dequeue(), WAIT_MS, `message ${got.length}`);
      got.push(Number(m!.text()));
    }
    assert.deepEqual(
      got,
      Array.from({ length: 50 }, (_, i) => i),
      "QoS 0 is held back, not dropped",
    );
    assert.ok(events.some((e) => e.type === "unblocked" && e.token === s.token));
    assert.equal(sub.stats().subscriptionsBlocked, 0);
    assert.equal(sub.stats().inboundDropped, 0);
  },
);

add(
  "Client logs drops of an explicit drop policy (rate-limited), not only counts them",
  async () => {
    await using broker = await startBroker({ config: ["max_inflight_messages 0"] });
    const logger = recordingLogger();
    await using sub = await connected(broker.url, { clientId: "dropper", logger });
    await using pub = await connected(broker.url, { clientId: "pub" });
    const dropped: string[] = [];
    await sub.subscribe([{ topic: "drop/t", qos: 1 }], {
      buffer: 2,
      dropPolicy: "drop-newest",
      onDrop: (m) => dropped.push(m.text()),
    });
    await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => pub.publish({ topic: "drop/t", payload: `${i}`, qos: 1 }),
      ),
    );
    await waitUntil(() => dropped.length === 18, WAIT_MS, "18 drops");
    const warnings = logger.lines.filter((l) => l.level === "warn" && l.msg.includes("dropped"));
    assert.ok(warnings.length >= 1, "the first drop is logged at once");
    assert.ok(warnings.length <= 2, `rate-limited: ${warnings.length} warnings for 18 drops`);
  },
);

// --- slow consumers keep their connection -----------------------------------------

add(
  "Client keeps the connection while reading is paused for a consumer that does not read for seconds (keep-alive 1 s)",
  async () => {
    await using broker = await startBroker();
    await using sub = await connected(broker.url, {
      clientId: "sleeper",
      keepAliveSeconds: 1,
      pingTimeoutMs: 500,
      stats: true,
    });
    await using pub = await connected(broker.url, { clientId: "pub" });
    const s = await sub.subscribeQueue([{ topic: "sleep/t", qos: 1 }], { maxQueueSize: 4 });
    const published = Promise.all(
      Array.from(
        { length: 100 },
        (_, i) => pub.publish({ topic: "sleep/t", payload: `${i}`, qos: 1 }),
      ),
    );
    await waitUntil(() => sub.stats().subscriptionsBlocked === 1, WAIT_MS, "reading paused");
    // Past mosquitto's 1.5 x keep-alive and our ping timeout, several times over.
    await delay(3500);
    assert.equal(sub.connected, true);
    assert.equal(sub.stats().disconnects, 0, "the broker did not drop us");
    assert.equal(sub.stats().pingTimeouts, 0, "no ping timeout while reading is paused");
    const got: number[] = [];
    while (got.length < 100) {
      const m = await within(s.queue.dequeue(), WAIT_MS, `message ${got.length}`);
      got.push(Number(m!.text()));
      m!.ack();
    }
    await within(published, WAIT_MS, "the publisher's PUBACKs");
    assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => i));
    assert.equal(sub.stats().disconnects, 0);
  },
);

// --- a lowered Receive Maximum on mosquitto 2.0.11 ----------------------------------

add(
  "Client with receiveMaximum 32 takes a 500-message burst from mosquitto without a reconnect loop, and says what the broker did",
  async () => {
    await using broker = await startBroker();
    const logger = recordingLogger();
    await using sub = await connected(broker.url, {
      clientId: "rm32",
      receiveMaximum: 32,
      logger,
      stats: true,
    });
    const events = watch(sub);
    await using pub = await connected(broker.url, { clientId: "pub" });
    const s = await sub.subscribe([{ topic: "rm/t", qos: 1 }]);
    const n = 500;
    const published = Promise.all(
      Array.from({ length: n }, (_, i) => pub.publish({ topic: "rm/t", payload: `${i}`, qos: 1 })),
    );
    const got: number[] = [];
    const it = s[Symbol.asyncIterator]();
    while (got.length < n) {
      const m = await nextOf(it, `message ${got.length}`);
      await delay(WORK_MS); // acks held back while the consumer works: mosquitto's window grows
      got.push(Number(m.text()));
      m.ack();
    }
    await within(published, WAIT_MS, "the publisher's PUBACKs");
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => i));
    const st = sub.stats();
    assert.equal(st.disconnects, 0, "no DISCONNECT 0x93 loop");
    const reported = events.filter((e) => e.type === "receive-maximum-exceeded");
    const warned = logger.lines.filter((l) =>
      l.level === "warn" && l.msg.includes("receiveMaximum")
    );
    if (st.receiveMaximumExceeded > 0) {
      // mosquitto before 2.0.13 (Debian's 2.0.11 among them) ignores a lowered Receive Maximum.
      assert.equal(reported.length, 1, "reported once per connection");
      assert.equal(warned.length, 1, "one warning naming receiveMaximum");
    } else {
      assert.equal(reported.length, 0);
    }
  },
);

// --- quiet shutdown ----------------------------------------------------------------

const CHILD = fileURLToPath(new URL("./_shutdown_child.ts", import.meta.url));

/** Runs the shutdown child under this test's runtime; resolves with its exit code and output. */
function runChild(
  url: string,
  mode: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const isDeno = (globalThis as { Deno?: unknown }).Deno !== undefined;
  const args = isDeno ? ["run", "-A", "--quiet", CHILD, url, mode] : [CHILD, url, mode];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Uint8Array) => stdout += new TextDecoder().decode(d));
    child.stderr.on("data", (d: Uint8Array) => stderr += new TextDecoder().decode(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), WAIT_MS);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

for (const mode of ["unsubscribe", "publish", "subscribe", "callback-reply"]) {
  add(
    `Client.disconnect() settles calls the program never awaited (${mode}) without an unhandled rejection: the program exits 0`,
    async () => {
      await using broker = await startBroker();
      const r = await runChild(broker.url, mode);
      assert.equal(r.stderr, "", "nothing on stderr");
      assert.equal(r.code, 0, `exit status (stdout: ${r.stdout})`);
      assert.match(r.stdout, /done/);
    },
  );
}

// --- connection failures say what to do ------------------------------------------

/** A loopback server that answers whatever it is sent with `reply`, then closes. */
async function answering(reply: Uint8Array): Promise<Server & AsyncDisposable & { port: number }> {
  const server = createServer((socket) => {
    socket.once("data", () => {
      socket.end(reply);
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return Object.assign(server, {
    port,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

add(
  "Client.connect() to a WebSocket (HTTP) port with mqtt:// rejects with connect-failed naming ws:// and wsDial",
  async () => {
    await using server = await answering(
      new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"),
    );
    await using client = new Client({ broker: `mqtt://127.0.0.1:${server.port}` });
    const err = await client.connect().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MqttError, `an MqttError: ${err}`);
    assert.equal(err.code, "connect-failed");
    // The message is the fix: it must name the scheme and the dial function.
    assert.match(err.message, /ws:\/\//);
    assert.match(err.message, /wsDial/);
  },
);

add(
  "Client.connect() with mqtt:// to a TLS port rejects with connect-failed (an MqttError with a code)",
  async () => {
    await using broker = await startBroker({ tls: true });
    await using client = new Client({
      broker: `mqtt://127.0.0.1:${broker.tlsPort}`,
      connectTimeoutMs: 3000,
    });
    const err = await client.connect().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof MqttError, `an MqttError: ${err}`);
    assert.ok(
      err.code === "connect-failed" || err.code === "connect-timeout",
      `code ${err.code}: ${err.message}`,
    );
  },
);
