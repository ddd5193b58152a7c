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
