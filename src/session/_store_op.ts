/**
 * A store write the outbound session asks for (`StoreOp`, which outbound.ts re-exports with its type).
 * Constants imported as a namespace, `import * as StoreOp from "./_store_op.ts"`,
 * so that a bundler inlines each use as a number (see src/wire/_reason_code.ts).
 *
 * @module
 */

/** Record the PUBLISH before it is written. */
export const Put = 0 as const;
/** Move the record to "PUBREL" before PUBREL is written. */
export const Release = 1 as const;
/** Forget the flow (completed or failed); nothing waits for it. */
export const Delete = 2 as const;
