/**
 * What to do with an inbound PUBLISH (`Verdict`, which inbound.ts re-exports with its type).
 * Constants imported as a namespace, `import * as Verdict from "./_verdict.ts"`,
 * so that a bundler inlines each use as a number (see src/wire/_reason_code.ts).
 *
 * @module
 */

/** Deliver it (QoS 1/2: then `Inbound.accept`). */
export const Deliver = 0 as const;
/** Deliver it, though the broker exceeds our Receive Maximum [MQTT-3.3.4-9]. */
export const DeliverOverLimit = 1 as const;
/** A re-delivery of a QoS 2 message already delivered: answered, not delivered. */
export const Duplicate = 2 as const;
/** The broker broke the protocol: `violation` says how (with its reason code). */
export const Violation = 3 as const;
