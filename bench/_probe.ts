// Shared by bench/rr_probe.ts and bench/seq_probe.ts: the command line
// (`<tree> <broker URL> <n>`) and the tree under test, loaded at run time so
// that one copy of a probe measures any checkout.

import process from "node:process";

/** The Connection interface of the tree under test, as far as a probe uses it. */
export type Conn = {
  start(onData: (b: Uint8Array) => void, onClose: (e?: Error) => void): void;
  write(b: Uint8Array): Promise<void>;
  close(): void;
  pause?(): void;
  resume?(): void;
};

/**
 * Reads `<tree> <broker URL> <n>` and loads the tree's Client and autoDial.
 *
 * @param defaultN The count when none is given.
 * @returns The broker URL, the count, and the tree's exports.
 */
export async function probeSetup(defaultN: string) {
  const [tree = ".", broker = "mqtt://127.0.0.1:1883", n = defaultN] = process.argv.slice(2);
  const root = tree.startsWith("/") ? tree : `${process.cwd()}/${tree}`;
  const { Client } = await import(`${root}/mod.ts`);
  const { autoDial } = await import(`${root}/src/transport/mod.ts`);
  return { broker, n, Client, autoDial };
}
