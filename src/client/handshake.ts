/**
 * {@linkcode Handshake}: one connection attempt, from dial to a connection
 * set up: CONNECT (options, `connectPacketBuilder`, the authenticator's first
 * data), the AUTH exchange (in `auth.ts`), CONNACK and its checks (Session
 * Present after Clean Start, refusals and redirects, the authenticator's last
 * word), then the session resumed on the new connection.
 *
 * @module
 */

import { isFailure } from "../_internal/reason.ts";
import { MqttError } from "../errors.ts";
import { toError } from "../_internal/error.ts";
import * as ReasonCode from "../wire/_reason_code.ts";
import { packetLength } from "../wire/encode.ts";
import * as PacketType from "../wire/_packet_type.ts";
import type { ConnackPacket, ConnectPacket, DisconnectPacket, QoS } from "../wire/types.ts";
import type { DialFunc } from "../transport/types.ts";
import { defaultDial } from "./default_dial.ts";
import type { Core } from "./core.ts";
import * as ClientState from "./_client_state.ts";
import { Link } from "./connection.ts";
import { AutoAliases } from "./auto_aliases.ts";
import * as KeepAliveAction from "./_keep_alive_action.ts";
import { type ConnectOptions, isTlsUrl, redact } from "./options.ts";
import type { ConnackInfo } from "./types.ts";

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** How messages name the broker: `host:port`, or a Unix socket's path (never the URL). */
function peerName(url: URL): string {
  return url.protocol === "unix:"
    ? decodeURIComponent(url.pathname)
    : `${url.hostname}:${url.port}`;
}

/**
 * Every failure to connect is an `MqttError` (API.md "Errors"): a connection
 * that ends before CONNACK is `connect-failed`, as is a dial function's plain
 * error; the runtime's error stays as `cause`. Aborts (the caller's signal,
 * the connect timeout) and bad arguments pass unchanged.
 */
function connectError(
  err: unknown,
  url: URL,
  signal: AbortSignal | undefined,
  attempt: AbortSignal,
): unknown {
  if (signal?.aborted && err === signal.reason) return err;
  if (attempt.aborted && err === attempt.reason) return err;
  if (err instanceof TypeError || err instanceof RangeError) return err;
  const at = peerName(url);
  // By name too: a transport bundled apart (two copies of the package) has its own class.
  if (err instanceof MqttError || (err instanceof Error && err.name === "MqttError")) {
    if ((err as MqttError).code !== "connection-lost") return err;
    return new MqttError(
      "connect-failed",
      `the connection to ${at} ended before CONNACK: ${err.message}`,
      { cause: err, reasonCode: (err as MqttError).reasonCode },
    );
  }
  const e = toError(err);
  return new MqttError("connect-failed", `cannot connect to ${at}: ${e.message}`, { cause: e });
}

/**
 * Why the first bytes from `url`, before CONNACK, come from a server that
 * speaks HTTP (a WebSocket port) or TLS instead of MQTT, naming the fix; or
 * undefined.
 *
 * @param chunk The first bytes read.
 * @param url The broker's URL.
 * @returns The error, or undefined.
 */
export function notMqtt(chunk: Uint8Array, url: URL): MqttError | undefined {
  const b0 = chunk[0];
  if (b0 === 0x20 || b0 === 0xf0) return undefined; // CONNACK or AUTH
  const at = peerName(url);
  if (
    chunk.length >= 5 && b0 === 0x48 && chunk[1] === 0x54 && chunk[2] === 0x54 &&
    chunk[3] === 0x50 && chunk[4] === 0x2f
  ) {
    return new MqttError(
      "connect-failed",
      `${at} answered in HTTP, not MQTT: this port speaks WebSocket (or HTTP). Use ws:// ` +
        "(wss://) with dial: wsDial() from @mqttv5/client/transport/ws, or the broker's MQTT port",
    );
  }
  if ((b0 === 0x15 || b0 === 0x16) && chunk[1] === 0x03) {
    return new MqttError(
      "connect-failed",
      `${at} answered in TLS, not MQTT: this port speaks TLS. Use mqtts:// for it`,
    );
  }
  return undefined; // some other packet: the decoder and the dispatcher judge it
}

/** The CONNACK properties {@linkcode connackInfo} copies only when present. */
const OPTIONAL_CONNACK = [
  "assignedClientIdentifier",
  "serverKeepAlive",
  "sessionExpiryInterval",
  "maximumPacketSize",
  "responseInformation",
  "serverReference",
  "reasonString",
] as const;

/**
 * The CONNACK as the application sees it, with the spec's defaults filled in.
 *
 * @param p The CONNACK.
 * @returns Its summary.
 */
export function connackInfo(p: ConnackPacket): ConnackInfo {
  const pr = p.properties ?? {};
  const info: ConnackInfo = {
    sessionPresent: p.sessionPresent,
    reasonCode: p.reasonCode,
    receiveMaximum: pr.receiveMaximum ?? 65535,
    maximumQoS: (pr.maximumQoS ?? 2) as QoS,
    retainAvailable: pr.retainAvailable ?? true,
    topicAliasMaximum: pr.topicAliasMaximum ?? 0,
    wildcardSubscriptionAvailable: pr.wildcardSubscriptionAvailable ?? true,
    subscriptionIdentifiersAvailable: pr.subscriptionIdentifiersAvailable ?? true,
    sharedSubscriptionAvailable: pr.sharedSubscriptionAvailable ?? true,
    userProperties: pr.userProperties ? [...pr.userProperties] : [],
  };
  // The properties copied only when the broker sent them (absent stays absent).
  for (const k of OPTIONAL_CONNACK) {
    if (pr[k] !== undefined) (info as unknown as Record<string, unknown>)[k] = pr[k];
  }
  return info;
}

/** Connection attempts: dial, CONNECT, CONNACK, and the session resumed on success. */
export class Handshake {
  readonly #core: Core;

  /** @param core The client's shared state. */
  constructor(core: Core) {
    this.#core = core;
  }

  async #dialFunc(): Promise<DialFunc> {
    if (this.#core.o.dial !== undefined) return this.#core.o.dial;
    return await defaultDial()!(); // the constructor made sure there is one
  }

  /**
   * Dials, sends CONNECT and waits for CONNACK; sets the connection up on success.
   *
   * @param url The broker.
   * @param cleanStart The CONNECT's Clean Start.
   * @param signal Stops the attempt.
   * @returns The CONNACK.
   */
  async open(
    url: URL,
    cleanStart: boolean,
    signal: AbortSignal | undefined,
  ): Promise<ConnackInfo> {
    const core = this.#core;
    const o = core.o;
    const ac = new AbortController();
    const timer = setTimeout(
      () =>
        ac.abort(new MqttError("connect-timeout", `no CONNACK within ${o.connectTimeoutMs} ms`)),
      o.connectTimeoutMs,
    );
    const onAbort = () => ac.abort(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
    const closeWatch = () => {
      if (core.state === ClientState.Closed) ac.abort(core.closedError());
    };
    core.supervisor.wake = closeWatch;
    let link: Link | undefined;
    try {
      const dial = await this.#dialFunc();
      ac.signal.throwIfAborted();
      const conn = await dial(url, {
        tls: isTlsUrl(url) ? (o.tls ?? {}) : undefined,
        signal: ac.signal,
      });
      const l = link = new Link(conn, url, core);
      if (ac.signal.aborted) {
        conn.close();
        throw ac.signal.reason;
      }
      await core.persistence.ready();
      const connect = await this.#prepareConnect(cleanStart, ac.signal);
      ac.signal.throwIfAborted();
      const connackPacket = await new Promise<ConnackPacket>((resolve, reject) => {
        l.onConnack = resolve;
        l.onFail = reject;
        ac.signal.addEventListener("abort", () => reject(ac.signal.reason), { once: true });
        core.link = l;
        l.start();
        l.writer.send(connect);
      });
      l.onConnack = undefined;
      l.onFail = undefined;
      const info = connackInfo(connackPacket);
      if (info.sessionPresent && connect.cleanStart && !isFailure(info.reasonCode)) {
        // A Clean Start CONNECT leaves no session to resume: the client MUST close the
        // connection [MQTT-3.2.2-4] (a broker that says otherwise is broken).
        const err = new MqttError(
          "protocol-error",
          "the broker answered a Clean Start CONNECT with Session Present 1 [MQTT-3.2.2-4]",
          { reasonCode: ReasonCode.ProtocolError },
        );
        l.fail(ReasonCode.ProtocolError, err);
        throw err;
      }
      if (isFailure(info.reasonCode)) this.#refused(l, info);
      await core.auth.connackData(l, connackPacket.properties?.authenticationData);
      this.#up(l, info);
      const early = l.early;
      l.early = undefined;
      if (early !== undefined) {
        for (const p of early) {
          if (l.closed || l.halted) break;
          l.dispatch(p);
        }
      }
      return info;
    } catch (err) {
      // A protocol failure closes the link itself once its DISCONNECT is flushed.
      if (link !== undefined && !link.closed && !link.halted) {
        core.supervisor.linkDown(link, toError(err), false);
      }
      throw connectError(err, url, signal, ac.signal);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (core.supervisor.wake === closeWatch) core.supervisor.wake = undefined;
    }
  }

  /** A CONNACK refused the connection: closes it, follows a redirect, throws. */
  #refused(l: Link, info: ConnackInfo): never {
    const core = this.#core;
    core.supervisor.linkDown(l, new MqttError("connect-refused", "CONNACK refused"), false);
    if (
      info.reasonCode === ReasonCode.UseAnotherServer || info.reasonCode === ReasonCode.ServerMoved
    ) {
      // Use another server / Server moved: the redirect is followed the same way as a
      // DISCONNECT's, through onServerDisconnect (+ setBrokers).
      const props: DisconnectPacket["properties"] = {};
      if (info.serverReference !== undefined) props.serverReference = info.serverReference;
      if (info.reasonString !== undefined) props.reasonString = info.reasonString;
      core.observe("onServerDisconnect", () =>
        core.options.onServerDisconnect?.({
          type: PacketType.Disconnect,
          reasonCode: info.reasonCode,
          properties: props,
        }));
    }
    throw new MqttError(
      "connect-refused",
      `broker refused the connection: reason 0x${info.reasonCode.toString(16)}${
        info.reasonString ? ` (${info.reasonString})` : ""
      }`,
      { reasonCode: info.reasonCode },
    );
  }

  /** Builds this attempt's CONNECT: options, then connectPacketBuilder, then the authenticator. */
  async #prepareConnect(cleanStart: boolean, signal: AbortSignal): Promise<ConnectPacket> {
    const packet = this.#connectPacket(cleanStart);
    const builder = this.#core.options.connectPacketBuilder;
    if (builder !== undefined) {
      const c: ConnectOptions = {
        clientId: packet.clientId,
        cleanStart: packet.cleanStart,
        keepAliveSeconds: packet.keepAlive,
        userProperties: [...(packet.properties?.userProperties ?? [])],
      };
      if (packet.username !== undefined) c.username = packet.username;
      if (packet.password !== undefined) c.password = packet.password;
      await builder(c, signal);
      packet.clientId = c.clientId;
      packet.cleanStart = c.cleanStart;
      packet.keepAlive = c.keepAliveSeconds;
      packet.username = c.username;
      packet.password = typeof c.password === "string" ? encoder.encode(c.password) : c.password;
      if (packet.username === undefined) delete packet.username;
      if (packet.password === undefined) delete packet.password;
      packet.properties!.userProperties = c.userProperties.length > 0
        ? c.userProperties
        : undefined;
    }
    await this.#core.auth.connectData(packet);
    packetLength(packet); // a builder's bad field fails this attempt, before anything is written
    return packet;
  }

  #connectPacket(cleanStart: boolean): ConnectPacket {
    const core = this.#core;
    const o = core.o;
    const props: ConnectPacket["properties"] = {};
    if (o.sessionExpirySeconds !== 0) props.sessionExpiryInterval = o.sessionExpirySeconds;
    if (o.receiveMaximum !== 65535) props.receiveMaximum = o.receiveMaximum;
    if (o.maximumPacketSize > 0) props.maximumPacketSize = o.maximumPacketSize;
    if (o.inboundTopicAliasMaximum > 0) props.topicAliasMaximum = o.inboundTopicAliasMaximum;
    if (o.requestResponseInformation) props.requestResponseInformation = true;
    if (!o.requestProblemInformation) props.requestProblemInformation = false;
    if (o.connectUserProperties.length > 0) props.userProperties = o.connectUserProperties;
    const p: ConnectPacket = {
      type: PacketType.Connect,
      clientId: core.firstConnectDone ? core.clientId : o.clientId,
      cleanStart,
      keepAlive: o.keepAliveSeconds,
      properties: props,
    };
    if (o.username !== undefined) p.username = o.username;
    if (o.password !== undefined) p.password = o.password;
    const w = o.will;
    if (w !== undefined) {
      const wp: NonNullable<ConnectPacket["will"]>["properties"] = { ...w.properties };
      if (w.delayIntervalSeconds !== undefined) wp.willDelayInterval = w.delayIntervalSeconds;
      p.will = {
        topic: w.topic,
        payload: typeof w.payload === "string" ? encoder.encode(w.payload) : (w.payload ?? EMPTY),
        qos: w.qos ?? 0,
        retain: w.retain ?? false,
        properties: wp,
      };
    }
    return p;
  }

  /** A CONNACK accepted the connection on `link`: the session goes on over it. */
  #up(link: Link, info: ConnackInfo): void {
    const core = this.#core;
    link.connack = info;
    if (core.o.autoTopicAlias && info.topicAliasMaximum > 0) {
      link.auto = new AutoAliases(info.topicAliasMaximum, info.maximumPacketSize);
    }
    link.plain0 = link.auto === undefined && core.limiter === undefined &&
      core.o.publishMode !== "wait-for-flush" && info.maximumPacketSize === undefined &&
      info.retainAvailable;
    link.upAt = Date.now();
    core.connack = info;
    if (info.assignedClientIdentifier !== undefined) core.clientId = info.assignedClientIdentifier;
    core.firstConnectDone = true;
    if (core.stats !== null) core.stats.connects++;
    core.state = ClientState.Connected;
    this.#startKeepAlive(link, info);
    if (info.sessionPresent) core.subs.holdParked();
    // Unanswered SUBSCRIBE / UNSUBSCRIBE go out again.
    for (const r of core.requests.values()) link.writer.send(r.packet);
    // The broker has no session: inbound QoS 2 state is void, subscriptions must be re-issued.
    core.in.connected(info.sessionPresent);
    if (!info.sessionPresent) {
      core.persistence.clearInbound();
      core.subs.resubscribe(link);
    }
    core.out.connected(info);
    core.emit({ type: "connected", connack: info });
    core.pool.start();
    core.log?.info("mqtt connected", {
      url: redact(link.url.href),
      sessionPresent: info.sessionPresent,
    });
    core.observe("onConnectionUp", () => core.options.onConnectionUp?.(info));
  }

  #startKeepAlive(link: Link, info: ConnackInfo): void {
    const core = this.#core;
    const pingTimeout = core.o.pingTimeoutMs;
    link.ka.start(info.serverKeepAlive ?? core.o.keepAliveSeconds, () => link.paused, (a) => {
      if (link.closed) return;
      if (a === KeepAliveAction.Ping) {
        link.ping();
        return;
      }
      if (core.stats !== null) core.stats.pingTimeouts++;
      // 0x8D is the server's reason code; a client just closes (§3.1.2.10).
      core.supervisor.linkDown(
        link,
        new MqttError("timeout", `no PINGRESP within ${pingTimeout} ms`),
        false,
      );
    }, () => link.writer.trim());
  }
}
