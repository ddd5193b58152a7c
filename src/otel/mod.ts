/**
 * OpenTelemetry for `@mqttv5/client`: {@linkcode instrument} gives a
 * {@linkcode Client} spans and metrics through `npm:@opentelemetry/api` (the
 * only module of the package that imports it; the core stays free of
 * dependencies), and carries the W3C trace context from publisher to
 * subscriber in a user property.
 *
 * What it records:
 *
 * | span | kind | from / to |
 * | --- | --- | --- |
 * | `publish <topic>` | PRODUCER | `publish()` to its settlement: the PUBACK (QoS 1), the PUBCOMP (QoS 2), the hand-over to the writer (QoS 0; its flush with `publishMode: "wait-for-flush"`) |
 * | `receive <topic>` | CONSUMER | each inbound PUBLISH the client lets through (not a QoS 2 duplicate), marked when it arrives, before it is routed to the subscriptions |
 * | `process <topic>` | CONSUMER | each call of a `subscribeCallback()` handler, active while it runs |
 * | `request <topic>` | CLIENT | `request()` to its reply |
 * | `serve <topic>` | CONSUMER | each call of a `serve()` handler, active while it runs, to the reply it returns |
 *
 * Attributes follow the OpenTelemetry semantic conventions for messaging:
 * `messaging.system` (`"mqtt"`), `messaging.operation.name`,
 * `messaging.operation.type` (`send`, `receive`, `process`),
 * `messaging.destination.name` (the topic), `messaging.client.id`,
 * `messaging.message.body.size`, `error.type` (the `MqttError` code) on
 * failure; and MQTT's own: `messaging.mqtt.qos`, `messaging.mqtt.retain`,
 * `messaging.mqtt.dup` (inbound), `messaging.mqtt.reason_code` (a broker's
 * reason code other than 0, success or refusal). A failed publish, request or
 * handler sets the span's status to ERROR and records the exception.
 *
 * Trace context: `publish()` and `request()` add the span's W3C
 * `traceparent` (and `tracestate`, when it has one) to the PUBLISH user
 * properties, unless the message already carries one (the caller's object is
 * never changed). The receiving side makes the `receive`, `process` and
 * `serve` spans children of that context, and {@linkcode messageContext}
 * gives it to code that reads messages from `subscribe()` or
 * `subscribeQueue()`. A `serve()` reply carries the `serve` span's context.
 *
 * Metrics: the histogram `mqtt.client.publish.duration` (ms, from `publish()`
 * to its settlement, by QoS, with `error.type` on failure), and, for a client
 * created with `stats: true`, one instrument per field of `client.stats()`:
 * `mqtt.client.<field in snake_case>` (`mqtt.client.publishes_sent`, ...),
 * observable counters, and up-down counters for the three that go down
 * (`publishes_inflight`, `subscriptions_active`, `subscriptions_blocked`).
 * Without `stats: true` the client counts nothing, and these are not created.
 *
 * Without an SDK the API's no-op providers make all of this free of cost
 * beyond a few calls; with Deno's built-in OpenTelemetry (`OTEL_DENO=true`)
 * the global providers are Deno's, and spans and metrics go out over OTLP
 * with no SDK at all (Deno 2.9 collects the observable ones, the `stats()`
 * metrics, at its periodic exports, not at exit).
 *
 * @example Spans of a failed publish, with the SDK's in-memory exporter
 * ```ts
 * import assert from "node:assert/strict";
 * import { SpanKind, SpanStatusCode } from "npm:@opentelemetry/api@^1";
 * import {
 *   InMemorySpanExporter,
 *   SimpleSpanProcessor,
 *   TracerProvider,
 * } from "npm:@opentelemetry/sdk-trace@3.1.1";
 * import { Client } from "@mqttv5/client";
 * import { instrument } from "@mqttv5/client/otel";
 *
 * const exporter = new InMemorySpanExporter();
 * const tracerProvider = new TracerProvider({
 *   spanProcessors: [new SimpleSpanProcessor({ exporter })],
 * });
 * const client = new Client({ broker: "mqtt://localhost:1883" });
 * {
 *   using _instrumented = instrument(client, { tracerProvider });
 *   // Not connected yet: the publish fails, and its span says so.
 *   await assert.rejects(client.publish({ topic: "sensors/t1", payload: "21.5", qos: 1 }));
 * }
 * await tracerProvider.forceFlush();
 * const [span] = exporter.getFinishedSpans();
 * assert.equal(span.name, "publish sensors/t1");
 * assert.equal(span.kind, SpanKind.PRODUCER);
 * assert.equal(span.status.code, SpanStatusCode.ERROR);
 * assert.equal(span.attributes["error.type"], "not-connected");
 * assert.equal(span.attributes["messaging.message.body.size"], 4);
 * ```
 *
 * @module
 */

import {
  type Attributes,
  type BatchObservableCallback,
  context,
  createTraceState,
  isSpanContextValid,
  type MeterProvider,
  metrics,
  type Observable,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  type TracerProvider,
} from "npm:@opentelemetry/api@^1";
import { MqttError } from "../errors.ts";
import { type Client, coreOf } from "../client/client.ts";
import type { Core } from "../client/core.ts";
import type { Message } from "../client/message.ts";
import type { PublishOptions, Stats } from "../client/types.ts";
import type { PublishProperties, UserProperty } from "../wire/types.ts";

/** The instrumentation scope: the tracer's and the meter's name. */
const SCOPE = "@mqttv5/client";

/** The user property that carries the W3C `tracestate` beside the `traceparent`. */
const TRACESTATE = "tracestate";

/** The `stats()` fields that go down as well as up: up-down counters, not counters. */
const UP_DOWN = new Set<keyof Stats>([
  "publishesInflight",
  "subscriptionsActive",
  "subscriptionsBlocked",
]);

/**
 * An OpenTelemetry context: the interface of `@opentelemetry/api`, repeated here
 * (the two are the same type) so that this module's documentation is complete.
 * `context.active()` returns one; `tracer.startSpan()` and `context.with()` take one.
 *
 * @example The active context, with the trace context of a message on top
 * ```ts
 * import { context } from "npm:@opentelemetry/api@^1";
 * import { type Context, messageContext } from "@mqttv5/client/otel";
 *
 * const base: Context = context.active();
 * const parent: Context = messageContext({ properties: {} }, { context: base });
 * ```
 */
export interface Context {
  /**
   * Reads a value.
   *
   * @param key The key the value was set under.
   * @returns The value, or undefined.
   */
  getValue(key: symbol): unknown;
  /**
   * A new context with a value set.
   *
   * @param key The key.
   * @param value The value.
   * @returns The new context.
   */
  setValue(key: symbol, value: unknown): Context;
  /**
   * A new context without a value.
   *
   * @param key The key.
   * @returns The new context.
   */
  deleteValue(key: symbol): Context;
}

/**
 * Options of {@linkcode instrument}.
 *
 * @example Own providers, another user property
 * ```ts
 * import { MeterProvider } from "npm:@opentelemetry/sdk-metrics@3.1.1";
 * import { TracerProvider } from "npm:@opentelemetry/sdk-trace@3.1.1";
 * import type { InstrumentOptions } from "@mqttv5/client/otel";
 *
 * const options: InstrumentOptions = {
 *   tracerProvider: new TracerProvider(),
 *   meterProvider: new MeterProvider(),
 *   propertyName: "otel-traceparent",
 * };
 * ```
 */
export interface InstrumentOptions {
  /**
   * Where spans go: an OpenTelemetry `TracerProvider` (the SDK's, or any other
   * implementation of `@opentelemetry/api`'s interface).
   *
   * @default {trace.getTracerProvider()} (the global one; Deno's with `OTEL_DENO=true`)
   */
  tracerProvider?: { getTracer(name: string, version?: string): object };
  /**
   * Where metrics go: an OpenTelemetry `MeterProvider` (the SDK's, or any other
   * implementation of `@opentelemetry/api`'s interface).
   *
   * @default {metrics.getMeterProvider()} (the global one; Deno's with `OTEL_DENO=true`)
   */
  meterProvider?: { getMeter(name: string, version?: string): object };
  /**
   * Carry the trace context in PUBLISH user properties: add it to what
   * `publish()`, `request()` and `serve()` replies send, and take it from what
   * arrives as the parent of the consumer spans. `false` leaves messages as
   * they are, and consumer spans start from the active context.
   *
   * @default {true}
   */
  propagate?: boolean;
  /**
   * The user property that carries the W3C `traceparent` (the `tracestate`, if
   * any, goes in `tracestate`).
   *
   * @default {"traceparent"}
   */
  propertyName?: string;
}

/**
 * Instruments a client with OpenTelemetry: spans for its publishes, requests,
 * received messages and handlers, metrics for its publish latency and its
 * `stats()`, and the W3C trace context carried in a user property (see the
 * module documentation for the names). It wraps the client's public methods
 * `publish`, `subscribeCallback`, `request` and `serve` on this instance and
 * observes each inbound PUBLISH; a client that is not instrumented pays
 * nothing. The publisher pool's members need nothing: `publish()` on the
 * instrumented client covers them.
 *
 * @param client The client; it may be connected already. Instrument it
 * before making the subscriptions whose `process` spans you want (handlers
 * given earlier are not wrapped).
 * @param options Providers and trace-context propagation.
 * @returns A disposable: disposing (`using`, or calling `[Symbol.dispose]()`)
 * restores the client's methods, stops the receive spans and removes the
 * metrics' callbacks; spans already started still end. Idempotent.
 * @throws {TypeError} When `client` is not a {@linkcode Client}, is already
 * instrumented, or an option has the wrong type (an empty `propertyName`).
 *
 * @example Instrument with the global providers (an SDK, or Deno's own)
 * ```ts ignore
 * import { Client } from "@mqttv5/client";
 * import { instrument } from "@mqttv5/client/otel";
 *
 * await using client = new Client({ broker: "mqtt://localhost:1883", stats: true });
 * using _otel = instrument(client);
 * await client.connect();
 * await client.publish({ topic: "sensors/t1", payload: "21.5", qos: 1 });
 * ```
 *
 * @example Arguments are checked
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "@mqttv5/client";
 * import { instrument } from "@mqttv5/client/otel";
 *
 * const client = new Client({ broker: "mqtt://localhost:1883" });
 * assert.throws(() => instrument({} as Client), TypeError);
 * assert.throws(() => instrument(client, { propertyName: "" }), TypeError);
 * const instrumented = instrument(client);
 * assert.throws(() => instrument(client), TypeError); // once at a time
 * instrumented[Symbol.dispose]();
 * instrument(client)[Symbol.dispose]();
 * ```
 */
export function instrument(client: Client, options: InstrumentOptions = {}): Disposable {
  let core: Core;
  try {
    core = coreOf(client);
  } catch {
    throw new TypeError("instrument() needs a Client of @mqttv5/client");
  }
  if (core.tap !== null) {
    throw new TypeError("instrument(): this client is already instrumented; dispose of that first");
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError("instrument() options must be an object");
  }
  const name = options.propertyName ?? "traceparent";
  if (typeof name !== "string" || name === "") {
    throw new TypeError("instrument() propertyName must be a non-empty string");
  }
  const propagate = options.propagate ?? true;
  if (typeof propagate !== "boolean") {
    throw new TypeError(`instrument() propagate must be a boolean, got ${typeof propagate}`);
  }
  const tracers = (options.tracerProvider ?? trace.getTracerProvider()) as TracerProvider;
  if (typeof tracers?.getTracer !== "function") {
    throw new TypeError("instrument() tracerProvider must have getTracer()");
  }
  const meters = (options.meterProvider ?? metrics.getMeterProvider()) as MeterProvider;
  if (typeof meters?.getMeter !== "function") {
    throw new TypeError("instrument() meterProvider must have getMeter()");
  }
  const tracer = tracers.getTracer(SCOPE);
  const meter = meters.getMeter(SCOPE);
  const duration = meter.createHistogram("mqtt.client.publish.duration", {
    unit: "ms",
    description: "Time from publish() to its settlement: PUBACK (QoS 1), PUBCOMP (QoS 2), " +
      "the hand-over to the writer (QoS 0)",
  });

  const undo: (() => void)[] = [];
  /** False once disposed: wrappers kept elsewhere (a handler, a bound method) pass through. */
  let live = true;
  /** Replaces a method on this instance (an own property over the prototype's). */
  const wrap = <K extends "publish" | "subscribeCallback" | "request" | "serve">(
    key: K,
    make: (original: Client[K]) => Client[K],
  ) => {
    const own = Object.getOwnPropertyDescriptor(client, key);
    const method = client[key] as unknown as (...args: unknown[]) => unknown;
    const original = method.bind(client) as Client[K];
    Object.defineProperty(client, key, {
      value: make(original),
      writable: true,
      configurable: true,
    });
    undo.push(() => {
      if (own === undefined) delete (client as unknown as Record<string, unknown>)[key];
      else Object.defineProperty(client, key, own);
    });
  };

  /** The parent of a consumer span: the message's trace context, else the active one. */
  const parentOf = (properties: PublishProperties | undefined): Context =>
    propagate ? extract(properties, name, context.active()) : context.active();

  const attributes = (operation: string, type: string, topic: string): Attributes => ({
    "messaging.system": "mqtt",
    "messaging.operation.name": operation,
    "messaging.operation.type": type,
    "messaging.destination.name": topic,
    "messaging.client.id": client.clientId,
  });

  wrap("publish", (publish) => (message, opts) => {
    if (
      !live || message === null || typeof message !== "object" || typeof message.topic !== "string"
    ) {
      return publish(message, opts); // (the client rejects what is not a message)
    }
    const qos = message.qos ?? 0;
    const span = tracer.startSpan(`publish ${message.topic}`, {
      kind: SpanKind.PRODUCER,
      attributes: {
        ...attributes("publish", "send", message.topic),
        ...bodySize(message.payload),
        "messaging.mqtt.qos": qos,
        "messaging.mqtt.retain": message.retain === true,
      },
    });
    const sent = propagate ? inject(message, span.spanContext(), name) : message;
    const started = performance.now();
    const record = (error: unknown) => {
      const a: Attributes = {
        "messaging.system": "mqtt",
        "messaging.operation.name": "publish",
        "messaging.client.id": client.clientId,
        "messaging.mqtt.qos": qos,
      };
      if (error !== undefined) a["error.type"] = errorType(error);
      duration.record(performance.now() - started, a);
    };
    // Tracked like the client's own calls: one that disconnect() ends does not crash a
    // program that never awaited it.
    return core.track(() =>
      publish(sent, opts).then((result) => {
        if (result.reasonCode !== 0) {
          span.setAttribute("messaging.mqtt.reason_code", result.reasonCode);
        }
        span.end();
        record(undefined);
        return result;
      }, (error) => {
        fail(span, error);
        record(error);
        throw error;
      })
    );
  });

  wrap("subscribeCallback", (subscribeCallback) => (filters, handler, opts) => {
    if (typeof handler !== "function") return subscribeCallback(filters, handler, opts);
    return subscribeCallback(filters, (m) => {
      if (!live) return handler(m);
      const parent = parentOf(m.properties);
      const span = tracer.startSpan(`process ${m.topic}`, {
        kind: SpanKind.CONSUMER,
        attributes: { ...attributes("process", "process", m.topic), ...inbound(m) },
      }, parent);
      try {
        context.with(trace.setSpan(parent, span), handler, undefined, m);
      } catch (error) {
        fail(span, error);
        throw error;
      }
      span.end();
    }, opts);
  });

  if (typeof client.request === "function") {
    wrap("request", (request) => (message, opts) => {
      if (
        !live || message === null || typeof message !== "object" ||
        typeof message.topic !== "string"
      ) {
        return request(message, opts);
      }
      const span = tracer.startSpan(`request ${message.topic}`, {
        kind: SpanKind.CLIENT,
        attributes: {
          ...attributes("request", "send", message.topic),
          ...bodySize(message.payload),
          "messaging.mqtt.qos": message.qos ?? 0,
        },
      });
      const sent = propagate ? inject(message, span.spanContext(), name) : message;
      return core.track(() =>
        request(sent, opts).then((reply) => {
          span.end();
          return reply;
        }, (error) => {
          fail(span, error);
          throw error;
        })
      );
    });
  }

  if (typeof client.serve === "function") {
    wrap("serve", (serve) => (filters, handler, opts) => {
      if (typeof handler !== "function") return serve(filters, handler, opts);
      return serve(filters, (m) => {
        if (!live) return handler(m);
        const parent = parentOf(m.properties);
        const span = tracer.startSpan(`serve ${m.topic}`, {
          kind: SpanKind.CONSUMER,
          attributes: { ...attributes("serve", "process", m.topic), ...inbound(m) },
        }, parent);
        let reply;
        try {
          reply = context.with(trace.setSpan(parent, span), handler, undefined, m);
        } catch (error) {
          fail(span, error);
          throw error;
        }
        return Promise.resolve(reply).then((r) => {
          span.end();
          if (!propagate) return r;
          if (typeof r === "string" || r instanceof Uint8Array) r = { payload: r };
          return r !== null && typeof r === "object" ? inject(r, span.spanContext(), name) : r;
        }, (error) => {
          fail(span, error);
          throw error;
        });
      }, opts);
    });
  }

  const tap = (topic: string, p: { properties?: PublishProperties } & Inbound) => {
    try {
      tracer.startSpan(`receive ${topic}`, {
        kind: SpanKind.CONSUMER,
        attributes: { ...attributes("receive", "receive", topic), ...inbound(p) },
      }, parentOf(p.properties)).end();
    } catch {
      // A tracer that throws must not break the read path.
    }
  };
  core.tap = tap;
  undo.push(() => {
    if (core.tap === tap) core.tap = null;
  });

  if (core.stats !== null) {
    const fields = Object.keys(client.stats()) as (keyof Stats)[];
    const observables: Observable[] = fields.map((field) => {
      const metric = `mqtt.client.${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
      const description = `Client.stats().${field}`;
      return UP_DOWN.has(field)
        ? meter.createObservableUpDownCounter(metric, { description })
        : meter.createObservableCounter(metric, { description });
    });
    const observe: BatchObservableCallback = (result) => {
      const stats = client.stats();
      const a: Attributes = { "messaging.system": "mqtt", "messaging.client.id": client.clientId };
      for (let i = 0; i < fields.length; i++) result.observe(observables[i], stats[fields[i]], a);
    };
    meter.addBatchObservableCallback(observe, observables);
    undo.push(() => meter.removeBatchObservableCallback(observe, observables));
  }

  return {
    [Symbol.dispose]() {
      if (!live) return;
      live = false;
      for (const u of undo) u();
    },
  };
}

/**
 * The trace context a message carries (its W3C `traceparent` user property,
 * and `tracestate`), on top of `options.context`: the parent to give the spans
 * of the work done for a message read from `subscribe()` or
 * `subscribeQueue()`. Without a valid `traceparent` it returns the base
 * context unchanged.
 *
 * @param message The message (anything with PUBLISH `properties`).
 * @param options `propertyName` (default `"traceparent"`) and the base
 * `context` (default: the active one).
 * @returns The context to start spans in.
 *
 * @example Continue the publisher's trace
 * ```ts
 * import assert from "node:assert/strict";
 * import { trace } from "npm:@opentelemetry/api@^1";
 * import { messageContext } from "@mqttv5/client/otel";
 *
 * const message = {
 *   properties: {
 *     userProperties: [
 *       ["traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"],
 *     ] as [string, string][],
 *   },
 * };
 * const parent = trace.getSpanContext(messageContext(message));
 * assert.equal(parent?.traceId, "0af7651916cd43dd8448eb211c80319c");
 * assert.equal(parent?.spanId, "b7ad6b7169203331");
 * assert.equal(parent?.isRemote, true);
 * // In an application: tracer.startActiveSpan("handle", {}, messageContext(m), (span) => ...)
 * ```
 */
export function messageContext(
  message: Pick<Message, "properties">,
  options: { propertyName?: string; context?: Context } = {},
): Context {
  return extract(
    message?.properties,
    options.propertyName ?? "traceparent",
    options.context ?? context.active(),
  );
}

/** What the consumer spans record of an inbound message. */
interface Inbound {
  payload: Uint8Array;
  qos: number;
  retain: boolean;
  dup: boolean;
}

function inbound(m: Inbound): Attributes {
  return {
    "messaging.message.body.size": m.payload.length,
    "messaging.mqtt.qos": m.qos,
    "messaging.mqtt.retain": m.retain,
    "messaging.mqtt.dup": m.dup,
  };
}

/** `messaging.message.body.size` of an outbound payload (UTF-8 bytes of a string). */
function bodySize(payload: PublishOptions["payload"]): Attributes {
  if (payload === undefined) return { "messaging.message.body.size": 0 };
  if (payload instanceof Uint8Array) return { "messaging.message.body.size": payload.length };
  if (typeof payload !== "string") return {};
  let n = payload.length;
  for (let i = 0; i < payload.length; i++) {
    const c = payload.charCodeAt(i);
    // 2 bytes below U+0800, 3 above, 4 for a surrogate pair (2 for each half).
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return { "messaging.message.body.size": n };
}

function errorType(error: unknown): string {
  if (error instanceof MqttError) return error.code;
  return error instanceof Error ? error.name : typeof error;
}

function fail(span: Span, error: unknown): void {
  span.setAttribute("error.type", errorType(error));
  if (error instanceof MqttError && error.reasonCode !== undefined) {
    span.setAttribute("messaging.mqtt.reason_code", error.reasonCode);
  }
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
  span.end();
}

/** `00-<trace id>-<span id>-<flags>`, version 00 of W3C Trace Context. */
function traceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/**
 * `message` with the span context in its user properties, a copy; the message
 * itself when the context is not valid (no SDK, nothing active), when it
 * already names `name`, or when its user properties are not an array (the
 * client rejects those).
 */
function inject<T extends { properties?: PublishProperties }>(
  message: T,
  sc: SpanContext,
  name: string,
): T {
  if (!isSpanContextValid(sc)) return message;
  const props = message.properties;
  const user = props?.userProperties ?? [];
  if (!Array.isArray(user)) return message;
  const has = (key: string) => user.some((u) => Array.isArray(u) && u[0] === key);
  if (has(name)) return message;
  const added: UserProperty[] = [[name, traceparent(sc)]];
  const state = sc.traceState?.serialize();
  if (state && !has(TRACESTATE)) added.push([TRACESTATE, state]);
  return { ...message, properties: { ...props, userProperties: [...user, ...added] } };
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** `base` with the remote span context of the user properties, when they hold a valid one. */
function extract(props: PublishProperties | undefined, name: string, base: Context): Context {
  const user = props?.userProperties;
  if (!Array.isArray(user)) return base;
  let value: string | undefined;
  let state: string | undefined;
  for (const u of user) {
    if (!Array.isArray(u)) continue;
    if (u[0] === name && value === undefined) value = u[1];
    else if (u[0] === TRACESTATE && state === undefined) state = u[1];
  }
  if (typeof value !== "string") return base;
  const m = TRACEPARENT.exec(value.trim());
  // Version ff is invalid; version 00 has exactly four fields; later versions may add more.
  if (m === null || m[1] === "ff" || (m[1] === "00" && m[5] !== undefined)) return base;
  const sc: SpanContext = {
    traceId: m[2],
    spanId: m[3],
    traceFlags: parseInt(m[4], 16),
    isRemote: true,
  };
  if (!isSpanContextValid(sc)) return base;
  if (typeof state === "string" && state !== "") sc.traceState = createTraceState(state);
  return trace.setSpanContext(base, sc);
}
