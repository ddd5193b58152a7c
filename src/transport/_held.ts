/**
 * Inbound chunks a connection holds while it is paused (or before `start()`),
 * delivered in order later from a microtask: a FIFO with a head index, no
 * `Array.shift()`. Shared by the adapters whose runtime may still hand over
 * data after pausing.
 *
 * @module
 */

/** Held inbound chunks, oldest first, and the delivery scheduled for them. */
export class HeldChunks {
  #chunks: Uint8Array[] = [];
  #head = 0;
  /** A delivery is scheduled: its microtask has not run yet. */
  #scheduled = false;
  /** The scheduled microtask: made once, so that scheduling allocates nothing. */
  readonly #run: () => void;

  /**
   * @param flush What {@linkcode schedule} runs from a microtask: calls
   * {@linkcode drain}, then lets the socket flow again (or reports its end).
   */
  constructor(flush: () => void) {
    this.#run = () => {
      this.#scheduled = false;
      flush();
    };
  }

  /** Whether nothing is held. */
  get empty(): boolean {
    return this.#head === this.#chunks.length;
  }

  /**
   * Whether a new chunk must wait its turn (be pushed, not delivered): chunks
   * are held, or a delivery is scheduled.
   */
  get waiting(): boolean {
    return this.#scheduled || this.#head !== this.#chunks.length;
  }

  /** Holds a chunk behind the others. */
  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
  }

  /**
   * Runs the constructor's `flush` from a microtask, once however often it is
   * asked for before that runs: an adapter never delivers inside `resume()` or
   * `start()`, which the client may call from user code.
   */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#run);
  }

  /**
   * Hands held chunks to `deliver`, oldest first, for as long as `more()`
   * allows (it is asked before each one).
   */
  drain(more: () => boolean, deliver: (chunk: Uint8Array) => void): void {
    const chunks = this.#chunks;
    while (this.#head < chunks.length && more()) {
      const chunk = chunks[this.#head];
      chunks[this.#head++] = undefined as unknown as Uint8Array;
      deliver(chunk);
    }
    if (this.#head === chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    }
  }
}
