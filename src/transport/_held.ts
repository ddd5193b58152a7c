/**
 * Inbound chunks a connection holds while it is paused (or before `start()`),
 * delivered in order later: a FIFO with a head index, no `Array.shift()`.
 * Shared by the adapters whose runtime may still hand over data after pausing.
 *
 * @module
 */

/** Held inbound chunks, oldest first. */
export class HeldChunks {
  #chunks: Uint8Array[] = [];
  #head = 0;

  /** Whether nothing is held. */
  get empty(): boolean {
    return this.#head === this.#chunks.length;
  }

  /** Holds a chunk behind the others. */
  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
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
