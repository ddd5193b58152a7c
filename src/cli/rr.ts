/**
 * `mqttv5 rr`: send one request and print its response (MQTT v5 §4.10), in
 * the manner of mosquitto_rr, on `Client.request()`.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { type Message, MqttError, type RequestMessage, SubscribeError } from "../../mod.ts";
import { topicNameError } from "../topic/mod.ts";
import { type FlagSpec, qosFlag, secondsFlag, UsageError } from "./_args.ts";
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
import { type Context, flush, readAll, report, write } from "./_io.ts";
import { EXIT_TIMEOUT, render } from "./sub.ts";

const RR_FLAGS: FlagSpec[] = [
  { names: ["-t", "--topic"], key: "topic", kind: "value" },
  { names: ["-e", "--response-topic"], key: "responseTopic", kind: "value" },
  { names: ["-m", "--message"], key: "message", kind: "value" },
  { names: ["-f", "--file"], key: "file", kind: "value" },
  { names: ["-s", "--stdin-file"], key: "stdinFile", kind: "bool" },
  { names: ["-n", "--null-message"], key: "null", kind: "bool" },
  { names: ["-q", "--qos"], key: "qos", kind: "value" },
  { names: ["-W", "--timeout"], key: "timeout", kind: "value" },
  { names: ["-v", "--verbose"], key: "verbose", kind: "bool" },
  { names: ["--json"], key: "json", kind: "bool" },
  { names: ["-N", "--no-eol"], key: "noEol", kind: "bool" },
];

/** `mqttv5 rr --help`. */
export const RR_USAGE =
  `Usage: mqttv5 rr [connection] -t TOPIC {-m MESSAGE | -f FILE | -s | -n} [-e RESPONSE_TOPIC] [options]

Sends one request to TOPIC (MQTT v5 request / response: a PUBLISH with a Response Topic
and fresh Correlation Data), prints the payload of the response whose Correlation Data
matches, and exits.

Request (exactly one message):
  -t, --topic TOPIC        the request topic
  -m, --message TEXT       the payload
  -f, --file FILE          the payload is the content of FILE
  -s, --stdin-file         the payload is all of stdin
  -n, --null-message       an empty payload
  -e, --response-topic T   where the response is to come (subscribed to first); default: the
                           client's own, under the broker's Response Information when it gives
                           one (-D connect request-response-information 1), else
                           mqttv5/response/CLIENT_ID/RANDOM
  -q, --qos QOS            QoS of the request: 0, 1 or 2 (default: 0); the response topic is
                           subscribed to at QoS 1
  -D publish user-property NAME VALUE, -D NAME=VALUE, -D publish content-type TYPE …
                           request PUBLISH properties (see Session below)
Output:
  -v, --verbose            print "topic payload"
      --json               print the response as one JSON object (as sub --json)
  -N, --no-eol             no newline after the payload
Stop:
  -W, --timeout S          exit with status ${EXIT_TIMEOUT} if no response came within S seconds
                           (default: wait until interrupted)

${CONNECTION_HELP}
${SESSION_HELP}

Exit status: 0 response printed (or SIGINT), 1 connection or request failed, 2 usage error,
${EXIT_TIMEOUT} -W timed out.`;

const RR: CommandSpec = { flags: RR_FLAGS, session: "publish", usage: RR_USAGE };

/**
 * Runs `mqttv5 rr`.
 *
 * @param args The arguments after `rr`.
 * @param ctx Streams, abort signal, diagnostics.
 * @returns The exit status.
 * @throws {UsageError} A bad command line.
 */
export async function rr(args: readonly string[], ctx: Context): Promise<number> {
  const line = await parseCommand(args, ctx, RR);
  if (line === undefined) return 0; // --help
  const { flags, setup } = line;
  const topic = flags.values.get("topic") ?? setup.urlTopic;
  if (topic === undefined) throw new UsageError("a request topic is required (-t TOPIC)");
  for (const [flag, t] of [["-t", topic], ["-e", flags.values.get("responseTopic")]]) {
    const problem = t === undefined ? undefined : topicNameError(t);
    if (problem !== undefined) throw new UsageError(`${flag} "${t}": ${problem}`);
  }
  const sources = ["message", "file"].filter((k) => flags.values.has(k))
    .concat(["stdinFile", "null"].filter((k) => flags.bools.has(k)));
  if (sources.length !== 1) {
    throw new UsageError(
      sources.length === 0
        ? "a message is required: -m, -f, -s or -n"
        : `give only one of -m, -f, -s, -n (got ${
          sources.map((k) => flags.spelled.get(k)).join(", ")
        })`,
    );
  }
  if (setup.publishProperties?.correlationData !== undefined) {
    throw new UsageError("rr sets the correlation data itself: drop -D publish correlation-data");
  }
  const qos = qosFlag(flags, "qos");
  // No -W: wait until interrupted (timeoutMs 0), as mosquitto_rr does.
  const timeoutMs = flags.values.has("timeout")
    ? Math.max(1, Math.round(secondsFlag(flags, "timeout", 0, 0.001) * 1000))
    : 0;
  if (timeoutMs > 2 ** 31 - 1) throw new UsageError("-W must be at most 2147483 seconds");
  const json = flags.bools.has("json");
  const verbose = flags.bools.has("verbose");
  if (json && verbose) throw new UsageError("-v and --json cannot be combined");

  let payload: Uint8Array | string;
  try {
    const source = sources[0];
    if (source === "message") payload = flags.values.get("message")!;
    else if (source === "null") payload = new Uint8Array(0);
    else if (source === "file") payload = await readFile(flags.values.get("file")!);
    else payload = await readAll(ctx.io.stdin);
  } catch (err) {
    report(ctx, `cannot read ${flags.values.get("file") ?? "stdin"}: ${errorText(err)}`);
    return 1;
  }

  const client = await openClient(setup, ctx);
  if (client === undefined) return ctx.signal.aborted ? 0 : 1;
  const request: RequestMessage = { topic, payload, qos, timeoutMs };
  const properties = { ...setup.publishProperties };
  const responseTopic = flags.values.get("responseTopic");
  if (responseTopic !== undefined) properties.responseTopic = responseTopic;
  if (Object.keys(properties).length > 0) request.properties = properties;
  try {
    ctx.debug?.debug("sending request", { topic, qos, responseTopic });
    let reply: Message;
    try {
      reply = await client.request(request, { signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted) return 0;
      if (err instanceof MqttError && err.code === "timeout") {
        report(ctx, "Timed out");
        return EXIT_TIMEOUT;
      }
      report(ctx, scrub(requestFailure(err, topic), setup.secret));
      return 1;
    }
    ctx.debug?.debug("received response", {
      topic: reply.topic,
      qos: reply.qos,
      bytes: reply.payload.length,
    });
    const eol = flags.bools.has("noEol") ? "" : "\n";
    await write(ctx.io.stdout, render(reply, json, verbose, eol));
  } finally {
    await disconnect(client, ctx, setup.disconnect);
    await flush(ctx.io.stdout);
  }
  return 0;
}

function requestFailure(err: unknown, topic: string): string {
  if (err instanceof SubscribeError) {
    const r = err.refused[0];
    return `subscription to response topic "${r.topic}" refused: ${reasonText(r.reasonCode)}`;
  }
  if (err instanceof MqttError && err.code === "publish-refused" && err.reasonCode !== undefined) {
    return `request to "${topic}" refused: ${reasonText(err.reasonCode)}`;
  }
  return `request to "${topic}" failed: ${errorText(err)}`;
}
