/**
 * Topic name and topic filter rules of MQTT v5 (§4.7, §4.8.2). The functions
 * return `undefined` for a valid input and a short explanation otherwise, so
 * the codec can raise a `TypeError` when encoding and a protocol error when
 * decoding from the same rule.
 *
 * @module
 */

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;

/**
 * The parts of a `$share/{group}/{filter}` shared-subscription filter.
 *
 * @example Split a shared subscription
 * ```ts
 * import assert from "node:assert/strict";
 * import { type SharedFilter, splitSharedFilter } from "@mqttv5/client/topic";
 *
 * const shared: SharedFilter | null | undefined = splitSharedFilter("$share/workers/jobs/#");
 * assert.deepEqual(shared, { group: "workers", filter: "jobs/#" });
 * ```
 */
export interface SharedFilter {
  /** The share name (the group). */
  group: string;
  /** The filter matched against topic names. */
  filter: string;
}

/**
 * Checks a topic name: non-empty and free of the wildcards `+` and `#`
 * ([MQTT-4.7.3-1], [MQTT-3.3.2-2]).
 *
 * @param topic The topic name.
 * @returns `undefined` when valid, otherwise why it is not.
 *
 * @example Usage
 * ```ts
 * import { topicNameError } from "@mqttv5/client/topic";
 * topicNameError("a/b"); // undefined
 * topicNameError("a/+"); // "topic names must not contain wildcards"
 * ```
 */
export function topicNameError(topic: string): string | undefined {
  return stringError(topic) ?? topicNameShapeError(topic);
}

/**
 * The structural rules of {@linkcode topicNameError} alone, for the codec, which
 * has already checked the string's encoding.
 */
export function topicNameShapeError(topic: string): string | undefined {
  if (topic.length === 0) return "topic names must not be empty"; // [MQTT-4.7.3-1]
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === PLUS || c === HASH) return "topic names must not contain wildcards"; // [MQTT-3.3.2-2]
  }
  return undefined;
}

/**
 * Checks a topic filter: non-empty, `#` only as the last character and alone
 * in its level, `+` alone in its level ([MQTT-4.7.1-1], [MQTT-4.7.1-2],
 * [MQTT-4.7.3-1]), and for `$share/{group}/{filter}` a non-empty group without
 * `/`, `+` or `#` followed by a valid filter ([MQTT-4.8.2-1], [MQTT-4.8.2-2]).
 *
 * @param filter The topic filter.
 * @returns `undefined` when valid, otherwise why it is not.
 *
 * @example Usage
 * ```ts
 * import { topicFilterError } from "@mqttv5/client/topic";
 * topicFilterError("a/+/#"); // undefined
 * topicFilterError("a/#/b"); // "'#' must be the last level of a filter"
 * ```
 */
export function topicFilterError(filter: string): string | undefined {
  return stringError(filter) ?? topicFilterShapeError(filter);
}

/**
 * The structural rules of {@linkcode topicFilterError} alone, for the codec,
 * which has already checked the string's encoding.
 */
export function topicFilterShapeError(filter: string): string | undefined {
  const shared = splitSharedFilter(filter);
  if (shared === null) return "shared subscription filters are $share/{group}/{filter}";
  return shared === undefined ? plainFilterError(filter) : plainFilterError(shared.filter);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const utf8 = new TextEncoder();

/** The rules every MQTT string obeys ([MQTT-4.7.3-2], [MQTT-4.7.3-3], [MQTT-1.5.4-1]). */
function stringError(s: string): string | undefined {
  if (s.includes("\0")) return "topics must not contain U+0000"; // [MQTT-4.7.3-2]
  if (LONE_SURROGATE.test(s)) return "topics must not contain lone surrogates"; // [MQTT-1.5.4-1]
  if (s.length > 21845 && utf8.encode(s).length > 0xffff) {
    return "topics are at most 65535 UTF-8 bytes"; // [MQTT-4.7.3-3]
  }
  return undefined;
}

function plainFilterError(filter: string): string | undefined {
  const n = filter.length;
  if (n === 0) return "topic filters must not be empty"; // [MQTT-4.7.3-1]
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === HASH) {
      // [MQTT-4.7.1-1] '#' alone in its level and the last character.
      if (i !== n - 1) return "'#' must be the last level of a filter";
      if (i > 0 && filter.charCodeAt(i - 1) !== SLASH) return "'#' must occupy a whole level";
    } else if (c === PLUS) {
      // [MQTT-4.7.1-2] '+' alone in its level.
      if (i > 0 && filter.charCodeAt(i - 1) !== SLASH) return "'+' must occupy a whole level";
      if (i < n - 1 && filter.charCodeAt(i + 1) !== SLASH) return "'+' must occupy a whole level";
    }
  }
  return undefined;
}

/**
 * Splits a `$share/{group}/{filter}` filter.
 *
 * @param filter A topic filter.
 * @returns `undefined` when `filter` is not a shared subscription, `null` when it
 * starts with `$share/` but is malformed, otherwise its group and filter.
 *
 * @example Usage
 * ```ts
 * import { splitSharedFilter } from "@mqttv5/client/topic";
 * splitSharedFilter("$share/workers/jobs/#"); // { group: "workers", filter: "jobs/#" }
 * ```
 */
export function splitSharedFilter(filter: string): SharedFilter | undefined | null {
  if (!filter.startsWith("$share/")) return undefined;
  const slash = filter.indexOf("/", 7);
  if (slash <= 7) return null; // [MQTT-4.8.2-1] the share name is at least one character
  const group = filter.slice(7, slash);
  if (group.includes("+") || group.includes("#")) return null; // [MQTT-4.8.2-2]
  const rest = filter.slice(slash + 1);
  if (rest.length === 0) return null; // [MQTT-4.8.2-2] a topic filter follows the share name
  return { group, filter: rest };
}
