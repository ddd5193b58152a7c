import assert from "node:assert/strict";
import { splitSharedFilter, topicFilterError, topicNameError } from "../../src/topic/mod.ts";
import {
  type Check,
  runValidationGroup,
  splitSharedCases,
  topicFilterGroups,
  topicNameGroups,
} from "./cases.ts";

const check: Check = {
  equal: (actual, expected, message) => assert.deepStrictEqual(actual, expected, message),
};

for (const group of topicNameGroups) {
  Deno.test(`topicNameError() ${group.title}`, () => {
    runValidationGroup(check, topicNameError, group);
  });
}

for (const group of topicFilterGroups) {
  Deno.test(`topicFilterError() ${group.title}`, () => {
    runValidationGroup(check, topicFilterError, group);
  });
}

Deno.test("splitSharedFilter() splits $share/{group}/{filter} [MQTT-4.8.2-1] [MQTT-4.8.2-2]", () => {
  for (const [filter, expected] of splitSharedCases) {
    assert.deepStrictEqual(splitSharedFilter(filter), expected, JSON.stringify(filter));
  }
});

Deno.test("topicFilterError() rejects every filter splitSharedFilter() finds malformed", () => {
  for (const [filter, expected] of splitSharedCases) {
    if (expected === null) assert.equal(typeof topicFilterError(filter), "string", filter);
  }
});
