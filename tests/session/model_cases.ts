/**
 * The session engine model (model.ts) as test cases: a sweep of seeds that
 * must all hold, the coverage the sweep must reach, and bugs planted in the
 * engine that it must catch. Shared by tests/session/model_test.ts and
 * bun-tests/session.test.ts. A longer run is `deno task model`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Inbound, type InboundSlot, Verdict } from "../../src/session/inbound.ts";
import { Outbound, type SessionLimits } from "../../src/session/outbound.ts";
import { PacketIds } from "../../src/session/packet_ids.ts";
import { PacketType } from "../../src/wire/types.ts";
import { addStats, describeFailure, type ModelOptions, type ModelStats, runSeed } from "./model.ts";

/** One case. */
export interface ModelCase {
  name: string;
  fn: () => void;
}

/** Seeds run by the sweep (about 2 s here; well within 30 s on a slow 2-core machine). */
export const SWEEP_SEEDS = 20_000;

export const modelCases: ModelCase[] = [];
const add = (name: string, fn: () => void) => modelCases.push({ name, fn });

function sweep(from: number, count: number, options: ModelOptions = {}): ModelStats {
  let total: ModelStats | undefined;
  for (let seed = from; seed < from + count; seed++) {
    const r = runSeed(seed, options);
    if (!r.ok) assert.fail(describeFailure(r, options));
    if (total === undefined) total = { ...r.stats };
    else addStats(total, r.stats);
  }
  return total as ModelStats;
}

/** The first failing seed below `limit` for an engine with a planted bug. */
function firstFailure(options: ModelOptions, limit = 5000): string {
  for (let seed = 0; seed < limit; seed++) {
    const r = runSeed(seed, options);
    if (!r.ok) return r.error as string;
  }
  return assert.fail(`no seed below ${limit} caught the planted bug`);
}

add(`Outbound and Inbound keep every invariant of the model on ${SWEEP_SEEDS} seeds`, () => {
  const s = sweep(0, SWEEP_SEEDS);
  // The sweep reaches what the invariants are about (counts summed over every seed).
  const reached: (keyof ModelStats)[] = [
    "cuts",
    "sessionsLost",
    "dupReplays",
    "pubrelReplays",
    "duplicatesAnswered",
    "lateStoreWrites",
    "abandoned",
    "refused",
    "overLimit",
    "violations",
    "limitFailures",
    "idsExhausted",
    "pubcompUnknown",
    "closed",
    "admitRefused",
  ];
  for (const k of reached) {
    assert.ok(s[k] > 0, `the sweep never reached ${k}: ${JSON.stringify(s)}`);
  }
  assert.ok(s.settledOk > 100_000, JSON.stringify(s));
  assert.ok(s.delivered > 100_000, JSON.stringify(s));
});

add("runSeed() is deterministic: a seed replays step for step", () => {
  for (const seed of [1, 77, 4242]) {
    const a = runSeed(seed, { trace: true });
    const b = runSeed(seed, { trace: true });
    assert.ok(a.ok, a.error);
    assert.deepEqual(a.trace, b.trace);
    assert.deepEqual(a.stats, b.stats);
    assert.deepEqual(runSeed(seed).stats, a.stats); // tracing does not change the run
  }
});

// The invariants can fail: each planted bug is caught within the first seeds.

add("runSeed() catches a planted bug: PUBACK of a QoS 1 message from a previous connection", () => {
  const error = firstFailure({
    engine: {
      inbound: (host, limits) => {
        const inb = new Inbound(host, limits);
        inb.acks.cancelQos1 = () => {}; // the slots of a dead connection stay in the order
        return inb;
      },
    },
  });
  assert.match(
    error,
    /PUBACK \d+ for (no QoS 1 message received on this connection|a PUBLISH of an earlier connection)/,
  );
});

add("runSeed() catches a planted bug: a re-delivered QoS 2 message delivered again", () => {
  const error = firstFailure({
    engine: {
      inbound: (host, limits) => {
        const inb = new Inbound(host, limits);
        const receive = inb.receive.bind(inb);
        inb.receive = (p) => {
          const v = receive(p);
          return v === Verdict.Duplicate ? Verdict.Deliver : v;
        };
        return inb;
      },
    },
  });
  assert.match(error, /delivered twice/);
});

add("runSeed() catches a planted bug: acks released in the application's order", () => {
  const error = firstFailure({
    engine: {
      inbound: (host, limits) => {
        const early = new Map<number, number>(); // PUBACKs written ahead of their turn, by id
        const inb = new Inbound({
          ...host,
          write: (p) => {
            const n = p.type === PacketType.Puback ? early.get(p.packetId) ?? 0 : 0;
            if (p.type === PacketType.Puback && n > 0) early.set(p.packetId, n - 1); // already out
            else host.write(p);
          },
        }, limits);
        const release = inb.acks.release.bind(inb.acks);
        inb.acks.release = (slot: InboundSlot, by = 1) => {
          const last = slot.owner === inb.acks && !slot.done && slot.refs - by <= 0;
          if (last && slot.qos === 1 && inb.acks.head !== slot) {
            host.write({ type: PacketType.Puback, packetId: slot.packetId });
            early.set(slot.packetId, (early.get(slot.packetId) ?? 0) + 1);
          }
          release(slot, by);
        };
        return inb;
      },
    },
  });
  assert.match(error, /PUBACK \d+ before the PUBACK/);
});

add("runSeed() catches a planted bug: a re-sent PUBLISH without DUP", () => {
  const error = firstFailure({
    engine: {
      outbound: (host, ids) =>
        new Outbound({
          ...host,
          write: (p) => {
            if (p.type === PacketType.Publish) p.dup = false;
            host.write(p);
          },
        }, ids),
    },
  });
  assert.match(error, /DUP=0 on a re-transmission/);
});

add("runSeed() catches a planted bug: a rate limit (admit()) ignored", () => {
  const error = firstFailure({
    engine: { outbound: (host, ids) => new Outbound({ ...host, admit: undefined }, ids) },
  });
  assert.match(error, /written without a token from admit\(\)/);
});

add("runSeed() catches a planted bug: the broker's Receive Maximum ignored", () => {
  const error = firstFailure({
    engine: {
      outbound: (host, ids) => {
        const out = new Outbound(host, ids);
        const connected = out.connected.bind(out);
        out.connected = (l: SessionLimits) => connected({ ...l, receiveMaximum: 65535 });
        return out;
      },
    },
  });
  assert.match(error, /Receive Maximum/);
});

add("runSeed() catches a planted bug: a packet id handed out while in use", () => {
  class Sloppy extends PacketIds {
    #n = 0;
    override alloc(): number {
      const id = super.alloc();
      return ++this.#n % 4 === 0 && id > 1 ? id - 1 : id; // now and then the previous one
    }
  }
  const error = firstFailure({ engine: { ids: () => new Sloppy() } });
  assert.match(error, /packet id|PacketIds/);
});
