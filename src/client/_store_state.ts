/**
 * Where the session store stands against memory (`StoreState` of persistence.ts).
 * Constants imported as a namespace, `import * as StoreState from "./_store_state.ts"`,
 * so that a bundler inlines each use as a number (see src/wire/_reason_code.ts).
 *
 * @module
 */

/** Not read yet: read before the first CONNECT. */
export const Unloaded = 0 as const;
/** Memory and store agree. */
export const Loaded = 1 as const;
/** A write failed: reconcile before the next CONNECT. */
export const Failed = 2 as const;
