/**
 * `mqttv5 bench`: end-to-end throughput and latency against a broker. P
 * publisher connections send N messages with a window of W unacknowledged
 * publishes each; one subscriber connection in the same process receives
 * them, reads the send timestamp embedded in each payload, and reports msg/s
 * sent and received, latency percentiles and lost messages.
 *
 * @module
 */

import { performance } from "node:perf_hooks";
import { setImmediate } from "node:timers";
import type { Client, Message } from "../../mod.ts";
import { sleepUnlessAborted } from "../_internal/async.ts";
import { topicNameError } from "../topic/mod.ts";
import { type FlagSpec, intFlag, qosFlag, secondsFlag, UsageError } from "./_args.ts";
import {
  type CommandSpec,
  CONNECTION_HELP,
  errorText,
  openClient,
  parseCommand,
  reasonText,
  scrub,
} from "./_connect.ts";
import { type Context, flush, report, write } from "./_io.ts";
import { unlessAborted, Window } from "./_window.ts";
import { MqttError } from "../../mod.ts";

const BENCH_FLAGS: FlagSpec[] = [
  { names: ["-q", "--qos"], key: "qos", kind: "value" },
  { names: ["--count"], key: "count", kind: "value" },
  { names: ["--size"], key: "size", kind: "value" },
  { names: ["--publishers"], key: "publishers", kind: "value" },
  { names: ["-t", "--topic"], key: "topic", kind: "value" },
  { names: ["--window"], key: "window", kind: "value" },
  { names: ["--drain-timeout"], key: "drainTimeout", kind: "value" },
  { names: ["--json"], key: "json", kind: "bool" },
  { names: ["--progress"], key: "progress", kind: "bool" },
  { names: ["--no-progress"], key: "noProgress", kind: "bool" },
];

/** Bytes of the header in every bench payload: send time (f64), publisher (u32), sequence (u32). */
const HEADER = 16;
const PROGRESS_MS = 250;

/** `mqttv5 bench --help`. */
export const BENCH_USAGE = `Usage: mqttv5 bench [connection] [options]

Publishes --count messages from --publishers connections and receives them on
one subscriber connection in the same process. Each payload carries its send
time, so the subscriber measures end-to-end latency. Prints a live progress
line on stderr and a summary on stdout.

Bench:
  -q, --qos QOS            0, 1 or 2 (default: 0)
      --count N            messages in total, split across publishers (default: 10000)
      --size BYTES         payload size, at least ${HEADER} (default: 64)
      --publishers P       publisher connections (default: 1)
      --window W           publishes per publisher awaiting their ack (QoS 1: PUBACK,
                           QoS 2: PUBCOMP, QoS 0: the socket write; at QoS 0 the publisher
                           also yields to I/O every W messages) (default: 64)
  -t, --topic TOPIC        base topic; publisher i sends to TOPIC/i (default: a random
                           mqttv5-bench/… topic)
      --drain-timeout S    after the last publish, stop waiting once nothing has arrived
                           for S seconds; the rest count as lost (default: 5)
      --json               print the summary as one JSON object
      --progress           force the progress line (default: only when stderr is a terminal)
      --no-progress        no progress line

${CONNECTION_HELP}

Exit status: 0 finished (lost messages are reported, not failed), 1 a connection or
publish failed, 2 usage error.`;

const BENCH: CommandSpec = { flags: BENCH_FLAGS, usage: BENCH_USAGE };

/** The `--json` summary of a bench run. */
export interface BenchSummary {
  /** `host:port`. */
  broker: string;
  /** QoS of every message. */
  qos: 0 | 1 | 2;
  /** Payload size in bytes. */
  size: number;
  /** Publisher connections. */
  publishers: number;
  /** Publishes awaiting their ack per publisher. */
  window: number;
  /** Messages asked for. */
  count: number;
  /** Messages published (acked at QoS 1/2, written at QoS 0). */
  sent: number;
  /** Distinct messages received. */
  received: number;
  /** `count` minus `received`. */
  lost: number;
  /** Messages received more than once (counted once in `received`). */
  duplicates: number;
  /** From the first publish to the last publish's completion. */
  sendSeconds: number;
  /** From the first publish to the last message received. */
  receiveSeconds: number;
  /** `sent / sendSeconds`. */
  sentPerSecond: number;
  /** `received / receiveSeconds`. */
  receivedPerSecond: number;
  /** End-to-end latency in milliseconds; `null`s when nothing arrived. */
  latencyMs: {
    min: number | null;
    mean: number | null;
    p50: number | null;
    p90: number | null;
    p99: number | null;
    max: number | null;
  };
}

/**
 * Runs `mqttv5 bench`.
 *
 * @param args The arguments after `bench`.
 * @param ctx Streams, abort signal, diagnostics.
 * @returns The exit status.
 * @throws {UsageError} A bad command line.
 */
export async function bench(args: readonly string[], ctx: Context): Promise<number> {
  const line = await parseCommand(args, ctx, BENCH);
  if (line === undefined) return 0; // --help
  const { flags, setup } = line;
  const qos = qosFlag(flags, "qos");
  const count = intFlag(flags, "count", 10_000, 1, 100_000_000);
  const size = intFlag(flags, "size", 64, HEADER, 256 * 1024 * 1024);
  const publishers = intFlag(flags, "publishers", 1, 1, 1000);
  const windowSize = intFlag(flags, "window", 64, 1, 65535);
  const drainMs = secondsFlag(flags, "drainTimeout", 5, 0) * 1000;
  const json = flags.bools.has("json");
  if (flags.bools.has("progress") && flags.bools.has("noProgress")) {
    throw new UsageError("--progress and --no-progress cannot be combined");
  }
  const progress = flags.bools.has("progress") ||
    (!flags.bools.has("noProgress") && ctx.io.stderr.isTTY === true);
  const topic = flags.values.get("topic") ?? setup.urlTopic ??
    `mqttv5-bench/${Math.random().toString(36).slice(2, 10)}`;
  const problem = topicNameError(topic + "/0");
  if (problem !== undefined) throw new UsageError(`-t "${topic}": ${problem}`);

  const perPublisher: number[] = [];
  const offsets: number[] = [];
  for (let i = 0, at = 0; i < publishers; i++) {
    const n = Math.floor(count / publishers) + (i < count % publishers ? 1 : 0);
    perPublisher.push(n);
    offsets.push(at);
    at += n;
  }

  const clients: Client[] = [];
  const closeAll = () =>
    Promise.all(clients.map((c) => c.disconnect().catch(() => {}))).then(() => {});
  let progressTimer: ReturnType<typeof setInterval> | undefined;
  try {
    // The subscriber first, so that nothing is published before it listens.
    const subscriber = await openClient(setup, ctx);
    if (subscriber === undefined) return ctx.signal.aborted ? 0 : 1;
    clients.push(subscriber);
    const seen = new Uint8Array(count);
    const latencies = new Float64Array(count);
    let received = 0;
    let duplicates = 0;
    let lastReceiveAt = 0;
    let allReceived: (() => void) | undefined;
    const onMessage = (m: Message) => {
      const now = performance.now();
      const p = m.payload;
      if (p.length < HEADER) return;
      const view = new DataView(p.buffer, p.byteOffset, HEADER);
      const publisher = view.getUint32(8, true);
      const seq = view.getUint32(12, true);
      if (publisher >= publishers || seq >= perPublisher[publisher]) return;
      const index = offsets[publisher] + seq;
      if (seen[index] !== 0) {
        duplicates++;
        return;
      }
      seen[index] = 1;
      latencies[received++] = now - view.getFloat64(0, true);
      lastReceiveAt = now;
      if (received === count) allReceived?.();
    };
    try {
      await subscriber.subscribeCallback([{ topic: `${topic}/+`, qos }], onMessage, {
        signal: ctx.signal,
      });
    } catch (err) {
      if (!ctx.signal.aborted) report(ctx, `subscribe failed: ${failureText(err)}`);
      return ctx.signal.aborted ? 0 : 1;
    }

    const pubs: Client[] = [];
    for (let i = 0; i < publishers; i++) {
      const c = await openClient(setup, ctx, { publishMode: "wait-for-flush" });
      if (c === undefined) return ctx.signal.aborted ? 0 : 1;
      clients.push(c);
      pubs.push(c);
    }

    let sent = 0;
    let failure: { value: unknown } | undefined;
    const start = performance.now();
    let lastReceived = 0;
    let lastAt = start;
    const showProgress = () => {
      const now = performance.now();
      const rate = ((received - lastReceived) * 1000) / Math.max(1, now - lastAt);
      lastReceived = received;
      lastAt = now;
      ctx.io.stderr.write(
        `\rsent ${sent}/${count}  received ${received}  ${Math.round(rate)} msg/s  ${
          ((now - start) / 1000).toFixed(1)
        } s   `,
      );
    };
    if (progress) progressTimer = setInterval(showProgress, PROGRESS_MS);

    const publishAll = async (client: Client, index: number): Promise<void> => {
      const window = new Window(windowSize);
      const n = perPublisher[index];
      const t = `${topic}/${index}`;
      for (let seq = 0; seq < n; seq++) {
        // QoS 0: let I/O callbacks run every W messages. The subscriber shares this
        // event loop, and a flushed write need not wait for one: the loop would starve
        // the reads and measure its own backlog as latency. (QoS 1/2 wait for acks.)
        if (qos === 0 && seq % windowSize === windowSize - 1) await yieldToIo();
        await window.acquire();
        if (window.error !== undefined || failure !== undefined || ctx.signal.aborted) break;
        const payload = new Uint8Array(size);
        const view = new DataView(payload.buffer, 0, HEADER);
        view.setUint32(8, index, true);
        view.setUint32(12, seq, true);
        view.setFloat64(0, performance.now(), true);
        window.track(client.publish({ topic: t, payload, qos }), () => sent++);
      }
      await unlessAborted(window.drain(), ctx.signal);
      if (window.error !== undefined) failure ??= window.error;
    };
    await Promise.all(pubs.map((c, i) => publishAll(c, i)));
    const sendEnd = performance.now();

    // Wait for the rest, while messages keep arriving.
    if (received < count && failure === undefined) {
      const done = new Promise<void>((resolve) => (allReceived = resolve));
      let before = -1;
      while (received < count && received !== before && !ctx.signal.aborted) {
        before = received;
        // --drain-timeout 0: one look at what already arrived, no timer.
        await Promise.race([
          done,
          drainMs > 0 ? sleepUnlessAborted(drainMs, ctx.signal) : undefined,
        ]);
      }
    }
    if (progressTimer !== undefined) {
      clearInterval(progressTimer);
      progressTimer = undefined;
      // On a terminal the line goes away; elsewhere its final state stays.
      if (ctx.io.stderr.isTTY) ctx.io.stderr.write("\r\x1b[2K");
      else {
        showProgress();
        ctx.io.stderr.write("\n");
      }
    }
    if (failure !== undefined) {
      report(ctx, scrub(`publish failed: ${failureText(failure.value)}`, setup.secret));
    }

    const summary = summarize({
      broker: setup.where,
      qos,
      size,
      publishers,
      window: windowSize,
      count,
      sent,
      received,
      duplicates,
      sendSeconds: (sendEnd - start) / 1000,
      receiveSeconds: received === 0 ? 0 : (lastReceiveAt - start) / 1000,
      latencies: latencies.subarray(0, received),
    });
    await write(ctx.io.stdout, json ? JSON.stringify(summary) + "\n" : formatSummary(summary));
    return failure === undefined ? 0 : 1;
  } finally {
    if (progressTimer !== undefined) clearInterval(progressTimer);
    await closeAll();
    await flush(ctx.io.stdout);
  }
}

/** Resolves after pending I/O callbacks had their turn. */
function yieldToIo(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

function failureText(err: unknown): string {
  if (err instanceof MqttError && err.code === "publish-refused" && err.reasonCode !== undefined) {
    return `refused: ${reasonText(err.reasonCode)}`;
  }
  return errorText(err);
}

/**
 * The nearest-rank percentile of sorted values.
 *
 * @param sorted Ascending values.
 * @param p The percentile, 0..100.
 * @returns The value, or `null` when there are none.
 */
export function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

function summarize(
  r:
    & Omit<
      BenchSummary,
      "lost" | "sentPerSecond" | "receivedPerSecond" | "latencyMs"
    >
    & { latencies: Float64Array },
): BenchSummary {
  const sorted = r.latencies.slice().sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const ms = (v: number | null) => (v === null ? null : round(v));
  return {
    broker: r.broker,
    qos: r.qos,
    size: r.size,
    publishers: r.publishers,
    window: r.window,
    count: r.count,
    sent: r.sent,
    received: r.received,
    lost: r.count - r.received,
    duplicates: r.duplicates,
    sendSeconds: round(r.sendSeconds, 4),
    receiveSeconds: round(r.receiveSeconds, 4),
    sentPerSecond: r.sendSeconds > 0 ? Math.round(r.sent / r.sendSeconds) : 0,
    receivedPerSecond: r.receiveSeconds > 0 ? Math.round(r.received / r.receiveSeconds) : 0,
    latencyMs: {
      min: ms(sorted.length > 0 ? sorted[0] : null),
      mean: ms(sorted.length > 0 ? sum / sorted.length : null),
      p50: ms(percentile(sorted, 50)),
      p90: ms(percentile(sorted, 90)),
      p99: ms(percentile(sorted, 99)),
      max: ms(sorted.length > 0 ? sorted[sorted.length - 1] : null),
    },
  };
}

function formatSummary(s: BenchSummary): string {
  const l = s.latencyMs;
  const f = (v: number | null) => (v === null ? "-" : `${v.toFixed(3)} ms`);
  return [
    `bench: ${s.count} messages of ${s.size} B at QoS ${s.qos} to ${s.broker}, ` +
    `${s.publishers} publisher(s), window ${s.window}`,
    `sent:     ${s.sent} in ${s.sendSeconds.toFixed(3)} s, ${s.sentPerSecond} msg/s`,
    `received: ${s.received} in ${s.receiveSeconds.toFixed(3)} s, ${s.receivedPerSecond} msg/s`,
    `lost:     ${s.lost}${s.duplicates > 0 ? ` (and ${s.duplicates} duplicates)` : ""}`,
    `latency:  p50 ${f(l.p50)}  p90 ${f(l.p90)}  p99 ${f(l.p99)}  max ${f(l.max)}` +
    `  (min ${f(l.min)}, mean ${f(l.mean)})`,
    "",
  ].join("\n");
}
