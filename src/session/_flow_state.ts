/**
 * Where an outbound QoS 1/2 flow stands (`FlowState`, which outbound.ts re-exports with its type).
 * Constants imported as a namespace, `import * as FlowState from "./_flow_state.ts"`,
 * so that a bundler inlines each use as a number (see src/wire/_reason_code.ts).
 *
 * @module
 */

/** PUBLISH sent (or to be sent): awaiting PUBACK (QoS 1) or PUBREC (QoS 2). */
export const AwaitingAck = 0 as const;
/** PUBREC received: PUBREL sent (or to be sent), awaiting PUBCOMP. */
export const AwaitingComp = 1 as const;
