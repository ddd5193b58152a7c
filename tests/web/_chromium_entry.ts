// What chromium_test.ts runs inside headless Chromium. esbuild bundles this
// file for the browser (it imports only the web entry, web.ts); the test's
// page loads the bundle as a module and puts its exports on `window.mqttTest`,
// and the test calls them over the DevTools protocol, one step at a time, and
// asserts on what they return (plain JSON values).
//
// One Client over wsDial() with three subscriptions, one per subscribe shape:
//
//   <prefix>/iterator/#  client.subscribe()          for await (const m of sub)
//   <prefix>/queue/#     client.subscribeQueue()     sub.queue.dequeue()
//   <prefix>/callback/#  client.subscribeCallback()  a handler
//
// each at QoS 2, so a message arrives at the QoS it was published with. Every
// message received is recorded with its shape; every status event with its type.

import { Client, exponentialBackoff, type Message, wsDial } from "../../web.ts";

/** The three subscribe shapes, in the order `exchange` publishes to them. */
export const SHAPES = ["iterator", "queue", "callback"] as const;
/** A subscribe shape. */
export type Shape = typeof SHAPES[number];

/** One message as a subscription received it. */
export interface Received {
  shape: Shape;
  topic: string;
  payload: string;
  qos: number;
  /** `performance.now()` in the page when it arrived. */
  at: number;
}

/** A status event: its type, with the attempt number of `reconnecting`. */
export interface StatusRecord {
  type: string;
  attempt?: number;
  /** Of `connected`: whether the broker still had the session. */
  sessionPresent?: boolean;
  error?: string;
  /** `performance.now()` in the page. */
  at: number;
}

/** What `exchange` did. */
export interface Exchange {
  /** The reason code of each publish, in publishing order (`<shape> q<qos>`). */
  published: { label: string; reasonCode: number }[];
  /** The messages of this round, in arrival order. */
  received: Received[];
}

let client: Client | undefined;
let prefix = "";
const events: StatusRecord[] = [];
const received: Received[] = [];
let held: Promise<number[]> | undefined;

function record(shape: Shape, m: Message): void {
  received.push({
    shape,
    topic: m.topic.slice(prefix.length + 1),
    payload: m.text(),
    qos: m.qos,
    at: performance.now(),
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `ready` until it holds; rejects with `what` after `timeoutMs`. */
async function until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ready()) {
    if (performance.now() > deadline) {
      const seen = events.map((e) => e.type).join(", ");
      throw new Error(`${what}: not within ${timeoutMs} ms (status events: ${seen})`);
    }
    await delay(10);
  }
}

function count(type: string): number {
  return events.filter((e) => e.type === type).length;
}

/**
 * Connects to `broker` (a `ws://` URL), subscribes the three shapes under
 * `topicPrefix`, and starts recording.
 *
 * @param broker The bridge's URL.
 * @param topicPrefix A topic prefix unique to this run.
 * @param keepAliveSeconds The keep alive to ask for.
 * @returns The client id and the keep alive in effect.
 */
export async function start(
  broker: string,
  topicPrefix: string,
  keepAliveSeconds = 30,
): Promise<{ clientId: string; keepAlive: number; userAgent: string }> {
  prefix = topicPrefix;
  const c = client = new Client({
    broker,
    dial: wsDial(),
    keepAliveSeconds,
    connectTimeoutMs: 5000,
    reconnectBackoff: exponentialBackoff(100, 1000, 50),
  });
  (async () => {
    for await (const e of c.status()) {
      events.push({
        type: e.type,
        at: performance.now(),
        ...(e.type === "reconnecting" ? { attempt: e.attempt } : {}),
        ...(e.type === "connected" ? { sessionPresent: e.connack.sessionPresent } : {}),
        ...(e.type === "disconnected" && e.error ? { error: String(e.error) } : {}),
      });
    }
  })();
  const connack = await c.connect();
  const sub = await c.subscribe([{ topic: `${prefix}/iterator/#`, qos: 2 }]);
  (async () => {
    for await (const m of sub) {
      record("iterator", m);
      m.ack();
    }
  })();
  const qs = await c.subscribeQueue([{ topic: `${prefix}/queue/#`, qos: 2 }]);
  (async () => {
    for (let m = await qs.queue.dequeue(); m !== undefined; m = await qs.queue.dequeue()) {
      record("queue", m);
      m.ack();
    }
  })();
  await c.subscribeCallback([{ topic: `${prefix}/callback/#`, qos: 2 }], (m) => {
    record("callback", m);
  });
  return {
    clientId: c.clientId,
    keepAlive: connack.serverKeepAlive ?? keepAliveSeconds,
    userAgent: navigator.userAgent,
  };
}

/**
 * Publishes one message at each QoS (0, 1, 2) to each shape's topic, awaiting
 * each, then waits until all nine came back.
 *
 * @param round A label that goes into every payload.
 * @returns The reason codes and the messages of this round.
 */
export async function exchange(round: string): Promise<Exchange> {
  const c = client!;
  const published: Exchange["published"] = [];
  const before = received.length;
  for (const qos of [0, 1, 2] as const) {
    for (const shape of SHAPES) {
      const label = `${shape} q${qos}`;
      const { reasonCode } = await c.publish({
        topic: `${prefix}/${shape}/q${qos}`,
        payload: `${round}: ${label}`,
        qos,
      });
      published.push({ label, reasonCode });
    }
  }
  await until(() => received.length - before >= 9, 5000, `round ${round}: nine messages back`);
  await delay(50); // anything beyond nine would show up here
  return { published, received: received.slice(before) };
}

/**
 * Waits until the client has emitted `type` at least `n` times.
 *
 * @param type A status event type.
 * @param n How many.
 * @param timeoutMs How long to wait.
 * @returns Every status event so far.
 */
export async function waitFor(
  type: string,
  n: number,
  timeoutMs = 10_000,
): Promise<StatusRecord[]> {
  await until(() => count(type) >= n, timeoutMs, `${n} "${type}" status events`);
  return events;
}

/**
 * Publishes at QoS 1 (to the iterator's topic) and QoS 2 (to the queue's
 * topic) now, while the connection is down, without waiting: `heldResults` awaits
 * them.
 */
export function publishHeld(): { connected: boolean } {
  const c = client!;
  held = Promise.all([
    c.publish({ topic: `${prefix}/iterator/held`, payload: "held q1", qos: 1 }),
    c.publish({ topic: `${prefix}/queue/held`, payload: "held q2", qos: 2 }),
  ]).then((rs) => rs.map((r) => r.reasonCode));
  return { connected: c.connected };
}

/**
 * Awaits the publishes of `publishHeld`.
 *
 * @returns Their reason codes.
 */
export function heldResults(): Promise<number[]> {
  return held!;
}

/**
 * Waits until a message arrived on each of `topics` (relative to the
 * prefix), then a moment more for duplicates.
 *
 * @param topics The topics, e.g. `queue/held`.
 * @param timeoutMs How long to wait.
 * @returns Every message received on those topics, in arrival order.
 */
export async function collect(topics: string[], timeoutMs = 5000): Promise<Received[]> {
  const mine = () => received.filter((m) => topics.includes(m.topic));
  await until(
    () => topics.every((t) => mine().some((m) => m.topic === t)),
    timeoutMs,
    `messages on ${topics.join(", ")}`,
  );
  await delay(50);
  return mine();
}

/** The page's `document`, as far as this file uses it (the file type-checks without the DOM lib). */
interface PageDocument {
  readonly visibilityState: string;
  readonly hidden: boolean;
  addEventListener(type: "visibilitychange", fn: () => void): void;
}

function pageDocument(): PageDocument {
  return (globalThis as unknown as { document: PageDocument }).document;
}

const gaps: number[] = [];
let visibility: string[] = [];

/**
 * Starts measuring how often a 1 s `setInterval` really runs (the page's
 * timers, as the keep-alive sees them) and records visibility changes.
 */
export function watchTimers(): void {
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    gaps.push(Math.round(now - last));
    last = now;
  }, 1000);
  const doc = pageDocument();
  visibility = [doc.visibilityState];
  doc.addEventListener("visibilitychange", () => visibility.push(doc.visibilityState));
}

/** The gaps between the 1 s timer's runs so far (ms), and the visibility states seen. */
export function timers(): { gaps: number[]; visibility: string[]; hidden: boolean } {
  return { gaps, visibility, hidden: pageDocument().hidden };
}

/** Every status event and message so far, and whether the client is connected. */
export function observed(): { events: StatusRecord[]; received: Received[]; connected: boolean } {
  return { events, received, connected: client?.connected ?? false };
}

/**
 * Disconnects.
 *
 * @returns Every status event.
 */
export async function stop(): Promise<StatusRecord[]> {
  await client?.disconnect();
  await until(() => count("closed") >= 1, 2000, "closed");
  return events;
}
