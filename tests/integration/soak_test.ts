// The supervisor soak (tests/integration/soak.ts) in the normal suite: 20 s of
// random cuts, or SOAK_MS milliseconds. `deno task soak` runs the same soak
// from soak_main.ts and prints the figures as JSON.

import assert from "node:assert/strict";
import { runSoak } from "./soak.ts";

const durationMs = Number(Deno.env.get("SOAK_MS") ?? 20_000);

Deno.test(
  `Client loses nothing and duplicates no QoS 2 message under random cuts (${durationMs} ms soak)`,
  async () => {
    const report = await runSoak({ durationMs, publishers: 4, minCutMs: 20, maxCutMs: 300 });
    console.log(JSON.stringify(report));
    assert.ok(report.messages > 0, "the publishers published");
    assert.ok(report.cuts > 0, "the proxy cut connections");
    assert.ok(report.reconnects > 0, "the publishers reconnected");
    assert.equal(report.failed, 0, `publishes rejected: ${report.failures.join("; ")}`);
    assert.equal(report.unsettled, 0, "every publish promise settled");
    assert.equal(report.acked, report.messages);
    assert.equal(report.refused, 0);
    assert.equal(report.markersArrived, true, "every publisher's marker arrived");
    assert.equal(report.lost, 0, `lost: ${report.lostSample.join(", ")}`);
    assert.equal(report.qos2Duplicates, 0, "no QoS 2 message arrived twice");
    assert.equal(report.unexpected, 0);
  },
);
