/**
 * {@linkcode PacketIds} (src/session/packet_ids.ts): allocation goes round
 * from the last id taken, wraps at 65535, never hands out an id in use, and
 * returns 0 when all are taken. Shared by tests/session/packet_ids_test.ts and
 * bun-tests/session.test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAX_PACKET_ID, PacketIds } from "../../src/session/packet_ids.ts";
import { Prng } from "../_helpers/prng.ts";

/** One case. */
export interface PacketIdsCase {
  name: string;
  fn: () => void;
}

export const packetIdsCases: PacketIdsCase[] = [];
const add = (name: string, fn: () => void) => packetIdsCases.push({ name, fn });

/** Takes every identifier with alloc(). */
function full(): PacketIds {
  const ids = new PacketIds();
  for (let i = 1; i <= MAX_PACKET_ID; i++) assert.equal(ids.alloc(), i);
  return ids;
}

add("PacketIds.alloc() hands out 1, 2, 3 in turn and counts them in inUse", () => {
  const ids = new PacketIds();
  assert.equal(ids.inUse, 0);
  assert.deepEqual([ids.alloc(), ids.alloc(), ids.alloc()], [1, 2, 3]);
  assert.equal(ids.inUse, 3);
  assert.ok(ids.has(2));
  assert.ok(!ids.has(4));
});

add("PacketIds.alloc() reuses a released id only after going round the others", () => {
  const ids = new PacketIds();
  const a = ids.alloc();
  ids.alloc();
  ids.free(a);
  assert.equal(ids.inUse, 1);
  assert.equal(ids.alloc(), 3);
  assert.ok(!ids.has(a));
});

add("PacketIds.alloc() returns 0 when all 65535 ids are in use", () => {
  const ids = full();
  assert.equal(ids.inUse, MAX_PACKET_ID);
  assert.equal(ids.alloc(), 0);
  assert.equal(ids.alloc(), 0);
  assert.equal(ids.inUse, MAX_PACKET_ID);
});

add("PacketIds.alloc() wraps from 65535 to 1 and skips the ids still in use [MQTT-2.2.1-3]", () => {
  const ids = full();
  ids.free(7);
  ids.free(3);
  ids.free(MAX_PACKET_ID);
  // The last id taken was 65535: the search wraps to 1 and finds 3, then 7, then 65535.
  assert.deepEqual([ids.alloc(), ids.alloc(), ids.alloc(), ids.alloc()], [3, 7, MAX_PACKET_ID, 0]);
  assert.equal(ids.inUse, MAX_PACKET_ID);
});

add("PacketIds.alloc() skips an id taken by claim()", () => {
  const ids = new PacketIds();
  assert.ok(ids.claim(1));
  assert.ok(ids.claim(3));
  assert.deepEqual([ids.alloc(), ids.alloc()], [2, 4]);
  assert.equal(ids.inUse, 4);
});

add("PacketIds.claim() takes a free id and refuses one in use or out of range", () => {
  const ids = new PacketIds();
  assert.ok(ids.claim(MAX_PACKET_ID));
  assert.ok(!ids.claim(MAX_PACKET_ID));
  assert.ok(!ids.claim(0));
  assert.ok(!ids.claim(MAX_PACKET_ID + 1));
  assert.ok(!ids.claim(-1));
  assert.equal(ids.inUse, 1);
});

add("PacketIds.free() of a free id changes nothing", () => {
  const ids = new PacketIds();
  ids.alloc();
  ids.free(2);
  ids.free(1);
  ids.free(1);
  assert.equal(ids.inUse, 0);
});

add(
  "PacketIds.free() of a value that is no identifier (0, 65536, -1, undefined) changes nothing",
  () => {
    const ids = new PacketIds();
    ids.alloc();
    for (const v of [0, MAX_PACKET_ID + 1, -1, 1.5, undefined as unknown as number]) ids.free(v);
    assert.equal(ids.inUse, 1);
    // inUse stays exact, so a full set still answers 0 instead of searching forever.
    for (let i = 2; i <= MAX_PACKET_ID; i++) ids.alloc();
    assert.equal(ids.alloc(), 0);
  },
);

add(
  "PacketIds.alloc() never returns an id in use: 100,000 seeded alloc/free against a reference set",
  () => {
    const rng = new Prng(0x1d5);
    const ids = new PacketIds();
    const held = new Set<number>();
    const list: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      // Mostly allocations while small; mostly releases once large, so the set grows and shrinks.
      if (list.length === 0 || rng.next() < (list.length < 300 ? 0.7 : 0.3)) {
        const id = ids.alloc();
        assert.ok(id >= 1 && id <= MAX_PACKET_ID, `alloc() returned ${id}`);
        assert.ok(!held.has(id), `alloc() returned ${id}, which is in use`);
        held.add(id);
        list.push(id);
      } else {
        const k = rng.int(list.length);
        const id = list[k];
        list[k] = list[list.length - 1];
        list.pop();
        held.delete(id);
        ids.free(id);
        assert.ok(!ids.has(id));
      }
      assert.equal(ids.inUse, held.size);
    }
  },
);

add("PacketIds.claim() of a high id on a fresh table, then alloc() and free() around it", () => {
  const ids = new PacketIds();
  assert.equal(ids.claim(65535), true);
  assert.equal(ids.has(65535), true);
  assert.equal(ids.has(65534), false);
  assert.equal(ids.has(1.5), false);
  assert.equal(ids.claim(40000.5), false);
  assert.equal(ids.alloc(), 1);
  ids.free(65535);
  assert.equal(ids.has(65535), false);
  assert.equal(ids.inUse, 1);
});
