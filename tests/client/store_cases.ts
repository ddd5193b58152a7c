// The client and its SessionStore: write-ahead order, and a failed store write
// that stops the connection as a crash would (closed without DISCONNECT, so the
// will fires), surfaces the error, and is recovered from on the next connect.
//
// Runtime-neutral: tests/client/store_test.ts (Deno), bun-tests/client_store.test.ts (Bun).

import assert from "node:assert/strict";
import { Client, MemorySessionStore, MqttError, type SessionStore } from "../../mod.ts";
import { PacketType, type PublishPacket } from "../../src/wire/mod.ts";
import { FakeBroker } from "../_helpers/fake_broker.ts";
import { startBroker } from "../_helpers/broker.ts";
import { waitUntil } from "../_helpers/timing.ts";

/** One scenario. */
export interface StoreCase {
  name: string;
  fn: () => Promise<void>;
}

export const storeCases: StoreCase[] = [];
const add = (name: string, fn: () => Promise<void>) => storeCases.push({ name, fn });

/** A MemorySessionStore that records calls and can fail the next write. */
class FlakyStore implements SessionStore {
  readonly inner = new MemorySessionStore();
  readonly calls: string[] = [];
  failNext = false;
  recovered = 0;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;

  /** Holds every write until release(). */
  hold(): void {
    this.#gate = new Promise((r) => this.#open = r);
  }
  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }
  async #write(name: string, op: () => void): Promise<void> {
    this.calls.push(name);
    if (this.#gate !== undefined) await this.#gate;
    if (this.failNext) {
      this.failNext = false;
      throw new Error("EIO: simulated");
    }
    op();
  }
  load() {
    this.calls.push("load");
    return this.inner.load();
  }
  putOutbound(id: number, p: PublishPacket) {
    return this.#write(`put ${id}`, () => this.inner.putOutbound(id, p));
  }
  releaseOutbound(id: number) {
    return this.#write(`release ${id}`, () => this.inner.releaseOutbound(id));
  }
  deleteOutbound(id: number) {
    return this.#write(`delete ${id}`, () => this.inner.deleteOutbound(id));
  }
  putInbound(id: number) {
    return this.#write(`in ${id}`, () => this.inner.putInbound(id));
  }
  deleteInbound(id: number) {
    return this.#write(`in-delete ${id}`, () => this.inner.deleteInbound(id));
  }
  clearInbound() {
    return this.#write("in-clear", () => this.inner.clearInbound());
  }
  close() {}
  recover(): Promise<void> {
    this.recovered++;
    this.calls.push("recover");
    return Promise.resolve();
  }
}

add("Client stores a QoS 1 PUBLISH before it reaches the socket (write-ahead)", async () => {
  const store = new FlakyStore();
  await using broker = new FakeBroker({ autoAckPublish: true });
  await using client = new Client({ broker: "mqtt://fake:1883", dial: broker.dial, store });
  await client.connect();
  const conn = await broker.nextConnection();
  store.hold();
  const done = client.publish({ topic: "w/a", payload: "x", qos: 1 });
  await waitUntil(() => store.calls.includes("put 1"), 1000, "the store was asked first");
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(
    conn.all(PacketType.Publish).length,
    0,
    "nothing on the wire before the store wrote",
  );
  store.release();
  assert.equal((await done).reasonCode, 0);
  assert.equal(conn.all(PacketType.Publish).length, 1);
  await waitUntil(() => store.calls.includes("delete 1"), 1000, "the finished flow was deleted");
  assert.deepEqual(store.inner.load().outbound, []);
});

add(
  "Client drops the connection like a crash when a store write fails, surfaces store-failed, and recovers on the next connect",
  async () => {
    const store = new FlakyStore();
    const errors: Error[] = [];
    await using broker = new FakeBroker({ autoAckPublish: true });
    await using client = new Client({
      broker: "mqtt://fake:1883",
      dial: broker.dial,
      store,
      reconnectBackoff: () => 20,
      onConnectError: (e) => errors.push(e),
    });
    await client.connect();
    const first = await broker.nextConnection();
    store.failNext = true;
    await assert.rejects(
      client.publish({ topic: "w/b", payload: "y", qos: 1 }),
      (e: unknown) => e instanceof MqttError && e.code === "store-failed",
    );
    // Closed as a crash would: no DISCONNECT, so the broker publishes the will.
    await first.closed;
    assert.equal(first.all(PacketType.Disconnect).length, 0);
    assert.equal(first.all(PacketType.Publish).length, 0, "the unstored publish never went out");
    assert.ok(errors.some((e) => e instanceof MqttError && e.code === "store-failed"));
    // The supervisor reconnects; the store is recovered and reloaded before the CONNECT.
    const second = await broker.nextConnection(2000);
    await waitUntil(() => client.connected, 2000, "reconnected");
    assert.equal(store.recovered, 1);
    const recoverAt = store.calls.lastIndexOf("recover");
    assert.equal(store.calls[recoverAt + 1], "load");
    assert.equal((await client.publish({ topic: "w/c", payload: "z", qos: 1 })).reasonCode, 0);
    assert.equal(second.all(PacketType.Publish).length, 1);
  },
);

add("Client's will is published by mosquitto when a store write fails", async () => {
  await using broker = await startBroker();
  await using watcher = new Client({ broker: broker.url, clientId: "will-watcher" });
  await watcher.connect();
  const wills: string[] = [];
  await watcher.subscribeCallback([{ topic: "wills/#", qos: 1 }], (m) => wills.push(m.text()));
  const store = new FlakyStore();
  await using client = new Client({
    broker: broker.url,
    clientId: "will-store",
    store,
    will: { topic: "wills/store", payload: "store died", qos: 1 },
    reconnectBackoff: () => 60_000, // stay down: only the will matters here
  });
  await client.connect();
  store.failNext = true;
  await assert.rejects(client.publish({ topic: "x", payload: "y", qos: 1 }));
  await waitUntil(() => wills.length === 1, 5000, "the will arrived");
  assert.deepEqual(wills, ["store died"]);
});

add(
  "Client sends no PUBREC for a redelivered QoS 2 PUBLISH before the store recorded it (write-ahead)",
  async () => {
    const store = new FlakyStore();
    await using broker = new FakeBroker({ autoAckSubscribe: true });
    await using client = new Client({ broker: "mqtt://fake:1883", dial: broker.dial, store });
    await client.connect();
    const conn = await broker.nextConnection();
    const sub = await client.subscribeQueue([{ topic: "in/#", qos: 2 }]);
    const publish: PublishPacket = {
      type: PacketType.Publish,
      topic: "in/a",
      payload: new Uint8Array([1]),
      qos: 2,
      retain: false,
      dup: false,
      packetId: 7,
    };
    conn.send(publish);
    const m = await sub.queue.dequeue();
    assert.ok(m !== undefined, "delivered");
    store.hold();
    m.ack(); // PUBREC waits for the store
    await waitUntil(() => store.calls.includes("in 7"), 1000, "the store was asked first");
    conn.send({ ...publish, dup: true }); // the broker resends before any PUBREC
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(conn.all(PacketType.Pubrec).length, 0, "no PUBREC before the record");
    store.release();
    await waitUntil(() => conn.all(PacketType.Pubrec).length === 1, 1000, "PUBREC after it");
    conn.send({ type: PacketType.Pubrel, packetId: 7 });
    await waitUntil(() => conn.all(PacketType.Pubcomp).length === 1, 1000, "PUBCOMP");
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(conn.all(PacketType.Pubrec).length, 1, "one PUBREC in all");
    assert.equal(sub.queue.length, 0, "delivered once");
  },
);

add(
  "Client sends DUP=0 for a publish whose store write was pending when the connection dropped",
  async () => {
    const store = new FlakyStore();
    await using broker = new FakeBroker({ autoAckPublish: true });
    await using client = new Client({
      broker: "mqtt://fake:1883",
      dial: broker.dial,
      store,
      reconnectBackoff: () => 10,
    });
    await client.connect();
    const first = await broker.nextConnection();
    store.hold();
    const done = client.publish({ topic: "w/dup", payload: "x", qos: 1 });
    await waitUntil(() => store.calls.includes("put 1"), 1000, "the store was asked");
    first.close(); // the PUBLISH never reached this connection
    const second = await broker.nextConnection();
    await waitUntil(() => client.connected, 1000, "reconnected");
    store.release();
    await waitUntil(() => second.all(PacketType.Publish).length === 1, 1000, "sent");
    const p = second.all(PacketType.Publish)[0] as PublishPacket;
    assert.equal(p.dup, false, "a first transmission is not a duplicate [MQTT-3.3.1-1]");
    assert.equal(first.all(PacketType.Publish).length, 0);
    assert.equal((await done).reasonCode, 0);
  },
);
