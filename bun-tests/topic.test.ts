// The topic tests of tests/topic/, run under `bun test` from the same case tables.
import { expect, test } from "bun:test";
import { splitSharedFilter, topicFilterError, topicNameError } from "../src/topic/mod.ts";
import {
  type Check,
  compareWithReference,
  matchGroups,
  runMatchGroup,
  runValidationGroup,
  splitSharedCases,
  topicFilterGroups,
  topicNameGroups,
  trieBehaviours,
} from "../tests/topic/cases.ts";

const check: Check = {
  equal(actual, expected, message) {
    try {
      expect(actual).toStrictEqual(expected);
    } catch (err) {
      if (message === undefined) throw err;
      throw new Error(`${message}: ${(err as Error).message}`, { cause: err });
    }
  },
};

for (const group of topicNameGroups) {
  test(`topicNameError() ${group.title}`, () => runValidationGroup(check, topicNameError, group));
}

for (const group of topicFilterGroups) {
  test(`topicFilterError() ${group.title}`, () =>
    runValidationGroup(check, topicFilterError, group));
}

test("splitSharedFilter() splits $share/{group}/{filter} [MQTT-4.8.2-1] [MQTT-4.8.2-2]", () => {
  for (const [filter, expected] of splitSharedCases) {
    check.equal(splitSharedFilter(filter), expected, JSON.stringify(filter));
  }
});

test("topicFilterError() rejects every filter splitSharedFilter() finds malformed", () => {
  for (const [filter, expected] of splitSharedCases) {
    if (expected === null) check.equal(typeof topicFilterError(filter), "string", filter);
  }
});

for (const group of matchGroups) {
  test(`TopicTrie ${group.title}`, () => runMatchGroup(check, group));
}

for (const behaviour of trieBehaviours) {
  test(`TopicTrie ${behaviour.title}`, () => behaviour.run(check));
}

test("TopicTrie agrees with a naive matcher on 3,000 random filters and 1,000 topics", () => {
  compareWithReference(check, { seed: 0x5eed, filters: 3000, topics: 1000 });
});

test("TopicTrie agrees with a naive matcher across 50 seeds on small tries", () => {
  for (let seed = 1; seed <= 50; seed++) {
    compareWithReference(check, { seed, filters: 40, topics: 60 });
  }
});
