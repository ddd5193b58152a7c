// A real mosquitto for integration tests, on free loopback ports (and, with
// `unix: true`, on a Unix domain socket in its temporary directory).
//
//   await using broker = await startBroker({ tls: true });
//   dial(new URL(broker.url)) ... dial(new URL(broker.tlsUrl!), { tls: { caCerts: [broker.certs!.ca.cert] } })
//   await using onSocket = await startBroker({ unix: true }); // onSocket.unixUrl: unix:///tmp/.../mqtt.sock
//
// Runtime-neutral: node:child_process, node:net, node:fs and node:os serve both
// `deno test` (whose sanitizers stay on: the process is awaited, every socket
// closed) and `bun test`. mosquitto logs to a file in its temporary directory;
// `broker.log()` reads it, and a failed start includes its tail.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Certs, makeCerts } from "./certs.ts";

/** Options of {@linkcode startBroker}. */
export interface BrokerOptions {
  /** Add a TLS listener (`tlsPort`, `tlsUrl`) with certificates from `makeCerts`. */
  tls?: boolean;
  /** Like `tls`, and the TLS listener requires a client certificate signed by the CA. */
  mtls?: boolean;
  /** Keep sessions and retained messages across `restart()` (persistence on). */
  persistence?: boolean;
  /**
   * Turn Nagle off on mosquitto's sockets (`set_tcp_nodelay true`). Off by
   * default: users run mosquitto with its stock TCP settings, and a fixture
   * tuned for speed once hid a 44 ms stall per round trip from the suite.
   * Ask for it by name only where a test is about something else and must not
   * depend on TCP timing.
   */
  tcpNoDelay?: boolean;
  /**
   * Also listen on a Unix domain socket, `mqtt.sock` in the broker's temporary
   * directory (`unixPath`, `unixUrl`), beside the TCP listener. Off by default.
   */
  unix?: boolean;
  /** Extra mosquitto.conf lines, appended after the generated ones. */
  config?: string[];
}

/** A running mosquitto, from {@linkcode startBroker}. */
export interface Broker extends AsyncDisposable {
  /** Always `127.0.0.1`. */
  readonly host: string;
  /** The plain MQTT listener. */
  readonly port: number;
  /** The TLS listener, when `tls` or `mtls` was asked for. */
  readonly tlsPort?: number;
  /** `mqtt://127.0.0.1:<port>`. */
  readonly url: string;
  /** `mqtts://localhost:<tlsPort>` (the server certificate also covers 127.0.0.1). */
  readonly tlsUrl?: string;
  /** The certificates the TLS listener uses. */
  readonly certs?: Certs;
  /** The Unix domain socket mosquitto listens on, when `unix` was asked for. */
  readonly unixPath?: string;
  /** `unix://<unixPath>` (the path percent-encoded where it must be), when `unix` was asked for. */
  readonly unixUrl?: string;
  /** The mosquitto log so far. */
  log(): Promise<string>;
  /** Stops mosquitto (SIGTERM, then waits for it to exit). Idempotent; the files stay until dispose. */
  stop(): Promise<void>;
  /** Stops (if running) and starts mosquitto again on the same ports and config. */
  restart(): Promise<void>;
  /** Stops mosquitto and deletes its directory. */
  [Symbol.asyncDispose](): Promise<void>;
}

const MOSQUITTO = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"]
  .find((p) => existsSync(p)) ?? "mosquitto";
const HOST = "127.0.0.1";
/** The Unix socket's name in the broker's directory (with `unix: true`). */
const UNIX_SOCKET = "mqtt.sock";
const START_ATTEMPTS = 5;
const START_TIMEOUT_MS = 5000;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A port that was free a moment ago: listen on port 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** Whether something accepts connections at `target` (a TCP port, or a Unix socket path). */
function accepts(target: { host: string; port: number } | { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(target);
    const done = (ok: boolean) => {
      socket.removeAllListeners();
      socket.on("error", () => {});
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Whether something accepts TCP connections on `port`. */
export function canConnect(port: number, host = HOST): Promise<boolean> {
  return accepts({ host, port });
}

/** Whether something accepts connections on the Unix domain socket at `path`. */
export function canConnectUnix(path: string): Promise<boolean> {
  return accepts({ path });
}

/** `unix://` and `path`, each segment percent-encoded. */
export function unixUrlOf(path: string): string {
  return `unix://${path.split("/").map(encodeURIComponent).join("/")}`;
}

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
  exitCode: number | null | undefined;
  /** Kills mosquitto if this process dies without stopping it (see spawnWatchdog). */
  watchdog: ChildProcess | undefined;
  watchdogExited: Promise<void>;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once("error", () => resolve(-1));
    child.once("exit", (code) => resolve(code));
  });
}

/**
 * A `sh` that blocks reading its stdin, a pipe from this process: when this
 * process dies without stopping the broker (killed, or a test runner that
 * exits early), the pipe closes and the watchdog kills the orphaned mosquitto.
 * Linux only (it checks /proc/<pid>/comm so that it never kills a recycled
 * pid); elsewhere it does nothing.
 */
function spawnWatchdog(pid: number): ChildProcess | undefined {
  if (!existsSync("/proc/self/comm")) return undefined;
  const script = `read _; [ "$(cat /proc/${pid}/comm 2>/dev/null)" = mosquitto ] && kill ${pid}`;
  return spawn("sh", ["-c", script], { stdio: ["pipe", "ignore", "ignore"] });
}

function spawnMosquitto(confPath: string): Running {
  const child = spawn(MOSQUITTO, ["-c", confPath], { stdio: "ignore" });
  const watchdog = child.pid === undefined ? undefined : spawnWatchdog(child.pid);
  const running: Running = {
    child,
    exitCode: undefined,
    exited: exitOf(child).then((code) => (running.exitCode = code)),
    watchdog,
    watchdogExited: watchdog ? exitOf(watchdog).then(() => {}) : Promise.resolve(),
  };
  return running;
}

async function terminate(running: Running): Promise<void> {
  // The watchdog goes first, so that it can never kill a recycled pid.
  if (running.watchdog) {
    running.watchdog.kill("SIGKILL");
    await running.watchdogExited;
    running.watchdog.stdin?.destroy();
    running.watchdog = undefined;
  }
  if (running.exitCode !== undefined) return;
  running.child.kill("SIGTERM");
  const timer = setTimeout(() => running.child.kill("SIGKILL"), 3000);
  try {
    await running.exited;
  } finally {
    clearTimeout(timer);
  }
}

function configLines(
  dir: string,
  port: number,
  tlsPort: number | undefined,
  certs: Certs | undefined,
  options: BrokerOptions,
): string[] {
  const lines = [
    "per_listener_settings false",
    "allow_anonymous true",
    `log_dest file ${join(dir, "mosquitto.log")}`,
    "log_type error",
    "log_type warning",
    "log_type notice",
    "log_type information",
    "connection_messages true",
    // Stock TCP settings (Nagle on) unless a test asks otherwise: what users run.
    ...(options.tcpNoDelay === true ? ["set_tcp_nodelay true"] : []),
    // Run as the current user: as root, mosquitto would switch to "mosquitto",
    // which cannot write the persistence file into our temporary directory.
    "user root",
    options.persistence
      ? `persistence true\npersistence_location ${dir}/\nautosave_interval 1`
      : "persistence false",
    `listener ${port} ${HOST}`,
  ];
  if (options.unix === true) lines.push(`listener 0 ${join(dir, UNIX_SOCKET)}`);
  if (tlsPort !== undefined && certs) {
    lines.push(
      `listener ${tlsPort} ${HOST}`,
      `cafile ${certs.ca.certPath}`,
      `certfile ${certs.server.certPath}`,
      `keyfile ${certs.server.keyPath}`,
    );
    if (options.mtls) lines.push("require_certificate true");
  }
  return [...lines, ...(options.config ?? [])];
}

/**
 * Starts mosquitto on free loopback ports with a generated configuration:
 * a plain listener, an optional TLS listener (mutual TLS with `mtls`), an
 * optional Unix domain socket listener (`unix`),
 * anonymous access, persistence off unless asked for, and mosquitto's stock
 * TCP settings (Nagle on) unless `tcpNoDelay` asks otherwise. Resolves once every
 * listener accepts connections; retries on fresh ports when a port was taken
 * in the meantime.
 *
 * @param options Listeners, persistence and extra configuration.
 * @returns The running broker; dispose it (`await using`) to stop it.
 */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const dir = await mkdtemp(join(tmpdir(), "mqttv5-broker-"));
  try {
    const withTls = options.tls === true || options.mtls === true;
    const certs = withTls ? await makeCerts(join(dir, "certs")) : undefined;
    const confPath = join(dir, "mosquitto.conf");
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      const port = await freePort();
      const tlsPort = withTls ? await freePort() : undefined;
      if (port === tlsPort) continue;
      await writeFile(confPath, configLines(dir, port, tlsPort, certs, options).join("\n") + "\n");
      const ports = tlsPort === undefined ? [port] : [port, tlsPort];
      const paths = options.unix === true ? [join(dir, UNIX_SOCKET)] : [];
      try {
        const running = await launch(confPath, dir, ports, paths);
        return makeBroker(dir, confPath, port, tlsPort, certs, ports, running, paths[0]);
      } catch (err) {
        lastError = err as Error;
        if (!(err instanceof BindError)) throw err;
      }
    }
    throw new Error(`Cannot start mosquitto after ${START_ATTEMPTS} attempts`, {
      cause: lastError,
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

class BindError extends Error {}

async function readLog(dir: string): Promise<string> {
  try {
    return await readFile(join(dir, "mosquitto.log"), "utf8");
  } catch {
    return "";
  }
}

/**
 * Spawns mosquitto and waits until it logged "running" (every listener is
 * bound: a port taken by someone else makes it exit instead) and every port
 * (and Unix socket in `paths`) accepts connections.
 */
async function launch(
  confPath: string,
  dir: string,
  ports: number[],
  paths: string[] = [],
): Promise<Running> {
  const logStart = (await readLog(dir)).length; // the log is appended to across restarts
  const running = spawnMosquitto(confPath);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (true) {
    const exited = running.exitCode !== undefined; // before reading the log
    const log = (await readLog(dir)).slice(logStart);
    if (exited) {
      await terminate(running); // its watchdog
      const message = `mosquitto exited with code ${running.exitCode}:\n${log.slice(-2000)}`;
      throw /address already in use/i.test(log) ? new BindError(message) : new Error(message);
    }
    if (/mosquitto version \S+ running/.test(log)) {
      const open = await Promise.all([
        ...ports.map((p) => canConnect(p)),
        ...paths.map((p) => canConnectUnix(p)),
      ]);
      if (open.every(Boolean)) return running;
    }
    if (Date.now() > deadline) {
      await terminate(running);
      throw new Error(
        `mosquitto did not come up on ${ports.join(", ")} within ${START_TIMEOUT_MS} ms:\n${
          log.slice(-2000)
        }`,
      );
    }
    await delay(10);
  }
}

function makeBroker(
  dir: string,
  confPath: string,
  port: number,
  tlsPort: number | undefined,
  certs: Certs | undefined,
  ports: number[],
  first: Running,
  unixPath?: string,
): Broker {
  const paths = unixPath === undefined ? [] : [unixPath];
  let running: Running | undefined = first;
  let disposed = false;
  const stop = async () => {
    const r = running;
    running = undefined;
    if (r) await terminate(r);
  };
  return {
    host: HOST,
    port,
    tlsPort,
    url: `mqtt://${HOST}:${port}`,
    tlsUrl: tlsPort === undefined ? undefined : `mqtts://localhost:${tlsPort}`,
    certs,
    unixPath,
    unixUrl: unixPath === undefined ? undefined : unixUrlOf(unixPath),
    log: () => readLog(dir),
    stop,
    async restart() {
      if (disposed) throw new Error("Cannot restart a disposed broker");
      await stop();
      // The ports are ours to reuse: mosquitto sets SO_REUSEADDR. Retry a few
      // times in case the old listener is still being torn down.
      let lastError: unknown;
      for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
        try {
          running = await launch(confPath, dir, ports, paths);
          return;
        } catch (err) {
          lastError = err;
          if (!(err instanceof BindError)) throw err;
          await delay(100);
        }
      }
      throw new Error(`Cannot restart mosquitto on ${ports.join(", ")}`, { cause: lastError });
    },
    async [Symbol.asyncDispose]() {
      if (disposed) return;
      disposed = true;
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
