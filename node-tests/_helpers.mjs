// Shared by the Node smoke suite (node-tests/*.test.mjs): bounded waits and
// small readers over the client's async iterables. Plain JavaScript: the suite
// runs the package as built for Node by tools/build_node.ts (dist/node/), and
// reuses the repository's runtime-neutral test helpers as built into
// dist/node-tests/.
//
// Every wait is bounded, and every timer is cleared, so that a broken case
// fails with a message instead of hanging `node --test`.

import { connect, createServer } from "node:net";

/** How long any single wait may take. */
export const WAIT_MS = 5000;

/** The built package, as a file: URL ending in a slash. */
export const PACKAGE_DIR = new URL("../dist/node/", import.meta.url);

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `promise`, or a rejection naming `what` after `ms`.
 *
 * @template T
 * @param {Promise<T>} promise
 * @param {string} what
 * @param {number} [ms]
 * @returns {Promise<T>}
 */
export async function within(promise, what, ms = WAIT_MS) {
  let timer;
  try {
    return await Promise.race([
      promise,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every few milliseconds until it holds. */
export async function until(cond, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(10);
  }
}

/**
 * The next message of a subscription's iterator, acked.
 *
 * @param {AsyncIterator<import("../dist/node/mod.js").Message>} it
 * @param {string} what
 */
export async function nextMessage(it, what) {
  const r = await within(it.next(), what);
  if (r.done) throw new Error(`the subscription ended while waiting for ${what}`);
  r.value.ack();
  return r.value;
}

/**
 * The next status event of `type` from a `client.status()` iterator; events
 * of other types are skipped.
 *
 * @param {AsyncIterator<{ type: string }>} events
 * @param {string} type
 */
export async function nextEvent(events, type) {
  const deadline = Date.now() + WAIT_MS;
  while (true) {
    const left = deadline - Date.now();
    const r = await within(events.next(), `a "${type}" status event`, Math.max(left, 1));
    if (r.done) throw new Error(`the status stream ended before a "${type}" event`);
    if (r.value.type === type) return r.value;
  }
}

let topics = 0;

/** A topic no other case (or concurrent run) publishes to. */
export function uniqueTopic(name) {
  return `node-smoke/${process.pid}/${++topics}/${name}`;
}

/** `length` bytes in a scrambled order, not valid UTF-8; `salt` makes them differ. */
export function binary(length, salt = 0) {
  return Uint8Array.from({ length }, (_, i) => (i * 151 + 7 + salt) & 0xff);
}

/** Waits until mosquitto's log matches `pattern`. */
export async function untilLog(broker, pattern) {
  try {
    await until(async () => pattern.test(await broker.log()), `mosquitto to log ${pattern}`);
  } catch (err) {
    err.message += `\n${(await broker.log()).slice(-2000)}`;
    throw err;
  }
}

/**
 * A TCP relay on a free loopback port to mosquitto's `targetPort`: give the
 * client `relay.url`. `cutAll()` destroys both sockets of every relayed
 * connection, so that the client's own socket sees its peer go away (not a
 * `close()` of its own); while `refuse(true)` holds, new connections are
 * closed on arrival. `close()` destroys everything and waits for the listener.
 *
 * @param {number} targetPort
 */
export async function startRelay(targetPort) {
  const sockets = new Set();
  const relays = new Set();
  let refusing = false;
  let refusals = 0;
  const track = (socket) => {
    sockets.add(socket);
    socket.on("error", () => {}); // a cut or refused peer: expected here
    socket.once("close", () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    if (refusing) {
      refusals++;
      client.destroy();
      return;
    }
    const upstream = connect({ host: "127.0.0.1", port: targetPort });
    track(upstream);
    const relay = { client, upstream };
    relays.add(relay);
    const end = () => {
      relays.delete(relay);
      client.destroy();
      upstream.destroy();
    };
    client.once("close", end);
    upstream.once("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    url: `mqtt://127.0.0.1:${server.address().port}`,
    /** Connections closed on arrival while refusing. */
    get refusals() {
      return refusals;
    },
    /** Closes new connections on arrival (`true`) or relays them again (`false`). */
    refuse(on) {
      refusing = on;
    },
    /** Destroys every relayed connection, both sides; returns how many. */
    cutAll() {
      const n = relays.size;
      for (const r of [...relays]) {
        relays.delete(r);
        r.client.destroy();
        r.upstream.destroy();
      }
      return n;
    },
    async close() {
      const closed = new Promise((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
