// Fuzzing PacketDecoder: 100,000 seeded cases of random frames and mutated
// valid frames (see fuzz_engine.ts for the invariants). A longer run is
// `deno task fuzz` (tests/wire/fuzz_main.ts).

import assert from "node:assert/strict";
import { runFuzz } from "./fuzz_engine.ts";

Deno.test("PacketDecoder throws only protocol errors and returns only valid packets on 100,000 fuzz cases", () => {
  const stats = runFuzz({ cases: 100_000, seed: 0xf022 });
  assert.equal(stats.cases, 100_000);
  // The engine reaches every decode error and still decodes plenty of packets.
  for (const rc of ["0x81", "0x82", "0x84", "0x95"]) {
    assert.ok((stats.reasonCodes[rc] ?? 0) > 0, `no ${rc} in ${JSON.stringify(stats)}`);
  }
  assert.ok(stats.threw > 50_000, JSON.stringify(stats));
  assert.ok(stats.packets > 20_000, JSON.stringify(stats));
});

Deno.test("runFuzz() replays a single case from its index", () => {
  const a = runFuzz({ cases: 1, seed: 99, from: 12345 });
  const b = runFuzz({ cases: 1, seed: 99, from: 12345 });
  assert.deepEqual({ ...a, elapsedMs: 0 }, { ...b, elapsedMs: 0 });
});
