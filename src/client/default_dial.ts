/**
 * Where a client without a `dial` option gets its transport. The package's
 * main entry (`mod.ts`) registers the runtime's own (Deno, Bun or Node,
 * loaded on first use); the web entry (`web.ts`) registers none, so a bundle
 * for a browser or a Worker never pulls in `node:net`, and a client there
 * needs `dial: wsDial()` (or `cloudflareDial()`).
 *
 * @module
 */

import type { DialFunc } from "../transport/types.ts";

let provider: (() => Promise<DialFunc>) | undefined;

/**
 * Registers how a client without `dial` finds its transport.
 *
 * @param p Resolves to the dial function to use.
 */
export function setDefaultDial(p: () => Promise<DialFunc>): void {
  provider = p;
}

/**
 * The registered provider, if any.
 *
 * @returns It, or undefined (the web entry).
 */
export function defaultDial(): (() => Promise<DialFunc>) | undefined {
  return provider;
}
