/**
 * The state every room of the client shares: the options, the lifecycle
 * state, the live connection, the session engines and the status streams.
 * `Client` builds one {@linkcode Core} and hands it to each room
 * (`handshake.ts`, `supervisor.ts`, `subscriptions.ts`, ...); the rooms reach
 * each other through it. Internal: nothing here is exported from `mod.ts`.
 *
 * @module
 */

import type { Inbound } from "../session/inbound.ts";
import type { Outbound, OutFlow } from "../session/outbound.ts";
import type { PacketIds } from "../session/packet_ids.ts";
import type { Packet, PublishPacket, SubackPacket, UnsubackPacket } from "../wire/types.ts";
import { MqttError } from "../errors.ts";
import { toError } from "../_internal/error.ts";
import type { Backoff } from "./backoff.ts";
import type { Link } from "./connection.ts";
import type { ClientOptions, Logger, ResolvedOptions } from "./options.ts";
import type { StatusEvent, StatusStream } from "./status.ts";
import type { ConnackInfo, PublishResult, Stats } from "./types.ts";
import type { Auth } from "./auth.ts";
import type { Handshake } from "./handshake.ts";
import type { Persistence } from "./persistence.ts";
import type { Pool } from "./pool.ts";
import type { RateLimiter } from "./rate_limit.ts";
import type { Subscriptions } from "./subscriptions.ts";
import type { Supervisor } from "./supervisor.ts";
import type { Watchdog } from "./watchdog.ts";
import * as ClientState from "./_client_state.ts";

/** Where the client is in its life: {@linkcode ClientState} (constants in _client_state.ts). */
type ClientState = typeof ClientState[keyof typeof ClientState];
export * as ClientState from "./_client_state.ts";

/** An outbound QoS 1/2 publish owned by the session, with its caller's promise. */
export interface OutEntry extends OutFlow {
  /** Resolves the caller's promise. */
  resolve: (r: PublishResult) => void;
  /** Rejects the caller's promise. */
  reject: (e: Error) => void;
  /** The promise publish() returned, marked handled when disconnect() rejects it. */
  promise?: Promise<PublishResult>;
}

/** A SUBSCRIBE / UNSUBSCRIBE awaiting its ack. */
export interface Request {
  /** The packet (re-sent on every new connection until answered). */
  packet: Packet & { packetId: number };
  /** Settles the caller with the ack. */
  resolve: (p: SubackPacket | UnsubackPacket) => void;
  /** Settles the caller with an error. */
  reject: (e: Error) => void;
}

/** Does nothing: a handler for promises whose rejection is handled elsewhere. */
export const noop = (): void => {};

/** Fresh, zeroed counters. */
export function newStats(): Stats {
  return {
    connects: 0,
    connectFailures: 0,
    disconnects: 0,
    serverDisconnects: 0,
    pingTimeouts: 0,
    publishesSent: 0,
    publishesAcked: 0,
    publishesInflight: 0,
    publishesReplayed: 0,
    inboundPublishes: 0,
    inboundDropped: 0,
    inboundBlocked: 0,
    subscriptionsBlocked: 0,
    unackedWarnings: 0,
    receiveMaximumExceeded: 0,
    subscribesSent: 0,
    unsubscribesSent: 0,
    subscriptionsActive: 0,
    poolFallbacks: 0,
  };
}

/** The shared state of one client, and the rooms that work on it. */
export class Core {
  /** The options, resolved and checked. */
  readonly o: ResolvedOptions;
  /** The options as given (callbacks, store, authenticator). */
  readonly options: ClientOptions;
  /** The logger, if any. */
  readonly log: Logger | undefined;
  /** The counters, or null without `stats: true`. */
  readonly stats: Stats | null;
  /** Delay before each reconnect attempt. */
  readonly backoff: Backoff;
  /** Where the client is in its life. */
  state: ClientState = ClientState.Idle;
  /** The connection being set up or up, if any. */
  link: Link | null = null;
  /** The CONNACK of the current (or last) connection. */
  connack: ConnackInfo | null = null;
  /** The client identifier in effect (the broker's, when it assigned one). */
  clientId: string;
  /** A connection was up once: later CONNECTs use `clientId`. */
  firstConnectDone = false;
  /** SUBSCRIBE / UNSUBSCRIBE awaiting their acks, by packet id. */
  readonly requests = new Map<number, Request>();
  /** `request()` calls waiting for their reply: a message the broker is to send. */
  replies = 0;
  /** Readers of status events. */
  readonly statusStreams = new Set<StatusStream>();
  /** Public calls in progress, marked handled if disconnect() ends them. */
  readonly calls = new Set<Promise<unknown>>();
  /**
   * Sees each inbound PUBLISH the session lets through, before it is routed
   * (the ./otel entry's receive spans, src/otel); null, the default, costs the
   * read path one check.
   */
  tap: ((topic: string, packet: PublishPacket) => void) | null = null;

  // The session engines (src/session), set by Client.
  /** Outbound QoS 1/2 flows. */
  out!: Outbound<OutEntry>;
  /** Inbound QoS 1/2 states and the §4.6 ack order. */
  in!: Inbound;
  /** Packet identifiers (shared by publishes and requests). */
  ids!: PacketIds;

  // The rooms, set by Client.
  /** Connect, reconnect, connection loss. */
  supervisor!: Supervisor;
  /** CONNECT / CONNACK. */
  handshake!: Handshake;
  /** The subscription registry and inbound routing. */
  subs!: Subscriptions;
  /** Unacked messages and blocked subscriptions, reported. */
  watchdog!: Watchdog;
  /** Enhanced authentication. */
  auth!: Auth;
  /** The session store's write-ahead. */
  persistence!: Persistence;
  /** The publisher pool. */
  pool!: Pool;
  /** `rateLimit`'s token buckets, if set. */
  limiter: RateLimiter | undefined;

  /**
   * @param o The resolved options.
   * @param options The options as given.
   * @param backoff The reconnect backoff.
   * @param stats Counters, or null.
   */
  constructor(o: ResolvedOptions, options: ClientOptions, backoff: Backoff, stats: Stats | null) {
    this.o = o;
    this.options = options;
    this.log = options.logger;
    this.backoff = backoff;
    this.stats = stats;
    this.clientId = o.clientId;
  }

  /**
   * Sends an event to every status reader.
   *
   * @param e The event.
   */
  emit(e: StatusEvent): void {
    for (const s of this.statusStreams) s.push(e);
  }

  /**
   * Calls one of the application's observers; what it throws is logged, never
   * allowed to break the client.
   *
   * @param name The option's name, for the log.
   * @param call Calls it.
   * @returns What it returned, or undefined when it threw.
   */
  observe<T>(name: string, call: () => T): T | undefined {
    try {
      return call();
    } catch (e) {
      this.log?.error(`${name} threw`, { error: toError(e).message });
      return undefined;
    }
  }

  /**
   * Tracks a public call in progress: if disconnect() ends it, its rejection
   * is marked handled, so a program that never awaited it does not crash.
   *
   * @param run The call.
   * @returns Its promise.
   */
  track<T>(run: () => Promise<T>): Promise<T> {
    const calls = this.calls;
    // No then() on the result: that would mark every rejection handled, not only ours.
    // deno-lint-ignore prefer-const -- assigned once; `finally` reads it later, which tsc cannot see
    let p!: Promise<T>;
    p = (async () => {
      try {
        return await run();
      } finally {
        calls.delete(p);
      }
    })();
    calls.add(p);
    return p;
  }

  /**
   * Whether the client waits for the broker to answer something: an ack, or a
   * reply to `request()`. Reading then goes on (a full `"block"` subscription
   * must not hold back what is awaited), and a read that the application does
   * not answer is followed by a nudge (see `Link`).
   */
  get awaiting(): boolean {
    return this.out.window > 0 || this.requests.size > 0 || this.replies > 0;
  }

  /**
   * A `request()` starts or stops waiting for its reply.
   *
   * @param delta +1 or -1.
   */
  awaitReply(delta: 1 | -1): void {
    this.replies += delta;
    // Reading paused for a full subscription resumes while a reply is awaited (and may
    // pause again after).
    if (this.subs.blocked.size !== 0) this.link?.updateReading();
  }

  /** The error for a call after disconnect(). */
  closedError(): MqttError {
    return new MqttError("closed", "client was disconnected");
  }
}
