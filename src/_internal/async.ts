/**
 * Promise helpers every layer shares: one copy each of the abort race and
 * the deferred. Internal: not exported from `mod.ts`.
 *
 * @module
 */

/**
 * A promise with its `resolve` and `reject`: the shape of ES2024's
 * `PromiseWithResolvers`, declared here so that declarations stay valid for
 * an ES2023 lib (Node 20 projects).
 */
export interface Deferred<T> {
  /** The promise. */
  promise: Promise<T>;
  /** Resolves it. */
  resolve: (value: T | PromiseLike<T>) => void;
  /** Rejects it. */
  reject: (reason?: unknown) => void;
}

/**
 * `Promise.withResolvers()`, which Node 20 lacks (it arrived in Node 22).
 *
 * @returns A promise with its `resolve` and `reject`.
 */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Settles like `promise`, or rejects with `signal.reason` (unchanged) when the
 * signal is or gets aborted first. The listener is removed once either
 * happens. A value that arrives after the abort goes to `discard` (a socket
 * that connected too late, say), so nothing leaks.
 *
 * @param promise What to wait for.
 * @param signal Stops the wait; none means `promise` itself.
 * @param discard Receives a value that arrived after the abort.
 * @returns The race.
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  discard?: (value: T) => void,
): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    if (discard !== undefined) promise.then(discard, () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        if (!aborted) resolve(value);
        else discard?.(value);
      },
      (err) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/**
 * Resolves after `ms` milliseconds, or at once (resolving, not rejecting)
 * when `signal` is or gets aborted.
 *
 * @param ms How long to wait.
 * @param signal Ends the wait early.
 * @returns Settles when the time is up or the signal aborted.
 */
export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Waits for `p` to settle (either way), at most `ms` milliseconds, and no
 * longer than until `signal` aborts. Never rejects.
 *
 * @param p What to wait for.
 * @param ms The longest wait.
 * @param signal Ends the wait early.
 * @returns Settles when `p` did, the time is up or the signal aborted.
 */
export async function settledWithin(
  p: Promise<unknown>,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  if (signal?.aborted) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      p.then(() => {}, () => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
        if (signal !== undefined) {
          onAbort = resolve;
          signal.addEventListener("abort", onAbort, { once: true });
        }
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal!.removeEventListener("abort", onAbort);
  }
}
