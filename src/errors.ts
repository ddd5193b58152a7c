/**
 * The one error type of the library, {@linkcode MqttError}, and its codes.
 *
 * Bad arguments raise `TypeError` / `RangeError`; everything else raises an
 * `MqttError` whose `code` is stable and whose `reasonCode` carries the MQTT
 * reason code where a broker or the specification gave one.
 *
 * @module
 */

/**
 * Stable machine-readable error codes. They are the Go reference's sentinel
 * error names in kebab-case, plus `protocol-error` and `publish-refused`, and
 * the connection failures below.
 *
 * Every failure to connect is an `MqttError` whose `cause` is the runtime's
 * own error:
 *
 * - `dns-failed`: the broker's host name does not resolve.
 * - `connect-failed`: the TCP connection could not be made (refused,
 *   unreachable, reset or closed before it was ready); the message names
 *   `host:port`, never the URL.
 * - `tls-failed`: the TLS handshake failed: the server certificate is not
 *   trusted or not for this host, the broker requires a client certificate or
 *   rejected ours (under TLS 1.3 this can come right after the handshake,
 *   from an open connection), or the port does not speak TLS. The message
 *   names the fix where it can be known (`tls.caCerts`, `tls.serverName`,
 *   `tls.cert` and `tls.key`, `mqtt://`).
 * - `connect-timeout`: no CONNACK within `connectTimeoutMs`.
 * - `connect-refused`: the broker refused the CONNECT (with `reasonCode`).
 * - `connection-lost`: an open connection failed or closed.
 *
 * Two more need a word:
 *
 * - `packet-ids-exhausted`: all 65,535 packet identifiers are in use by
 *   unacknowledged QoS 1/2 publishes, subscribes and unsubscribes
 *   [MQTT-2.2.1-3], so a `subscribe()` or `unsubscribe()` cannot send its
 *   packet now (a QoS 1/2 `publish()` waits for a free identifier instead).
 *   Nothing was written and the connection stays up; retry once
 *   acknowledgements arrive. Not `protocol-error`, which says the broker or a
 *   packet broke the protocol.
 * - `invalid-option`: no longer thrown. A bad option, like any bad argument,
 *   throws a `TypeError` (wrong type) or a `RangeError` (out of range, not in
 *   the enumeration) whose message names the option and the rule. The code
 *   stays in the union so that code comparing against it still compiles; it
 *   goes in the next breaking release.
 *
 * @example Branch on a code
 * ```ts
 * import { MqttError } from "@mqttv5/client";
 *
 * function describe(err: unknown): string {
 *   if (err instanceof MqttError && err.code === "not-connected") return "offline";
 *   return "other";
 * }
 * ```
 */
export type MqttErrorCode =
  | "not-connected"
  | "already-connected"
  | "closed"
  | "connect-refused"
  | "connect-timeout"
  | "connect-failed"
  | "dns-failed"
  | "tls-failed"
  | "unexpected-packet"
  | "protocol-error"
  | "packet-ids-exhausted"
  | "publish-refused"
  | "subscribe-refused"
  | "unsubscribe-refused"
  | "write-queue-full"
  | "qos-not-supported"
  | "retain-not-supported"
  | "packet-too-large"
  | "wildcard-subs-unsupported"
  | "subscription-ids-unsupported"
  | "shared-subs-unsupported"
  | "topic-alias-invalid"
  | "queue-closed"
  | "queue-full"
  | "qos0-not-queueable"
  | "eviction-not-supported"
  | "invalid-broker-url"
  | "missing-broker"
  | "invalid-option"
  | "nil-handler"
  | "no-healthy-publishers"
  | "drop-oldest-unsupported"
  | "connection-lost"
  | "auth-failed"
  | "store-failed"
  | "timeout";

/**
 * Options accepted by the {@linkcode MqttError} constructor.
 *
 * @example Wrap a cause with a reason code
 * ```ts
 * import assert from "node:assert/strict";
 * import { MqttError, type MqttErrorOptions } from "@mqttv5/client";
 *
 * const options: MqttErrorOptions = { reasonCode: 0x87, cause: new Error("denied") };
 * const err = new MqttError("publish-refused", "broker refused the publish", options);
 * assert.equal(err.reasonCode, 0x87);
 * ```
 */
export interface MqttErrorOptions {
  /** The MQTT reason code the broker or the specification gave, if any. */
  reasonCode?: number;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * An error raised by the client or the codec. Inspect {@linkcode MqttError.code}
 * (stable) and {@linkcode MqttError.reasonCode} (the MQTT reason code, where one
 * applies); never match on the message text.
 *
 * @example Inspect a codec error
 * ```ts
 * import { MqttError } from "@mqttv5/client";
 * import { PacketDecoder } from "@mqttv5/client/wire";
 *
 * const decoder = new PacketDecoder();
 * try {
 *   decoder.push(new Uint8Array([0x00, 0x00])); // packet type 0 is reserved
 * } catch (err) {
 *   if (err instanceof MqttError) console.log(err.code, err.reasonCode); // "protocol-error" 129
 * }
 * ```
 */
export class MqttError extends Error {
  /** The stable error code. */
  readonly code: MqttErrorCode;
  /** The MQTT reason code, where a broker or the specification gave one. */
  readonly reasonCode?: number;

  /**
   * Creates an error.
   *
   * @param code The stable error code.
   * @param message A human-readable description (never contains credentials).
   * @param options The reason code and cause, if any.
   */
  constructor(code: MqttErrorCode, message: string, options?: MqttErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MqttError";
    this.code = code;
    if (options?.reasonCode !== undefined) this.reasonCode = options.reasonCode;
  }
}
