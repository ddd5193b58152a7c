/**
 * The transport layer: the {@linkcode DialFunc} / {@linkcode Connection}
 * contract and {@linkcode autoDial}, which dials with the adapter for the
 * runtime it runs on (`Deno.connect` under Deno, `Bun.connect` under Bun,
 * `node:net` / `node:tls` elsewhere), for TCP, TLS and
 * `unix:///path/to/socket` (a Unix domain socket) alike.
 *
 * Each adapter is loaded with a dynamic `import()` on first use, so a runtime
 * never loads another runtime's module. To pin one adapter, import it
 * directly: `./deno.ts`, `./bun.ts` or `./node.ts`.
 *
 * @example Dial whatever the runtime
 * ```ts ignore
 * import { autoDial } from "./mod.ts";
 *
 * const conn = await autoDial(new URL("mqtt://127.0.0.1:1883"), {});
 * conn.start((chunk) => console.log(chunk.length), () => console.log("closed"));
 * conn.close();
 * ```
 *
 * @module
 */

import type { Connection, DialFunc, DialOptions } from "./types.ts";

export type { Connection, DialFunc, DialOptions, TlsOptions } from "./types.ts";

/** The runtimes {@linkcode defaultDial} tells apart. */
export type TransportRuntime = "deno" | "bun" | "node";

/**
 * Names the runtime this code runs on: `"deno"` when `globalThis.Deno` exists,
 * `"bun"` when `globalThis.Bun` exists, `"node"` otherwise.
 *
 * @returns The runtime whose adapter {@linkcode defaultDial} loads.
 *
 * @example Usage
 * ```ts ignore
 * import { detectRuntime } from "./mod.ts";
 *
 * console.log(detectRuntime()); // "deno" under `deno run`
 * ```
 */
export function detectRuntime(): TransportRuntime {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  return "node";
}

let picked: Promise<DialFunc> | undefined;

/**
 * Loads the adapter for the current runtime (see {@linkcode detectRuntime})
 * and returns its {@linkcode DialFunc}. The module is imported once; later
 * calls return the same promise.
 *
 * @returns `denoDial`, `bunDial` or `nodeDial`.
 *
 * @example Pick once, dial many times
 * ```ts ignore
 * import { defaultDial } from "./mod.ts";
 *
 * const dial = await defaultDial();
 * const conn = await dial(new URL("mqtt://127.0.0.1:1883"), {});
 * conn.close();
 * ```
 */
export function defaultDial(): Promise<DialFunc> {
  picked ??= load(detectRuntime());
  return picked;
}

async function load(runtime: TransportRuntime): Promise<DialFunc> {
  switch (runtime) {
    case "deno":
      return (await import("./deno.ts")).denoDial;
    case "bun":
      return (await import("./bun.ts")).bunDial;
    case "node":
      return (await import("./node.ts")).nodeDial;
  }
}

/**
 * A {@linkcode DialFunc} that dials with the current runtime's adapter,
 * loading it on the first call (see {@linkcode defaultDial}). This is what the
 * client uses when no `dial` option is given.
 *
 * @param url The broker URL: `mqtt://`, `tcp://` for TCP; `mqtts://`, `tls://`,
 *   `ssl://` for TLS; `unix:///path/to/socket` for a Unix domain socket.
 * @param options TLS settings and an abort signal.
 * @returns The open connection.
 * @throws {MqttError} `dns-failed`, `connect-failed` or `tls-failed` when the
 *   connection cannot be made (the runtime's error is the `cause`).
 * @throws {TypeError} The URL has no host, `tls.cert` comes without
 *   `tls.key`, or a `unix:` URL names a host, has no path, or comes with TLS
 *   settings.
 * @throws The `signal.reason` when `options.signal` aborts first.
 *
 * @example Dial a local broker
 * ```ts ignore
 * import { autoDial } from "./mod.ts";
 *
 * const conn = await autoDial(new URL("mqtt://127.0.0.1:1883"), {
 *   signal: AbortSignal.timeout(5_000),
 * });
 * conn.close();
 * ```
 */
export const autoDial: DialFunc = async (
  url: URL,
  options: DialOptions,
): Promise<Connection> => {
  const dial = await defaultDial();
  return dial(url, options);
};
