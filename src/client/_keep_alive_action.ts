/**
 * What a keep-alive tick asks for (`KeepAliveAction`, which keepalive.ts re-exports with its type).
 * Constants imported as a namespace, `import * as KeepAliveAction from "./_keep_alive_action.ts"`,
 * so that a bundler inlines each use as a number (see src/wire/_reason_code.ts).
 *
 * @module
 */

/** Nothing to do. */
export const None = 0 as const;
/** Send a PINGREQ. */
export const Ping = 1 as const;
/** No PINGRESP in time: the connection is dead. */
export const TimedOut = 2 as const;
