/**
 * The publisher pool: N publish-only connections beside the main one, picked
 * per publish by round-robin or by a hash of the topic.
 *
 * @module
 */

import type { PublishOptions, PublishResult } from "./types.ts";
import { fnv1a32 } from "./_fnv.ts";
import { settledWithin } from "../_internal/async.ts";
import { toError } from "../_internal/error.ts";
import type { Core } from "./core.ts";
import * as ClientState from "./_client_state.ts";
import type { ClientOptions } from "./options.ts";

export type { PoolRoutingPolicy, PublisherPoolOptions } from "./types.ts";
import type { PoolRoutingPolicy } from "./types.ts";

type ClientState = typeof ClientState[keyof typeof ClientState];

/** What the pool needs from a member (a Client). */
export interface PoolMember {
  readonly connected: boolean;
  publish(message: PublishOptions, options?: { signal?: AbortSignal }): Promise<PublishResult>;
}

/** Picks healthy members; unhealthy starting members fall through to the next. */
export class PublisherPool<M extends PoolMember> {
  readonly members: readonly M[];
  #routing: PoolRoutingPolicy;
  #next = 0;

  constructor(members: M[], routing: PoolRoutingPolicy) {
    this.members = members;
    this.#routing = routing;
  }

  /** The member for `topic`, or undefined when none is connected. */
  pick(topic: string): M | undefined {
    const ms = this.members;
    const n = ms.length;
    if (n === 0) return undefined;
    let start: number;
    if (this.#routing === "hash-by-topic") {
      start = topic.length === 0 ? 0 : fnv1a32(topic) % n; // FNV-1a of the UTF-8 topic
    } else {
      start = this.#next;
      this.#next = (start + 1) % n;
    }
    for (let k = 0; k < n; k++) {
      const m = ms[(start + k) % n];
      if (m.connected) return m;
    }
    return undefined;
  }
}

/** A pool member as the client drives it: a publish-only `Client`. */
export interface PoolClient extends PoolMember {
  /** Connects it. */
  connect(): Promise<unknown>;
  /** Disconnects it. */
  disconnect(): Promise<void>;
}

/**
 * The publisher pool's life inside a client: members created and connected
 * once the main connection is up, each retried with the backoff until it is
 * up or the client closes.
 */
export class Pool {
  readonly #core: Core;
  readonly #make: (options: ClientOptions) => PoolClient;
  /** The members and their routing, once started. */
  publishers: PublisherPool<PoolClient> | undefined;
  #retries: Promise<void>[] = [];
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #wake = new Set<() => void>();
  /** Settles when every member's first connection attempt is over. */
  #ready: Promise<void> | undefined;

  /**
   * @param core The client's shared state.
   * @param make Creates a member client from its options.
   */
  constructor(core: Core, make: (options: ClientOptions) => PoolClient) {
    this.#core = core;
    this.#make = make;
  }

  /** Creates and connects the members (once), if the options ask for a pool. */
  start(): void {
    const core = this.#core;
    const spec = core.options.publisherPool;
    if (spec === undefined || spec.size <= 1 || this.publishers !== undefined) return;
    const parent = core.clientId;
    const idFor = spec.clientId ?? ((p: string, i: number) => `${p}-pub-${i}`);
    const members: PoolClient[] = [];
    for (let i = 1; i <= spec.size; i++) {
      members.push(this.#make({
        ...core.options,
        clientId: idFor(parent, i),
        // Publish-only: no session to resume, no will, no store, none of the parent's callbacks.
        cleanStart: true,
        cleanStartOnReconnect: true,
        sessionExpirySeconds: 0,
        will: undefined,
        store: undefined,
        publisherPool: undefined,
        onConnectionUp: undefined,
        onConnectionDown: undefined,
        onServerDisconnect: undefined,
        onReconnectAttempt: undefined,
        onConnectError: undefined,
      }));
    }
    this.publishers = new PublisherPool(members, spec.routing ?? "round-robin");
    const firstTries: Promise<void>[] = [];
    for (const m of members) {
      let tried!: () => void;
      firstTries.push(new Promise<void>((r) => tried = r));
      this.#retries.push(this.#connectMember(m, tried));
    }
    this.#ready = Promise.all(firstTries).then(() => {});
  }

  /**
   * With a pool, publishes right after connect() should use it: waits for
   * each member's first attempt (bounded by the connect timeout; failed
   * members keep retrying in the background and the main connection covers
   * for them).
   *
   * @param signal Stops waiting.
   */
  async firstTries(signal: AbortSignal | undefined): Promise<void> {
    if (this.#ready === undefined) return;
    await settledWithin(this.#ready, this.#core.o.connectTimeoutMs, signal);
  }

  /** Connects one member, retrying with the backoff until it is up or the client closes. */
  async #connectMember(m: PoolClient, tried: () => void): Promise<void> {
    const core = this.#core;
    for (let attempt = 0; core.state !== ClientState.Closed; attempt++) {
      try {
        await m.connect();
        tried();
        return;
      } catch (err) {
        tried(); // the first attempt is over: connect() stops waiting for this member
        if ((core.state as ClientState) === ClientState.Closed) return;
        core.log?.warn("publisher pool member failed to connect", { error: toError(err).message });
        let delay = 1000;
        try {
          delay = Math.max(0, Number(core.backoff(attempt)) || 0);
        } catch {
          // keep 1000
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.#timers.add(t);
          this.#wake.add(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    }
  }

  /**
   * Stops the retries and disconnects every member.
   *
   * @returns The members' disconnect outcomes, once the retries ended too.
   */
  async close(): Promise<PromiseSettledResult<void>[]> {
    for (const t of this.#timers) clearTimeout(t);
    for (const w of this.#wake) w();
    this.#timers.clear();
    this.#wake.clear();
    const p = this.publishers;
    const closing = p === undefined
      ? Promise.resolve([] as PromiseSettledResult<void>[])
      : Promise.allSettled(p.members.map((m) => m.disconnect()));
    await Promise.allSettled(this.#retries);
    return await closing;
  }
}
