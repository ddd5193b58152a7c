/**
 * The connection flags every subcommand shares (`-h -p -L/--url -u -P -k`,
 * TLS, `-V`, `-d`), the session flags of `pub` and `sub` (`-i -I -c -x`,
 * will, `-D`), and how they become {@linkcode ClientOptions}: the start of
 * every subcommand ({@linkcode parseCommand}), connecting
 * ({@linkcode openClient}) and disconnecting; plus the one-line error text the
 * CLI prints, which names `host:port` and never the password.
 *
 * @module
 */

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import {
  Client,
  type ClientOptions,
  type DisconnectOptions,
  type Logger,
  MqttError,
  type PublishProperties,
  type WillOptions,
} from "../../mod.ts";
import { errorMessage } from "../_internal/error.ts";
import { topicNameError } from "../topic/mod.ts";
import {
  type Flags,
  type FlagSpec,
  intFlag,
  parseFlags,
  parseIntArg,
  type PropertyArg,
  qosFlag,
  secondsFlag,
  UsageError,
} from "./_args.ts";
import { type Context, report, stderrLogger, write } from "./_io.ts";

/** Flags of every subcommand: where the broker is and how to reach it. */
const CONNECTION_FLAGS: FlagSpec[] = [
  { names: ["-h", "--host"], key: "host", kind: "value" },
  { names: ["-p", "--port"], key: "port", kind: "value" },
  { names: ["-L", "--url"], key: "url", kind: "value" },
  { names: ["--unix"], key: "unix", kind: "value" },
  { names: ["-u", "--username"], key: "username", kind: "value" },
  { names: ["-P", "--pw", "--password"], key: "password", kind: "value" },
  { names: ["-k", "--keepalive"], key: "keepalive", kind: "value" },
  { names: ["--connect-timeout"], key: "connectTimeout", kind: "value" },
  { names: ["--cafile"], key: "cafile", kind: "value" },
  { names: ["--capath"], key: "capath", kind: "value" },
  { names: ["--cert"], key: "cert", kind: "value" },
  { names: ["--key"], key: "key", kind: "value" },
  { names: ["--insecure"], key: "insecure", kind: "bool" },
  { names: ["--tls-alpn"], key: "alpn", kind: "value" },
  { names: ["-V", "--protocol-version", "--protocol"], key: "protocol", kind: "value" },
  { names: ["-d", "--debug"], key: "debug", kind: "bool" },
  { names: ["--quiet"], key: "quiet", kind: "bool" },
  { names: ["--nodelay"], key: "nodelay", kind: "bool" },
  { names: ["--help"], key: "help", kind: "bool" },
];

/** Flags of `pub` and `sub`: the session, the will, `-D` properties. */
const SESSION_FLAGS: FlagSpec[] = [
  { names: ["-i", "--id"], key: "id", kind: "value" },
  { names: ["-I", "--id-prefix"], key: "idPrefix", kind: "value" },
  { names: ["-c", "--disable-clean-session"], key: "persistent", kind: "bool" },
  { names: ["-x", "--session-expiry-interval"], key: "sessionExpiry", kind: "value" },
  { names: ["--will-topic"], key: "willTopic", kind: "value" },
  { names: ["--will-payload"], key: "willPayload", kind: "value" },
  { names: ["--will-qos"], key: "willQos", kind: "value" },
  { names: ["--will-retain"], key: "willRetain", kind: "bool" },
  { names: ["-D", "--property"], key: "property", kind: "property" },
];

/** Usage text of {@linkcode CONNECTION_FLAGS}. */
export const CONNECTION_HELP = `Connection:
  -h, --host HOST          broker host (default: localhost)
  -p, --port PORT          broker port (default: 1883, or 8883 with TLS)
  -L, --url URL            broker URL, overrides -h/-p: mqtt://, mqtts://, tcp://, tls://,
                           ssl://, ws://, wss://, optionally with user:password@ (and, for
                           mqtt(s)://, a /topic path as mosquitto's -L), or unix:///path
      --unix PATH          connect through the Unix socket at PATH (as mosquitto's --unix)
  -u, --username USER      user name
  -P, --pw PASSWORD        password (never printed)
  -k, --keepalive SECONDS  keep alive (default: 60, 0 turns it off)
      --connect-timeout S  give up connecting after S seconds (default: 10)
  -V, --protocol-version V accepted for compatibility; only 5 (mqttv5) is supported
  -d, --debug              log connection events and packets to stderr
      --quiet              print no error messages (the exit status still says)
      --nodelay            accepted for compatibility (TCP_NODELAY is always on)
TLS (any of these turns TLS on):
      --cafile FILE        trust the CA certificate(s) in FILE (PEM)
      --capath DIR         trust every *.pem / *.crt in DIR
      --cert FILE          client certificate (PEM) for mutual TLS, with --key
      --key FILE           private key (PEM) of --cert
      --insecure           skip server certificate verification (tests only)
      --tls-alpn PROTO     offer this ALPN protocol`;

/** Usage text of {@linkcode SESSION_FLAGS}. */
export const SESSION_HELP = `Session:
  -i, --id ID              client identifier (default: assigned by the broker)
  -I, --id-prefix PREFIX   client identifier PREFIX followed by the process id
  -c, --disable-clean-session
                           keep the session (needs -i or -I); expiry -x, default never
  -x, --session-expiry-interval S
                           session expiry in seconds; -1 or ∞ for never (default: 0)
      --will-topic TOPIC   will message topic
      --will-payload TEXT  will message payload (default: empty)
      --will-qos QOS       will message QoS (default: 0)
      --will-retain        retain the will message
  -D, --property COMMAND IDENTIFIER VALUE
                           MQTT v5 property, as mosquitto: COMMAND is connect, publish,
                           will or disconnect; user-property takes NAME VALUE.
                           Identifiers: user-property, content-type, correlation-data,
                           message-expiry-interval, payload-format-indicator,
                           response-topic, session-expiry-interval, receive-maximum,
                           maximum-packet-size, topic-alias-maximum,
                           request-problem-information, request-response-information,
                           will-delay-interval, reason-string
  -D NAME=VALUE            short form of a user property`;

/** Everything the subcommands need to connect, from the flags. */
export interface ConnectionSetup {
  /** Options for `new Client()`. */
  options: ClientOptions;
  /** `host:port`, for messages. */
  where: string;
  /** The password, to keep it out of every message. */
  secret: string | undefined;
  /** The topic from a `-L mqtt://host/topic` URL's path. */
  urlTopic: string | undefined;
  /** PUBLISH properties from `-D publish …` (and `-D k=v` when the short form means publish). */
  publishProperties: PublishProperties | undefined;
  /** DISCONNECT options from `-D disconnect …`. */
  disconnect: DisconnectOptions | undefined;
}

/** What a subcommand adds to the shared flags. */
export interface CommandSpec {
  /** The subcommand's own flags, accepted after the shared ones. */
  flags: readonly FlagSpec[];
  /**
   * With the session flags ({@linkcode SESSION_HELP}), what `-D name=value`
   * adds to: the PUBLISH (`pub`) or the CONNECT (`sub`). Without (`bench`),
   * only the connection flags ({@linkcode CONNECTION_HELP}) are accepted.
   */
  session?: "publish" | "connect";
  /** The `--help` text. */
  usage: string;
}

/** A parsed command line: the flags and the connection they describe. */
export interface CommandLine {
  /** Every flag given. */
  flags: Flags;
  /** The client options and the rest, from {@linkcode connectionSetup}. */
  setup: ConnectionSetup;
}

/**
 * The start every subcommand shares: parses `args` against the connection
 * flags (and the session flags, with `command.session`) and the command's
 * own, answers `--help` with the usage, and builds the connection setup.
 *
 * @param args The arguments after the subcommand.
 * @param ctx The context: `--quiet` and `-d` take effect on it.
 * @param command The subcommand's flags and usage.
 * @returns The flags and the setup; `undefined` once `--help` printed the
 * usage (the command then exits with status 0).
 * @throws {UsageError} A bad or conflicting flag.
 * @throws {Error} A certificate file that cannot be read.
 */
export async function parseCommand(
  args: readonly string[],
  ctx: Context,
  command: CommandSpec,
): Promise<CommandLine | undefined> {
  const shared = command.session === undefined
    ? CONNECTION_FLAGS
    : [...CONNECTION_FLAGS, ...SESSION_FLAGS];
  const flags = parseFlags(args, [...shared, ...command.flags]);
  if (flags.bools.has("help")) {
    await write(ctx.io.stdout, command.usage + "\n");
    return undefined;
  }
  return { flags, setup: await connectionSetup(flags, ctx, command.session ?? "connect") };
}

const MAX_U32 = 0xffffffff;
const NATIVE = new Set(["mqtt:", "tcp:", "mqtts:", "tls:", "ssl:"]);
const TLS_OF: Record<string, string> = { "mqtt:": "mqtts:", "tcp:": "tls:", "ws:": "wss:" };
const TLS_SCHEMES = new Set(["mqtts:", "tls:", "ssl:", "wss:"]);
const encoder = new TextEncoder();

/**
 * Builds the client options from the flags.
 *
 * @param flags The parsed command line.
 * @param ctx The context: `--quiet` and `-d` take effect on it.
 * @param shortPropertiesMean What `-D name=value` adds to: the PUBLISH (`pub`) or the CONNECT.
 * @returns The setup.
 * @throws {UsageError} A bad or conflicting flag.
 * @throws {Error} A certificate file that cannot be read.
 */
async function connectionSetup(
  flags: Flags,
  ctx: Context,
  shortPropertiesMean: "publish" | "connect",
): Promise<ConnectionSetup> {
  ctx.quiet = flags.bools.has("quiet");
  if (flags.bools.has("debug")) ctx.debug = stderrLogger(ctx.io.stderr, ctx.prog);
  const protocol = flags.values.get("protocol");
  if (protocol !== undefined && !["5", "mqttv5", "v5"].includes(protocol.toLowerCase())) {
    throw new UsageError(`only MQTT v5 is supported: -V 5 (or mqttv5), got "${protocol}"`);
  }

  const tlsWanted = ["cafile", "capath", "cert", "key", "alpn"].some((k) => flags.values.has(k)) ||
    flags.bools.has("insecure");
  let url: URL;
  let urlTopic: string | undefined;
  let username = flags.values.get("username");
  let password = flags.values.get("password");
  const unixPath = flags.values.get("unix");
  if (unixPath !== undefined && flags.values.has("url")) {
    throw new UsageError(`--unix cannot be combined with ${flags.spelled.get("url")}`);
  }
  const rawUrl = unixPath !== undefined
    ? `unix://${unixPath.split("/").map(encodeURIComponent).join("/")}`
    : flags.values.get("url");
  if (rawUrl !== undefined) {
    for (const k of ["host", "port"]) {
      if (flags.values.has(k)) {
        throw new UsageError(
          `${flags.spelled.get(k)} cannot be combined with ${
            unixPath !== undefined ? "--unix" : "--url"
          }`,
        );
      }
    }
    try {
      url = new URL(rawUrl);
    } catch {
      throw new UsageError(`--url "${redactUrl(rawUrl)}" is not a URL`);
    }
    const unix = url.protocol === "unix:";
    if (!unix && !NATIVE.has(url.protocol) && url.protocol !== "ws:" && url.protocol !== "wss:") {
      throw new UsageError(
        `--url scheme "${url.protocol}" is not supported (mqtt, mqtts, tcp, tls, ssl, ws, wss, unix)`,
      );
    }
    if (unix) {
      if (!unixPath?.startsWith("/") && unixPath !== undefined) {
        throw new UsageError(`--unix "${unixPath}" must be an absolute path`);
      }
      if (tlsWanted) throw new UsageError("TLS flags cannot be used with a Unix socket");
    } else if (url.hostname === "") {
      throw new UsageError(`--url "${redactUrl(rawUrl)}" has no host`);
    }
    if (url.username !== "") username ??= decodeURIComponent(url.username);
    if (url.password !== "") password ??= decodeURIComponent(url.password);
    url.username = "";
    url.password = "";
    if (tlsWanted && TLS_OF[url.protocol] !== undefined) {
      // As mosquitto: a TLS flag turns TLS on, whatever the scheme said.
      url = new URL(url.href.replace(/^[a-z]+:/, TLS_OF[url.protocol]));
    }
    if (NATIVE.has(url.protocol)) {
      // mosquitto's -L: the path names the topic.
      const path = decodeURIComponent(url.pathname.replace(/^\//, ""));
      if (path !== "") urlTopic = path;
      url.pathname = "";
      url.search = "";
      url.hash = "";
      if (url.port === "") url.port = TLS_SCHEMES.has(url.protocol) ? "8883" : "1883";
    }
  } else {
    const host = flags.values.get("host") ?? "localhost";
    if (host === "") throw new UsageError("-h needs a host name");
    const port = intFlag(flags, "port", tlsWanted ? 8883 : 1883, 1, 65535);
    const hostPart = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    try {
      url = new URL(`${tlsWanted ? "mqtts" : "mqtt"}://${hostPart}:${port}`);
    } catch {
      throw new UsageError(`-h "${host}" is not a host name`);
    }
  }
  const where = url.protocol === "unix:"
    ? decodeURIComponent(url.pathname)
    : `${url.hostname}:${url.port || (TLS_SCHEMES.has(url.protocol) ? 443 : 80)}`;

  const options: ClientOptions = {
    broker: url.href.replace(/\/$/, ""),
    keepAliveSeconds: intFlag(flags, "keepalive", 60, 0, 65535),
    connectTimeoutMs: Math.max(
      1,
      Math.round(secondsFlag(flags, "connectTimeout", 10, 0.001) * 1000),
    ),
    cleanStart: true,
    sessionExpirySeconds: 0,
    // A command-line client gives up instead of retrying forever in the background.
    reconnectBackoff: (attempt) => Math.min(1000 * 2 ** attempt, 5000),
  };
  if (username !== undefined) options.username = username;
  if (password !== undefined) options.password = password;
  if (url.protocol === "ws:" || url.protocol === "wss:") {
    const { wsDial } = await import("../transport/ws.ts");
    options.dial = wsDial();
  }

  if (TLS_SCHEMES.has(url.protocol)) {
    const tls: NonNullable<ClientOptions["tls"]> = {};
    const cafile = flags.values.get("cafile");
    const capath = flags.values.get("capath");
    const caCerts: string[] = [];
    if (cafile !== undefined) caCerts.push(await readText(cafile, "--cafile"));
    if (capath !== undefined) caCerts.push(...await readCaDir(capath));
    if (caCerts.length > 0) tls.caCerts = caCerts;
    const cert = flags.values.get("cert");
    const key = flags.values.get("key");
    if ((cert === undefined) !== (key === undefined)) {
      throw new UsageError("--cert and --key must be given together");
    }
    if (cert !== undefined && key !== undefined) {
      tls.cert = await readText(cert, "--cert");
      tls.key = await readText(key, "--key");
    }
    if (flags.bools.has("insecure")) tls.insecureSkipVerify = true;
    const alpn = flags.values.get("alpn");
    if (alpn !== undefined) tls.alpn = [alpn];
    options.tls = tls;
  }

  // Session.
  let clientId = flags.values.get("id");
  const prefix = flags.values.get("idPrefix");
  if (clientId !== undefined && prefix !== undefined) {
    throw new UsageError("-i and -I cannot be combined");
  }
  if (prefix !== undefined) clientId = `${prefix}${process.pid}`;
  if (clientId !== undefined) options.clientId = clientId;
  const persistent = flags.bools.has("persistent");
  if (persistent && clientId === undefined) {
    throw new UsageError("-c needs a client identifier (-i or -I)");
  }
  const expiry = flags.values.get("sessionExpiry");
  if (persistent) {
    options.cleanStart = false;
    options.cleanStartOnReconnect = false;
  }
  options.sessionExpirySeconds = expiry === undefined
    ? (persistent ? MAX_U32 : 0)
    : parseExpiry(expiry, flags.spelled.get("sessionExpiry") ?? "-x");

  // Will.
  const willTopic = flags.values.get("willTopic");
  if (willTopic === undefined) {
    for (const k of ["willPayload", "willQos"]) {
      if (flags.values.has(k)) throw new UsageError(`${flags.spelled.get(k)} needs --will-topic`);
    }
    if (flags.bools.has("willRetain")) throw new UsageError("--will-retain needs --will-topic");
  }
  let will: WillOptions | undefined;
  if (willTopic !== undefined) {
    const problem = topicNameError(willTopic);
    if (problem !== undefined) throw new UsageError(`--will-topic "${willTopic}": ${problem}`);
    will = {
      topic: willTopic,
      payload: flags.values.get("willPayload") ?? "",
      qos: qosFlag(flags, "willQos"),
      retain: flags.bools.has("willRetain"),
    };
    options.will = will;
  }

  const { publishProperties, disconnect } = applyProperties(
    flags.properties,
    shortPropertiesMean,
    options,
    will,
  );
  if (
    disconnect?.sessionExpirySeconds !== undefined && disconnect.sessionExpirySeconds !== 0 &&
    options.sessionExpirySeconds === 0
  ) {
    throw new UsageError(
      "-D disconnect session-expiry-interval must stay 0 when the session expiry is 0 (use -x)",
    );
  }
  return { options, where, secret: password, urlTopic, publishProperties, disconnect };
}

function parseExpiry(raw: string, what: string): number {
  if (raw === "-1" || raw === "∞") return MAX_U32;
  return parseIntArg(raw, what, 0, MAX_U32);
}

type PropertyType = "string" | "bytes" | "u32" | "u16" | "bit" | "pair";

const PROPERTY_TYPES: Record<string, PropertyType> = {
  "user-property": "pair",
  "content-type": "string",
  "correlation-data": "bytes",
  "message-expiry-interval": "u32",
  "payload-format-indicator": "bit",
  "response-topic": "string",
  "session-expiry-interval": "u32",
  "receive-maximum": "u16",
  "maximum-packet-size": "u32",
  "topic-alias-maximum": "u16",
  "request-problem-information": "bit",
  "request-response-information": "bit",
  "will-delay-interval": "u32",
  "reason-string": "string",
};

const PUBLISH_IDS = [
  "user-property",
  "content-type",
  "correlation-data",
  "message-expiry-interval",
  "payload-format-indicator",
  "response-topic",
];

const ALLOWED: Record<string, string[]> = {
  connect: [
    "user-property",
    "session-expiry-interval",
    "receive-maximum",
    "maximum-packet-size",
    "topic-alias-maximum",
    "request-problem-information",
    "request-response-information",
  ],
  publish: PUBLISH_IDS,
  will: [...PUBLISH_IDS, "will-delay-interval"],
  disconnect: ["user-property", "session-expiry-interval", "reason-string"],
};

function typed(p: PropertyArg, command: string): string | number | Uint8Array {
  const what = `-D ${command} ${p.identifier}`;
  switch (PROPERTY_TYPES[p.identifier]) {
    case "u32":
      return parseIntArg(p.value, what, 0, MAX_U32);
    case "u16":
      return parseIntArg(p.value, what, p.identifier === "receive-maximum" ? 1 : 0, 65535);
    case "bit":
      return parseIntArg(p.value, what, 0, 1);
    case "bytes":
      return encoder.encode(p.value);
    default:
      return p.value;
  }
}

function camel(identifier: string): string {
  return identifier.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Applies `-D` arguments to the options; returns the per-message parts. */
function applyProperties(
  props: PropertyArg[],
  shortMean: "publish" | "connect",
  options: ClientOptions,
  will: WillOptions | undefined,
): { publishProperties?: PublishProperties; disconnect?: DisconnectOptions } {
  let publish: Record<string, unknown> | undefined;
  let disconnect: DisconnectOptions | undefined;
  for (const p of props) {
    const command = p.command ?? shortMean;
    const allowed = ALLOWED[command];
    if (allowed === undefined) {
      throw new UsageError(
        `-D ${command} properties are not supported (use connect, publish, will or disconnect)`,
      );
    }
    if (command === "publish" && shortMean !== "publish") {
      throw new UsageError("-D publish properties only apply to pub");
    }
    if (!allowed.includes(p.identifier)) {
      throw new UsageError(
        `-D ${command} ${p.identifier} is not supported (allowed: ${allowed.join(", ")})`,
      );
    }
    const value = typed(p, command);
    const pair: [string, string] | undefined = p.identifier === "user-property"
      ? [p.name ?? "", p.value]
      : undefined;
    switch (command) {
      case "connect":
        switch (p.identifier) {
          case "user-property":
            (options.connectUserProperties ??= []).push(pair!);
            break;
          case "session-expiry-interval":
            options.sessionExpirySeconds = value as number;
            break;
          case "topic-alias-maximum":
            options.inboundTopicAliasMaximum = value as number;
            break;
          case "request-problem-information":
            options.requestProblemInformation = value === 1;
            break;
          case "request-response-information":
            options.requestResponseInformation = value === 1;
            break;
          default: // receive-maximum, maximum-packet-size
            (options as Record<string, unknown>)[camel(p.identifier)] = value;
        }
        break;
      case "publish":
        publish ??= {};
        if (pair !== undefined) {
          ((publish.userProperties ??= []) as [string, string][]).push(pair);
        } else {
          publish[camel(p.identifier)] = value;
        }
        break;
      case "will": {
        if (will === undefined) throw new UsageError("-D will … needs --will-topic");
        if (p.identifier === "will-delay-interval") {
          will.delayIntervalSeconds = value as number;
          break;
        }
        const wp = (will.properties ??= {}) as Record<string, unknown>;
        if (pair !== undefined) ((wp.userProperties ??= []) as [string, string][]).push(pair);
        else wp[camel(p.identifier)] = value;
        break;
      }
      case "disconnect":
        disconnect ??= {};
        if (pair !== undefined) (disconnect.userProperties ??= []).push(pair);
        else if (p.identifier === "reason-string") disconnect.reasonString = value as string;
        else disconnect.sessionExpirySeconds = value as number;
        break;
    }
  }
  const out: { publishProperties?: PublishProperties; disconnect?: DisconnectOptions } = {};
  if (publish !== undefined) out.publishProperties = publish as PublishProperties;
  if (disconnect !== undefined) out.disconnect = disconnect;
  return out;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${errorText(err)}`);
  }
}

async function readCaDir(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.(pem|crt)$/i.test(n)).sort();
  } catch (err) {
    throw new Error(`cannot read --capath ${dir}: ${errorText(err)}`);
  }
  if (names.length === 0) throw new Error(`--capath ${dir} holds no *.pem or *.crt file`);
  return Promise.all(names.map((n) => readText(join(dir, n), "--capath file")));
}

/** A URL with its credentials removed. */
function redactUrl(raw: string): string {
  return raw.replace(/\/\/[^@/]*@/, "//");
}

/** The message of an error, as one line. */
export function errorText(err: unknown): string {
  const text = errorMessage(err);
  return text.replace(/\s*\n\s*/g, " ").trim() || (err as Error)?.name || "unknown error";
}

/**
 * `text` with `secret` masked wherever it appears.
 *
 * @param text A message.
 * @param secret The password to keep out.
 * @returns One line.
 */
export function scrub(text: string, secret: string | undefined): string {
  if (secret === undefined || secret === "") return text;
  return text.split(secret).join("****");
}

/**
 * The one-line message for a failed connect: names `host:port`, the MQTT
 * reason when the broker refused, and never the password.
 *
 * @param err What `connect()` threw.
 * @param where `host:port`.
 * @param secret The password.
 * @returns The line, without a trailing newline.
 */
export function connectFailure(err: unknown, where: string, secret: string | undefined): string {
  let text = errorText(err);
  // The transports already say "Cannot connect to host:port: …".
  const lead = `cannot connect to ${where}: `;
  if (text.toLowerCase().startsWith(lead.toLowerCase())) text = text.slice(lead.length);
  if (err instanceof MqttError && err.code === "connect-refused" && err.reasonCode !== undefined) {
    const name = CONNACK_REASONS[err.reasonCode];
    if (name !== undefined && !text.includes(name)) text += `: ${name}`;
  }
  return scrub(`cannot connect to ${where}: ${text}`, secret);
}

const CONNACK_REASONS: Record<number, string> = {
  0x80: "unspecified error",
  0x81: "malformed packet",
  0x82: "protocol error",
  0x83: "implementation specific error",
  0x84: "unsupported protocol version",
  0x85: "client identifier not valid",
  0x86: "bad user name or password",
  0x87: "not authorized",
  0x88: "server unavailable",
  0x89: "server busy",
  0x8a: "banned",
  0x8c: "bad authentication method",
  0x90: "topic name invalid",
  0x95: "packet too large",
  0x97: "quota exceeded",
  0x99: "payload format invalid",
  0x9a: "retain not supported",
  0x9b: "QoS not supported",
  0x9c: "use another server",
  0x9d: "server moved",
  0x9f: "connection rate exceeded",
};

/**
 * The name of an MQTT reason code (for PUBACK, SUBACK … failures).
 *
 * @param code The reason code.
 * @returns `0x87 not authorized`, or just the hex.
 */
export function reasonText(code: number): string {
  const hex = `0x${code.toString(16).padStart(2, "0")}`;
  const name = CONNACK_REASONS[code] ?? OTHER_REASONS[code];
  return name === undefined ? hex : `${hex} ${name}`;
}

const OTHER_REASONS: Record<number, string> = {
  0x10: "no matching subscribers",
  0x8f: "topic filter invalid",
  0x91: "packet identifier in use",
  0x9e: "shared subscriptions not supported",
  0xa1: "subscription identifiers not supported",
  0xa2: "wildcard subscriptions not supported",
};

/**
 * Creates a client from the setup and connects it. On failure prints the
 * one-line message and resolves `undefined` (exit status 1).
 *
 * @param setup From {@linkcode connectionSetup}.
 * @param ctx The context.
 * @param extra Options of the subcommand, over the setup's.
 * @returns The connected client, or `undefined`.
 * @throws {UsageError} Options the client refuses.
 */
export async function openClient(
  setup: ConnectionSetup,
  ctx: Context,
  extra: Partial<ClientOptions> = {},
): Promise<Client | undefined> {
  const options: ClientOptions = { ...setup.options, ...extra };
  if (ctx.debug !== undefined) options.logger = ctx.debug;
  let client: Client;
  try {
    client = new Client(options);
  } catch (err) {
    throw new UsageError(scrub(errorText(err), setup.secret));
  }
  const id = options.clientId ? ` as "${options.clientId}"` : "";
  ctx.debug?.debug(`connecting to ${setup.where}${id}`);
  try {
    const connack = await client.connect({ signal: ctx.signal });
    ctx.debug?.debug(`connected to ${setup.where}`, {
      clientId: client.clientId,
      sessionPresent: connack.sessionPresent,
      maximumQoS: connack.maximumQoS,
      receiveMaximum: connack.receiveMaximum,
    });
  } catch (err) {
    await client.disconnect().catch(() => {});
    if (ctx.signal.aborted) return undefined;
    report(ctx, connectFailure(err, setup.where, setup.secret));
    return undefined;
  }
  if (ctx.debug !== undefined) void logStatus(client, ctx.debug);
  return client;
}

/**
 * Disconnects, logging with `-d`; never throws.
 *
 * @param client The connected client.
 * @param ctx The context.
 * @param options From the setup's `disconnect` (`-D disconnect …`).
 */
export async function disconnect(
  client: Client,
  ctx: Context,
  options: Parameters<Client["disconnect"]>[0],
): Promise<void> {
  ctx.debug?.debug("sending DISCONNECT");
  try {
    await client.disconnect(options);
  } catch (err) {
    ctx.debug?.debug("disconnect failed", { error: errorText(err) });
  }
}

async function logStatus(client: Client, log: Logger): Promise<void> {
  for await (const e of client.status()) {
    switch (e.type) {
      case "connected":
        break; // logged by openClient (and on reconnects by the client's logger)
      case "disconnected":
        log.debug("disconnected", e.error ? { error: e.error.message } : undefined);
        break;
      case "reconnecting":
        log.debug("reconnecting", { attempt: e.attempt, delayMs: e.delayMs });
        break;
      case "server-disconnect":
        log.debug("broker sent DISCONNECT", {
          reason: reasonText(e.reasonCode),
          ...(e.reasonString ? { reasonString: e.reasonString } : {}),
        });
        break;
      default:
        log.debug(e.type);
    }
  }
}
