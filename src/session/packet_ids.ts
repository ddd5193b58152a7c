/**
 * {@linkcode PacketIds}: allocation and release of MQTT packet identifiers
 * (1..65535), shared by every exchange that needs one (QoS 1/2 PUBLISH,
 * SUBSCRIBE, UNSUBSCRIBE). No I/O, no timers.
 *
 * @module
 */

import { MqttError } from "../errors.ts";

/**
 * The error for a SUBSCRIBE / UNSUBSCRIBE when all 65535 packet identifiers
 * are in use (publishes in flight hold the rest).
 *
 * @returns An `MqttError` with code `packet-ids-exhausted`.
 */
export function packetIdsExhausted(): MqttError {
  return new MqttError(
    "packet-ids-exhausted",
    "all 65535 packet identifiers are in use by exchanges in flight; retry once some complete",
  );
}

/** The largest packet identifier [MQTT-2.2.1-3]: identifiers are 1..65535. */
export const MAX_PACKET_ID = 65535;

/**
 * The packet identifiers in use. An identifier is never handed out twice while
 * in use [MQTT-2.2.1-3]; allocation goes round from the last one taken, so a
 * released identifier is reused as late as possible.
 *
 * @example Allocate and release
 * ```ts ignore
 * const ids = new PacketIds();
 * const a = ids.alloc(); // 1
 * const b = ids.alloc(); // 2
 * ids.free(a);
 * ids.alloc(); // 3: a released id comes round again only after the others
 * ```
 */
export class PacketIds {
  /**
   * One bit per identifier, grown on demand: a client that only ever used a
   * few identifiers holds a few words, not a 64 Ki table (8 KiB at most).
   */
  #used = new Int32Array(4);
  #next = 1;
  #inUse = 0;

  /** How many identifiers are in use. */
  get inUse(): number {
    return this.#inUse;
  }

  /**
   * Takes a free identifier.
   *
   * @returns The identifier, or 0 when all 65535 are in use.
   */
  alloc(): number {
    if (this.#inUse >= MAX_PACKET_ID) return 0;
    let id = this.#next;
    while (this.#taken(id)) id = id === MAX_PACKET_ID ? 1 : id + 1;
    this.#set(id);
    this.#next = id === MAX_PACKET_ID ? 1 : id + 1;
    return id;
  }

  /**
   * Takes a given identifier (one a store restored).
   *
   * @param id The identifier.
   * @returns Whether it was free (and is now taken).
   */
  claim(id: number): boolean {
    if (!(id >= 1 && id <= MAX_PACKET_ID) || id !== Math.floor(id) || this.has(id)) return false;
    this.#set(id);
    return true;
  }

  /**
   * Whether an identifier is in use.
   *
   * @param id The identifier.
   * @returns True when taken.
   */
  has(id: number): boolean {
    return id === (id | 0) && id > 0 && this.#taken(id);
  }

  /**
   * Releases an identifier (a no-op when it is free).
   *
   * @param id The identifier.
   */
  free(id: number): void {
    if (!this.has(id)) return; // free, or never an identifier (0, 65536, undefined)
    this.#used[id >>> 5] &= ~(1 << (id & 31));
    this.#inUse--;
  }

  /** Whether the bit of `id` (an integer 1..65535) is set. */
  #taken(id: number): boolean {
    const w = id >>> 5;
    return w < this.#used.length && (this.#used[w] & (1 << (id & 31))) !== 0;
  }

  #set(id: number): void {
    const w = id >>> 5;
    if (w >= this.#used.length) {
      // Doubling, up to the 2048 words that cover 1..65535.
      let size = this.#used.length * 2;
      while (size <= w) size *= 2;
      const grown = new Int32Array(Math.min(size, (MAX_PACKET_ID >>> 5) + 1));
      grown.set(this.#used);
      this.#used = grown;
    }
    this.#used[w] |= 1 << (id & 31);
    this.#inUse++;
  }
}
