// An in-memory duplex byte pipe that meets the Connection contract of
// src/transport/types.ts, and ScriptConn, the server side of one pipe that
// speaks MQTT packets (for the scripted broker in fake_broker.ts).
//
//   const [client, server] = memoryPipe();
//   const dial = memoryDial((conn) => { ... conn.expect(PacketType.Connect) ... });
//
// Contract points the pipe keeps, so that the client is tested against a
// transport as strict as a real one:
// - every write is copied, and the copy is delivered to the other end
//   asynchronously (in a microtask), in order; a delivered chunk is never
//   touched again;
// - chunks written before the other end called start() wait for it;
// - close() on either end is idempotent and leads to onClose on both ends,
//   exactly once each, after the data already written has been delivered to
//   the end that did not close; onData never follows onClose;
// - a write on a closed pipe rejects;
// - writes can be held (holdWrites/releaseWrites) to model a runtime that has
//   not taken the bytes yet: a held write's promise stays pending and its
//   bytes are not delivered until released.
//
// Runtime-neutral: no Deno.*, Bun.* or node:* APIs.

import type { Connection, DialFunc } from "../../src/transport/types.ts";
import { encodePacket, type Packet, PacketDecoder, PacketType } from "../../src/wire/mod.ts";
import type { ConnectPacket } from "../../src/wire/mod.ts";

/** The error a write on a closed pipe rejects with. */
export class PipeClosedError extends Error {
  constructor(message = "memory pipe is closed") {
    super(message);
    this.name = "PipeClosedError";
  }
}

interface HeldWrite {
  data: Uint8Array;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** One end of a {@linkcode memoryPipe}. */
export class PipeEnd implements Connection {
  #peer!: PipeEnd;
  #onData: ((chunk: Uint8Array) => void) | undefined;
  #onClose: ((error?: Error) => void) | undefined;
  #started = false;
  /** close() was called on this end or its peer. */
  #closed = false;
  #closeError: Error | undefined;
  #closeNotified = false;
  #incoming: Uint8Array[] = [];
  #drainScheduled = false;
  #hold = false;
  #held: HeldWrite[] = [];
  #closedPromise: Promise<void>;
  #resolveClosed!: () => void;

  /** Bytes this end has written (and had delivered or held). */
  bytesWritten = 0;
  /** write() calls on this end. */
  writes = 0;
  /** Name, for messages. */
  readonly name: string;

  constructor(name: string) {
    this.name = name;
    this.#closedPromise = new Promise((resolve) => this.#resolveClosed = resolve);
  }

  /** @internal */
  static pair(a: PipeEnd, b: PipeEnd): void {
    a.#peer = b;
    b.#peer = a;
  }

  /** Whether the pipe was closed (by either end). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves once this end's onClose has been called. */
  get whenClosed(): Promise<void> {
    return this.#closedPromise;
  }

  /** Writes currently held by {@linkcode PipeEnd.holdWrites}. */
  get heldWrites(): number {
    return this.#held.length;
  }

  start(onData: (chunk: Uint8Array) => void, onClose: (error?: Error) => void): void {
    if (this.#started) throw new Error(`${this.name}: start() called twice`);
    this.#started = true;
    this.#onData = onData;
    this.#onClose = onClose;
    this.#scheduleDrain();
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new PipeClosedError(`${this.name}: write after close`));
    if (!(data instanceof Uint8Array)) {
      return Promise.reject(new TypeError(`${this.name}: write() needs a Uint8Array`));
    }
    this.writes++;
    const copy = data.slice(); // the caller may reuse `data` once we resolve
    if (this.#hold) {
      return new Promise<void>((resolve, reject) => {
        this.#held.push({ data: copy, resolve, reject });
      });
    }
    this.#transmit(copy);
    return Promise.resolve();
  }

  close(): void {
    this.#shutdown(undefined, true);
  }

  /**
   * Breaks the pipe with an error: both ends see onClose(error). Models a
   * reset connection.
   */
  destroy(error: Error = new PipeClosedError("memory pipe reset")): void {
    this.#shutdown(error, true);
  }

  /** From now on, write() promises stay pending and their bytes wait. */
  holdWrites(): void {
    this.#hold = true;
  }

  /** Delivers the held writes in order, resolves their promises, and stops holding. */
  releaseWrites(): void {
    this.#hold = false;
    this.releaseOne(Infinity);
  }

  /**
   * Completes up to `n` held writes (in order) and keeps holding the rest and
   * any new ones.
   *
   * @returns How many writes were released.
   */
  releaseOne(n = 1): number {
    let done = 0;
    while (done < n && this.#held.length > 0) {
      const w = this.#held.shift()!;
      if (this.#closed) {
        w.reject(new PipeClosedError(`${this.name}: closed while the write was held`));
      } else {
        this.#transmit(w.data);
        w.resolve();
      }
      done++;
    }
    return done;
  }

  #transmit(copy: Uint8Array): void {
    this.bytesWritten += copy.length;
    const peer = this.#peer;
    peer.#incoming.push(copy);
    peer.#scheduleDrain();
  }

  #shutdown(error: Error | undefined, initiator: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    if (initiator) {
      // Bytes in flight towards the end that closed are lost; the other end
      // still receives what was written before the close.
      this.#incoming = [];
      this.#peer.#shutdown(error, false);
    }
    const held = this.#held;
    this.#held = [];
    for (const w of held) {
      w.reject(new PipeClosedError(`${this.name}: closed while the write was held`));
    }
    this.#scheduleDrain();
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    queueMicrotask(() => {
      this.#drainScheduled = false;
      this.#drain();
    });
  }

  #drain(): void {
    if (this.#started) {
      while (this.#incoming.length > 0 && !this.#closeNotified) {
        const chunk = this.#incoming.shift()!;
        this.#onData!(chunk);
      }
    }
    // onClose is owed only to an end that was started; a later start() delivers it.
    if (this.#started && this.#closed && !this.#closeNotified && this.#incoming.length === 0) {
      this.#closeNotified = true;
      this.#onClose!(this.#closeError);
      this.#resolveClosed();
    }
  }
}

/**
 * Creates a connected pair of in-memory pipe ends.
 *
 * @returns `[clientEnd, serverEnd]`.
 */
export function memoryPipe(): [PipeEnd, PipeEnd] {
  const a = new PipeEnd("client end");
  const b = new PipeEnd("server end");
  PipeEnd.pair(a, b);
  return [a, b];
}

// ---------------------------------------------------------------------------
// ScriptConn: the server side of one connection, at the packet level.

/** A packet of a given type. */
export type PacketOf<T extends PacketType> = Extract<Packet, { type: T }>;

/** Packet type names, for messages. */
export const PACKET_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(PacketType).map(([k, v]) => [v, k.toUpperCase()]),
);

/** Decides what happens to a packet the client sent; returns true when it handled it. */
export type PacketHandler = (packet: Packet, conn: ScriptConn) => boolean;

interface Waiter {
  resolve: (p: Packet) => void;
  reject: (e: Error) => void;
}

const DEFAULT_TIMEOUT_MS = 1000;

function timeoutError(what: string, ms: number, conn: ScriptConn): Error {
  const seen = conn.received.map((p) => PACKET_NAMES[p.type]).join(", ") || "nothing";
  return new Error(`Timed out after ${ms} ms waiting for ${what} (received so far: ${seen})`);
}

/**
 * The broker side of one client connection: decodes what the client sends,
 * and encodes and writes what the test sends.
 */
export class ScriptConn {
  /** Every packet the client sent on this connection, in order. */
  readonly received: Packet[] = [];
  /** The server end of the pipe. */
  readonly server: PipeEnd;
  /** The client end of the pipe (hold its writes to stall the client's writer). */
  readonly client: PipeEnd;
  /** 0-based index of this connection at its broker. */
  readonly index: number;
  /** Default timeout of expect()/waitFor(), in ms. */
  timeoutMs: number;
  /** Installed by the broker: auto-answers. Packets it handles skip the inbox. */
  handler: PacketHandler | undefined;
  /** Set when the client's bytes did not decode. */
  decodeError: Error | undefined;
  /** Resolves with the client's CONNECT. */
  readonly connect: Promise<ConnectPacket>;
  /** Resolves when the connection has closed (either side). */
  readonly closed: Promise<void>;

  #decoder = new PacketDecoder();
  #inbox: Packet[] = [];
  #waiters: Waiter[] = [];
  #watchers = new Set<() => void>();
  #resolveConnect!: (p: ConnectPacket) => void;
  #isClosed = false;

  constructor(server: PipeEnd, client: PipeEnd, index = 0, timeoutMs = DEFAULT_TIMEOUT_MS) {
    this.server = server;
    this.client = client;
    this.index = index;
    this.timeoutMs = timeoutMs;
    this.connect = new Promise((resolve) => this.#resolveConnect = resolve);
    this.closed = server.whenClosed;
    server.start((chunk) => this.#onData(chunk), () => this.#onClose());
  }

  /** Whether the connection has closed. */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Packets received and not yet taken by expect()/next() (auto-handled ones excluded). */
  get pending(): readonly Packet[] {
    return this.#inbox;
  }

  /** The received packets of one type. */
  all<T extends PacketType>(type: T): PacketOf<T>[] {
    return this.received.filter((p): p is PacketOf<T> => p.type === type);
  }

  /** Encodes `packet` and writes it to the client. */
  send(packet: Packet): void {
    this.sendRaw(encodePacket(packet));
  }

  /** Writes raw bytes to the client (for malformed input). */
  sendRaw(bytes: Uint8Array): void {
    if (this.server.closed) throw new Error("ScriptConn.send: the connection is closed");
    this.server.write(bytes).catch(() => {});
  }

  /** Closes the connection (the client sees its transport close). */
  close(): void {
    this.server.close();
  }

  /**
   * The next packet from the client that no auto-answer handled.
   *
   * @param timeoutMs How long to wait. @default {this.timeoutMs}
   */
  next(timeoutMs = this.timeoutMs): Promise<Packet> {
    if (this.#inbox.length > 0) return Promise.resolve(this.#inbox.shift()!);
    if (this.decodeError) return Promise.reject(this.decodeError);
    if (this.#isClosed) {
      return Promise.reject(new Error("connection closed while waiting for a packet"));
    }
    return new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(w);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(timeoutError("a packet", timeoutMs, this));
      }, timeoutMs);
      const w: Waiter = {
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#waiters.push(w);
    });
  }

  /**
   * The next packet from the client (see {@linkcode ScriptConn.next}),
   * asserting its type.
   */
  async expect<T extends PacketType>(type: T, timeoutMs = this.timeoutMs): Promise<PacketOf<T>> {
    let p: Packet;
    try {
      p = await this.next(timeoutMs);
    } catch (err) {
      throw new Error(`expected ${PACKET_NAMES[type]}: ${(err as Error).message}`, { cause: err });
    }
    if (p.type !== type) {
      throw new Error(
        `expected ${PACKET_NAMES[type]} from the client, got ${PACKET_NAMES[p.type]}: ${
          describe(p)
        }`,
      );
    }
    return p as PacketOf<T>;
  }

  /**
   * Waits until a packet in {@linkcode ScriptConn.received} at index `from` or
   * later (auto-handled ones included) matches `pred`; does not consume it.
   */
  waitFor<P extends Packet = Packet>(
    pred: (p: Packet) => boolean,
    options: { timeoutMs?: number; from?: number; what?: string } = {},
  ): Promise<P> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const from = options.from ?? 0;
    const find = () => {
      for (let i = from; i < this.received.length; i++) {
        if (pred(this.received[i])) return this.received[i] as P;
      }
      return undefined;
    };
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<P>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#watchers.delete(check);
      };
      const check = () => {
        const p = find();
        if (p !== undefined) {
          done();
          resolve(p);
        } else if (this.#isClosed || this.decodeError) {
          done();
          reject(
            new Error(
              `connection closed while waiting for ${options.what ?? "a matching packet"}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        this.#watchers.delete(check);
        reject(timeoutError(options.what ?? "a matching packet", timeoutMs, this));
      }, timeoutMs);
      this.#watchers.add(check);
    });
  }

  /** Waits for the next packet of `type` in received (auto-handled included), from index `from`. */
  waitForType<T extends PacketType>(
    type: T,
    options: { timeoutMs?: number; from?: number } = {},
  ): Promise<PacketOf<T>> {
    return this.waitFor<PacketOf<T>>((p) => p.type === type, {
      ...options,
      what: PACKET_NAMES[type],
    });
  }

  #onData(chunk: Uint8Array): void {
    if (this.decodeError) return;
    let packets: Packet[];
    try {
      packets = this.#decoder.push(chunk);
    } catch (err) {
      this.decodeError = new Error(`the client sent bytes that do not decode: ${err}`, {
        cause: err,
      });
      for (const w of this.#waiters.splice(0)) w.reject(this.decodeError);
      this.#notifyWatchers();
      return;
    }
    for (const p of packets) {
      this.received.push(p);
      if (p.type === PacketType.Connect) this.#resolveConnect(p);
      let handled = false;
      if (this.handler !== undefined && !this.server.closed) handled = this.handler(p, this);
      if (!handled) {
        const w = this.#waiters.shift();
        if (w !== undefined) w.resolve(p);
        else this.#inbox.push(p);
      }
      this.#notifyWatchers();
    }
  }

  #onClose(): void {
    this.#isClosed = true;
    const err = new Error("connection closed while waiting for a packet");
    for (const w of this.#waiters.splice(0)) w.reject(err);
    this.#notifyWatchers();
  }

  #notifyWatchers(): void {
    for (const check of [...this.#watchers]) check();
  }
}

/** A one-line description of a packet, for assertion messages. */
export function describe(p: Packet): string {
  return JSON.stringify(p, (_k, v) => {
    if (v instanceof Uint8Array) return `bytes(${v.length})`;
    return v;
  });
}

/**
 * A DialFunc whose every dial makes a new in-memory pipe; `onAccept`
 * receives the server side as a {@linkcode ScriptConn} before the client
 * sees its end.
 *
 * @param onAccept Called once per dial with the broker side.
 * @param options `timeoutMs`: default timeout of the ScriptConns' expect().
 */
export function memoryDial(
  onAccept: (server: ScriptConn) => void,
  options: { timeoutMs?: number } = {},
): DialFunc {
  let count = 0;
  return (_url, dialOptions) => {
    if (dialOptions.signal?.aborted) return Promise.reject(dialOptions.signal.reason);
    const [client, server] = memoryPipe();
    const conn = new ScriptConn(server, client, count++, options.timeoutMs);
    onAccept(conn);
    return Promise.resolve(client);
  };
}
