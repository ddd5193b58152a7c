import assert from "node:assert/strict";
import {
  type Check,
  compareWithReference,
  matchGroups,
  runMatchGroup,
  trieBehaviours,
} from "./cases.ts";

const check: Check = {
  equal: (actual, expected, message) => assert.deepStrictEqual(actual, expected, message),
};

for (const group of matchGroups) {
  Deno.test(`TopicTrie ${group.title}`, () => runMatchGroup(check, group));
}

for (const behaviour of trieBehaviours) {
  Deno.test(`TopicTrie ${behaviour.title}`, () => behaviour.run(check));
}

Deno.test("TopicTrie agrees with a naive matcher on 3,000 random filters and 1,000 topics", () => {
  compareWithReference(check, { seed: 0x5eed, filters: 3000, topics: 1000 });
});

Deno.test("TopicTrie agrees with a naive matcher across 50 seeds on small tries", () => {
  for (let seed = 1; seed <= 50; seed++) {
    compareWithReference(check, { seed, filters: 40, topics: 60 });
  }
});
