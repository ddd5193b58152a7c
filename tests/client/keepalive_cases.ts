/**
 * The keep-alive schedule (src/client/keepalive.ts) on a fake clock: no
 * broker and no real time. Shared by tests/client/keepalive_test.ts and
 * bun-tests/client_keepalive.test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Clock, KeepAlive, KeepAliveAction } from "../../src/client/keepalive.ts";

/** A clock the test moves by hand; `every` records the schedule and runs it on `advance`. */
function fakeClock(): Clock & { t: number; advance(ms: number): void; timers: number } {
  const jobs: { every: number; next: number; fn: () => void; live: boolean }[] = [];
  const clock = {
    t: 1_000_000,
    now: () => clock.t,
    every(ms: number, fn: () => void) {
      const job = { every: ms, next: clock.t + ms, fn, live: true };
      jobs.push(job);
      return () => job.live = false;
    },
    advance(ms: number) {
      const end = clock.t + ms;
      for (;;) {
        const due = jobs.filter((j) => j.live && j.next <= end).sort((a, b) => a.next - b.next)[0];
        if (due === undefined) break;
        clock.t = due.next;
        due.next += due.every;
        due.fn();
      }
      clock.t = end;
    },
    get timers() {
      return jobs.filter((j) => j.live).length;
    },
  };
  return clock;
}

const KA = 10_000;
const PING_TIMEOUT = 3_000;

/** A clock whose timers run at most once per `throttleMs`, as in a hidden browser tab. */
function throttledClock(throttleMs: number): Clock & { t: number; advance(ms: number): void } {
  const jobs: { next: number; fn: () => void; live: boolean }[] = [];
  const clock = {
    t: 5_000_000,
    now: () => clock.t,
    every(ms: number, fn: () => void) {
      const job = { next: clock.t + Math.max(ms, throttleMs), fn, live: true };
      jobs.push(job);
      return () => job.live = false;
    },
    advance(ms: number) {
      const end = clock.t + ms;
      for (;;) {
        const due = jobs.find((j) => j.live && j.next <= end);
        if (due === undefined) break;
        clock.t = due.next;
        due.next += throttleMs;
        due.fn();
      }
      clock.t = end;
    },
  };
  return clock;
}

/** The keep-alive cases. */
export const keepAliveCases: { name: string; fn: () => void }[] = [
  {
    name: "KeepAlive.tick() pings after keepAlive of silence in either direction, not before",
    fn() {
      const c = fakeClock();
      const ka = new KeepAlive(c, PING_TIMEOUT);
      c.t += KA - 1;
      assert.equal(ka.tick(KA, false), KeepAliveAction.None);
      c.t += 1;
      assert.equal(ka.tick(KA, false), KeepAliveAction.Ping);
      assert.equal(ka.pingDeadline, c.t + PING_TIMEOUT);
      // Reads alone do not stop the ping: the broker must hear from us too [MQTT-3.1.2-22].
      const ka2 = new KeepAlive(c, PING_TIMEOUT);
      c.t += KA;
      ka2.received();
      assert.equal(ka2.tick(KA, false), KeepAliveAction.Ping);
      // Writes alone neither: a silent broker is pinged.
      const ka3 = new KeepAlive(c, PING_TIMEOUT);
      c.t += KA;
      ka3.sent();
      assert.equal(ka3.tick(KA, false), KeepAliveAction.Ping);
      // Traffic both ways within the keep alive: nothing to do.
      const ka4 = new KeepAlive(c, PING_TIMEOUT);
      c.t += KA - 1;
      ka4.sent();
      ka4.received();
      c.t += KA - 1;
      assert.equal(ka4.tick(KA, false), KeepAliveAction.None);
    },
  },
  {
    name:
      "KeepAlive.tick() times out when no PINGRESP arrives within pingTimeoutMs; pong() clears it",
    fn() {
      const c = fakeClock();
      const ka = new KeepAlive(c, PING_TIMEOUT);
      c.t += KA;
      assert.equal(ka.tick(KA, false), KeepAliveAction.Ping);
      c.t += PING_TIMEOUT - 1;
      assert.equal(ka.tick(KA, false), KeepAliveAction.None, "one PINGREQ in flight, no second");
      c.t += 1;
      assert.equal(ka.tick(KA, false), KeepAliveAction.TimedOut);
      const ka2 = new KeepAlive(c, PING_TIMEOUT);
      c.t += KA;
      assert.equal(ka2.tick(KA, false), KeepAliveAction.Ping);
      ka2.sent(); // the PINGREQ went out
      c.t += 10;
      ka2.pong();
      ka2.received();
      assert.equal(ka2.pingDeadline, 0);
      c.t += PING_TIMEOUT;
      assert.equal(ka2.tick(KA, false), KeepAliveAction.None);
    },
  },
  {
    name: "KeepAlive.tick() while reading is paused: pings on write silence, never times out",
    fn() {
      const c = fakeClock();
      const ka = new KeepAlive(c, PING_TIMEOUT);
      c.t += KA;
      assert.equal(ka.tick(KA, true), KeepAliveAction.Ping);
      ka.sent();
      // The PINGRESP waits in TCP behind what we do not read: the deadline keeps moving.
      for (let i = 0; i < 20; i++) {
        c.t += PING_TIMEOUT;
        const a = ka.tick(KA, true);
        assert.notEqual(a, KeepAliveAction.TimedOut);
        if (a === KeepAliveAction.Ping) ka.sent();
        assert.ok(ka.pingDeadline > c.t, "the deadline stays ahead while paused");
      }
      // Reading resumes: the deadline runs again.
      c.t += PING_TIMEOUT;
      assert.equal(ka.tick(KA, false), KeepAliveAction.TimedOut);
    },
  },
  {
    name: "KeepAlive.pinged() starts a deadline for a nudge PINGREQ only when none runs",
    fn() {
      const c = fakeClock();
      const ka = new KeepAlive(c, PING_TIMEOUT);
      ka.pinged();
      const first = ka.pingDeadline;
      assert.equal(first, c.t + PING_TIMEOUT);
      c.t += 1000;
      ka.pinged();
      assert.equal(ka.pingDeadline, first, "an earlier deadline is kept");
    },
  },
  {
    name: "KeepAlive.start() ticks on the clock, acts on Ping and TimedOut, and stop() ends it",
    fn() {
      const c = fakeClock();
      const ka = new KeepAlive(c, PING_TIMEOUT);
      const acts: number[] = [];
      ka.start(KA / 1000, () => false, (a) => acts.push(a));
      assert.equal(c.timers, 1);
      c.advance(KA);
      assert.deepEqual(acts, [KeepAliveAction.Ping]);
      c.advance(PING_TIMEOUT);
      assert.deepEqual(acts, [KeepAliveAction.Ping, KeepAliveAction.TimedOut]);
      ka.stop();
      assert.equal(c.timers, 0);
      // Keep alive 0 turns the mechanism off [MQTT-3.1.2-21].
      const off = new KeepAlive(c, PING_TIMEOUT);
      off.start(0, () => false, () => assert.fail("no tick with keep alive 0"));
      assert.equal(c.timers, 0);
      c.advance(10 * KA);
    },
  },
  {
    name:
      "KeepAlive survives timers throttled to once a minute (a hidden tab): the broker never waits 1.5 x keepAlive",
    fn() {
      // Chrome runs a hidden tab's timers once a minute (MQTT.js #1257). Keep alive 60 s: the
      // broker drops a client silent for 90 s [MQTT-3.1.2-22].
      const c = throttledClock(60_000);
      const ka = new KeepAlive(c, 10_000);
      let lastFromClient = c.t;
      let worst = 0;
      let pings = 0;
      ka.start(60, () => false, (a) => {
        assert.equal(a, KeepAliveAction.Ping, "the broker answers every PINGREQ");
        pings++;
        ka.sent();
        worst = Math.max(worst, c.t - lastFromClient);
        lastFromClient = c.t;
        ka.pong(); // PINGRESP: a read event, not throttled
        ka.received();
      });
      // The application writes something half-way between two ticks: the next tick sees only
      // 30 s of silence, and the one after would see 90 s.
      c.advance(30_000);
      ka.sent(); // a publish
      ka.received(); // its PUBACK
      lastFromClient = c.t;
      for (let i = 0; i < 60; i++) c.advance(60_000); // an hour
      worst = Math.max(worst, c.t - lastFromClient);
      assert.ok(worst <= 60_000, `the broker waited ${worst} ms for a packet`);
      assert.ok(pings >= 59, `${pings} PINGREQs in an hour`);
    },
  },
  {
    name: "KeepAlive on an unthrottled clock pings at keepAlive of silence, not earlier",
    fn() {
      const c = fakeClock();
      const ka = new KeepAlive(c, PING_TIMEOUT);
      const at: number[] = [];
      const start = c.t;
      ka.start(KA / 1000, () => false, () => {
        at.push(c.t - start);
        ka.sent();
        ka.pong();
        ka.received();
      });
      c.advance(3 * KA + 10);
      assert.deepEqual(at, [KA, 2 * KA, 3 * KA]);
      ka.stop();
    },
  },
];
