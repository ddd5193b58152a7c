// Interoperability with mqtt-packet 9.0.2 (an independent MQTT v5 codec) in
// both directions. The mapping, the fixed cases and mqtt-packet's quirks are in
// interop_cases.ts, shared with bun-tests/wire_interop.test.ts.

import assert from "node:assert/strict";
import { PacketType, PropertyId } from "../../src/wire/mod.ts";
import {
  checkOursToTheirs,
  checkTheirsToOurs,
  coverage,
  INTEROP_CASES,
  runRandomInterop,
} from "./interop_cases.ts";

Deno.test("interop cases cover all 15 packet types and every property id", () => {
  const { types, propertyIds } = coverage(INTEROP_CASES);
  assert.deepEqual([...types].sort((a, b) => a - b), Object.values(PacketType));
  const all = [...new Set(Object.values(PropertyId))].sort((a, b) => a - b);
  assert.deepEqual([...propertyIds].sort((a, b) => a - b), all);
});

for (const { name, packet } of INTEROP_CASES) {
  Deno.test(`encodePacket() ${name}: parsed by mqtt-packet field for field`, () => {
    checkOursToTheirs(packet);
  });
  Deno.test(`PacketDecoder ${name}: decodes mqtt-packet's encoding field for field`, () => {
    checkTheirsToOurs(packet);
  });
}

Deno.test("encodePacket() 2,000 random PUBLISH, SUBSCRIBE and CONNECT each parse in mqtt-packet", () => {
  const r = runRandomInterop("ours-to-theirs", 0x5eed1, 2000);
  assert.equal(r.compared + r.knownRefusals, 6000);
  assert.ok(r.compared > 5900, `only ${r.compared} compared`);
});

Deno.test("PacketDecoder 2,000 random PUBLISH, SUBSCRIBE and CONNECT each from mqtt-packet", () => {
  const r = runRandomInterop("theirs-to-ours", 0x5eed2, 2000);
  assert.equal(r.compared + r.knownRefusals, 6000);
  assert.ok(r.compared > 5000, `only ${r.compared} compared`);
});
