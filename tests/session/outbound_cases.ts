/**
 * {@linkcode Outbound} (src/session/outbound.ts) driven by hand through a
 * recording host: the send window, replay order and DUP flags, the QoS 2
 * states, reason codes, the limits re-check on a new CONNACK, write-ahead
 * with an async store, abandon() and close(). No broker, no timers. Shared by
 * tests/session/outbound_test.ts and bun-tests/session.test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MqttError } from "../../src/errors.ts";
import {
  type FlowResult,
  FlowState,
  newFlow,
  Outbound,
  type OutboundHost,
  type OutFlow,
  type SessionLimits,
  type StoreOp,
} from "../../src/session/outbound.ts";
import { MAX_PACKET_ID, PacketIds } from "../../src/session/packet_ids.ts";
import { type Packet, PacketType, type PublishPacket } from "../../src/wire/types.ts";

type StoreOp = typeof StoreOp[keyof typeof StoreOp];

/** One case. */
export interface OutboundCase {
  name: string;
  fn: () => void;
}

export const outboundCases: OutboundCase[] = [];
const add = (name: string, fn: () => void) => outboundCases.push({ name, fn });

/** A flow that knows its name, for the log. */
interface Named extends OutFlow {
  name: string;
}

const OPS = ["put", "release", "delete"];

/** A host that logs writes, store writes and settles, in order, as short lines. */
class Host implements OutboundHost<Named> {
  readonly log: string[] = [];
  readonly results = new Map<string, FlowResult | Error>();
  /** Store writes land later (persist returns false). */
  async = false;
  /** PUBLISH topics that no longer encode. */
  badTopic = "";
  /** Flows reported as no longer encoding. */
  readonly broken: string[] = [];

  write(p: Packet): void {
    if (p.type === PacketType.Publish && p.topic === this.badTopic) throw new RangeError("bad");
    this.log.push(show(p));
  }
  settle(f: Named, r: FlowResult | Error): void {
    assert.ok(!this.results.has(f.name), `${f.name} settled twice`);
    this.results.set(f.name, r);
    this.log.push(
      `settle ${f.name} ${r instanceof Error ? errorText(r) : `ok ${hex(r.reasonCode)}`}`,
    );
  }
  persist(op: StoreOp, f: Named): boolean {
    this.log.push(`${OPS[op]} ${f.name}`);
    return !this.async;
  }
  unencodable(f: Named, _e: Error): void {
    this.broken.push(f.name);
  }
  /** The log since the last call. */
  take(): string[] {
    return this.log.splice(0);
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, "0")}`;
}

function errorText(e: Error): string {
  return e instanceof MqttError ? `${e.code} ${hex(e.reasonCode ?? 0)}` : e.message;
}

function show(p: Packet): string {
  switch (p.type) {
    case PacketType.Publish: {
      const alias = p.properties?.topicAlias;
      return `PUBLISH ${p.packetId} q${p.qos} dup=${p.dup ? 1 : 0} ${p.topic}` +
        (alias !== undefined ? ` alias=${alias}` : "");
    }
    case PacketType.Pubrel:
      return `PUBREL ${p.packetId}${p.reasonCode ? ` ${hex(p.reasonCode)}` : ""}`;
    default:
      return `type ${p.type}`;
  }
}

function limits(o: Partial<SessionLimits> = {}): SessionLimits {
  return {
    receiveMaximum: 65535,
    maximumQoS: 2,
    retainAvailable: true,
    topicAliasMaximum: 0,
    ...o,
  };
}

function publish(topic: string, qos: 1 | 2, o: Partial<PublishPacket> = {}): PublishPacket {
  return {
    type: PacketType.Publish,
    topic,
    payload: new Uint8Array([1, 2, 3]),
    qos,
    retain: false,
    dup: false,
    properties: {},
    ...o,
  };
}

function flow(name: string, qos: 1 | 2 = 1, checkedBy: SessionLimits | null = null): Named {
  return { ...newFlow(publish(name, qos), checkedBy), name };
}

/** An Outbound over a fresh recording host. */
function setup(): { host: Host; out: Outbound<Named> } {
  const host = new Host();
  return { host, out: new Outbound<Named>(host) };
}

add(
  "Outbound.submit() before the first CONNACK queues; connected() stores then writes it (DUP=0)",
  () => {
    const { host, out } = setup();
    const a = flow("a");
    out.submit(a);
    assert.deepEqual(host.take(), []);
    assert.equal(out.queued, 1);
    out.connected(limits());
    assert.deepEqual(host.take(), ["put a", "PUBLISH 1 q1 dup=0 a"]); // write-ahead
    assert.equal(a.packet.packetId, 1);
    assert.equal(out.size, 1);
    assert.equal(out.get(1), a);
    assert.ok(out.onPuback(1, 0, undefined));
    assert.deepEqual(host.take(), ["delete a", "settle a ok 0x00"]);
    assert.equal(out.size, 0);
    assert.equal(out.ids.inUse, 0);
  },
);

add(
  "Outbound keeps at most receiveMaximum publishes in flight; a PUBACK lets the next one go [MQTT-3.3.4-7]",
  () => {
    const { host, out } = setup();
    out.connected(limits({ receiveMaximum: 2 }));
    for (const n of ["a", "b", "c", "d"]) out.submit(flow(n));
    assert.deepEqual(host.take(), [
      "put a",
      "PUBLISH 1 q1 dup=0 a",
      "put b",
      "PUBLISH 2 q1 dup=0 b",
    ]);
    assert.equal(out.window, 2);
    assert.equal(out.queued, 2);
    assert.equal(out.ids.inUse, 2); // a queued publish holds no packet id
    out.onPuback(2, 0, undefined);
    assert.deepEqual(host.take(), [
      "delete b",
      "settle b ok 0x00",
      "put c",
      "PUBLISH 3 q1 dup=0 c",
    ]);
    assert.equal(out.window, 2);
    assert.equal(out.queued, 1);
  },
);

add(
  "Outbound counts a QoS 2 flow against the window until PUBCOMP; a refusing PUBREC frees it at once",
  () => {
    const { host, out } = setup();
    out.connected(limits({ receiveMaximum: 1 }));
    out.submit(flow("a", 2));
    out.submit(flow("b", 2));
    out.submit(flow("c", 1));
    assert.deepEqual(host.take(), ["put a", "PUBLISH 1 q2 dup=0 a"]);
    out.onPubrec(1, 0, undefined);
    assert.deepEqual(host.take(), ["release a", "PUBREL 1"]);
    assert.equal(out.get(1)?.state, FlowState.AwaitingComp);
    assert.equal(out.window, 1);
    assert.equal(out.onPubcomp(1, 0, undefined), true);
    assert.deepEqual(host.take(), [
      "delete a",
      "settle a ok 0x00",
      "put b",
      "PUBLISH 2 q2 dup=0 b",
    ]);
    out.onPubrec(2, 0x97, undefined);
    assert.deepEqual(host.take(), [
      "delete b",
      "settle b publish-refused 0x97",
      "put c",
      "PUBLISH 3 q1 dup=0 c",
    ]);
  },
);

add("Outbound replays in-flight flows with DUP=1 in original order [MQTT-4.6.0-1]", () => {
  const { host, out } = setup();
  out.connected(limits());
  for (const n of ["a", "b", "c"]) out.submit(flow(n));
  out.onPuback(2, 0, undefined);
  host.take();
  out.disconnected();
  out.submit(flow("d")); // queued while down: goes after the replays
  assert.deepEqual(host.take(), []);
  out.connected(limits());
  assert.deepEqual(host.take(), [
    "PUBLISH 1 q1 dup=1 a",
    "PUBLISH 3 q1 dup=1 c",
    "put d",
    "PUBLISH 4 q1 dup=0 d",
  ]);
  assert.equal(out.replayed, 2);
});

add("Outbound replays with DUP=0 a flow that was never written [MQTT-3.3.1-1]", () => {
  const { host, out } = setup();
  host.async = true;
  out.connected(limits());
  const a = flow("a");
  const b = flow("b");
  out.submit(a);
  out.submit(b);
  out.stored(a);
  assert.deepEqual(host.take(), ["put a", "put b", "PUBLISH 1 q1 dup=0 a"]);
  out.disconnected();
  out.stored(b); // lands while down: nothing is written
  assert.deepEqual(host.take(), []);
  out.connected(limits());
  assert.deepEqual(host.take(), ["PUBLISH 1 q1 dup=1 a", "PUBLISH 2 q1 dup=0 b"]);
});

add("Outbound re-sends PUBREL, not PUBLISH, for a flow past PUBREC [MQTT-4.4.0-1]", () => {
  const { host, out } = setup();
  out.connected(limits());
  out.submit(flow("a", 2));
  out.onPubrec(1, 0x10, undefined);
  host.take();
  out.disconnected();
  out.connected(limits());
  assert.deepEqual(host.take(), ["PUBREL 1"]);
  assert.equal(out.onPubcomp(1, 0, undefined), true);
  assert.deepEqual(host.take(), ["delete a", "settle a ok 0x10"]); // PUBREC's reason code
});

add("Outbound re-sends PUBRELs in the order their PUBRECs arrived [MQTT-4.6.0-4]", () => {
  const { host, out } = setup();
  out.connected(limits());
  for (const n of ["a", "b", "c"]) out.submit(flow(n, 2));
  out.onPubrec(3, 0, undefined);
  out.onPubrec(1, 0, undefined);
  host.take();
  out.disconnected();
  out.connected(limits());
  assert.deepEqual(host.take(), ["PUBLISH 2 q2 dup=1 b", "PUBREL 3", "PUBREL 1"]);
});

add(
  "Outbound.connected() with a smaller receiveMaximum replays that many, the rest as acks free room",
  () => {
    const { host, out } = setup();
    out.connected(limits({ receiveMaximum: 10 }));
    for (const n of ["a", "b", "c"]) out.submit(flow(n));
    host.take();
    out.disconnected();
    out.connected(limits({ receiveMaximum: 1 }));
    assert.deepEqual(host.take(), ["PUBLISH 1 q1 dup=1 a"]);
    assert.equal(out.window, 1);
    out.onPuback(1, 0, undefined);
    assert.deepEqual(host.take(), ["delete a", "settle a ok 0x00", "PUBLISH 2 q1 dup=1 b"]);
  },
);

add("Outbound.onPubrec() for an unknown id, or a QoS 1 flow's, answers PUBREL 0x92", () => {
  const { host, out } = setup();
  out.connected(limits());
  out.submit(flow("a", 1));
  host.take();
  out.onPubrec(9, 0, undefined);
  out.onPubrec(1, 0, undefined);
  assert.deepEqual(host.take(), ["PUBREL 9 0x92", "PUBREL 1 0x92"]);
  assert.equal(out.get(1)?.state, FlowState.AwaitingAck);
});

add("Outbound.onPubcomp() before PUBREL is a protocol error (0x82) and leaves the flow", () => {
  const { host, out } = setup();
  out.connected(limits());
  out.submit(flow("a", 2));
  host.take();
  const r = out.onPubcomp(1, 0, undefined);
  assert.ok(r instanceof MqttError);
  assert.equal(r.code, "protocol-error");
  assert.equal(r.reasonCode, 0x82);
  assert.equal(out.size, 1);
  assert.deepEqual(host.take(), []);
  assert.equal(out.onPubcomp(7, 0, undefined), false); // unknown id
});

add(
  "Outbound.onPuback() with reason code >= 0x80 settles with MqttError publish-refused and the reasonCode",
  () => {
    const { host, out } = setup();
    out.connected(limits());
    out.submit(flow("a"));
    host.take();
    assert.ok(out.onPuback(1, 0x87, { reasonString: "no" }));
    const r = host.results.get("a");
    assert.ok(r instanceof MqttError);
    assert.equal(r.code, "publish-refused");
    assert.equal(r.reasonCode, 0x87);
    assert.equal(out.acked, 0);
    assert.ok(!out.ids.has(1));
    assert.equal(out.window, 0);
  },
);

add("Outbound.onPuback() passes a reason string and user properties on, and nothing else", () => {
  const { host, out } = setup();
  out.connected(limits());
  out.submit(flow("a"));
  out.submit(flow("b"));
  out.onPuback(1, 0x10, { reasonString: "nobody", userProperties: [["k", "v"]] });
  out.onPuback(2, 0, {});
  assert.deepEqual(host.results.get("a"), {
    reasonCode: 0x10,
    properties: { reasonString: "nobody", userProperties: [["k", "v"]] },
  });
  assert.deepEqual(host.results.get("b"), { reasonCode: 0 });
  assert.equal(out.acked, 2);
});

add("Outbound.onPuback() ignores an unknown id and a QoS 2 flow's id", () => {
  const { host, out } = setup();
  out.connected(limits());
  out.submit(flow("a", 2));
  host.take();
  assert.equal(out.onPuback(5, 0, undefined), false);
  assert.equal(out.onPuback(1, 0, undefined), false);
  assert.deepEqual(host.take(), []);
  assert.equal(out.size, 1);
});

add("Outbound.onPubcomp() 0x92 after PUBREC counts as delivered", () => {
  const { host, out } = setup();
  out.connected(limits());
  out.submit(flow("a", 2));
  out.onPubrec(1, 0, undefined);
  assert.equal(out.onPubcomp(1, 0x92, undefined), true);
  assert.deepEqual(host.results.get("a"), { reasonCode: 0 });
});

add("Outbound re-checks a queued publish against a new CONNACK: qos-not-supported", () => {
  const { host, out } = setup();
  const first = limits({ receiveMaximum: 1 });
  out.connected(first);
  out.submit(flow("a", 1, first));
  out.submit(flow("b", 2, first)); // queued behind a
  host.take();
  out.disconnected();
  out.connected(limits({ maximumQoS: 1 }));
  assert.deepEqual(host.take(), [
    "PUBLISH 1 q1 dup=1 a",
    "settle b qos-not-supported 0x9b",
  ]);
  assert.equal(out.ids.inUse, 1);
  assert.equal(out.queued, 0);
});

add(
  "Outbound re-checks a publish in flight before re-sending it: retain-not-supported frees its id",
  () => {
    const { host, out } = setup();
    out.connected(limits());
    const a = { ...newFlow(publish("a", 1, { retain: true }), null), name: "a" };
    out.submit(a);
    host.take();
    out.disconnected();
    out.connected(limits({ retainAvailable: false }));
    assert.deepEqual(host.take(), ["delete a", "settle a retain-not-supported 0x9a"]);
    assert.equal(out.size, 0);
    assert.ok(!out.ids.has(1));
    assert.equal(out.window, 0);
  },
);

add(
  "Outbound keeps the id of a QoS 2 publish failed on replay taken until the broker's session ends",
  () => {
    const { host, out } = setup();
    out.connected(limits());
    out.submit(flow("a", 2));
    assert.deepEqual(host.take(), ["put a", "PUBLISH 1 q2 dup=0 a"]);
    // The PUBREC never arrives; the broker comes back allowing QoS 1 only, session kept.
    out.disconnected();
    out.connected(limits({ maximumQoS: 1, sessionPresent: true }));
    assert.deepEqual(host.take(), ["delete a", "settle a qos-not-supported 0x9b"]);
    // The broker may hold message 1 in its QoS 2 state: a new publish must not reuse the id.
    assert.ok(out.ids.has(1));
    out.submit(flow("b", 1));
    assert.deepEqual(host.take(), ["put b", "PUBLISH 2 q1 dup=0 b"]);
    out.onPuback(2, 0, undefined);
    host.take();
    // A new session (Session Present 0) releases it.
    out.disconnected();
    out.connected(limits({ maximumQoS: 1, sessionPresent: false }));
    assert.ok(!out.ids.has(1));
    // A QoS 2 publish never written (store write pending) frees its id at once.
    const { host: h2, out: o2 } = setup();
    h2.async = true;
    o2.connected(limits());
    const c = flow("c", 2);
    o2.submit(c);
    o2.disconnected();
    o2.connected(limits({ maximumQoS: 1, sessionPresent: true }));
    o2.stored(c);
    assert.ok(!o2.ids.has(1));
    assert.ok(h2.results.get("c") instanceof MqttError);
  },
);

add("Outbound re-checks a queued publish against a new CONNACK: packet-too-large", () => {
  const { host, out } = setup();
  const first = limits({ receiveMaximum: 1 });
  out.connected(first);
  out.submit(flow("a", 1, first));
  out.submit({ ...newFlow(publish("b", 1, { payload: new Uint8Array(200) }), first), name: "b" });
  out.disconnected();
  host.take();
  out.connected(limits({ maximumPacketSize: 100 }));
  assert.deepEqual(host.take(), ["PUBLISH 1 q1 dup=1 a", "settle b packet-too-large 0x95"]);
});

add("Outbound drops a topic alias above the new topicAliasMaximum and keeps the topic", () => {
  const { host, out } = setup();
  const first = limits({ receiveMaximum: 1, topicAliasMaximum: 5 });
  out.connected(first);
  out.submit({ ...newFlow(publish("a", 1, { properties: { topicAlias: 1 } }), first), name: "a" });
  out.submit({ ...newFlow(publish("b", 1, { properties: { topicAlias: 4 } }), first), name: "b" });
  out.submit({ ...newFlow(publish("c", 1, { properties: { topicAlias: 2 } }), first), name: "c" });
  assert.deepEqual(host.take(), ["put a", "PUBLISH 1 q1 dup=0 a alias=1"]);
  out.disconnected();
  out.connected(limits({ topicAliasMaximum: 2 }));
  assert.deepEqual(host.take(), [
    "PUBLISH 1 q1 dup=1 a", // a re-sent PUBLISH never carries the old connection's alias
    "put b",
    "PUBLISH 2 q1 dup=0 b", // 4 > 2: dropped
    "put c",
    "PUBLISH 3 q1 dup=0 c alias=2",
  ]);
});

add("Outbound with an async store writes nothing before the store write lands", () => {
  const { host, out } = setup();
  host.async = true;
  out.connected(limits({ receiveMaximum: 1 }));
  const a = flow("a", 2);
  out.submit(a);
  out.submit(flow("b"));
  assert.deepEqual(host.take(), ["put a"]);
  assert.equal(out.window, 1); // a holds its room while its store write is out
  out.stored(a);
  assert.deepEqual(host.take(), ["PUBLISH 1 q2 dup=0 a"]);
  out.onPubrec(1, 0, undefined);
  assert.deepEqual(host.take(), ["release a"]);
  out.stored(a);
  assert.deepEqual(host.take(), ["PUBREL 1"]);
});

add("Outbound.stored() after close() or for a completed flow writes nothing", () => {
  const { host, out } = setup();
  host.async = true;
  out.connected(limits());
  const a = flow("a");
  out.submit(a);
  out.close(new Error("closed"));
  host.take();
  out.stored(a);
  assert.deepEqual(host.take(), []);
});

add(
  "Outbound.storeFailed() settles with the error, frees id and room, and the next one goes",
  () => {
    const { host, out } = setup();
    host.async = true;
    out.connected(limits({ receiveMaximum: 1 }));
    const a = flow("a");
    out.submit(a);
    out.submit(flow("b"));
    host.take();
    const err = new Error("disk full");
    out.storeFailed(a, err);
    assert.equal(host.results.get("a"), err);
    assert.deepEqual(host.take(), ["settle a disk full", "put b"]);
    assert.equal(out.get(1), undefined);
    assert.equal(out.window, 1);
    assert.equal(out.queued, 0);
  },
);

add("Outbound.stored() of a flow that fails its re-check lets the next queued one go", () => {
  const { host, out } = setup();
  host.async = true;
  const first = limits({ receiveMaximum: 1 });
  out.connected(first);
  const a = flow("a", 2, first);
  const b = flow("b", 1, first);
  out.submit(a);
  out.submit(b);
  out.disconnected();
  out.connected(limits({ receiveMaximum: 1, maximumQoS: 1 }));
  assert.deepEqual(host.take(), ["put a"]); // a holds the only room while its put is out
  out.stored(a);
  assert.deepEqual(host.take(), ["delete a", "settle a qos-not-supported 0x9b", "put b"]);
  out.stored(b);
  assert.deepEqual(host.take(), ["PUBLISH 2 q1 dup=0 b"]);
});

add("Outbound.abandon() of a queued flow: never sent, never settled", () => {
  const { host, out } = setup();
  out.connected(limits({ receiveMaximum: 1 }));
  const b = flow("b");
  out.submit(flow("a"));
  out.submit(b);
  out.abandon(b);
  assert.equal(out.queued, 0);
  out.onPuback(1, 0, undefined);
  out.disconnected();
  out.connected(limits());
  out.close(new Error("closed"));
  assert.ok(!host.log.some((l) => l.endsWith(" b")), host.log.join("\n"));
  assert.ok(!host.results.has("b"));
});

add("Outbound.abandon() of a flow in flight: it completes unseen and frees its id", () => {
  const { host, out } = setup();
  out.connected(limits());
  const a = flow("a", 2);
  out.submit(a);
  out.abandon(a);
  host.take();
  out.onPubrec(1, 0, undefined);
  out.onPubcomp(1, 0, undefined);
  assert.deepEqual(host.take(), ["release a", "PUBREL 1", "delete a"]);
  assert.equal(out.size, 0);
  assert.equal(out.ids.inUse, 0);
  assert.ok(!host.results.has("a"));
});

add("Outbound.close() settles every flow, sent or queued, exactly once", () => {
  const { host, out } = setup();
  out.connected(limits({ receiveMaximum: 2 }));
  for (const n of ["a", "b", "c"]) out.submit(flow(n, 2));
  out.onPubrec(1, 0, undefined);
  host.take();
  const err = new MqttError("closed", "closed");
  out.close(err);
  out.close(err);
  assert.deepEqual(host.take().sort(), [
    "settle a closed 0x00",
    "settle b closed 0x00",
    "settle c closed 0x00",
  ]);
  for (const n of ["a", "b", "c"]) assert.equal(host.results.get(n), err);
  assert.equal(out.size, 0);
  assert.equal(out.queued, 0);
  assert.equal(out.window, 0);
  assert.equal(out.ids.inUse, 0);
  assert.equal(out.onPubcomp(1, 0, undefined), false);
  out.connected(limits());
  assert.deepEqual(host.take(), []);
});

add("Outbound.restore() puts a stored flow back: re-sent with DUP=1, never settled", () => {
  const { host, out } = setup();
  const a: Named = { ...newFlow(publish("a", 1, { packetId: 7 }), null), name: "a" };
  a.unsent = false;
  a.abandoned = true;
  assert.ok(out.restore(a));
  const b: Named = { ...newFlow(publish("b", 1, { packetId: 7 }), null), name: "b" };
  assert.ok(!out.restore(b)); // id 7 is taken
  out.connected(limits());
  assert.deepEqual(host.take(), ["PUBLISH 7 q1 dup=1 a"]);
  out.onPuback(7, 0, undefined);
  assert.deepEqual(host.take(), ["delete a"]);
});

add("Outbound shares its PacketIds: an id a request holds is never given to a publish", () => {
  const host = new Host();
  const ids = new PacketIds();
  const out = new Outbound<Named>(host, ids);
  assert.equal(ids.alloc(), 1); // a SUBSCRIBE
  out.connected(limits());
  out.submit(flow("a"));
  assert.deepEqual(host.take(), ["put a", "PUBLISH 2 q1 dup=0 a"]);
});

add("Outbound waits while every packet id is in use and sends once pump() follows a free()", () => {
  const host = new Host();
  const ids = new PacketIds();
  for (let id = 1; id <= MAX_PACKET_ID; id++) ids.claim(id);
  const out = new Outbound<Named>(host, ids);
  out.connected(limits());
  out.submit(flow("a"));
  assert.deepEqual(host.take(), []);
  assert.equal(out.queued, 1);
  assert.equal(out.window, 0);
  ids.free(5);
  out.pump();
  assert.deepEqual(host.take(), ["put a", "PUBLISH 5 q1 dup=0 a"]);
});

add("Outbound fails a flow whose PUBLISH no longer encodes, and the next one goes", () => {
  const { host, out } = setup();
  host.badTopic = "bad";
  out.connected(limits({ receiveMaximum: 1 }));
  out.submit(flow("bad"));
  out.submit(flow("b"));
  assert.deepEqual(host.take(), [
    "put bad",
    "delete bad",
    "settle bad bad",
    "put b",
    "PUBLISH 2 q1 dup=0 b",
  ]);
  assert.deepEqual(host.broken, ["bad"]);
  assert.ok(!out.ids.has(1));
});

add(
  "Outbound writes nothing while disconnected: submit, pump, store writes landing or failing",
  () => {
    const { host, out } = setup();
    host.async = true;
    out.connected(limits({ receiveMaximum: 2 }));
    const a = flow("a");
    const b = flow("b");
    out.submit(a);
    out.submit(b);
    assert.deepEqual(host.take(), ["put a", "put b"]);
    out.disconnected();
    out.submit(flow("c"));
    out.stored(a);
    out.pump();
    out.storeFailed(b, new Error("disk full"));
    assert.deepEqual(host.take(), ["settle b disk full"]);
    assert.equal(out.live, false);
    out.connected(limits({ receiveMaximum: 2 }));
    assert.deepEqual(host.take(), ["PUBLISH 1 q1 dup=0 a", "put c"]);
  },
);

// --- admit(): a rate limit held by the host (ClientOptions.rateLimit) -------------

/** A host whose admit() lets `tokens` PUBLISH packets through, logging each ask. */
class GatedHost extends Host {
  tokens = 0;
  admit(f: Named): boolean {
    this.log.push(`admit ${f.name} ${this.tokens > 0 ? "yes" : "no"}`);
    if (this.tokens === 0) return false;
    this.tokens--;
    return true;
  }
}

function gated(): { host: GatedHost; out: Outbound<Named> } {
  const host = new GatedHost();
  return { host, out: new Outbound<Named>(host) };
}

add(
  "Outbound asks admit() before a queued publish is stored or sent; refused, it keeps its place and takes no id",
  () => {
    const { host, out } = gated();
    out.connected(limits());
    host.tokens = 1;
    out.submit(flow("a"));
    out.submit(flow("b"));
    out.submit(flow("c"));
    assert.deepEqual(host.take(), [
      "admit a yes",
      "put a",
      "PUBLISH 1 q1 dup=0 a",
      "admit b no",
      "admit b no", // each pump asks again for the head of the queue
    ]);
    assert.equal(out.queued, 2);
    assert.equal(out.ids.inUse, 1, "b and c hold no identifier while they wait");
    host.tokens = 2;
    out.pump(); // the host's limit has tokens again
    assert.deepEqual(host.take(), [
      "admit b yes",
      "put b",
      "PUBLISH 2 q1 dup=0 b",
      "admit c yes",
      "put c",
      "PUBLISH 3 q1 dup=0 c",
    ]);
  },
);

add("Outbound asks admit() before each replayed PUBLISH, never before a PUBREL", () => {
  const { host, out } = gated();
  out.connected(limits());
  host.tokens = 3;
  out.submit(flow("a", 2));
  out.submit(flow("b"));
  out.submit(flow("c"));
  out.onPubrec(1, 0, undefined);
  host.take();
  out.disconnected();
  out.connected(limits());
  assert.deepEqual(host.take(), ["admit b no"], "nothing goes without a token");
  host.tokens = 1;
  out.pump();
  assert.deepEqual(host.take(), ["admit b yes", "PUBLISH 2 q1 dup=1 b", "admit c no"]);
  host.tokens = 1;
  out.pump();
  assert.deepEqual(host.take(), ["admit c yes", "PUBLISH 3 q1 dup=1 c", "PUBREL 1"]);
  assert.equal(out.replayed, 3);
});

add(
  "Outbound.abandon() of a publish admit() holds back: never sent, its place goes to the next",
  () => {
    const { host, out } = gated();
    out.connected(limits());
    const a = flow("a");
    out.submit(a);
    out.submit(flow("b"));
    out.abandon(a);
    host.tokens = 1;
    out.pump();
    assert.deepEqual(host.take(), [
      "admit a no",
      "admit a no",
      "admit b yes",
      "put b",
      "PUBLISH 1 q1 dup=0 b",
    ]);
    assert.equal(out.ids.inUse, 1);
    assert.ok(!host.results.has("a"));
  },
);

add("Outbound does not ask admit() while every packet identifier is in use", () => {
  const ids = new PacketIds();
  for (let id = 1; id <= MAX_PACKET_ID; id++) ids.claim(id);
  const host = new GatedHost();
  const out = new Outbound<Named>(host, ids);
  out.connected(limits());
  host.tokens = 1;
  out.submit(flow("a"));
  assert.deepEqual(host.take(), [], "no token is spent on a publish that cannot go");
  ids.free(42);
  out.pump();
  assert.deepEqual(host.take(), ["admit a yes", "put a", "PUBLISH 42 q1 dup=0 a"]);
});
