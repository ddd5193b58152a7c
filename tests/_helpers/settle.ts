// Promise helpers of the client cases (protocol, auth, request): a promise
// whose outcome can be read synchronously, and an assertion on an MqttError
// rejection.

import assert from "node:assert/strict";
import { MqttError } from "../../src/errors.ts";

/** A promise whose outcome can be inspected synchronously; never unhandled. */
export interface Tracked<T> {
  promise: Promise<T>;
  readonly settled: boolean;
  readonly value: T | undefined;
  readonly error: unknown;
}

/** Tracks `promise` (see {@linkcode Tracked}). */
export function track<T>(promise: Promise<T>): Tracked<T> {
  const t = {
    promise,
    settled: false,
    value: undefined as T | undefined,
    error: undefined as unknown,
  };
  promise.then(
    (v) => {
      t.settled = true;
      t.value = v;
    },
    (e) => {
      t.settled = true;
      t.error = e;
    },
  );
  return t;
}

/** Asserts that `promise` rejects with an MqttError of `code` (and the given fields). */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  fields: Record<string, unknown> = {},
): Promise<MqttError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof MqttError, `expected an MqttError, got ${caught}`);
  assert.equal(caught.code, code, `error code (message: ${caught.message})`);
  for (const [k, v] of Object.entries(fields)) {
    assert.deepEqual((caught as unknown as Record<string, unknown>)[k], v, `error field ${k}`);
  }
  return caught;
}
