/**
 * resolveOptions(), checkDropPolicy() and parseBrokerUrl() of
 * src/client/options.ts: which error each bad option raises. Shared by
 * tests/client/options_test.ts (Deno.test) and bun-tests/options.test.ts
 * (bun:test). No broker, no I/O.
 *
 * The rule: a wrong type is a TypeError, a value out of its range or
 * enumeration a RangeError; only the broker list has MqttError codes, the Go
 * sentinels `missing-broker` and `invalid-broker-url`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MqttError } from "../../src/errors.ts";
import {
  checkDropPolicy,
  type ClientOptions,
  parseBrokerUrl,
  resolveOptions,
} from "../../src/client/options.ts";

/** One case, run by either test runner. */
export interface OptionsCase {
  name: string;
  fn: () => void;
}

const broker = "mqtt://h";

function throwsClass(
  fn: () => unknown,
  cls: TypeErrorConstructor | RangeErrorConstructor,
  what: string,
): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(!(err instanceof MqttError), `${what}: an MqttError (${String(err)})`);
    assert.equal((err as Error).constructor, cls, `${what}: ${String(err)}`);
    return true;
  });
}

function throwsCode(fn: () => unknown, code: string, what: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MqttError, `${what}: expected an MqttError, got ${String(err)}`);
    assert.equal(err.code, code, `${what}: ${err.message}`);
    return true;
  });
}

export const optionsCases: OptionsCase[] = [
  {
    name: "resolveOptions() throws RangeError for a value outside an option's enumeration",
    fn() {
      const bad: Record<string, unknown>[] = [
        { dropPolicy: "drop-all" },
        { writeOverflowPolicy: "bogus" },
        { publishMode: "eventually" },
        { publisherPool: { size: 2, routing: "random" } },
      ];
      for (const extra of bad) {
        throwsClass(
          () => resolveOptions({ broker, ...extra } as ClientOptions),
          RangeError,
          JSON.stringify(extra),
        );
      }
    },
  },
  {
    name: "resolveOptions() throws TypeError for an enumerated option that is not a string",
    fn() {
      const bad: Record<string, unknown>[] = [
        { dropPolicy: 1 },
        { writeOverflowPolicy: null },
        { publishMode: true },
        { publisherPool: { size: 2, routing: 0 } },
      ];
      for (const extra of bad) {
        throwsClass(
          () => resolveOptions({ broker, ...extra } as ClientOptions),
          TypeError,
          JSON.stringify(extra),
        );
      }
    },
  },
  {
    name: "resolveOptions() throws RangeError for a number that is not an integer",
    fn() {
      for (const v of [1.5, Number.NaN, Infinity]) {
        throwsClass(
          () => resolveOptions({ broker, keepAliveSeconds: v }),
          RangeError,
          `keepAliveSeconds ${v}`,
        );
      }
      throwsClass(
        () => resolveOptions({ broker, will: { topic: "w", delayIntervalSeconds: -1 } }),
        RangeError,
        "will.delayIntervalSeconds -1",
      );
      throwsClass(
        () => resolveOptions({ broker, publisherPool: { size: 2000 } }),
        RangeError,
        "publisherPool.size 2000",
      );
    },
  },
  {
    name:
      "resolveOptions() throws TypeError for a will topic that is not a topic name, as publish() does",
    fn() {
      const bad: ClientOptions["will"][] = [
        { topic: "status/+" },
        { topic: "" },
        { topic: 5 as unknown as string },
        { topic: "status", properties: { responseTopic: "replies/#" } },
        { topic: "status", properties: { responseTopic: 5 as unknown as string } },
      ];
      for (const will of bad) {
        throwsClass(() => resolveOptions({ broker, will }), TypeError, JSON.stringify(will));
      }
    },
  },
  {
    name: "resolveOptions() keeps the Go sentinels missing-broker and invalid-broker-url",
    fn() {
      throwsCode(() => resolveOptions({}), "missing-broker", "{}");
      throwsCode(() => resolveOptions({ brokers: [] }), "missing-broker", "brokers: []");
      throwsCode(() => resolveOptions({ broker: "" }), "invalid-broker-url", "empty");
      throwsCode(() => resolveOptions({ broker: "localhost:1883" }), "invalid-broker-url", "h:p");
      throwsCode(() => resolveOptions({ broker: "ws://h/mqtt" }), "invalid-broker-url", "ws");
    },
  },
  {
    name: "parseBrokerUrl() throws TypeError for a broker URL that is not a string",
    fn() {
      for (const raw of [1883, null, new URL("mqtt://h")]) {
        throwsClass(() => parseBrokerUrl(raw, false), TypeError, String(raw));
      }
      throwsClass(
        () => resolveOptions({ brokers: ["mqtt://a", 5 as unknown as string] }),
        TypeError,
        "brokers[1]",
      );
    },
  },
  {
    name:
      "checkDropPolicy() returns a known policy, TypeError for a non-string, RangeError for an unknown one",
    fn() {
      for (const p of ["block", "drop-newest", "drop-oldest"]) {
        assert.equal(checkDropPolicy(p), p);
      }
      throwsClass(() => checkDropPolicy(undefined), TypeError, "undefined");
      throwsClass(() => checkDropPolicy(0), TypeError, "0");
      throwsClass(() => checkDropPolicy("drop-newer"), RangeError, "drop-newer");
    },
  },
];
