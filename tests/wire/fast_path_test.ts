/**
 * The codec's shortcuts: the encoder remembers the last valid PUBLISH topic to
 * skip re-validating it, and the decoder shares one frozen property object per
 * subscription identifier. These cases prove the shortcuts never let a bad
 * packet through and give the same result as the general path.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodePacket, packetLength } from "../../src/wire/encode.ts";
import { PacketDecoder } from "../../src/wire/decode.ts";
import type { PublishPacket } from "../../src/wire/types.ts";
import { MqttError } from "../../src/errors.ts";

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

/** A fresh instance of the encoder module: nothing remembered yet. */
async function freshEncoder(tag: string): Promise<typeof import("../../src/wire/encode.ts")> {
  return await import(new URL(`../../src/wire/encode.ts?fresh=${tag}`, import.meta.url).href);
}

Deno.test("encode: a topic that is not a string is refused before any topic was remembered", async () => {
  for (const bad of [null, undefined, 42]) {
    const enc = await freshEncoder(String(bad));
    const p = { ...pub("x"), topic: bad as unknown as string };
    assert.throws(() => enc.packetLength(p), TypeError);
    assert.throws(() => enc.encodePacket(p), TypeError);
    enc.encodePacket(pub("a/b")); // and after one was
    assert.throws(() => enc.packetLength(p), TypeError);
  }
});

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

/** A QoS 0 PUBLISH to "t" whose property section is `props` (raw bytes). */
function publishWithProps(props: number[]): Uint8Array {
  const body = [0, 1, 0x74, props.length, ...props, 0xaa];
  return new Uint8Array([0x30, body.length, ...body]);
}

Deno.test("decode: subscription-identifier-only properties, one and two bytes", () => {
  for (
    const [bytes, id] of [[[0x0b, 5], 5], [[0x0b, 0x7f], 127], [[0x0b, 0xc8, 0x01], 200], [
      [0x0b, 0xff, 0x7f],
      16383,
    ]] as [number[], number][]
  ) {
    const [a] = new PacketDecoder().push(publishWithProps(bytes)) as PublishPacket[];
    const [b] = new PacketDecoder().push(publishWithProps(bytes)) as PublishPacket[];
    assert.deepEqual(a.properties, { subscriptionIdentifiers: [id] });
    assert.deepEqual([...a.payload], [0xaa]);
    assert.equal(a.properties, b.properties, "shared between messages");
    assert.ok(
      Object.isFrozen(a.properties) && Object.isFrozen(a.properties.subscriptionIdentifiers),
    );
  }
});

Deno.test("decode: other subscription identifier forms take the general path", () => {
  // Three-byte identifier, two identifiers, and identifier + user property.
  const cases: [number[], Record<string, unknown>][] = [
    [[0x0b, 0x80, 0x80, 0x01], { subscriptionIdentifiers: [16384] }],
    [[0x0b, 1, 0x0b, 2], { subscriptionIdentifiers: [1, 2] }],
    [[0x0b, 3, 0x26, 0, 1, 0x6b, 0, 1, 0x76], {
      subscriptionIdentifiers: [3],
      userProperties: [["k", "v"]],
    }],
  ];
  for (const [bytes, want] of cases) {
    const [p] = new PacketDecoder().push(publishWithProps(bytes)) as PublishPacket[];
    assert.deepEqual(p.properties, want);
  }
});

Deno.test("decode: bad subscription identifiers are still refused", () => {
  // Zero; a non-minimal two-byte 0; a two-byte form whose second byte is 0.
  for (const bytes of [[0x0b, 0], [0x0b, 0x80, 0x00], [0x0b, 0x81, 0x00]]) {
    assert.throws(() => new PacketDecoder().push(publishWithProps(bytes)), MqttError);
  }
});
