/**
 * {@linkcode Supervisor}: the first connect over the broker list, and the
 * loop that repairs every later loss of the connection: backoff, broker
 * rotation, redirects (a broker list replaced meanwhile), the observers'
 * say (`onConnectionDown` returning false stops it).
 *
 * @module
 */

import { MqttError } from "../errors.ts";
import { toError } from "../_internal/error.ts";
import { settledWithin } from "../_internal/async.ts";
import type { DisconnectPacket } from "../wire/types.ts";
import type { Core } from "./core.ts";
import * as ClientState from "./_client_state.ts";
import type { Link } from "./connection.ts";
import { redact } from "./options.ts";
import type { StatusEvent } from "./status.ts";
import type { ConnackInfo } from "./types.ts";

type ClientState = typeof ClientState[keyof typeof ClientState];

/** How many times connect() follows a new broker list set while it runs. */
const MAX_CONNECT_REDIRECTS = 8;

/** Connects, notices losses, reconnects. */
export class Supervisor {
  readonly #core: Core;
  /** Index of the broker last tried in `o.brokers`. */
  brokerIndex = 0;
  #retry = 0;
  #lastDelay = 0;
  #supervising = false;
  #sleepTimer: ReturnType<typeof setTimeout> | undefined;
  /** Ends the current wait (the backoff sleep, or a connection attempt's watch for close). */
  wake: (() => void) | undefined;

  /** @param core The client's shared state. */
  constructor(core: Core) {
    this.#core = core;
  }

  /**
   * The first connection: each broker in order until one accepts; a list
   * replaced by `setBrokers()` meanwhile is tried from its first URL.
   *
   * @param signal Stops trying.
   * @returns The CONNACK.
   */
  async connect(signal: AbortSignal | undefined): Promise<ConnackInfo> {
    const core = this.#core;
    core.state = ClientState.Connecting;
    let brokers = core.o.brokers;
    let lastError: Error | undefined;
    let redirects = 0;
    for (let i = 0; i < brokers.length; i++) {
      const index = (Math.max(this.brokerIndex, 0) + i) % brokers.length;
      try {
        const cleanStart = core.firstConnectDone
          ? (core.options.cleanStartOnReconnect ?? false)
          : core.o.cleanStart;
        const info = await core.handshake.open(brokers[index], cleanStart, signal);
        this.brokerIndex = index;
        await core.pool.firstTries(signal);
        return info;
      } catch (err) {
        lastError = toError(err);
        this.connectFailed(lastError);
        if (signal?.aborted || (core.state as ClientState) === ClientState.Closed) break;
        if (core.o.brokers !== brokers && redirects < MAX_CONNECT_REDIRECTS) {
          // setBrokers() during connect() (a redirect through onServerDisconnect, §4.11):
          // go on with the new list, from its first URL.
          brokers = core.o.brokers;
          redirects++;
          i = -1;
        }
      }
    }
    if (core.state === ClientState.Connecting) core.state = ClientState.Idle;
    if ((core.state as ClientState) === ClientState.Closed) {
      throw new MqttError("closed", "client was disconnected", { cause: lastError });
    }
    throw lastError!;
  }

  /**
   * A connection attempt failed: counted, logged, reported to `onConnectError`.
   *
   * @param err Why.
   */
  connectFailed(err: Error): void {
    const core = this.#core;
    if (core.stats !== null) core.stats.connectFailures++;
    core.log?.warn("mqtt connect attempt failed", { error: err.message });
    core.observe("onConnectError", () => core.options.onConnectError?.(err));
  }

  /**
   * Ends `link`; when it was the live connection, hands over to the reconnect loop.
   *
   * @param link The connection.
   * @param err Why it ends.
   * @param byUser disconnect() ends it: no reconnect.
   * @param serverDisconnect The broker's DISCONNECT, when it sent one.
   */
  linkDown(link: Link, err: Error, byUser: boolean, serverDisconnect?: DisconnectPacket): void {
    if (link.closed) return;
    const core = this.#core;
    link.closed = true;
    link.ka.stop();
    link.writer.fail(err);
    link.conn.close();
    link.onFail?.(err);
    if (link.enders !== undefined) { for (const ac of link.enders) ac.abort(); }
    core.auth.linkDown(link, err);
    if (core.link !== link) return;
    core.link = null;
    core.subs.releaseParked(true);
    core.out.disconnected();
    core.in.disconnected();
    const wasUp = link.connack !== null;
    if (!wasUp || byUser) return;
    // An established connection was lost.
    if (core.stats !== null) core.stats.disconnects++;
    core.log?.warn("mqtt connection lost", {
      error: err.message,
      reasonCode: (err as MqttError).reasonCode,
    });
    if (core.statusStreams.size > 0) this.#report(err, serverDisconnect);
    if (core.state === ClientState.Closed) return;
    core.state = ClientState.Reconnecting;
    // A connection that dies sooner than the delay before it does not reset the backoff.
    if (Date.now() - link.upAt >= this.#lastDelay) this.#retry = 0;
    if (serverDisconnect !== undefined) {
      core.observe("onServerDisconnect", () => core.options.onServerDisconnect?.(serverDisconnect));
    }
    const keepGoing = core.observe("onConnectionDown", () => core.options.onConnectionDown?.());
    if (keepGoing === false) {
      core.state = ClientState.Idle;
      return;
    }
    void this.#supervise();
  }

  #report(err: Error, serverDisconnect: DisconnectPacket | undefined): void {
    const core = this.#core;
    if (serverDisconnect !== undefined) {
      const pr = serverDisconnect.properties;
      const ev: StatusEvent = {
        type: "server-disconnect",
        reasonCode: serverDisconnect.reasonCode ?? 0,
      };
      if (pr?.reasonString !== undefined) ev.reasonString = pr.reasonString;
      if (pr?.serverReference !== undefined) ev.serverReference = pr.serverReference;
      core.emit(ev);
    }
    const rc = (err as MqttError).reasonCode;
    core.emit(
      rc === undefined
        ? { type: "disconnected", error: err }
        : { type: "disconnected", error: err, reasonCode: rc },
    );
  }

  async #supervise(): Promise<void> {
    if (this.#supervising) return;
    this.#supervising = true;
    const core = this.#core;
    try {
      while (core.state === ClientState.Reconnecting) {
        let delay = 0;
        try {
          delay = Math.max(0, Number(core.backoff(this.#retry)) || 0);
        } catch (e) {
          core.log?.error("reconnectBackoff threw", { error: toError(e).message });
          delay = 1000;
        }
        this.#lastDelay = delay;
        const listed = core.o.brokers;
        if (core.statusStreams.size > 0) {
          const next = listed[(this.brokerIndex + 1) % listed.length];
          core.emit({
            type: "reconnecting",
            attempt: this.#retry + 1,
            delayMs: delay,
            url: redact(next.href),
          });
        }
        await this.#sleep(delay);
        if (core.state !== ClientState.Reconnecting) break;
        this.#retry++;
        const brokers = core.o.brokers;
        // The first retry after a drop already moves off the URL that failed.
        this.brokerIndex = (this.brokerIndex + 1) % brokers.length;
        const url = brokers[this.brokerIndex];
        const retry = this.#retry;
        core.observe(
          "onReconnectAttempt",
          () => core.options.onReconnectAttempt?.(retry, redact(url.href)),
        );
        try {
          await core.handshake.open(url, core.options.cleanStartOnReconnect ?? false, undefined);
        } catch (err) {
          if ((core.state as ClientState) === ClientState.Closed) break;
          this.connectFailed(toError(err));
        }
      }
    } finally {
      this.#supervising = false;
    }
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
      this.#sleepTimer = setTimeout(() => {
        this.#sleepTimer = undefined;
        this.wake = undefined;
        resolve();
      }, ms);
    });
  }

  /** Ends the backoff sleep (or an attempt's wait) at once: disconnect() was called. */
  stop(): void {
    clearTimeout(this.#sleepTimer);
    this.#sleepTimer = undefined;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /**
   * disconnect(): DISCONNECT flushed within `disconnectFlushTimeoutMs`, then
   * the connection closed without a reconnect.
   *
   * @param packet The DISCONNECT.
   * @param signal Stops waiting for the flush.
   */
  async close(packet: DisconnectPacket, signal: AbortSignal | undefined): Promise<void> {
    const core = this.#core;
    const link = core.link;
    if (link === null || link.closed) return;
    if (link.connack !== null) {
      // Nothing is processed or sent after DISCONNECT [MQTT-3.14.4-1]: not even the
      // PUBACK of a PUBLISH that arrives while it flushes.
      link.halted = true;
      link.writer.sendLast(packet);
      await settledWithin(link.writer.flushed(), core.o.disconnectFlushTimeoutMs, signal);
    }
    this.linkDown(link, new MqttError("closed", "client disconnected"), true);
  }
}
