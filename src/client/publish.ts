/**
 * {@linkcode Publisher}: the client's publish path. A publish is checked
 * (arguments, the broker's CONNACK limits, topic aliases), then QoS 0 goes
 * straight to the writer (waiting for room or refused when the write queue
 * is full, per `writeOverflowPolicy`) and QoS 1/2 becomes a flow of the
 * session's outbound engine, which owns it until the broker completes it.
 *
 * @module
 */

import { MqttError } from "../errors.ts";
import { abortable } from "../_internal/async.ts";
import * as FlowState from "../session/_flow_state.ts";
import { limitError } from "../session/outbound.ts";
import { publishPacket } from "../session/publish.ts";
import * as ReasonCode from "../wire/_reason_code.ts";
import { packetLength } from "../wire/encode.ts";
import type { PublishPacket } from "../wire/types.ts";
import { type Core, noop, type OutEntry } from "./core.ts";
import * as ClientState from "./_client_state.ts";
import type { Link } from "./connection.ts";
import type { Pool } from "./pool.ts";
import type { RateLimiter } from "./rate_limit.ts";
import type { PublishOptions, PublishResult } from "./types.ts";

const QOS0_RESULT: PublishResult = Object.freeze({ reasonCode: 0 }) as PublishResult;
const QOS0_RESOLVED: Promise<PublishResult> = Promise.resolve(QOS0_RESULT);

/**
 * Records the topic alias a PUBLISH with a topic establishes on `link`, once
 * it is handed to the writer (so a publish refused or still queued never
 * counts as having set it).
 *
 * @param link The connection.
 * @param packet The PUBLISH written.
 */
export function noteAlias(link: Link, packet: PublishPacket): void {
  const alias = packet.properties?.topicAlias;
  if (alias !== undefined && packet.topic !== "") {
    (link.outAliases ??= new Map()).set(alias, packet.topic);
  }
}

function aliasUnknown(alias: number): TypeError {
  return new TypeError(
    `publish topic is empty and topic alias ${alias} is not set on this connection`,
  );
}

/** The publish path of one client. */
export class Publisher {
  readonly #core: Core;
  readonly #pool: Pool;
  /** `publishMode: "wait-for-flush"`: a QoS 0 publish resolves once written. */
  readonly #waitForFlush: boolean;
  /** `rateLimit`'s buckets, if set. */
  readonly #limiter: RateLimiter | undefined;

  /** @param core The client's shared state (its pool and limiter set). */
  constructor(core: Core) {
    this.#core = core;
    this.#pool = core.pool;
    this.#waitForFlush = core.o.publishMode === "wait-for-flush";
    this.#limiter = core.limiter;
  }

  /**
   * Publishes a message (see `Client.publish`).
   *
   * @param message Topic, payload, QoS, retain and properties.
   * @param signal Stops waiting.
   * @returns The broker's reason code and ack properties.
   */
  publish(message: PublishOptions, signal: AbortSignal | undefined): Promise<PublishResult> {
    const core = this.#core;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const state = core.state;
    if (state === ClientState.Closed) return Promise.reject(core.closedError());
    if (message === null || typeof message !== "object") {
      return Promise.reject(new TypeError("publish() needs a message object"));
    }
    const pool = this.#pool.publishers;
    if (pool !== undefined) {
      const member = pool.pick(message.topic);
      // A broker refusal from the member is the answer: it is not retried elsewhere.
      if (member !== undefined) return member.publish(message, { signal });
      if (core.stats !== null) core.stats.poolFallbacks++;
    }
    let packet: PublishPacket;
    try {
      packet = publishPacket(message, "publish");
    } catch (err) {
      return Promise.reject(err);
    }
    const link = core.link;
    const alias = packet.properties?.topicAlias;
    if (
      packet.qos === 0 && alias === undefined && state === ClientState.Connected &&
      link?.plain0 === true && !link.writer.full
    ) {
      try {
        link.writer.send(packet);
      } catch (err) {
        return Promise.reject(err);
      }
      if (core.stats !== null) core.stats.publishesSent++;
      return QOS0_RESOLVED;
    }
    if (state !== ClientState.Connected || link === null) {
      if (
        packet.qos === 0 || state === ClientState.Idle || state === ClientState.Connecting
      ) {
        return Promise.reject(new MqttError("not-connected", "client is not connected"));
      }
    }
    if (alias !== undefined) {
      const r = this.#applyOutAlias(packet, alias, link);
      if (r !== undefined) return Promise.reject(r);
    }
    if (packet.qos === 0) {
      if (this.#limiter !== undefined) return this.#admit0(packet, signal);
      return this.#publish0(link as Link, packet, signal);
    }
    return this.#publishQoS(packet, signal);
  }

  /** Checks an outbound topic alias; returns an error to reject with. */
  #applyOutAlias(packet: PublishPacket, alias: number, link: Link | null): Error | undefined {
    if (this.#core.o.autoTopicAlias) {
      return new TypeError(
        "publish properties.topicAlias is set by the client under autoTopicAlias",
      );
    }
    const max = this.#core.connack?.topicAliasMaximum ?? 0;
    if (!Number.isInteger(alias) || alias < 1 || alias > max) {
      return new MqttError(
        "topic-alias-invalid",
        `topic alias ${alias} is outside 1..${max} (broker's Topic Alias Maximum)`,
        { reasonCode: ReasonCode.TopicAliasInvalid },
      );
    }
    if (packet.topic === "") {
      const topic = link?.outAliases?.get(alias);
      if (topic === undefined) return aliasUnknown(alias);
      // A QoS 1/2 packet may be replayed where the alias means nothing: it carries the topic.
      if (packet.qos > 0) packet.topic = topic;
    }
    return undefined;
  }

  /**
   * A QoS 0 publish: straight to the writer. The CONNACK's limits are checked
   * in full only when one could apply, so the common case (no Maximum Packet
   * Size, retain allowed, room in the write queue) costs a few comparisons.
   */
  #publish0(
    link: Link,
    packet: PublishPacket,
    signal: AbortSignal | undefined,
  ): Promise<PublishResult> {
    const core = this.#core;
    const w = link.writer;
    const c = core.connack!;
    if (c.maximumPacketSize !== undefined || (packet.retain && !c.retainAvailable)) {
      let limit: Error | undefined;
      try {
        limit = limitError(packet, c);
      } catch (err) {
        limit = err as Error; // the packet does not encode
      }
      if (limit !== undefined) return Promise.reject(limit);
    }
    if (w.full) {
      if (core.o.writeOverflowPolicy === "drop-newest") {
        return Promise.reject(new MqttError("write-queue-full", "write queue is full"));
      }
      return core.track(() => this.#publish0Blocked(link, packet, signal));
    }
    try {
      const alias = packet.properties?.topicAlias;
      if (alias === undefined) {
        const auto = link.auto;
        if (auto === undefined) w.send(packet);
        else auto.send(w, packet);
      } else {
        const known = link.outAliases?.get(alias);
        if (packet.topic === "") {
          if (known === undefined) return Promise.reject(aliasUnknown(alias));
          w.send(packet);
        } else if (known === packet.topic) {
          // The broker knows this alias on this connection: send it alone, without the topic.
          w.send({ ...packet, topic: "" });
        } else {
          w.send(packet);
          noteAlias(link, packet);
        }
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (core.stats !== null) core.stats.publishesSent++;
    if (this.#waitForFlush) {
      return core.track(() => w.flushed().then(() => QOS0_RESULT));
    }
    return QOS0_RESOLVED;
  }

  async #publish0Blocked(
    link: Link,
    packet: PublishPacket,
    signal: AbortSignal | undefined,
  ): Promise<PublishResult> {
    while (link.writer.full) {
      signal?.throwIfAborted();
      await abortable(link.writer.space(), signal);
      if (link.closed) {
        throw new MqttError("not-connected", "connection lost while waiting for the write queue");
      }
    }
    return this.#publish0(link, packet, signal);
  }

  /**
   * A QoS 0 publish under `rateLimit`: written now when its tokens are there
   * and no publish waits ahead, else when its turn comes (on the connection
   * up then: none rejects with `not-connected`, a closed client with `closed`).
   */
  #admit0(packet: PublishPacket, signal: AbortSignal | undefined): Promise<PublishResult> {
    const core = this.#core;
    const limiter = this.#limiter!;
    let bytes: number;
    try {
      // A publish the broker's limits or a bad field rule out is refused now, not after a wait.
      const limit = limitError(packet, core.connack);
      if (limit !== undefined) return Promise.reject(limit);
      bytes = packetLength(packet);
    } catch (err) {
      return Promise.reject(err);
    }
    if (limiter.take(bytes)) return this.#publish0(core.link!, packet, signal);
    const p = new Promise<PublishResult>((resolve, reject) => {
      const onAbort = () => {
        limiter.cancel(waiter);
        reject(signal!.reason);
      };
      const waiter = limiter.wait(bytes, () => {
        signal?.removeEventListener("abort", onAbort);
        const state = core.state;
        if (state === ClientState.Connected) {
          resolve(this.#publish0(core.link!, packet, signal));
        } else if (state === ClientState.Closed) {
          p.catch(noop); // as disconnect() does for the calls it ends
          reject(core.closedError());
        } else {
          reject(new MqttError("not-connected", "client is not connected"));
        }
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    return p;
  }

  #publishQoS(packet: PublishPacket, signal: AbortSignal | undefined): Promise<PublishResult> {
    const core = this.#core;
    try {
      // Validate now (with a stand-in packet id): a bad packet never enters the session.
      const limit = limitError(packet, core.connack);
      if (limit !== undefined) return Promise.reject(limit);
      if (core.connack?.maximumPacketSize === undefined) {
        packet.packetId = 1;
        try {
          packetLength(packet);
        } finally {
          packet.packetId = undefined;
        }
      }
    } catch (err) {
      return Promise.reject(err);
    }
    // One literal with every field (the shape of newFlow() plus the caller's promise).
    const entry: OutEntry = {
      packet,
      state: FlowState.AwaitingAck,
      inWindow: false,
      unsent: true,
      storing: false,
      recRc: 0,
      recSeq: 0,
      checkedBy: core.connack,
      abandoned: false,
      done: false,
      resolve: noop,
      reject: noop,
      promise: undefined,
    };
    const out = core.out;
    const promise = new Promise<PublishResult>((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
      if (signal !== undefined) {
        const onAbort = () => {
          // Not yet handed to the session: it never goes out; else it completes unseen.
          out.abandon(entry);
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        entry.resolve = (r) => {
          signal.removeEventListener("abort", onAbort);
          resolve(r);
        };
        entry.reject = (e) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        };
      }
    });
    entry.promise = promise;
    out.submit(entry);
    return promise;
  }
}
