// A scripted fake MQTT v5 broker over in-memory pipes, for the behaviours a
// real mosquitto will not produce (malformed packets, protocol violations,
// withheld or reordered acks, odd CONNACK capabilities).
//
//   await using broker = new FakeBroker({ connack: { properties: { maximumQoS: 1 } } });
//   const client = new Client({ broker: "mqtt://fake:1883", dial: broker.dial });
//   await client.connect();
//   const conn = await broker.nextConnection();
//   const sub = await conn.expect(PacketType.Subscribe);
//   conn.send({ type: PacketType.Suback, packetId: sub.packetId, reasonCodes: [0] });
//
// By default the broker answers CONNECT with a CONNACK (reason 0, no session,
// no properties) and PINGREQ with PINGRESP; SUBSCRIBE, UNSUBSCRIBE and
// PUBLISH acks are answered only when asked for. Everything else is left to
// the test: packets no auto-answer handled queue up for conn.expect() /
// conn.next(); conn.received has every packet.
//
// Runtime-neutral: runs under `deno test` and `bun test`.

import type { DialFunc } from "../../src/transport/types.ts";
import {
  type ConnackPacket,
  type ConnackProperties,
  type ConnectPacket,
  type Packet,
  PacketType,
  type PublishPacket,
  type SubscribePacket,
  type UnsubscribePacket,
} from "../../src/wire/mod.ts";
import { memoryDial, type ScriptConn } from "./memory_pipe.ts";

export { ScriptConn } from "./memory_pipe.ts";
export type { PacketOf } from "./memory_pipe.ts";

/** What the broker answers a CONNECT with; missing fields mean success. */
export interface ConnackReply {
  sessionPresent?: boolean;
  reasonCode?: number;
  properties?: ConnackProperties;
}

/** Options of {@linkcode FakeBroker}. */
export interface FakeBrokerOptions {
  /**
   * The CONNACK for each CONNECT: an object, or a function of the CONNECT and
   * the connection's index returning one (or `undefined` to leave that
   * connection's CONNACK to the test). `false`: never answer CONNECT.
   * @default {{}} (success, no session, no properties)
   */
  connack?:
    | ConnackReply
    | false
    | ((connect: ConnectPacket, conn: ScriptConn) => ConnackReply | undefined);
  /** Answer PINGREQ with PINGRESP. @default {true} */
  autoPingresp?: boolean;
  /**
   * Answer SUBSCRIBE with a SUBACK: `true` grants each filter its QoS; a
   * function returns the reason codes. @default {false}
   */
  autoAckSubscribe?: boolean | ((subscribe: SubscribePacket) => number[]);
  /** Answer UNSUBSCRIBE with an UNSUBACK (all 0x00). @default {false} */
  autoAckUnsubscribe?: boolean;
  /**
   * Answer QoS 1 PUBLISH with PUBACK and QoS 2 PUBLISH with PUBREC (the
   * function gives the reason code), and PUBREL with PUBCOMP. @default {false}
   */
  autoAckPublish?: boolean | ((publish: PublishPacket) => number);
  /** Default timeout of conn.expect()/next()/waitFor() and nextConnection(), ms. @default {1000} */
  timeoutMs?: number;
}

/**
 * A scripted broker. Give `broker.dial` to a Client; every dial is one
 * {@linkcode ScriptConn}, handed out in order by
 * {@linkcode FakeBroker.nextConnection}.
 */
export class FakeBroker implements AsyncDisposable {
  /** Every connection ever dialled, in order. */
  readonly connections: ScriptConn[] = [];
  /** The DialFunc to give the client. */
  readonly dial: DialFunc;
  readonly options: FakeBrokerOptions;
  #cursor = 0;
  #waiters: ((c: ScriptConn) => void)[] = [];

  constructor(options: FakeBrokerOptions = {}) {
    this.options = options;
    this.dial = memoryDial((conn) => this.#accept(conn), { timeoutMs: options.timeoutMs });
  }

  /** How many times the client dialled. */
  get dials(): number {
    return this.connections.length;
  }

  /**
   * The next connection not yet handed out (waits for the client to dial).
   *
   * @param timeoutMs How long to wait. @default {options.timeoutMs ?? 1000}
   */
  nextConnection(timeoutMs = this.options.timeoutMs ?? 1000): Promise<ScriptConn> {
    if (this.#cursor < this.connections.length) {
      return Promise.resolve(this.connections[this.#cursor++]);
    }
    return new Promise((resolve, reject) => {
      const waiter = (c: ScriptConn) => {
        clearTimeout(timer);
        resolve(c);
      };
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(
          new Error(
            `Timed out after ${timeoutMs} ms waiting for connection #${
              this.#cursor + 1
            } (dials so far: ${this.connections.length})`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Closes every open connection. */
  close(): void {
    for (const c of this.connections) if (!c.server.closed) c.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await Promise.all(this.connections.map((c) => c.closed));
  }

  #accept(conn: ScriptConn): void {
    conn.handler = (p, c) => this.#handle(p, c);
    this.connections.push(conn);
    const w = this.#waiters.shift();
    if (w !== undefined) {
      this.#cursor++;
      w(conn);
    }
  }

  #handle(p: Packet, conn: ScriptConn): boolean {
    const o = this.options;
    switch (p.type) {
      case PacketType.Connect: {
        const spec = o.connack ?? {};
        if (spec === false) return false;
        const reply = typeof spec === "function" ? spec(p, conn) : spec;
        if (reply === undefined) return false;
        const connack: ConnackPacket = {
          type: PacketType.Connack,
          sessionPresent: reply.sessionPresent ?? false,
          reasonCode: reply.reasonCode ?? 0,
          properties: reply.properties ?? {},
        };
        conn.send(connack);
        return true;
      }
      case PacketType.Pingreq:
        if (o.autoPingresp === false) return false;
        conn.send({ type: PacketType.Pingresp });
        return true;
      case PacketType.Subscribe: {
        const auto = o.autoAckSubscribe;
        if (auto === undefined || auto === false) return false;
        const reasonCodes = typeof auto === "function" ? auto(p) : p.filters.map((f) => f.qos);
        conn.send({ type: PacketType.Suback, packetId: p.packetId, reasonCodes });
        return true;
      }
      case PacketType.Unsubscribe: {
        if (!o.autoAckUnsubscribe) return false;
        const u = p as UnsubscribePacket;
        conn.send({
          type: PacketType.Unsuback,
          packetId: u.packetId,
          reasonCodes: u.topics.map(() => 0),
        });
        return true;
      }
      case PacketType.Publish: {
        const auto = o.autoAckPublish;
        if (auto === undefined || auto === false || p.qos === 0) return false;
        const reasonCode = typeof auto === "function" ? auto(p) : 0;
        conn.send({
          type: p.qos === 1 ? PacketType.Puback : PacketType.Pubrec,
          packetId: p.packetId!,
          reasonCode,
        });
        return true;
      }
      case PacketType.Pubrel:
        if (o.autoAckPublish === undefined || o.autoAckPublish === false) return false;
        conn.send({ type: PacketType.Pubcomp, packetId: p.packetId });
        return true;
      default:
        return false;
    }
  }
}
