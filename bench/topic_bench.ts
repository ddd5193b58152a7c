/**
 * TopicTrie.match() micro benchmarks: `deno bench -A bench/topic_bench.ts`.
 *
 * The claim: matching cost stays close to flat as non-matching filters are
 * added (1, 100, 10,000), because the trie only walks the topic's own levels.
 * A linear scan over the same 10,001 filters is the contrast.
 *
 * Topics are decoded from bytes, as inbound PUBLISH topics are, rather than
 * taken from string literals: V8 interns literals and caches `split()` results
 * for them, which flatters split-based matchers and hides per-level costs.
 *
 * @module
 */

import { TopicTrie } from "../src/topic/mod.ts";

const TOPIC = "devices/sensor-42/telemetry/temperature";

/** Copies of `topic` decoded from UTF-8, rotated so no single string gets cached state. */
function wireTopics(topic: string): () => string {
  const bytes = new TextEncoder().encode(topic);
  const decoder = new TextDecoder();
  const pool = Array.from({ length: 256 }, () => decoder.decode(bytes));
  let i = 0;
  return () => pool[i++ & 255];
}

/**
 * `count` filters that do not match {@linkcode TOPIC}, in four shapes: siblings
 * at the second level, siblings at the root, siblings at the topic's last
 * level, and a `+` below a non-matching sibling.
 */
function nonMatchingFilters(count: number): string[] {
  const filters: string[] = [];
  for (let i = 0; i < count; i++) {
    switch (i % 4) {
      case 0:
        filters.push(`devices/dev-${i}/telemetry/temperature`);
        break;
      case 1:
        filters.push(`site-${i}/status`);
        break;
      case 2:
        filters.push(`devices/sensor-42/telemetry/t${i}`);
        break;
      default:
        filters.push(`devices/dev-${i}/+/temperature`);
    }
  }
  return filters;
}

let hits = 0;
const visit = (): void => {
  hits++;
};

/** Builds a trie and checks that `topic` visits exactly `expected` values. */
function trieOf(filters: string[], topic: string, expected: number): TopicTrie<number> {
  const trie = new TopicTrie<number>();
  filters.forEach((filter, i) => trie.add(filter, i));
  hits = 0;
  trie.match(topic, visit);
  if (hits !== expected) throw new Error(`expected ${expected} matches, got ${hits}`);
  return trie;
}

const next = wireTopics(TOPIC);

for (const count of [1, 100, 10_000]) {
  const trie = trieOf([...nonMatchingFilters(count), TOPIC], TOPIC, 1);
  Deno.bench({
    name: `match, 1 matching + ${count.toLocaleString("en-US")} non-matching filters`,
    group: "non-matching filters",
    baseline: count === 1,
    fn() {
      trie.match(next(), visit);
    },
  });
}

// The contrast: what the trie saves over testing every filter.
{
  const filters = [...nonMatchingFilters(10_000), TOPIC].map((filter) => filter.split("/"));
  const scan = (topic: string): void => {
    const levels = topic.split("/");
    for (const filter of filters) {
      let i = 0;
      for (; i < filter.length; i++) {
        if (filter[i] === "#") break;
        if (i >= levels.length || (filter[i] !== "+" && filter[i] !== levels[i])) {
          i = -1;
          break;
        }
      }
      if (i >= 0 && (i < filter.length || i === levels.length)) visit();
    }
  };
  hits = 0;
  scan(TOPIC);
  if (hits !== 1) throw new Error(`linear scan: expected 1 match, got ${hits}`);
  Deno.bench({
    name: "linear scan, 1 matching + 10,000 non-matching filters",
    group: "non-matching filters",
    fn() {
      scan(next());
    },
  });
}

{
  const matching = [
    "#",
    "+/#",
    "devices/#",
    "devices/+/telemetry/#",
    "+/sensor-42/#",
    "devices/+/+/temperature",
    "+/+/+/+",
    "devices/sensor-42/telemetry/temperature/#",
  ];
  const nonMatching: string[] = [];
  for (let i = 0; i < 1_000; i++) {
    nonMatching.push(`devices/+/telemetry/t${i}`, `+/dev-${i}/#`, `+/+/+/t${i}`);
  }
  const trie = trieOf([...nonMatching, ...matching], TOPIC, matching.length);
  Deno.bench({
    name: "match, 8 matching '+'/'#' filters + 3,000 non-matching wildcard filters",
    group: "wildcards",
    fn() {
      trie.match(next(), visit);
    },
  });
  const dollar = trieOf([...nonMatching, ...matching, "$SYS/#"], "$SYS/broker/load", 1);
  const nextDollar = wireTopics("$SYS/broker/load");
  Deno.bench({
    name: "match a '$' topic in the same trie (root wildcards skipped) [MQTT-4.7.2-1]",
    group: "wildcards",
    fn() {
      dollar.match(nextDollar(), visit);
    },
  });
}
