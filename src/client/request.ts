/**
 * {@linkcode RequestResponse}: request / response (MQTT v5 §4.10) over the
 * client's subscriptions and publish path, behind `Client.request()` and
 * `Client.serve()`.
 *
 * A request is a PUBLISH with a Response Topic and a fresh Correlation Data
 * (16 random bytes). Replies arrive on one response subscription per client
 * (QoS 1, made on the first request and kept, and re-issued with the others,
 * for the client's life) and are matched to their request by the exact bytes
 * of their Correlation Data; a reply that matches nothing in flight (late,
 * duplicated or foreign) is acked and dropped. The pending requests live
 * beside the connection, not in it, so a request in flight across a reconnect
 * still gets its reply.
 *
 * @example A round trip on one client, over a loopback broker written for the example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, type Connection } from "@mqttv5/client";
 * import { encodePacket, type Packet, PacketDecoder, PacketType } from "@mqttv5/client/wire";
 *
 * // Just enough broker for one client: CONNACK, SUBACK, PUBACK, and every PUBLISH
 * // delivered back (at QoS 0) when its topic was subscribed to.
 * function loopback(): Connection {
 *   const decoder = new PacketDecoder();
 *   const topics = new Set<string>();
 *   let onData = (_: Uint8Array) => {};
 *   const send = (p: Packet) => queueMicrotask(() => onData(encodePacket(p)));
 *   return {
 *     start: (data) => void (onData = data),
 *     write(bytes) {
 *       for (const p of decoder.push(bytes)) {
 *         if (p.type === PacketType.Connect) {
 *           send({ type: PacketType.Connack, sessionPresent: false, reasonCode: 0 });
 *         } else if (p.type === PacketType.Subscribe) {
 *           for (const f of p.filters) topics.add(f.topic);
 *           send({ type: PacketType.Suback, packetId: p.packetId, reasonCodes: [1] });
 *         } else if (p.type === PacketType.Publish) {
 *           if (p.qos === 1) send({ type: PacketType.Puback, packetId: p.packetId!, reasonCode: 0 });
 *           if (topics.has(p.topic)) send({ ...p, qos: 0, packetId: undefined });
 *         }
 *       }
 *       return Promise.resolve();
 *     },
 *     close() {},
 *   };
 * }
 *
 * await using client = new Client({
 *   broker: "mqtt://loopback",
 *   clientId: "calc",
 *   dial: () => Promise.resolve(loopback()),
 * });
 * await client.connect();
 * await client.serve([{ topic: "calc/square", qos: 1 }], (req) => String(Number(req.text()) ** 2));
 *
 * const reply = await client.request({ topic: "calc/square", payload: "12", qos: 1 });
 * assert.equal(reply.text(), "144");
 * assert.match(reply.topic, /^mqttv5\/response\/calc\/[0-9a-f]{16}$/);
 * assert.equal(reply.properties.correlationData?.length, 16);
 * ```
 *
 * @module
 */

import { checkInt } from "../_internal/args.ts";
import { type Deferred, deferred } from "../_internal/async.ts";
import { toError } from "../_internal/error.ts";
import { MqttError } from "../errors.ts";
import { publishPacket } from "../session/publish.ts";
import type { Core } from "./core.ts";
import * as ClientState from "./_client_state.ts";
import type { Message } from "./message.ts";
import type { Publisher } from "./publish.ts";
import type { SubscribeOptions, SubscriptionToken } from "./subscription.ts";
import type { PublishOptions, TopicFilterInput } from "./types.ts";

/**
 * The message of `Client.request()`: a {@linkcode PublishOptions} and how long
 * to wait for the reply. `properties.responseTopic` may name the topic the
 * reply is to come on (the client subscribes to it, once); without it the
 * client's own response topic is used. `properties.correlationData` must be
 * left out: every request gets fresh Correlation Data.
 *
 * @example A request with a deadline
 * ```ts
 * import type { RequestMessage } from "@mqttv5/client";
 *
 * const ask: RequestMessage = { topic: "svc/clock", payload: "now", qos: 1, timeoutMs: 5000 };
 * ```
 */
export interface RequestMessage extends PublishOptions {
  /**
   * How long to wait for the reply, in ms, from the call (subscribing and
   * publishing included); then the request rejects with `MqttError` code
   * `timeout`. 0 waits for ever (bound it with a `signal`).
   *
   * @default {30000}
   */
  timeoutMs?: number;
}

/**
 * What a `Client.serve()` handler answers with: the payload (a string is
 * sent as UTF-8), or a message without topic (payload, QoS, retain,
 * properties). The reply goes to the request's Response Topic with the
 * request's Correlation Data, at the request's QoS unless `qos` says
 * otherwise.
 *
 * @example Three ways to answer
 * ```ts
 * import type { ReplyInput } from "@mqttv5/client";
 *
 * const text: ReplyInput = "21.5";
 * const bytes: ReplyInput = new Uint8Array([0x01, 0x02]);
 * const full: ReplyInput = {
 *   payload: JSON.stringify({ celsius: 21.5 }),
 *   qos: 1,
 *   properties: { contentType: "application/json" },
 * };
 * ```
 */
export type ReplyInput = string | Uint8Array | Omit<PublishOptions, "topic">;

/** Correlation Data bytes per request. */
const CD_BYTES = 16;

const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

/** The request / response machinery of one client. */
export class RequestResponse {
  readonly #core: Core;
  readonly #publisher: Publisher;
  /** Requests awaiting their reply, by Correlation Data (one char per byte). */
  readonly #pending = new Map<string, Deferred<Message>>();
  /** The response subscriptions by topic: each settles once subscribed. */
  readonly #subs = new Map<string, Promise<unknown>>();
  /** The client's own response topic, chosen at its first request. */
  #topic: string | undefined;

  /**
   * @param core The client's shared state.
   * @param publisher The client's publish path.
   */
  constructor(core: Core, publisher: Publisher) {
    this.#core = core;
    this.#publisher = publisher;
  }

  /**
   * Publishes a request and waits for its reply (see `Client.request`).
   *
   * @param message The request.
   * @param signal Stops waiting; an unsent request is not sent.
   * @returns The reply.
   */
  request(message: RequestMessage, signal: AbortSignal | undefined): Promise<Message> {
    const core = this.#core;
    return core.track(async () => {
      signal?.throwIfAborted();
      publishPacket(message, "request"); // checks what the message alone can tell
      const ms = checkInt("request timeoutMs", message.timeoutMs ?? 30_000, 0, 2 ** 31 - 1);
      const props = message.properties;
      if (props?.correlationData !== undefined) {
        throw new TypeError("request() sets correlationData itself");
      }
      // Before the first connection there is no client identifier or Response Information
      // to choose the response topic by. (Closed: subscribe() or publish() says so.)
      if (core.state < ClientState.Connected) {
        throw new MqttError("not-connected", "client is not connected");
      }
      const topic = props?.responseTopic ?? (this.#topic ??= this.#ownTopic());
      const correlationData = random(CD_BYTES);
      const key = String.fromCharCode(...correlationData);
      const reply = deferred<Message>();
      this.#pending.set(key, reply);
      // The reply is awaited: a read it is held behind gets a nudge (mosquitto's Nagle holds a
      // reply that follows the request's PUBACK until our ACK: 40 ms on every request).
      core.awaitReply(1);
      const onAbort = () => reply.reject(signal!.reason);
      signal?.addEventListener("abort", onAbort);
      const timer = ms > 0
        ? setTimeout(() => reply.reject(new MqttError("timeout", `no reply within ${ms} ms`)), ms)
        : undefined;
      try {
        await Promise.race([reply.promise, this.#subscribe(topic)]);
        await Promise.race([
          reply.promise,
          this.#publisher.publish({
            ...message,
            properties: { ...props, responseTopic: topic, correlationData },
          }, signal),
        ]);
        return await reply.promise;
      } finally {
        this.#pending.delete(key);
        core.awaitReply(-1);
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      }
    });
  }

  /** The client's response topic: under the CONNACK's Response Information, if any. */
  #ownTopic(): string {
    const core = this.#core;
    const suffix = random(8).reduce((s, b) => s + (b | 256).toString(16).slice(1), "");
    const info = core.connack?.responseInformation;
    if (info) return info + (info.endsWith("/") ? "" : "/") + suffix;
    // The client identifier as a level of its own, when it can be one.
    const id = core.clientId;
    return `mqttv5/response/${/^[^/+#\0]+$/.test(id) ? id + "/" : ""}${suffix}`;
  }

  /** Subscribes to a response topic once; a failed attempt is retried by the next request. */
  #subscribe(topic: string): Promise<unknown> {
    let p = this.#subs.get(topic);
    if (p === undefined) {
      const subs = this.#core.subs;
      this.#subs.set(
        topic,
        p = subs.subscribe(
          [{ topic, qos: 1 }],
          undefined,
          (token) => subs.callbackTarget(token, (m) => this.#onReply(m)),
        ),
      );
      p.catch(() => this.#subs.delete(topic));
    }
    return p;
  }

  /** A message on a response topic: the reply to the request it correlates with, or dropped. */
  #onReply(m: Message): void {
    const cd = m.properties.correlationData;
    const key = cd?.length === CD_BYTES ? String.fromCharCode(...cd) : "";
    const reply = this.#pending.get(key);
    if (reply === undefined) {
      this.#core.log?.debug("reply dropped: unknown correlation data", { topic: m.topic });
      return;
    }
    // A duplicate that arrives before the request's own clean-up finds nothing.
    this.#pending.delete(key);
    reply.resolve(m);
  }

  /**
   * Answers the requests on `filters` with `handler` (see `Client.serve`).
   *
   * @param filters The request topics.
   * @param handler Computes each reply.
   * @param options The subscription's options (`signal`).
   * @returns The subscription's token.
   */
  serve(
    filters: TopicFilterInput[],
    handler: (request: Message) => ReplyInput | Promise<ReplyInput>,
    options: SubscribeOptions | undefined,
  ): Promise<SubscriptionToken> {
    const core = this.#core;
    return core.track(async () => {
      options?.signal?.throwIfAborted();
      if (typeof handler !== "function") {
        throw new MqttError("nil-handler", "serve() needs a handler function");
      }
      const t = await core.subs.subscribe(filters, options, (token) => {
        let ended = false;
        return {
          token,
          mark: 0,
          deliver: (m) => {
            if (ended) m.ack();
            else this.#answer(m, handler);
            return !ended;
          },
          end: () => void (ended = true),
        };
      });
      return t.token;
    });
  }

  /** Runs the handler and publishes its reply; acks the request once that is settled. */
  async #answer(
    m: Message,
    handler: (request: Message) => ReplyInput | Promise<ReplyInput>,
  ): Promise<void> {
    const log = this.#core.log;
    const { responseTopic, correlationData } = m.properties;
    try {
      if (responseTopic === undefined) {
        log?.debug("request without response topic skipped", { topic: m.topic });
        return;
      }
      let r = await handler(m);
      if (typeof r === "string" || r instanceof Uint8Array) r = { payload: r };
      else if (!r) throw new TypeError("serve() handler returned no reply");
      await this.#publisher.publish({
        qos: m.qos,
        ...r,
        topic: responseTopic,
        properties: { ...r.properties, correlationData },
      }, undefined);
    } catch (err) {
      log?.error("serve(): no reply sent", { topic: m.topic, error: toError(err).message });
    } finally {
      m.ack();
    }
  }

  /**
   * disconnect(): every request in flight rejects.
   *
   * @param err The client's closed error.
   */
  close(err: Error): void {
    for (const reply of this.#pending.values()) reply.reject(err);
  }
}
