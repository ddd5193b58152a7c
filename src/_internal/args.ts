/**
 * The one rule for bad arguments, in one place: a value of the wrong type is
 * a `TypeError`, a value of the right type outside what is allowed is a
 * `RangeError`; the message names the argument and the rule. Internal: not
 * exported from `mod.ts`.
 *
 * @module
 */

/**
 * Checks an integer argument.
 *
 * @param what How messages name it (`option keepAliveSeconds`, `QueuePublisher maxSize`).
 * @param v The value given.
 * @param min The smallest allowed.
 * @param max The largest allowed.
 * @returns `v`.
 * @throws {TypeError} When `v` is not a number.
 * @throws {RangeError} When it is not an integer in `min..max`.
 */
export function checkInt(
  what: string,
  v: unknown,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof v !== "number") throw new TypeError(`${what} must be a number, got ${typeof v}`);
  if (!Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    throw new RangeError(`${what} must be an integer ${range}, got ${v}`);
  }
  return v;
}

/**
 * Checks a duration in milliseconds.
 *
 * @param what How messages name it.
 * @param v The value given.
 * @param allowZero Whether 0 is allowed.
 * @returns `v`.
 * @throws {TypeError} When `v` is not a number.
 * @throws {RangeError} When it is negative, not finite, or 0 where 0 is not allowed.
 */
export function checkMs(what: string, v: unknown, allowZero: boolean): number {
  if (typeof v !== "number") throw new TypeError(`${what} must be a number, got ${typeof v}`);
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new RangeError(
      `${what} must be a ${allowZero ? "non-negative" : "positive"} number of milliseconds, ` +
        `got ${v}`,
    );
  }
  return v;
}

/**
 * Checks that `value` is one of the strings of an enumeration.
 *
 * @param what How messages name it (`option dropPolicy`).
 * @param value The value given.
 * @param allowed The enumeration.
 * @returns `value`, typed.
 * @throws {TypeError} When `value` is not a string.
 * @throws {RangeError} When `value` is a string outside `allowed`.
 */
export function checkEnum<T extends string>(
  what: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (typeof value !== "string") {
    throw new TypeError(`${what} must be a string, got ${typeof value}`);
  }
  if (!allowed.includes(value as T)) {
    const list = allowed.map((a) => `"${a}"`).join(", ");
    throw new RangeError(`${what} must be one of ${list}, got "${value}"`);
  }
  return value as T;
}
