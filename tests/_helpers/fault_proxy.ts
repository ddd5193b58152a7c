// A TCP relay between a client and a broker that injects faults: cut every
// connection, refuse new ones for a while, silently drop MQTT packets of one
// type in either direction, and cut at random intervals.
//
//   await using broker = await startBroker();
//   await using proxy = await startFaultProxy(broker.url);
//   const client = new Client({ broker: proxy.url });
//   proxy.dropBrokerPackets(PacketType.Puback); // withhold PUBACKs
//   proxy.cutAll();                             // both sockets of every relay destroyed
//   proxy.refuseUntilResumed(); ... proxy.resume();
//
// Both byte streams are framed into MQTT packets with the codec's fixed-header
// rules (type nibble, flags nibble, Remaining Length as a variable byte
// integer [MQTT-1.5.5]); packets are forwarded unchanged, except the ones of a
// dropped type. `onPacket()` observes every packet, dropped or not, in the
// order the proxy saw them (`seq`), so a test can check flags (DUP) and
// ordering on a given connection.
//
// Runtime-neutral: node:net serves `deno test` (sanitizers on: dispose waits
// for every socket and the listener to close) and `bun test`.

import { connect as netConnect, createServer, type Server, type Socket } from "node:net";
import { Prng } from "./prng.ts";

const HOST = "127.0.0.1";

/** Which way a packet travelled. */
export type Direction = "client" | "broker";

/** One MQTT packet the proxy framed. */
export interface ObservedPacket {
  /** Global order of observation across all connections and both directions. */
  readonly seq: number;
  /** The relay it travelled on: 1 for the first accepted connection, 2 for the next, ... */
  readonly connection: number;
  /** `"client"`: client -> broker; `"broker"`: broker -> client. */
  readonly from: Direction;
  /** The MQTT control packet type (1 CONNECT ... 15 AUTH). */
  readonly type: number;
  /** The low nibble of the first byte (PUBLISH: DUP 0x8, QoS 0x6, RETAIN 0x1). */
  readonly flags: number;
  /** The packet identifier for PUBLISH QoS > 0, PUBACK..PUBCOMP, SUBSCRIBE..UNSUBACK; else undefined. */
  readonly packetId: number | undefined;
  /** Whether the proxy dropped it instead of forwarding it. */
  readonly dropped: boolean;
  /** The whole packet (fixed header included). Valid during the callback only. */
  readonly bytes: Uint8Array;
}

/** Options of {@linkcode FaultProxy.randomCuts}. */
export interface RandomCutsOptions {
  /** Shortest wait between cuts, ms. */
  minMs: number;
  /** Longest wait between cuts, ms. */
  maxMs: number;
  /** Stops cutting; the returned promise then resolves. */
  signal: AbortSignal;
  /** Seed for the intervals. @default {Date.now()} */
  seed?: number;
}

/** A relay in both directions: one accepted client socket and its upstream socket. */
interface Relay {
  id: number;
  client: Socket;
  upstream: Socket;
}

/** Frames a byte stream into MQTT packets; keeps a partial packet across chunks. */
class Framer {
  #rest: Uint8Array | undefined;
  /** The stream broke the framing rules: pass everything through unparsed. */
  broken = false;

  /**
   * Splits `chunk` (prefixed by any partial packet from before) into packets;
   * calls `onPacket(buffer, start, end)` for each complete one. Returns the
   * buffer the offsets refer to and the offset where the unconsumed tail starts.
   */
  push(
    chunk: Uint8Array,
    onPacket: (buf: Uint8Array, start: number, end: number) => void,
  ): { buf: Uint8Array; consumed: number } {
    let buf = chunk;
    if (this.#rest !== undefined) {
      buf = new Uint8Array(this.#rest.length + chunk.length);
      buf.set(this.#rest);
      buf.set(chunk, this.#rest.length);
      this.#rest = undefined;
    }
    let pos = 0;
    while (pos < buf.length) {
      // Remaining Length: at most 4 bytes of 7 bits each [MQTT-1.5.5-1].
      let len = 0;
      let mul = 1;
      let i = pos + 1;
      let complete = false;
      for (let k = 0; k < 4 && i < buf.length; k++, i++) {
        const b = buf[i];
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
        if (k === 3) {
          this.broken = true;
          return { buf, consumed: pos };
        }
      }
      if (!complete || i + len > buf.length) break;
      onPacket(buf, pos, i + len);
      pos = i + len;
    }
    if (pos < buf.length) this.#rest = buf.slice(pos);
    return { buf, consumed: pos };
  }
}

function packetIdOf(buf: Uint8Array, start: number, end: number): number | undefined {
  const type = buf[start] >> 4;
  let h = start + 1;
  while (h < end && (buf[h] & 0x80) !== 0) h++;
  h++; // past the last Remaining Length byte
  if (type === 3) {
    if (((buf[start] >> 1) & 3) === 0) return undefined;
    if (h + 2 > end) return undefined;
    const topicLength = (buf[h] << 8) | buf[h + 1];
    h += 2 + topicLength;
  } else if (type < 4 || type > 11) {
    return undefined;
  }
  return h + 2 <= end ? (buf[h] << 8) | buf[h + 1] : undefined;
}

/**
 * A running fault-injecting relay, from {@linkcode startFaultProxy}. Dispose
 * it (`await using`) to close every socket and the listener.
 */
export class FaultProxy implements AsyncDisposable {
  /** `mqtt://127.0.0.1:<port>`: give it to the client instead of the broker's URL. */
  readonly url: string;
  readonly host = HOST;
  readonly port: number;
  /** Connections accepted and relayed to the broker. */
  connections = 0;
  /** Relays destroyed by {@linkcode FaultProxy.cutAll} (and random cuts). */
  cuts = 0;
  /** Times {@linkcode FaultProxy.cutAll} (or a random cut) ran. */
  cutEvents = 0;
  /** Connections closed on arrival because the proxy was refusing. */
  refusals = 0;
  /** Packets dropped, per direction. */
  readonly droppedPackets: Record<Direction, number> = { client: 0, broker: 0 };

  #server: Server;
  #target: { host: string; port: number };
  #relays = new Set<Relay>();
  /** Every socket not yet closed (relays that are half-closed included). */
  #sockets = new Set<Socket>();
  #closing = new Set<Promise<void>>();
  #refuseUntil = 0;
  #refuseForever = false;
  #drop: Record<Direction, number | null> = { client: null, broker: null };
  #listeners = new Set<(p: ObservedPacket) => void>();
  #seq = 0;
  #disposed = false;
  #randomStops = new Set<() => void>();

  /** @internal Use {@linkcode startFaultProxy}. */
  constructor(server: Server, port: number, target: { host: string; port: number }) {
    this.#server = server;
    this.port = port;
    this.url = `mqtt://${HOST}:${port}`;
    this.#target = target;
    server.on("connection", (socket: Socket) => this.#accept(socket));
  }

  /** Relays open right now. */
  get open(): number {
    return this.#relays.size;
  }

  /** Whether new connections are being refused right now. */
  get refusing(): boolean {
    return this.#refuseForever || Date.now() < this.#refuseUntil;
  }

  /** Changes where new relays connect to (existing ones keep their broker). */
  retarget(url: string): void {
    this.#target = parseTarget(url);
  }

  /**
   * Destroys every relayed connection now (both sockets, without flushing).
   *
   * @returns How many relays were cut.
   */
  cutAll(): number {
    this.cutEvents++;
    let n = 0;
    for (const r of [...this.#relays]) {
      this.#relays.delete(r);
      r.client.destroy();
      r.upstream.destroy();
      n++;
    }
    this.cuts += n;
    return n;
  }

  /** Closes new connections on arrival for the next `ms` milliseconds. */
  refuse(ms: number): void {
    this.#refuseUntil = Math.max(this.#refuseUntil, Date.now() + ms);
  }

  /** Closes new connections on arrival until {@linkcode FaultProxy.resume}. */
  refuseUntilResumed(): void {
    this.#refuseForever = true;
  }

  /** Accepts new connections again (ends `refuse` and `refuseUntilResumed`). */
  resume(): void {
    this.#refuseForever = false;
    this.#refuseUntil = 0;
  }

  /** Drops client -> broker packets of MQTT type `type` (null: drop nothing). */
  dropClientPackets(type: number | null): void {
    this.#drop.client = type;
  }

  /** Drops broker -> client packets of MQTT type `type` (null: drop nothing). */
  dropBrokerPackets(type: number | null): void {
    this.#drop.broker = type;
  }

  /**
   * Calls `listener` for every packet framed in either direction.
   *
   * @returns A function that removes the listener.
   */
  onPacket(listener: (p: ObservedPacket) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Cuts every connection at random intervals in `[minMs, maxMs]` until
   * `signal` aborts (or the proxy is disposed).
   *
   * @returns Resolves when cutting has stopped.
   */
  randomCuts(options: RandomCutsOptions): Promise<void> {
    const { minMs, maxMs, signal } = options;
    if (!(minMs >= 0) || !(maxMs >= minMs)) {
      throw new RangeError(`randomCuts needs 0 <= minMs <= maxMs, got ${minMs}..${maxMs}`);
    }
    const rng = new Prng(options.seed ?? Date.now());
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stop = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", stop);
        this.#randomStops.delete(stop);
        resolve();
      };
      if (signal.aborted || this.#disposed) return resolve();
      signal.addEventListener("abort", stop, { once: true });
      this.#randomStops.add(stop);
      const schedule = () => {
        timer = setTimeout(() => {
          this.cutAll();
          schedule();
        }, minMs + Math.floor(rng.next() * (maxMs - minMs + 1)));
      };
      schedule();
    });
  }

  /** Stops random cuts, destroys every relay, closes the listener and waits for all of it. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const stop of [...this.#randomStops]) stop();
    this.#listeners.clear();
    const serverClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#relays.clear();
    for (const s of [...this.#sockets]) s.destroy();
    await serverClosed;
    while (this.#closing.size > 0) await Promise.all([...this.#closing]);
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    const closed = new Promise<void>((resolve) => {
      socket.once("close", () => {
        this.#sockets.delete(socket);
        resolve();
      });
    });
    this.#closing.add(closed);
    closed.then(() => this.#closing.delete(closed));
  }

  #accept(client: Socket): void {
    this.#track(client);
    client.on("error", () => client.destroy());
    if (this.#disposed || this.refusing) {
      this.refusals++;
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    this.connections++;
    const id = this.connections;
    const upstream = netConnect({ host: this.#target.host, port: this.#target.port });
    this.#track(upstream);
    upstream.setNoDelay(true);
    const relay: Relay = { id, client, upstream };
    this.#relays.add(relay);
    const teardown = () => {
      this.#relays.delete(relay);
      client.destroy();
      upstream.destroy();
    };
    upstream.on("error", teardown);
    client.on("error", teardown);
    this.#pipe(relay, "client", client, upstream, teardown);
    this.#pipe(relay, "broker", upstream, client, teardown);
  }

  #pipe(relay: Relay, from: Direction, src: Socket, dst: Socket, teardown: () => void): void {
    const framer = new Framer();
    let paused = false;
    // Half-close travels across (a client's DISCONNECT then FIN reaches the broker).
    src.on("end", () => {
      if (!dst.destroyed) dst.end();
    });
    src.on("close", () => {
      this.#relays.delete(relay);
      // After a clean end the other side flushes and closes on its own; otherwise cut it.
      if (!dst.destroyed && !dst.writableEnded) teardown();
    });
    src.on("data", (data: Uint8Array) => {
      if (dst.destroyed) return;
      const chunk = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      let ok = true;
      if (framer.broken) {
        ok = dst.write(chunk);
      } else {
        const dropType = this.#drop[from];
        const kept: [number, number][] = [];
        let anyDropped = false;
        const { buf, consumed } = framer.push(chunk, (b, start, end) => {
          const type = b[start] >> 4;
          const dropped = dropType !== null && type === dropType;
          if (dropped) {
            anyDropped = true;
            this.droppedPackets[from]++;
          } else {
            kept.push([start, end]);
          }
          if (this.#listeners.size > 0) {
            const p: ObservedPacket = {
              seq: ++this.#seq,
              connection: relay.id,
              from,
              type,
              flags: b[start] & 0x0f,
              packetId: packetIdOf(b, start, end),
              dropped,
              bytes: b.subarray(start, end),
            };
            for (const l of this.#listeners) l(p);
          }
        });
        // A framing error: forward what was not consumed and stop parsing.
        const tail = framer.broken ? buf.slice(consumed) : undefined;
        if (!anyDropped) {
          if (consumed > 0) ok = dst.write(buf.subarray(0, consumed));
        } else {
          for (const [s, e] of kept) ok = dst.write(buf.subarray(s, e)) && ok;
        }
        if (tail !== undefined && tail.length > 0) ok = dst.write(tail) && ok;
      }
      if (!ok && !paused) {
        paused = true;
        src.pause();
        dst.once("drain", () => {
          paused = false;
          src.resume();
        });
      }
    });
  }
}

function parseTarget(target: string | { host?: string; port: number }): {
  host: string;
  port: number;
} {
  if (typeof target !== "string") return { host: target.host ?? HOST, port: target.port };
  const u = new URL(target);
  const port = Number(u.port === "" ? 1883 : u.port);
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  return { host, port };
}

/**
 * Starts a {@linkcode FaultProxy} on a free loopback port, relaying to `target`.
 *
 * @param target The broker: an `mqtt://host:port` URL or `{ host, port }`.
 * @returns The listening proxy; dispose it (`await using`) to close everything.
 */
export async function startFaultProxy(
  target: string | { host?: string; port: number },
): Promise<FaultProxy> {
  const server = createServer();
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    });
  });
  return new FaultProxy(server, port, parseTarget(target));
}
