/**
 * The coalescing writer (src/client/writer.ts) over a recording connection:
 * every packet arrives intact and in order whatever mix of sizes is queued,
 * small packets share writes, and large payloads switch the writer to bigger
 * buffers. Shared by tests/client/writer_test.ts and bun-tests.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Writer } from "../../src/client/writer.ts";
import { PacketDecoder } from "../../src/wire/decode.ts";
import type { Packet, PublishPacket } from "../../src/wire/types.ts";
import type { Connection } from "../../src/transport/types.ts";

/** A connection that records every write; a write completes after a macrotask. */
function recorder(): { conn: Connection; writes: Uint8Array[]; backing: number[] } {
  const writes: Uint8Array[] = [];
  const backing: number[] = []; // the size of the memory behind each write
  const conn: Connection = {
    start() {},
    write(data) {
      backing.push(data.buffer.byteLength);
      writes.push(data.slice()); // the writer may reuse `data` once this resolves
      return new Promise((resolve) => setTimeout(resolve, 0));
    },
    close() {},
  };
  return { conn, writes, backing };
}

function publish(i: number, size: number): PublishPacket {
  const payload = new Uint8Array(size);
  for (let j = 0; j < size; j++) payload[j] = (i * 31 + j) & 0xff;
  return {
    type: 3,
    topic: `t/${i}`,
    payload,
    qos: 0,
    retain: false,
    dup: false,
    properties: {},
  } as PublishPacket;
}

function decodeAll(writes: Uint8Array[]): Packet[] {
  const d = new PacketDecoder();
  const out: Packet[] = [];
  for (const w of writes) out.push(...d.push(w));
  assert.equal(d.buffered, 0, "a write ended inside a packet");
  return out;
}

/** A writer whose write errors fail the test. */
function writer(conn: Connection, batch: number, queueSize: number): Writer {
  return new Writer(conn, { batch, queueSize }, (e) => {
    throw e;
  });
}

async function drain(w: Writer): Promise<void> {
  await w.flushed();
}

/** The shared cases. */
export const writerCases: { name: string; fn: () => Promise<void> }[] = [
  {
    name: "writer: mixed sizes arrive intact, in order, and small ones share writes",
    fn: async () => {
      const { conn, writes } = recorder();
      const w = writer(conn, 0, 100_000);
      const sizes: number[] = [];
      for (let i = 0; i < 600; i++) sizes.push(i % 97 === 5 ? 300_000 : i % 13 === 0 ? 20_000 : 40);
      for (let i = 0; i < sizes.length; i++) w.send(publish(i, sizes[i]));
      await drain(w);
      const got = decodeAll(writes) as PublishPacket[];
      assert.equal(got.length, sizes.length);
      for (let i = 0; i < sizes.length; i++) {
        assert.equal(got[i].topic, `t/${i}`);
        assert.deepEqual(got[i].payload, publish(i, sizes[i]).payload);
      }
      assert.ok(writes.length < sizes.length / 4, `${writes.length} writes for ${sizes.length}`);
    },
  },
  {
    name: "writer: small packets stay in 64 KiB writes",
    fn: async () => {
      const { conn, writes } = recorder();
      const w = writer(conn, 0, 100_000);
      for (let i = 0; i < 5000; i++) w.send(publish(i, 100));
      await drain(w);
      assert.equal(decodeAll(writes).length, 5000);
      assert.ok(writes.length >= 8, `${writes.length} writes`);
      for (const b of writes) assert.ok(b.length <= 64 * 1024, `a write of ${b.length} bytes`);
    },
  },
  {
    name: "writer: 16 KiB payloads leave in writes larger than 64 KiB",
    fn: async () => {
      const { conn, writes } = recorder();
      const w = writer(conn, 0, 100_000);
      for (let i = 0; i < 200; i++) w.send(publish(i, 16 * 1024));
      await drain(w);
      const got = decodeAll(writes) as PublishPacket[];
      assert.equal(got.length, 200);
      assert.deepEqual(got[199].payload, publish(199, 16 * 1024).payload);
      const big = writes.filter((b) => b.length > 64 * 1024).length;
      assert.ok(big >= writes.length - 2, `${big} of ${writes.length} writes above 64 KiB`);
      for (const b of writes) assert.ok(b.length <= 256 * 1024, `a write of ${b.length} bytes`);
    },
  },
  {
    name: "writer: writeBatch caps the packets per write",
    fn: async () => {
      const { conn, writes } = recorder();
      const w = writer(conn, 7, 100_000);
      for (let i = 0; i < 100; i++) w.send(publish(i, 10));
      await drain(w);
      const counts = writes.map((b) => decodeAll([b]).length);
      assert.equal(counts.reduce((a, b) => a + b, 0), 100);
      for (const c of counts) assert.ok(c <= 7, `${c} packets in one write`);
    },
  },
  {
    name: "writer: full at writeQueueSize packets or at 1 MiB of encoded bytes",
    fn: async () => {
      const { conn } = recorder();
      const small = writer(conn, 0, 10);
      for (let i = 0; i < 9; i++) small.send(publish(i, 10));
      assert.equal(small.full, false);
      small.send(publish(9, 10));
      assert.equal(small.full, true, "10 packets fill writeQueueSize 10");
      await small.flushed();
      assert.equal(small.full, false);

      const big = writer(conn, 0, 1000);
      for (let i = 0; i < 60; i++) big.send(publish(i, 16 * 1024));
      assert.equal(big.full, false, "60 x 16 KiB is under 1 MiB");
      for (let i = 60; i < 64; i++) big.send(publish(i, 16 * 1024));
      assert.equal(big.full, true, "64 x 16 KiB reaches 1 MiB");
      await big.space();
      assert.equal(big.full, false);
      await big.flushed();
      assert.equal(big.queued, 0);
    },
  },
  {
    name:
      "writer: a stream of large packets that fills the queue again and again reuses its buffers",
    fn: async () => {
      // The socket takes nothing for a while (the queue fills to 1 MiB), then everything (it
      // empties), over and over. The writes should come from the same few buffers each time,
      // not from buffers allocated (and zeroed) anew whenever the queue turns over.
      const buffers = new Set<ArrayBufferLike>();
      let release: (() => void)[] = [];
      const conn: Connection = {
        start() {},
        write(data) {
          buffers.add(data.buffer);
          return new Promise((resolve) => release.push(resolve));
        },
        close() {},
      };
      const w = writer(conn, 0, 1000);
      let sent = 0;
      for (let round = 0; round < 10; round++) {
        while (!w.full) {
          w.send(publish(sent++, 16 * 1024));
          await null; // packets arrive over microtask hops, as awaited publishes do
        }
        while (w.queued > 0 || release.length > 0) {
          const r = release;
          release = [];
          for (const f of r) f();
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
        await w.flushed();
      }
      // 4 queued 256 KiB buffers (1 MiB), the one being filled, the one being written.
      assert.ok(buffers.size <= 6, `${buffers.size} distinct buffers written for ${sent} packets`);
      assert.ok(w.retainedBytes <= 6 * 256 * 1024, `${w.retainedBytes} bytes kept`);
    },
  },
  {
    name:
      "writer: a first packet larger than 64 KiB (and smaller than 256 KiB) into an empty buffer",
    fn: async () => {
      const { conn, writes } = recorder();
      const w = writer(conn, 0, 1000);
      w.send(publish(0, 70_000));
      w.sendBytes(new Uint8Array([0xc0, 0x00])); // PINGREQ
      w.send(publish(1, 10));
      await w.flushed();
      const got = decodeAll(writes);
      assert.deepEqual(got.map((p) => p.type), [3, 12, 3]);
      assert.deepEqual((got[0] as PublishPacket).payload, publish(0, 70_000).payload);
      // And the same with 64 KiB buffers already in use.
      w.send(publish(2, 10));
      w.send(publish(3, 200_000));
      w.sendBytes(new Uint8Array([0xc0, 0x00]));
      await w.flushed();
      assert.deepEqual(decodeAll(writes).slice(3).map((p) => p.type), [3, 3, 12]);
    },
  },
  {
    name: "writer: with writeBatch, queued small packets do not each hold a whole buffer",
    fn: async () => {
      const { conn, writes, backing } = recorder();
      const w = writer(conn, 1, 100_000);
      w.send(publish(0, 100 * 1024)); // switches to 256 KiB buffers
      for (let i = 1; i <= 200; i++) w.send({ type: 4, packetId: i });
      await w.flushed();
      const got = decodeAll(writes);
      assert.equal(got.length, 201);
      assert.deepEqual(got.slice(1).map((p) => (p as { packetId: number }).packetId).slice(0, 3), [
        1,
        2,
        3,
      ]);
      const whole = backing.filter((n) => n >= 256 * 1024).length;
      assert.ok(whole <= 2, `${whole} of ${backing.length} writes held a 256 KiB buffer`);
    },
  },
  {
    name: "Writer holds no scratch buffer before its first packet, and one small one after a few",
    fn: async () => {
      const { conn, writes, backing } = recorder();
      const w = writer(conn, 0, 100_000);
      assert.equal(w.retainedBytes, 0);
      w.send({ type: 8, packetId: 1, filters: [{ topic: "a/b", qos: 0 }], properties: {} });
      w.sendBytes(new Uint8Array([0xc0, 0x00]));
      await w.flushed();
      assert.deepEqual(decodeAll(writes).map((p) => p.type), [8, 12]);
      assert.ok(backing[0] <= 2 * 1024, `the first write came from a ${backing[0]} byte buffer`);
      assert.ok(w.retainedBytes <= 2 * 1024, `idle writer holds ${w.retainedBytes} bytes`);
    },
  },
  {
    name: "Writer.trim() gives the buffers of a stream back once a tick passed without traffic",
    fn: async () => {
      const { conn, writes } = recorder();
      const w = writer(conn, 0, 100_000);
      for (let i = 0; i < 3000; i++) w.send(publish(i, 100));
      w.send(publish(3000, 64 * 1024)); // and 256 KiB buffers
      await w.flushed();
      assert.ok(w.retainedBytes >= 64 * 1024, `a stream kept ${w.retainedBytes} bytes`);
      // The tick during the stream: traffic since the last one, buffers kept.
      assert.equal(w.trim(), false);
      assert.ok(w.retainedBytes >= 64 * 1024);
      // A tick with nothing sent since: given back.
      assert.equal(w.trim(), true);
      assert.equal(w.retainedBytes, 0);
      // The next packet starts small and arrives intact.
      w.send(publish(3001, 10));
      await w.flushed();
      const got = decodeAll(writes) as PublishPacket[];
      assert.equal(got.length, 3002);
      assert.deepEqual(got[3001].payload, publish(3001, 10).payload);
      assert.ok(w.retainedBytes <= 2 * 1024, `${w.retainedBytes} bytes after one small packet`);
    },
  },
  {
    name: "Writer.trim() keeps the buffers while packets wait to be written",
    fn: async () => {
      const { conn, writes } = recorder();
      const w = writer(conn, 0, 100_000);
      w.trim();
      for (let i = 0; i < 2000; i++) w.send(publish(i, 100));
      assert.equal(w.trim(), false); // queued since the last tick
      assert.equal(w.trim(), false); // still being written
      await w.flushed();
      assert.equal(decodeAll(writes).length, 2000);
    },
  },
  {
    name:
      "Writer without a buffer (idle) writes a PINGREQ as it is, and a packet right behind it follows in order",
    fn: async () => {
      const { conn, writes } = recorder();
      const w = writer(conn, 0, 100_000);
      const ping = new Uint8Array([0xc0, 0x00]);
      w.sendBytes(ping);
      assert.equal(w.retainedBytes, 0, "a keep-alive PINGREQ takes no buffer");
      w.send(publish(1, 10));
      w.sendBytes(ping); // behind a packet: into its buffer
      await w.flushed();
      assert.deepEqual(decodeAll(writes).map((p) => p.type), [12, 3, 12]);
      assert.deepEqual(ping, new Uint8Array([0xc0, 0x00]), "the constant is never written to");
      // After a trim the next PINGREQ again takes no buffer.
      w.trim();
      w.trim();
      assert.equal(w.retainedBytes, 0);
      w.sendBytes(ping);
      await w.flushed();
      assert.equal(w.retainedBytes, 0);
      assert.equal(decodeAll(writes).length, 4);
    },
  },
];
