// PublisherQueue conformance cases, run against every backend (memory, file),
// plus the FilePublisherQueue-specific cases (durability, group commit,
// segments, recovery, the lock). Shared by tests/queue/queue_test.ts
// (Deno.test) and bun-tests/queue_file.test.ts (bun:test).
//
// Runtime-neutral: node:fs, node:path and node:child_process; the file queue
// picks its own file layer (Deno.* under Deno, node:fs under Bun).

import assert from "node:assert/strict";
import { readdir, readFile, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { MqttError } from "../../src/errors.ts";
import { runtimeFs } from "../../src/store/_fs.ts";
import { FilePublisherQueue, type FilePublisherQueueOptions } from "../../src/queue/file.ts";
import { MemoryPublisherQueue } from "../../src/queue/memory.ts";
import {
  type PublisherQueue,
  type QueueClient,
  type QueueEntry,
  QueuePublisher,
  type QueueToken,
} from "../../src/queue/publisher.ts";
import {
  type Case,
  dec,
  enc,
  InstrumentedFs,
  rejectsWith,
  startChild,
  until,
  withDir,
  within,
} from "./_util.ts";
import { abortedSignal, rejectsWithReason, trackedAbort } from "../group/_wait.ts";

/** A backend under test: opens a queue (again) in a directory. */
export interface Backend {
  name: string;
  /** Whether entries survive close + reopen. */
  durable: boolean;
  open(dir: string): Promise<PublisherQueue>;
}

export const backends: Backend[] = [
  {
    name: "MemoryPublisherQueue",
    durable: false,
    open: () => Promise.resolve(new MemoryPublisherQueue()),
  },
  {
    name: "FilePublisherQueue",
    durable: true,
    open: (dir) => FilePublisherQueue.open(join(dir, "q")),
  },
];

function entry(n: number, extra: Partial<QueueEntry["publish"]> = {}): QueueEntry {
  return {
    publish: { topic: `t/${n}`, payload: enc.encode(`payload ${n}`), qos: 1, ...extra },
    enqueuedAt: 1_700_000_000_000 + n,
    id: `id-${n}`,
  };
}

function topics(entries: QueueEntry[]): string[] {
  return entries.map((e) => e.publish.topic);
}

async function fill(q: PublisherQueue, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) await q.enqueue(entry(n));
}

/** A client that never connects: the drain sends nothing. */
const offline: QueueClient = {
  connected: false,
  publish: () => Promise.reject(new MqttError("not-connected", "offline")),
};

/** The conformance cases, one set per backend. */
function conformance(b: Backend): Case[] {
  const cases: Case[] = [];
  const add = (name: string, fn: (q: PublisherQueue, dir: string) => Promise<void>) =>
    cases.push({
      name: `${b.name} ${name}`,
      fn: () =>
        withDir(async (dir) => {
          const q = await b.open(dir);
          try {
            await fn(q, dir);
          } finally {
            await q.close();
          }
        }),
    });

  add(
    "peekBatch() returns the oldest entries in enqueue order without removing them",
    async (q) => {
      await fill(q, 1, 10);
      const first = await q.peekBatch(4);
      assert.deepEqual(topics(first.entries), ["t/1", "t/2", "t/3", "t/4"]);
      assert.equal(first.tokens.length, 4);
      assert.equal(await q.len(), 10);
      const again = await q.peekBatch(4);
      assert.deepEqual(again.tokens, first.tokens, "the same entries have the same tokens");
      const all = await q.peekBatch(100);
      assert.deepEqual(topics(all.entries), Array.from({ length: 10 }, (_, i) => `t/${i + 1}`));
      assert.deepEqual((await q.peekBatch(0)).entries, []);
      await assert.rejects(q.peekBatch(-1), RangeError);
      await assert.rejects(q.peekBatch(1.5), RangeError);
    },
  );

  add("an entry comes back field for field", async (q) => {
    const e: QueueEntry = {
      publish: {
        topic: "a/b/c",
        payload: new Uint8Array([0, 1, 2, 255]),
        qos: 2,
        retain: true,
        properties: {
          payloadFormatIndicator: 0,
          messageExpiryInterval: 60,
          responseTopic: "reply/here",
          correlationData: new Uint8Array([9, 8]),
          contentType: "application/octet-stream",
          userProperties: [["k", "v"], ["k", "v2"]],
        },
      },
      enqueuedAt: 1_700_000_123_456.5,
      id: "entry-ü",
    };
    await q.enqueue(e);
    const [got] = (await q.peekBatch(1)).entries;
    assert.equal(got.publish.topic, "a/b/c");
    assert.deepEqual([...(got.publish.payload as Uint8Array)], [0, 1, 2, 255]);
    assert.equal(got.publish.qos, 2);
    assert.equal(got.publish.retain, true);
    assert.deepEqual(
      { ...got.publish.properties, correlationData: [...got.publish.properties!.correlationData!] },
      { ...e.publish.properties, correlationData: [9, 8] },
    );
    assert.equal(got.enqueuedAt, e.enqueuedAt);
    assert.equal(got.id, "entry-ü");
  });

  add(
    "ack() removes exactly the acknowledged entry, in any order; unknown tokens do nothing",
    async (q) => {
      await fill(q, 1, 6);
      const { tokens } = await q.peekBatch(6);
      await q.ack(tokens[3]);
      await q.ack(tokens[0]);
      await q.ack(tokens[0]); // twice: nothing
      await q.ack("no such token");
      await q.ack(123456789);
      assert.equal(await q.len(), 4);
      assert.deepEqual(topics((await q.peekBatch(10)).entries), ["t/2", "t/3", "t/5", "t/6"]);
      await Promise.all(tokens.map((t) => q.ack(t)));
      assert.equal(await q.len(), 0);
      assert.deepEqual((await q.peekBatch(10)).entries, []);
    },
  );

  add("evictHead() removes and returns the oldest entry; undefined when empty", async (q) => {
    assert.equal(await q.evictHead(), undefined);
    await fill(q, 1, 3);
    const { tokens } = await q.peekBatch(3);
    assert.equal((await q.evictHead())?.publish.topic, "t/1");
    await q.ack(tokens[0]); // already evicted: nothing
    assert.equal(await q.len(), 2);
    assert.equal((await q.evictHead())?.publish.topic, "t/2");
    assert.equal((await q.evictHead())?.publish.topic, "t/3");
    assert.equal(await q.evictHead(), undefined);
    assert.equal(await q.len(), 0);
    assert.notEqual(q.canEvict, false);
  });

  add("len() counts stored entries through enqueue, ack and evict", async (q) => {
    assert.equal(await q.len(), 0);
    await fill(q, 1, 5);
    assert.equal(await q.len(), 5);
    const { tokens } = await q.peekBatch(2);
    await q.ack(tokens[1]);
    assert.equal(await q.len(), 4);
    await q.evictHead();
    assert.equal(await q.len(), 3);
  });

  add("concurrent enqueues are stored in call order", async (q) => {
    await Promise.all(Array.from({ length: 200 }, (_, i) => q.enqueue(entry(i))));
    const { entries } = await q.peekBatch(500);
    assert.deepEqual(topics(entries), Array.from({ length: 200 }, (_, i) => `t/${i}`));
  });

  add("close() makes every later call reject with queue-closed; it is idempotent", async (q) => {
    await fill(q, 1, 2);
    const { tokens } = await q.peekBatch(1);
    await q.close();
    await q.close();
    await rejectsWith(q.enqueue(entry(3)), "queue-closed");
    await rejectsWith(q.peekBatch(1), "queue-closed");
    await rejectsWith(q.ack(tokens[0]), "queue-closed");
    await rejectsWith(q.evictHead(), "queue-closed");
    await rejectsWith(q.len(), "queue-closed");
  });

  add("an aborted signal rejects with its reason", async (q) => {
    const reason = new Error("stop");
    const ac = new AbortController();
    ac.abort(reason);
    await assert.rejects(q.enqueue(entry(1), { signal: ac.signal }), (e) => e === reason);
    await assert.rejects(q.peekBatch(1, { signal: ac.signal }), (e) => e === reason);
    await assert.rejects(q.len({ signal: ac.signal }), (e) => e === reason);
    assert.equal(await q.len(), 0);
  });

  // Each method, already-aborted signal: its reason, unchanged, before anything
  // else (a closed queue, a bad argument), and the queue is as it was.
  const calls: [
    string,
    (q: PublisherQueue, token: QueueToken, signal: AbortSignal) => Promise<unknown>,
  ][] = [
    ["enqueue", (q, _t, signal) => q.enqueue(entry(3), { signal })],
    ["peekBatch", (q, _t, signal) => q.peekBatch(1, { signal })],
    ["ack", (q, token, signal) => q.ack(token, { signal })],
    ["evictHead", (q, _t, signal) => q.evictHead({ signal })],
    ["len", (q, _t, signal) => q.len({ signal })],
  ];
  for (const [method, call] of calls) {
    add(
      `${method}() rejects with signal.reason when the signal is already aborted, and changes nothing`,
      async (q) => {
        await fill(q, 1, 2);
        const { tokens } = await q.peekBatch(2);
        const { signal, reason } = abortedSignal();
        await rejectsWithReason(call(q, tokens[0], signal), reason);
        assert.equal(await q.len(), 2);
        assert.deepEqual(topics((await q.peekBatch(9)).entries), ["t/1", "t/2"]);
        // Before the other checks: a closed queue still answers with the reason.
        await q.close();
        await rejectsWithReason(call(q, tokens[0], signal), reason);
      },
    );
  }

  add("enqueue() rejects an entry without a topic or enqueuedAt with TypeError", async (q) => {
    await assert.rejects(q.enqueue({ publish: {}, enqueuedAt: 1 } as QueueEntry), TypeError);
    await assert.rejects(
      q.enqueue({ publish: { topic: "a" }, enqueuedAt: Number.NaN } as QueueEntry),
      TypeError,
    );
    assert.equal(await q.len(), 0);
  });

  for (const policy of ["drop-newest", "drop-oldest"] as const) {
    add(
      `QueuePublisher with 64 concurrent producers never exceeds maxSize (${policy})`,
      async (q) => {
        const dead: string[] = [];
        const pub = new QueuePublisher(offline, q, {
          maxSize: 10,
          dropPolicy: policy,
          onDeadLetter: (e, err) => {
            assert.ok(err instanceof MqttError && err.code === "queue-full");
            dead.push(e.publish.topic);
          },
        });
        let maxSeen = 0;
        const watcher = setInterval(async () => {
          try {
            maxSeen = Math.max(maxSeen, await q.len());
          } catch { /* closed */ }
        }, 1);
        try {
          const results = await Promise.allSettled(
            Array.from({ length: 64 }, (_, i) => pub.publish({ topic: `p/${i}`, qos: 1 })),
          );
          const ok = results.filter((r) => r.status === "fulfilled").length;
          const full = results.filter((r) =>
            r.status === "rejected" && (r.reason as MqttError).code === "queue-full"
          ).length;
          assert.equal(await q.len(), 10);
          const kept = topics((await q.peekBatch(100)).entries);
          if (policy === "drop-newest") {
            assert.equal(ok, 10);
            assert.equal(full, 54);
            assert.deepEqual(
              kept,
              Array.from({ length: 10 }, (_, i) =>
                `p/${i}`),
            );
            assert.equal(dead.length, 0);
          } else {
            assert.equal(ok, 64);
            assert.equal(dead.length, 54);
            assert.deepEqual(kept, Array.from({ length: 10 }, (_, i) => `p/${54 + i}`));
            assert.deepEqual(
              dead,
              Array.from({ length: 54 }, (_, i) => `p/${i}`),
            );
          }
          // Sequential producers at the limit behave the same way.
          const more = await Promise.allSettled([pub.publish({ topic: "late", qos: 1 })]);
          assert.equal(more[0].status, policy === "drop-newest" ? "rejected" : "fulfilled");
          assert.equal(await q.len(), 10);
        } finally {
          clearInterval(watcher);
          await pub.close();
        }
        assert.ok(maxSeen <= 10, `the queue held ${maxSeen} entries`);
      },
    );
  }

  if (b.durable) {
    cases.push({
      name: `${b.name} keeps entries and acknowledgements across close and reopen`,
      fn: () =>
        withDir(async (dir) => {
          const q = await b.open(dir);
          await fill(q, 1, 5);
          const { tokens } = await q.peekBatch(5);
          await q.ack(tokens[1]);
          await q.evictHead();
          await q.close();
          const again = await b.open(dir);
          try {
            assert.equal(await again.len(), 3);
            const { entries, tokens: t2 } = await again.peekBatch(10);
            assert.deepEqual(topics(entries), ["t/3", "t/4", "t/5"]);
            assert.equal(dec.decode(entries[0].publish.payload as Uint8Array), "payload 3");
            assert.deepEqual(t2, [tokens[2], tokens[3], tokens[4]], "tokens are stable");
            await again.enqueue(entry(6));
            const last = await again.peekBatch(10);
            assert.ok(
              (last.tokens[3] as number) > (tokens[4] as number),
              "new tokens continue the sequence",
            );
          } finally {
            await again.close();
          }
        }),
    });
  }
  return cases;
}

// ---------------------------------------------------------------------------
// FilePublisherQueue only

const fileCases: Case[] = [];
function fileCase(name: string, fn: () => Promise<void>): void {
  fileCases.push({ name: `FilePublisherQueue ${name}`, fn });
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => /^seg-\d{16}\.log$/.test(n)).sort();
}

async function openFile(
  dir: string,
  options?: FilePublisherQueueOptions,
): Promise<FilePublisherQueue> {
  return await FilePublisherQueue.open(dir, options);
}

fileCase("enqueue() resolves only after its record is written and synced", async () => {
  await withDir(async (dir) => {
    const fs = new InstrumentedFs(await runtimeFs());
    const q = await openFile(dir, { fs });
    try {
      let release!: () => void;
      fs.fsyncGate = new Promise((r) => release = r);
      let done = false;
      const p = q.enqueue(entry(1)).then(() => done = true);
      await within(
        (async () => {
          while (fs.fsyncs === 0) await new Promise((r) => setTimeout(r, 1));
        })(),
        "the fsync",
      );
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(done, false, "resolved before the fsync finished");
      assert.equal(await q.len(), 0, "visible before it is durable");
      assert.deepEqual((await q.peekBatch(1)).entries, []);
      fs.fsyncGate = undefined;
      release();
      await p;
      assert.equal(await q.len(), 1);
      const segs = await segmentFiles(dir);
      assert.deepEqual(fs.log, [`write ${segs[0]}`, `fsync ${segs[0]}`, "syncDir"]);
    } finally {
      await q.close();
    }
  });
});

fileCase(
  "enqueue() and ack() reject with signal.reason when the signal aborts before the sync, and leave no listener",
  async () => {
    await withDir(async (dir) => {
      const fs = new InstrumentedFs(await runtimeFs());
      const q = await openFile(dir, { fs });
      try {
        await q.enqueue(entry(1));
        const { tokens } = await q.peekBatch(1);
        for (
          const [what, call] of [
            ["enqueue", (signal: AbortSignal) => q.enqueue(entry(2), { signal })],
            ["ack", (signal: AbortSignal) => q.ack(tokens[0], { signal })],
          ] as const
        ) {
          let release!: () => void;
          fs.fsyncGate = new Promise((r) => release = r);
          const fsyncs = fs.fsyncs;
          const { controller, listeners } = trackedAbort();
          const reason = new Error(`stop ${what}`);
          const p = call(controller.signal);
          await within(
            (async () => {
              while (fs.fsyncs === fsyncs) await new Promise((r) => setTimeout(r, 1));
            })(),
            `the fsync of ${what}`,
          );
          controller.abort(reason);
          await rejectsWithReason(within(p, `${what}() to settle`), reason);
          assert.equal(listeners(), 0, `no abort listener left behind by ${what}()`);
          fs.fsyncGate = undefined;
          release();
        }
        // Both writes were handed to the disk before the aborts: they complete.
        await until(async () => (await q.len()) === 1, "the queue to settle");
        assert.deepEqual(topics((await q.peekBatch(9)).entries), ["t/2"]);
      } finally {
        await q.close();
      }
    });
  },
);

fileCase("64 concurrent enqueues are grouped into a few syncs (group commit)", async () => {
  await withDir(async (dir) => {
    const fs = new InstrumentedFs(await runtimeFs());
    const q = await openFile(dir, { fs });
    try {
      await q.enqueue(entry(0)); // creates the segment
      const before = { commits: q.stats.commits, fsyncs: fs.fsyncs };
      await Promise.all(Array.from({ length: 64 }, (_, i) => q.enqueue(entry(i + 1))));
      const commits = q.stats.commits - before.commits;
      const fsyncs = fs.fsyncs - before.fsyncs;
      assert.ok(commits <= 2, `64 concurrent enqueues took ${commits} commits`);
      assert.ok(fsyncs <= 2, `64 concurrent enqueues took ${fsyncs} fsyncs`);
      // Concurrent acks group too.
      const { tokens } = await q.peekBatch(65);
      const f0 = fs.fsyncs;
      await Promise.all(tokens.map((t) => q.ack(t)));
      assert.ok(fs.fsyncs - f0 <= 2, `65 concurrent acks took ${fs.fsyncs - f0} fsyncs`);
      assert.equal(await q.len(), 0);
    } finally {
      await q.close();
    }
  });
});

fileCase("rolls segments and deletes each one once all its entries are acknowledged", async () => {
  await withDir(async (dir) => {
    const q = await openFile(dir, { segmentBytes: 256 });
    try {
      await fill(q, 1, 30);
      const segs = await segmentFiles(dir);
      assert.ok(segs.length >= 5, `only ${segs.length} segments`);
      assert.equal(q.stats.segments, segs.length);
      // Acknowledge everything in the second segment only: it goes, the first stays.
      const secondFirst = Number(segs[1].slice(4, 20));
      const thirdFirst = Number(segs[2].slice(4, 20));
      const { tokens } = await q.peekBatch(30);
      for (const t of tokens) {
        if ((t as number) >= secondFirst && (t as number) < thirdFirst) await q.ack(t);
      }
      await q.enqueue(entry(99)); // a later commit reaps
      const after = await segmentFiles(dir);
      assert.ok(after.includes(segs[0]) && !after.includes(segs[1]), after.join(" "));
      // Everything acknowledged: only the last segment remains.
      await Promise.all((await q.peekBatch(100)).tokens.map((t) => q.ack(t)));
      await q.enqueue(entry(100));
      await q.ack((await q.peekBatch(1)).tokens[0]);
      const left = await segmentFiles(dir);
      assert.equal(left.length, 1, left.join(" "));
      assert.ok(q.stats.segmentsDeleted >= segs.length - 1);
    } finally {
      await q.close();
    }
    // Sequence numbers carry on from the surviving last segment.
    const again = await openFile(dir, { segmentBytes: 256 });
    try {
      await again.enqueue(entry(101));
      const { tokens } = await again.peekBatch(1);
      assert.ok((tokens[0] as number) > 32, `token ${tokens[0]} restarted the sequence`);
    } finally {
      await again.close();
    }
  });
});

fileCase(
  "a batch whose write fails in one segment settles only after its other segments' writes",
  async () => {
    await withDir(async (dir) => {
      const fs = new InstrumentedFs(await runtimeFs());
      const q = await openFile(dir, { segmentBytes: 256, fs });
      try {
        await fill(q, 1, 12); // several segments
        const { tokens } = await q.peekBatch(1); // in the first segment
        const mark = fs.log.length;
        const done = fs.writesDone;
        fs.failNextWrite = new Error("EIO: simulated");
        fs.beforeWrite = () => new Promise((resolve) => setTimeout(resolve, 100));
        // One batch: an ack record for the first segment and an entry for the last.
        const acked = q.ack(tokens[0]);
        const added = q.enqueue(entry(50));
        await rejectsWith(acked, "store-failed");
        await rejectsWith(added, "store-failed");
        const log = fs.log.slice(mark).join(" ");
        assert.equal((log.match(/write /g) ?? []).length, 2, `two segment writes: ${log}`);
        assert.equal(fs.writesDone - done, 1, "the slow write completed before the batch failed");
      } finally {
        fs.beforeWrite = undefined;
        await q.close().catch(() => {});
      }
    });
  },
);

fileCase("reads uncached segments back from disk (cacheSegments: 1)", async () => {
  await withDir(async (dir) => {
    const q = await openFile(dir, { segmentBytes: 300, cacheSegments: 1 });
    await fill(q, 1, 40);
    await q.close();
    const again = await openFile(dir, { segmentBytes: 300, cacheSegments: 1 });
    try {
      const { entries, tokens } = await again.peekBatch(40);
      assert.deepEqual(topics(entries), Array.from({ length: 40 }, (_, i) => `t/${i + 1}`));
      assert.ok(again.stats.segmentLoads > 0);
      // Drain it in batches the way QueuePublisher does.
      for (const t of tokens) await again.ack(t);
      assert.equal(await again.len(), 0);
    } finally {
      await again.close();
    }
  });
});

fileCase("an entry larger than segmentBytes gets a segment of its own", async () => {
  await withDir(async (dir) => {
    const q = await openFile(dir, { segmentBytes: 128 });
    try {
      await q.enqueue(entry(1));
      await q.enqueue(entry(2, { payload: new Uint8Array(1000).fill(7) }));
      await q.enqueue(entry(3));
      const { entries } = await q.peekBatch(3);
      assert.equal((entries[1].publish.payload as Uint8Array).length, 1000);
      assert.equal((await segmentFiles(dir)).length, 3);
    } finally {
      await q.close();
    }
  });
});

fileCase("a torn last record is skipped, reported and cut off on open", async () => {
  await withDir(async (dir) => {
    const q = await openFile(dir);
    await fill(q, 1, 3);
    await q.close();
    const [seg] = await segmentFiles(dir);
    const path = join(dir, seg);
    const size = (await stat(path)).size;
    await truncate(path, size - 7); // the last record, cut mid-way
    const reports: unknown[] = [];
    const again = await openFile(dir, { onCorruption: (r) => reports.push(r) });
    try {
      assert.equal(again.recovered.length, 1);
      const r = again.recovered[0];
      assert.deepEqual(reports, [r]);
      assert.equal(r.segment, seg);
      assert.ok(r.reason.includes("truncated"), r.reason);
      assert.equal(r.preservedAs, undefined, "a torn tail is not preserved");
      assert.equal(r.skippedBytes, size - 7 - r.offset);
      assert.equal(await again.len(), 2);
      assert.deepEqual(topics((await again.peekBatch(5)).entries), ["t/1", "t/2"]);
      assert.equal((await stat(path)).size, r.offset, "the bad bytes were cut off");
      await again.enqueue(entry(4)); // appended after good records only
    } finally {
      await again.close();
    }
    const third = await openFile(dir);
    try {
      assert.deepEqual(third.recovered, []);
      assert.deepEqual(topics((await third.peekBatch(5)).entries), ["t/1", "t/2", "t/4"]);
    } finally {
      await third.close();
    }
  });
});

fileCase(
  "a corrupt record in the middle keeps what precedes it and preserves the file",
  async () => {
    await withDir(async (dir) => {
      const q = await openFile(dir);
      await fill(q, 1, 5);
      await q.close();
      const [seg] = await segmentFiles(dir);
      const path = join(dir, seg);
      const bytes = new Uint8Array(await readFile(path));
      const original = bytes.slice();
      // Find the third record and flip a byte of its body.
      let pos = 8;
      for (let i = 0; i < 2; i++) pos += 8 + new DataView(bytes.buffer).getUint32(pos, true);
      bytes[pos + 20] ^= 0xff;
      await writeFile(path, bytes);
      const again = await openFile(dir);
      try {
        const r = again.recovered[0];
        assert.ok(r.reason.includes("bad CRC"), r.reason);
        assert.equal(r.offset, pos);
        assert.equal(r.preservedAs, path + ".corrupt");
        assert.deepEqual(new Uint8Array(await readFile(path + ".corrupt")), bytes);
        assert.notDeepEqual(bytes, original);
        assert.deepEqual(topics((await again.peekBatch(9)).entries), ["t/1", "t/2"]);
      } finally {
        await again.close();
      }
    });
  },
);

fileCase("a zero-filled tail and a torn segment header are recovered", async () => {
  await withDir(async (dir) => {
    const q = await openFile(dir);
    await fill(q, 1, 2);
    await q.close();
    const [seg] = await segmentFiles(dir);
    const path = join(dir, seg);
    const bytes = new Uint8Array(await readFile(path));
    const padded = new Uint8Array(bytes.length + 4096);
    padded.set(bytes);
    await writeFile(path, padded);
    // A segment whose creation crashed after 3 bytes of its header.
    await writeFile(join(dir, "seg-0000000000000099.log"), new Uint8Array([0x4d, 0x51, 0x35]));
    const again = await openFile(dir);
    try {
      assert.equal(again.recovered.length, 1);
      assert.ok(again.recovered[0].reason.startsWith("zero-filled tail"));
      assert.equal(again.recovered[0].preservedAs, undefined);
      assert.deepEqual(await segmentFiles(dir), [seg]);
      assert.deepEqual(topics((await again.peekBatch(9)).entries), ["t/1", "t/2"]);
      await again.enqueue(entry(3));
      const { tokens } = await again.peekBatch(3);
      assert.ok((tokens[2] as number) >= 99, "the sequence skips past the torn segment's name");
    } finally {
      await again.close();
    }
  });
});

fileCase("a failed write makes every call reject with store-failed until reopened", async () => {
  await withDir(async (dir) => {
    const fs = new InstrumentedFs(await runtimeFs());
    const q = await openFile(dir, { fs });
    await fill(q, 1, 2);
    fs.failNextWrite = new Error("disk full");
    await rejectsWith(q.enqueue(entry(3)), "store-failed");
    await rejectsWith(q.enqueue(entry(4)), "store-failed");
    await rejectsWith(q.peekBatch(1), "store-failed");
    await q.close();
    const again = await openFile(dir);
    try {
      assert.equal(again.recovered.length, 1, "the half-written record is cut off");
      assert.deepEqual(topics((await again.peekBatch(9)).entries), ["t/1", "t/2"]);
    } finally {
      await again.close();
    }
  });
});

fileCase("a second opener is refused with store-failed naming the holder", async () => {
  await withDir(async (dir) => {
    const q = await openFile(dir);
    try {
      const err = await rejectsWith(openFile(dir), "store-failed");
      assert.ok(err.message.includes("locked"), err.message);
      // Another process: the same refusal, with our pid in it.
      const script = join(dir, "probe.mjs");
      const FILE_TS = new URL("../../src/queue/file.ts", import.meta.url).href;
      await writeFile(
        script,
        `import { FilePublisherQueue } from ${JSON.stringify(FILE_TS)};
try { const q = await FilePublisherQueue.open(process.argv[2]); console.log("opened"); await q.close(); }
catch (err) { console.log("error " + err.code + " " + err.message); }`,
      );
      const child = startChild(script, [dir]);
      const line = await within(child.line(), "the probe's answer", 20_000);
      await child.exited;
      assert.ok(line.startsWith("error store-failed"), line);
      assert.ok(line.includes(`process ${process.pid}`), line);
    } finally {
      await q.close();
    }
    // Released: opens again.
    const again = await openFile(dir);
    await again.close();
  });
});

/** Every case: conformance for each backend, then the file-only ones. */
export const queueCases: Case[] = [...backends.flatMap(conformance), ...fileCases];
