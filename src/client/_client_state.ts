/**
 * Where the client is in its life (`ClientState`, which core.ts re-exports
 * with its type). Constants imported as a namespace,
 * `import * as ClientState from "./_client_state.ts"`, so that a bundler
 * inlines each use as a number (see src/wire/_reason_code.ts).
 *
 * @module
 */

/** Created, or given up after connect() failed: connect() may be called. */
export const Idle = 0 as const;
/** connect() runs. */
export const Connecting = 1 as const;
/** A connection is up. */
export const Connected = 2 as const;
/** The connection was lost: the supervisor reconnects. */
export const Reconnecting = 3 as const;
/** disconnect() was called: final. */
export const Closed = 4 as const;
