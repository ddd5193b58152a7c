/**
 * The encoder remembers the last valid PUBLISH topic to skip re-validating it;
 * these cases prove the shortcut never lets a bad topic through and never
 * mis-sizes a packet.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodePacket, packetLength } from "../../src/wire/encode.ts";
import { PacketDecoder } from "../../src/wire/decode.ts";
import type { PublishPacket } from "../../src/wire/types.ts";

function pub(topic: string): PublishPacket {
  return {
    type: 3,
    topic,
    payload: new Uint8Array([1, 2, 3]),
    qos: 0,
    retain: false,
    dup: false,
    properties: {},
  } as PublishPacket;
}

Deno.test("encode: a cached topic never lets a wildcard or NUL topic through", () => {
  for (const bad of ["a/+", "a/#", "+", "a\u0000b", "\ud800"]) {
    encodePacket(pub("a/b"));
    assert.throws(() => encodePacket(pub(bad)), TypeError, bad);
    assert.throws(() => packetLength(pub(bad)), TypeError, bad);
  }
});

Deno.test("encode: alternating topics of different UTF-8 sizes round-trip", () => {
  const topics = ["a/b", "ä/ö/ü", "a/b", "𝄞/x", "", "a/b"];
  for (const t of topics) {
    const p = pub(t);
    if (t === "") p.properties = { topicAlias: 3 };
    const bytes = encodePacket(p);
    assert.equal(bytes.length, packetLength(p));
    const [back] = new PacketDecoder().push(bytes) as PublishPacket[];
    assert.equal(back.topic, t);
  }
});

Deno.test("encode: an empty topic after a cached one still needs an alias", () => {
  encodePacket(pub("x/y"));
  assert.throws(() => encodePacket(pub("")), TypeError);
});
