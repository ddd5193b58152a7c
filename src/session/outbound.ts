/**
 * {@linkcode Outbound}: the outbound half of an MQTT session as a plain state
 * machine. It owns the QoS 1/2 publishes of the session: their packet
 * identifiers, the send window (the broker's Receive Maximum), the replay
 * order after a reconnect, the PUBACK / PUBREC / PUBREL / PUBCOMP states and
 * the re-check of a publish against a newer CONNACK's limits.
 *
 * It does no I/O and keeps no time: the caller feeds it application calls
 * ({@linkcode Outbound.submit}), connection events and packets, and it
 * answers through an {@linkcode OutboundHost}: what to write, what to store
 * first, and which publish settles with what.
 *
 * @module
 */

import { toError } from "../_internal/error.ts";
import { isFailure } from "../_internal/reason.ts";
import { MqttError } from "../errors.ts";
import * as ReasonCode from "../wire/_reason_code.ts";
import { packetLength } from "../wire/encode.ts";
import * as PacketType from "../wire/_packet_type.ts";
import type { AckProperties, Packet, PublishPacket } from "../wire/types.ts";
import { MAX_PACKET_ID, PacketIds } from "./packet_ids.ts";
import * as FlowState from "./_flow_state.ts";
import * as StoreOp from "./_store_op.ts";

const EMPTY = new Uint8Array(0);

/** Where an outbound QoS 1/2 flow stands: {@linkcode FlowState} (constants in _flow_state.ts). */
type FlowState = typeof FlowState[keyof typeof FlowState];
export * as FlowState from "./_flow_state.ts";

/** A store write the session asks for before a packet may go out (write-ahead): {@linkcode StoreOp} (constants in _store_op.ts). */
type StoreOp = typeof StoreOp[keyof typeof StoreOp];
export * as StoreOp from "./_store_op.ts";

/**
 * The broker's limits a publish is checked against: a CONNACK (the client's
 * `ConnackInfo` is one).
 */
export interface SessionLimits {
  /** How many QoS 1/2 publishes may be unacknowledged at once. */
  receiveMaximum: number;
  /** The highest QoS the broker accepts. */
  maximumQoS: number;
  /** Whether the broker accepts retained messages. */
  retainAvailable: boolean;
  /** The largest packet the broker accepts, if it set one. */
  maximumPacketSize?: number;
  /** The highest topic alias the broker accepts (0: none). */
  topicAliasMaximum: number;
  /**
   * Whether the broker kept the session (a CONNACK's Session Present). When
   * it did not, identifiers held back for QoS 2 messages it may have had are
   * free again.
   */
  sessionPresent?: boolean;
}

/** What a completed QoS 1/2 publish resolves with. */
export interface FlowResult {
  /** PUBACK / PUBREC reason code. */
  reasonCode: number;
  /** Ack properties, when the broker sent a reason string or user properties. */
  properties?: AckProperties;
}

/**
 * One outbound QoS 1/2 publish owned by the session. The host may extend it
 * (with the caller's resolve / reject, say); the session only uses these
 * fields.
 */
export interface OutFlow {
  /** The PUBLISH; `packetId` is set once the session takes the flow in. */
  packet: PublishPacket;
  /** Awaiting PUBACK / PUBREC, or PUBCOMP. */
  state: FlowState;
  /** Counted against the broker's Receive Maximum on the current connection. */
  inWindow: boolean;
  /** Never handed to a connection: its first transmission carries DUP=0 [MQTT-3.3.1-1]. */
  unsent: boolean;
  /** A store write must land before its next packet goes out. */
  storing: boolean;
  /** PUBREC's reason code (QoS 2), reported when PUBCOMP says plain success. */
  recRc: number;
  /** When PUBREC arrived, in PUBREC order (0: none, or restored from a store). */
  recSeq: number;
  /** The limits the packet was last checked against (`undefined`: never). */
  checkedBy: SessionLimits | null | undefined;
  /** The caller stopped waiting: the flow still completes, nothing is settled. */
  abandoned: boolean;
  /** Settled (or abandoned): never settled again. */
  done: boolean;
}

/**
 * Builds a fresh flow for `packet` (QoS 1 or 2, no packet identifier yet).
 *
 * @param packet The PUBLISH.
 * @param checkedBy The limits the caller checked it against (null: none known).
 * @returns The flow.
 */
export function newFlow(packet: PublishPacket, checkedBy: SessionLimits | null): OutFlow {
  return {
    packet,
    state: FlowState.AwaitingAck,
    inWindow: false,
    unsent: true,
    storing: false,
    recRc: 0,
    recSeq: 0,
    checkedBy,
    abandoned: false,
    done: false,
  };
}

/** What the outbound session asks of the code that owns the connection. */
export interface OutboundHost<F extends OutFlow> {
  /**
   * Writes a packet on the current connection. Throws when it does not
   * encode (the application changed a publish's properties since).
   */
  write(packet: Packet): void;
  /**
   * A flow is over: called at most once per flow, never for an abandoned one.
   */
  settle(flow: F, result: FlowResult | Error): void;
  /**
   * Runs a store write for `flow`; absent when there is no store. Returns true
   * when it is done; false when it will land later, and the host then calls
   * {@linkcode Outbound.stored} (or {@linkcode Outbound.storeFailed}).
   */
  persist?(op: StoreOp, flow: F): boolean;
  /** A flow's PUBLISH no longer encodes; it is failed with `error`. */
  unencodable?(flow: F, error: Error): void;
  /** The window may have changed (called at the end of every send round). */
  pumped?(): void;
  /**
   * Whether a PUBLISH (new or replayed) may go out now: a rate limit. Asked
   * before it is stored or written; when it says no, nothing changes and the
   * host calls {@linkcode Outbound.pump} once it may. Absent: always.
   */
  admit?(flow: F): boolean;
}

/**
 * The broker's limits that forbid `packet`, as the error to fail it with
 * (Maximum QoS, Retain Available, Maximum Packet Size), or undefined.
 *
 * @param packet The PUBLISH (a stand-in packet identifier is used if it has none).
 * @param limits The broker's limits; null means none are known yet.
 * @returns The error, or undefined.
 */
export function limitError(
  packet: PublishPacket,
  limits: SessionLimits | null,
): MqttError | undefined {
  if (limits === null) return undefined;
  if (packet.qos > limits.maximumQoS) {
    return new MqttError("qos-not-supported", `broker supports QoS up to ${limits.maximumQoS}`, {
      reasonCode: ReasonCode.QoSNotSupported,
    });
  }
  if (packet.retain && !limits.retainAvailable) {
    return new MqttError("retain-not-supported", "broker does not support retained messages", {
      reasonCode: ReasonCode.RetainNotSupported,
    });
  }
  return sizeError(packet, limits);
}

/**
 * Why `packet` is larger than the broker's Maximum Packet Size, or undefined.
 *
 * @param packet Any packet; a PUBLISH without an identifier is measured with a stand-in.
 * @param limits The broker's limits; null means none are known yet.
 * @returns The error, or undefined.
 */
export function sizeError(packet: Packet, limits: SessionLimits | null): MqttError | undefined {
  const max = limits?.maximumPacketSize;
  if (max === undefined) return undefined;
  let n: number;
  if (packet.type === PacketType.Publish && packet.qos > 0 && packet.packetId === undefined) {
    packet.packetId = 1; // a stand-in: a queued publish has no identifier yet
    try {
      n = packetLength(packet);
    } finally {
      packet.packetId = undefined;
    }
  } else {
    n = packetLength(packet);
  }
  if (n <= max) return undefined;
  return new MqttError(
    "packet-too-large",
    `packet of ${n} bytes exceeds the broker's maximum of ${max}`,
    { reasonCode: ReasonCode.PacketTooLarge },
  );
}

/** A refused publish (reason code >= 0x80) as the error it rejects with. */
function refused(rc: number, props: AckProperties | undefined): MqttError {
  return new MqttError(
    "publish-refused",
    `broker refused the publish: reason 0x${rc.toString(16)}${
      props?.reasonString ? ` (${props.reasonString})` : ""
    }`,
    { reasonCode: rc },
  );
}

function result(rc: number, props: AckProperties | undefined): FlowResult {
  const r: FlowResult = { reasonCode: rc };
  if (
    props !== undefined &&
    (props.reasonString !== undefined || props.userProperties !== undefined)
  ) {
    r.properties = props;
  }
  return r;
}

function stripAlias(p: PublishPacket): void {
  const pr = p.properties;
  if (pr?.topicAlias !== undefined) {
    const { topicAlias: _a, ...rest } = pr;
    p.properties = rest;
  }
}

/**
 * The outbound QoS 1/2 flows of one session, across connections. Packets fed
 * to it (`onPuback`, ...) must come from the live connection: an answer to
 * one (a PUBREL 0x92, say) is written at once.
 *
 * @example Drive it by hand
 * ```ts ignore
 * const out = new Outbound(host);
 * out.submit(newFlow(packet, null));   // queued: no connection yet
 * out.connected(connack);              // host.persist(Put), then host.write(PUBLISH id 1)
 * out.onPuback(1, 0, undefined);       // host.settle(flow, { reasonCode: 0 })
 * ```
 */
export class Outbound<F extends OutFlow = OutFlow> {
  readonly #host: OutboundHost<F>;
  /** The host's store writes (undefined without a store: nothing to wait for). */
  readonly #persist: ((op: StoreOp, flow: F) => boolean) | undefined;
  /** The host's rate limit (undefined without one). */
  readonly #admit: ((flow: F) => boolean) | undefined;
  /** Packet identifiers, shared with SUBSCRIBE / UNSUBSCRIBE. */
  readonly ids: PacketIds;
  /**
   * Flows with a packet identifier, in the order they were first sent (the
   * replay puts those past PUBREC in PUBREC order: `recSeq`).
   */
  readonly #flows = new Map<number, F>();
  /** Accepted, not yet given an identifier (the window was full, or no connection). */
  #pending: F[] = [];
  #pendingHead = 0;
  /** Flows to send again on this connection, in their original order [MQTT-4.6.0-1]. */
  #replay: F[] = [];
  #replayHead = 0;
  #limits: SessionLimits | null = null;
  /** Counts PUBRECs: the order PUBRELs are replayed in. */
  #recSeq = 0;
  /** Identifiers of QoS 2 flows failed on replay that the broker may still hold. */
  #quarantined: number[] = [];
  #live = false;
  #window = 0;
  #receiveMaximum = 65535;
  /** PUBLISH packets given an identifier and sent for the first time. */
  sent = 0;
  /** Flows sent again after a reconnect. */
  replayed = 0;
  /** Flows completed with a success reason code. */
  acked = 0;

  /**
   * @param host Writes, stores and settles for the session.
   * @param ids The packet identifiers to allocate from (shared with requests).
   */
  constructor(host: OutboundHost<F>, ids: PacketIds = new PacketIds()) {
    this.#host = host;
    this.#persist = host.persist?.bind(host);
    this.#admit = host.admit?.bind(host);
    this.ids = ids;
  }

  /** Flows with a packet identifier (in flight or awaiting replay). */
  get size(): number {
    return this.#flows.size;
  }

  /** Identifiers held back for QoS 2 messages the broker may still have (see `connected`). */
  get quarantined(): number {
    return this.#quarantined.length;
  }

  /** Flows accepted and waiting for an identifier and room in the window. */
  get queued(): number {
    return this.#pending.length - this.#pendingHead;
  }

  /** Flows counted against the broker's Receive Maximum on this connection. */
  get window(): number {
    return this.#window;
  }

  /** The limits in effect (the current or last CONNACK), or null before the first. */
  get limits(): SessionLimits | null {
    return this.#limits;
  }

  /** Whether a connection is up. */
  get live(): boolean {
    return this.#live;
  }

  /**
   * The flow holding a packet identifier, if any.
   *
   * @param id The packet identifier.
   * @returns The flow.
   */
  get(id: number): F | undefined {
    return this.#flows.get(id);
  }

  /**
   * Every flow, those with an identifier first (in order), then the queued ones.
   *
   * @returns The flows.
   */
  *all(): IterableIterator<F> {
    yield* this.#flows.values();
    for (let i = this.#pendingHead; i < this.#pending.length; i++) yield this.#pending[i];
  }

  /**
   * Takes a new publish in: it is sent as soon as the window has room.
   *
   * @param flow The flow (see {@linkcode newFlow}).
   */
  submit(flow: F): void {
    this.#pending.push(flow);
    this.pump();
  }

  /**
   * Puts back a flow a store kept from an earlier process (its packet carries
   * its identifier). Nobody awaits it: it completes with the session.
   *
   * @param flow The flow, abandoned, with `packet.packetId` set.
   * @returns False when its identifier is already taken (the flow is ignored).
   */
  restore(flow: F): boolean {
    const id = flow.packet.packetId as number;
    if (this.#flows.has(id) || !this.ids.claim(id)) return false;
    this.#flows.set(id, flow);
    return true;
  }

  /**
   * The caller stopped waiting for `flow`. A flow not yet sent never goes
   * out; one in flight still completes, unseen.
   *
   * @param flow The flow.
   */
  abandon(flow: F): void {
    flow.abandoned = true;
    if (flow.packet.packetId !== undefined) return;
    const i = this.#pending.indexOf(flow, this.#pendingHead);
    if (i >= 0) this.#pending.splice(i, 1);
  }

  /**
   * A connection is up under `limits`: every flow is sent again (DUP=1,
   * PUBREL for those past PUBREC) in its original order, then queued ones.
   *
   * @param limits The CONNACK's limits.
   */
  connected(limits: SessionLimits): void {
    if (limits.sessionPresent === false && this.#quarantined.length > 0) {
      for (const id of this.#quarantined) this.ids.free(id);
      this.#quarantined = [];
    }
    this.#limits = limits;
    this.#live = true;
    this.#window = 0;
    this.#receiveMaximum = limits.receiveMaximum;
    this.#replay = [];
    this.#replayHead = 0;
    // PUBLISH packets again in their original order, then PUBRELs in PUBREC order
    // [MQTT-4.6.0-1], [MQTT-4.6.0-4].
    let released: F[] | undefined;
    for (const f of this.#flows.values()) {
      f.inWindow = false;
      if (f.state === FlowState.AwaitingAck) this.#replay.push(f);
      else (released ??= []).push(f);
    }
    if (released !== undefined) {
      released.sort((a, b) => a.recSeq - b.recSeq);
      for (const f of released) this.#replay.push(f);
    }
    this.pump();
  }

  /** The connection is gone: nothing is written until the next {@linkcode Outbound.connected}. */
  disconnected(): void {
    this.#live = false;
  }

  /** Sends replays, then queued publishes, while the broker's window has room. */
  pump(): void {
    if (!this.#live) return;
    while (this.#window < this.#receiveMaximum) {
      if (this.#replayHead < this.#replay.length) {
        const f = this.#replay[this.#replayHead];
        const id = f.packet.packetId as number;
        const live = this.#flows.get(id) === f; // else completed meanwhile
        const publish = live && f.state === FlowState.AwaitingAck;
        if (publish) {
          f.packet.dup = !f.unsent;
          // Sent again with its topic: an alias set on the old connection means nothing now.
          stripAlias(f.packet);
          if (this.#admit !== undefined && !this.#admit(f)) break;
        }
        this.#replay[this.#replayHead++] = undefined as never;
        if (this.#replayHead === this.#replay.length) {
          this.#replay = [];
          this.#replayHead = 0;
        }
        if (!live) continue;
        f.inWindow = true;
        this.#window++;
        this.replayed++;
        if (f.storing) continue; // its store write lands first: stored() sends it
        if (!publish) {
          this.#host.write({ type: PacketType.Pubrel, packetId: id });
        } else {
          const limit = this.#recheck(f);
          if (limit !== undefined) this.#fail(f, limit, true);
          else this.#send(f);
        }
        continue;
      }
      if (this.#pendingHead >= this.#pending.length) break;
      const f = this.#pending[this.#pendingHead];
      const limit = this.#recheck(f);
      if (
        limit === undefined && this.#admit !== undefined &&
        (this.ids.inUse >= MAX_PACKET_ID || !this.#admit(f))
      ) {
        break; // nothing changed: it waits at the head of the queue (for an identifier, or a token)
      }
      const id = limit === undefined ? this.ids.alloc() : 0;
      if (limit === undefined && id === 0) break; // every identifier in use: wait for one
      this.#pending[this.#pendingHead++] = undefined as never;
      if (this.#pendingHead === this.#pending.length) {
        this.#pending = [];
        this.#pendingHead = 0;
      }
      if (limit !== undefined) {
        this.#settle(f, limit);
        continue;
      }
      f.packet.packetId = id;
      this.#flows.set(id, f);
      f.inWindow = true;
      this.#window++;
      f.unsent = true;
      this.sent++;
      // Write-ahead: the PUBLISH is stored before it reaches the connection.
      f.storing = true;
      if (this.#persist !== undefined && !this.#persist(StoreOp.Put, f)) continue; // stored() sends it
      f.storing = false;
      if (this.#flows.get(id) === f) this.#send(f);
    }
    this.#host.pumped?.();
  }

  /**
   * A store write the host reported pending has landed: the packet it held
   * back goes out now (if its connection is up; else at the replay).
   *
   * @param flow The flow.
   */
  stored(flow: F): void {
    flow.storing = false;
    const id = flow.packet.packetId as number;
    if (this.#flows.get(id) !== flow || !this.#live || !flow.inWindow) return;
    if (flow.state === FlowState.AwaitingComp) {
      this.#host.write({ type: PacketType.Pubrel, packetId: id });
      return;
    }
    const limit = this.#recheck(flow);
    if (limit !== undefined) this.#fail(flow, limit, true);
    else this.#send(flow);
    if (this.#flows.get(id) !== flow) this.pump(); // it failed: its room goes to the next one
  }

  /**
   * A store write for `flow` failed: the flow ends with `error` (it was never
   * sent, or its state cannot be kept).
   *
   * @param flow The flow.
   * @param error What to settle it with.
   */
  storeFailed(flow: F, error: Error): void {
    const id = flow.packet.packetId as number;
    if (this.#flows.get(id) === flow) {
      this.#flows.delete(id);
      this.ids.free(id);
      if (flow.inWindow && this.#window > 0) this.#window--;
    }
    this.#settle(flow, error);
    this.pump(); // its room in the window and its identifier go to the next one
  }

  /**
   * PUBACK from the broker.
   *
   * @param id Its packet identifier.
   * @param rc Its reason code.
   * @param props Its properties.
   * @returns False when no QoS 1 flow has that identifier (the ack is ignored).
   */
  onPuback(id: number, rc: number, props: AckProperties | undefined): boolean {
    const f = this.#flows.get(id);
    if (f === undefined || f.packet.qos !== 1) return false;
    this.#complete(f, isFailure(rc) ? refused(rc, props) : result(rc, props));
    return true;
  }

  /**
   * PUBREC from the broker: PUBREL goes out once the store has moved the
   * flow on. An unknown identifier is answered with PUBREL 0x92.
   *
   * @param id Its packet identifier.
   * @param rc Its reason code.
   * @param props Its properties.
   */
  onPubrec(id: number, rc: number, props: AckProperties | undefined): void {
    const f = this.#flows.get(id);
    if (f === undefined || f.packet.qos !== 2) {
      this.#host.write({
        type: PacketType.Pubrel,
        packetId: id,
        reasonCode: ReasonCode.PacketIdentifierNotFound,
      });
      return;
    }
    if (isFailure(rc)) return this.#complete(f, refused(rc, props));
    f.state = FlowState.AwaitingComp;
    f.recRc = rc;
    // PUBRELs go out, and are re-sent after a reconnect, in PUBREC order [MQTT-4.6.0-4].
    f.recSeq = ++this.#recSeq;
    f.packet.payload = EMPTY; // the payload is no longer needed once the broker has it
    f.storing = true;
    if (this.#persist !== undefined && !this.#persist(StoreOp.Release, f)) return; // stored() sends PUBREL
    f.storing = false;
    this.#host.write({ type: PacketType.Pubrel, packetId: id });
  }

  /**
   * PUBCOMP from the broker.
   *
   * @param id Its packet identifier.
   * @param rc Its reason code.
   * @param props Its properties.
   * @returns A protocol error when it came before PUBREL; true when it
   * completed a flow; false when no QoS 2 flow has that identifier.
   */
  onPubcomp(id: number, rc: number, props: AckProperties | undefined): boolean | MqttError {
    const f = this.#flows.get(id);
    if (f === undefined || f.packet.qos !== 2) return false;
    if (f.state !== FlowState.AwaitingComp) {
      // PUBCOMP answers PUBREL (§4.3.3); before it, delivery was never confirmed.
      return new MqttError("protocol-error", `PUBCOMP for packet ${id} before PUBREL`, {
        reasonCode: ReasonCode.ProtocolError,
      });
    }
    // 0x92 after PUBREC: the broker lost the flow but had the message; it was delivered.
    const ok = rc === ReasonCode.Success || rc === ReasonCode.PacketIdentifierNotFound;
    this.#complete(f, result(ok ? f.recRc : rc, props));
    return true;
  }

  /**
   * Ends the session: every flow, sent or queued, settles with `error`.
   *
   * @param error What the callers get.
   */
  close(error: Error): void {
    const flows = [...this.all()];
    for (const f of this.#flows.keys()) this.ids.free(f);
    for (const id of this.#quarantined) this.ids.free(id);
    this.#quarantined = [];
    this.#flows.clear();
    this.#pending = [];
    this.#pendingHead = 0;
    this.#replay = [];
    this.#replayHead = 0;
    this.#window = 0;
    this.#live = false;
    for (const f of flows) this.#settle(f, error);
  }

  #settle(f: F, r: FlowResult | Error): void {
    if (f.done) return;
    f.done = true;
    if (!f.abandoned) this.#host.settle(f, r);
  }

  /** Writes a flow's PUBLISH; a packet that no longer encodes ends its flow. */
  #send(f: F): void {
    try {
      this.#host.write(f.packet);
      f.unsent = false;
    } catch (err) {
      const error = toError(err);
      this.#host.unencodable?.(f, error);
      this.#fail(f, error);
    }
  }

  /** Ends a flow that cannot be sent: frees its identifier, leaves the store. */
  #fail(f: F, error: Error, replayed = false): void {
    const id = f.packet.packetId as number;
    this.#flows.delete(id);
    if (replayed && f.packet.qos === 2 && !f.unsent && this.#limits?.sessionPresent !== false) {
      // The broker may hold this QoS 2 message (its PUBREC never reached us): a new
      // message under the same identifier would be taken for it and dropped. The
      // identifier stays taken until the broker's session ends.
      this.#quarantined.push(id);
    } else {
      this.ids.free(id);
    }
    if (f.inWindow && this.#window > 0) this.#window--;
    this.#persist?.(StoreOp.Delete, f);
    this.#settle(f, error);
  }

  #complete(f: F, r: FlowResult | Error): void {
    const id = f.packet.packetId as number;
    this.#flows.delete(id);
    this.ids.free(id);
    this.#persist?.(StoreOp.Delete, f);
    if (f.inWindow && this.#window > 0) this.#window--;
    if (!(r instanceof Error)) this.acked++;
    this.#settle(f, r);
    this.pump();
  }

  /**
   * A flow accepted under other limits (or none) is checked against the
   * current ones before it is sent. Returns why it may not be; drops a topic
   * alias above the current Topic Alias Maximum (the topic is kept).
   */
  #recheck(f: F): MqttError | undefined {
    const limits = this.#limits;
    if (f.checkedBy === limits) return undefined;
    f.checkedBy = limits;
    const limit = limitError(f.packet, limits);
    const alias = f.packet.properties?.topicAlias;
    if (limit === undefined && alias !== undefined && alias > (limits?.topicAliasMaximum ?? 0)) {
      stripAlias(f.packet);
    }
    return limit;
  }
}
