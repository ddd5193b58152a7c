/**
 * {@linkcode Inbound}: the inbound half of an MQTT session as a plain state
 * machine. It resolves topic aliases in, answers a QoS 2 re-delivery without
 * delivering it twice, watches our Receive Maximum, and releases PUBACK /
 * PUBREC in the order the PUBLISH packets arrived whatever order the
 * application acks them in (MQTT §4.6), storing a QoS 2 receipt before its
 * PUBREC (write-ahead) and answering PUBREL with PUBCOMP.
 *
 * No I/O, no timers: packets and acks go in, what to write and store comes
 * out through an {@linkcode InboundHost}.
 *
 * @module
 */

import { MqttError } from "../errors.ts";
import * as ReasonCode from "../wire/_reason_code.ts";
import * as PacketType from "../wire/_packet_type.ts";
import type { Packet, PublishPacket, QoS } from "../wire/types.ts";
import * as InboundStoreOp from "./_inbound_store_op.ts";
import * as Qos2State from "./_qos2_state.ts";
import * as Verdict from "./_verdict.ts";

/**
 * One inbound QoS 1/2 PUBLISH awaiting acknowledgement by every subscription
 * it was delivered to. Slots form a FIFO in arrival order.
 */
export class InboundSlot {
  /** Deliveries that have not acked yet. */
  refs: number;
  /** All deliveries acked; waiting only for the slots ahead of it. */
  done = false;
  /** Leaves the queue without an ack (its connection is gone). */
  cancelled = false;
  next: InboundSlot | null = null;
  /** When the PUBLISH arrived (ms, the timestamp of the read that brought it). */
  at = 0;
  /** Already reported as left unacked. */
  warned = false;
  /** Its deliveries (one per subscription), for reports; the host's to fill. */
  delivered: unknown = null;
  /** The subscriptions it was delivered to, for reports; the host's to fill. */
  owners: unknown = null;
  constructor(
    readonly packetId: number,
    readonly qos: QoS,
    refs: number,
    readonly owner: InboundAcks,
  ) {
    this.refs = refs;
  }
}

/**
 * Releases broker acks in the order the PUBLISH packets arrived, whatever order
 * the application acks them in ([MQTT-4.6.0-2], [MQTT-4.6.0-3]).
 */
export class InboundAcks {
  #head: InboundSlot | null = null;
  #tail: InboundSlot | null = null;
  #length = 0;
  /** Cancelled slots still queued behind a live one: they no longer count. */
  #cancelled = 0;
  #send: (slot: InboundSlot) => void;

  /** @param send Sends the PUBACK or PUBREC for a released slot. */
  constructor(send: (slot: InboundSlot) => void) {
    this.#send = send;
  }

  /** The oldest unreleased slot (follow `next` for the rest, in arrival order). */
  get head(): InboundSlot | null {
    return this.#head;
  }

  /** Unreleased slots, cancelled ones not counted. */
  get length(): number {
    return this.#length - this.#cancelled;
  }

  /**
   * Appends a slot for a PUBLISH delivered to `refs` subscriptions.
   *
   * @param packetId Its packet identifier.
   * @param qos 1 or 2.
   * @param refs How many deliveries must ack it (0: released in its turn).
   * @param at When it arrived (ms).
   * @returns The slot.
   */
  add(packetId: number, qos: QoS, refs: number, at = 0): InboundSlot {
    const slot = new InboundSlot(packetId, qos, refs, this);
    slot.at = at;
    if (this.#tail === null) this.#head = slot;
    else this.#tail.next = slot;
    this.#tail = slot;
    this.#length++;
    if (refs === 0) this.release(slot, 0);
    return slot;
  }

  /** One delivery of `slot` acked (`by` = 1), or a check with `by` = 0. */
  release(slot: InboundSlot, by = 1): void {
    if (slot.owner !== this || slot.done) return;
    slot.refs -= by;
    if (slot.refs > 0) return;
    slot.done = true;
    this.#drain();
  }

  /**
   * Takes every QoS 1 slot out of the order without acking it, acked by the
   * application or not (their connection is gone); the slots behind them go on.
   */
  cancelQos1(): void {
    let any = false;
    for (let s = this.#head; s !== null; s = s.next) {
      if (s.qos !== 1 || s.cancelled) continue;
      s.cancelled = true;
      this.#cancelled++;
      s.done = true;
      any = true;
    }
    if (any) this.#drain();
  }

  /** Releases the done slots at the head of the order. */
  #drain(): void {
    let h = this.#head;
    while (h !== null && h.done) {
      this.#head = h.next;
      if (this.#head === null) this.#tail = null;
      this.#length--;
      h.next = null;
      h.delivered = null;
      h.owners = null;
      if (h.cancelled) this.#cancelled--;
      else this.#send(h);
      h = this.#head;
    }
  }

  /** Takes `slot` out of the order without ever acking it. */
  cancel(slot: InboundSlot): void {
    if (slot.owner !== this || slot.done) return;
    slot.cancelled = true;
    this.#cancelled++;
    slot.refs = 1;
    this.release(slot);
  }

  /** Forgets every slot (the connection they belong to is gone). */
  clear(): void {
    let h = this.#head;
    while (h !== null) {
      h.done = true;
      const n = h.next;
      h.next = null;
      h = n;
    }
    this.#head = this.#tail = null;
    this.#length = 0;
    this.#cancelled = 0;
  }
}

/** Where an inbound QoS 2 message stands: {@linkcode Qos2State} (constants in _qos2_state.ts). */
type Qos2State = typeof Qos2State[keyof typeof Qos2State];
export * as Qos2State from "./_qos2_state.ts";

/** What to do with an inbound PUBLISH, as {@linkcode Inbound.receive} says: {@linkcode Verdict} (constants in _verdict.ts). */
type Verdict = typeof Verdict[keyof typeof Verdict];
export * as Verdict from "./_verdict.ts";

/** A store write the inbound session asks for: {@linkcode InboundStoreOp} (constants in _inbound_store_op.ts). */
type InboundStoreOp = typeof InboundStoreOp[keyof typeof InboundStoreOp];
export * as InboundStoreOp from "./_inbound_store_op.ts";

/** What the inbound session asks of the code that owns the connection. */
export interface InboundHost {
  /** Writes a packet on the current connection. */
  write(packet: Packet): void;
  /**
   * Runs a store write for packet `id`; absent when there is no store. Returns
   * true when it is done; false when it lands later: the host then calls
   * {@linkcode Inbound.stored} with the same arguments and the
   * {@linkcode Inbound.connection} it was asked under.
   */
  persist?(op: InboundStoreOp, id: number): boolean;
}

/** The limits we advertised in CONNECT. */
export interface InboundLimits {
  /** Our Receive Maximum: QoS 1/2 messages the broker may have unacked. */
  receiveMaximum: number;
  /** Our Topic Alias Maximum (0: none). */
  topicAliasMaximum: number;
}

/**
 * The inbound QoS 1/2 state of one session, across connections. Packets fed
 * to it (`receive`, `onPubrel`) must come from the live connection: an
 * answer to one (a PUBREC for a re-delivery, say) is written at once.
 *
 * @example Drive it by hand
 * ```ts ignore
 * const inb = new Inbound(host, { receiveMaximum: 65535, topicAliasMaximum: 0 });
 * inb.connected(false);
 * if (inb.receive(publish) === Verdict.Deliver) {
 *   const slot = inb.accept(publish.packetId!, publish.qos, 1, Date.now());
 *   inb.acks.release(slot); // the application acked: host.write(PUBACK)
 * }
 * ```
 */
export class Inbound {
  readonly #host: InboundHost;
  /** The host's store writes (undefined without a store). */
  readonly #persist: ((op: InboundStoreOp, id: number) => boolean) | undefined;
  readonly #limits: InboundLimits;
  /** Acks in arrival order (§4.6). */
  readonly acks: InboundAcks;
  readonly #qos2 = new Map<number, Qos2State>();
  /** QoS 2 messages PUBREC'd and not yet released by PUBREL. */
  #received = 0;
  #aliases: Map<number, string> | undefined;
  #live = false;
  #connection = 0;
  /** The connection the current session began on: store writes asked before it are void. */
  #sessionFrom = 0;
  /** The topic of the PUBLISH last passed to {@linkcode Inbound.receive} (aliases resolved). */
  topic = "";
  /** Why the last {@linkcode Inbound.receive} said {@linkcode Verdict.Violation}. */
  violation: MqttError | undefined;

  /**
   * @param host Writes and stores for the session.
   * @param limits What we advertised in CONNECT.
   */
  constructor(host: InboundHost, limits: InboundLimits) {
    this.#host = host;
    this.#persist = host.persist?.bind(host);
    this.#limits = limits;
    this.acks = new InboundAcks((slot) => this.#release(slot));
  }

  /** Counts connections: a store write that lands after its connection ended sends nothing. */
  get connection(): number {
    return this.#connection;
  }

  /** QoS 1/2 messages the broker has out to us unacknowledged (against our Receive Maximum). */
  get inFlight(): number {
    return this.acks.length + this.#received;
  }

  /**
   * The state of inbound QoS 2 packet `id`, if any.
   *
   * @param id The packet identifier.
   * @returns Its state.
   */
  qos2(id: number): Qos2State | undefined {
    return this.#qos2.get(id);
  }

  /**
   * Every inbound QoS 2 state, by packet identifier.
   *
   * @returns The entries.
   */
  qos2States(): IterableIterator<[number, Qos2State]> {
    return this.#qos2.entries();
  }

  /**
   * Puts back a QoS 2 receipt a store kept (PUBREC was sent): a re-delivery
   * is answered, not delivered again.
   *
   * @param id The packet identifier.
   */
  restore(id: number): void {
    if (this.#qos2.get(id) === Qos2State.Recorded) return;
    this.#qos2.set(id, Qos2State.Recorded);
    this.#received++;
  }

  /**
   * A connection is up.
   *
   * @param sessionPresent Whether the broker kept the session; without it,
   * every inbound QoS 1/2 state is void.
   */
  connected(sessionPresent: boolean): void {
    this.#live = true;
    this.#connection++;
    this.#aliases = undefined;
    if (!sessionPresent) {
      this.#sessionFrom = this.#connection;
      this.acks.clear();
      this.#qos2.clear();
      this.#received = 0;
    }
  }

  /**
   * The connection is gone. A QoS 1 PUBLISH not yet acked comes again (DUP)
   * if the session resumes, as a new delivery with its own slot: the old slot
   * must neither count against Receive Maximum nor send a PUBACK that could
   * ack a newer message reusing its identifier. QoS 2 slots stay: their state
   * ties a re-delivery to them.
   */
  disconnected(): void {
    this.#live = false;
    this.#aliases = undefined;
    this.acks.cancelQos1();
  }

  /**
   * Judges an inbound PUBLISH: resolves its topic alias into
   * {@linkcode Inbound.topic}, answers a known QoS 2 re-delivery, checks our
   * Receive Maximum.
   *
   * @param p The PUBLISH.
   * @returns The verdict.
   */
  receive(p: PublishPacket): Verdict {
    let topic = p.topic;
    const alias = p.properties?.topicAlias;
    if (alias !== undefined) {
      // Topic aliases beyond what we advertised are answered with 0x94 (§3.3.2.3.4).
      if (alias > this.#limits.topicAliasMaximum) {
        this.violation = new MqttError(
          "protocol-error",
          `topic alias ${alias} exceeds our maximum`,
          { reasonCode: ReasonCode.TopicAliasInvalid },
        );
        return Verdict.Violation;
      }
      const map = this.#aliases ??= new Map();
      if (topic.length > 0) {
        map.set(alias, topic);
      } else {
        const known = map.get(alias);
        if (known === undefined) {
          this.violation = new MqttError("protocol-error", `topic alias ${alias} was never set`, {
            reasonCode: ReasonCode.ProtocolError,
          });
          return Verdict.Violation;
        }
        topic = known;
      }
    }
    this.topic = topic;
    const qos = p.qos;
    if (qos === 0) return Verdict.Deliver;
    if (qos === 2) {
      const s = this.#qos2.get(p.packetId as number);
      if (s !== undefined) {
        // A re-delivery of a QoS 2 message we already have: never deliver it twice.
        // (Recording: the PUBREC goes out once the store has recorded the message.)
        if (s === Qos2State.Recorded) {
          this.#host.write({ type: PacketType.Pubrec, packetId: p.packetId as number });
        }
        return Verdict.Duplicate;
      }
    }
    return this.inFlight >= this.#limits.receiveMaximum
      ? Verdict.DeliverOverLimit
      : Verdict.Deliver;
  }

  /**
   * Takes a QoS 1/2 message in for delivery to `refs` subscriptions; its ack
   * leaves once all of them acked it and every earlier message was released.
   * With `refs` 0 it is acked at once (in its turn).
   *
   * @param id The packet identifier.
   * @param qos 1 or 2.
   * @param refs How many deliveries must ack it.
   * @param at When it arrived (ms), for reports.
   * @returns Its slot: pass it to each delivered message.
   */
  accept(id: number, qos: QoS, refs: number, at: number): InboundSlot {
    if (qos === 2) this.#qos2.set(id, Qos2State.Delivered);
    const slot = this.acks.add(id, qos, refs, at);
    return slot;
  }

  /**
   * Takes a delivered message out of the order without acking it (its
   * connection is gone; the broker delivers it again).
   *
   * @param slot Its slot.
   */
  forget(slot: InboundSlot): void {
    if (slot.qos === 2 && this.#qos2.get(slot.packetId) === Qos2State.Delivered) {
      this.#qos2.delete(slot.packetId);
    }
    this.acks.cancel(slot);
  }

  /**
   * PUBREL from the broker: PUBCOMP goes out once the store forgot the
   * receipt; an unknown identifier is answered with PUBCOMP 0x92.
   *
   * @param id Its packet identifier.
   */
  onPubrel(id: number): void {
    const s = this.#qos2.get(id);
    if (s === Qos2State.Recorded) {
      this.#qos2.delete(id);
      this.#received--;
      if (this.#persist === undefined || this.#persist(InboundStoreOp.Delete, id)) {
        this.#host.write({ type: PacketType.Pubcomp, packetId: id });
      }
    } else if (s === undefined) {
      this.#host.write({
        type: PacketType.Pubcomp,
        packetId: id,
        reasonCode: ReasonCode.PacketIdentifierNotFound,
      });
    }
    // Delivered or Recording: no PUBREC yet (not acked, or not recorded); the broker
    // repeats PUBREL after PUBREC.
  }

  /**
   * A store write reported pending has landed.
   *
   * @param op The write.
   * @param id Its packet identifier.
   * @param connection {@linkcode Inbound.connection} when it was asked for.
   */
  stored(op: InboundStoreOp, id: number, connection: number): void {
    // Asked for under a session the broker has since lost: the identifier may be a new message's.
    if (connection < this.#sessionFrom) return;
    if (op === InboundStoreOp.Put) {
      if (this.#qos2.get(id) !== Qos2State.Recording) return;
      this.#qos2.set(id, Qos2State.Recorded);
      if (this.#live) this.#host.write({ type: PacketType.Pubrec, packetId: id });
      return;
    }
    if (this.#live && connection === this.#connection) {
      this.#host.write({ type: PacketType.Pubcomp, packetId: id });
    }
  }

  /**
   * After a store failure, receipts whose write did land count as recorded.
   *
   * @param id The packet identifier.
   */
  markRecorded(id: number): void {
    if (this.#qos2.has(id)) this.#qos2.set(id, Qos2State.Recorded);
  }

  /** A slot's turn has come: PUBACK, or (once recorded) PUBREC. */
  #release(slot: InboundSlot): void {
    const id = slot.packetId;
    if (slot.qos === 1) {
      if (this.#live) this.#host.write({ type: PacketType.Puback, packetId: id });
      return;
    }
    this.#received++;
    // Write-ahead: the inbound QoS 2 is recorded before PUBREC.
    this.#qos2.set(id, Qos2State.Recording);
    if (this.#persist !== undefined && !this.#persist(InboundStoreOp.Put, id)) return; // stored() sends PUBREC
    this.#qos2.set(id, Qos2State.Recorded);
    if (this.#live) this.#host.write({ type: PacketType.Pubrec, packetId: id });
  }
}
