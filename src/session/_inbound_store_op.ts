/**
 * A store write the inbound session asks for (`InboundStoreOp`, which inbound.ts re-exports with its type).
 * Constants imported as a namespace, `import * as InboundStoreOp from "./_inbound_store_op.ts"`,
 * so that a bundler inlines each use as a number (see src/wire/_reason_code.ts).
 *
 * @module
 */

/** Record a QoS 2 receipt before PUBREC. */
export const Put = 0 as const;
/** Forget it before PUBCOMP. */
export const Delete = 1 as const;
