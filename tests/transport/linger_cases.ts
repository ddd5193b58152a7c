// What an adapter does when the client's onData answers true (a burst that
// needs no answer, see Connection.start in src/transport/types.ts): it waits
// a moment before it reads again, and a pause() meanwhile still holds.
// Runtime-neutral (node:net server on loopback): run by
// tests/transport/deno_test.ts (denoDial) and bun-tests/transport.test.ts (bunDial).

import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import type { Connection, DialFunc } from "../../src/transport/types.ts";

const decoder = new TextDecoder();
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A connection from `dial` to a loopback server, and the server's end of it. */
async function pair(dial: DialFunc): Promise<{ conn: Connection; peer: Socket; close(): void }> {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const conn = await dial(new URL(`mqtt://127.0.0.1:${port}`), {});
  const peer = await accepted;
  return {
    conn,
    peer,
    close() {
      conn.close();
      peer.destroy();
      server.close();
    },
  };
}

/**
 * onData answers true for "A": the server sends "B" the moment "A" arrived,
 * and "B" is read no sooner than a timer later (LINGER_MS, 1 ms). Then "C"
 * answers true and pauses: "D" waits, past the linger, until resume().
 */
export async function lingerCase(dial: DialFunc): Promise<void> {
  const p = await pair(dial);
  try {
    const got: { text: string; at: number }[] = [];
    let wake: (() => void) | undefined;
    p.conn.start((chunk) => {
      const text = decoder.decode(chunk);
      got.push({ text, at: performance.now() });
      wake?.();
      if (text === "A") {
        p.peer.write("B");
        return true;
      }
      if (text === "C") {
        p.conn.pause!();
        return true;
      }
      return undefined;
    }, () => {});
    const until = async (n: number) => {
      while (got.length < n) await new Promise<void>((r) => wake = r);
    };
    p.peer.write("A");
    await until(2);
    assert.deepEqual(got.map((g) => g.text), ["A", "B"]);
    const gap = got[1].at - got[0].at;
    assert.ok(gap >= 0.5, `"B" was read ${gap.toFixed(3)} ms after "A": no linger`);

    p.peer.write("C");
    await until(3);
    p.peer.write("D");
    await delay(30); // many times the linger
    assert.deepEqual(got.map((g) => g.text), ["A", "B", "C"], "paused: D waits");
    p.conn.resume!();
    await until(4);
    assert.equal(got[3].text, "D");
  } finally {
    p.close();
  }
}
