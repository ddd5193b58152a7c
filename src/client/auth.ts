/**
 * {@linkcode Auth}: enhanced authentication (MQTT §4.12) with the configured
 * authenticator: its data in CONNECT, the AUTH exchange before CONNACK, its
 * verdict on the broker's last data, and re-authentication on a live
 * connection.
 *
 * @module
 */

import { MqttError } from "../errors.ts";
import { abortable, deferred } from "../_internal/async.ts";
import * as ReasonCode from "../wire/_reason_code.ts";
import * as PacketType from "../wire/_packet_type.ts";
import type { AuthPacket, ConnectPacket } from "../wire/types.ts";
import type { Core } from "./core.ts";
import * as ClientState from "./_client_state.ts";
import type { Link } from "./connection.ts";

/** Enhanced authentication for one client. */
export class Auth {
  readonly #core: Core;

  /** @param core The client's shared state. */
  constructor(core: Core) {
    this.#core = core;
  }

  /**
   * Puts the authentication method and the authenticator's first data in CONNECT.
   *
   * @param packet The CONNECT being built.
   */
  async connectData(packet: ConnectPacket): Promise<void> {
    const auth = this.#core.options.authenticator;
    if (auth === undefined) return;
    packet.properties!.authenticationMethod = auth.method;
    const data = await auth.begin();
    if (data !== undefined) packet.properties!.authenticationData = data;
  }

  /**
   * The authenticator always sees the end of the exchange (data or none), so
   * a SCRAM client can insist on the server's signature; it may reject it.
   *
   * @param link The connection CONNACK accepted.
   * @param data The CONNACK's authentication data.
   */
  async connackData(link: Link, data: Uint8Array | undefined): Promise<void> {
    const core = this.#core;
    const auth = core.options.authenticator;
    if (auth === undefined) return;
    try {
      await auth.continue(data);
    } catch (cause) {
      core.supervisor.linkDown(
        link,
        new MqttError("auth-failed", "authenticator rejected CONNACK"),
        false,
      );
      throw new MqttError("auth-failed", "authenticator rejected the broker's final data", {
        cause,
      });
    }
    if (link.closed) {
      throw new MqttError("connection-lost", "connection closed during authentication");
    }
  }

  /**
   * The connection went down: a re-authentication on it fails.
   *
   * @param link The connection.
   * @param err Why it went down.
   */
  linkDown(link: Link, err: Error): void {
    if (link.reauth === undefined) return;
    link.reauth.reject(
      new MqttError("auth-failed", "connection lost during re-authentication", {
        cause: err,
        reasonCode: (err as MqttError).reasonCode,
      }),
    );
    link.reauth = undefined;
  }

  /**
   * AUTH from the broker: a step of the CONNECT exchange or of a re-authentication (§4.12).
   *
   * @param link The connection.
   * @param p The AUTH.
   */
  onAuth(link: Link, p: AuthPacket): void {
    const core = this.#core;
    const auth = core.options.authenticator;
    const rc = p.reasonCode ?? ReasonCode.Success;
    const during = link.connack === null
      ? "connect"
      : link.reauth !== undefined
      ? "reauth"
      : undefined;
    if (auth === undefined || during === undefined) {
      return link.fail(
        ReasonCode.ProtocolError,
        new MqttError("unexpected-packet", "unexpected AUTH from the broker"),
      );
    }
    if (p.properties?.authenticationMethod !== auth.method) {
      return link.fail(
        ReasonCode.ProtocolError,
        new MqttError("protocol-error", "AUTH with another authentication method", {
          reasonCode: ReasonCode.ProtocolError,
        }),
      );
    }
    const data = p.properties?.authenticationData;
    if (rc === ReasonCode.ContinueAuthentication) {
      Promise.resolve().then(() => auth.continue(data)).then((response) => {
        if (link.closed || link.halted) return;
        const props: AuthPacket["properties"] = { authenticationMethod: auth.method };
        if (response !== undefined) props.authenticationData = response;
        link.writer.send({
          type: PacketType.Auth,
          reasonCode: ReasonCode.ContinueAuthentication,
          properties: props,
        });
      }, (cause) => {
        const err = new MqttError("auth-failed", "authenticator aborted the exchange", { cause });
        link.reauth?.reject(err);
        link.reauth = undefined;
        link.fail(ReasonCode.NotAuthorized, err);
      });
      return;
    }
    if (rc === ReasonCode.Success && during === "reauth") {
      const pending = link.reauth!;
      link.reauth = undefined;
      if (core.subs.blocked.size !== 0) link.updateReading();
      Promise.resolve().then(() => auth.continue(data)).then(
        () => {
          pending.resolve();
          core.emit({ type: "reauthenticated" });
        },
        (cause) => {
          const err = new MqttError(
            "auth-failed",
            "authenticator rejected the broker's final data",
            { cause },
          );
          pending.reject(err);
          link.fail(ReasonCode.NotAuthorized, err);
        },
      );
      return;
    }
    link.fail(
      ReasonCode.ProtocolError,
      new MqttError("protocol-error", `AUTH reason 0x${rc.toString(16)} is not valid now`, {
        reasonCode: ReasonCode.ProtocolError,
      }),
    );
  }

  /**
   * Re-authenticates on the live connection (§4.12.1).
   *
   * @param signal Stops waiting.
   */
  async reauthenticate(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const core = this.#core;
    const auth = core.options.authenticator;
    if (auth === undefined) {
      throw new TypeError(
        "Cannot reauthenticate: the client has no authenticator (set ClientOptions.authenticator)",
      );
    }
    if (core.state === ClientState.Closed) throw core.closedError();
    const link = core.link;
    if (core.state !== ClientState.Connected || link === null || link.connack === null) {
      throw new MqttError("not-connected", "client is not connected");
    }
    if (link.reauth !== undefined) return await abortable(link.reauth.promise, signal);
    const wait = deferred<void>();
    wait.promise.catch(() => {});
    link.reauth = wait;
    try {
      const data = await auth.begin();
      if (link.closed) {
        throw new MqttError("auth-failed", "connection lost before re-authentication");
      }
      const props: AuthPacket["properties"] = { authenticationMethod: auth.method };
      if (data !== undefined) props.authenticationData = data;
      link.writer.send({
        type: PacketType.Auth,
        reasonCode: ReasonCode.ReAuthenticate,
        properties: props,
      });
      if (link.paused) link.updateReading(); // the broker's answer must be read
    } catch (err) {
      link.reauth = undefined;
      wait.reject(
        err instanceof MqttError
          ? err
          : new MqttError("auth-failed", "authenticator failed", { cause: err }),
      );
    }
    await abortable(wait.promise, signal);
  }
}
