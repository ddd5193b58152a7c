/**
 * Case tables for the topic module, shared by the Deno tests
 * (`tests/topic/*_test.ts`) and the Bun test (`bun-tests/topic.test.ts`).
 * Plain data and small functions only: no runtime-specific APIs, and the
 * behaviour cases take their assertion through {@linkcode Check} so each
 * runner plugs in its own.
 *
 * @module
 */

import { TopicTrie } from "../../src/topic/mod.ts";
import { _nodeCount } from "../../src/topic/trie.ts";

/** The one assertion the shared runners need: deep strict equality. */
export interface Check {
  equal(actual: unknown, expected: unknown, message?: string): void;
}

// ---------------------------------------------------------------------------
// Validation

/** A group of inputs to one validator that must all be valid, or all invalid. */
export interface ValidationGroup {
  /** The test name, without the function name. */
  title: string;
  /** `true` when the validator must return `undefined` for every input. */
  valid: boolean;
  inputs: string[];
}

/** Cases for `topicNameError`. */
export const topicNameGroups: ValidationGroup[] = [
  {
    title: "accepts topic names of one or more levels, empty levels included",
    valid: true,
    inputs: [
      "a",
      "a/b",
      "sport/tennis/player1",
      "/",
      "//",
      "/a",
      "a/",
      "a//b",
      " ",
      "$SYS/broker/load",
      "$share/g/a",
      "日本/東京",
      "\u{1F600}",
    ],
  },
  { title: "rejects an empty topic name [MQTT-4.7.3-1]", valid: false, inputs: [""] },
  {
    title: "rejects wildcards anywhere in a topic name [MQTT-3.3.2-2]",
    valid: false,
    inputs: ["+", "#", "a/+", "a/#", "+/a", "a+b", "a#", "sport/tennis/#", "$SYS/+"],
  },
];

/** Cases for `topicFilterError`. */
export const topicFilterGroups: ValidationGroup[] = [
  {
    title: "accepts filters without wildcards",
    valid: true,
    inputs: [
      "a",
      "a/b",
      "/",
      "a//b",
      "/a",
      "a/",
      "$SYS/broker",
      "$share",
      "$sharex/a",
      "$SHARE/g/a",
    ],
  },
  {
    title: "accepts '#' alone in the last level [MQTT-4.7.1-1]",
    valid: true,
    inputs: ["#", "a/#", "/#", "a//#", "sport/tennis/player1/#", "$SYS/#", "+/#"],
  },
  {
    title: "accepts '+' alone in any level [MQTT-4.7.1-2]",
    valid: true,
    inputs: ["+", "+/+", "a/+", "+/a", "/+", "+/", "a/+/b", "+/tennis/#", "sport/+/player1"],
  },
  { title: "rejects an empty filter [MQTT-4.7.3-1]", valid: false, inputs: [""] },
  {
    title: "rejects '#' that is not the last level or shares its level [MQTT-4.7.1-1]",
    valid: false,
    inputs: ["a/#/b", "#/a", "#/", "a/#/", "##", "a#", "#a", "a/b#", "sport/tennis#", "+#"],
  },
  {
    title: "rejects '+' that shares its level [MQTT-4.7.1-2]",
    valid: false,
    inputs: ["a+", "+a", "a/+b", "a/b+/c", "++", "sport+", "+/a+", "a/+x/#"],
  },
  {
    title: "accepts shared filters with a share name and a valid filter [MQTT-4.8.2-1]",
    valid: true,
    inputs: [
      "$share/g/a",
      "$share/g/#",
      "$share/g/+",
      "$share/g/+/x/#",
      "$share/group-1/a/b/c",
      "$share/g//",
      "$share/g/$SYS/#",
      "$share/g/$share/h/a",
    ],
  },
  {
    title: "rejects shared filters without a share name [MQTT-4.8.2-1]",
    valid: false,
    inputs: ["$share/", "$share//a", "$share//#"],
  },
  {
    title: "rejects share names with wildcards or without a filter after them [MQTT-4.8.2-2]",
    valid: false,
    inputs: ["$share/g", "$share/g/", "$share/+/a", "$share/#/a", "$share/g+/a", "$share/g#/a"],
  },
  {
    title: "rejects shared filters whose filter is invalid [MQTT-4.8.2-2]",
    valid: false,
    inputs: ["$share/g/a/#/b", "$share/g/a+", "$share/g/#a"],
  },
];

/** Checks every input of `group` against `validate`. */
export function runValidationGroup(
  check: Check,
  validate: (input: string) => string | undefined,
  group: ValidationGroup,
): void {
  for (const input of group.inputs) {
    const error = validate(input);
    if (group.valid) check.equal(error, undefined, `${JSON.stringify(input)} is valid`);
    else check.equal(typeof error, "string", `${JSON.stringify(input)} is invalid`);
  }
}

/** Cases for `splitSharedFilter`: `null` = malformed, `undefined` = not shared. */
export const splitSharedCases: [string, { group: string; filter: string } | null | undefined][] = [
  ["$share/g/a", { group: "g", filter: "a" }],
  ["$share/workers/jobs/#", { group: "workers", filter: "jobs/#" }],
  ["$share/g/+/x", { group: "g", filter: "+/x" }],
  ["$share/g//", { group: "g", filter: "/" }],
  ["$share/g/$share/h/a", { group: "g", filter: "$share/h/a" }],
  ["$share/", null],
  ["$share//a", null],
  ["$share/g", null],
  ["$share/g/", null],
  ["$share/+/a", null],
  ["$share/g#/a", null],
  ["a/b", undefined],
  ["$share", undefined],
  ["$sharex/g/a", undefined],
  ["$SHARE/g/a", undefined],
  ["#", undefined],
];

// ---------------------------------------------------------------------------
// Matching

/** A group of `[filter, topic, matches]` cases checked against a trie. */
export interface MatchGroup {
  /** The test name, without "TopicTrie". */
  title: string;
  cases: [filter: string, topic: string, matches: boolean][];
}

/** Filter/topic pairs: each is checked alone, then all together in one trie. */
export const matchGroups: MatchGroup[] = [
  {
    title: "matches filters without wildcards level by level",
    cases: [
      ["a", "a", true],
      ["a/b", "a/b", true],
      ["a/b/c", "a/b/c", true],
      ["a/b", "a", false],
      ["a", "a/b", false],
      ["a/b", "a/c", false],
      ["a/b", "ab", false],
      ["ab", "a", false],
      ["a", "ab", false],
      ["/", "/", true],
      ["/a", "/a", true],
      ["/a", "a", false],
      ["a/", "a/", true],
      ["a/", "a", false],
      ["a//b", "a//b", true],
      ["a//b", "a/b", false],
    ],
  },
  {
    title: "compares levels exactly, without normalization [MQTT-4.7.3-4]",
    cases: [
      ["a/B", "a/b", false],
      ["ACCOUNTS", "Accounts", false],
      ["caf\u00e9", "cafe\u0301", false],
      ["caf\u00e9", "caf\u00e9", true],
      [" a", "a", false],
      [" a", " a", true],
      ["日本/+", "日本/東京", true],
      ["\u{1F600}/x", "\u{1F600}/x", true],
    ],
  },
  {
    title: "matches '+' one level only [MQTT-4.7.1-2]",
    cases: [
      ["+", "a", true],
      ["+", "a/b", false],
      ["+", "/", false],
      ["a/+", "a/b", true],
      ["a/+", "a/b/c", false],
      ["a/+", "a", false],
      ["a/+", "a/", true],
      ["+/b", "a/b", true],
      ["+/b", "a/c", false],
      ["a/+/c", "a/b/c", true],
      ["a/+/c", "a//c", true],
      ["a/+/c", "a/b/d", false],
      ["+/+", "/", true],
      ["+/+", "a/b", true],
      ["+/+", "a", false],
      ["/+", "/finance", true],
      ["+", "/finance", false],
      ["sport/tennis/+", "sport/tennis/player1", true],
      ["sport/tennis/+", "sport/tennis/player1/ranking", false],
      ["sport/+", "sport", false],
      ["sport/+", "sport/", true],
    ],
  },
  {
    title: "matches '#' at its level and every level below [MQTT-4.7.1-1]",
    cases: [
      ["#", "a", true],
      ["#", "a/b/c", true],
      ["#", "/", true],
      ["a/#", "a/b", true],
      ["a/#", "a/b/c/d", true],
      ["a/#", "a/", true],
      ["a/#", "b/a", false],
      ["a/#", "ab", false],
      ["a/#", "ab/c", false],
      ["/#", "/", true],
      ["/#", "/a/b", true],
      ["/#", "a", false],
      ["sport/tennis/player1/#", "sport/tennis/player1/ranking", true],
      ["sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true],
      ["sport/tennis/player1/#", "sport/tennis/player2", false],
    ],
  },
  {
    title: "matches '#' against its parent level [MQTT-4.7.1-1]",
    cases: [
      ["a/#", "a", true],
      ["sport/#", "sport", true],
      ["sport/tennis/player1/#", "sport/tennis/player1", true],
      ["a/b/#", "a", false],
      ["+/#", "a", true],
      ["a/+/#", "a", false],
      ["a/+/#", "a/b", true],
    ],
  },
  {
    title: "matches '+' and '#' together",
    cases: [
      ["+/#", "a/b", true],
      ["+/+/#", "a", false],
      ["+/+/#", "a/b", true],
      ["+/+/#", "a/b/c/d", true],
      ["a/+/#", "a/b/c/d", true],
      ["+/tennis/#", "sport/tennis", true],
      ["+/tennis/#", "sport/tennis/x/y", true],
      ["+/tennis/#", "sport/golf", false],
      ["+/+/+", "a/b/c", true],
      ["+/+/+", "a/b/c/d", false],
    ],
  },
  {
    title: "does not match '$' topics with filters starting with a wildcard [MQTT-4.7.2-1]",
    cases: [
      ["#", "$SYS", false],
      ["#", "$SYS/broker/clients", false],
      ["+", "$SYS", false],
      ["+/monitor/Clients", "$SYS/monitor/Clients", false],
      ["+/#", "$x/y", false],
      ["$SYS/#", "$SYS/monitor/Clients", true],
      ["$SYS/#", "$SYS", true],
      ["$SYS/monitor/+", "$SYS/monitor/Clients", true],
      ["$SYS", "$SYS", true],
      ["$", "$", true],
      ["a/#", "a/$b", true],
      ["a/+", "a/$b", true],
      ["#", "a$", true],
      ["+", "x$", true],
    ],
  },
  {
    title: "matches shared filters without their '$share/{group}/' prefix [MQTT-4.8.2-1]",
    cases: [
      ["$share/g/a/b", "a/b", true],
      ["$share/g/a/+", "a/b", true],
      ["$share/g/a/#", "a", true],
      ["$share/g/#", "a/b", true],
      ["$share/g/a", "$share/g/a", false],
      ["$share/g/#", "$share/g/a", false],
      ["$share/g/#", "$SYS/x", false],
      ["$share/g/$SYS/#", "$SYS/x", true],
      ["$share", "$share", true],
    ],
  },
];

/**
 * Checks a match group: each case alone in a trie (its value is visited
 * exactly when it matches; the reference {@linkcode naiveMatch} agrees), then all of the group's filters in one trie (each
 * topic sees at least the filters its cases say match and none they say do not).
 */
export function runMatchGroup(check: Check, group: MatchGroup): void {
  for (const [filter, topic, matches] of group.cases) {
    const trie = new TopicTrie<string>();
    trie.add(filter, "v");
    const verb = matches ? "matches" : "does not match";
    check.equal(naiveMatch(filter, topic), matches, `reference: ${filter} ${verb} ${topic}`);
    check.equal(
      visits(trie, topic),
      matches ? [`v ${filter}`] : [],
      `${JSON.stringify(filter)} ${verb} ${JSON.stringify(topic)}`,
    );
  }
  const trie = new TopicTrie<string>();
  for (const [filter] of group.cases) trie.add(filter, "v");
  for (const [filter, topic, matches] of group.cases) {
    const visited = visits(trie, topic).includes(`v ${filter}`);
    const verb = matches ? "matches" : "does not match";
    check.equal(visited, matches, `among the group, ${JSON.stringify(filter)} ${verb} ${topic}`);
  }
}

// ---------------------------------------------------------------------------
// The reference matcher and the randomized comparison

/**
 * A deliberately naive matcher written straight from §4.7, to check the trie
 * against: split both strings, compare level by level.
 */
export function naiveMatch(filter: string, topic: string): boolean {
  return naiveMatchLevels(referenceLevels(filter), topic, topic.split("/"));
}

/** The levels of `filter` that are matched: §4.8.2 drops `$share/{group}/`. */
function referenceLevels(filter: string): string[] {
  const levels = filter.split("/");
  return levels[0] === "$share" && levels.length > 2 ? levels.slice(2) : levels;
}

function naiveMatchLevels(levels: string[], topic: string, topicLevels: string[]): boolean {
  if (topic.length === 0) return false;
  if (topic[0] === "$" && (levels[0] === "+" || levels[0] === "#")) return false; // [MQTT-4.7.2-1]
  for (let i = 0; i < levels.length; i++) {
    if (levels[i] === "#") return true; // [MQTT-4.7.1-1] zero or more levels
    if (i >= topicLevels.length) return false;
    if (levels[i] !== "+" && levels[i] !== topicLevels[i]) return false; // [MQTT-4.7.1-2]
  }
  return levels.length === topicLevels.length;
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOPIC_LEVELS = ["a", "b", "c", "", "ab", "$x"];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

/** A random topic name of 1 to 5 levels, sometimes starting with `$`. */
export function randomTopic(random: () => number): string {
  const count = 1 + Math.floor(random() * 5);
  const levels: string[] = [];
  for (let i = 0; i < count; i++) levels.push(pick(random, TOPIC_LEVELS));
  return levels.join("/") || "x"; // [MQTT-4.7.3-1] not empty
}

/** A random valid topic filter: 1 to 5 levels, `+`, a final `#`, sometimes shared. */
export function randomFilter(random: () => number): string {
  const count = 1 + Math.floor(random() * 5);
  const levels: string[] = [];
  for (let i = 0; i < count; i++) {
    levels.push(random() < 0.3 ? "+" : pick(random, TOPIC_LEVELS));
  }
  if (random() < 0.25) levels[count - 1] = "#";
  const filter = levels.join("/") || "x"; // [MQTT-4.7.3-1] not empty
  return random() < 0.1 ? `$share/${pick(random, ["g", "h"])}/${filter}` : filter;
}

// ---------------------------------------------------------------------------
// Behaviours, run through an injected assertion

/** Every (value, filter) visit of `trie.match(topic)`, sorted, as `"value filter"`. */
export function visits<T>(trie: TopicTrie<T>, topic: string): string[] {
  const seen: string[] = [];
  trie.match(topic, (value, filter) => {
    seen.push(`${String(value)} ${filter}`);
  });
  return seen.sort();
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** A named behaviour of the trie. */
export interface TrieBehaviour {
  /** The test name, without "TopicTrie". */
  title: string;
  run(check: Check): void;
}

/** Behaviours of add/remove/size/clear/match beyond the match tables. */
export const trieBehaviours: TrieBehaviour[] = [
  {
    title: "add() stores several values per filter",
    run(check) {
      const trie = new TopicTrie<number>();
      trie.add("a/b", 1);
      trie.add("a/b", 2);
      trie.add("a/b", 3);
      check.equal(trie.size, 3);
      check.equal(visits(trie, "a/b"), ["1 a/b", "2 a/b", "3 a/b"]);
    },
  },
  {
    title: "add() stores a value once per filter",
    run(check) {
      const trie = new TopicTrie<unknown>();
      const handler = { id: 1 };
      trie.add("a/+", handler);
      trie.add("a/+", handler);
      trie.add("a/+", { id: 1 }); // another object: compared by identity
      trie.add("a/+", NaN);
      trie.add("a/+", NaN); // SameValueZero, like Set
      check.equal(trie.size, 3);
      check.equal(trie.matches("a/b").length, 3);
      check.equal(trie.matches("a/b").filter((v) => v === handler).length, 1);
    },
  },
  {
    title: "visits a value once per matching filter",
    run(check) {
      const trie = new TopicTrie<number>();
      for (const filter of ["a/b", "a/+", "+/b", "a/#", "#", "+/+", "a/b/#", "a/c"]) {
        trie.add(filter, 1);
      }
      trie.add("#", 2);
      check.equal(trie.size, 9);
      check.equal(visits(trie, "a/b"), [
        "1 #",
        "1 +/+",
        "1 +/b",
        "1 a/#",
        "1 a/+",
        "1 a/b",
        "1 a/b/#",
        "2 #",
      ]);
      check.equal(trie.matches("a/b").length, 8);
    },
  },
  {
    title: "keeps shared filters apart from their plain twins [MQTT-4.8.2-1]",
    run(check) {
      const trie = new TopicTrie<number>();
      trie.add("a/b", 1);
      trie.add("$share/g/a/b", 1);
      trie.add("$share/h/a/b", 1);
      trie.add("$share/g/a/#", 2);
      check.equal(trie.size, 4);
      check.equal(visits(trie, "a/b"), [
        "1 $share/g/a/b",
        "1 $share/h/a/b",
        "1 a/b",
        "2 $share/g/a/#",
      ]);
      check.equal(trie.remove("$share/g/a/b", 1), true);
      check.equal(trie.remove("a/#", 2), false);
      check.equal(visits(trie, "a/b"), ["1 $share/h/a/b", "1 a/b", "2 $share/g/a/#"]);
      check.equal(visits(trie, "$share/g/a/b"), []);
    },
  },
  {
    title: "add() throws a TypeError naming an invalid filter and stores nothing",
    run(check) {
      const trie = new TopicTrie<number>();
      for (const group of topicFilterGroups) {
        if (group.valid) continue;
        for (const filter of group.inputs) {
          const err = thrown(() => trie.add(filter, 1));
          check.equal(err instanceof TypeError, true, `add(${JSON.stringify(filter)}) throws`);
          check.equal(
            (err as Error).message.includes(JSON.stringify(filter)),
            true,
            `the message names ${JSON.stringify(filter)}`,
          );
        }
      }
      check.equal(trie.size, 0);
      check.equal(_nodeCount(trie), 1);
    },
  },
  {
    title: "remove() returns false for pairs that are not stored",
    run(check) {
      const trie = new TopicTrie<number>();
      check.equal(trie.remove("a/b", 1), false);
      trie.add("a/b", 1);
      trie.add("x/#", 1);
      for (
        const [filter, value] of [
          ["a/b", 2],
          ["a/c", 1],
          ["a", 1],
          ["a/b/c", 1],
          ["a/+", 1],
          ["a/#", 1],
          ["+/b", 1],
          ["x", 1],
          ["x/+", 1],
          ["$share/g/a/b", 1],
          ["a/#/b", 1],
          ["$share//a", 1],
          ["", 1],
        ] as const
      ) {
        check.equal(
          trie.remove(filter, value),
          false,
          `remove(${JSON.stringify(filter)}, ${value})`,
        );
      }
      check.equal(trie.size, 2);
      check.equal(visits(trie, "a/b"), ["1 a/b"]);
      check.equal(visits(trie, "x/y"), ["1 x/#"]);
    },
  },
  {
    title: "remove() removes one pair and prunes the nodes it empties",
    run(check) {
      const trie = new TopicTrie<number>();
      check.equal(_nodeCount(trie), 1);
      trie.add("a/b/c", 1);
      trie.add("a/b/c", 2);
      trie.add("a/+/c", 3);
      trie.add("a/b/#", 4);
      trie.add("+/+/+/+/+", 5);
      check.equal(trie.size, 5);
      const full = _nodeCount(trie);

      check.equal(trie.remove("a/b/c", 1), true);
      check.equal(trie.size, 4);
      check.equal(_nodeCount(trie), full, "a/b/c still holds 2");
      check.equal(visits(trie, "a/b/c"), ["2 a/b/c", "3 a/+/c", "4 a/b/#"]);

      check.equal(trie.remove("+/+/+/+/+", 5), true);
      check.equal(_nodeCount(trie), full - 5, "the five '+' nodes are gone");
      check.equal(trie.remove("a/b/c", 2), true);
      check.equal(_nodeCount(trie), full - 6, "the 'c' below a/b is gone");
      check.equal(visits(trie, "a/b/c"), ["3 a/+/c", "4 a/b/#"]);
      check.equal(trie.remove("a/b/#", 4), true);
      check.equal(visits(trie, "a/b"), []);
      check.equal(visits(trie, "a/b/c"), ["3 a/+/c"]);
      check.equal(trie.remove("a/+/c", 3), true);
      check.equal(trie.size, 0);
      check.equal(_nodeCount(trie), 1, "only the root is left");
      check.equal(visits(trie, "a/b/c"), []);

      trie.add("a/b/c", 6); // the pruned path is rebuilt on demand
      check.equal(visits(trie, "a/b/c"), ["6 a/b/c"]);
    },
  },
  {
    title: "remove() keeps nodes other filters still use",
    run(check) {
      const trie = new TopicTrie<number>();
      trie.add("a/b", 1);
      trie.add("a/b/c", 2);
      trie.add("a/#", 3);
      trie.add("a/c", 4);
      trie.add("a/d", 5);
      trie.add("a/e", 6);
      trie.add("a/f", 7); // 'a' now has more children than the in-place scan takes
      check.equal(trie.remove("a/b", 1), true);
      check.equal(visits(trie, "a/b/c"), ["2 a/b/c", "3 a/#"]);
      check.equal(trie.remove("a/#", 3), true);
      check.equal(visits(trie, "a"), []);
      check.equal(visits(trie, "a/b/c"), ["2 a/b/c"]);
      for (const [filter, value] of [["a/c", 4], ["a/d", 5], ["a/e", 6]] as const) {
        check.equal(trie.remove(filter, value), true);
      }
      check.equal(visits(trie, "a/f"), ["7 a/f"]);
      check.equal(visits(trie, "a/b/c"), ["2 a/b/c"]);
      check.equal(trie.size, 2);
      check.equal(_nodeCount(trie), 5, "root, a, b, c, f");
    },
  },
  {
    title: "keeps matching while a node's children grow past the in-place scan and shrink back",
    run(check) {
      const trie = new TopicTrie<number>();
      const levels = Array.from({ length: 9 }, (_, i) => `d${i}`);
      const live = new Set<number>();
      const expectAll = (stage: string) => {
        for (let i = 0; i < levels.length; i++) {
          const expected = live.has(i) ? [`${i} s/${levels[i]}/t`] : [];
          check.equal(visits(trie, `s/${levels[i]}/t`), expected, `${stage}: s/${levels[i]}/t`);
        }
      };
      // Grow one at a time past 4 children, then shrink in another order, then grow again.
      for (let i = 0; i < levels.length; i++) {
        trie.add(`s/${levels[i]}/t`, i);
        live.add(i);
        expectAll(`after adding ${i}`);
      }
      for (const i of [4, 0, 8, 2, 6, 1]) {
        check.equal(trie.remove(`s/${levels[i]}/t`, i), true);
        live.delete(i);
        expectAll(`after removing ${i}`);
      }
      for (const i of [0, 1, 2, 4]) {
        trie.add(`s/${levels[i]}/t`, i);
        live.add(i);
        expectAll(`after adding ${i} again`);
      }
      for (const i of [...live]) trie.remove(`s/${levels[i]}/t`, i);
      check.equal(_nodeCount(trie), 1, "everything pruned");
    },
  },
  {
    title: "clear() removes everything",
    run(check) {
      const trie = new TopicTrie<number>();
      trie.add("#", 1);
      trie.add("a/b", 2);
      trie.clear();
      check.equal(trie.size, 0);
      check.equal(_nodeCount(trie), 1);
      check.equal(trie.matches("a/b"), []);
      trie.add("a/b", 3);
      check.equal(trie.matches("a/b"), [3]);
    },
  },
  {
    title: "match() visits nothing for an empty topic",
    run(check) {
      const trie = new TopicTrie<number>();
      trie.add("#", 1);
      trie.add("+", 2);
      check.equal(trie.matches(""), []);
      check.equal(trie.matches("x").sort(), [1, 2]);
    },
  },
  {
    title: "match() tolerates a visitor that adds and removes entries",
    run(check) {
      const trie = new TopicTrie<number>();
      for (let i = 0; i < 5; i++) trie.add("a/+", i);
      trie.add("a/#", 9);
      trie.add("a/b", 7);
      const seen: string[] = [];
      trie.match("a/b", (value, filter) => {
        seen.push(`${value} ${filter}`);
        check.equal(trie.remove(filter, value), true, "the visited pair is still stored");
        trie.add("z", value);
      });
      check.equal(seen.sort(), ["0 a/+", "1 a/+", "2 a/+", "3 a/+", "4 a/+", "7 a/b", "9 a/#"]);
      check.equal(trie.size, 7);
      check.equal(visits(trie, "a/b"), []);
      check.equal(trie.matches("z").sort(), [0, 1, 2, 3, 4, 7, 9]);
      check.equal(_nodeCount(trie), 2, "root and z");
      trie.match("z", () => trie.clear());
      check.equal(trie.size, 0);
    },
  },
  {
    title: "match() handles filters as deep as 65,535 bytes allow [MQTT-4.7.3-3]",
    run(check) {
      const trie = new TopicTrie<number>();
      const deepest = "/".repeat(65_534); // 65,535 empty levels
      trie.add(deepest, 1);
      trie.add(`${"+/".repeat(32_767)}#`, 2);
      trie.add(`${"a/".repeat(32_767)}a`, 3);
      check.equal(trie.matches(deepest).sort(), [1, 2]);
      check.equal(trie.matches(`${"a/".repeat(32_767)}a`).sort(), [2, 3]);
      check.equal(trie.remove(deepest, 1), true);
      check.equal(trie.matches(deepest), [2]);
    },
  },
  {
    title: "size counts (filter, value) pairs",
    run(check) {
      const trie = new TopicTrie<string>();
      check.equal(trie.size, 0);
      trie.add("a", "x");
      trie.add("a", "y");
      trie.add("b", "x");
      trie.add("$share/g/a", "x");
      trie.add("a", "x");
      check.equal(trie.size, 4);
      trie.remove("a", "x");
      check.equal(trie.size, 3);
    },
  },
];

/**
 * Builds a trie from random filters and compares every visit with
 * {@linkcode naiveMatch}, before and after removing a random half of the pairs.
 */
export function compareWithReference(
  check: Check,
  options: { seed: number; filters: number; topics: number },
): void {
  const random = seededRandom(options.seed);
  const trie = new TopicTrie<number>();
  const pairs = new Map<string, [filter: string, value: number, levels: string[]]>();
  for (let i = 0; i < options.filters; i++) {
    const filter = randomFilter(random);
    const value = Math.floor(random() * 50); // values repeat across filters
    trie.add(filter, value);
    pairs.set(`${value} ${filter}`, [filter, value, referenceLevels(filter)]);
  }
  check.equal(trie.size, pairs.size, "size after adding");
  const topics: string[] = [];
  for (let i = 0; i < options.topics; i++) topics.push(randomTopic(random));

  const compare = (stage: string) => {
    for (const topic of topics) {
      const expected: string[] = [];
      const topicLevels = topic.split("/");
      for (const [key, [, , levels]] of pairs) {
        if (naiveMatchLevels(levels, topic, topicLevels)) expected.push(key);
      }
      const actual = visits(trie, topic);
      if (actual.join("\n") !== expected.sort().join("\n")) {
        check.equal(actual, expected, `${stage}: visits for ${JSON.stringify(topic)}`);
      }
    }
  };
  compare("full");

  for (const [key, [filter, value]] of [...pairs]) {
    if (random() < 0.5) continue;
    check.equal(trie.remove(filter, value), true, `remove(${JSON.stringify(filter)}, ${value})`);
    pairs.delete(key);
  }
  check.equal(trie.size, pairs.size, "size after removing");
  compare("after removal");

  for (const [filter, value] of pairs.values()) trie.remove(filter, value);
  check.equal(trie.size, 0);
  check.equal(_nodeCount(trie), 1, "everything pruned");
}
