// Interoperability with mqtt-packet 9.0.2 under Bun: the same cases and checks
// as tests/wire/interop_test.ts (see tests/wire/interop_cases.ts). Needs
// mqtt-packet in node_modules (`deno install` or `npm ci` first).

import { expect, test } from "bun:test";
import { PacketType, PropertyId } from "../src/wire/mod.ts";
import {
  checkOursToTheirs,
  checkTheirsToOurs,
  coverage,
  INTEROP_CASES,
  runRandomInterop,
} from "../tests/wire/interop_cases.ts";

test("interop cases cover all 15 packet types and every property id", () => {
  const { types, propertyIds } = coverage(INTEROP_CASES);
  expect([...types].sort((a, b) => a - b)).toEqual(Object.values(PacketType));
  const all = [...new Set(Object.values(PropertyId))].sort((a, b) => a - b);
  expect([...propertyIds].sort((a, b) => a - b)).toEqual(all);
});

for (const { name, packet } of INTEROP_CASES) {
  test(`encodePacket() ${name}: parsed by mqtt-packet field for field`, () => {
    expect(["compared", "known-refusal"]).toContain(checkOursToTheirs(packet));
  });
  test(`PacketDecoder ${name}: decodes mqtt-packet's encoding field for field`, () => {
    expect(["compared", "known-refusal"]).toContain(checkTheirsToOurs(packet));
  });
}

test("encodePacket() 2,000 random PUBLISH, SUBSCRIBE and CONNECT each parse in mqtt-packet", () => {
  const r = runRandomInterop("ours-to-theirs", 0x5eed1, 2000);
  expect(r.compared + r.knownRefusals).toBe(6000);
  expect(r.compared).toBeGreaterThan(5900);
}, 60_000);

test("PacketDecoder 2,000 random PUBLISH, SUBSCRIBE and CONNECT each from mqtt-packet", () => {
  const r = runRandomInterop("theirs-to-ours", 0x5eed2, 2000);
  expect(r.compared + r.knownRefusals).toBe(6000);
  expect(r.compared).toBeGreaterThan(5000);
}, 60_000);
