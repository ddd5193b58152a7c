// The supervisor soak of tests/integration/soak.ts under `bun test`: 4 publishers
// through random cuts every 20-300 ms (10 s here, SOAK_MS to change it).
import { expect, test } from "bun:test";
import process from "node:process";
import { runSoak } from "../tests/integration/soak.ts";

const durationMs = Number(process.env.SOAK_MS ?? 10_000);

test(
  `Client loses nothing and duplicates no QoS 2 message under random cuts (${durationMs} ms soak)`,
  async () => {
    const report = await runSoak({ durationMs, publishers: 4, minCutMs: 20, maxCutMs: 300 });
    console.log(
      JSON.stringify({ messages: report.messages, cuts: report.cuts, lost: report.lost }),
    );
    expect(report.messages).toBeGreaterThan(0);
    expect(report.cuts).toBeGreaterThan(0);
    expect(report.reconnects).toBeGreaterThan(0);
    expect(report.failed).toBe(0);
    expect(report.unsettled).toBe(0);
    expect(report.acked).toBe(report.messages);
    expect(report.markersArrived).toBe(true);
    expect(report.lost).toBe(0);
    expect(report.qos2Duplicates).toBe(0);
    expect(report.unexpected).toBe(0);
  },
  durationMs + 60_000,
);
