/**
 * {@linkcode KeepAlive}: the PINGREQ schedule of one connection and its
 * PINGRESP deadline (MQTT §3.1.2.10), on an injected {@linkcode Clock} so it
 * can be tested without real time.
 *
 * @module
 */

import * as KeepAliveAction from "./_keep_alive_action.ts";

/** Time as the keep-alive sees it: `Date.now()` and `setInterval` in production. */
export interface Clock {
  /** The current time in milliseconds. */
  now(): number;
  /** Calls `fn` every `ms` milliseconds until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
  /**
   * Whether the timers may be throttled to one run a minute from now on, with
   * no late tick to tell (a hidden browser page). Absent: never.
   */
  hidden?(): boolean;
}

/** The schedules that run every `ms` milliseconds, and the one timer that runs them. */
interface Period {
  readonly fns: Set<() => void>;
  readonly timer: ReturnType<typeof setInterval>;
}

/**
 * One `setInterval` per period for the whole process: 10,000 connections with
 * the same keep alive tick from one timer, not 10,000 (the runtime's cost of a
 * timer, not the tick, was most of an idle connection's CPU).
 */
const periods = new Map<number, Period>();

/** Runs every schedule of a period; one that throws does not stop the others. */
function runPeriod(fns: Set<() => void>): void {
  for (const fn of fns) {
    try {
      fn();
    } catch (err) {
      // As uncaught as it was from its own timer.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}

/** The real clock. */
export const systemClock: Clock = {
  now: Date.now,
  every(ms, fn) {
    let p = periods.get(ms);
    if (p === undefined) {
      const fns = new Set<() => void>();
      p = { fns, timer: setInterval(() => runPeriod(fns), ms) };
      periods.set(ms, p);
    }
    const period = p;
    // Its own entry, so the same function scheduled twice runs twice and stops once each.
    const entry = () => fn();
    period.fns.add(entry);
    return () => {
      if (!period.fns.delete(entry) || period.fns.size > 0) return;
      clearInterval(period.timer);
      if (periods.get(ms) === period) periods.delete(ms);
    };
  },
  hidden: () =>
    (globalThis as { document?: { visibilityState?: string } }).document?.visibilityState ===
      "hidden",
};

/**
 * A tick this late is a throttled timer, not a busy machine: browsers run the
 * timers of a hidden tab once a second, and after a while once a minute.
 */
const THROTTLED_MS = 5000;

/**
 * How far apart a hidden page's timers may run: Chrome runs those of a page
 * hidden for five minutes once a minute ("intensive wake-up throttling"), and
 * the switch from once a second comes without a late tick to warn of it.
 */
const HIDDEN_GAP_MS = 60_000;
/** Slack for a hidden page's wake-ups, which land a little after the minute. */
const HIDDEN_SLACK_MS = 10_000;

/** What a keep-alive tick asks for: {@linkcode KeepAliveAction} (constants in _keep_alive_action.ts). */
type KeepAliveAction = typeof KeepAliveAction[keyof typeof KeepAliveAction];
export * as KeepAliveAction from "./_keep_alive_action.ts";

/**
 * The keep-alive of one connection: when anything was last read and written,
 * and the deadline of the PINGREQ in flight.
 *
 * @example Drive it with a fake clock
 * ```ts ignore
 * let t = 0;
 * const ka = new KeepAlive({ now: () => t, every: () => () => {} }, 5000);
 * t = 60_000;
 * ka.tick(60_000, false); // KeepAliveAction.Ping
 * t = 66_000;
 * ka.tick(60_000, false); // KeepAliveAction.TimedOut
 * ```
 */
export class KeepAlive {
  readonly #clock: Clock;
  readonly #pingTimeoutMs: number;
  /** When bytes were last read (ms). */
  lastRx: number;
  /** When bytes were last written (ms). */
  lastTx: number;
  /** When the PINGREQ in flight times out (ms); 0: none in flight. */
  pingDeadline = 0;
  #stop: (() => void) | undefined;
  /** The interval the schedule asked for (ms); 0: not started. */
  #every = 0;
  /** When the last tick ran (ms); 0: none yet. */
  #lastTick = 0;

  /**
   * @param clock The time source.
   * @param pingTimeoutMs How long a PINGRESP may take.
   */
  constructor(clock: Clock, pingTimeoutMs: number) {
    this.#clock = clock;
    this.#pingTimeoutMs = pingTimeoutMs;
    this.lastRx = this.lastTx = clock.now();
  }

  /** Something was read. */
  received(): void {
    this.lastRx = this.#clock.now();
  }

  /** Something was written. */
  sent(): void {
    this.lastTx = this.#clock.now();
  }

  /** A PINGREQ went out outside the schedule (a nudge): its PINGRESP is awaited too. */
  pinged(): void {
    if (this.pingDeadline === 0) this.pingDeadline = this.#clock.now() + this.#pingTimeoutMs;
  }

  /** PINGRESP arrived. */
  pong(): void {
    this.pingDeadline = 0;
  }

  /**
   * One step of the schedule. While reading is paused for a slow consumer the
   * broker's answers wait in TCP, so no deadline runs (it restarts when
   * reading does); PINGREQs go on telling the broker we are alive.
   *
   * @param keepAliveMs The keep alive in effect.
   * @param paused Whether reading is paused.
   * @returns What to do.
   */
  tick(keepAliveMs: number, paused: boolean): KeepAliveAction {
    const now = this.#clock.now();
    // A throttled timer (a hidden browser tab runs timers once a minute) may bring the
    // next tick as late as this one came: then ping now if waiting for it would leave us
    // silent for longer than the keep alive, so the broker (which allows 1.5 times the
    // keep alive [MQTT-3.1.2-22]) never takes us for dead.
    const gap = this.#lastTick === 0 ? 0 : now - this.#lastTick;
    this.#lastTick = now;
    const ahead = this.#every > 0 && gap > Math.max(2 * this.#every, THROTTLED_MS) ? gap : 0;
    // In a hidden page the next tick may be a minute away although this one was on time:
    // ping once waiting a minute could leave the broker without a word for longer than it
    // allows, but not more often than every quarter keep alive.
    const silent = now - this.lastTx;
    const hidden = silent >= keepAliveMs / 4 && this.#clock.hidden?.() === true &&
      silent + HIDDEN_GAP_MS + HIDDEN_SLACK_MS >= 1.5 * keepAliveMs;
    if (paused) {
      if (silent + ahead >= keepAliveMs || hidden) {
        this.pingDeadline = now + this.#pingTimeoutMs;
        return KeepAliveAction.Ping;
      }
      if (this.pingDeadline !== 0) this.pingDeadline = now + this.#pingTimeoutMs;
      return KeepAliveAction.None;
    }
    if (this.pingDeadline !== 0) {
      return now >= this.pingDeadline ? KeepAliveAction.TimedOut : KeepAliveAction.None;
    }
    // PINGREQ when either direction has been idle for the keep alive.
    if (silent + ahead >= keepAliveMs || now - this.lastRx >= keepAliveMs || hidden) {
      this.pingDeadline = now + this.#pingTimeoutMs;
      return KeepAliveAction.Ping;
    }
    return KeepAliveAction.None;
  }

  /**
   * Starts the schedule: ticks often enough to notice both an idle keep alive
   * and a late PINGRESP.
   *
   * @param keepAliveSeconds The keep alive in effect (0: none, nothing starts).
   * @param paused Whether reading is paused now.
   * @param act Carries out a tick's action.
   * @param onTick Runs on every tick first (the writer gives idle buffers back).
   */
  start(
    keepAliveSeconds: number,
    paused: () => boolean,
    act: (a: KeepAliveAction) => void,
    onTick?: () => void,
  ): void {
    if (keepAliveSeconds === 0) return;
    const ka = keepAliveSeconds * 1000;
    const every = this.#every = Math.max(10, Math.min(ka / 4, this.#pingTimeoutMs / 2, 1000));
    this.#lastTick = this.#clock.now();
    this.#stop = this.#clock.every(every, () => {
      onTick?.();
      const a = this.tick(ka, paused());
      if (a !== KeepAliveAction.None) act(a);
    });
  }

  /** Stops the schedule. */
  stop(): void {
    this.#stop?.();
    this.#stop = undefined;
  }
}
