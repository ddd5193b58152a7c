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
  #used = new Uint8Array(MAX_PACKET_ID + 1);
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
    const used = this.#used;
    let id = this.#next;
    while (used[id] !== 0) id = id === MAX_PACKET_ID ? 1 : id + 1;
    used[id] = 1;
    this.#inUse++;
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
    if (id < 1 || id > MAX_PACKET_ID || this.#used[id] !== 0) return false;
    this.#used[id] = 1;
    this.#inUse++;
    return true;
  }

  /**
   * Whether an identifier is in use.
   *
   * @param id The identifier.
   * @returns True when taken.
   */
  has(id: number): boolean {
    return this.#used[id] === 1;
  }

  /**
   * Releases an identifier (a no-op when it is free).
   *
   * @param id The identifier.
   */
  free(id: number): void {
    if (this.#used[id] !== 1) return; // free, or never an identifier (0, 65536, undefined)
    this.#used[id] = 0;
    this.#inUse--;
  }
}
