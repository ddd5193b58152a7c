/**
 * {@linkcode KeepAlive}: the PINGREQ schedule of one connection and its
 * PINGRESP deadline (MQTT §3.1.2.10), on an injected {@linkcode Clock} so it
 * can be tested without real time.
 *
 * @module
 */

import * as KeepAliveAction from "./_keep_alive_action.ts";

/**
 * What {@linkcode Clock.every} returns: calling it stops the schedule. `wake`,
 * where the clock has it, ends a skip the schedule asked for (see `every`).
 */
export type Schedule = (() => void) & { wake?(): void };

/** Time as the keep-alive sees it: `Date.now()` and `setInterval` in production. */
export interface Clock {
  /** The current time in milliseconds. */
  now(): number;
  /**
   * Calls `fn` every `ms` milliseconds until the returned function is called.
   * `fn` may return a time (as `now()` reads it) before which it has nothing
   * to do: a clock may then skip it until the first period at or after that
   * time, or until `wake()`. Skipping is only ever an optimization: running
   * `fn` on every period must come to the same.
   */
  every(ms: number, fn: () => number | void): Schedule;
  /**
   * Whether the timers may be throttled to one run a minute from now on, with
   * no late tick to tell (a hidden browser page). Absent: never.
   */
  hidden?(): boolean;
  /**
   * Timers run on time here (no page a browser could throttle): a schedule
   * may ask to be skipped (see `every`). Absent: it may not.
   */
  steady?: boolean;
}

/** One schedule of a period: skipped while `due` is ahead. */
interface Entry {
  readonly fn: () => number | void;
  /** Skip until this time (ms); 0: run on every period. */
  due: number;
}

/** The schedules that run every `ms` milliseconds, and the one timer that runs them. */
interface Period {
  readonly entries: Set<Entry>;
  readonly timer: ReturnType<typeof setInterval>;
}

/**
 * One `setInterval` per period for the whole process: 10,000 connections with
 * the same keep alive tick from one timer, not 10,000 (the runtime's cost of a
 * timer, not the tick, was most of an idle connection's CPU). An idle
 * connection asks to be skipped until its next PINGREQ could be due, so a
 * period visits only its entry, not the connection's objects.
 */
const periods = new Map<number, Period>();

/** Runs every schedule of a period that is due; one that throws does not stop the others. */
function runPeriod(entries: Set<Entry>): void {
  const now = Date.now();
  for (const e of entries) {
    if (e.due > now) continue;
    try {
      const next = e.fn();
      e.due = typeof next === "number" ? next : 0;
    } catch (err) {
      // As uncaught as it was from its own timer (and run again next period: due <= now).
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}

/** The browser page this runs in, if any. */
const page = (globalThis as { document?: { visibilityState?: string } }).document;

/** The real clock. */
export const systemClock: Clock = {
  now: Date.now,
  every(ms, fn) {
    let p = periods.get(ms);
    if (p === undefined) {
      const entries = new Set<Entry>();
      p = { entries, timer: setInterval(() => runPeriod(entries), ms) };
      periods.set(ms, p);
    }
    const period = p;
    // Its own entry, so the same function scheduled twice runs twice and stops once each.
    const entry: Entry = { fn, due: 0 };
    period.entries.add(entry);
    const stop: Schedule = () => {
      // The last schedule of a period stops its timer (a later one makes a new period).
      if (!period.entries.delete(entry) || period.entries.size > 0) return;
      clearInterval(period.timer);
      periods.delete(ms);
    };
    stop.wake = () => {
      entry.due = 0;
    };
    return stop;
  },
  hidden: () => page?.visibilityState === "hidden",
  // A page's timers may be throttled (hidden tab); a server runtime's are not.
  steady: page === undefined,
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
  #stop: Schedule | undefined;
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

  /** Something was written (the schedule wakes: the writer's buffers are to be given back). */
  sent(): void {
    this.lastTx = this.#clock.now();
    this.#stop?.wake?.();
  }

  /** A PINGREQ went out outside the schedule (a nudge): its PINGRESP is awaited too. */
  pinged(): void {
    if (this.pingDeadline !== 0) return;
    this.pingDeadline = this.#clock.now() + this.#pingTimeoutMs;
    this.#stop?.wake?.(); // its deadline is watched from the next period on
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
   * and a late PINGRESP: every quarter keep alive, half ping timeout or
   * second, whichever is shortest (1 s at the defaults). A dead link is then
   * noticed within keep alive + ping timeout + 2 s (42 s at the defaults),
   * inside the 1.5 x keep alive after which a broker gives up on us. On a
   * steady clock an idle connection's schedule sleeps between PINGREQs (see
   * `onTick`), so the period costs an idle connection nothing.
   *
   * @param keepAliveSeconds The keep alive in effect (0: none, nothing starts).
   * @param paused Whether reading is paused now.
   * @param act Carries out a tick's action.
   * @param onTick Runs on every tick first (the writer gives idle buffers
   * back); returns whether it holds nothing a later tick must release (then,
   * on a steady clock, the schedule sleeps until a PINGREQ could be due, or
   * until something is written or a nudge PINGREQ goes out).
   */
  start(
    keepAliveSeconds: number,
    paused: () => boolean,
    act: (a: KeepAliveAction) => void,
    onTick?: () => boolean,
  ): void {
    if (keepAliveSeconds === 0) return;
    const ka = keepAliveSeconds * 1000;
    const every = this.#every = Math.max(10, Math.min(ka / 4, this.#pingTimeoutMs / 2, 1000));
    this.#lastTick = this.#clock.now();
    const steady = this.#clock.steady === true;
    this.#stop = this.#clock.every(every, () => {
      const idle = onTick?.() ?? true;
      const a = this.tick(ka, paused());
      if (a !== KeepAliveAction.None) act(a);
      if (!steady || !idle || this.pingDeadline !== 0) return;
      // Nothing can be due before either direction has been silent for the keep alive
      // (reads only push that later; a write or a nudge PINGREQ wakes the schedule).
      // The skip is not a throttled timer: the next tick measures no gap.
      this.#lastTick = 0;
      return Math.min(this.lastTx, this.lastRx) + ka;
    });
  }

  /** Stops the schedule. */
  stop(): void {
    this.#stop?.();
    this.#stop = undefined;
  }
}
