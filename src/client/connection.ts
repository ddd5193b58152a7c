/**
 * {@linkcode Link}: one connection to a broker, as the client sees it: the
 * socket, its decoder and writer, its keep-alive, and the read path with its
 * flow control (reading pauses while a `"block"` subscription is full) and
 * the nudge that keeps a broker with Nagle on from waiting for our TCP ACK.
 *
 * @module
 */

import { MqttError } from "../errors.ts";
import { type Deferred, settledWithin } from "../_internal/async.ts";
import { toError } from "../_internal/error.ts";
import * as ReasonCode from "../wire/_reason_code.ts";
import { PacketDecoder } from "../wire/decode.ts";
import { PINGREQ_BYTES } from "../wire/encode.ts";
import * as PacketType from "../wire/_packet_type.ts";
import type { ConnackPacket, Packet } from "../wire/types.ts";
import type { Connection } from "../transport/types.ts";
import type { AutoAliases } from "./auto_aliases.ts";
import type { Core } from "./core.ts";
import { notMqtt } from "./handshake.ts";
import { type Clock, KeepAlive, systemClock } from "./keepalive.ts";
import type { ConnackInfo } from "./types.ts";
import { Writer } from "./writer.ts";

/** Microtask hops a read waits for the application to send something before a nudge. */
const NUDGE_HOPS = 8;
/** Nudges after the NUDGES are spent, each one a timer after the read that asked for it. */
const LATE_NUDGES = 2;
/** How long a late nudge waits (ms). */
const LATE_NUDGE_MS = 2;
/**
 * Packets in one read that mean the broker is sending faster than we read: a
 * read that brings this many, and owes no answer, lets the connection wait a
 * moment before its next read (`onData` answers true; see `Connection.start`).
 */
const LINGER_PACKETS = 8;
/** Nudges allowed between two answers the client was waiting for. */
export const NUDGES = 4;
/** How long a protocol failure's DISCONNECT may take to flush before the socket closes. */
const FAILURE_FLUSH_MS = 200;

/** One connection: socket, decoder, writer, keep-alive and read path. */
export class Link {
  readonly #core: Core;
  /** The socket. */
  readonly conn: Connection;
  /** The broker's URL. */
  readonly url: URL;
  /** Encodes and writes, coalesced. */
  readonly writer: Writer;
  /** Frames and decodes what arrives. */
  readonly decoder: PacketDecoder;
  /** The keep-alive: last read, last write, PINGRESP deadline. */
  readonly ka: KeepAlive;
  /** The CONNACK that accepted this connection; null until then. */
  connack: ConnackInfo | null = null;
  /** Closed: nothing more is read or written. */
  closed = false;
  /** A protocol failure is being handled: stop processing input. */
  halted = false;
  /** Topic aliases we set on this connection (outbound). */
  outAliases: Map<number, string> | undefined;
  /** `autoTopicAlias`: the aliases the client picks on this connection. */
  auto: AutoAliases | undefined;
  /** Receives the CONNACK while the handshake waits for it. */
  onConnack: ((p: ConnackPacket) => void) | undefined;
  /** Fails the handshake waiting on this connection. */
  onFail: ((e: Error) => void) | undefined;
  /** Packets that arrived after CONNACK, before the connection was set up. */
  early: Packet[] | undefined;
  /** A re-authentication in progress. */
  reauth: Deferred<void> | undefined;
  /** Waits of ending subscriptions for UNSUBACK, stopped when the link goes down. */
  enders: Set<AbortController> | undefined;
  /** When the connection came up (ms). */
  upAt = 0;
  /**
   * A QoS 0 publish without an alias goes straight to the writer: no automatic
   * aliases, no rate limit, no wait for the flush, no CONNACK limit that could apply.
   */
  plain0 = false;
  /** Reading is held back for a full subscription (flow control). */
  paused = false;
  /** The broker exceeded our Receive Maximum on this connection (reported once). */
  rmExceeded = false;
  /**
   * Input held while reading is paused, in order: chunks that arrived, and the
   * decoded packets left of the chunk whose message filled a subscription.
   */
  #held: (Uint8Array | Packet[])[] | undefined;
  /** A microtask is about to process `held`. */
  #draining = false;
  /** `writer.appended` when the latest read started: unchanged means nothing was sent since. */
  #rxMark = 0;
  /** A nudge check is pending, and the hops it has left. */
  #nudging = false;
  #nudgeHops = 0;
  readonly #nudgeTick = () => this.#nudge();
  /**
   * Nudges left until the broker next answers something we wait for (then
   * NUDGES again); from 0 down to -LATE_NUDGES, the late ones.
   */
  nudgeBudget = NUDGES;

  /**
   * @param conn The socket.
   * @param url The broker's URL.
   * @param core The client's shared state.
   * @param clock The keep-alive's clock.
   */
  constructor(conn: Connection, url: URL, core: Core, clock: Clock = systemClock) {
    this.#core = core;
    this.conn = conn;
    this.url = url;
    const o = core.o;
    const ka = this.ka = new KeepAlive(clock, o.pingTimeoutMs);
    this.writer = new Writer(conn, {
      batch: o.writeBatch,
      queueSize: o.writeQueueSize,
      onWrite: () => ka.sent(),
    }, (e) => this.lost(e));
    this.decoder = new PacketDecoder(
      o.maximumPacketSize > 0 ? { maximumPacketSize: o.maximumPacketSize } : undefined,
    );
  }

  /** Starts reading. */
  start(): void {
    this.conn.start(
      (chunk) => this.#onData(chunk),
      (err) => this.lost(err ?? new MqttError("connection-lost", "connection closed by peer")),
    );
  }

  /**
   * The socket failed or closed under us.
   *
   * @param err Why.
   */
  lost(err: Error): void {
    if (this.closed) return;
    this.#core.supervisor.linkDown(this, err, false);
  }

  /**
   * Ends the connection because the broker broke the protocol (or stopped
   * answering): DISCONNECT with the spec's reason code, then close and let the
   * supervisor reconnect.
   *
   * @param reasonCode The DISCONNECT reason code.
   * @param err The error the connection ends with.
   */
  fail(reasonCode: number, err: Error): void {
    if (this.closed || this.halted) return;
    if (err instanceof MqttError && err.reasonCode === undefined) {
      // The error names the reason code that went on the wire.
      err = new MqttError(err.code, err.message, { reasonCode, cause: err.cause });
    }
    this.#core.log?.warn("mqtt protocol failure", { reasonCode, error: err.message });
    // Nothing more from this connection is trusted or processed.
    this.halted = true;
    this.ka.stop();
    this.onFail?.(err);
    this.onFail = undefined;
    this.writer.sendLast({ type: PacketType.Disconnect, reasonCode });
    void settledWithin(this.writer.flushed(), FAILURE_FLUSH_MS).then(() =>
      this.#core.supervisor.linkDown(this, err, false)
    );
  }

  /**
   * Sends a PINGREQ and awaits its PINGRESP.
   */
  ping(): void {
    this.writer.sendBytes(PINGREQ_BYTES);
  }

  /**
   * Hands one packet from the broker to the room that handles it.
   *
   * @param p The packet.
   */
  dispatch(p: Packet): void {
    const c = this.#core;
    if (this.connack === null && p.type !== PacketType.Connack && p.type !== PacketType.Auth) {
      if (this.early !== undefined) {
        // Packets right behind the CONNACK (a resumed session's queued messages) wait
        // until the connection is set up, then are handled in order.
        this.early.push(p);
        return;
      }
      return this.fail(
        ReasonCode.ProtocolError,
        new MqttError("unexpected-packet", `packet type ${p.type} before CONNACK`),
      );
    }
    // An ack (PUBACK .. UNSUBACK; a broker sends no SUBSCRIBE or UNSUBSCRIBE): the
    // broker answered, so the nudges start over.
    if (p.type > PacketType.Publish && p.type <= PacketType.Unsuback) this.nudgeBudget = NUDGES;
    switch (p.type) {
      case PacketType.Publish:
        return c.subs.onPublish(this, p);
      case PacketType.Puback:
        if (!c.out.onPuback(p.packetId, p.reasonCode ?? 0, p.properties)) {
          c.log?.debug("PUBACK for an unknown packet id", { packetId: p.packetId });
        }
        return;
      case PacketType.Pubrec:
        return c.out.onPubrec(p.packetId, p.reasonCode ?? 0, p.properties);
      case PacketType.Pubrel:
        return c.in.onPubrel(p.packetId);
      case PacketType.Pubcomp: {
        const r = c.out.onPubcomp(p.packetId, p.reasonCode ?? 0, p.properties);
        if (r === false) {
          c.log?.debug("PUBCOMP for an unknown packet id", { packetId: p.packetId });
        } else if (r !== true) {
          this.fail(r.reasonCode!, r);
        }
        return;
      }
      case PacketType.Suback:
      case PacketType.Unsuback:
        return c.subs.onRequestAck(p);
      case PacketType.Pingresp:
        this.ka.pong();
        return;
      case PacketType.Connack:
        if (this.onConnack === undefined) {
          return this.fail(
            ReasonCode.ProtocolError,
            new MqttError("unexpected-packet", "second CONNACK"),
          );
        }
        this.early = [];
        this.onConnack(p);
        this.onConnack = undefined;
        return;
      case PacketType.Auth:
        return c.auth.onAuth(this, p);
      case PacketType.Disconnect: {
        if (c.stats !== null) c.stats.serverDisconnects++;
        const rc = p.reasonCode ?? 0;
        const err = new MqttError(
          "connection-lost",
          `broker sent DISCONNECT 0x${rc.toString(16)}`,
          { reasonCode: rc },
        );
        return c.supervisor.linkDown(this, err, false, p);
      }
      default:
        // CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ never come from a broker.
        return this.fail(
          ReasonCode.ProtocolError,
          new MqttError("unexpected-packet", `unexpected packet type ${p.type} from the broker`),
        );
    }
  }

  #onData(chunk: Uint8Array): boolean | void {
    if (this.closed || this.halted) return;
    if (this.paused || this.#held !== undefined) {
      // Reading is held back (or held chunks wait to be processed): keep the order.
      (this.#held ??= []).push(chunk);
      return;
    }
    return this.#consume(chunk);
  }

  /**
   * Decodes and handles one chunk of inbound bytes.
   *
   * @returns true when the connection may wait a moment before it reads again.
   */
  #consume(chunk: Uint8Array): boolean | void {
    this.ka.received();
    const w = this.writer;
    this.#rxMark = w.appended;
    if (
      this.connack === null && this.early === undefined && this.decoder.buffered === 0 &&
      chunk.length > 0
    ) {
      const wrong = notMqtt(chunk, this.url);
      if (wrong !== undefined) {
        // Not an MQTT broker on this port: nothing it says can be answered in MQTT.
        this.halted = true;
        this.onFail?.(wrong);
        this.#core.supervisor.linkDown(this, wrong, false);
        return;
      }
    }
    let packets: Packet[];
    try {
      packets = this.decoder.push(chunk);
    } catch (err) {
      const rc = err instanceof MqttError && err.reasonCode !== undefined
        ? err.reasonCode
        : ReasonCode.MalformedPacket;
      this.fail(rc, toError(err));
      return;
    }
    this.#handle(packets);
    // A burst that needs no answer (nothing awaited, no inbound QoS 1/2 unacknowledged or
    // acked by this read: a broker that waits for those acks would wait for our next read):
    // the connection may read a moment later, so the next read brings a larger chunk.
    // Under a sustained QoS 0 stream, reads (a wake-up and a decode call per few
    // messages) are most of the client's CPU. A lone message never waits.
    if (!this.#core.awaiting) {
      return packets.length >= LINGER_PACKETS && !this.#core.in.inFlight &&
        w.appended === this.#rxMark;
    }
    // Nothing sent in answer while we wait for the broker: our TCP ACK of this read may be
    // delayed (~40 ms), and a broker with Nagle on (mosquitto's default) holds its answer
    // until it comes. Unless the application sends something within a few microtask hops,
    // a PINGREQ carries the ACK at once. Its PINGRESP is in turn a small unacked segment
    // the broker's next answer may wait behind, so a read of it may nudge again; NUDGES
    // bounds the pings between two answers, so a broker slow to answer (or a busy inbound
    // stream while one publish waits) gets a few pings, never a stream of them.
    // Once they are spent, LATE_NUDGES more go out LATE_NUDGE_MS after a read: the ping-pong
    // of nudges and PINGRESPs can use up NUDGES just before the answer comes in two segments,
    // and the second one would wait for the delayed ACK.
    if (
      w.appended === this.#rxMark && !this.#nudging && this.nudgeBudget > -LATE_NUDGES &&
      this.connack !== null
    ) {
      this.#nudging = true;
      if (this.nudgeBudget > 0) {
        this.#nudgeHops = NUDGE_HOPS;
        queueMicrotask(this.#nudgeTick);
      } else {
        this.#nudgeHops = 1;
        setTimeout(this.#nudgeTick, LATE_NUDGE_MS);
      }
    }
  }

  /**
   * Handles decoded packets in order; stops when a message fills a
   * subscription and pauses reading, holding the rest (so a subscription
   * holds no more than its bound).
   */
  #handle(packets: Packet[]): void {
    for (let i = 0; i < packets.length; i++) {
      if (this.closed || this.halted) return;
      this.dispatch(packets[i]);
      if (this.paused && i + 1 < packets.length) {
        (this.#held ??= []).unshift(packets.slice(i + 1));
        return;
      }
    }
  }

  #nudge(): void {
    // The application sent something meanwhile (its ACK rides along): done, no more hops.
    const answered = this.writer.appended !== this.#rxMark;
    if (!answered && --this.#nudgeHops > 0) {
      queueMicrotask(this.#nudgeTick);
      return;
    }
    this.#nudging = false;
    if (answered || this.closed || this.halted) return;
    if (!this.#core.awaiting) return;
    this.nudgeBudget--;
    this.ping();
    this.ka.pinged();
  }

  /**
   * Pauses reading while a `"block"` subscription is full, unless the client
   * waits for the broker to answer something (a QoS 1/2 publish, a SUBSCRIBE,
   * re-authentication): then it keeps reading, so a consumer that publishes
   * before it acks never deadlocks. Resumes when neither holds.
   */
  updateReading(): void {
    if (this.closed || this.connack === null) return;
    const core = this.#core;
    const pause = core.subs.blocked.size > 0 && !core.awaiting && this.reauth === undefined;
    if (pause === this.paused) return;
    this.paused = pause;
    if (pause) {
      this.conn.pause?.();
      return;
    }
    this.conn.resume?.();
    if (this.#held !== undefined && !this.#draining) {
      this.#draining = true;
      // Never inside the consumer's dequeue that released it: from a microtask.
      queueMicrotask(() => this.#drainHeld());
    }
  }

  /** Processes the chunks held while reading was paused, until done or paused again. */
  #drainHeld(): void {
    this.#draining = false;
    const held = this.#held;
    if (held === undefined) return;
    // #consume / #handle put what a new pause leaves back at the front of `#held`.
    this.#held = undefined;
    let i = 0;
    while (i < held.length && !this.paused && !this.closed && !this.halted) {
      const item = held[i];
      held[i++] = undefined as never;
      if (item instanceof Uint8Array) {
        this.#consume(item);
      } else {
        this.ka.received();
        this.#handle(item);
      }
    }
    if (this.closed || this.halted) {
      this.#held = undefined;
    } else if (i < held.length) {
      const rest = held.slice(i);
      this.#held = this.#held === undefined ? rest : [...this.#held, ...rest];
    }
  }
}
