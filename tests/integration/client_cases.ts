// Integration cases for Client against a real mosquitto, shared by
// tests/integration/client_test.ts (Deno.test) and
// bun-tests/client_integration.test.ts (bun:test).
//
// Each case starts its own broker with startBroker() and closes every client
// and the broker with `await using`, so Deno's sanitizers stay on. Waits are
// bounded (`within`, `until`); where a test must show that something did NOT
// arrive it publishes a marker afterwards and checks that the marker comes
// first, rather than sleeping.

import assert from "node:assert/strict";
import {
  Client,
  type ClientOptions,
  type ConnackInfo,
  type Connection,
  type DialFunc,
  type Logger,
  type Message,
  MqttError,
} from "../../mod.ts";
import { type Broker, startBroker } from "../_helpers/broker.ts";
import { connected as connectedTo } from "../_helpers/clients.ts";

/** One integration case. */
export interface Case {
  name: string;
  fn: () => Promise<void>;
}

// ---------------------------------------------------------------------------
// Helpers

const WAIT_MS = 5000;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `p`, or a rejection naming `what` after `ms`; the timer never outlives the call. */
async function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every few milliseconds until it holds. */
async function until(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

/** Reads `n` messages from a subscription without ending it (no `for await ... break`). */
async function take(sub: AsyncIterable<Message>, n: number, what: string): Promise<Message[]> {
  const it = sub[Symbol.asyncIterator]();
  const out: Message[] = [];
  for (let i = 0; i < n; i++) {
    const r = await within(it.next(), `${what} (${i} of ${n} received)`);
    if (r.done) throw new Error(`subscription ended after ${i} of ${n} ${what}`);
    out.push(r.value);
  }
  return out;
}

/** The next message of a subscription, acked. */
async function next(sub: AsyncIterable<Message>, what: string): Promise<Message> {
  const [m] = await take(sub, 1, what);
  m.ack();
  return m;
}

/** Waits until the mosquitto log matches `pattern`. */
async function untilLog(broker: Broker, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!pattern.test(await broker.log())) {
    if (Date.now() > deadline) {
      throw new Error(`mosquitto never logged ${pattern}:\n${await broker.log()}`);
    }
    await delay(10);
  }
}

/** A connected client; `await using` it. */
const connected = (broker: Broker, options: Partial<ClientOptions> = {}) =>
  connectedTo(broker.url, { connectTimeoutMs: WAIT_MS, ...options });

/** Rejects-with-MqttError-code predicate for assert.rejects. */
function code(expected: string, reasonCode?: number) {
  return (err: unknown) => {
    assert.ok(err instanceof MqttError, `expected an MqttError, got ${String(err)}`);
    assert.equal(err.code, expected);
    if (reasonCode !== undefined) assert.equal(err.reasonCode, reasonCode);
    return true;
  };
}

const encoder = new TextEncoder();

/** Bytes 0..255 in a scrambled order, not valid UTF-8. */
function binary(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 151 + 7) & 0xff);
}

/**
 * A DialFunc over the runtime's own transport that hands the test every
 * Connection it opened (to cut it) and every inbound chunk (to tamper with it),
 * and can hold dials until `release()`.
 *
 * With `coalesceFirstMs`, the bytes arriving in that many milliseconds after
 * the first inbound byte of each connection (the CONNACK and whatever the
 * broker sends right behind it) reach the client as one chunk, as a busy event
 * loop or a large TCP read would deliver them. TCP keeps no packet boundaries:
 * the client must cope with any split.
 */
function tappedDial(options: { coalesceFirstMs?: number } = {}): {
  dial: DialFunc;
  conns: Connection[];
  chunks: Uint8Array[];
  hold(): void;
  release(): void;
  dials: number;
} {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const coalesceMs = options.coalesceFirstMs ?? 0;
  const tap = {
    conns: [] as Connection[],
    chunks: [] as Uint8Array[],
    dials: 0,
    hold() {
      gate = new Promise<void>((resolve) => open = resolve);
    },
    release() {
      open?.();
      gate = undefined;
    },
    dial: (async (url, dialOptions) => {
      tap.dials++;
      if (gate !== undefined) await gate;
      const { autoDial } = await import("../../src/transport/mod.ts");
      const inner = await autoDial(url, dialOptions);
      const conn: Connection = {
        start(onData, onClose) {
          let held: Uint8Array[] | null = coalesceMs > 0 ? [] : null;
          let timer: ReturnType<typeof setTimeout> | undefined;
          const deliver = (chunk: Uint8Array) => {
            tap.chunks.push(chunk);
            onData(chunk);
          };
          const flush = () => {
            clearTimeout(timer);
            const parts = held;
            held = null;
            if (parts === null || parts.length === 0) return;
            const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
            let at = 0;
            for (const p of parts) {
              all.set(p, at);
              at += p.length;
            }
            deliver(all);
          };
          inner.start((chunk) => {
            if (held === null) return deliver(chunk);
            held.push(chunk);
            timer ??= setTimeout(flush, coalesceMs);
          }, (error) => {
            flush();
            onClose(error);
          });
        },
        write: (data) => inner.write(data),
        close: () => inner.close(),
      };
      tap.conns.push(conn);
      return conn;
    }) as DialFunc,
  };
  return tap;
}

/** A Logger that keeps the warnings and errors the client reports. */
function recordingLogger(): { logger: Logger; problems: string[] } {
  const problems: string[] = [];
  const keep = (msg: string, fields?: Record<string, unknown>) =>
    problems.push(`${msg} ${JSON.stringify(fields ?? {})}`);
  return { logger: { debug() {}, info() {}, warn: keep, error: keep }, problems };
}

/** Distinct entries of `lines`, each with its count. */
function summary(lines: string[]): string {
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts].map(([l, n]) => (n > 1 ? `${n} x ${l}` : l)).join("; ");
}

// ---------------------------------------------------------------------------
// Cases

export const cases: Case[] = [];

function add(name: string, fn: () => Promise<void>): void {
  cases.push({ name, fn });
}

// --- connect / disconnect ---------------------------------------------------

add(
  "Client.connect() resolves with mosquitto's CONNACK and adopts an assigned client id",
  async () => {
    await using broker = await startBroker();
    const client = new Client({ broker: broker.url, clientId: "" });
    await using _ = client;
    assert.equal(client.clientId, "");
    assert.equal(client.connected, false);
    const info = await client.connect();
    assert.equal(client.connected, true);
    assert.equal(info.reasonCode, 0);
    assert.equal(info.sessionPresent, false);
    // mosquitto 2.0 defaults: max_inflight_messages 20, max_topic_alias 10, QoS 2, retain on.
    assert.equal(info.receiveMaximum, 20);
    assert.equal(info.maximumQoS, 2);
    assert.equal(info.topicAliasMaximum, 10);
    assert.equal(info.retainAvailable, true);
    assert.equal(info.wildcardSubscriptionAvailable, true);
    assert.equal(info.subscriptionIdentifiersAvailable, true);
    assert.equal(info.sharedSubscriptionAvailable, true);
    assert.equal(info.maximumPacketSize, undefined);
    assert.equal(info.serverKeepAlive, undefined);
    assert.deepEqual(info.userProperties, []);
    assert.ok(info.assignedClientIdentifier, "mosquitto assigns an id for an empty one");
    assert.match(info.assignedClientIdentifier, /^auto-/);
    assert.equal(client.clientId, info.assignedClientIdentifier);
    // The id is the one the broker knows.
    assert.ok((await broker.log()).includes(`as ${client.clientId} (p5`), "mosquitto logs the id");
  },
);

add(
  "Client.connect() reports the limits mosquitto is configured with and publish() honours them",
  async () => {
    await using broker = await startBroker({
      config: [
        "max_inflight_messages 7",
        "max_qos 1",
        "retain_available false",
        "max_topic_alias 5",
        "max_packet_size 2000",
        "max_keepalive 20",
      ],
    });
    const ups: ConnackInfo[] = [];
    await using client = new Client({
      broker: broker.url,
      clientId: "limits",
      keepAliveSeconds: 30,
      onConnectionUp: (c) => ups.push(c),
    });
    const info = await client.connect();
    assert.equal(info.receiveMaximum, 7);
    assert.equal(info.maximumQoS, 1);
    assert.equal(info.retainAvailable, false);
    assert.equal(info.topicAliasMaximum, 5);
    assert.equal(info.maximumPacketSize, 2000);
    assert.equal(info.serverKeepAlive, 20);
    assert.equal(client.clientId, "limits");
    assert.equal(info.assignedClientIdentifier, undefined);
    assert.deepEqual(ups, [info]);
    // Refused before anything is written; the connection stays up.
    await assert.rejects(client.publish({ topic: "l/t", qos: 2 }), code("qos-not-supported"));
    await assert.rejects(
      client.publish({ topic: "l/t", retain: true }),
      code("retain-not-supported"),
    );
    await assert.rejects(
      client.publish({ topic: "l/t", payload: new Uint8Array(3000), qos: 1 }),
      code("packet-too-large"),
    );
    assert.equal(client.connected, true);
    const sub = await client.subscribe([{ topic: "l/t", qos: 1 }]);
    assert.deepEqual(await client.publish({ topic: "l/t", payload: "ok", qos: 1 }), {
      reasonCode: 0,
    });
    assert.equal((await next(sub, "the publish within limits")).text(), "ok");
  },
);

add(
  "Client.disconnect() is idempotent and calls around the connection reject with stable codes",
  async () => {
    await using broker = await startBroker();
    const client = new Client({ broker: broker.url, clientId: "idem" });
    await using _ = client; // only if an assertion fails before the explicit calls
    await assert.rejects(client.publish({ topic: "t", payload: "x" }), code("not-connected"));
    await assert.rejects(client.subscribe(["t"]), code("not-connected"));
    await client.connect();
    await assert.rejects(client.connect(), code("already-connected"));
    const first = client.disconnect();
    const second = client.disconnect();
    await Promise.all([first, second]);
    await client.disconnect();
    await client[Symbol.asyncDispose]();
    assert.equal(client.connected, false);
    await assert.rejects(client.publish({ topic: "t", payload: "x", qos: 1 }), code("closed"));
    await assert.rejects(client.subscribe(["t"]), code("closed"));
    await assert.rejects(client.connect(), code("closed"));
    // The broker saw one normal DISCONNECT.
    await untilLog(broker, /Client idem disconnected\./);
    assert.doesNotMatch(await broker.log(), /Client idem closed its connection/);
  },
);

add("Client is disconnected by await using at the end of its scope", async () => {
  await using broker = await startBroker();
  await using watcher = await connected(broker, { clientId: "watcher" });
  const status = await watcher.subscribe([{ topic: "status/#", qos: 1 }]);
  let escaped: Client | undefined;
  let sub: AsyncIterable<Message> | undefined;
  {
    await using scoped = await connected(broker, {
      clientId: "scoped",
      will: { topic: "status/scoped", payload: "gone", qos: 1 },
    });
    escaped = scoped;
    sub = await scoped.subscribe([{ topic: "x/#", qos: 1 }]);
    assert.equal(scoped.connected, true);
  }
  assert.equal(escaped.connected, false);
  // Its subscriptions ended.
  const r = await within(sub[Symbol.asyncIterator]().next(), "the ended iteration");
  assert.equal(r.done, true);
  await assert.rejects(escaped.publish({ topic: "t", qos: 1 }), code("closed"));
  // It was a normal DISCONNECT (mosquitto says "disconnected", not "closed its
  // connection"), so no will: the marker is the first thing on status/#.
  await untilLog(broker, /Client scoped disconnected\./);
  await watcher.publish({ topic: "status/marker", payload: "marker", qos: 1 });
  const m = await next(status, "the marker");
  assert.equal(m.topic, "status/marker");
});

// --- publish / subscribe at each QoS -----------------------------------------

for (const qos of [0, 1, 2] as const) {
  add(
    `Client delivers QoS ${qos} both ways with payload, retain and properties intact`,
    async () => {
      await using broker = await startBroker();
      await using a = await connected(broker, { clientId: `a${qos}` });
      await using b = await connected(broker, { clientId: `b${qos}` });
      const toA = await a.subscribe([{ topic: "to/a", qos }]);
      const toB = await b.subscribe([{ topic: "to/b", qos, retainAsPublished: true }]);

      // a -> b: binary payload, every property, retained (kept as published).
      const payload = binary(1000);
      const correlationData = new Uint8Array([0, 1, 2, 0xfe, 0xff]);
      const sent = await a.publish({
        topic: "to/b",
        payload,
        qos,
        retain: true,
        properties: {
          payloadFormatIndicator: 0,
          contentType: "application/octet-stream",
          responseTopic: "to/a",
          correlationData,
          userProperties: [["k", "v1"], ["k", "v2"], ["ünï", "cødé ✓"]],
          messageExpiryInterval: 60,
        },
      });
      assert.equal(sent.reasonCode, 0);
      const m = await next(toB, "a's publish at b");
      assert.equal(m.topic, "to/b");
      assert.equal(m.qos, qos);
      assert.equal(m.retain, true);
      assert.equal(m.dup, false);
      if (qos === 0) assert.equal(m.packetId, 0);
      else assert.ok(m.packetId > 0);
      assert.deepEqual(m.clonePayload(), payload);
      assert.equal(m.properties.payloadFormatIndicator, 0);
      assert.equal(m.properties.contentType, "application/octet-stream");
      assert.equal(m.properties.responseTopic, "to/a");
      assert.deepEqual(m.properties.correlationData?.slice(), correlationData);
      assert.deepEqual(m.properties.userProperties, [["k", "v1"], ["k", "v2"], [
        "ünï",
        "cødé ✓",
      ]]);
      // The broker forwards the remaining lifetime.
      const expiry = m.properties.messageExpiryInterval;
      assert.ok(expiry !== undefined && expiry > 50 && expiry <= 60, `expiry ${expiry}`);

      // b -> a: the reply, UTF-8 text, to the response topic with the correlation data.
      const text = "héllo, wörld ✓ 🚀";
      const reply = await b.publish({
        topic: m.properties.responseTopic!,
        payload: text,
        qos,
        properties: {
          payloadFormatIndicator: 1,
          contentType: "text/plain; charset=utf-8",
          correlationData: m.properties.correlationData!.slice(),
        },
      });
      assert.equal(reply.reasonCode, 0);
      const r = await next(toA, "b's reply at a");
      assert.equal(r.topic, "to/a");
      assert.equal(r.qos, qos);
      assert.equal(r.retain, false);
      assert.equal(r.text(), text);
      assert.deepEqual(r.clonePayload(), encoder.encode(text));
      assert.equal(r.properties.payloadFormatIndicator, 1);
      assert.equal(r.properties.contentType, "text/plain; charset=utf-8");
      assert.deepEqual(r.properties.correlationData?.slice(), correlationData);
      assert.equal(r.properties.messageExpiryInterval, undefined);
      assert.equal(r.properties.responseTopic, undefined);
      assert.equal(r.properties.userProperties, undefined);
    },
  );
}

add(
  "Client publishes at a lower QoS than the subscription grants, and the lower QoS wins",
  async () => {
    await using broker = await startBroker();
    await using c = await connected(broker, { clientId: "mixed" });
    const sub0 = await c.subscribe([{ topic: "m/0", qos: 0 }]);
    const sub2 = await c.subscribe([{ topic: "m/2", qos: 2 }]);
    await c.publish({ topic: "m/0", payload: "down", qos: 2 });
    await c.publish({ topic: "m/2", payload: "as-is", qos: 1 });
    const m0 = await next(sub0, "the downgraded message");
    assert.equal(m0.qos, 0);
    assert.equal(m0.text(), "down");
    const m2 = await next(sub2, "the QoS 1 message");
    assert.equal(m2.qos, 1);
    assert.equal(m2.text(), "as-is");
  },
);

// --- the three subscribe shapes ----------------------------------------------

add(
  "Client.subscribe() iterates messages in order and unsubscribe() ends the iteration",
  async () => {
    await using broker = await startBroker();
    await using sub = await connected(broker, { clientId: "iter" });
    await using pub = await connected(broker, { clientId: "pub" });
    const s = await sub.subscribe([{ topic: "it/+", qos: 1 }]);
    const seen: string[] = [];
    const loop = (async () => {
      for await (const m of s) {
        seen.push(`${m.topic}=${m.text()}`);
        m.ack();
      }
      return "ended";
    })();
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await pub.publish({ topic: `it/${i}`, payload: `${i}`, qos: 1 })).reasonCode,
        0,
      );
    }
    await until(() => seen.length === 5, "5 messages");
    assert.deepEqual(seen, ["it/0=0", "it/1=1", "it/2=2", "it/3=3", "it/4=4"]);
    await s.unsubscribe();
    assert.equal(await within(loop, "the for-await loop to end"), "ended");
    // The broker dropped the subscription: no matching subscribers (0x10).
    const after = await pub.publish({ topic: "it/5", payload: "5", qos: 1 });
    assert.equal(after.reasonCode, 0x10);
    assert.equal(seen.length, 5);
    await s.unsubscribe(); // idempotent
  },
);

add("Client.subscribe() ends the subscription when a for-await loop breaks", async () => {
  await using broker = await startBroker();
  await using c = await connected(broker, { clientId: "brk" });
  const s = await c.subscribe([{ topic: "b/t", qos: 1 }]);
  await c.publish({ topic: "b/t", payload: "one", qos: 1 });
  for await (const m of s) {
    assert.equal(m.text(), "one");
    m.ack();
    break;
  }
  const r = await c.publish({ topic: "b/t", payload: "two", qos: 1 });
  assert.equal(r.reasonCode, 0x10, "the UNSUBSCRIBE reached the broker");
});

add(
  "Client.subscribeQueue() delivers through queue.dequeue() and unsubscribe() closes the queue",
  async () => {
    await using broker = await startBroker();
    await using sub = await connected(broker, { clientId: "q" });
    await using pub = await connected(broker, { clientId: "pub" });
    const s = await sub.subscribeQueue([{ topic: "q/t", qos: 2 }]);
    for (let i = 0; i < 3; i++) await pub.publish({ topic: "q/t", payload: `m${i}`, qos: 2 });
    for (let i = 0; i < 3; i++) {
      const m = await within(s.queue.dequeue(), `message ${i}`);
      assert.ok(m !== undefined);
      assert.equal(m.text(), `m${i}`);
      assert.equal(m.qos, 2);
      m.ack();
    }
    assert.equal(s.queue.length, 0);
    const waiting = s.queue.dequeue();
    await s.unsubscribe();
    assert.equal(await within(waiting, "the pending dequeue"), undefined);
    assert.equal(await s.queue.dequeue(), undefined);
    assert.equal((await pub.publish({ topic: "q/t", payload: "late", qos: 1 })).reasonCode, 0x10);
  },
);

add("Client.subscribeCallback() calls the handler and unsubscribe() stops it", async () => {
  await using broker = await startBroker();
  await using sub = await connected(broker, { clientId: "cb" });
  await using pub = await connected(broker, { clientId: "pub" });
  const got: string[] = [];
  const token = await sub.subscribeCallback([{ topic: "cb/#", qos: 1 }], (m) => {
    got.push(`${m.topic}:${m.text()}:${m.qos}`);
  });
  await pub.publish({ topic: "cb/a", payload: "1", qos: 1 });
  await pub.publish({ topic: "cb/b/c", payload: "2", qos: 0 });
  await pub.publish({ topic: "cb/d", payload: "3", qos: 2 });
  await until(() => got.length === 3, "3 callbacks");
  assert.deepEqual(got, ["cb/a:1:1", "cb/b/c:2:0", "cb/d:3:1"]);
  await sub.unsubscribe(token);
  assert.equal((await pub.publish({ topic: "cb/a", payload: "4", qos: 1 })).reasonCode, 0x10);
  assert.equal(got.length, 3);
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    sub.subscribeCallback(["cb/#"], undefined as any),
    code("nil-handler"),
  );
});

add("Message.ack() opens the broker's window: unacknowledged messages hold it shut", async () => {
  // The window is mosquitto's max_inflight_messages. (A client receiveMaximum
  // would do, but mosquitto 2.0.11 overshoots it after the first PUBACK, which
  // the client rightly answers with DISCONNECT 0x93; that is a broker bug.)
  await using broker = await startBroker({ config: ["max_inflight_messages 2"] });
  await using sub = await connected(broker, { clientId: "win" });
  await using pub = await connected(broker, { clientId: "pub" });
  const s = await sub.subscribeQueue([{ topic: "w/t", qos: 1 }]);
  await Promise.all(
    Array.from({ length: 5 }, (_, i) => pub.publish({ topic: "w/t", payload: `${i}`, qos: 1 })),
  );
  await until(() => s.queue.length === 2, "the first 2 messages");
  await delay(150);
  assert.equal(s.queue.length, 2, "the broker holds the rest until an ack");
  const first = s.queue.tryDequeue()!;
  assert.equal(first.text(), "0");
  first.ack();
  first.ack(); // idempotent
  await until(() => s.queue.length >= 2, "message 2 after one ack");
  const rest: string[] = [];
  for (let i = 0; i < 4; i++) {
    const m = await within(s.queue.dequeue(), `message ${i + 1}`);
    rest.push(m!.text());
    m!.ack();
  }
  assert.deepEqual(rest, ["1", "2", "3", "4"]);
  assert.equal(sub.connected, true);
});

// --- backpressure ----------------------------------------------------------------

add(
  "Client.subscribe({ buffer: 4, dropPolicy: 'drop-newest' }) keeps 4, drops and acks 96 of 100, and the broker is not left retrying",
  async () => {
    // No outbound window at the broker, so all 100 reach the client while nothing
    // is read. (With mosquitto's default of 20 the PUBACKs of dropped messages
    // wait behind the 4 unread ones, [MQTT-4.6.0-2]: see the next case.)
    await using broker = await startBroker({ config: ["max_inflight_messages 0"] });
    await using pub = await connected(broker, { clientId: "pub" });
    const dropped: string[] = [];
    {
      await using sub = await connected(broker, {
        clientId: "bp",
        stats: true,
        sessionExpirySeconds: 60,
      });
      const s = await sub.subscribe([{ topic: "bp/t", qos: 1 }], {
        buffer: 4,
        dropPolicy: "drop-newest",
        onDrop: (m) => dropped.push(m.text()),
      });
      const results = await Promise.all(
        Array.from(
          { length: 100 },
          (_, i) => pub.publish({ topic: "bp/t", payload: `${i}`, qos: 1 }),
        ),
      );
      assert.ok(results.every((r) => r.reasonCode === 0));
      await until(() => dropped.length >= 96, "96 drops");
      await delay(50);
      assert.equal(dropped.length, 96);
      assert.deepEqual(dropped, Array.from({ length: 96 }, (_, i) => `${i + 4}`));
      assert.equal(sub.stats().inboundDropped, 96);
      assert.equal(sub.stats().inboundPublishes, 100);
      // Drain: the 4 buffered are the oldest.
      const kept = await take(s, 4, "the buffered messages");
      assert.deepEqual(kept.map((m) => m.text()), ["0", "1", "2", "3"]);
      for (const m of kept) m.ack();
      // The subscription still works.
      await pub.publish({ topic: "bp/t", payload: "100", qos: 1 });
      const m = await next(s, "the message after draining");
      assert.equal(m.text(), "100");
      assert.equal(m.dup, false);
      assert.equal(sub.stats().inboundDropped, 96);
      // A round trip: the broker has read every PUBACK written before it, so the
      // DISCONNECT's flush timeout cannot lose one.
      await sub.publish({ topic: "bp/sync", qos: 1 });
    }
    // Resume the session: had any of the 101 gone unacknowledged, the broker would
    // redeliver it right after CONNACK, ahead of the marker.
    const { logger, problems } = recordingLogger();
    await using again = new Client({
      broker: broker.url,
      clientId: "bp",
      cleanStart: false,
      sessionExpirySeconds: 60,
      stats: true,
      logger,
    });
    assert.equal((await again.connect()).sessionPresent, true);
    await pub.publish({ topic: "bp/t", payload: "marker", qos: 1 });
    const report = async () =>
      `stats ${JSON.stringify(again.stats())}; client said: ${summary(problems)}; mosquitto:\n${
        (await broker.log()).split("\n").filter((l) => / bp[ ,]/.test(l)).join("\n")
      }`;
    try {
      await until(() => again.stats().inboundPublishes >= 1, "the marker");
    } catch (err) {
      throw new Error(`the marker did not arrive: ${await report()}`, { cause: err });
    }
    await delay(50);
    assert.equal(again.stats().inboundPublishes, 1, `no redelivery: ${await report()}`);
    assert.deepEqual(problems, [], await report());
  },
);

add(
  "Client.subscribeQueue({ maxQueueSize: 4, dropPolicy: 'drop-newest' }) holds PUBACKs of dropped messages behind unread ones, and the flow resumes as they are read",
  async () => {
    // mosquitto's default window: 20 messages in flight to a client.
    await using broker = await startBroker();
    await using sub = await connected(broker, { clientId: "hol", stats: true });
    await using pub = await connected(broker, { clientId: "pub" });
    const dropped: number[] = [];
    const s = await sub.subscribeQueue([{ topic: "hol/t", qos: 1 }], {
      maxQueueSize: 4,
      dropPolicy: "drop-newest",
      onDrop: (m) => dropped.push(Number(m.text())),
    });
    await Promise.all(
      Array.from(
        { length: 100 },
        (_, i) => pub.publish({ topic: "hol/t", payload: `${i}`, qos: 1 }),
      ),
    );
    await until(() => sub.stats().inboundPublishes === 20, "the broker's window of 20");
    await delay(100);
    assert.equal(sub.stats().inboundPublishes, 20, "the window stays shut while 0..3 are unread");
    assert.deepEqual(dropped, Array.from({ length: 16 }, (_, i) => i + 4));
    assert.equal(s.queue.length, 4);
    const kept: number[] = [];
    const deadline = Date.now() + WAIT_MS;
    while (kept.length + dropped.length < 100) {
      const m = s.queue.tryDequeue();
      if (m !== undefined) {
        kept.push(Number(m.text()));
        m.ack();
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`only ${kept.length} kept + ${dropped.length} dropped of 100 arrived`);
      }
      await delay(1);
    }
    assert.deepEqual(kept.slice(0, 4), [0, 1, 2, 3]);
    assert.deepEqual(kept, [...kept].sort((x, y) => x - y), "in order");
    assert.deepEqual(
      [...kept, ...dropped].sort((x, y) => x - y),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.equal(sub.stats().inboundDropped, dropped.length);
    await pub.publish({ topic: "hol/t", payload: "100", qos: 1 });
    const m = await within(s.queue.dequeue(), "the message after draining");
    assert.equal(m?.text(), "100");
    m?.ack();
  },
);

add(
  "Client.subscribeQueue({ maxQueueSize: 5, dropPolicy: 'drop-oldest' }) keeps the newest 5",
  async () => {
    await using broker = await startBroker();
    await using sub = await connected(broker, { clientId: "dq", stats: true });
    await using pub = await connected(broker, { clientId: "pub" });
    const dropped: string[] = [];
    const s = await sub.subscribeQueue([{ topic: "dq/t", qos: 1 }], {
      maxQueueSize: 5,
      dropPolicy: "drop-oldest",
      onDrop: (m) => dropped.push(m.text()),
    });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => pub.publish({ topic: "dq/t", payload: `${i}`, qos: 1 })),
    );
    await until(() => dropped.length >= 15, "15 drops");
    assert.deepEqual(dropped, Array.from({ length: 15 }, (_, i) => `${i}`));
    assert.equal(s.queue.length, 5);
    assert.equal(sub.stats().inboundDropped, 15);
    const kept: string[] = [];
    for (let m = s.queue.tryDequeue(); m !== undefined; m = s.queue.tryDequeue()) {
      kept.push(m.text());
      m.ack();
    }
    assert.deepEqual(kept, ["15", "16", "17", "18", "19"]);
    await pub.publish({ topic: "dq/t", payload: "20", qos: 1 });
    const m = await within(s.queue.dequeue(), "the message after draining");
    assert.equal(m?.text(), "20");
    m?.ack();
  },
);

add(
  "Client.subscribe({ dropPolicy: 'drop-oldest' }) rejects with drop-oldest-unsupported",
  async () => {
    await using broker = await startBroker();
    await using c = await connected(broker, { clientId: "do", stats: true });
    await assert.rejects(
      c.subscribe([{ topic: "do/t", qos: 1 }], { dropPolicy: "drop-oldest" }),
      code("drop-oldest-unsupported"),
    );
    assert.equal(c.stats().subscribesSent, 0, "nothing went on the wire");
    assert.equal((await c.publish({ topic: "do/t", qos: 1 })).reasonCode, 0x10);
  },
);

add(
  "Client.subscribe({ autoAck: true }) acks on dispatch and delivers a detached copy",
  async () => {
    // A window of 2 at the broker: only acks let more than 2 messages through.
    await using broker = await startBroker({ config: ["max_inflight_messages 2"] });
    const tap = tappedDial();
    await using sub = await connected(broker, { clientId: "aa", dial: tap.dial });
    await using pub = await connected(broker, { clientId: "pub" });
    const auto = await sub.subscribe([{ topic: "aa/t", qos: 1 }], { autoAck: true });
    const payloads = Array.from({ length: 6 }, (_, i) => encoder.encode(`payload-${i}-abcdef`));
    const correlation = new Uint8Array([9, 8, 7, 6]);
    for (const payload of payloads) {
      await pub.publish({
        topic: "aa/t",
        payload,
        qos: 1,
        properties: { correlationData: correlation },
      });
    }
    const got = await take(auto, 6, "6 messages without a single ack() call");
    // Wreck every buffer the transport handed to the client.
    for (const chunk of tap.chunks) chunk.fill(0);
    for (let i = 0; i < 6; i++) {
      const m = got[i];
      assert.deepEqual(m.payload, payloads[i]);
      assert.deepEqual(m.properties.correlationData, correlation);
      for (const chunk of tap.chunks) assert.notEqual(m.payload.buffer, chunk.buffer);
      m.ack(); // a no-op
      m.ack();
    }
    // Nothing was held back: the session has nothing unacknowledged.
    await pub.publish({ topic: "aa/t", payload: "last", qos: 1 });
    assert.equal((await take(auto, 1, "the last message"))[0].text(), "last");
  },
);

add(
  "Message.payload of a manual-ack subscription is a view, clonePayload() is a copy",
  async () => {
    await using broker = await startBroker();
    const tap = tappedDial();
    await using c = await connected(broker, { clientId: "view", dial: tap.dial });
    const s = await c.subscribe([{ topic: "v/t", qos: 1 }]);
    await c.publish({ topic: "v/t", payload: "abcdefgh", qos: 1 });
    const [m] = await take(s, 1, "the message");
    const copy = m.clonePayload();
    for (const chunk of tap.chunks) chunk.fill(0x78); // "x"
    assert.equal(new TextDecoder().decode(copy), "abcdefgh");
    m.ack();
  },
);

// --- retained, shared, noLocal, overlapping ------------------------------------

add(
  "Client receives a retained message with retain=true, and retainHandling 2 suppresses it",
  async () => {
    await using broker = await startBroker();
    await using pub = await connected(broker, { clientId: "pub" });
    const r = await pub.publish({ topic: "r/t", payload: "kept", qos: 1, retain: true });
    assert.equal(r.reasonCode, 0x10, "no subscriber yet");
    await using late = await connected(broker, { clientId: "late" });
    const s = await late.subscribe([{ topic: "r/#", qos: 1 }]);
    const m = await next(s, "the retained message");
    assert.equal(m.topic, "r/t");
    assert.equal(m.text(), "kept");
    assert.equal(m.retain, true);
    assert.equal(m.qos, 1);
    await using never = await connected(broker, { clientId: "never" });
    const n = await never.subscribe([{ topic: "r/#", qos: 1, retainHandling: 2 }]);
    await pub.publish({ topic: "r/marker", payload: "live", qos: 1 });
    const first = await next(n, "the live marker");
    assert.equal(first.topic, "r/marker", "the retained message was not sent");
    assert.equal(first.retain, false);
    const live = await next(s, "the live marker at the first subscriber");
    assert.equal(live.topic, "r/marker");
    assert.equal(live.retain, false);
    // Clearing the retained message: a later subscriber gets nothing.
    await pub.publish({ topic: "r/t", payload: "", qos: 1, retain: true });
    await next(s, "the clearing publish");
    await using after = await connected(broker, { clientId: "after" });
    const a = await after.subscribe([{ topic: "r/t", qos: 1 }]);
    await pub.publish({ topic: "r/t", payload: "fresh", qos: 1 });
    const fresh = await next(a, "the fresh publish");
    assert.equal(fresh.text(), "fresh");
    assert.equal(fresh.retain, false);
  },
);

add("Client shared subscription $share/g/t splits messages across two clients", async () => {
  await using broker = await startBroker();
  await using s1 = await connected(broker, { clientId: "s1" });
  await using s2 = await connected(broker, { clientId: "s2" });
  await using pub = await connected(broker, { clientId: "pub" });
  const got1: string[] = [];
  const got2: string[] = [];
  await s1.subscribeCallback([{ topic: "$share/g/sh/t", qos: 1 }], (m) => got1.push(m.text()));
  await s2.subscribeCallback([{ topic: "$share/g/sh/t", qos: 1 }], (m) => got2.push(m.text()));
  for (let i = 0; i < 20; i++) await pub.publish({ topic: "sh/t", payload: `${i}`, qos: 1 });
  await until(() => got1.length + got2.length >= 20, "20 messages across the group");
  await pub.publish({ topic: "sh/t", payload: "end-a", qos: 1 });
  await pub.publish({ topic: "sh/t", payload: "end-b", qos: 1 });
  await until(() => got1.length + got2.length >= 22, "the end markers");
  const n1 = got1.filter((t) => !t.startsWith("end")).map(Number);
  const n2 = got2.filter((t) => !t.startsWith("end")).map(Number);
  assert.ok(n1.length > 0 && n2.length > 0, `split ${n1.length}/${n2.length}`);
  assert.deepEqual([...n1, ...n2].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
  for (const n of [n1, n2]) assert.deepEqual(n, [...n].sort((x, y) => x - y), "in order");
});

add("Client noLocal suppresses the client's own publishes", async () => {
  await using broker = await startBroker();
  await using self = await connected(broker, { clientId: "self" });
  await using other = await connected(broker, { clientId: "other" });
  const mine = await self.subscribe([{ topic: "nl/t", qos: 1, noLocal: true }]);
  const theirs = await other.subscribe([{ topic: "nl/t", qos: 1 }]);
  await self.publish({ topic: "nl/t", payload: "own", qos: 1 });
  assert.equal((await next(theirs, "self's publish at other")).text(), "own");
  await other.publish({ topic: "nl/t", payload: "marker", qos: 1 });
  assert.equal((await next(mine, "other's publish at self")).text(), "marker");
  await next(theirs, "other's own publish (no noLocal)");
  await assert.rejects(
    self.subscribe([{ topic: "$share/g/nl/t", noLocal: true }]),
    (err) => err instanceof TypeError,
  );
});

add(
  "Client overlapping subscriptions a/# and a/+ each receive each message exactly once",
  async () => {
    await using broker = await startBroker();
    await using c = await connected(broker, { clientId: "ov" });
    await using pub = await connected(broker, { clientId: "pub" });
    const hash = await c.subscribeQueue([{ topic: "a/#", qos: 1 }]);
    const plus = await c.subscribeQueue([{ topic: "a/+", qos: 1 }]);
    for (const [topic, payload] of [["a/x", "1"], ["a/x/y", "2"], ["a/z", "3"], ["a/end", "end"]]) {
      await pub.publish({ topic, payload, qos: 1 });
    }
    const read = async (q: typeof hash, n: number, what: string) => {
      const out: Message[] = [];
      for (let i = 0; i < n; i++) {
        const m = await within(q.queue.dequeue(), `${what} ${i}`);
        assert.ok(m);
        m.ack();
        out.push(m);
      }
      return out;
    };
    const viaHash = await read(hash, 4, "a/# message");
    const viaPlus = await read(plus, 3, "a/+ message");
    assert.deepEqual(viaHash.map((m) => m.text()), ["1", "2", "3", "end"]);
    assert.deepEqual(viaPlus.map((m) => m.text()), ["1", "3", "end"]);
    // Nothing more after the end markers.
    await pub.publish({ topic: "b/unrelated", payload: "x", qos: 1 });
    await c.publish({ topic: "a/x/final", payload: "final", qos: 1 });
    assert.equal((await read(hash, 1, "final"))[0].text(), "final");
    assert.equal(plus.queue.length, 0);
    assert.equal(hash.queue.length, 0);
    // Each copy names its own subscription.
    const idsHash = viaHash[0].properties.subscriptionIdentifiers;
    const idsPlus = viaPlus[0].properties.subscriptionIdentifiers;
    assert.equal(idsHash?.length, 1);
    assert.equal(idsPlus?.length, 1);
    assert.notEqual(idsHash![0], idsPlus![0]);
  },
);

add(
  "Client subscriptions sharing one filter each get each message once; unsubscribing one keeps the other",
  async () => {
    await using broker = await startBroker();
    await using c = await connected(broker, { clientId: "same", stats: true });
    await using pub = await connected(broker, { clientId: "pub" });
    const first = await c.subscribeQueue([{ topic: "s/+", qos: 1 }]);
    const got: string[] = [];
    const token = await c.subscribeCallback([{ topic: "s/+", qos: 1 }], (m) => got.push(m.text()));
    await pub.publish({ topic: "s/a", payload: "1", qos: 1 });
    await pub.publish({ topic: "s/b", payload: "2", qos: 1 });
    await until(() => got.length >= 2 && first.queue.length >= 2, "both deliveries");
    await delay(30);
    assert.deepEqual(got, ["1", "2"]);
    assert.deepEqual([first.queue.tryDequeue()!.text(), first.queue.tryDequeue()!.text()], [
      "1",
      "2",
    ]);
    assert.equal(c.stats().inboundPublishes, 2, "one copy from the broker per message");
    await first.unsubscribe();
    const r = await pub.publish({ topic: "s/c", payload: "3", qos: 1 });
    assert.equal(r.reasonCode, 0, "the broker still holds s/+ for the callback");
    await until(() => got.length === 3, "the callback after the other unsubscribed");
    assert.equal(got[2], "3");
    await c.unsubscribe(token);
    assert.equal((await pub.publish({ topic: "s/d", payload: "4", qos: 1 })).reasonCode, 0x10);
  },
);

// --- will -------------------------------------------------------------------------

add("Client will (with properties) is published when the connection is cut abruptly", async () => {
  await using broker = await startBroker();
  await using watcher = await connected(broker, { clientId: "watcher" });
  const wills = await watcher.subscribe([{ topic: "will/#", qos: 1 }]);
  const tap = tappedDial();
  const correlationData = new Uint8Array([1, 2, 3]);
  await using dying = await connected(broker, {
    clientId: "dying",
    dial: tap.dial,
    onConnectionDown: () => false, // no reconnect: stay dead
    will: {
      topic: "will/dying",
      payload: "bye ✓",
      qos: 1,
      delayIntervalSeconds: 0,
      properties: {
        payloadFormatIndicator: 1,
        contentType: "text/plain",
        responseTopic: "will/reply",
        correlationData,
        userProperties: [["reason", "crash"]],
        messageExpiryInterval: 30,
      },
    },
  });
  assert.equal(tap.conns.length, 1);
  tap.conns[0].close(); // no DISCONNECT: the broker sees the socket go away
  const m = await next(wills, "the will");
  assert.equal(m.topic, "will/dying");
  assert.equal(m.text(), "bye ✓");
  assert.equal(m.qos, 1);
  assert.equal(m.retain, false);
  assert.equal(m.properties.payloadFormatIndicator, 1);
  assert.equal(m.properties.contentType, "text/plain");
  assert.equal(m.properties.responseTopic, "will/reply");
  assert.deepEqual(m.properties.correlationData?.slice(), correlationData);
  assert.deepEqual(m.properties.userProperties, [["reason", "crash"]]);
  const expiry = m.properties.messageExpiryInterval;
  assert.ok(expiry !== undefined && expiry > 20 && expiry <= 30, `expiry ${expiry}`);
  await until(() => !dying.connected, "the client to notice");
  assert.equal(tap.dials, 1, "onConnectionDown() returning false stops the supervisor");
});

add(
  "Client will is published on disconnect({ reasonCode: 0x04 }) and not on a normal disconnect",
  async () => {
    await using broker = await startBroker();
    await using watcher = await connected(broker, { clientId: "watcher" });
    const wills = await watcher.subscribe([{ topic: "will/#", qos: 1 }]);
    const normal = await connected(broker, {
      clientId: "normal",
      will: { topic: "will/normal", payload: "normal", qos: 1, delayIntervalSeconds: 0 },
    });
    await normal.disconnect();
    await untilLog(broker, /Client normal disconnected\./);
    const withWill = await connected(broker, {
      clientId: "with-will",
      will: { topic: "will/with", payload: "with", qos: 1, delayIntervalSeconds: 0 },
    });
    await withWill.disconnect({ reasonCode: 0x04, reasonString: "please send my will" });
    assert.equal(withWill.connected, false);
    const m = await next(wills, "the 0x04 will");
    assert.equal(m.topic, "will/with", "the normal disconnect published no will");
    assert.equal(m.text(), "with");
    await watcher.publish({ topic: "will/marker", payload: "marker", qos: 1 });
    assert.equal((await next(wills, "the marker")).topic, "will/marker");
  },
);

// --- sessions -------------------------------------------------------------------

add(
  "Client resumes a session (cleanStart false): sessionPresent, and QoS 1 messages queued while offline are delivered",
  async () => {
    await using broker = await startBroker();
    await using pub = await connected(broker, { clientId: "pub" });
    const opts = { clientId: "sess", cleanStart: false, sessionExpirySeconds: 60 };
    {
      await using first = new Client({ broker: broker.url, ...opts });
      assert.equal((await first.connect()).sessionPresent, false);
      await first.subscribe([{ topic: "sess/t", qos: 1 }]);
    }
    for (let i = 0; i < 5; i++) {
      const r = await pub.publish({ topic: "sess/t", payload: `${i}`, qos: 1 });
      assert.equal(r.reasonCode, 0, "the offline session holds the subscription");
    }
    // The queued messages follow CONNACK at once; deliver them in its chunk.
    const tap = tappedDial({ coalesceFirstMs: 30 });
    const { logger, problems } = recordingLogger();
    const second = new Client({ broker: broker.url, ...opts, stats: true, dial: tap.dial, logger });
    await using _ = second;
    const info = await second.connect();
    assert.equal(info.sessionPresent, true);
    const report = () =>
      `stats ${JSON.stringify(second.stats())}; client said: ${summary(problems)}`;
    try {
      const s = await within(second.subscribe([{ topic: "sess/t", qos: 1 }]), "SUBACK");
      const got = await take(s, 5, "queued messages");
      assert.deepEqual(got.map((m) => m.text()), ["0", "1", "2", "3", "4"]);
      for (const m of got) m.ack();
    } catch (err) {
      throw new Error(`queued messages not delivered: ${report()}`, { cause: err });
    }
    assert.deepEqual(problems, [], report());
    assert.equal(second.stats().disconnects, 0, report());
  },
);

add(
  "Client supervisor reconnects into its session and delivers QoS 1 messages queued while it was down",
  async () => {
    await using broker = await startBroker();
    await using pub = await connected(broker, { clientId: "pub" });
    // The queued messages follow CONNACK at once; deliver them in its chunk.
    const tap = tappedDial({ coalesceFirstMs: 30 });
    const { logger, problems } = recordingLogger();
    const ups: ConnackInfo[] = [];
    await using c = await connected(broker, {
      clientId: "sup",
      cleanStart: false,
      sessionExpirySeconds: 60,
      dial: tap.dial,
      reconnectBackoff: () => 50,
      onConnectionUp: (info) => ups.push(info),
      stats: true,
      logger,
    });
    const s = await c.subscribe([{ topic: "sup/t", qos: 1 }]);
    tap.hold(); // the reconnect waits until the messages are queued
    tap.conns[0].close();
    await until(() => !c.connected && tap.dials === 2, "the supervisor to dial again");
    for (let i = 0; i < 5; i++) {
      const r = await pub.publish({ topic: "sup/t", payload: `${i}`, qos: 1 });
      assert.equal(r.reasonCode, 0);
    }
    problems.length = 0; // the deliberate cut is logged
    tap.release();
    await until(() => ups.length >= 2, "the reconnect");
    const report = () =>
      `${ups.length} connections; stats ${JSON.stringify(c.stats())}; client said: ${
        summary(problems)
      }`;
    let got: Message[];
    try {
      got = await take(s, 5, "the queued messages");
    } catch (err) {
      throw new Error(`queued messages not delivered: ${report()}`, { cause: err });
    }
    assert.deepEqual(got.map((m) => m.text()), ["0", "1", "2", "3", "4"]);
    for (const m of got) m.ack();
    assert.deepEqual(problems, [], report());
    assert.equal(ups.length, 2, report());
    assert.equal(ups[0].sessionPresent, false);
    assert.equal(ups[1].sessionPresent, true);
    assert.equal(c.connected, true);
    // The subscription is live on the new connection.
    await pub.publish({ topic: "sup/t", payload: "live", qos: 1 });
    assert.equal((await next(s, "a live message")).text(), "live");
  },
);

// --- TLS ----------------------------------------------------------------------

add("Client connects over TLS with a trusted CA and round-trips QoS 1", async () => {
  await using broker = await startBroker({ tls: true });
  const tls = { caCerts: [broker.certs!.ca.cert] };
  await using sub = new Client({ broker: broker.tlsUrl!, clientId: "tls-sub", tls });
  await using pub = new Client({ broker: broker.tlsUrl!, clientId: "tls-pub", tls });
  await sub.connect();
  await pub.connect();
  const s = await sub.subscribe([{ topic: "tls/t", qos: 1 }]);
  const payload = binary(5000);
  assert.equal((await pub.publish({ topic: "tls/t", payload, qos: 1 })).reasonCode, 0);
  const m = await next(s, "the message over TLS");
  assert.deepEqual(m.clonePayload(), payload);
  assert.equal(m.qos, 1);
  // And across listeners: plain subscriber, TLS publisher.
  await using plain = await connected(broker, { clientId: "plain" });
  const p = await plain.subscribe([{ topic: "tls/t", qos: 1 }]);
  await pub.publish({ topic: "tls/t", payload: "cross", qos: 1 });
  assert.equal((await next(p, "the message on the plain listener")).text(), "cross");
});

add("Client rejects a TLS server whose CA it does not trust", async () => {
  await using broker = await startBroker({ tls: true });
  const client = new Client({
    broker: broker.tlsUrl!,
    clientId: "untrusting",
    connectTimeoutMs: WAIT_MS,
    tls: { caCerts: [broker.certs!.otherCa.cert] },
  });
  await using _ = client;
  const started = Date.now();
  await assert.rejects(client.connect(), (err) => {
    assert.ok(err instanceof Error);
    assert.ok(
      !(err instanceof MqttError && err.code === "connect-timeout"),
      "fails on verification, not by timing out",
    );
    return true;
  });
  assert.ok(Date.now() - started < WAIT_MS);
  assert.equal(client.connected, false);
  // A failed connect leaves the client reusable.
  await assert.rejects(client.publish({ topic: "t", qos: 1 }), code("not-connected"));
});

add("Client authenticates with a client certificate over mutual TLS", async () => {
  await using broker = await startBroker({ mtls: true });
  const certs = broker.certs!;
  await using withCert = new Client({
    broker: broker.tlsUrl!,
    clientId: "mtls",
    tls: { caCerts: [certs.ca.cert], cert: certs.client.cert, key: certs.client.key },
  });
  await withCert.connect();
  const s = await withCert.subscribe([{ topic: "m/t", qos: 1 }]);
  await withCert.publish({ topic: "m/t", payload: "mutual", qos: 1 });
  assert.equal((await next(s, "the message over mTLS")).text(), "mutual");

  const without = new Client({
    broker: broker.tlsUrl!,
    clientId: "no-cert",
    connectTimeoutMs: WAIT_MS,
    tls: { caCerts: [certs.ca.cert] },
  });
  await using _ = without;
  await assert.rejects(without.connect());
  assert.equal(without.connected, false);
});

// --- stats ----------------------------------------------------------------------

add(
  "Client.stats() counts publishes, acks, inbound publishes and subscribes with stats: true, and stays zero without",
  async () => {
    await using broker = await startBroker();
    for (const enabled of [true, false]) {
      await using c = await connected(broker, { clientId: `stats-${enabled}`, stats: enabled });
      const s = await c.subscribe([{ topic: "st/t", qos: 1 }]);
      await c.publish({ topic: "st/t", payload: "0", qos: 0 });
      await c.publish({ topic: "st/t", payload: "1", qos: 1 });
      await c.publish({ topic: "st/t", payload: "2", qos: 2 });
      const got = await take(s, 3, "3 messages");
      for (const m of got) m.ack();
      await s.unsubscribe();
      const st = c.stats();
      if (enabled) {
        assert.equal(st.connects, 1);
        assert.equal(st.publishesSent, 3);
        assert.equal(st.publishesAcked, 2);
        assert.equal(st.publishesInflight, 0);
        assert.equal(st.inboundPublishes, 3);
        assert.equal(st.inboundDropped, 0);
        assert.equal(st.subscribesSent, 1);
        assert.equal(st.unsubscribesSent, 1);
        assert.equal(st.subscriptionsActive, 0);
      } else {
        assert.ok(
          Object.values(st).every((v) => v === 0),
          `all zero without stats: ${JSON.stringify(st)}`,
        );
      }
    }
  },
);

// --- volume ----------------------------------------------------------------------

add("Client pipelines 10,000 QoS 1 publishes and delivers them all in order", async () => {
  await using broker = await startBroker();
  await using sub = await connected(broker, { clientId: "bulk-sub", stats: true });
  await using pub = await connected(broker, { clientId: "bulk-pub", stats: true });
  const N = 10_000;
  const s = await sub.subscribeQueue([{ topic: "bulk/t", qos: 1 }]);
  const received = (async () => {
    let expected = 0;
    while (expected < N) {
      const m = await s.queue.dequeue();
      if (m === undefined) throw new Error(`queue closed after ${expected} messages`);
      const text = m.text();
      m.ack();
      if (text !== `${expected}`) throw new Error(`message ${expected} arrived as "${text}"`);
      expected++;
    }
    return expected;
  })();
  const results = await within(
    Promise.all(
      Array.from(
        { length: N },
        (_, i) => pub.publish({ topic: "bulk/t", payload: `${i}`, qos: 1 }),
      ),
    ),
    "10,000 PUBACKs",
    30_000,
  );
  assert.equal(results.length, N);
  assert.ok(results.every((r) => r.reasonCode === 0));
  assert.equal(await within(received, "10,000 messages", 30_000), N);
  assert.equal(pub.stats().publishesAcked, N);
  assert.equal(sub.stats().inboundPublishes, N);
  assert.equal(sub.stats().inboundDropped, 0);
});
