// Crash safety of QueuePublisher + FilePublisherQueue (+ LinkedSessionStore
// over FileSessionStore) across SIGKILLed child processes
// (tests/queue/_crash_child.ts), against a real mosquitto behind the fault
// proxy.
//
// Each scenario enqueues 1,000 QoS 1 messages. Run after run, the proxy
// withholds PUBACKs or cuts the connection at random intervals, the child is
// killed with SIGKILL at a random moment, and a new child opens the same
// directories. A last child runs without faults until its queue is empty.
// A subscriber connected straight to mosquitto must end with all 1,000; the
// proxy sees every PUBLISH the children sent, so the test can tell a DUP
// resend by the restored session from an entry published again as new.
//
// Runtime-neutral; registered by tests/queue/crash_test.ts (Deno) and, with
// fewer kills, bun-tests/queue_crash.test.ts.

import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { constantBackoff } from "../../src/client/backoff.ts";
import { Client } from "../../mod.ts";
import { PacketDecoder, PacketType } from "../../src/wire/mod.ts";
import { startBroker } from "../_helpers/broker.ts";
import { startFaultProxy } from "../_helpers/fault_proxy.ts";
import { Prng } from "../_helpers/prng.ts";
import {
  type Case,
  type Child,
  delay,
  killChild,
  RUNTIME,
  startChild,
  until,
  withDir,
} from "./_util.ts";

const CHILD = new URL("./_crash_child.ts", import.meta.url).pathname;
const MESSAGES = 1000;

/** What one scenario saw; printed, and checked by the case. */
export interface CrashReport {
  scenario: string;
  runtime: string;
  seed: number;
  kills: number;
  messages: number;
  /** Messages the subscriber never received. */
  lost: number;
  /** Deliveries beyond the first, at the subscriber (QoS 1 resends the broker had already taken). */
  duplicates: number;
  /** PUBLISHes with DUP=1 the children sent (session resends after a cut or a restart). */
  dupResends: number;
  /** Messages published with DUP=0 more than once. */
  republishedAsNew: number;
  /** ...of which the producer itself enqueued again (killed before `enq n` was printed, gone from the queue). */
  producerRetries: number;
  /** Messages stored by a child killed before it printed `enq n` (delivered all the same). */
  unconfirmed: number;
  /** Runs with PUBACKs withheld / with random cuts. */
  withheldRuns: number;
  cutRuns: number;
  ms: number;
}

/** All reports, in the order the scenarios ran. */
export const crashReports: CrashReport[] = [];

interface Scenario {
  name: string;
  kills: number;
  /** Whether the publisher gets the LinkedSessionStore as `sessionStore`. */
  linked: boolean;
  faults: "withhold" | "cuts" | "mixed";
}

function runScenario(s: Scenario, seed = Date.now() & 0x7fffffff): Promise<CrashReport> {
  return withDir(async (dir) => {
    const t0 = Date.now();
    const rng = new Prng(seed);
    await using broker = await startBroker();
    await using proxy = await startFaultProxy(broker.url);

    // What reached the subscriber.
    const received = new Map<number, number>();
    const sub = new Client({
      broker: broker.url,
      clientId: `crash-sub-${seed}`,
      reconnectBackoff: constantBackoff(50),
    });
    await sub.connect();
    await sub.subscribeCallback([{ topic: "crash/q/#", qos: 1 }], (m) => {
      const n = Number(m.text());
      received.set(n, (received.get(n) ?? 0) + 1);
    });

    // What the children sent: DUP=0 (new) and DUP=1 (resend) PUBLISHes per message.
    const fresh = new Map<number, number>();
    let dupResends = 0;
    proxy.onPacket((p) => {
      if (p.from !== "client" || p.type !== PacketType.Publish || p.dropped) return;
      const [pkt] = new PacketDecoder().push(p.bytes.slice());
      if (pkt?.type !== PacketType.Publish) return;
      const n = Number(new TextDecoder().decode(pkt.payload));
      if (pkt.dup) dupResends++;
      else fresh.set(n, (fresh.get(n) ?? 0) + 1);
    });

    const confirmed = new Set<number>();
    /** How many runs were asked to enqueue each message (and did not find it queued). */
    const asked = new Map<number, number>();
    const todoPath = join(dir, "todo.json");
    let withheldRuns = 0;
    let cutRuns = 0;
    let child: Child | undefined;

    const start = async (mode: "run" | "finish"): Promise<Child> => {
      const todo: number[] = [];
      for (let n = 0; n < MESSAGES; n++) {
        if (!confirmed.has(n) && !received.has(n)) todo.push(n);
      }
      await writeFile(todoPath, JSON.stringify(todo));
      const c = startChild(CHILD, [
        dir,
        proxy.url,
        mode,
        todoPath,
        s.linked ? "linked" : "unlinked",
      ]);
      const skipped = new Set<number>();
      c.onLine((line) => {
        if (line.startsWith("enq ")) confirmed.add(Number(line.slice(4)));
        else if (line.startsWith("skip ")) skipped.add(Number(line.slice(5)));
        else if (line.startsWith("error ")) console.error(`crash child: ${line}`);
      });
      c.exited.then(() => {
        for (const n of todo) if (!skipped.has(n)) asked.set(n, (asked.get(n) ?? 0) + 1);
      });
      return c;
    };

    try {
      for (let run = 0; run < s.kills; run++) {
        const kind = s.faults === "mixed" ? (rng.bool() ? "withhold" : "cuts") : s.faults;
        const stop = new AbortController();
        let cutting: Promise<void> | undefined;
        if (kind === "withhold" || rng.bool(0.3)) {
          proxy.dropBrokerPackets(PacketType.Puback);
          withheldRuns++;
        }
        if (kind === "cuts") {
          cutRuns++;
          cutting = proxy.randomCuts({
            minMs: 40,
            maxMs: 200,
            signal: stop.signal,
            seed: rng.u32(),
          });
        }
        child = await start("run");
        await child.lineStarting("ready", 20_000);
        await delay(rng.range(80, 700));
        await killChild(child);
        child = undefined;
        stop.abort();
        await cutting;
        proxy.dropBrokerPackets(null);
        proxy.cutAll();
      }
      // The last child runs without faults until its queue is empty.
      child = await start("finish");
      const done = await child.lineStarting("done", 45_000);
      await child.exited;
      child = undefined;
      assert.ok(done.startsWith("done "), done);
      await until(() => received.size === MESSAGES, `all ${MESSAGES} messages`, 15_000).catch(
        () => {},
      );
    } finally {
      if (child !== undefined) await killChild(child);
      await sub.disconnect();
    }

    let lost = 0;
    let duplicates = 0;
    for (let n = 0; n < MESSAGES; n++) {
      const k = received.get(n) ?? 0;
      if (k === 0) lost++;
      else duplicates += k - 1;
    }
    let republishedAsNew = 0;
    let producerRetries = 0;
    const unexplained: number[] = [];
    for (const [n, k] of fresh) {
      if (k <= 1) continue;
      republishedAsNew++;
      if ((asked.get(n) ?? 0) > 1) producerRetries++;
      else unexplained.push(n);
    }
    const report: CrashReport = {
      scenario: s.name,
      runtime: RUNTIME,
      seed,
      kills: s.kills,
      messages: MESSAGES,
      lost,
      duplicates,
      dupResends,
      republishedAsNew,
      producerRetries,
      unconfirmed: MESSAGES - confirmed.size,
      withheldRuns,
      cutRuns,
      ms: Date.now() - t0,
    };
    crashReports.push(report);
    console.log(`queue crash report ${JSON.stringify(report)}`);
    assert.equal(lost, 0, `lost ${lost} messages (seed ${seed})`);
    if (s.linked) {
      assert.deepEqual(
        unexplained.sort((a, b) => a - b),
        [],
        `entries in flight at a kill were published again as new (seed ${seed})`,
      );
    } else {
      // The control: without the link, the detector above must fire.
      assert.ok(unexplained.length > 0, "the unlinked control republished nothing as new");
    }
    return report;
  });
}

/** The scenarios, with `kills` SIGKILLs each. */
export function crashCases(scale = 1): Case[] {
  const k = (n: number) => Math.max(2, Math.round(n * scale));
  const scenarios: Scenario[] = [
    { name: "acks withheld", kills: k(12), linked: true, faults: "withhold" },
    { name: "connection cut", kills: k(12), linked: true, faults: "cuts" },
    // Control: the same without LinkedSessionStore republishes in-flight entries as new.
    { name: "acks withheld, unlinked control", kills: k(4), linked: false, faults: "withhold" },
  ];
  return scenarios.map((s) => ({
    name: s.linked
      ? `QueuePublisher + FilePublisherQueue + FileSessionStore lose nothing and republish ` +
        `nothing in flight as new over ${s.kills} SIGKILLs (${s.name}; 1,000 QoS 1 messages)`
      : `QueuePublisher without the session link loses nothing but republishes in-flight ` +
        `entries as new over ${s.kills} SIGKILLs (${s.name})`,
    fn: async () => {
      await runScenario(s);
    },
    timeoutMs: 120_000,
  }));
}
