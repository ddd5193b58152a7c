// ClientOptions.rateLimit: the token buckets (src/client/rate_limit.ts) on a
// clock the test moves by hand, the session engine held back and pumped, and
// the Client's publishes on the wire of the scripted FakeBroker: the burst,
// waits in call order, aborts, replays, disconnect, option checks.
//
// No assertion here depends on how long anything took: the buckets are driven
// by a fake clock, and the client cases use rates so slow (one token per ten
// seconds) that what must wait cannot go during the test, or only check order.
//
// Runtime-neutral (node:assert/strict): the runners are
// tests/client/rate_limit_test.ts (`deno test`) and bun-tests/rate_limit.test.ts
// (`bun test`).

import assert from "node:assert/strict";
import { Client, type ClientOptions, MqttError, type RateLimitOptions } from "../../mod.ts";
import type { Clock } from "../../src/client/keepalive.ts";
import { RateLimiter } from "../../src/client/rate_limit.ts";
import { packetLength, PacketType, type PublishPacket } from "../../src/wire/mod.ts";
import type { FakeBrokerOptions } from "../_helpers/fake_broker.ts";
import { connectedToFake, type FakeSetup } from "../_helpers/fake_setup.ts";
import { delay, waitUntil, within } from "../_helpers/timing.ts";

/** One scenario. */
export interface RateLimitCase {
  name: string;
  fn: () => void | Promise<void>;
}

export const rateLimitCases: RateLimitCase[] = [];
const add = (name: string, fn: () => void | Promise<void>) => rateLimitCases.push({ name, fn });

/** A clock the test moves: `every` jobs run when `advance` passes their time. */
class FakeClock implements Clock {
  t = 1_000_000;
  jobs: { at: number; every: number; fn: () => void; live: boolean }[] = [];
  now = (): number => this.t;
  every(ms: number, fn: () => void): () => void {
    const job = { at: this.t + ms, every: ms, fn, live: true };
    this.jobs.push(job);
    return () => {
      job.live = false;
    };
  }
  /** Timers scheduled and not stopped. */
  get pending(): number {
    return this.jobs.filter((j) => j.live).length;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.jobs.filter((j) => j.live && j.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.t = Math.max(this.t, due.at);
      due.at += Math.max(1, due.every);
      due.fn();
    }
    this.t = end;
  }
}

const noPump = () => {};

function limiter(o: RateLimitOptions, pump = noPump): { clock: FakeClock; rl: RateLimiter } {
  const clock = new FakeClock();
  return { clock, rl: new RateLimiter(o, pump, clock) };
}

/** Calls take() until it says no; returns how many it allowed. */
function drainTokens(rl: RateLimiter, bytes = 0): number {
  let n = 0;
  while (rl.take(bytes)) n++;
  return n;
}

// --- the buckets ----------------------------------------------------------------

add("RateLimiter lets `burst` messages go at once, then one per 1/messagesPerSecond", () => {
  const { clock, rl } = limiter({ messagesPerSecond: 10, burst: 3 });
  assert.equal(drainTokens(rl), 3);
  clock.advance(99);
  assert.equal(rl.take(0), false, "0.99 of a token is not one");
  clock.advance(1);
  assert.equal(drainTokens(rl), 1);
  clock.advance(10_000);
  assert.equal(drainTokens(rl), 3, "a quiet spell refills up to the burst, no more");
});

add("RateLimiter's burst defaults to one second's worth, at least one message", () => {
  assert.equal(drainTokens(limiter({ messagesPerSecond: 25 }).rl), 25);
  assert.equal(drainTokens(limiter({ messagesPerSecond: 0.5 }).rl), 1);
});

add(
  "RateLimiter bytesPerSecond: a PUBLISH waits for its bytes; the bucket holds one second's worth",
  () => {
    const { clock, rl } = limiter({ bytesPerSecond: 1000 });
    assert.equal(drainTokens(rl, 300), 3, "3 x 300 of 1000 bytes");
    assert.equal(rl.take(200), false, "100 bytes left");
    clock.advance(100);
    assert.equal(rl.take(200), true);
    clock.advance(60_000);
    assert.equal(drainTokens(rl, 100), 10, "never more than one second's worth");
  },
);

add(
  "RateLimiter lets a PUBLISH larger than the byte bucket go when it is full, and the next ones pay for it",
  () => {
    const { clock, rl } = limiter({ bytesPerSecond: 100 });
    assert.equal(rl.take(250), true, "the bucket is full: the big one goes");
    clock.advance(1400); // -150 + 140 = -10
    assert.equal(rl.take(1), false, "still paying the debt");
    clock.advance(110); // +1
    assert.equal(rl.take(1), true);
  },
);

add("RateLimiter with both rates needs a message and the bytes", () => {
  const { clock, rl } = limiter({ messagesPerSecond: 100, burst: 10, bytesPerSecond: 1000 });
  assert.equal(drainTokens(rl, 1), 10, "messages run out first");
  clock.advance(1000);
  assert.equal(drainTokens(rl, 400), 2, "bytes run out first");
});

add("RateLimiter refills nothing when the clock steps back", () => {
  const { clock, rl } = limiter({ messagesPerSecond: 1, burst: 1 });
  assert.equal(rl.take(0), true);
  clock.t -= 3_600_000;
  assert.equal(rl.take(0), false);
  clock.t += 999; // from the stepped-back time: not yet a second
  assert.equal(rl.take(0), false);
  clock.t += 1;
  assert.equal(rl.take(0), true, "a second after the step, one token; no debt from the step");
});

// --- the queue ------------------------------------------------------------------

add("RateLimiter wakes waiters in order as tokens come, and take() never overtakes them", () => {
  const { clock, rl } = limiter({ messagesPerSecond: 10, burst: 1 });
  assert.equal(rl.take(0), true);
  const woken: string[] = [];
  const waiter = (name: string) => () => void woken.push(`${name}@${clock.t - 1_000_000}`);
  rl.wait(0, waiter("a"));
  rl.wait(0, waiter("b"));
  clock.advance(100);
  assert.equal(rl.take(0), false, "b waits ahead of a newcomer");
  clock.advance(1000);
  assert.deepEqual(woken, ["a@100", "b@200"], "each woken with its token, one per 100 ms");
  assert.equal(clock.pending, 0, "no timer left once the queue is empty");
  assert.equal(rl.take(0), true, "the queue is empty: take() goes again");
});

add("RateLimiter.take() does not overtake a waiter, even when its own tokens are there", () => {
  const { clock, rl } = limiter({ bytesPerSecond: 100 });
  assert.equal(rl.take(100), true);
  const woken: string[] = [];
  rl.wait(80, () => woken.push("big"));
  clock.advance(500); // 50 bytes: enough for 10, not for the 80 waiting
  assert.equal(rl.take(10), false, "the 80-byte PUBLISH waits ahead");
  clock.advance(300);
  assert.deepEqual(woken, ["big"], "woken at 800 ms, its 80 bytes taken for it");
  clock.advance(100);
  assert.equal(rl.take(10), true);
  assert.equal(rl.take(1), false, "10 bytes came since, and went");
});

add("RateLimiter.cancel() removes a waiter; cancelling the first re-arms for the next", () => {
  const { clock, rl } = limiter({ bytesPerSecond: 100 });
  assert.equal(rl.take(100), true); // empty
  const woken: string[] = [];
  const big = rl.wait(100, () => woken.push("big"));
  rl.wait(10, () => void woken.push(`small@${clock.t - 1_000_000}`));
  rl.cancel(big);
  rl.cancel(big); // twice: nothing
  clock.advance(1000);
  assert.deepEqual(woken, ["small@100"], "the small one goes when its 10 bytes are there");
});

add("RateLimiter.close() wakes every waiter at once and leaves no timer", () => {
  const { clock, rl } = limiter({ messagesPerSecond: 1, burst: 1 });
  rl.take(0);
  const woken: number[] = [];
  for (let i = 0; i < 3; i++) rl.wait(0, () => woken.push(i));
  assert.equal(clock.pending, 1);
  rl.close();
  assert.deepEqual(woken, [0, 1, 2]);
  assert.equal(clock.pending, 0);
});

add(
  "RateLimiter.admit() takes a QoS 1 PUBLISH's bytes, or queues the engine once; its turn's tokens go to the next PUBLISH",
  () => {
    let pumps = 0;
    const { clock, rl } = limiter({ bytesPerSecond: 100 }, () => pumps++);
    const p: PublishPacket = {
      type: PacketType.Publish,
      topic: "t/qos1",
      payload: new Uint8Array(40),
      qos: 1,
      retain: false,
      dup: false,
    };
    const size = packetLength({ ...p, packetId: 1 });
    assert.equal(rl.admit(p), true);
    assert.equal(p.packetId, undefined, "the packet is left without an identifier");
    assert.equal(rl.admit(p), false, `${100 - size} bytes left, ${size} needed`);
    assert.equal(rl.admit(p), false);
    assert.equal(clock.pending, 1, "one timer, for the engine's turn");
    clock.advance((2 * size - 100) * 10); // until `size` bytes are there
    assert.equal(pumps, 1, "pumped once, when its bytes were there");
    assert.equal(rl.admit(p), true, "the tokens of its turn");
    clock.advance(size * 10);
    assert.equal(rl.take(size), true, "they were taken once, not twice");
  },
);

add("RateLimiter serves QoS 0 waiters and the session engine in the order they came", () => {
  const order: string[] = [];
  const { clock, rl } = limiter({ messagesPerSecond: 10, burst: 1 }, () => {
    order.push(`engine@${clock.t - 1_000_000}`);
    assert.equal(rl.admit(qos1), true, "the engine's turn");
  });
  const qos1: PublishPacket = {
    type: PacketType.Publish,
    topic: "t/q",
    payload: new Uint8Array(0),
    qos: 1,
    retain: false,
    dup: false,
  };
  assert.equal(rl.take(0), true);
  rl.wait(0, () => void order.push(`a@${clock.t - 1_000_000}`));
  assert.equal(rl.admit(qos1), false);
  rl.wait(0, () => void order.push(`b@${clock.t - 1_000_000}`));
  clock.advance(1000);
  assert.deepEqual(order, ["a@100", "engine@200", "b@300"]);
});

// --- option checks --------------------------------------------------------------

add(
  "Client checks rateLimit: TypeError for a wrong type, RangeError for a value out of range",
  () => {
    const make = (rateLimit: unknown) => () =>
      new Client({ broker: "mqtt://fake:1883", rateLimit: rateLimit as RateLimitOptions });
    for (const bad of [5, "fast", null, {}, { burst: 5 }, { bytesPerSecond: 10, burst: 2 }]) {
      assert.throws(make(bad), TypeError, JSON.stringify(bad));
    }
    assert.throws(make({ messagesPerSecond: "10" }), TypeError);
    assert.throws(make({ bytesPerSecond: 10n }), TypeError);
    for (
      const bad of [
        { messagesPerSecond: 0 },
        { messagesPerSecond: -1 },
        { messagesPerSecond: Infinity },
        { messagesPerSecond: NaN },
        { bytesPerSecond: 0 },
        { messagesPerSecond: 10, burst: 0 },
        { messagesPerSecond: 10, burst: 1.5 },
      ]
    ) {
      assert.throws(make(bad), RangeError, JSON.stringify(bad));
    }
    make({ messagesPerSecond: 0.25 })();
    make({ bytesPerSecond: 512 * 1024 })();
    make({ messagesPerSecond: 100, bytesPerSecond: 1e6, burst: 1 })();
  },
);

// --- Client on the FakeBroker ---------------------------------------------------

type Setup = FakeSetup;

/** A client with `rateLimit`, connected to a fake broker. */
const start = (
  rateLimit: RateLimitOptions,
  brokerOptions: FakeBrokerOptions = {},
  clientOptions: Partial<ClientOptions> = {},
) => connectedToFake(brokerOptions, { rateLimit, ...clientOptions });

/** One token per ten seconds after the burst: what waits cannot go during a test. */
const SLOW = 0.1;

const text = (p: PublishPacket) => new TextDecoder().decode(p.payload);

/** Tracks a promise's outcome without making its rejection unhandled. */
function track<T>(p: Promise<T>): { p: Promise<T>; settled: boolean } {
  const t = { p, settled: false };
  p.then(() => t.settled = true, () => t.settled = true);
  return t;
}

add(
  "Client rateLimit: QoS 0 publishes past the burst wait; an aborted one rejects with the signal's reason and never goes",
  async () => {
    await using t = await start({ messagesPerSecond: SLOW, burst: 2 });
    await t.client.publish({ topic: "r/a", payload: "1" });
    await t.client.publish({ topic: "r/a", payload: "2" });
    const ac = new AbortController();
    const third = track(t.client.publish({ topic: "r/a", payload: "3" }, { signal: ac.signal }));
    const fourth = track(t.client.publish({ topic: "r/a", payload: "4" }, { signal: ac.signal }));
    await waitUntil(() => t.conn.all(PacketType.Publish).length === 2, 1000, "the burst");
    await delay(50);
    assert.equal(third.settled || fourth.settled, false, "both wait for a token");
    const reason = new Error("gave up");
    ac.abort(reason);
    await assert.rejects(third.p, (e) => e === reason);
    await assert.rejects(fourth.p, (e) => e === reason);
    await delay(20);
    assert.deepEqual(t.conn.all(PacketType.Publish).map(text), ["1", "2"]);
  },
);

add(
  "Client rateLimit: a waiting QoS 1 publish aborted is never sent and holds no packet identifier",
  async () => {
    await using t = await start({ messagesPerSecond: SLOW, burst: 1 }, { autoAckPublish: true }, {
      stats: true,
    });
    await t.client.publish({ topic: "r/q1", payload: "1", qos: 1 });
    const ac = new AbortController();
    const second = track(
      t.client.publish({ topic: "r/q1", payload: "2", qos: 1 }, { signal: ac.signal }),
    );
    await delay(50);
    assert.equal(second.settled, false, "it waits for a token");
    assert.equal(t.client.stats().publishesInflight, 0, "no identifier while it waits");
    ac.abort(new Error("stop"));
    await assert.rejects(second.p, { message: "stop" });
    await delay(20);
    assert.deepEqual(t.conn.all(PacketType.Publish).map(text), ["1"]);
    assert.equal(t.client.stats().publishesInflight, 0);
    assert.equal(t.client.stats().publishesSent, 1);
  },
);

add("Client rateLimit: replays after a reconnect take tokens too", async () => {
  await using t = await start({ messagesPerSecond: SLOW, burst: 3 });
  const pending = [1, 2, 3].map((i) =>
    track(t.client.publish({ topic: "r/replay", payload: `${i}`, qos: 1 }))
  );
  await waitUntil(() => t.conn.all(PacketType.Publish).length === 3, 1000, "the burst");
  t.conn.close(); // unacked: all three are replayed on the next connection
  const conn2 = await t.broker.nextConnection();
  await conn2.connect;
  await delay(100);
  assert.equal(conn2.all(PacketType.Publish).length, 0, "the burst is spent: no replay yet");
  await t.client.disconnect();
  for (const p of pending) {
    await assert.rejects(p.p, (e) => e instanceof MqttError && e.code === "closed");
  }
});

add(
  "Client rateLimit: disconnect() rejects waiting QoS 0 and QoS 1 publishes with closed",
  async () => {
    await using t = await start({ messagesPerSecond: SLOW, burst: 1 });
    await t.client.publish({ topic: "r/close", payload: "0" });
    const q0 = track(t.client.publish({ topic: "r/close", payload: "1" }));
    const q1 = track(t.client.publish({ topic: "r/close", payload: "2", qos: 1 }));
    await delay(20);
    assert.equal(q0.settled || q1.settled, false);
    await t.client.disconnect();
    for (const p of [q0, q1]) {
      await assert.rejects(p.p, (e) => e instanceof MqttError && e.code === "closed");
    }
    assert.deepEqual(t.conn.all(PacketType.Publish).map(text), ["0"]);
  },
);

add(
  "Client rateLimit bytesPerSecond: a PUBLISH bigger than the bucket goes when it is full; the next waits for the debt",
  async () => {
    await using t = await start({ bytesPerSecond: 10 });
    const big = new Uint8Array(90);
    await t.client.publish({ topic: "r/bytes", payload: big });
    const ac = new AbortController();
    const next = track(t.client.publish({ topic: "r/bytes", payload: "x" }, { signal: ac.signal }));
    await waitUntil(() => t.conn.all(PacketType.Publish).length === 1, 1000, "the big one");
    await delay(50);
    assert.equal(next.settled, false, "about 9 s of debt to pay first");
    ac.abort(new Error("enough"));
    await assert.rejects(next.p, { message: "enough" });
    assert.equal(t.conn.all(PacketType.Publish).length, 1);
  },
);

add(
  "Client rateLimit keeps the call order of QoS 0 publishes, and of QoS 1 publishes, through the waits",
  async () => {
    await using t = await start({ messagesPerSecond: 200, burst: 1 }, { autoAckPublish: true });
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 12; i++) {
      calls.push(t.client.publish({ topic: "r/order", payload: `${i}`, qos: (i % 2) as 0 | 1 }));
    }
    await within(Promise.all(calls), 5000, "every publish");
    await waitUntil(() => t.conn.all(PacketType.Publish).length === 12, 1000, "all on the wire");
    const pubs = t.conn.all(PacketType.Publish);
    const order = (qos: number) => pubs.filter((p) => p.qos === qos).map(text);
    assert.deepEqual(order(0), ["0", "2", "4", "6", "8", "10"]);
    assert.deepEqual(order(1), ["1", "3", "5", "7", "9", "11"]);
  },
);

add("Client rateLimit: a bad publish is refused at once, not after a wait", async () => {
  await using t = await start({ messagesPerSecond: SLOW, burst: 1 });
  await t.client.publish({ topic: "r/ok", payload: "1" });
  // No token is left; an invalid topic still rejects now (a wait would take 10 s).
  await within(
    assert.rejects(t.client.publish({ topic: "r/+", payload: "2" }), TypeError),
    1000,
    "the rejection",
  );
});
