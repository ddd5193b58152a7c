/**
 * {@linkcode GroupError}: the `AggregateError` a `ClientGroup` rejects with
 * when members failed.
 *
 * @module
 */

import { errorMessage } from "../_internal/error.ts";

/**
 * The `ClientGroup` operations that can fail member by member.
 *
 * @example Branch on the failed operation
 * ```ts
 * import type { GroupOperation } from "@mqttv5/client";
 *
 * const retryable = (op: GroupOperation) => op === "publish" || op === "connect";
 * ```
 */
export type GroupOperation = "connect" | "disconnect" | "publish" | "subscribe" | "unsubscribe";

/**
 * A `ClientGroup` operation that failed on some members (`connect`,
 * `disconnect`, `unsubscribe`) or on every member it tried (`publish`,
 * `subscribe`). An `AggregateError`: `errors` holds each failed member's
 * error, unchanged, in member order; `failures` maps member names to them.
 *
 * @example Find out which members failed to connect
 * ```ts
 * import { GroupError } from "@mqttv5/client";
 *
 * function report(err: unknown) {
 *   if (err instanceof GroupError) {
 *     for (const [member, cause] of err.failures) console.warn(member, cause);
 *   }
 * }
 * ```
 */
export class GroupError extends AggregateError {
  /** The operation that failed. */
  readonly operation: GroupOperation;
  /** Each failed member's error, keyed by member name, in member order. */
  readonly failures: ReadonlyMap<string, unknown>;

  /**
   * Collects the failures of one operation.
   *
   * @param operation The operation that failed.
   * @param failures Each failed member's error, keyed by member name.
   */
  constructor(operation: GroupOperation, failures: ReadonlyMap<string, unknown>) {
    const parts = [...failures].map(([name, err]) => `${name}: ${errorMessage(err)}`);
    super(
      [...failures.values()],
      `ClientGroup ${operation} failed on ${failures.size} member(s): ${parts.join("; ")}`,
    );
    this.name = "GroupError";
    this.operation = operation;
    this.failures = failures;
  }
}
