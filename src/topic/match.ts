/**
 * Matching one topic name against one topic filter (MQTT §4.7), for callers
 * that already know which few filters to test; {@linkcode TopicTrie} is the
 * tool for many filters.
 *
 * @module
 */

import { splitSharedFilter } from "./validate.ts";

/**
 * Whether `topic` matches `filter`. A `$share/{group}/` prefix is ignored;
 * filters starting with a wildcard do not match topics starting with `$`
 * ([MQTT-4.7.2-1]).
 *
 * @param filter A valid topic filter.
 * @param topic A topic name.
 * @returns `true` on a match.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { topicMatchesFilter } from "./match.ts";
 *
 * assert(topicMatchesFilter("a/+/c", "a/b/c"));
 * assert(topicMatchesFilter("a/#", "a"));
 * assert(!topicMatchesFilter("#", "$SYS/uptime"));
 * ```
 */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  const shared = splitSharedFilter(filter);
  if (shared) filter = shared.filter;
  const fl = filter.length;
  const tl = topic.length;
  if (tl > 0 && topic.charCodeAt(0) === 0x24 && fl > 0) {
    const f0 = filter.charCodeAt(0);
    if (f0 === 0x2b || f0 === 0x23) return false; // [MQTT-4.7.2-1]
  }
  let fi = 0;
  let ti = 0;
  while (fi < fl) {
    const c = filter.charCodeAt(fi);
    if (c === 0x23) return true; // '#': this level and everything below (incl. the parent)
    if (c === 0x2b) {
      // '+': skip one topic level.
      if (ti > tl) return false;
      while (ti < tl && topic.charCodeAt(ti) !== 0x2f) ti++;
      fi++;
    } else {
      // Literal level: compare up to the next '/'.
      while (fi < fl && filter.charCodeAt(fi) !== 0x2f) {
        if (ti >= tl || topic.charCodeAt(ti) !== filter.charCodeAt(fi)) return false;
        fi++;
        ti++;
      }
      if (ti < tl && topic.charCodeAt(ti) !== 0x2f) return false;
    }
    // Both at a level end.
    if (fi === fl) return ti === tl;
    // filter has '/' at fi.
    fi++;
    if (ti === tl) {
      // Topic ended; only "/#" may follow in the filter (a/# matches a).
      return fi < fl && filter.charCodeAt(fi) === 0x23 && fi === fl - 1;
    }
    ti++; // skip the topic's '/'
  }
  return ti === tl && fi === fl;
}
