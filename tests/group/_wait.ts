// Bounded waits shared by the group, codec and WebSocket cases (tests/group,
// tests/codec, tests/transport/ws_cases.ts). Every timer is cleared before the
// call returns, so Deno's sanitizers stay on.

import assert from "node:assert/strict";
import type { Message } from "../../mod.ts";

/** One runtime-neutral test case. */
export interface Case {
  name: string;
  fn: () => Promise<void>;
}

/** The runtime the cases run on. */
export const runtime: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";

export const WAIT_MS = 5000;

export const delay = (ms: number): Promise<void> =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `p`, or a rejection naming `what` after `ms`. */
export async function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
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

/** Polls `cond` until it holds. */
export async function until(cond: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

/** Reads `n` values from an async iterable without ending it. */
export async function take<T>(sub: AsyncIterable<T>, n: number, what: string): Promise<T[]> {
  const it = sub[Symbol.asyncIterator]();
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const r = await within(it.next(), `${what} (${i} of ${n} received)`);
    if (r.done) throw new Error(`iteration ended after ${i} of ${n} ${what}`);
    out.push(r.value);
  }
  return out;
}

/** Reads `n` messages and acks each. */
export async function takeAcked<M extends Message>(
  sub: AsyncIterable<M>,
  n: number,
  what: string,
): Promise<M[]> {
  const ms = await take(sub, n, what);
  for (const m of ms) m.ack();
  return ms;
}

/** Whether `p` is still pending after a few macrotask turns. */
export async function pending(p: Promise<unknown>, ms = 50): Promise<boolean> {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  await delay(ms);
  return !settled;
}

/**
 * An AbortController whose signal counts the `"abort"` listeners added to it
 * and not removed yet (a `once` listener counts as removed once the signal
 * has fired), so a test can check that a call leaves no listener behind.
 */
export function trackedAbort(): { controller: AbortController; listeners: () => number } {
  const controller = new AbortController();
  const signal = controller.signal;
  const live = new Map<unknown, boolean>(); // listener -> once
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions,
  ) => {
    if (type === "abort") live.set(listener, typeof options === "object" && options.once === true);
    add(type, listener, options);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | EventListenerOptions,
  ) => {
    if (type === "abort") live.delete(listener);
    remove(type, listener, options);
  }) as typeof signal.removeEventListener;
  return {
    controller,
    listeners: () => signal.aborted ? [...live.values()].filter((once) => !once).length : live.size,
  };
}

/** An already-aborted signal and its reason, a fresh object to compare by identity. */
export function abortedSignal(): { signal: AbortSignal; reason: Error } {
  const reason = new Error("aborted by the test");
  const controller = new AbortController();
  controller.abort(reason);
  return { signal: controller.signal, reason };
}

/** Asserts that `p` rejects with exactly `reason` (the same object). */
export async function rejectsWithReason(p: Promise<unknown>, reason: unknown): Promise<void> {
  let settled: unknown;
  try {
    settled = await p;
  } catch (err) {
    assert.equal(err, reason, `expected the signal's reason, got ${String(err)}`);
    return;
  }
  assert.fail(
    `expected a rejection with the signal's reason, got a resolution (${String(settled)})`,
  );
}
