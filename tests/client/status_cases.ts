/**
 * StatusStream on its own: pending next() calls, the bound and `closed`.
 * Shared by tests/client/status_test.ts and bun-tests/client_status.test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type StatusEvent, StatusStream } from "../../src/client/status.ts";

const reconnecting = (attempt: number): StatusEvent => ({
  type: "reconnecting",
  attempt,
  delayMs: 0,
  url: "mqtt://x",
});

/** The shared cases. */
export const statusCases: { name: string; fn: () => Promise<void> }[] = [
  {
    name: "status: two pending next() calls get the next two events, in order",
    fn: async () => {
      let detached = 0;
      const s = new StatusStream(() => detached++);
      const it = s[Symbol.asyncIterator]();
      const a = it.next();
      const b = it.next();
      const c = it.next();
      s.push(reconnecting(1));
      s.push(reconnecting(2));
      s.push({ type: "closed" });
      assert.deepEqual((await a).value, reconnecting(1));
      assert.deepEqual((await b).value, reconnecting(2));
      assert.deepEqual((await c).value, { type: "closed" });
      assert.equal((await it.next()).done, true);
      assert.ok(detached >= 1);
    },
  },
  {
    name: "status: calls pending beyond `closed`, or at return(), end",
    fn: async () => {
      const s = new StatusStream(() => {});
      const it = s[Symbol.asyncIterator]();
      const a = it.next();
      const b = it.next();
      s.push({ type: "closed" });
      assert.equal((await a).value?.type, "closed");
      assert.equal((await b).done, true);

      const s2 = new StatusStream(() => {});
      const it2 = s2[Symbol.asyncIterator]();
      const x = it2.next();
      const y = it2.next();
      await it2.return!();
      assert.equal((await x).done, true);
      assert.equal((await y).done, true);
    },
  },
  {
    name: "status: a slow reader keeps the newest 256 events and counts the rest",
    fn: async () => {
      const s = new StatusStream(() => {});
      for (let i = 1; i <= 300; i++) s.push(reconnecting(i));
      s.push({ type: "closed" });
      assert.equal(s.dropped, 45);
      const seen: StatusEvent[] = [];
      for await (const e of s) seen.push(e);
      assert.equal(seen.length, 256);
      assert.deepEqual(seen[0], reconnecting(46));
      assert.equal(seen[255].type, "closed");
    },
  },
];
