/**
 * The one rule MQTT v5 reason codes follow: below 0x80 is success, 0x80 and
 * above is failure (§2.4). Internal: not exported from `mod.ts`.
 *
 * @module
 */

/**
 * Whether a reason code reports a failure.
 *
 * @param reasonCode A reason code from an ack, CONNACK or DISCONNECT.
 * @returns True for 0x80 and above.
 */
export function isFailure(reasonCode: number): boolean {
  return reasonCode >= 0x80;
}
