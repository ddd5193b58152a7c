/**
 * {@linkcode PauseGate}: pause / resume for an adapter whose read loop pulls
 * (Deno's `conn.read()`, a Workers socket's reader): the loop waits at the
 * gate while paused and goes on, from a microtask, once resumed or closed.
 * Shared by the Deno and Cloudflare adapters. Also how long the Deno and Bun
 * adapters hold reading back after a burst (`LINGER_MS`, `LINGER_MAX_CHUNK`).
 *
 * @module
 */

/**
 * How long an adapter waits before reading again when `onData` answered true
 * (see `Connection.start`), in ms: long enough for a burst to gather in the
 * kernel, short against any keep alive or ack timeout.
 */
export const LINGER_MS = 1;

/**
 * A read this large came from a stream that outruns the reader (or is about
 * to): the adapter reads on at once after it. Under a QoS 0 stream through a
 * broker every other read still waits, which keeps most of the saving; a
 * stream faster than the client (receive-raw) stays at full speed.
 */
export const LINGER_MAX_CHUNK = 8 * 1024;

/** The gate a pulling read loop waits at while the client holds reading back. */
export class PauseGate {
  #paused = false;
  /** Wakes the read loop waiting in wait(). */
  #wake: (() => void) | undefined;

  /** Whether reading is held back. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Holds the read loop back at its next wait(). */
  pause(): void {
    this.#paused = true;
  }

  /** Lets the read loop go on (from a microtask, never inside resume()). */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.wake();
  }

  /** Wakes a waiting read loop (to go on, or to see that its connection closed). */
  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * Resolves once the gate is open, or the connection is closed.
   *
   * @param closed Whether the connection is closed.
   */
  async wait(closed: () => boolean): Promise<void> {
    while (this.#paused && !closed()) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}
