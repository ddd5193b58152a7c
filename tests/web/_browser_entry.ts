// The smallest browser program the web entry is for: a Client over WebSocket
// that connects, publishes once at QoS 1 and disconnects. bundle_test.ts
// bundles it with esbuild, Bun and Deno for a browser, checks each bundle
// and weighs the esbuild one (the size budget of issue #13: Client + wsDial),
// then runs each bundle against mosquitto through the WebSocket bridge.

import { Client, wsDial } from "../../web.ts";

/**
 * Connects to `broker` (a `ws://` URL), publishes `payload` to `topic` at QoS 1
 * and disconnects.
 *
 * @param broker The broker's WebSocket URL.
 * @param topic Where to publish.
 * @param payload What to publish.
 * @returns The PUBACK's reason code.
 */
export async function publishOnce(broker: string, topic: string, payload: string): Promise<number> {
  const client = new Client({ broker, dial: wsDial() });
  await client.connect();
  try {
    const { reasonCode } = await client.publish({ topic, payload, qos: 1 });
    return reasonCode;
  } finally {
    await client.disconnect();
  }
}

/**
 * Dials `broker` (where nothing listens) and reports how the dial failed.
 *
 * @param broker A `ws://` URL with no server behind it.
 * @returns The error's name, code and message.
 */
export async function failedDial(
  broker: string,
): Promise<{ name: string; code: string; message: string }> {
  const client = new Client({ broker, dial: wsDial() });
  try {
    await client.connect({ signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const e = err as { name: string; code: string; message: string };
    return { name: e.name, code: e.code, message: e.message };
  } finally {
    await client.disconnect();
  }
  throw new Error(`connected to ${broker}, where nothing should listen`);
}

/**
 * Dials `broker` with a handshake header, which the standard WebSocket cannot send.
 *
 * @param broker A `ws://` URL.
 * @returns The rejection's name and message.
 */
export async function dialWithHeaders(broker: string): Promise<{ name: string; message: string }> {
  try {
    const conn = await wsDial({ headers: { authorization: "Bearer x" } })(new URL(broker), {});
    conn.close();
  } catch (err) {
    const e = err as Error;
    return { name: e.name, message: e.message };
  }
  throw new Error("a dial with headers went through");
}

/**
 * Makes a Client for a `unix:` broker URL, which the web entry cannot dial.
 *
 * @returns The error's name, code and message.
 */
export function unixBroker(): { name: string; code: string; message: string } {
  try {
    new Client({ broker: "unix:///run/mosquitto/mqtt.sock", dial: wsDial() });
  } catch (err) {
    const e = err as { name: string; code: string; message: string };
    return { name: e.name, code: e.code, message: e.message };
  }
  throw new Error("a web Client took a unix: broker URL");
}
