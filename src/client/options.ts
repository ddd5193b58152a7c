/**
 * {@linkcode ClientOptions}, their defaults and their validation.
 *
 * @module
 */

import { checkEnum as checkArg, checkInt } from "../_internal/args.ts";
import { MqttError } from "../errors.ts";

/**
 * Checks a `unix:` broker URL and returns its socket path: installed by the
 * runtime entry (mod.ts), whose transports dial Unix sockets. The web entry
 * has none, and leaves the check out of a browser bundle.
 */
let unixPath: ((url: URL, subject: string) => string) | undefined;

/**
 * Installs the check of `unix:` broker URLs (mod.ts installs
 * `unixSocketPath` of src/transport/_endpoint.ts).
 *
 * @param check Returns the socket path, or throws a TypeError naming the rule broken.
 */
export function setUnixPathCheck(check: (url: URL, subject: string) => string): void {
  unixPath = check;
}
import type { DialFunc, TlsOptions } from "../transport/types.ts";
import type { QoS, UserProperty, WillProperties } from "../wire/types.ts";
import { topicNameError } from "../topic/validate.ts";
import type { ConnackInfo, PublisherPoolOptions } from "./types.ts";
import { checkRateLimit, type RateLimitOptions } from "./rate_limit.ts";
import type { DisconnectPacket } from "../wire/types.ts";
import type { Backoff } from "./backoff.ts";
import type { SessionStore } from "../session/store.ts";
import type { DropPolicy, Logger } from "../_internal/types.ts";

export type { DropPolicy, Logger } from "../_internal/types.ts";

/**
 * The will message the broker publishes if this client goes away ungracefully.
 *
 * @example A retained offline marker
 * ```ts
 * import type { WillOptions } from "@mqttv5/client";
 *
 * const will: WillOptions = {
 *   topic: "status/ingest-1",
 *   payload: "offline",
 *   qos: 1,
 *   retain: true,
 *   delayIntervalSeconds: 5,
 * };
 * ```
 */
export interface WillOptions {
  /** Topic name. */
  topic: string;
  /**
   * Payload; a string is encoded as UTF-8.
   *
   * @default {empty}
   */
  payload?: Uint8Array | string;
  /**
   * QoS.
   *
   * @default {0}
   */
  qos?: QoS;
  /**
   * Retain flag.
   *
   * @default {false}
   */
  retain?: boolean;
  /**
   * Will Delay Interval in seconds (§3.1.3.2.2).
   *
   * @default {0}
   */
  delayIntervalSeconds?: number;
  /** Will properties other than the delay. */
  properties?: Omit<WillProperties, "willDelayInterval">;
}

/**
 * Drives MQTT v5 enhanced authentication (§4.12): the challenge/response
 * exchange during CONNECT and `Client.reauthenticate()` mid-session. Methods
 * may return promises.
 *
 * @example A one-step token authenticator
 * ```ts
 * import type { Authenticator } from "@mqttv5/client";
 *
 * const auth: Authenticator = {
 *   method: "TOKEN",
 *   begin: () => new TextEncoder().encode("secret-token"),
 *   continue: () => undefined,
 * };
 * ```
 */
export interface Authenticator {
  /** The Authentication Method sent in CONNECT and AUTH. */
  readonly method: string;
  /**
   * The initial Authentication Data (CONNECT, or AUTH 0x19 when re-authenticating).
   *
   * @returns The data to send, or `undefined` for none.
   */
  begin(): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /**
   * The response to the broker's Authentication Data from AUTH 0x18. Also
   * called once at the end of each exchange with the final data of CONNACK /
   * AUTH 0x00 (`undefined` when there is none; the response is ignored), so an
   * authenticator can insist on verifying the server. Throw to abort.
   *
   * @param data The broker's Authentication Data, if any.
   * @returns The Authentication Data to answer with, or `undefined` for none.
   */
  continue(data: Uint8Array | undefined): Uint8Array | undefined | Promise<Uint8Array | undefined>;
}

/**
 * The CONNECT fields `connectPacketBuilder` may change before each attempt.
 *
 * @example Usage
 * ```ts
 * import type { ConnectOptions } from "@mqttv5/client";
 * const rotate = (c: ConnectOptions) => {
 *   c.password = new TextEncoder().encode("fresh-token");
 * };
 * ```
 */
export interface ConnectOptions {
  /** Client identifier. */
  clientId: string;
  /** User name. */
  username?: string;
  /** Password. */
  password?: Uint8Array;
  /** Clean Start flag of this attempt. */
  cleanStart: boolean;
  /** Keep alive in seconds. */
  keepAliveSeconds: number;
  /** CONNECT user properties. */
  userProperties: UserProperty[];
}

/**
 * Behaviour of QoS 0 `publish()` when the write queue is full.
 *
 * @example Drop QoS 0 publishes instead of waiting
 * ```ts
 * import type { WriteOverflowPolicy } from "@mqttv5/client";
 *
 * const writeOverflowPolicy: WriteOverflowPolicy = "drop-newest";
 * ```
 */
export type WriteOverflowPolicy = "block" | "drop-newest";
/**
 * When QoS 0 `publish()` resolves.
 *
 * @example Wait for QoS 0 publishes to reach the socket
 * ```ts
 * import type { PublishMode } from "@mqttv5/client";
 *
 * const publishMode: PublishMode = "wait-for-flush";
 * ```
 */
export type PublishMode = "fire-and-forget" | "wait-for-flush";

/**
 * Everything a {@linkcode Client} can be configured with. Only `broker` (or
 * `brokers`) is required.
 *
 * @example A client with credentials and a will
 * ```ts
 * import type { ClientOptions } from "@mqttv5/client";
 *
 * const options: ClientOptions = {
 *   broker: "mqtt://localhost:1883",
 *   clientId: "ingest-1",
 *   username: "svc",
 *   password: "secret",
 *   keepAliveSeconds: 30,
 *   will: { topic: "status/ingest-1", payload: "offline", qos: 1, retain: true },
 * };
 * ```
 */
export interface ClientOptions {
  /**
   * Broker URL: `mqtt://`, `tcp://`, `mqtts://`, `tls://`, `ssl://` (ports 1883 / 8883 by
   * default); `unix:///path/to/socket` for a broker on a Unix domain socket
   * (Deno, Bun and Node; no TLS; under Deno it needs `--allow-read` and
   * `--allow-write` for the path); `ws://`, `wss://` with a `dial`.
   */
  broker?: string;
  /** Broker URLs, tried in order. */
  brokers?: string[];
  /**
   * Client identifier; empty asks the broker to assign one.
   *
   * @default {""}
   */
  clientId?: string;
  /** User name. */
  username?: string;
  /** Password; a string is encoded as UTF-8. */
  password?: string | Uint8Array;
  /**
   * Keep alive in seconds, 0 turns it off.
   *
   * @default {30}
   */
  keepAliveSeconds?: number;
  /**
   * Clean Start on the first CONNECT.
   *
   * @default {true}
   */
  cleanStart?: boolean;
  /**
   * Session Expiry Interval in seconds.
   *
   * @default {300}
   */
  sessionExpirySeconds?: number;
  /**
   * How many inbound QoS 1/2 publishes may be unacknowledged at once: the
   * Receive Maximum advertised in CONNECT. Flow control does not depend on
   * it (a full subscription stops the client reading instead), so leave it at
   * the default unless the broker needs it. A broker that exceeds it is
   * reported (a warning, a `receive-maximum-exceeded` status event, the
   * `receiveMaximumExceeded` counter) but not disconnected: mosquitto before
   * 2.0.13 ignores a lowered Receive Maximum and resends every unacked
   * message on each reconnect, so a disconnect would only loop.
   *
   * @default {65535}
   */
  receiveMaximum?: number;
  /**
   * Largest packet accepted from the broker, in bytes (advertised and enforced).
   *
   * @default {no limit}
   */
  maximumPacketSize?: number;
  /**
   * Highest inbound topic alias accepted.
   *
   * @default {0}
   */
  inboundTopicAliasMaximum?: number;
  /**
   * Ask for Response Information in CONNACK.
   *
   * @default {false}
   */
  requestResponseInformation?: boolean;
  /**
   * Allow reason strings and user properties on failures.
   *
   * @default {true}
   */
  requestProblemInformation?: boolean;
  /**
   * CONNECT user properties.
   *
   * @default {[]}
   */
  connectUserProperties?: UserProperty[];
  /**
   * Bound on dial + CONNECT/CONNACK.
   *
   * @default {10000}
   */
  connectTimeoutMs?: number;
  /**
   * Budget for a PINGRESP after a PINGREQ (checked at least once a second).
   *
   * @default {10000}
   */
  pingTimeoutMs?: number;
  /**
   * Bound on flushing the DISCONNECT in `disconnect()`.
   *
   * @default {500}
   */
  disconnectFlushTimeoutMs?: number;
  /**
   * Packets the writer holds before QoS 0 publishes block or drop. The writer
   * also counts as full once 1 MiB of encoded packets waits, so large
   * payloads do not pile up copies (a single larger packet is still taken).
   *
   * @default {256}
   */
  writeQueueSize?: number;
  /**
   * What a QoS 0 publish does on a full write queue.
   *
   * @default {"block"}
   */
  writeOverflowPolicy?: WriteOverflowPolicy;
  /**
   * Most packets coalesced into one socket write; 0 = as many as fit in the
   * writer's buffer (2 KiB while little is sent, 64 KiB once a buffer fills up,
   * 256 KiB once packets of 4 KiB or more are sent; given back after a
   * keep-alive tick without traffic).
   *
   * @default {0}
   */
  writeBatch?: number;
  /** Will message. */
  will?: WillOptions;
  /**
   * Default `maxQueueSize` of `subscribeQueue()`; 0 = unbounded. Unset, it is
   * 1024 under the `"block"` policy (a full queue slows the broker) and
   * unbounded under `"drop-newest"` / `"drop-oldest"` (as in the Go reference).
   *
   * @default {1024 under "block", else 0}
   */
  maxSubscribeQueueSize?: number;
  /**
   * Default policy of subscriptions whose buffer is full (see
   * {@linkcode DropPolicy}): `"block"` loses nothing and slows the broker.
   *
   * @default {"block"}
   */
  dropPolicy?: DropPolicy;
  /**
   * A message from `subscribe()` / `subscribeQueue()` left unacked this long
   * is reported: a warning to `logger` and an `unacked` status event naming
   * the subscription (a forgotten `ack()` otherwise stalls the subscription
   * silently once the broker's in-flight window is full). A subscription
   * blocked this long is reported the same way. 0 turns it off.
   *
   * @default {30000}
   */
  unackedWarningMs?: number;
  /**
   * QoS 0 publish completion.
   *
   * @default {"fire-and-forget"}
   */
  publishMode?: PublishMode;
  /** Called after each successful CONNACK. Must not block. */
  onConnectionUp?: (connack: ConnackInfo) => void;
  /** Called when the connection is lost unexpectedly; return `false` to stop reconnecting. Must not block. */
  onConnectionDown?: () => boolean | void;
  /** Called for each failed connection attempt. Must not block. */
  onConnectError?: (error: Error) => void;
  /**
   * Called when the broker sends DISCONNECT, and for a CONNACK refusing with
   * 0x9C (Use another server) or 0x9D (Server moved), so a redirect can be
   * followed with `setBrokers()`. Must not block.
   */
  onServerDisconnect?: (disconnect: DisconnectPacket) => void;
  /**
   * Keep counters for `stats()`.
   *
   * @default {false}
   */
  stats?: boolean;
  /**
   * Logger.
   *
   * @default {none}
   */
  logger?: Logger;
  /** TLS settings for TLS schemes. */
  tls?: TlsOptions;
  /** Replaces the built-in transport (and its URL scheme check). */
  dial?: DialFunc;
  /**
   * Delay before each reconnect attempt.
   *
   * @default {exponentialBackoff(1000, 30000, 200)}
   */
  reconnectBackoff?: Backoff;
  /**
   * Clean Start on CONNECTs after the first.
   *
   * @default {false}
   */
  cleanStartOnReconnect?: boolean;
  /** Called before each reconnect dial; `attempt` starts at 1. Must not block. */
  onReconnectAttempt?: (attempt: number, url: string) => void;
  /** Enhanced authentication (CONNECT and `reauthenticate()`). */
  authenticator?: Authenticator;
  /** Changes the CONNECT before each attempt (token rotation); a throw fails that attempt. */
  connectPacketBuilder?: (connect: ConnectOptions, signal: AbortSignal) => void | Promise<void>;
  /**
   * Where in-flight QoS 1/2 state is kept.
   *
   * @default {in memory}
   */
  store?: SessionStore;
  /**
   * Publish-only connections beside the main one.
   *
   * @default {none}
   */
  publisherPool?: PublisherPoolOptions;
  /**
   * Outbound topic aliases (MQTT §3.3.2.3.4) assigned by the client: on each
   * connection, the first PUBLISH to a topic carries the topic and an alias,
   * later ones the alias alone (2 bytes of empty topic and 3 of alias instead
   * of the topic name). The broker's Topic Alias Maximum bounds the aliases
   * (mosquitto's default is 10; 0 turns the feature off); when all are taken,
   * the least recently used topic's alias is given to the new topic, sent
   * with it. Aliases are forgotten on every new connection. QoS 1/2 publishes
   * take part too, but a replay after a reconnect (DUP=1) is sent with its
   * topic and no alias: a broker that already holds it may discard it
   * unread, alias included. Left alone: topics shorter than 4 characters (an
   * alias would not be shorter), and a PUBLISH that the alias would take
   * past the broker's Maximum Packet Size. A `topicAlias` of your own is
   * refused with a TypeError while this is on.
   *
   * @default {false}
   *
   * @example The second PUBLISH to a topic carries its alias alone
   * ```ts
   * import assert from "node:assert/strict";
   * import { Client, type DialFunc } from "@mqttv5/client";
   * import { encodePacket, PacketDecoder, PacketType, type PublishPacket } from "@mqttv5/client/wire";
   *
   * // A stand-in broker: allows 10 aliases and keeps every PUBLISH it reads.
   * const publishes: PublishPacket[] = [];
   * const dial: DialFunc = () => {
   *   const decoder = new PacketDecoder();
   *   let reply: (bytes: Uint8Array) => void = () => {};
   *   return Promise.resolve({
   *     start: (onData) => reply = onData,
   *     write: (bytes) => {
   *       for (const p of decoder.push(bytes)) {
   *         if (p.type === PacketType.Connect) {
   *           const connack = encodePacket({
   *             type: PacketType.Connack,
   *             sessionPresent: false,
   *             reasonCode: 0,
   *             properties: { topicAliasMaximum: 10 },
   *           });
   *           queueMicrotask(() => reply(connack));
   *         }
   *         if (p.type === PacketType.Publish) publishes.push(p);
   *       }
   *       return Promise.resolve();
   *     },
   *     close: () => {},
   *   });
   * };
   *
   * const client = new Client({ broker: "mqtt://broker.test", dial, autoTopicAlias: true });
   * await client.connect();
   * const topic = "factory/line-07/station-12/sensor/temperature";
   * await client.publish({ topic, payload: "21.5" });
   * await client.publish({ topic, payload: "21.6" });
   * await client.disconnect();
   * assert.deepEqual(
   *   publishes.map((p) => [p.topic, p.properties?.topicAlias]),
   *   [[topic, 1], ["", 1]],
   * );
   * ```
   */
  autoTopicAlias?: boolean;
  /**
   * Token buckets over outbound PUBLISH packets, replays included; a publish
   * waits for a token (see {@linkcode RateLimitOptions}).
   *
   * @default {no limit}
   */
  rateLimit?: RateLimitOptions;
}

/** Options after defaults, with URLs parsed. */
export interface ResolvedOptions {
  brokers: URL[];
  clientId: string;
  username: string | undefined;
  password: Uint8Array | undefined;
  keepAliveSeconds: number;
  cleanStart: boolean;
  sessionExpirySeconds: number;
  receiveMaximum: number;
  maximumPacketSize: number; // 0 = no limit
  inboundTopicAliasMaximum: number;
  requestResponseInformation: boolean;
  requestProblemInformation: boolean;
  connectUserProperties: UserProperty[];
  connectTimeoutMs: number;
  pingTimeoutMs: number;
  disconnectFlushTimeoutMs: number;
  writeQueueSize: number;
  writeOverflowPolicy: WriteOverflowPolicy;
  writeBatch: number;
  will: WillOptions | undefined;
  /** -1: unset (1024 under "block", else unbounded). */
  maxSubscribeQueueSize: number;
  dropPolicy: DropPolicy;
  unackedWarningMs: number;
  publishMode: PublishMode;
  stats: boolean;
  dial: DialFunc | undefined;
  tls: TlsOptions | undefined;
  autoTopicAlias: boolean;
  rateLimit: RateLimitOptions | undefined;
}

/** Every {@linkcode DropPolicy}. */
export const DROP_POLICIES: readonly DropPolicy[] = ["block", "drop-newest", "drop-oldest"];

/** `maxQueueSize` of a `"block"` queue when none is given. */
export const DEFAULT_BLOCK_QUEUE_SIZE = 1024;

/**
 * Checks a drop policy from options (`ClientOptions.dropPolicy`, or
 * `SubscribeOptions.dropPolicy` of one call).
 *
 * @param policy The value given.
 * @returns The policy.
 * @throws {TypeError} When `policy` is not a string.
 * @throws {RangeError} When `policy` is not one of {@linkcode DROP_POLICIES}.
 */
export function checkDropPolicy(policy: unknown): DropPolicy {
  return checkEnum("dropPolicy", policy, DROP_POLICIES);
}

/**
 * Checks that `value` is one of the strings of an option's enumeration.
 *
 * @param name The option's name, for the message (`dropPolicy`, `publisherPool.routing`).
 * @param value The value given.
 * @param allowed The enumeration.
 * @returns `value`, typed.
 * @throws {TypeError} When `value` is not a string.
 * @throws {RangeError} When `value` is a string outside `allowed`.
 */
export function checkEnum<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
): T {
  return checkArg(`option ${name}`, value, allowed);
}

/**
 * The queue bound of `subscribeQueue()` when the call gives none: the
 * configured `maxSubscribeQueueSize` (unset: negative), else 1024 under
 * `"block"` and unbounded (0) under a drop policy, as in the Go reference.
 */
export function defaultQueueSize(policy: DropPolicy, configured: number): number {
  if (configured >= 0) return configured;
  return policy === "block" ? DEFAULT_BLOCK_QUEUE_SIZE : 0;
}

const NATIVE_SCHEMES: Record<string, string> = {
  "mqtt:": "1883",
  "tcp:": "1883",
  "mqtts:": "8883",
  "tls:": "8883",
  "ssl:": "8883",
};
const TLS_SCHEMES = new Set(["mqtts:", "tls:", "ssl:", "wss:"]);

/** Whether a broker URL uses TLS. */
export function isTlsUrl(url: URL): boolean {
  return TLS_SCHEMES.has(url.protocol);
}

/** `scheme://` at the start of a URL. */
const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
/** `host`, `host:port`, `[v6]:port`, with an optional path: a broker address without a scheme. */
const SCHEMELESS = /^(\[[0-9a-f:.]+\]|[^\s/:?#@[\]]+)(:\d*)?(\/\S*)?$/i;

/**
 * The `invalid-broker-url` error for a broker given without a scheme
 * (`localhost:1883`, `127.0.0.1:1883`, `broker.example`), or undefined when
 * `raw` is not one. `new URL()` rejects some of these and reads others as a
 * scheme (`localhost:`), so they are recognised before parsing.
 */
function missingScheme(raw: string, url: URL | undefined): MqttError | undefined {
  if (HAS_SCHEME.test(raw)) return undefined;
  // A URL with a scheme we serve (`mqtt:h`, `ws:h`) goes on to the usual checks.
  if (url !== undefined && (NATIVE_SCHEMES[url.protocol] !== undefined || url.hostname !== "")) {
    return undefined;
  }
  const at = raw.lastIndexOf("@");
  const address = at === -1 ? raw : raw.slice(at + 1); // never repeat credentials
  if (!SCHEMELESS.test(address)) return undefined;
  return new MqttError(
    "invalid-broker-url",
    `broker URL "${address}" has no scheme: add mqtt:// (mqtt://${address}), or mqtts:// for TLS`,
  );
}

/**
 * Parses and checks one broker URL: a native scheme (`mqtt:`, `tcp:`,
 * `mqtts:`, `tls:`, `ssl:`) gets its default port (1883 / 8883); any other
 * scheme needs a dial function; the URL must have a host. `unix:` (a Unix
 * domain socket, served by the runtime adapters) must instead have the form
 * `unix:///absolute/path/to/socket`: no host, no port, no query.
 *
 * @param raw The broker URL as given.
 * @param hasDial Whether the client has a `dial` function (which may serve
 *   other schemes, such as `ws://` with `wsDial()`).
 * @returns The parsed URL, with the default port filled in for native schemes.
 * @throws {TypeError} When `raw` is not a string.
 * @throws {MqttError} `invalid-broker-url`: empty, no scheme
 *   (`localhost:1883`: the message says to add `mqtt://`), does not parse, a
 *   scheme that needs a dial function, or no host; a `unix:` URL with a host
 *   (`unix://tmp/mqtt.sock`: the message says to write three slashes), without
 *   a socket path, or with a query or fragment. Messages never contain the
 *   URL's credentials.
 *
 * @example A scheme is required
 * ```ts ignore
 * parseBrokerUrl("mqtt://localhost", false).port; // "1883"
 * parseBrokerUrl("localhost:1883", false); // throws invalid-broker-url: add mqtt://
 * parseBrokerUrl("unix:///run/mosquitto/mqtt.sock", false).pathname; // "/run/mosquitto/mqtt.sock"
 * ```
 */
export function parseBrokerUrl(raw: unknown, hasDial: boolean): URL {
  if (typeof raw !== "string") {
    throw new TypeError(`broker URL must be a string, got ${typeof raw}`);
  }
  if (raw.length === 0) {
    throw new MqttError("invalid-broker-url", "broker URL must not be empty");
  }
  let url: URL | undefined;
  let parseError: unknown;
  try {
    url = new URL(raw);
  } catch (cause) {
    parseError = cause;
  }
  if (url?.protocol === "unix:") {
    if (unixPath === undefined) {
      throw new MqttError(
        "invalid-broker-url",
        `broker URL "${
          redact(raw)
        }": Unix sockets need a runtime transport: import Client from @mqttv5/client (Deno, Bun, Node), not /web`,
      );
    }
    try {
      unixPath(url, `broker URL "${redact(raw)}"`);
    } catch (err) {
      throw new MqttError("invalid-broker-url", (err as Error).message);
    }
    return url;
  }
  const noScheme = missingScheme(raw, url);
  if (noScheme !== undefined) throw noScheme;
  if (url === undefined) {
    throw new MqttError("invalid-broker-url", `broker URL "${redact(raw)}" does not parse`, {
      cause: parseError,
    });
  }
  const port = NATIVE_SCHEMES[url.protocol];
  if (port === undefined) {
    if (!hasDial) {
      throw new MqttError(
        "invalid-broker-url",
        `broker URL scheme "${url.protocol}" needs a dial function (ws:// and wss:// use wsDial())`,
      );
    }
  } else if (url.port === "") {
    url.port = port;
  }
  if (url.hostname === "") {
    throw new MqttError("invalid-broker-url", `broker URL "${redact(raw)}" has no host`);
  }
  return url;
}

/** A URL with any credentials removed, for messages. */
export function redact(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = "";
    u.password = "";
    return u.href;
  } catch {
    return raw.replace(/\/\/[^@/]*@/, "//");
  }
}

const encoder = new TextEncoder();

// The readers below take `o` (the options or a nested object such as `will`),
// the field's name and, for a nested object, the prefix that names it in
// messages ("will.", "publisherPool.").

function int(
  o: Record<string, unknown>,
  name: string,
  dflt: number,
  min: number,
  max: number,
  prefix = "",
): number {
  const v = o[name];
  return v === undefined ? dflt : checkInt(`option ${prefix}${name}`, v, min, max);
}

function bool(o: Record<string, unknown>, name: string, dflt: boolean): boolean {
  const v = o[name];
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") throw new TypeError(`option ${name} must be a boolean`);
  return v;
}

function oneOf<T extends string>(
  o: Record<string, unknown>,
  name: string,
  dflt: T,
  allowed: readonly T[],
  prefix = "",
): T {
  const v = o[name];
  return v === undefined ? dflt : checkEnum(prefix + name, v, allowed);
}

/** A topic name option: a TypeError, as for `publish()`, when not a string or not valid. */
function topicName(name: string, v: unknown): void {
  if (typeof v !== "string") throw new TypeError(`option ${name} must be a string`);
  const err = topicNameError(v);
  if (err !== undefined) throw new TypeError(`option ${name} "${v}": ${err}`);
}

function fn(o: Record<string, unknown>, name: string, prefix = ""): void {
  const v = o[name];
  if (v !== undefined && typeof v !== "function") {
    throw new TypeError(`option ${prefix}${name} must be a function, got ${typeof v}`);
  }
}

function pairs(o: Record<string, unknown>, name: string): UserProperty[] {
  const v = o[name];
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    throw new TypeError(`option ${name} must be an array of [name, value] pairs`);
  }
  for (const p of v) {
    if (
      !Array.isArray(p) || p.length !== 2 || typeof p[0] !== "string" || typeof p[1] !== "string"
    ) {
      throw new TypeError(`option ${name} must be an array of [name, value] string pairs`);
    }
  }
  return v as UserProperty[];
}

/**
 * Validates options and applies defaults.
 *
 * Bad options are bad arguments: a field of the wrong type throws a
 * `TypeError`, a value outside its range or enumeration a `RangeError`, each
 * naming the option and the rule. Only the broker list has error codes, the
 * Go reference's sentinels.
 *
 * @param options The options as given to `new Client()`.
 * @returns The options with defaults applied and broker URLs parsed.
 * @throws {MqttError} `missing-broker` (neither `broker` nor `brokers`),
 *   `invalid-broker-url` (a URL that is empty, has no scheme, does not parse,
 *   needs a `dial` or has no host).
 * @throws {TypeError} A field of the wrong type (a number given as a string, a
 *   broker URL that is not a string, a callback that is not a function), or a
 *   will topic or will Response Topic that is not a valid topic name.
 * @throws {RangeError} A number that is not an integer or out of its range
 *   (a `rateLimit` rate: not positive and finite); a string outside its
 *   enumeration (`dropPolicy`, `writeOverflowPolicy`, `publishMode`,
 *   `publisherPool.routing`).
 */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError("options must be an object");
  }
  const o = options as Record<string, unknown>;
  fn(o, "dial");
  const hasDial = o.dial !== undefined;
  const rawBrokers: unknown[] = [];
  if (o.brokers !== undefined) {
    if (!Array.isArray(o.brokers)) throw new TypeError("option brokers must be an array of URLs");
    rawBrokers.push(...o.brokers);
  }
  if (o.broker !== undefined) rawBrokers.unshift(o.broker);
  if (rawBrokers.length === 0) {
    throw new MqttError("missing-broker", "no broker URL: set broker or brokers");
  }
  const brokers = rawBrokers.map((b) => parseBrokerUrl(b, hasDial));

  if (o.clientId !== undefined && typeof o.clientId !== "string") {
    throw new TypeError("option clientId must be a string");
  }
  if (o.username !== undefined && typeof o.username !== "string") {
    throw new TypeError("option username must be a string");
  }
  let password: Uint8Array | undefined;
  if (typeof o.password === "string") password = encoder.encode(o.password);
  else if (o.password instanceof Uint8Array) password = o.password;
  else if (o.password !== undefined) {
    throw new TypeError("option password must be a string or Uint8Array");
  }

  let will: WillOptions | undefined;
  if (o.will !== undefined) {
    const w = o.will as WillOptions;
    if (w === null || typeof w !== "object") throw new TypeError("option will must be an object");
    topicName("will.topic", w.topic);
    const rt = w.properties?.responseTopic;
    // [MQTT-3.3.2-14] a Response Topic is a topic name: no wildcards.
    if (rt !== undefined) topicName("will.properties.responseTopic", rt);
    if (w.qos !== undefined && w.qos !== 0 && w.qos !== 1 && w.qos !== 2) {
      throw new RangeError("option will.qos must be 0, 1 or 2");
    }
    if (
      w.payload !== undefined && typeof w.payload !== "string" && !(w.payload instanceof Uint8Array)
    ) {
      throw new TypeError("option will.payload must be a string or Uint8Array");
    }
    int(w as unknown as Record<string, unknown>, "delayIntervalSeconds", 0, 0, 0xffffffff, "will.");
    will = w;
  }
  if (o.tls !== undefined && (o.tls === null || typeof o.tls !== "object")) {
    throw new TypeError("option tls must be an object");
  }
  if (o.logger !== undefined) {
    const l = o.logger as Record<string, unknown>;
    for (const m of ["debug", "info", "warn", "error"]) {
      if (typeof l?.[m] !== "function") {
        throw new TypeError(`option logger must have a ${m}() method`);
      }
    }
  }
  for (
    const name of [
      "onConnectionUp",
      "onConnectionDown",
      "onConnectError",
      "onServerDisconnect",
      "onReconnectAttempt",
      "reconnectBackoff",
      "connectPacketBuilder",
    ]
  ) fn(o, name);
  bool(o, "cleanStartOnReconnect", false);
  if (o.publisherPool !== undefined) {
    const pp = o.publisherPool as Record<string, unknown>;
    if (pp === null || typeof pp !== "object") {
      throw new TypeError("option publisherPool must be an object");
    }
    int(pp, "size", 0, 0, 1024, "publisherPool.");
    if (pp.size === undefined) throw new TypeError("option publisherPool.size is required");
    oneOf(
      pp,
      "routing",
      "round-robin",
      ["round-robin", "hash-by-topic"] as const,
      "publisherPool.",
    );
    fn(pp, "clientId", "publisherPool.");
  }
  if (o.authenticator !== undefined) {
    const a = o.authenticator as Record<string, unknown>;
    if (
      a === null || typeof a !== "object" || typeof a.method !== "string" || a.method === "" ||
      typeof a.begin !== "function" || typeof a.continue !== "function"
    ) {
      throw new TypeError("option authenticator must have a method string, begin() and continue()");
    }
  }
  if (o.store !== undefined) {
    const st = o.store as Record<string, unknown>;
    const methods = ["load", "putOutbound", "releaseOutbound", "deleteOutbound", "putInbound"];
    for (const m of [...methods, "deleteInbound", "clearInbound", "close"]) {
      if (typeof st?.[m] !== "function") throw new TypeError(`option store must implement ${m}()`);
    }
  }

  return {
    brokers,
    clientId: (o.clientId as string | undefined) ?? "",
    username: o.username as string | undefined,
    password,
    keepAliveSeconds: int(o, "keepAliveSeconds", 30, 0, 0xffff),
    cleanStart: bool(o, "cleanStart", true),
    sessionExpirySeconds: int(o, "sessionExpirySeconds", 300, 0, 0xffffffff),
    receiveMaximum: int(o, "receiveMaximum", 65535, 1, 65535),
    maximumPacketSize: int(o, "maximumPacketSize", 0, 0, 268_435_460),
    inboundTopicAliasMaximum: int(o, "inboundTopicAliasMaximum", 0, 0, 0xffff),
    requestResponseInformation: bool(o, "requestResponseInformation", false),
    requestProblemInformation: bool(o, "requestProblemInformation", true),
    connectUserProperties: pairs(o, "connectUserProperties"),
    connectTimeoutMs: int(o, "connectTimeoutMs", 10_000, 1, 2 ** 31 - 1),
    pingTimeoutMs: int(o, "pingTimeoutMs", 10_000, 1, 2 ** 31 - 1),
    disconnectFlushTimeoutMs: int(o, "disconnectFlushTimeoutMs", 500, 0, 2 ** 31 - 1),
    writeQueueSize: int(o, "writeQueueSize", 256, 1, 2 ** 31 - 1),
    writeOverflowPolicy: oneOf(
      o,
      "writeOverflowPolicy",
      "block",
      ["block", "drop-newest"] as const,
    ),
    writeBatch: int(o, "writeBatch", 0, 0, 2 ** 31 - 1),
    will,
    maxSubscribeQueueSize: int(o, "maxSubscribeQueueSize", -1, 0, 2 ** 31 - 1),
    dropPolicy: oneOf(o, "dropPolicy", "block", DROP_POLICIES),
    unackedWarningMs: int(o, "unackedWarningMs", 30_000, 0, 2 ** 31 - 1),
    publishMode: oneOf(
      o,
      "publishMode",
      "fire-and-forget",
      ["fire-and-forget", "wait-for-flush"] as const,
    ),
    stats: bool(o, "stats", false),
    dial: o.dial as DialFunc | undefined,
    tls: o.tls as TlsOptions | undefined,
    autoTopicAlias: bool(o, "autoTopicAlias", false),
    rateLimit: checkRateLimit(o.rateLimit),
  };
}
