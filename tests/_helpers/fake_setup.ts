/**
 * A {@linkcode Client} connected to a {@linkcode FakeBroker}, for cases that
 * script the broker's side of the wire (`await using t = await
 * connectedToFake(...)`; `t.conn` is the broker's end of the connection).
 *
 * @module
 */

import { Client, type ClientOptions } from "../../mod.ts";
import { FakeBroker, type FakeBrokerOptions, type ScriptConn } from "./fake_broker.ts";
import { within } from "./timing.ts";

/** A connected client, its fake broker and the broker's end of the connection. */
export interface FakeSetup extends AsyncDisposable {
  broker: FakeBroker;
  client: Client;
  conn: ScriptConn;
}

/**
 * A client that dials `broker`, with quick reconnects and short timeouts.
 *
 * @param broker The fake broker.
 * @param options More options (they win).
 * @returns The client, not connected.
 */
export function fakeClient(broker: FakeBroker, options: Partial<ClientOptions> = {}): Client {
  return new Client({
    broker: "mqtt://fake:1883",
    dial: broker.dial,
    reconnectBackoff: () => 10,
    disconnectFlushTimeoutMs: 100,
    connectTimeoutMs: 2000,
    ...options,
  });
}

/**
 * Starts a fake broker and connects a client to it.
 *
 * @param brokerOptions The broker's script (a 2 s timeout unless given).
 * @param clientOptions More client options.
 * @returns The setup; disposing it disconnects the client and stops the broker.
 */
export async function connectedToFake(
  brokerOptions: FakeBrokerOptions = {},
  clientOptions: Partial<ClientOptions> = {},
): Promise<FakeSetup> {
  const broker = new FakeBroker({ timeoutMs: 2000, ...brokerOptions });
  const client = fakeClient(broker, clientOptions);
  try {
    await within(client.connect(), 2000, "connect()");
  } catch (err) {
    await client.disconnect().catch(() => {});
    await broker[Symbol.asyncDispose]();
    throw err;
  }
  const conn = await broker.nextConnection();
  return {
    broker,
    client,
    conn,
    async [Symbol.asyncDispose]() {
      // Writes a case held back (a runtime with a full socket) would hold the DISCONNECT too.
      for (const c of broker.connections) c.client.releaseWrites();
      await client.disconnect();
      await broker[Symbol.asyncDispose]();
    },
  };
}
