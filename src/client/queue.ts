/**
 * {@linkcode Queue}: an unbounded FIFO with an async consumer side, used by
 * `Client.subscribeQueue()` and available for your own pipelines.
 *
 * @module
 */

let takeHook: (q: Queue<unknown>, hook: (() => void) | undefined) => void;

/**
 * Calls `hook` after each value leaves `q` (tryDequeue, or dequeue and the
 * iterator, which use it). The client's flow control uses it to resume
 * reading once a consumer has made room. Internal: not exported by `mod.ts`.
 *
 * @param q The queue.
 * @param hook Called after each removal; `undefined` removes it.
 * @internal
 */
export function onTake<T>(q: Queue<T>, hook: (() => void) | undefined): void {
  takeHook(q as Queue<unknown>, hook);
}

/**
 * An unbounded first-in first-out queue. `enqueue` never blocks; `dequeue`
 * waits until a value arrives, the queue is closed and drained, or its signal
 * aborts. It is also an `AsyncIterable` that ends when the queue is closed and
 * drained. Backed by a ring buffer: O(1) at both ends, no `Array.shift()`.
 *
 * @typeParam T The element type.
 *
 * @example Produce and consume
 * ```ts
 * import { Queue } from "@mqttv5/client";
 *
 * const q = new Queue<string>();
 * q.enqueue("one");
 * q.enqueue("two");
 * q.close();
 * for await (const v of q) console.log(v); // one, two
 * ```
 */
export class Queue<T> implements AsyncIterable<T> {
  static {
    takeHook = (q, hook) => {
      q.#onTake = hook;
    };
  }
  #onTake: (() => void) | undefined;
  #ring: (T | undefined)[] = new Array(16);
  #head = 0;
  #size = 0;
  #closed = false;
  /** Consumers waiting in dequeue(), oldest first. */
  #waiters: { resolve: (v: T | undefined) => void }[] = [];
  #waitHead = 0;

  /** The number of values waiting to be dequeued. */
  get length(): number {
    return this.#size;
  }

  /** Whether {@linkcode Queue.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Appends a value, or hands it straight to a waiting consumer. Values
   * enqueued after {@linkcode Queue.close} are ignored.
   *
   * @param value The value to append.
   */
  enqueue(value: T): void {
    if (this.#closed) return;
    if (this.#waitHead < this.#waiters.length) {
      const w = this.#waiters[this.#waitHead];
      this.#waiters[this.#waitHead++] = undefined as never;
      if (this.#waitHead === this.#waiters.length) {
        this.#waiters.length = 0;
        this.#waitHead = 0;
      }
      w.resolve(value);
      return;
    }
    if (this.#size === this.#ring.length) this.#grow();
    this.#ring[(this.#head + this.#size) & (this.#ring.length - 1)] = value;
    this.#size++;
  }

  /**
   * Removes and returns the oldest value without waiting.
   *
   * @returns The oldest value, or `undefined` when the queue is empty.
   */
  tryDequeue(): T | undefined {
    if (this.#size === 0) return undefined;
    const ring = this.#ring;
    const v = ring[this.#head];
    ring[this.#head] = undefined;
    this.#head = (this.#head + 1) & (ring.length - 1);
    this.#size--;
    if (this.#onTake !== undefined) this.#onTake();
    return v;
  }

  /**
   * Removes and returns the oldest value, waiting for one if needed.
   *
   * @param options `signal` stops the wait.
   * @returns The oldest value; `undefined` when the queue is closed and
   * drained, or when `signal` aborts.
   */
  dequeue(options?: { signal?: AbortSignal }): Promise<T | undefined> {
    if (this.#size > 0) return Promise.resolve(this.tryDequeue());
    if (this.#closed) return Promise.resolve(undefined);
    const signal = options?.signal;
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve) => {
      const waiter = { resolve };
      if (signal !== undefined) {
        const onAbort = () => {
          const i = this.#waiters.indexOf(waiter, this.#waitHead);
          if (i >= 0) this.#waiters.splice(i, 1);
          resolve(undefined);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        waiter.resolve = (v) => {
          signal.removeEventListener("abort", onAbort);
          resolve(v);
        };
      }
      this.#waiters.push(waiter);
    });
  }

  /**
   * Closes the queue: values already queued stay available, waiting and
   * future `dequeue` calls on an empty queue return `undefined`. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const waiters = this.#waiters;
    const from = this.#waitHead;
    this.#waiters = [];
    this.#waitHead = 0;
    for (let i = from; i < waiters.length; i++) waiters[i].resolve(undefined);
  }

  /**
   * Iterates values until the queue is closed and drained.
   *
   * @returns An async iterator over the queue's values.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      const v = this.#size > 0 ? this.tryDequeue() : await this.dequeue();
      if (v === undefined) return; // closed and drained (T never includes undefined)
      yield v;
    }
  }

  #grow(): void {
    const old = this.#ring;
    const ring: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.#size; i++) ring[i] = old[(this.#head + i) & (old.length - 1)];
    this.#ring = ring;
    this.#head = 0;
  }
}
