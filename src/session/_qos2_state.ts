/**
 * Where an inbound QoS 2 message stands (`Qos2State`, which inbound.ts re-exports with its type).
 * Constants imported as a namespace, `import * as Qos2State from "./_qos2_state.ts"`,
 * so that a bundler inlines each use as a number (see src/wire/_reason_code.ts).
 *
 * @module
 */

/** Delivered; the application has not acked it yet (no PUBREC). */
export const Delivered = 0 as const;
/** Acked and recorded: PUBREC sent; awaiting PUBREL. */
export const Recorded = 1 as const;
/** Acked: PUBREC waits for the store to record the receipt. */
export const Recording = 2 as const;
