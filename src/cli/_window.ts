/**
 * Small async helpers of the CLI: {@linkcode Window}, a bound on operations
 * in flight, and {@linkcode unlessAborted}. (The abortable sleep is
 * `sleepUnlessAborted` of `src/_internal/async.ts`.)
 *
 * @module
 */

/**
 * Bounds how many operations are in flight at once, for one producer: call
 * {@linkcode Window.acquire} before starting one, {@linkcode Window.track}
 * with its promise, and {@linkcode Window.drain} at the end. The first failure
 * is kept in {@linkcode Window.error}.
 */
export class Window {
  #inflight = 0;
  #wake: (() => void) | undefined;
  #error: { value: unknown } | undefined;
  readonly #limit: number;

  /** @param limit Most operations in flight at once (at least 1). */
  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** The first failure of a tracked operation, if any. */
  get error(): { value: unknown } | undefined {
    return this.#error;
  }

  /** Operations in flight. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Waits until fewer than `limit` operations are in flight. */
  async acquire(): Promise<void> {
    while (this.#inflight >= this.#limit) await this.#next();
  }

  /**
   * Counts `p` as in flight until it settles.
   *
   * @param p The operation.
   * @param onDone Called with the result when it fulfils.
   */
  track<T>(p: Promise<T>, onDone?: (value: T) => void): void {
    this.#inflight++;
    p.then(
      (v) => {
        this.#settle();
        onDone?.(v);
      },
      (err) => {
        this.#error ??= { value: err };
        this.#settle();
      },
    );
  }

  /** Waits until nothing is in flight. */
  async drain(): Promise<void> {
    while (this.#inflight > 0) await this.#next();
  }

  #settle(): void {
    this.#inflight--;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #next(): Promise<void> {
    return new Promise<void>((resolve) => (this.#wake = resolve));
  }
}

/**
 * `p`, or `undefined` as soon as `signal` aborts.
 *
 * @param p The promise.
 * @param signal Stops the wait.
 * @returns What `p` gave, or `undefined` after an abort.
 */
export function unlessAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (err) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
