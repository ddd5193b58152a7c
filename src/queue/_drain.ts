/**
 * The drain of a `QueuePublisher`: the background loop that sends the oldest
 * entries of its queue through the client, at most `batchSize` exchanges at
 * a time, retries transient failures after a backoff, dead-letters expired
 * and refused entries, removes an entry once the broker acknowledged it, and
 * (with a `LinkedSessionStore`) leaves the exchanges a restored session owns
 * to that session. `publisher.ts` holds the API: admission, eviction, close.
 * Internal: not exported from any entry point.
 *
 * @module
 */

import { sleepUnlessAborted } from "../_internal/async.ts";
import { toError } from "../_internal/error.ts";
import type { Logger } from "../_internal/types.ts";
import { MqttError } from "../errors.ts";
import type { PublishOptions, PublishResult } from "../session/publish.ts";
import type { PublishProperties } from "../wire/types.ts";
import type { LinkedSessionStore } from "./linked_store.ts";
import type { PublisherQueue, QueueEntry, QueueToken } from "./types.ts";

/** The part of a client the drain uses (`QueueClient` in `publisher.ts`). */
export interface DrainClient {
  publish(message: PublishOptions, options?: { signal?: AbortSignal }): Promise<PublishResult>;
  readonly connected: boolean;
  status?(): AsyncIterable<{ type: string }>;
}

/** The drain's settings, checked and defaulted by `QueuePublisher`. */
export interface DrainSettings {
  batchSize: number;
  idleMs: number;
  timeoutMs: number;
  ttlMs: number;
  onDeadLetter: ((entry: QueueEntry, error: Error) => void) | undefined;
  backoffOf: (attempt: number) => number;
  link: LinkedSessionStore | undefined;
  log: Logger | undefined;
}

/** What the drain counts; `QueuePublisher.stats()` adds the rest. */
export interface DrainCounts {
  sent: number;
  acked: number;
  deadLettered: number;
  retries: number;
}

type FlightKind = "send" | "session" | "restored" | "settle";

interface Flight {
  token: QueueToken;
  entry: QueueEntry;
  kind: FlightKind;
  ac: AbortController | undefined;
  /** Evicted while in flight: its removal does not count. */
  evicted: boolean;
  /** The linked session flow ended while the publish call was still pending. */
  sessionDone: boolean | undefined;
  /** Resolves once the flight is over (the entry removed, or left for a retry). */
  settled: Promise<void>;
  end: () => void;
}

type NewFlight = Omit<Flight, "settled" | "end" | "evicted" | "sessionDone" | "ac"> & {
  ac?: AbortController;
};

/** Refusals worth retrying: 0x91 Packet Identifier in use, 0x97 Quota exceeded. */
const TRANSIENT_REFUSALS = new Set([0x91, 0x97]);
/** Client-side checks against the CONNACK: the message can never be sent to this broker. */
const PERMANENT_CODES = new Set([
  "qos-not-supported",
  "retain-not-supported",
  "packet-too-large",
  "topic-alias-invalid",
  "publish-refused",
]);
/** Entries in backoff that one peek looks past. */
const MAX_SKIP = 4096;
/** The default `retryBackoff`: doubling from 100 ms up to 10 s, with ±25 % jitter. */
export function defaultBackoff(attempt: number): number {
  const base = Math.min(10_000, 100 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/** Whether a failed send should be dead-lettered rather than retried. */
function isPermanent(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError) return true;
  if (!(err instanceof MqttError)) return false;
  if (err.code === "publish-refused") {
    return err.reasonCode === undefined || !TRANSIENT_REFUSALS.has(err.reasonCode);
  }
  return PERMANENT_CODES.has(err.code);
}

/**
 * Sends a queue's entries in order and removes each once acknowledged; see
 * the module documentation. Starts at construction; {@linkcode Drain.stop}
 * ends it.
 */
export class Drain {
  readonly #client: DrainClient;
  readonly #queue: PublisherQueue;
  readonly #batchSize: number;
  readonly #idleMs: number;
  readonly #timeoutMs: number;
  readonly #ttlMs: number;
  readonly #onDeadLetter: ((entry: QueueEntry, error: Error) => void) | undefined;
  readonly #backoffOf: (attempt: number) => number;
  readonly #link: LinkedSessionStore | undefined;
  readonly #log: Logger | undefined;
  /** The publisher's count of queued entries is known (the drain starts after it). */
  readonly #ready: Promise<void>;
  /** An entry the publisher counted left the queue through the drain. */
  readonly #removed: () => void;

  #flights = new Map<QueueToken, Flight>();
  #byId = new Map<string, Flight>();
  #restored = 0;
  /** Flights whose removal from the queue is being written: no longer on the wire. */
  #settling = 0;
  #backoff = new Map<QueueToken, { attempts: number; notBefore: number }>();
  /** Delivered but the queue refused the ack: never sent again by this instance. */
  #done = new Set<QueueToken>();
  #flightWaiters = new Set<() => void>();
  /** Restored flows the session completed before the drain reconciled them. */
  #early = new Map<string, () => void>();
  #reconciled = false;

  #stopping = false;
  #closeReason: MqttError | undefined;
  #running: Promise<void>;
  #kicked = false;
  #wake: AbortController | undefined;
  #status: AsyncIterator<{ type: string }> | undefined;
  #unlisten: (() => void) | undefined;
  #warnedUnlinked = false;

  readonly #stats: DrainCounts = { sent: 0, acked: 0, deadLettered: 0, retries: 0 };

  /**
   * Starts the drain.
   *
   * @param client Publishes the entries.
   * @param queue Holds them.
   * @param settings Batch size, timeouts, backoff, dead letters, session link, logger.
   * @param ready Settles once the publisher counted the queue; the drain waits for it.
   * @param removed Called for each entry the drain removes that was not evicted.
   */
  constructor(
    client: DrainClient,
    queue: PublisherQueue,
    settings: DrainSettings,
    ready: Promise<void>,
    removed: () => void,
  ) {
    this.#client = client;
    this.#queue = queue;
    this.#batchSize = settings.batchSize;
    this.#idleMs = settings.idleMs;
    this.#timeoutMs = settings.timeoutMs;
    this.#ttlMs = settings.ttlMs;
    this.#onDeadLetter = settings.onDeadLetter;
    this.#backoffOf = settings.backoffOf;
    this.#link = settings.link;
    this.#log = settings.log;
    this.#ready = ready;
    this.#removed = removed;
    if (this.#link !== undefined) {
      this.#unlisten = this.#link.listen((id, completed) => this.#onSessionEnd(id, completed));
    }
    this.#watchStatus();
    this.#running = this.#run();
  }

  /** What the drain counted since it started. */
  get counts(): DrainCounts {
    return this.#stats;
  }

  /** Entries in flight now (sent and awaiting an acknowledgement, or being removed). */
  get inFlight(): number {
    return this.#flights.size - this.#restored;
  }

  /** Entries whose exchange a restored session is completing now. */
  get inSession(): number {
    return this.#restored;
  }

  /** Wakes the drain now: an entry was stored, a place freed, a connection made. */
  kick(): void {
    this.#kicked = true;
    const w = this.#wake;
    this.#wake = undefined;
    w?.abort();
  }

  /**
   * An entry `QueuePublisher` evicted from the head of the queue: it is
   * dead-lettered, and its removal, if it is in flight, no longer counts.
   */
  evicted(entry: QueueEntry, error: Error): void {
    const flight = entry.id === undefined ? undefined : this.#byId.get(entry.id);
    if (flight !== undefined) flight.evicted = true;
    this.#deadLetter(entry, error);
  }

  /**
   * Stops for good: no new sends; waits for the entries in flight (until
   * `hurry` aborts, and at most `publishTimeoutMs` unless `bySignal`), then
   * abandons the rest (they stay in the queue) and stops watching the client
   * and the session. The queue itself stays open.
   *
   * @param hurry Cuts the wait for acknowledgements short.
   * @param bySignal The wait is bounded by `hurry` alone.
   * @returns Resolves once the drain has stopped.
   */
  async stop(hurry: AbortSignal, bySignal: boolean): Promise<void> {
    this.#stopping = true;
    this.kick();
    this.#releaseEarly();
    await this.#waitFlights(hurry, bySignal ? undefined : this.#timeoutMs);
    this.#closeReason = new MqttError(
      "queue-closed",
      "QueuePublisher closed before the broker acknowledged the entry",
    );
    for (const f of [...this.#flights.values()]) {
      if (f.kind === "send") f.ac?.abort(this.#closeReason);
      else if (f.kind !== "settle") this.#removeFlight(f);
    }
    // Removals already under way finish before the queue closes.
    await this.#waitFlights(undefined, this.#timeoutMs);
    await this.#running;
    this.#unlisten?.();
    await this.#status?.return?.();
  }

  #watchStatus(): void {
    const status = this.#client.status?.();
    if (status === undefined) return;
    const it = status[Symbol.asyncIterator]();
    this.#status = it;
    (async () => {
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        if (r.value.type === "connected") this.kick();
      }
    })().catch(() => {});
  }

  /** Sleeps `ms`, or less when kicked. */
  async #sleep(ms: number): Promise<void> {
    if (this.#kicked || this.#stopping) return;
    const wake = new AbortController();
    this.#wake = wake;
    await sleepUnlessAborted(ms, wake.signal);
    if (this.#wake === wake) this.#wake = undefined;
  }

  async #run(): Promise<void> {
    try {
      await this.#ready;
    } catch (err) {
      this.#log?.error("QueuePublisher cannot read the queue length", {
        error: toError(err).message,
      });
      return;
    }
    let failures = 0;
    while (!this.#stopping) {
      this.#kicked = false;
      let wait = this.#idleMs;
      try {
        if (this.#client.connected) wait = await this.#fill();
        failures = 0;
      } catch (err) {
        if (this.#stopping) break;
        failures++;
        wait = Math.min(this.#idleMs, this.#backoffOf(failures));
        this.#log?.warn("QueuePublisher drain failed", { error: toError(err).message });
      }
      if (this.#stopping) break;
      await this.#sleep(wait);
    }
  }

  /** One pass: sends what fits in the window. Returns how long to sleep before the next pass. */
  async #fill(): Promise<number> {
    // The window counts exchanges on the wire: an entry the broker acknowledged no
    // longer holds a place while its removal is synced to disk.
    const room = this.#batchSize - (this.#flights.size - this.#restored - this.#settling);
    if (room <= 0) return this.#idleMs;
    const link = this.#link;
    const linked = link !== undefined && link.loaded;
    if (link !== undefined && !linked && !this.#warnedUnlinked) {
      this.#warnedUnlinked = true;
      this.#log?.warn(
        "QueuePublisher sessionStore has not been loaded although the client is connected: " +
          "is it the client's store? Entries are sent without the session link.",
      );
    }
    if (linked && !this.#reconciled) await this.#reconcile(link);
    const look = this.#flights.size + this.#done.size + Math.min(this.#backoff.size, MAX_SKIP) +
      room;
    const { entries, tokens } = await this.#queue.peekBatch(look);
    if (this.#stopping) return 0;
    const now = Date.now();
    let wait = this.#idleMs;
    let started = 0;
    for (let i = 0; i < entries.length && started < room; i++) {
      const token = tokens[i];
      const entry = entries[i];
      if (this.#flights.has(token) || this.#done.has(token)) continue;
      const id = entry.id;
      if (linked && id !== undefined && link.owns(id)) {
        // A restored session is completing this entry's exchange.
        this.#addFlight({ token, entry, kind: "restored" });
        continue;
      }
      const b = this.#backoff.get(token);
      if (b !== undefined && b.notBefore > now) {
        wait = Math.min(wait, b.notBefore - now);
        continue;
      }
      const deadline = this.#deadlineOf(entry);
      if (deadline !== undefined && deadline <= now) {
        const flight = this.#addFlight({ token, entry, kind: "settle" });
        void this.#finish(
          flight,
          new MqttError(
            "timeout",
            `queue entry expired after ${Math.round(now - entry.enqueuedAt)} ms in the queue`,
          ),
        );
        started++;
        continue;
      }
      if (!this.#client.connected) break;
      this.#send(token, entry, deadline, now, linked ? link : undefined);
      started++;
    }
    if (entries.length < look && this.#backoff.size > 0) {
      // The whole queue was seen: forget the backoff of entries no longer in it.
      const seen = new Set(tokens);
      for (const t of this.#backoff.keys()) if (!seen.has(t)) this.#backoff.delete(t);
    }
    return Math.max(1, wait);
  }

  #deadlineOf(entry: QueueEntry): number | undefined {
    let deadline = this.#ttlMs > 0 ? entry.enqueuedAt + this.#ttlMs : undefined;
    const mei = entry.publish.properties?.messageExpiryInterval;
    if (mei !== undefined) {
      const own = entry.enqueuedAt + mei * 1000;
      if (deadline === undefined || own < deadline) deadline = own;
    }
    return deadline;
  }

  #addFlight(init: NewFlight): Flight {
    let end!: () => void;
    const settled = new Promise<void>((resolve) => end = resolve);
    const f: Flight = {
      ac: undefined,
      evicted: false,
      sessionDone: undefined,
      ...init,
      settled,
      end,
    };
    this.#flights.set(f.token, f);
    if (f.entry.id !== undefined) this.#byId.set(f.entry.id, f);
    if (f.kind === "restored") this.#restored++;
    if (f.kind === "settle") this.#settling++;
    return f;
  }

  #setKind(f: Flight, kind: FlightKind): void {
    if (f.kind === "restored") this.#restored--;
    if (f.kind === "settle") this.#settling--;
    if (kind === "restored") this.#restored++;
    if (kind === "settle") this.#settling++;
    f.kind = kind;
  }

  #removeFlight(f: Flight): void {
    f.end();
    if (this.#flights.get(f.token) !== f) return;
    this.#flights.delete(f.token);
    if (f.entry.id !== undefined && this.#byId.get(f.entry.id) === f) this.#byId.delete(f.entry.id);
    if (f.kind === "restored") this.#restored--;
    if (f.kind === "settle") this.#settling--;
    if (this.#flights.size === 0) {
      for (const w of this.#flightWaiters) w();
      this.#flightWaiters.clear();
    }
    this.kick();
  }

  #send(
    token: QueueToken,
    entry: QueueEntry,
    deadline: number | undefined,
    now: number,
    link: LinkedSessionStore | undefined,
  ): void {
    const p = entry.publish;
    const properties: PublishProperties = { ...p.properties };
    delete properties.topicAlias;
    delete properties.subscriptionIdentifiers;
    if (deadline !== undefined) {
      properties.messageExpiryInterval = Math.max(1, Math.ceil((deadline - now) / 1000));
    }
    const message: PublishOptions = {
      topic: p.topic,
      payload: p.payload,
      qos: p.qos,
      retain: p.retain === true,
      properties,
    };
    const ac = new AbortController();
    const flight = this.#addFlight({ token, entry, kind: "send", ac });
    if (link !== undefined && entry.id !== undefined) link.expect(properties, entry.id);
    const timer = setTimeout(() => {
      ac.abort(
        new MqttError(
          "timeout",
          `no PUBACK/PUBCOMP within ${this.#timeoutMs} ms (publishTimeoutMs)`,
        ),
      );
    }, this.#timeoutMs);
    this.#stats.sent++;
    let result: Promise<PublishResult>;
    try {
      result = this.#client.publish(message, { signal: ac.signal });
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      () => {
        clearTimeout(timer);
        this.#backoff.delete(token);
        void this.#finish(flight);
      },
      (err) => {
        clearTimeout(timer);
        this.#sendFailed(flight, err);
      },
    );
  }

  #sendFailed(flight: Flight, err: unknown): void {
    if (flight.sessionDone === true) {
      // The session saw the acknowledgement just as the call was abandoned.
      void this.#finish(flight);
      return;
    }
    if (this.#closeReason !== undefined && err === this.#closeReason) {
      // Stays in the queue; the next process sends it again, or (linked) lets its session finish it.
      this.#removeFlight(flight);
      return;
    }
    const id = flight.entry.id;
    if (this.#link !== undefined && id !== undefined && this.#link.owns(id)) {
      // Handed to the session (sent, or about to be): it completes the exchange, across
      // reconnects and restarts; sending the entry again would publish it twice.
      this.#setKind(flight, "session");
      return;
    }
    if (isPermanent(err)) {
      void this.#finish(flight, toError(err));
      return;
    }
    const code = err instanceof MqttError ? err.code : undefined;
    if (code !== "not-connected" && code !== "closed") {
      const attempts = (this.#backoff.get(flight.token)?.attempts ?? 0) + 1;
      this.#backoff.set(flight.token, {
        attempts,
        notBefore: Date.now() + Math.max(0, Number(this.#backoffOf(attempts)) || 0),
      });
      this.#stats.retries++;
      this.#log?.debug("QueuePublisher will retry an entry", {
        topic: flight.entry.publish.topic,
        attempts,
        error: toError(err).message,
      });
    }
    this.#removeFlight(flight);
  }

  /**
   * A linked session flow ended. For a completed flow, returns what the
   * session store waits for before it forgets the flow: the removal of the
   * entry from the queue. A crash in between then finds the flow still in
   * the session (resent with DUP) rather than the entry alone in the queue
   * (which would be published again as new).
   */
  #onSessionEnd(id: string, completed: boolean): Promise<void> | undefined {
    const flight = this.#byId.get(id);
    if (flight === undefined) {
      if (!completed || this.#reconciled || this.#stopping) return undefined;
      // A restored flow finished before the drain matched it with its entry.
      const prev = this.#early.get(id);
      return new Promise<void>((resolve) => {
        this.#early.set(id, () => {
          prev?.();
          resolve();
        });
      });
    }
    switch (flight.kind) {
      case "send":
        // The publish call settles right after this (success, refusal or abandoned).
        flight.sessionDone = completed;
        return completed ? flight.settled : undefined;
      case "settle":
        return flight.settled;
      default:
        if (!completed) {
          this.#removeFlight(flight); // the session lost it: send it again
          return undefined;
        }
        void this.#finish(flight);
        return flight.settled;
    }
  }

  /**
   * Once per publisher, when the session store is loaded: matches the flows a
   * previous process left with their entries, which lie near the head of the
   * queue (the drain only sends entries from its first few hundred).
   */
  async #reconcile(link: LinkedSessionStore): Promise<void> {
    const open = link.restored.size + this.#early.size;
    if (open > 0) {
      const { entries, tokens } = await this.#queue.peekBatch(
        2 * open + this.#batchSize + MAX_SKIP,
      );
      for (let i = 0; i < entries.length; i++) {
        const id = entries[i].id;
        if (id === undefined || this.#flights.has(tokens[i])) continue;
        const early = this.#early.get(id);
        if (early !== undefined) {
          this.#early.delete(id);
          const f = this.#addFlight({ token: tokens[i], entry: entries[i], kind: "settle" });
          f.settled.then(early);
          void this.#finish(f);
        } else if (link.owns(id)) {
          this.#addFlight({ token: tokens[i], entry: entries[i], kind: "restored" });
        }
      }
    }
    this.#reconciled = true;
    this.#releaseEarly();
  }

  #releaseEarly(): void {
    const early = [...this.#early.values()];
    this.#early.clear();
    for (const r of early) r();
  }

  /** Removes a delivered (or dead-lettered) entry from the queue. */
  async #finish(flight: Flight, deadLetter?: Error): Promise<void> {
    this.#setKind(flight, "settle");
    this.kick(); // its place in the window is free now
    if (deadLetter !== undefined) this.#deadLetter(flight.entry, deadLetter);
    try {
      await this.#queue.ack(flight.token);
      this.#backoff.delete(flight.token);
      if (!flight.evicted) this.#removed();
      if (deadLetter === undefined) this.#stats.acked++;
    } catch (err) {
      // The queue is closed or broken: the entry stays; never send it again from here.
      this.#done.add(flight.token);
      this.#log?.error("QueuePublisher could not remove an acknowledged entry from the queue", {
        topic: flight.entry.publish.topic,
        error: toError(err).message,
      });
    }
    this.#removeFlight(flight);
  }

  /** Counts a dead letter and hands it to `onDeadLetter`. */
  #deadLetter(entry: QueueEntry, error: Error): void {
    this.#stats.deadLettered++;
    try {
      this.#onDeadLetter?.(entry, error);
    } catch (err) {
      this.#log?.error("onDeadLetter threw", { error: toError(err).message });
    }
  }

  /**
   * Waits until no entry is in flight: resolves `true` then, `false` once
   * `signal` aborts or after `timeoutMs` (when given).
   */
  #waitFlights(signal: AbortSignal | undefined, timeoutMs?: number): Promise<boolean> {
    if (this.#flights.size === 0) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (ok: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#flightWaiters.delete(waiter);
        resolve(ok);
      };
      const waiter = () => done(true);
      const onAbort = () => done(false);
      this.#flightWaiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs !== undefined) timer = setTimeout(() => done(false), timeoutMs);
    });
  }
}
