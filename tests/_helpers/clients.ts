// Clients for broker-backed test cases. Runtime-neutral (Deno and Bun).

import { Client, type ClientOptions, type Logger } from "../../mod.ts";

/**
 * A client made from `options` and connected; dispose it (`await using`). A
 * failed connect disposes it before rethrowing, so no timer or socket
 * outlives the test. `connectTimeoutMs` defaults to 5 s.
 */
export async function connectedWith(options: ClientOptions): Promise<Client> {
  const client = new Client({ connectTimeoutMs: 5000, ...options });
  try {
    await client.connect();
  } catch (err) {
    await client.disconnect();
    throw err;
  }
  return client;
}

/** {@linkcode connectedWith} for the broker at `url`. */
export function connected(url: string, options: Partial<ClientOptions> = {}): Promise<Client> {
  return connectedWith({ broker: url, ...options });
}

/** A logger that records every line, by level. */
export function recordingLogger(): Logger & { lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (msg: string) => {
    lines.push({ level, msg });
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
