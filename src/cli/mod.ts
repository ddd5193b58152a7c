/**
 * `mqttv5`: a command-line MQTT v5 client on `@mqttv5/client`, with flags
 * familiar to mosquitto_pub and mosquitto_sub users, and a benchmark.
 *
 * ```sh
 * deno run -A jsr:@mqttv5/client/cli <command> [options]
 * bun src/cli/mod.ts <command> [options]
 * ```
 *
 * | command | does |
 * | --- | --- |
 * | `pub` | publishes one message (`-m`, `-f`, `-s`, `-n`), a repeated one (`--repeat`), or one per line of stdin (`-l`) |
 * | `sub` | subscribes (`-t`, repeatable) and prints payloads, `topic payload` (`-v`) or JSON lines (`--json`); `-C` count, `-W` timeout |
 * | `rr` | sends one request (`-t`, `-m`/`-f`/`-s`/`-n`) and prints its response, as mosquitto_rr: `-e` response topic (default: the client's own), `-W` timeout, `-v`, `--json` |
 * | `bench` | end-to-end throughput and latency percentiles: `--publishers` connections send `--count` messages with a `--window` each to a subscriber in the same process |
 *
 * Every command takes `-h HOST`, `-p PORT` or `--url URL` (`mqtt://`,
 * `mqtts://`, `tcp://`, `tls://`, `ssl://`, `ws://`, `wss://`, with optional
 * `user:password@`), `-u`/`-P` credentials, `--cafile`/`--capath`,
 * `--cert`/`--key` and `--insecure` for TLS, `-k` keep alive, `-d` debug
 * output on stderr and `--help`. `pub` and `sub` also take `-i`/`-I` client
 * identifiers, `-c`/`-x` sessions, `--will-*` and mosquitto's
 * `-D command identifier value` properties (`-D publish user-property key
 * value`, or the short `-D key=value`); so does `rr`. `-V` accepts only 5.
 *
 * The CLI runs on Deno and Bun alike: it reads its arguments and streams
 * through `node:process`, and the client picks its own transport.
 *
 * ## Exit status
 *
 * | status | meaning |
 * | --- | --- |
 * | 0 | success (also after SIGINT / SIGTERM, which disconnect cleanly) |
 * | 1 | connection failed (one line on stderr naming `host:port`, never the password), or a publish / subscription failed |
 * | 2 | usage error: the problem and the command's usage on stderr |
 * | 27 | `sub -W` / `rr -W`: the timeout expired (mosquitto_sub's and mosquitto_rr's status) |
 *
 * @example Publish, subscribe and benchmark from a shell
 * ```sh
 * mqttv5() { deno run -A jsr:@mqttv5/client/cli "$@"; }
 * mqttv5 sub -h localhost -t 'sensors/#' -v -C 1 &
 * mqttv5 pub -h localhost -t sensors/kitchen -m 21.5 -q 1 -D publish user-property unit C
 * mqttv5 sub --url mqtts://broker.example --cafile ca.pem -t 'sensors/#' --json -W 10
 * mqttv5 rr -h localhost -t svc/clock -m now -q 1 -W 5
 * mqttv5 bench --qos 1 --count 100000 --publishers 4 --window 128 --json
 * ```
 *
 * @example Run a command from code
 * ```ts ignore
 * import { main } from "@mqttv5/client/cli";
 *
 * const status = await main(["pub", "-h", "localhost", "-t", "greetings", "-m", "hello"], {
 *   signal: AbortSignal.timeout(10_000),
 * });
 * if (status !== 0) console.error(`pub failed with status ${status}`);
 * ```
 *
 * @module
 */

import process from "node:process";
import { UsageError } from "./_args.ts";
import { errorText } from "./_connect.ts";
import { type Context, flush, type Io, OutputError, processIo, write } from "./_io.ts";
import { bench, BENCH_USAGE } from "./bench.ts";
import { pub, PUB_USAGE } from "./pub.ts";
import { rr, RR_USAGE } from "./rr.ts";
import { sub, SUB_USAGE } from "./sub.ts";

/**
 * The exit statuses of {@linkcode main}.
 *
 * @example Tell a timeout from a failure
 * ```ts
 * import { ExitCode } from "@mqttv5/client/cli";
 * console.log(ExitCode.Timeout); // 27, as mosquitto_sub -W
 * ```
 */
export const ExitCode = {
  /** Success. */
  Ok: 0,
  /** The connection, a publish or a subscription failed. */
  Failure: 1,
  /** The command line was wrong. */
  Usage: 2,
  /** `sub -W` or `rr -W` expired (mosquitto_sub's and mosquitto_rr's MOSQ_ERR_TIMEOUT). */
  Timeout: 27,
} as const;

/** One of the {@linkcode ExitCode} values. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/**
 * Options of {@linkcode main}.
 *
 * @example Stop a subscription after a minute
 * ```ts ignore
 * import { main, type MainOptions } from "@mqttv5/client/cli";
 *
 * const options: MainOptions = { signal: AbortSignal.timeout(60_000) };
 * const status = await main(["sub", "-h", "localhost", "-t", "logs/#", "-v"], options);
 * console.log(status); // 0 after the signal: sub disconnects cleanly
 * ```
 */
export interface MainOptions {
  /**
   * Stops the command as SIGINT would: `sub` and `pub -l` disconnect cleanly
   * and resolve 0, `bench` stops publishing and prints what it measured. A
   * signal already aborted at the call runs nothing (no argument parsed, no
   * file or stdin read, no connection) and resolves 0.
   *
   * Unlike the library's calls, `main()` never rejects with `signal.reason`:
   * it stands for a process, and a stopped process exits with a status.
   *
   * @default {never aborted}
   */
  signal?: AbortSignal;
}

const PROG = "mqttv5";

const COMMANDS: Record<
  string,
  { run: (args: readonly string[], ctx: Context) => Promise<number>; usage: string }
> = {
  pub: { run: pub, usage: PUB_USAGE },
  sub: { run: sub, usage: SUB_USAGE },
  rr: { run: rr, usage: RR_USAGE },
  bench: { run: bench, usage: BENCH_USAGE },
};

const USAGE = `Usage: mqttv5 <command> [options]

Commands:
  pub     publish a message (mosquitto_pub flags: -h -p -t -m -f -l -n -q -r …)
  sub     subscribe and print messages (mosquitto_sub flags: -t -v -C -W -R …, --json)
  rr      send a request and print its response (mosquitto_rr flags: -t -e -m -q -W -v …)
  bench   measure throughput and latency against a broker

Run "mqttv5 <command> --help" for a command's options.`;

/**
 * Runs one CLI command, writing to the process's stdout and stderr (and, for
 * `pub -l` / `pub -s`, reading its stdin).
 *
 * @param args The command and its arguments, without the program name:
 * `["sub", "-t", "a/#", "-C", "1"]`.
 * @param options `signal` stops a running command cleanly; already aborted,
 * it stops it before it starts (status 0, nothing done).
 * @returns The exit status, one of {@linkcode ExitCode}; it never rejects.
 *
 * @example Wait up to 5 s for one job message
 * ```ts ignore
 * import { ExitCode, main } from "@mqttv5/client/cli";
 *
 * const status = await main(["sub", "-h", "localhost", "-t", "jobs/#", "-C", "1", "-W", "5"]);
 * if (status === ExitCode.Timeout) console.error("no job within 5 s");
 * ```
 */
export async function main(args: readonly string[], options: MainOptions = {}): Promise<number> {
  if (options.signal?.aborted) return ExitCode.Ok;
  // stdout failing (the reader went away) stops the command like a signal would.
  let outputError: OutputError | undefined;
  const broken = new AbortController();
  const io = processIo((err) => {
    outputError ??= err;
    broken.abort(err);
  });
  const signal = options.signal === undefined
    ? broken.signal
    : AbortSignal.any([options.signal, broken.signal]);
  try {
    return await dispatch(args, io, signal, () => outputError);
  } finally {
    await Promise.all([flush(io.stdout), flush(io.stderr)]);
    io.release();
  }
}

async function dispatch(
  args: readonly string[],
  io: Io,
  signal: AbortSignal,
  outputFailure: () => OutputError | undefined,
): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    const topic = command === "help" ? COMMANDS[rest[0] ?? ""] : undefined;
    if (command === undefined) {
      io.stderr.write(`${PROG}: a command is required\n\n${USAGE}\n`);
      return ExitCode.Usage;
    }
    await write(io.stdout, (topic?.usage ?? USAGE) + "\n");
    return ExitCode.Ok;
  }
  const entry = COMMANDS[command];
  if (entry === undefined) {
    io.stderr.write(`${PROG}: unknown command "${command}"\n\n${USAGE}\n`);
    return ExitCode.Usage;
  }
  const ctx: Context = {
    io,
    signal,
    prog: `${PROG} ${command}`,
    quiet: false,
    debug: undefined,
  };
  try {
    const status = await entry.run(rest, ctx);
    const broken = outputFailure();
    return broken === undefined ? status : outputFailed(broken, ctx);
  } catch (err) {
    const broken = err instanceof OutputError ? err : outputFailure();
    if (broken !== undefined) return outputFailed(broken, ctx);
    if (err instanceof UsageError) {
      io.stderr.write(`${ctx.prog}: ${hideSecrets(err.message, rest)}\n\n${entry.usage}\n`);
      return ExitCode.Usage;
    }
    if (!ctx.quiet) io.stderr.write(`${ctx.prog}: ${hideSecrets(errorText(err), rest)}\n`);
    return ExitCode.Failure;
  }
}

/** A reader that went away (`| head -1`) ends the command quietly; other write errors fail it. */
function outputFailed(err: OutputError, ctx: Context): number {
  if (err.code === "EPIPE") return ExitCode.Ok;
  if (!ctx.quiet) ctx.io.stderr.write(`${ctx.prog}: ${err.message}\n`);
  return ExitCode.Failure;
}

/** Masks the values of `-P` and URL passwords found in `args`. */
function hideSecrets(text: string, args: readonly string[]): string {
  const secrets: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-P" || a === "--pw" || a === "--password") {
      if (i + 1 < args.length) secrets.push(args[i + 1]);
    } else if (a.startsWith("--pw=") || a.startsWith("--password=")) {
      secrets.push(a.slice(a.indexOf("=") + 1));
    }
    const m = /^[a-z]+:\/\/[^:@/]*:([^@/]*)@/i.exec(a);
    if (m !== null) secrets.push(m[1], safeDecode(m[1]));
  }
  for (const s of secrets) if (s !== "") text = text.split(s).join("****");
  return text;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Runs as a program: `deno run -A src/cli/mod.ts …`, `bun src/cli/mod.ts …`. */
async function run(): Promise<never> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = () => {
    // The first signal stops cleanly; a second one does not wait.
    if (++signals > 1) process.exit(130);
    controller.abort();
  };
  for (const s of ["SIGINT", "SIGTERM"] as const) {
    try {
      process.on(s, onSignal);
    } catch {
      // not supported on this platform (SIGTERM on Windows)
    }
  }
  const status = await main(process.argv.slice(2), { signal: controller.signal });
  process.exit(status);
}

if ((import.meta as { main?: boolean }).main) await run();
