// Codec micro benchmarks under Deno: `deno bench -A bench/wire_bench.ts`.
// mqtt-packet 9.0.2 is each group's baseline, so Deno prints how many times
// faster (or slower) our codec is. Targets: decode >= 5x, encode >= 3x.

import { WIRE_BENCH_CASES } from "./wire_cases.ts";

for (const c of WIRE_BENCH_CASES) {
  Deno.bench({ name: c.name, group: c.group, baseline: c.baseline, fn: c.fn });
}
