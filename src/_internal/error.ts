/**
 * One copy of the small error helpers every layer uses. Internal: not
 * exported from `mod.ts`.
 *
 * @module
 */

/**
 * `e` itself when it is an `Error`, else an `Error` with its text (a thrown
 * string or value from user code).
 *
 * @param e Whatever was thrown.
 * @returns An Error.
 */
export function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * The message of whatever was thrown.
 *
 * @param e Whatever was thrown.
 * @returns Its message, or its text.
 */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
