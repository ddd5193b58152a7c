// Typed, jsonCodec() and msgpackCodec(), shared by tests/codec/typed_test.ts
// (Deno.test) and bun-tests/typed.test.ts (bun:test, which maps the
// `npm:@msgpack/msgpack@^3` specifier of src/codec/msgpack.ts to the
// `@msgpack/msgpack` dev dependency). Codec cases need no broker; Typed cases
// run against a real mosquitto.
//
// That a payload which does not decode is acked is shown with a subscriber
// advertising Receive Maximum 1: the broker sends the next QoS 1 message only
// after the previous one was acknowledged, so the good message arriving after
// the bad one proves the ack.

import assert from "node:assert/strict";
import { Client, type Logger, Message, type MqttError } from "../../mod.ts";
import { type Codec, Typed, TypedMessage } from "../../src/codec/typed.ts";
import { jsonCodec } from "../../src/codec/json.ts";
import { msgpackCodec } from "../../src/codec/msgpack.ts";
import { startBroker } from "../_helpers/broker.ts";
import { startFaultProxy } from "../_helpers/fault_proxy.ts";
import {
  abortedSignal,
  type Case,
  delay,
  rejectsWithReason,
  take,
  takeAcked,
  trackedAbort,
  until,
  within,
} from "../group/_wait.ts";

interface Reading {
  device: string;
  at: number;
  temp: number | null;
  tags: string[];
  nested: { level: number; child?: { level: number; child?: unknown } }[];
  meta: Record<string, { ok: boolean; note: string }>;
}

const reading: Reading = {
  device: "a1-ü€😀",
  at: 1_700_000_000_123,
  temp: -22.5,
  tags: ["x", "", "z"],
  nested: [{ level: 1, child: { level: 2, child: { level: 3, child: [1, [2, [3, []]]] } } }],
  meta: { cal: { ok: true, note: 'line1\nline2\t"quoted"' }, empty: { ok: false, note: "" } },
};

/** Deeply nested arrays: depth `n`. */
function deep(n: number): unknown {
  let v: unknown = "bottom";
  for (let i = 0; i < n; i++) v = [i, v];
  return v;
}

interface Frame {
  id: number;
  data: Uint8Array;
  when: Date;
  big: number;
  neg: number;
  float: number;
  nothing: null;
  list: unknown[];
  map: Record<string, unknown>;
}

const frame: Frame = {
  id: 7,
  data: new Uint8Array([0, 1, 2, 253, 254, 255]),
  when: new Date(1_700_000_000_123),
  big: Number.MAX_SAFE_INTEGER,
  neg: -2_147_483_649,
  float: 3.141592653589793,
  nothing: null,
  list: [1, "two", [3, { four: 4 }], true, false, new Uint8Array(0)],
  map: { "": "empty key", "ключ": { deeper: deep(30) } },
};

/** A logger that records warnings. */
function recorder(): Logger & { warnings: { msg: string; fields?: Record<string, unknown> }[] } {
  const warnings: { msg: string; fields?: Record<string, unknown> }[] = [];
  const noop = () => {};
  return {
    debug: noop,
    info: noop,
    error: noop,
    warn: (msg, fields) => warnings.push({ msg, fields }),
    warnings,
  };
}

/** A broker, a publisher and a subscriber advertising Receive Maximum 1. */
async function setup() {
  const broker = await startBroker();
  const pub = new Client({ broker: broker.url });
  const sub = new Client({ broker: broker.url, receiveMaximum: 1, stats: true });
  await Promise.all([pub.connect(), sub.connect()]);
  return {
    broker,
    pub,
    sub,
    async [Symbol.asyncDispose]() {
      await Promise.all([pub.disconnect(), sub.disconnect()]);
      await broker[Symbol.asyncDispose]();
    },
  };
}

async function decodeFailureCase<T>(
  codec: Codec<T>,
  bad: Uint8Array,
  good: T,
  mode: "iterator" | "queue",
): Promise<void> {
  await using env = await setup();
  const logger = recorder();
  const typed = new Typed(env.sub, codec, { logger });
  const filters = [{ topic: "bad/#", qos: 1 as const }];
  const sub = mode === "iterator"
    ? await typed.subscribe(filters)
    : await typed.subscribeQueue(filters);
  await env.pub.publish({ topic: "bad/1", payload: bad, qos: 1 });
  await new Typed(env.pub, codec).publish({ topic: "bad/2", qos: 1 }, good);
  let m: TypedMessage<T>;
  if (mode === "iterator") {
    [m] = await take(sub, 1, "the good message");
  } else {
    const q = (sub as Awaited<ReturnType<typeof typed.subscribeQueue>>).queue;
    m = (await within(q.dequeue(), "the good message"))!;
  }
  m.ack();
  assert.equal(m.topic, "bad/2");
  assert.deepEqual(m.value, good);
  assert.equal(typed.decodeFailures, 1);
  assert.equal(logger.warnings.length, 1);
  assert.equal(logger.warnings[0].fields?.topic, "bad/1");
  assert.equal(typeof logger.warnings[0].fields?.error, "string");
  assert.equal(env.sub.stats().inboundPublishes, 2);
  await sub.unsubscribe();
}

export const cases: Case[] = [
  {
    name: "jsonCodec() round-trips nested values and rejects what is not JSON",
    fn() {
      const codec = jsonCodec<Reading>();
      const bytes = codec.encode(reading);
      assert.ok(bytes instanceof Uint8Array);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(bytes)), reading);
      assert.deepEqual(codec.decode(bytes), reading);
      const any = jsonCodec<unknown>();
      assert.deepEqual(any.decode(any.encode(deep(200))), deep(200));
      for (const v of [0, "s", null, [], true]) assert.deepEqual(any.decode(any.encode(v)), v);
      assert.throws(() => any.decode(new Uint8Array([0x22, 0xff, 0x22])), TypeError); // not UTF-8
      assert.throws(() => any.decode(new TextEncoder().encode("{")), SyntaxError);
      assert.throws(() => any.decode(new Uint8Array(0)), SyntaxError);
      assert.throws(() => any.encode(undefined), TypeError);
      assert.throws(() => any.encode({ n: 1n }), TypeError);
      const dated = jsonCodec<{ at: Date }>({
        replacer(key, value) {
          return key === "at" ? `date:${value}` : value;
        },
        reviver: (key, value) => key === "at" ? new Date((value as string).slice(5)) : value,
      });
      const at = new Date(1_000);
      assert.equal(dated.decode(dated.encode({ at })).at.getTime(), 1_000);
      return Promise.resolve();
    },
  },
  {
    name: "msgpackCodec() round-trips nested values, binary and dates; rejects malformed input",
    fn() {
      const codec = msgpackCodec<Frame>();
      const bytes = codec.encode(frame);
      assert.ok(bytes instanceof Uint8Array);
      const back = codec.decode(bytes);
      assert.deepEqual(back, frame);
      assert.ok(back.data instanceof Uint8Array);
      assert.ok(back.when instanceof Date);
      const any = msgpackCodec<unknown>();
      assert.deepEqual(any.decode(any.encode(deep(90))), deep(90));
      assert.throws(() => any.decode(new Uint8Array([0xc1]))); // never-used byte
      assert.throws(() => any.decode(new Uint8Array([0x92, 0x01]))); // truncated array
      assert.throws(() => any.decode(new Uint8Array([0x01, 0x02]))); // trailing bytes
      assert.throws(() => any.decode(new Uint8Array(0)));
      // Options reach the Encoder and Decoder.
      const big = msgpackCodec<{ n: bigint }>({
        encoder: { useBigInt64: true, sortKeys: true },
        decoder: { useBigInt64: true },
      });
      assert.equal(big.decode(big.encode({ n: 2n ** 60n })).n, 2n ** 60n);
      // encode returns a fresh buffer each time.
      const a = any.encode({ k: 1 });
      const b = any.encode({ k: 2 });
      assert.notEqual(a.buffer, b.buffer);
      assert.deepEqual(any.decode(a), { k: 1 });
      return Promise.resolve();
    },
  },
  {
    name: "Typed with jsonCodec() round-trips nested values through the broker",
    async fn() {
      await using env = await setup();
      const typed = new Typed(env.sub, jsonCodec<Reading>());
      assert.equal(typed.client, env.sub);
      const sub = await typed.subscribe([{ topic: "json/#", qos: 1 }]);
      const r = await new Typed(env.pub, jsonCodec<Reading>()).publish(
        { topic: "json/a1", qos: 1, properties: { contentType: "application/json" } },
        reading,
      );
      assert.equal(r.reasonCode, 0);
      const [m] = await take(sub, 1, "the reading");
      assert.ok(m instanceof TypedMessage);
      assert.ok(m instanceof Message);
      assert.equal(m.topic, "json/a1");
      assert.equal(m.qos, 1);
      assert.equal(m.properties.contentType, "application/json");
      assert.deepEqual(m.value, reading);
      assert.deepEqual(m.json(), reading);
      assert.equal(m.acked, false);
      assert.equal(m.message.acked, false);
      m.ack();
      m.ack(); // idempotent
      assert.equal(m.acked, true);
      assert.equal(m.message.acked, true);
      // Receive Maximum 1: the next message arrives only because the first was acked.
      await new Typed(env.pub, jsonCodec<Reading>()).publish({ topic: "json/a2", qos: 1 }, {
        ...reading,
        temp: null,
      });
      const [m2] = await takeAcked(sub, 1, "the second reading");
      assert.equal(m2.value.temp, null);
      assert.equal(typed.decodeFailures, 0);
      await sub.unsubscribe();
    },
  },
  {
    name: "Typed with msgpackCodec() round-trips nested values through subscribeQueue()",
    async fn() {
      await using env = await setup();
      const typed = new Typed(env.sub, msgpackCodec<Frame>());
      const sub = await typed.subscribeQueue([{ topic: "mp/#", qos: 1 }]);
      await new Typed(env.pub, msgpackCodec<Frame>()).publish({ topic: "mp/1", qos: 1 }, frame);
      const m = await within(sub.queue.dequeue(), "the frame");
      assert.ok(m instanceof TypedMessage);
      m.ack();
      assert.deepEqual(m.value, frame);
      await new Typed(env.pub, msgpackCodec<Frame>()).publish({ topic: "mp/2", qos: 1 }, {
        ...frame,
        id: 8,
      });
      const [m2] = await takeAcked(sub, 1, "the second frame via the iterator");
      assert.equal(m2.value.id, 8);
      await until(() => sub.queue.length === 0, "an empty queue");
      await sub.unsubscribe();
      assert.equal(sub.queue.closed, true);
      assert.equal(await sub.queue.dequeue(), undefined);
    },
  },
  {
    name:
      "Typed subscribe(): a payload that does not decode is counted, logged, acked and dropped (JSON)",
    fn: () =>
      decodeFailureCase(
        jsonCodec<Reading>(),
        new TextEncoder().encode("{not json"),
        reading,
        "iterator",
      ),
  },
  {
    name:
      "Typed subscribeQueue(): a payload that does not decode is counted, logged, acked and dropped (msgpack)",
    fn: () =>
      decodeFailureCase(msgpackCodec<Frame>(), new Uint8Array([0xc1, 0x00]), frame, "queue"),
  },
  {
    name: "Typed publish() rejects what the codec cannot encode and publishes nothing",
    async fn() {
      await using env = await setup();
      const raw = await env.sub.subscribe([{ topic: "enc/#", qos: 1 }]);
      const typed = new Typed(env.pub, jsonCodec<{ n: unknown }>());
      await assert.rejects(typed.publish({ topic: "enc/1", qos: 1 }, { n: 1n }), TypeError);
      await typed.publish({ topic: "enc/2", qos: 1 }, { n: "marker" });
      const [m] = await takeAcked(raw, 1, "the marker");
      assert.equal(m.topic, "enc/2");
      assert.equal(m.text(), '{"n":"marker"}');
      // Publishing errors are the client's.
      await using idle = new Client({ broker: env.broker.url });
      await assert.rejects(
        new Typed(idle, jsonCodec<number>()).publish({ topic: "enc/3" }, 1),
        (err: MqttError) => err.code === "not-connected",
      );
      assert.throws(() => new Typed(env.pub, {} as Codec<number>), TypeError);
    },
  },
  {
    name: "Typed leaving a for-await loop early unsubscribes",
    async fn() {
      await using env = await setup();
      const typed = new Typed(env.sub, jsonCodec<number>());
      const sub = await typed.subscribe(["num/#"]);
      assert.equal(env.sub.stats().subscriptionsActive, 1);
      await new Typed(env.pub, jsonCodec<number>()).publish({ topic: "num/1" }, 42);
      for await (const m of sub) {
        m.ack();
        assert.equal(m.value, 42);
        break;
      }
      assert.equal(env.sub.stats().subscriptionsActive, 0);
      const q = await typed.subscribeQueue(["num/#"]);
      await q[Symbol.asyncDispose]();
      assert.equal(env.sub.stats().subscriptionsActive, 0);
    },
  },

  // AbortSignal discipline: an already-aborted signal rejects with its reason,
  // unchanged, before anything observable.
  {
    name:
      "Typed.publish() rejects with signal.reason when the signal is already aborted, and encodes and publishes nothing",
    async fn() {
      await using env = await setup();
      const raw = await env.sub.subscribeQueue([{ topic: "tab/#", qos: 1 }]);
      let encodes = 0;
      const inner = jsonCodec<string>();
      const counting: Codec<string> = {
        encode: (v) => {
          encodes++;
          return inner.encode(v);
        },
        decode: inner.decode,
      };
      const typed = new Typed(env.pub, counting);
      for (const qos of [0, 1, 2] as const) {
        const { signal, reason } = abortedSignal();
        await rejectsWithReason(
          typed.publish({ topic: `tab/${qos}`, qos }, "x", { signal }),
          reason,
        );
      }
      assert.equal(encodes, 0, "nothing was encoded");
      await typed.publish({ topic: "tab/marker", qos: 1 }, "marker");
      const [m] = await takeAcked(raw, 1, "the marker");
      assert.equal(m.topic, "tab/marker", "the marker is the first message to arrive");
      await delay(50);
      assert.equal(raw.queue.length, 0);
    },
  },
  {
    name:
      "Typed.publish() rejects with signal.reason when the signal aborts while waiting for PUBACK, and leaves no listener",
    async fn() {
      await using broker = await startBroker();
      await using proxy = await startFaultProxy(broker.url);
      await using client = new Client({ broker: proxy.url });
      await client.connect();
      proxy.dropBrokerPackets(4); // no PUBACK ever comes
      let publishes = 0;
      proxy.onPacket((p) => {
        if (p.from === "client" && p.type === 3) publishes++;
      });
      const typed = new Typed(client, jsonCodec<number>());
      const { controller, listeners } = trackedAbort();
      const reason = new Error("stop waiting");
      const p = typed.publish({ topic: "held", qos: 1 }, 1, { signal: controller.signal });
      await until(() => publishes === 1, "the PUBLISH");
      controller.abort(reason);
      await rejectsWithReason(within(p, "publish() to settle"), reason);
      assert.equal(listeners(), 0, "no abort listener left behind");
    },
  },
  {
    name:
      "Typed.subscribe() and subscribeQueue() reject with signal.reason when the signal is already aborted, and subscribe nothing",
    async fn() {
      await using env = await setup();
      const typed = new Typed(env.sub, jsonCodec<number>());
      const before = env.sub.stats().subscribesSent;
      const { signal, reason } = abortedSignal();
      await rejectsWithReason(typed.subscribe(["tsa/#"], { signal }), reason);
      await rejectsWithReason(typed.subscribeQueue(["tsa/#"], { signal }), reason);
      // Checked before the arguments, too.
      await rejectsWithReason(typed.subscribe(["tsa/+/#/x"], { signal }), reason);
      assert.equal(env.sub.stats().subscribesSent, before, "no SUBSCRIBE was sent");
      assert.equal(env.sub.stats().subscriptionsActive, 0);
    },
  },
  {
    name:
      "TypedSubscription.unsubscribe() rejects with signal.reason when the signal is already aborted, and the subscription goes on",
    async fn() {
      await using env = await setup();
      const typed = new Typed(env.sub, jsonCodec<number>());
      const sub = await typed.subscribe([{ topic: "tun/a", qos: 1 }]);
      const queued = await typed.subscribeQueue([{ topic: "tun/b", qos: 1 }]);
      const before = env.sub.stats().unsubscribesSent;
      const { signal, reason } = abortedSignal();
      await rejectsWithReason(sub.unsubscribe({ signal }), reason);
      await rejectsWithReason(queued.unsubscribe({ signal }), reason);
      assert.equal(env.sub.stats().unsubscribesSent, before, "no UNSUBSCRIBE was sent");
      assert.equal(env.sub.stats().subscriptionsActive, 2);
      const out = new Typed(env.pub, jsonCodec<number>());
      await out.publish({ topic: "tun/a", qos: 1 }, 1);
      const [a] = await takeAcked(sub, 1, "a message on tun/a");
      assert.equal(a.value, 1);
      await out.publish({ topic: "tun/b", qos: 1 }, 2);
      const b = await within(queued.queue.dequeue(), "a message on tun/b");
      b?.ack();
      assert.equal(b?.value, 2);
      await sub.unsubscribe();
      await queued.unsubscribe();
      assert.equal(env.sub.stats().subscriptionsActive, 0);
    },
  },
];
