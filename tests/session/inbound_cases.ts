/**
 * {@linkcode Inbound} and {@linkcode InboundAcks} (src/session/inbound.ts)
 * driven by hand through a recording host: §4.6 ack order whatever order the
 * application acks in, QoS 2 states and re-deliveries, PUBREL, what a
 * disconnect and a lost session do, topic aliases in, our Receive Maximum,
 * write-ahead with an async store. No broker, no timers. Shared by
 * tests/session/inbound_test.ts and bun-tests/session.test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MqttError } from "../../src/errors.ts";
import {
  Inbound,
  type InboundHost,
  type InboundLimits,
  type InboundSlot,
  InboundStoreOp,
  Qos2State,
  Verdict,
} from "../../src/session/inbound.ts";
import { type Packet, PacketType, type PublishPacket, type QoS } from "../../src/wire/types.ts";

type InboundStoreOp = typeof InboundStoreOp[keyof typeof InboundStoreOp];

/** One case. */
export interface InboundCase {
  name: string;
  fn: () => void;
}

export const inboundCases: InboundCase[] = [];
const add = (name: string, fn: () => void) => inboundCases.push({ name, fn });

const NAMES: Record<number, string> = {
  [PacketType.Puback]: "PUBACK",
  [PacketType.Pubrec]: "PUBREC",
  [PacketType.Pubcomp]: "PUBCOMP",
};

/** A host that logs writes and store writes as short lines. */
class Host implements InboundHost {
  readonly log: string[] = [];
  /** Store writes land later (persist returns false). */
  async = false;

  write(p: Packet): void {
    assert.ok(p.type in NAMES, `unexpected packet type ${p.type}`);
    const ack = p as { packetId: number; reasonCode?: number };
    this.log.push(
      `${NAMES[p.type]} ${ack.packetId}${
        ack.reasonCode ? ` 0x${ack.reasonCode.toString(16)}` : ""
      }`,
    );
  }
  persist(op: InboundStoreOp, id: number): boolean {
    this.log.push(`${op === InboundStoreOp.Put ? "put" : "delete"} ${id}`);
    return !this.async;
  }
  /** The log since the last call. */
  take(): string[] {
    return this.log.splice(0);
  }
}

function setup(o: Partial<InboundLimits> = {}): { host: Host; inb: Inbound } {
  const host = new Host();
  const inb = new Inbound(host, { receiveMaximum: 65535, topicAliasMaximum: 0, ...o });
  inb.connected(false);
  return { host, inb };
}

function publish(id: number, qos: QoS, o: Partial<PublishPacket> = {}): PublishPacket {
  return {
    type: PacketType.Publish,
    topic: "t",
    payload: new Uint8Array([id]),
    qos,
    retain: false,
    dup: false,
    packetId: qos === 0 ? undefined : id,
    properties: {},
    ...o,
  };
}

/** Receives a PUBLISH that must be delivered, and takes it in for `refs` subscriptions. */
function deliver(inb: Inbound, id: number, qos: 1 | 2, refs = 1): InboundSlot {
  assert.equal(inb.receive(publish(id, qos)), Verdict.Deliver);
  return inb.accept(id, qos, refs, 0);
}

add(
  "InboundAcks releases acks in PUBLISH arrival order whatever order the app acks [MQTT-4.6.0-2] [MQTT-4.6.0-3]",
  () => {
    const { host, inb } = setup();
    const a = deliver(inb, 1, 1);
    const b = deliver(inb, 2, 2);
    const c = deliver(inb, 3, 1);
    inb.acks.release(c);
    inb.acks.release(b);
    assert.deepEqual(host.take(), []);
    assert.equal(inb.acks.length, 3);
    inb.acks.release(a);
    assert.deepEqual(host.take(), ["PUBACK 1", "put 2", "PUBREC 2", "PUBACK 3"]);
    assert.equal(inb.acks.length, 0);
    assert.equal(inb.acks.head, null);
  },
);

add("InboundAcks waits for every subscription a message was delivered to (refs)", () => {
  const { host, inb } = setup();
  const a = deliver(inb, 1, 1, 2);
  const b = deliver(inb, 2, 1, 3);
  inb.acks.release(b);
  inb.acks.release(a);
  assert.deepEqual(host.take(), []);
  inb.acks.release(a);
  assert.deepEqual(host.take(), ["PUBACK 1"]);
  inb.acks.release(a); // one ack too many: ignored
  inb.acks.release(b);
  assert.deepEqual(host.take(), []);
  inb.acks.release(b);
  assert.deepEqual(host.take(), ["PUBACK 2"]);
});

add("Inbound.accept() with refs 0 acks at once, in its turn", () => {
  const { host, inb } = setup();
  const a = deliver(inb, 1, 1);
  deliver(inb, 2, 1, 0);
  assert.deepEqual(host.take(), []);
  inb.acks.release(a);
  assert.deepEqual(host.take(), ["PUBACK 1", "PUBACK 2"]);
  deliver(inb, 3, 2, 0);
  assert.deepEqual(host.take(), ["put 3", "PUBREC 3"]);
});

add("InboundAcks ignores a slot of another InboundAcks", () => {
  const { host, inb } = setup();
  const other = setup().inb;
  deliver(inb, 1, 1);
  const foreign = deliver(other, 1, 1);
  inb.acks.release(foreign);
  assert.deepEqual(host.take(), []);
  assert.equal(inb.acks.length, 1);
});

add(
  "Inbound.receive() answers a re-delivered QoS 2 it recorded with PUBREC, and does not deliver it",
  () => {
    const { host, inb } = setup();
    inb.acks.release(deliver(inb, 5, 2));
    assert.deepEqual(host.take(), ["put 5", "PUBREC 5"]);
    assert.equal(inb.qos2(5), Qos2State.Recorded);
    assert.equal(inb.receive(publish(5, 2, { dup: true })), Verdict.Duplicate);
    assert.deepEqual(host.take(), ["PUBREC 5"]);
  },
);

add(
  "Inbound.receive() takes a re-delivered QoS 2 not yet acked as a duplicate and writes nothing",
  () => {
    const { host, inb } = setup();
    const a = deliver(inb, 5, 2);
    assert.equal(inb.qos2(5), Qos2State.Delivered);
    assert.equal(inb.receive(publish(5, 2, { dup: true })), Verdict.Duplicate);
    assert.deepEqual(host.take(), []);
    inb.acks.release(a);
    assert.deepEqual(host.take(), ["put 5", "PUBREC 5"]);
  },
);

add("Inbound.receive() delivers a QoS 1 re-delivery again (at least once)", () => {
  const { inb } = setup();
  deliver(inb, 4, 1);
  assert.equal(inb.receive(publish(4, 1, { dup: true })), Verdict.Deliver);
});

add("Inbound.onPubrel() for an unknown id answers PUBCOMP 0x92", () => {
  const { host, inb } = setup();
  inb.onPubrel(9);
  assert.deepEqual(host.take(), ["PUBCOMP 9 0x92"]);
});

add("Inbound.onPubrel() before the application acked writes nothing and keeps the state", () => {
  const { host, inb } = setup();
  const a = deliver(inb, 2, 2);
  inb.onPubrel(2);
  assert.deepEqual(host.take(), []);
  assert.equal(inb.qos2(2), Qos2State.Delivered);
  inb.acks.release(a);
  inb.onPubrel(2);
  assert.deepEqual(host.take(), ["put 2", "PUBREC 2", "delete 2", "PUBCOMP 2"]);
});

add(
  "Inbound.onPubrel() of a recorded message forgets it: the id then carries a new message",
  () => {
    const { host, inb } = setup();
    inb.acks.release(deliver(inb, 3, 2));
    assert.equal(inb.inFlight, 1); // PUBREC sent, PUBREL not yet in: the broker still counts it
    inb.onPubrel(3);
    assert.deepEqual(host.take(), ["put 3", "PUBREC 3", "delete 3", "PUBCOMP 3"]);
    assert.equal(inb.qos2(3), undefined);
    assert.equal(inb.inFlight, 0);
    assert.equal(inb.receive(publish(3, 2)), Verdict.Deliver);
  },
);

add("Inbound.disconnected() cancels QoS 1 slots: no PUBACK later, even once the app acks", () => {
  const { host, inb } = setup();
  const a = deliver(inb, 1, 1);
  const b = deliver(inb, 2, 1);
  inb.acks.release(b);
  inb.disconnected();
  assert.deepEqual(host.take(), []);
  assert.equal(inb.inFlight, 0);
  inb.connected(true);
  inb.acks.release(a); // the old delivery acked on the new connection: its id may be a new message's
  assert.deepEqual(host.take(), []);
  const again = deliver(inb, 1, 1); // the broker re-sends it (DUP)
  inb.acks.release(again);
  assert.deepEqual(host.take(), ["PUBACK 1"]);
});

add(
  "Inbound.disconnected() keeps QoS 2 slots: the re-delivery is a duplicate, PUBREC goes on the new connection",
  () => {
    const { host, inb } = setup();
    const q2 = deliver(inb, 3, 2);
    const q1 = deliver(inb, 4, 1);
    inb.disconnected();
    inb.connected(true);
    assert.equal(inb.receive(publish(3, 2, { dup: true })), Verdict.Duplicate);
    assert.equal(inb.inFlight, 1);
    inb.acks.release(q1);
    inb.acks.release(q2);
    assert.deepEqual(host.take(), ["put 3", "PUBREC 3"]);
  },
);

add(
  "Inbound acked while disconnected records the QoS 2 receipt; the re-delivery is answered with PUBREC",
  () => {
    const { host, inb } = setup();
    const a = deliver(inb, 6, 2);
    inb.disconnected();
    inb.acks.release(a);
    assert.deepEqual(host.take(), ["put 6"]);
    assert.equal(inb.qos2(6), Qos2State.Recorded);
    inb.connected(true);
    assert.equal(inb.receive(publish(6, 2, { dup: true })), Verdict.Duplicate);
    assert.deepEqual(host.take(), ["PUBREC 6"]);
  },
);

add("Inbound.connected(false) voids every inbound state (session not present)", () => {
  const { host, inb } = setup();
  inb.acks.release(deliver(inb, 4, 2));
  const waiting = deliver(inb, 5, 2);
  host.take();
  inb.disconnected();
  inb.connected(false);
  assert.equal(inb.inFlight, 0);
  assert.deepEqual([...inb.qos2States()], []);
  inb.acks.release(waiting);
  assert.equal(inb.receive(publish(4, 2)), Verdict.Deliver);
  assert.equal(inb.receive(publish(5, 2)), Verdict.Deliver);
  assert.deepEqual(host.take(), []);
});

add("Inbound.receive() answers a topic alias above our maximum with a 0x94 violation", () => {
  const { inb } = setup({ topicAliasMaximum: 2 });
  assert.equal(inb.receive(publish(1, 1, { properties: { topicAlias: 3 } })), Verdict.Violation);
  assert.ok(inb.violation instanceof MqttError);
  assert.equal(inb.violation.code, "protocol-error");
  assert.equal(inb.violation.reasonCode, 0x94);
  const none = setup().inb; // topicAliasMaximum 0: any alias is too high
  assert.equal(none.receive(publish(0, 0, { properties: { topicAlias: 1 } })), Verdict.Violation);
  assert.equal(none.violation?.reasonCode, 0x94);
});

add(
  "Inbound.receive() resolves a topic alias; one never set (or set on a previous connection) is 0x82",
  () => {
    const { inb } = setup({ topicAliasMaximum: 4 });
    assert.equal(
      inb.receive(publish(0, 0, { topic: "", properties: { topicAlias: 2 } })),
      Verdict.Violation,
    );
    assert.equal(inb.violation?.reasonCode, 0x82);
    assert.equal(
      inb.receive(publish(0, 0, { topic: "a/b", properties: { topicAlias: 2 } })),
      Verdict.Deliver,
    );
    assert.equal(inb.topic, "a/b");
    assert.equal(
      inb.receive(publish(1, 1, { topic: "", properties: { topicAlias: 2 } })),
      Verdict.Deliver,
    );
    assert.equal(inb.topic, "a/b");
    assert.equal(inb.receive(publish(0, 0, { topic: "c" })), Verdict.Deliver);
    assert.equal(inb.topic, "c");
    inb.disconnected();
    inb.connected(true);
    assert.equal(
      inb.receive(publish(0, 0, { topic: "", properties: { topicAlias: 2 } })),
      Verdict.Violation,
    );
    assert.equal(inb.violation?.reasonCode, 0x82);
  },
);

add(
  "Inbound.receive() says DeliverOverLimit once receiveMaximum messages are unacknowledged [MQTT-3.3.4-9]",
  () => {
    const { inb } = setup({ receiveMaximum: 2 });
    const a = deliver(inb, 1, 1);
    deliver(inb, 2, 2);
    assert.equal(inb.inFlight, 2);
    assert.equal(inb.receive(publish(3, 1)), Verdict.DeliverOverLimit);
    assert.equal(inb.receive(publish(0, 0)), Verdict.Deliver); // QoS 0 does not count
    inb.acks.release(a);
    assert.equal(inb.inFlight, 1);
    assert.equal(inb.receive(publish(3, 1)), Verdict.Deliver);
  },
);

add("Inbound counts a QoS 2 message against our Receive Maximum until PUBREL", () => {
  const { inb } = setup({ receiveMaximum: 1 });
  inb.acks.release(deliver(inb, 1, 2));
  assert.equal(inb.acks.length, 0);
  assert.equal(inb.inFlight, 1);
  assert.equal(inb.receive(publish(2, 1)), Verdict.DeliverOverLimit);
  inb.onPubrel(1);
  assert.equal(inb.receive(publish(2, 1)), Verdict.Deliver);
});

add(
  "Inbound records a QoS 2 receipt before PUBREC (write-ahead): with an async store PUBREC waits",
  () => {
    const { host, inb } = setup();
    host.async = true;
    inb.acks.release(deliver(inb, 7, 2));
    assert.deepEqual(host.take(), ["put 7"]);
    assert.equal(inb.qos2(7), Qos2State.Recording);
    assert.equal(inb.receive(publish(7, 2, { dup: true })), Verdict.Duplicate);
    inb.onPubrel(7); // no PUBREC yet: nothing to complete
    assert.deepEqual(host.take(), []);
    inb.stored(InboundStoreOp.Put, 7, inb.connection);
    assert.deepEqual(host.take(), ["PUBREC 7"]);
    assert.equal(inb.qos2(7), Qos2State.Recorded);
  },
);

add(
  "Inbound forgets a receipt before PUBCOMP: with an async store PUBCOMP waits, on its connection only",
  () => {
    const { host, inb } = setup();
    inb.acks.release(deliver(inb, 7, 2));
    inb.acks.release(deliver(inb, 8, 2));
    host.async = true;
    host.take();
    inb.onPubrel(7);
    assert.deepEqual(host.take(), ["delete 7"]);
    inb.stored(InboundStoreOp.Delete, 7, inb.connection);
    assert.deepEqual(host.take(), ["PUBCOMP 7"]);
    inb.onPubrel(8);
    const asked = inb.connection;
    inb.disconnected();
    inb.connected(true);
    inb.stored(InboundStoreOp.Delete, 8, asked); // landed after its connection ended
    assert.deepEqual(host.take(), ["delete 8"]);
    inb.onPubrel(8); // the broker repeats PUBREL
    assert.deepEqual(host.take(), ["PUBCOMP 8 0x92"]);
  },
);

add(
  "Inbound.stored() of a receipt asked for before the session was lost sends nothing for a new message",
  () => {
    const { host, inb } = setup();
    host.async = true;
    inb.acks.release(deliver(inb, 1, 2));
    const asked = inb.connection;
    inb.disconnected();
    inb.connected(false); // the broker lost the session: id 1 is free on its side
    inb.acks.release(deliver(inb, 1, 2)); // a new message with the same id
    assert.deepEqual(host.take(), ["put 1", "put 1"]);
    inb.stored(InboundStoreOp.Put, 1, asked); // the old receipt lands
    assert.deepEqual(host.take(), []); // the new message's receipt is not stored yet
    assert.equal(inb.qos2(1), Qos2State.Recording);
    inb.stored(InboundStoreOp.Put, 1, inb.connection);
    assert.deepEqual(host.take(), ["PUBREC 1"]);
  },
);

add("Inbound.forget() takes a delivered message out of the order without an ack", () => {
  const { host, inb } = setup();
  const a = deliver(inb, 1, 1);
  inb.acks.release(deliver(inb, 2, 1));
  const c = deliver(inb, 3, 2);
  inb.forget(a);
  assert.deepEqual(host.take(), ["PUBACK 2"]);
  inb.forget(c);
  assert.equal(inb.qos2(3), undefined); // a re-delivery is a new delivery
  assert.equal(inb.inFlight, 0);
  assert.equal(inb.receive(publish(3, 2)), Verdict.Deliver);
});

add("Inbound.restore() puts a stored receipt back: the re-delivery is answered with PUBREC", () => {
  const host = new Host();
  const inb = new Inbound(host, { receiveMaximum: 65535, topicAliasMaximum: 0 });
  inb.restore(9);
  inb.restore(9);
  assert.equal(inb.inFlight, 1);
  inb.connected(true);
  assert.equal(inb.receive(publish(9, 2, { dup: true })), Verdict.Duplicate);
  inb.onPubrel(9);
  assert.deepEqual(host.take(), ["PUBREC 9", "delete 9", "PUBCOMP 9"]);
  assert.equal(inb.inFlight, 0);
});

add("Inbound.markRecorded() counts a receipt whose write landed as recorded", () => {
  const { host, inb } = setup();
  host.async = true;
  inb.acks.release(deliver(inb, 4, 2));
  inb.markRecorded(4);
  inb.markRecorded(5); // unknown: nothing
  assert.equal(inb.qos2(4), Qos2State.Recorded);
  assert.equal(inb.qos2(5), undefined);
  assert.equal(inb.receive(publish(4, 2, { dup: true })), Verdict.Duplicate);
  assert.deepEqual(host.take(), ["put 4", "PUBREC 4"]);
});
