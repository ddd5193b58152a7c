/**
 * `@mqttv5/client/web`: the client for browsers and Workers. The same
 * surface as `@mqttv5/client` without the Deno, Bun and Node transports (so
 * a bundle never pulls in `node:net`), plus {@linkcode wsDial}: a
 * {@linkcode Client} here needs a `dial` (`wsDial()` for MQTT over
 * WebSocket, or `cloudflareDial()` from `@mqttv5/client/transport/cloudflare`
 * on Cloudflare Workers).
 *
 * This `wsDial` uses the standard `WebSocket` alone: handshake headers and TLS
 * settings (which only Deno, Bun and Node can apply) reject with a
 * `TypeError`, and failures are `connect-failed` / `connection-lost` with the
 * runtime's own words. On Deno, Bun and Node, `wsDial` from
 * `@mqttv5/client/transport/ws` has both (and names DNS and TLS failures).
 *
 * @example In a browser
 * ```ts ignore
 * import { Client, wsDial } from "@mqttv5/client/web";
 *
 * const client = new Client({ broker: "wss://broker.example:8081/mqtt", dial: wsDial() });
 * await client.connect();
 * await client.publish({ topic: "hello", payload: "from the browser", qos: 1 });
 * await client.disconnect();
 * ```
 *
 * @module
 */

export * from "./src/api.ts";
export { wsDial } from "./src/transport/_ws.ts";
export type { WsDialOptions } from "./src/transport/_ws.ts";
