/**
 * `mqttv5 pub`: publish one message, a repeated message, or one message per
 * line of stdin, with mosquitto_pub's flags.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { sleepUnlessAborted } from "../_internal/async.ts";
import type { PublishOptions, PublishResult } from "../../mod.ts";
import { MqttError } from "../../mod.ts";
import { topicNameError } from "../topic/mod.ts";
import {
  type FlagSpec,
  intFlag,
  optionalIntFlag,
  qosFlag,
  secondsFlag,
  UsageError,
} from "./_args.ts";
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
import { type Context, flush, lines, readAll, report } from "./_io.ts";
import { unlessAborted, Window } from "./_window.ts";

const PUB_FLAGS: FlagSpec[] = [
  { names: ["-t", "--topic"], key: "topic", kind: "value" },
  { names: ["-m", "--message"], key: "message", kind: "value" },
  { names: ["-f", "--file"], key: "file", kind: "value" },
  { names: ["-l", "--stdin-line"], key: "stdinLine", kind: "bool" },
  { names: ["-s", "--stdin-file"], key: "stdinFile", kind: "bool" },
  { names: ["-n", "--null-message"], key: "null", kind: "bool" },
  { names: ["-q", "--qos"], key: "qos", kind: "value" },
  { names: ["-r", "--retain"], key: "retain", kind: "bool" },
  { names: ["--repeat"], key: "repeat", kind: "value" },
  { names: ["--repeat-delay"], key: "repeatDelay", kind: "value" },
  { names: ["-M", "--max-inflight"], key: "maxInflight", kind: "value" },
];

/** `mqttv5 pub --help`. */
export const PUB_USAGE =
  `Usage: mqttv5 pub [connection] -t TOPIC {-m MESSAGE | -f FILE | -l | -s | -n} [options]

Publishes a message to TOPIC and exits once the broker has it (QoS 1: PUBACK,
QoS 2: PUBCOMP; QoS 0: written to the socket).

Message (exactly one):
  -m, --message TEXT       the payload
  -f, --file FILE          the payload is the content of FILE
  -l, --stdin-line         one message per line of stdin (empty lines: empty messages)
  -s, --stdin-file         the payload is all of stdin
  -n, --null-message       an empty payload
Publish:
  -t, --topic TOPIC        topic name
  -q, --qos QOS            0, 1 or 2 (default: 0)
  -r, --retain             retain the message
      --repeat N           publish the message N times (-m, -f, -s, -n)
      --repeat-delay S     wait S seconds between repeats (fractions allowed)
  -M, --max-inflight N     QoS 1/2 publishes awaiting their ack at once (default: 20)
  -D publish user-property NAME VALUE, -D NAME=VALUE, -D publish content-type TYPE …
                           PUBLISH properties (see Session below)

${CONNECTION_HELP}
${SESSION_HELP}

Exit status: 0 published, 1 connection or publish failed, 2 usage error.`;

const PUB: CommandSpec = { flags: PUB_FLAGS, session: "publish", usage: PUB_USAGE };

/**
 * Runs `mqttv5 pub`.
 *
 * @param args The arguments after `pub`.
 * @param ctx Streams, abort signal, diagnostics.
 * @returns The exit status.
 * @throws {UsageError} A bad command line.
 */
export async function pub(args: readonly string[], ctx: Context): Promise<number> {
  const line = await parseCommand(args, ctx, PUB);
  if (line === undefined) return 0; // --help
  const { flags, setup } = line;
  const topic = flags.values.get("topic") ?? setup.urlTopic;
  if (topic === undefined) throw new UsageError("a topic is required (-t TOPIC)");
  const problem = topicNameError(topic);
  if (problem !== undefined) throw new UsageError(`-t "${topic}": ${problem}`);

  const sources = ["message", "file"].filter((k) => flags.values.has(k))
    .concat(["stdinLine", "stdinFile", "null"].filter((k) => flags.bools.has(k)));
  if (sources.length !== 1) {
    throw new UsageError(
      sources.length === 0
        ? "a message is required: -m, -f, -l, -s or -n"
        : `give only one of -m, -f, -l, -s, -n (got ${
          sources.map((k) => flags.spelled.get(k)).join(", ")
        })`,
    );
  }
  const source = sources[0];
  const qos = qosFlag(flags, "qos");
  const retain = flags.bools.has("retain");
  const repeat = optionalIntFlag(flags, "repeat", 1, 2 ** 31 - 1);
  const repeatDelayMs = secondsFlag(flags, "repeatDelay", 0, 0) * 1000;
  if (source === "stdinLine" && (repeat !== undefined || flags.values.has("repeatDelay"))) {
    throw new UsageError("--repeat and --repeat-delay do not combine with -l");
  }
  const maxInflight = intFlag(flags, "maxInflight", 20, 1, 65535);

  let payload: Uint8Array | string | undefined;
  try {
    if (source === "message") payload = flags.values.get("message")!;
    else if (source === "null") payload = new Uint8Array(0);
    else if (source === "file") payload = await readFile(flags.values.get("file")!);
    else if (source === "stdinFile") payload = await readAll(ctx.io.stdin);
  } catch (err) {
    report(ctx, `cannot read ${flags.values.get("file") ?? "stdin"}: ${errorText(err)}`);
    return 1;
  }

  const client = await openClient(setup, ctx, { publishMode: "wait-for-flush" });
  if (client === undefined) return ctx.signal.aborted ? 0 : 1;
  const base: Omit<PublishOptions, "payload"> = { topic, qos, retain };
  if (setup.publishProperties !== undefined) base.properties = setup.publishProperties;
  const window = new Window(qos === 0 ? 1024 : maxInflight);
  let sent = 0;
  const send = (p: Uint8Array | string) => {
    const n = ++sent;
    ctx.debug?.debug(`sending PUBLISH #${n}`, {
      topic,
      qos,
      retain,
      bytes: typeof p === "string" ? p.length : p.byteLength,
    });
    window.track(client.publish({ ...base, payload: p }), (r: PublishResult) => {
      if (ctx.debug !== undefined && qos > 0) {
        ctx.debug.debug(`${qos === 1 ? "PUBACK" : "PUBCOMP"} #${n}`, {
          reason: reasonText(r.reasonCode),
        });
      }
    });
  };

  let inputError: unknown;
  try {
    if (source === "stdinLine") {
      const it = lines(ctx.io.stdin)[Symbol.asyncIterator]();
      while (window.error === undefined) {
        const r = await unlessAborted(it.next(), ctx.signal);
        if (r === undefined || r.done) {
          if (r === undefined) void it.return?.(undefined);
          break;
        }
        await window.acquire();
        send(r.value);
      }
    } else {
      const times = repeat ?? 1;
      for (let i = 0; i < times && window.error === undefined && !ctx.signal.aborted; i++) {
        if (i > 0 && repeatDelayMs > 0) {
          await window.drain();
          await sleepUnlessAborted(repeatDelayMs, ctx.signal);
          if (ctx.signal.aborted) break;
        }
        await window.acquire();
        send(payload!);
      }
    }
  } catch (err) {
    // Only reading stdin throws here; publish failures land in window.error.
    inputError = err;
  }
  // After SIGINT, publishes still awaiting their ack are abandoned to disconnect().
  if (!ctx.signal.aborted) await unlessAborted(window.drain(), ctx.signal);
  const failure = window.error;
  if (failure !== undefined) {
    report(ctx, scrub(publishFailure(failure.value, topic), setup.secret));
  }
  if (inputError !== undefined) report(ctx, `cannot read stdin: ${errorText(inputError)}`);
  await disconnect(client, ctx, setup.disconnect);
  await flush(ctx.io.stdout);
  return failure === undefined && inputError === undefined ? 0 : 1;
}

function publishFailure(err: unknown, topic: string): string {
  if (err instanceof MqttError && err.code === "publish-refused" && err.reasonCode !== undefined) {
    return `publish to "${topic}" refused: ${reasonText(err.reasonCode)}`;
  }
  return `publish to "${topic}" failed: ${errorText(err)}`;
}
