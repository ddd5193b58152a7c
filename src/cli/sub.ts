/**
 * `mqttv5 sub`: subscribe and print messages, with mosquitto_sub's flags and
 * exit statuses (`-C` count, `-W` timeout → 27), plus `--json` lines.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  type Message,
  type PublishProperties,
  type QueueSubscription,
  SubscribeError,
  type TopicFilter,
} from "../../mod.ts";
import { topicMatchesFilter } from "../topic/match.ts";
import { topicFilterError } from "../topic/mod.ts";
import { type FlagSpec, optionalIntFlag, qosFlag, secondsFlag, UsageError } from "./_args.ts";
import {
  type CommandSpec,
  CONNECTION_HELP,
  disconnect,
  errorText,
  openClient,
  parseCommand,
  reasonText,
  scrub,
  SESSION_HELP,
} from "./_connect.ts";
import { type Context, flush, report, write } from "./_io.ts";

/** Exit status of `-W` expiring: mosquitto_sub's (MOSQ_ERR_TIMEOUT). */
export const EXIT_TIMEOUT = 27;

const SUB_FLAGS: FlagSpec[] = [
  { names: ["-t", "--topic"], key: "topic", kind: "list" },
  { names: ["-T", "--filter-out"], key: "filterOut", kind: "list" },
  { names: ["-q", "--qos"], key: "qos", kind: "value" },
  { names: ["-C", "--count"], key: "count", kind: "value" },
  { names: ["-W", "--timeout"], key: "timeout", kind: "value" },
  { names: ["-v", "--verbose"], key: "verbose", kind: "bool" },
  { names: ["--json"], key: "json", kind: "bool" },
  { names: ["-N", "--no-eol"], key: "noEol", kind: "bool" },
  { names: ["-R", "--no-retained"], key: "noRetained", kind: "bool" },
  { names: ["-E", "--exit-after-subscribe"], key: "exitAfterSub", kind: "bool" },
  { names: ["--retained-only"], key: "retainedOnly", kind: "bool" },
  { names: ["--retain-handling"], key: "retainHandling", kind: "value" },
  { names: ["--retain-as-published", "--rap"], key: "rap", kind: "bool" },
  { names: ["--no-local", "--nl"], key: "noLocal", kind: "bool" },
];

/** `mqttv5 sub --help`. */
export const SUB_USAGE = `Usage: mqttv5 sub [connection] -t FILTER [-t FILTER …] [options]

Subscribes and prints each message's payload on stdout, one per line.

Subscribe:
  -t, --topic FILTER       topic filter; repeat for several
  -q, --qos QOS            0, 1 or 2 (default: 0)
  -T, --filter-out FILTER  do not print messages whose topic matches FILTER; repeatable
  -R, --no-retained        do not print retained messages (stale state)
      --retained-only      print only retained messages; exit at the first live one
      --retain-handling N  0 send retained (default), 1 only for new subscriptions, 2 never
      --retain-as-published, --rap
                           keep the publisher's retain flag
      --no-local, --nl     do not receive this client's own publishes
  -E, --exit-after-subscribe
                           exit once the broker has acknowledged the subscription
Output:
  -v, --verbose            print "topic payload"
      --json               print one JSON object per message: topic, payload (UTF-8 text,
                           or base64 with "payloadEncoding": "base64"), qos, retain,
                           properties (correlationData in base64, userProperties as pairs)
  -N, --no-eol             no newline after each message
Stop:
  -C, --count N            exit after N printed messages
  -W, --timeout S          exit with status ${EXIT_TIMEOUT} if S seconds pass after subscribing
                           before -C is reached (or at all without -C)
  -D NAME=VALUE            adds a CONNECT user property (sub has no PUBLISH)

${CONNECTION_HELP}
${SESSION_HELP}

Exit status: 0 done (-C reached, -E, or SIGINT), 1 connection or subscription failed,
2 usage error, ${EXIT_TIMEOUT} -W timed out.`;

const SUB: CommandSpec = { flags: SUB_FLAGS, session: "connect", usage: SUB_USAGE };

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Runs `mqttv5 sub`.
 *
 * @param args The arguments after `sub`.
 * @param ctx Streams, abort signal, diagnostics.
 * @returns The exit status.
 * @throws {UsageError} A bad command line.
 */
export async function sub(args: readonly string[], ctx: Context): Promise<number> {
  const line = await parseCommand(args, ctx, SUB);
  if (line === undefined) return 0; // --help
  const { flags, setup } = line;
  const topics = flags.lists.get("topic") ?? (setup.urlTopic ? [setup.urlTopic] : []);
  if (topics.length === 0) throw new UsageError("a topic filter is required (-t FILTER)");
  const filterOut = flags.lists.get("filterOut") ?? [];
  for (const t of [...topics, ...filterOut]) {
    const problem = topicFilterError(t);
    if (problem !== undefined) throw new UsageError(`"${t}": ${problem}`);
  }
  const qos = qosFlag(flags, "qos");
  const count = optionalIntFlag(flags, "count", 1, 2 ** 31 - 1);
  const timeoutMs = flags.values.has("timeout")
    ? secondsFlag(flags, "timeout", 0, 0.001) * 1000
    : undefined;
  const json = flags.bools.has("json");
  const verbose = flags.bools.has("verbose");
  if (json && verbose) throw new UsageError("-v and --json cannot be combined");
  const eol = flags.bools.has("noEol") ? "" : "\n";
  const noRetained = flags.bools.has("noRetained");
  const retainedOnly = flags.bools.has("retainedOnly");
  if (noRetained && retainedOnly) throw new UsageError("-R and --retained-only cannot be combined");
  const retainHandling = optionalIntFlag(flags, "retainHandling", 0, 2) as 0 | 1 | 2 | undefined;
  const filters: TopicFilter[] = topics.map((topic) => {
    const f: TopicFilter = { topic, qos };
    if (flags.bools.has("noLocal")) f.noLocal = true;
    if (flags.bools.has("rap")) f.retainAsPublished = true;
    if (retainHandling !== undefined) f.retainHandling = retainHandling;
    return f;
  });

  const client = await openClient(setup, ctx);
  if (client === undefined) return ctx.signal.aborted ? 0 : 1;
  let status = 0;
  const timeout = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    let subscription: QueueSubscription;
    ctx.debug?.debug("sending SUBSCRIBE", { filters: topics, qos });
    try {
      // The default "block" policy: a slow stdout slows the broker, nothing is dropped and
      // at most 1024 messages wait here.
      subscription = await client.subscribeQueue(filters, { signal: ctx.signal });
    } catch (err) {
      if (err instanceof SubscribeError) {
        for (const r of err.refused) {
          report(ctx, `subscription to "${r.topic}" refused: ${reasonText(r.reasonCode)}`);
        }
        if (err.subscription === undefined) return 1;
        subscription = err.subscription as QueueSubscription;
      } else {
        if (!ctx.signal.aborted) {
          report(ctx, scrub(`subscribe failed: ${errorText(err)}`, setup.secret));
        }
        return ctx.signal.aborted ? 0 : 1;
      }
    }
    ctx.debug?.debug("subscribed");
    if (flags.bools.has("exitAfterSub")) return 0;

    if (timeoutMs !== undefined) {
      timer = setTimeout(() => timeout.abort(), timeoutMs);
    }
    const stop = AbortSignal.any([ctx.signal, timeout.signal]);
    let printed = 0;
    while (count === undefined || printed < count) {
      const m = await subscription.queue.dequeue({ signal: stop });
      if (m === undefined) break;
      try {
        if (filterOut.some((f) => topicMatchesFilter(f, m.topic))) continue;
        if (retainedOnly && !m.retain) break;
        if (noRetained && m.retain) continue;
        ctx.debug?.debug("received PUBLISH", {
          topic: m.topic,
          qos: m.qos,
          retain: m.retain,
          bytes: m.payload.length,
        });
        const pending = write(ctx.io.stdout, render(m, json, verbose, eol));
        if (pending !== undefined) await pending;
        printed++;
      } finally {
        m.ack();
      }
    }
    if (timeout.signal.aborted && !ctx.signal.aborted) {
      report(ctx, "Timed out");
      status = EXIT_TIMEOUT;
    }
  } finally {
    clearTimeout(timer);
    await disconnect(client, ctx, setup.disconnect);
    await flush(ctx.io.stdout);
  }
  return status;
}

/**
 * One message as printed: the payload, `topic payload`, or a JSON line
 * (`sub` and `rr`).
 *
 * @param m The message.
 * @param json `--json`: one JSON object.
 * @param verbose `-v`: the topic, a space, the payload.
 * @param eol What ends the line (`""` with `-N`).
 * @returns The bytes or text to write.
 */
export function render(
  m: Message,
  json: boolean,
  verbose: boolean,
  eol: string,
): Uint8Array | string {
  if (json) return JSON.stringify(messageJson(m)) + eol;
  const head = verbose ? encoder.encode(m.topic + " ") : undefined;
  const tail = eol === "" ? undefined : encoder.encode(eol);
  if (head === undefined && tail === undefined) return m.payload.slice();
  const out = new Uint8Array((head?.length ?? 0) + m.payload.length + (tail?.length ?? 0));
  let at = 0;
  if (head !== undefined) {
    out.set(head, 0);
    at = head.length;
  }
  out.set(m.payload, at);
  if (tail !== undefined) out.set(tail, at + m.payload.length);
  return out;
}

/**
 * The `--json` shape of a message.
 *
 * @param m The message.
 * @returns A JSON-ready object.
 */
export function messageJson(m: Message): Record<string, unknown> {
  const out: Record<string, unknown> = { topic: m.topic };
  const text = utf8(m.payload);
  if (text !== undefined) {
    out.payload = text;
  } else {
    out.payload = base64(m.payload);
    out.payloadEncoding = "base64";
  }
  out.qos = m.qos;
  out.retain = m.retain;
  out.properties = propertiesJson(m.properties);
  return out;
}

function propertiesJson(p: PublishProperties): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    // Subscription identifiers are the client's own bookkeeping, not the publisher's.
    if (v === undefined || k === "subscriptionIdentifiers") continue;
    out[k] = v instanceof Uint8Array ? base64(v) : v;
  }
  return out;
}

function utf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
