/**
 * The command-line parser of the CLI: mosquitto-style flags (`-t topic`,
 * `--will-topic topic`, `--url=mqtt://…`), the `-D` property form, and
 * {@linkcode UsageError}, which the entry point turns into exit status 2.
 *
 * @module
 */

/** A command line the CLI cannot accept: printed with the usage, exit status 2. */
export class UsageError extends Error {
  /**
   * @param message What is wrong, naming the flag and the rule.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * How a flag takes its argument: `"bool"` none, `"value"` the next argument
 * (the last occurrence wins), `"list"` the next argument, repeatable, and
 * `"property"` the `-D` forms (see {@linkcode PropertyArg}).
 */
export type FlagKind = "bool" | "value" | "list" | "property";

/** One flag a subcommand accepts. */
export interface FlagSpec {
  /** Its spellings: `-t`, `--topic`. */
  names: string[];
  /** Where the parsed value is kept. */
  key: string;
  /** How it takes its argument. */
  kind: FlagKind;
}

/**
 * One `-D` argument: the mosquitto form `-D command identifier value`
 * (`user-property` takes a name and a value), or the short form
 * `-D name=value`, for which `command` is `undefined` (the subcommand decides
 * what it applies to) and `identifier` is `"user-property"`.
 */
export interface PropertyArg {
  /** `connect`, `publish`, `will`, `disconnect`…; `undefined` for `-D name=value`. */
  command: string | undefined;
  /** `user-property`, `content-type`, `message-expiry-interval`… */
  identifier: string;
  /** The user property's name (user-property only). */
  name?: string;
  /** The value as typed. */
  value: string;
}

/** The parsed command line. */
export interface Flags {
  /** `"bool"` flags that were given. */
  bools: Set<string>;
  /** `"value"` flags: the last value given. */
  values: Map<string, string>;
  /** `"list"` flags: every value, in order. */
  lists: Map<string, string[]>;
  /** `-D` arguments, in order. */
  properties: PropertyArg[];
  /** The spelling used for each key, for messages (`-q` or `--qos`). */
  spelled: Map<string, string>;
}

/** The `-D` commands of mosquitto; anything else after `-D` must be `name=value`. */
const PROPERTY_COMMANDS = new Set([
  "connect",
  "publish",
  "subscribe",
  "unsubscribe",
  "disconnect",
  "will",
  "auth",
]);

/**
 * Parses `args` against `specs`. Long flags also accept `--name=value`. Values
 * are taken verbatim, even when they start with `-` (`-m -1`). There are no
 * positional arguments and no bundled short flags.
 *
 * @param args The arguments after the subcommand.
 * @param specs The flags the subcommand accepts.
 * @returns The parsed flags.
 * @throws {UsageError} An unknown flag, a missing value, or a stray argument.
 */
export function parseFlags(args: readonly string[], specs: readonly FlagSpec[]): Flags {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) for (const n of s.names) byName.set(n, s);
  const flags: Flags = {
    bools: new Set(),
    values: new Map(),
    lists: new Map(),
    properties: [],
    spelled: new Map(),
  };
  let i = 0;
  const take = (name: string): string => {
    if (i >= args.length) throw new UsageError(`${name} needs a value`);
    return args[i++];
  };
  while (i < args.length) {
    const arg = args[i++];
    let name = arg;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      if (eq > 2) {
        name = arg.slice(0, eq);
        inline = arg.slice(eq + 1);
      }
    } else if (!arg.startsWith("-") || arg === "-") {
      throw new UsageError(`unexpected argument "${arg}"`);
    }
    const spec = byName.get(name);
    if (spec === undefined) throw new UsageError(`unknown option ${name}`);
    flags.spelled.set(spec.key, name);
    switch (spec.kind) {
      case "bool":
        if (inline !== undefined) throw new UsageError(`${name} takes no value`);
        flags.bools.add(spec.key);
        break;
      case "value":
        flags.values.set(spec.key, inline ?? take(name));
        break;
      case "list": {
        const list = flags.lists.get(spec.key) ?? [];
        list.push(inline ?? take(name));
        flags.lists.set(spec.key, list);
        break;
      }
      case "property": {
        const first = inline ?? take(name);
        if (PROPERTY_COMMANDS.has(first)) {
          const identifier = take(`${name} ${first}`);
          if (identifier === "user-property") {
            const propName = take(`${name} ${first} user-property`);
            const value = take(`${name} ${first} user-property ${propName}`);
            flags.properties.push({ command: first, identifier, name: propName, value });
          } else {
            flags.properties.push({
              command: first,
              identifier,
              value: take(`${name} ${first} ${identifier}`),
            });
          }
        } else {
          const eq = first.indexOf("=");
          if (eq <= 0) {
            throw new UsageError(
              `${name} needs "command identifier value" (e.g. "publish user-property key value") or "key=value", got "${first}"`,
            );
          }
          flags.properties.push({
            command: undefined,
            identifier: "user-property",
            name: first.slice(0, eq),
            value: first.slice(eq + 1),
          });
        }
        break;
      }
    }
  }
  return flags;
}

/** The spelling to quote in a message about `key`. */
function spelling(flags: Flags, key: string, fallback: string): string {
  return flags.spelled.get(key) ?? fallback;
}

/**
 * A `"value"` flag as an integer in `min..max`.
 *
 * @param flags The parsed flags.
 * @param key The flag's key.
 * @param dflt The value when the flag is absent.
 * @param min Smallest accepted value.
 * @param max Largest accepted value.
 * @returns The integer, or `dflt`.
 * @throws {UsageError} Not an integer, or out of range.
 */
export function intFlag(
  flags: Flags,
  key: string,
  dflt: number,
  min: number,
  max: number,
): number {
  return optionalIntFlag(flags, key, min, max) ?? dflt;
}

/**
 * A `"value"` flag as an integer in `min..max`, or `undefined` when absent.
 *
 * @param flags The parsed flags.
 * @param key The flag's key.
 * @param min Smallest accepted value.
 * @param max Largest accepted value.
 * @returns The integer, or `undefined`.
 * @throws {UsageError} Not an integer, or out of range.
 */
export function optionalIntFlag(
  flags: Flags,
  key: string,
  min: number,
  max: number,
): number | undefined {
  const raw = flags.values.get(key);
  if (raw === undefined) return undefined;
  return parseIntArg(raw, spelling(flags, key, key), min, max);
}

/**
 * Parses an integer argument.
 *
 * @param raw The text.
 * @param what The flag, for the message.
 * @param min Smallest accepted value.
 * @param max Largest accepted value.
 * @returns The integer.
 * @throws {UsageError} Not an integer, or out of range.
 */
export function parseIntArg(raw: string, what: string, min: number, max: number): number {
  const n = /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${what} must be an integer, got "${raw}"`);
  if (n < min || n > max) throw new UsageError(`${what} must be in ${min}..${max}, got ${n}`);
  return n;
}

/**
 * A `"value"` flag as a finite number of seconds (fractions allowed), at least `min`.
 *
 * @param flags The parsed flags.
 * @param key The flag's key.
 * @param dflt The value when the flag is absent.
 * @param min Smallest accepted value.
 * @returns The number, or `dflt`.
 * @throws {UsageError} Not a number, or below `min`.
 */
export function secondsFlag(flags: Flags, key: string, dflt: number, min: number): number {
  const raw = flags.values.get(key);
  if (raw === undefined) return dflt;
  const n = raw.trim() === "" ? NaN : Number(raw);
  const what = spelling(flags, key, key);
  if (!Number.isFinite(n)) throw new UsageError(`${what} must be a number, got "${raw}"`);
  if (n < min) throw new UsageError(`${what} must be at least ${min}, got ${n}`);
  return n;
}

/**
 * A QoS flag.
 *
 * @param flags The parsed flags.
 * @param key The flag's key.
 * @returns 0, 1 or 2 (0 when absent).
 * @throws {UsageError} Anything else.
 */
export function qosFlag(flags: Flags, key: string): 0 | 1 | 2 {
  return intFlag(flags, key, 0, 0, 2) as 0 | 1 | 2;
}
