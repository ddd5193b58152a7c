/**
 * Standard streams for the CLI through `node:process`, which Deno and Bun
 * both provide: writes that honour backpressure, a final flush, line-wise
 * reading of stdin, and the `-d` logger.
 *
 * @module
 */

import process from "node:process";
import type { Logger } from "../../mod.ts";
import { errorMessage } from "../_internal/error.ts";

/** The part of a Node writable stream the CLI uses. */
export interface WritableLike {
  write(chunk: Uint8Array | string, callback?: (err?: Error | null) => void): boolean;
  once(event: "drain" | "close", listener: () => void): unknown;
  once(event: "error", listener: (err: Error) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  off(event: "drain" | "close", listener: () => void): unknown;
  off(event: "error", listener: (err: Error) => void): unknown;
  readonly isTTY?: boolean;
  readonly writable?: boolean;
}

/** Where a subcommand writes: data on `stdout`, diagnostics on `stderr`. */
export interface Io {
  /** Data: messages, summaries. */
  stdout: WritableLike;
  /** Diagnostics: errors, debug, progress. */
  stderr: WritableLike;
  /** Input for `pub -l` / `pub -s`. */
  stdin: AsyncIterable<Uint8Array | string>;
  /** Removes the listeners this object added to the streams. */
  release(): void;
}

/**
 * stdout failed: the reader went away (`EPIPE`, as with `| head -1`), or
 * another write error. Carries the stream error's `code`.
 */
export class OutputError extends Error {
  /** The stream error's code (`EPIPE`…), if it had one. */
  readonly code: string | undefined;

  /** @param cause The stream's error. */
  constructor(cause: unknown) {
    const code = (cause as { code?: unknown })?.code;
    super(`cannot write to stdout: ${errorMessage(cause)}`, { cause });
    this.name = "OutputError";
    this.code = typeof code === "string" ? code : undefined;
  }
}

/**
 * The process's own streams.
 *
 * @param onOutputError Called once when stdout fails, so that the command can stop.
 * @returns The streams.
 */
export function processIo(onOutputError: (err: OutputError) => void): Io {
  const stdout = process.stdout as unknown as WritableLike;
  let failed = false;
  // Without a listener a failed write would be an uncaught error event.
  const onStdoutError = (err: Error) => {
    if (failed) return;
    failed = true;
    onOutputError(new OutputError(err));
  };
  const onStderrError = () => {}; // diagnostics are best effort
  const stderr = process.stderr as unknown as WritableLike;
  stdout.on("error", onStdoutError);
  stderr.on("error", onStderrError);
  return {
    stdout,
    stderr,
    release() {
      stdout.off("error", onStdoutError);
      stderr.off("error", onStderrError);
    },
    // Read lazily: touching process.stdin starts reading it.
    stdin: {
      [Symbol.asyncIterator]: () =>
        (process.stdin as unknown as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator](),
    },
  };
}

/**
 * Writes `data`; returns a promise only when the stream asks the writer to
 * wait (its buffer is full), so the fast path allocates nothing.
 *
 * @param out The stream.
 * @param data Bytes or text.
 * @returns `undefined`, or a promise that settles on `drain`.
 * @throws {OutputError} The stream failed (also as the promise's rejection).
 */
export function write(out: WritableLike, data: Uint8Array | string): Promise<void> | undefined {
  let ok: boolean;
  try {
    ok = out.write(data);
  } catch (err) {
    throw new OutputError(err);
  }
  if (ok) return undefined;
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      out.off("drain", onDrain);
      out.off("close", onClose);
      out.off("error", onError);
      if (err === undefined) resolve();
      else reject(new OutputError(err));
    };
    const onDrain = () => done();
    const onClose = () => done(Object.assign(new Error("stream closed"), { code: "EPIPE" }));
    const onError = (err: Error) => done(err);
    out.once("drain", onDrain);
    out.once("close", onClose);
    out.once("error", onError);
  });
}

/** How long {@linkcode flush} waits for a stream that never confirms. */
const FLUSH_MS = 2000;

/**
 * Resolves once everything written to `out` so far has been handed to the
 * operating system, or at once when the stream is no longer writable (at the
 * latest after 2 s).
 *
 * @param out The stream.
 * @returns A promise that settles after the flush (never rejects).
 */
export function flush(out: WritableLike): Promise<void> {
  if (out.writable === false) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, FLUSH_MS);
    try {
      out.write("", done);
    } catch {
      done();
    }
  });
}

const encoder = new TextEncoder();

/**
 * Splits a byte stream into lines (on `\n`, dropping a `\r` before it). The
 * last line is yielded even without a final newline, unless it is empty.
 *
 * @param input The stream, as bytes or strings.
 * @returns The lines, as bytes without their terminators.
 */
export async function* lines(
  input: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<Uint8Array> {
  let carry: Uint8Array = new Uint8Array(0);
  for await (const raw of input) {
    const chunk = typeof raw === "string" ? encoder.encode(raw) : raw;
    let start = 0;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, start)) {
      let line = chunk.subarray(start, i);
      if (carry.length > 0) {
        line = concat(carry, line);
        carry = new Uint8Array(0);
      }
      yield trimCr(line);
      start = i + 1;
    }
    // Copy: the runtime may reuse its read buffer.
    if (start < chunk.length) carry = concat(carry, chunk.subarray(start));
  }
  if (carry.length > 0) yield trimCr(carry);
}

/**
 * Reads a whole stream.
 *
 * @param input The stream, as bytes or strings.
 * @returns Every byte, concatenated.
 */
export async function readAll(input: AsyncIterable<Uint8Array | string>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const raw of input) {
    const chunk = typeof raw === "string" ? encoder.encode(raw) : raw.slice();
    parts.push(chunk);
    size += chunk.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function trimCr(line: Uint8Array): Uint8Array {
  return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * The `-d` logger: one line per entry on `stderr`, fields as JSON.
 *
 * @param stderr Where to write.
 * @param prefix Leads every line (`mqttv5 pub`).
 * @returns A {@linkcode Logger}.
 */
export function stderrLogger(stderr: WritableLike, prefix: string): Logger {
  const line = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    let text = `${prefix}: ${level}: ${msg}`;
    if (fields !== undefined && Object.keys(fields).length > 0) {
      text += " " + safeJson(fields);
    }
    stderr.write(text + "\n");
  };
  return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => {
      if (v instanceof Uint8Array) return `<${v.length} bytes>`;
      if (v instanceof Error) return v.message;
      if (typeof v === "bigint") return v.toString();
      return v;
    });
  } catch {
    return String(value);
  }
}

/** What every subcommand runs with. */
export interface Context {
  /** The streams. */
  io: Io;
  /** Aborted on SIGINT / SIGTERM (or by an embedding caller): stop and clean up. */
  signal: AbortSignal;
  /** `mqttv5 pub`: leads every diagnostic line. */
  prog: string;
  /** `--quiet`: no error messages. */
  quiet: boolean;
  /** `-d`: debug lines. */
  debug: Logger | undefined;
}

/**
 * Prints one diagnostic line (`mqttv5 pub: …`) on stderr unless `--quiet`.
 *
 * @param ctx The context.
 * @param message The line, without the program name.
 */
export function report(ctx: Context, message: string): void {
  if (!ctx.quiet) ctx.io.stderr.write(`${ctx.prog}: ${message}\n`);
}
