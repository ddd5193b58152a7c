/**
 * A JSON {@linkcode Codec} for `Typed`: values travel as UTF-8 JSON text. No
 * dependency beyond `JSON`, `TextEncoder` and `TextDecoder`.
 *
 * @example Publish and receive JSON values
 * ```ts ignore
 * import { Client, Typed } from "@mqttv5/client";
 * import { jsonCodec } from "@mqttv5/client/codec/json";
 *
 * await using client = new Client({ broker: "mqtt://localhost:1883" });
 * await client.connect();
 * const typed = new Typed(client, jsonCodec<{ device: string; temp: number }>());
 * await typed.publish({ topic: "sensors/a1", qos: 1 }, { device: "a1", temp: 22.5 });
 * ```
 *
 * @example Encode and decode directly
 * ```ts
 * import { jsonCodec } from "@mqttv5/client/codec/json";
 *
 * const codec = jsonCodec<{ tags: string[] }>();
 * const bytes = codec.encode({ tags: ["a", "b"] });
 * console.log(codec.decode(bytes).tags); // ["a", "b"]
 * ```
 *
 * @module
 */

import type { Codec } from "./typed.ts";

export type { Codec } from "./typed.ts";

/**
 * Options of {@linkcode jsonCodec}.
 *
 * @example Revive dates
 * ```ts
 * import { jsonCodec, type JsonCodecOptions } from "@mqttv5/client/codec/json";
 *
 * const options: JsonCodecOptions = {
 *   reviver: (key, value) => key === "at" ? new Date(value as string) : value,
 * };
 * const codec = jsonCodec<{ at: Date }>(options);
 * console.log(codec.decode(codec.encode({ at: new Date(0) })).at instanceof Date); // true
 * ```
 */
export interface JsonCodecOptions {
  /**
   * Passed to `JSON.stringify` (for example to encode `Date`s or `Map`s your way).
   *
   * @default {none}
   */
  replacer?: (this: unknown, key: string, value: unknown) => unknown;
  /**
   * Passed to `JSON.parse` (for example to revive `Date`s).
   *
   * @default {none}
   */
  reviver?: (this: unknown, key: string, value: unknown) => unknown;
}

/**
 * A {@linkcode Codec} that encodes values with `JSON.stringify` as UTF-8 and
 * decodes with `JSON.parse`. Decoding rejects payloads that are not valid
 * UTF-8 or not JSON; encoding rejects values JSON cannot represent at the top
 * level (`undefined`, functions, symbols) and whatever `JSON.stringify`
 * throws on (`BigInt`, cycles). Values are not checked against `T`: the type
 * parameter is what you promise the payloads contain.
 *
 * @typeParam T The value type.
 * @param options A `replacer` and a `reviver`.
 * @returns The codec.
 *
 * @example Usage
 * ```ts
 * import { jsonCodec } from "@mqttv5/client/codec/json";
 *
 * const codec = jsonCodec<{ at: Date }>({
 *   reviver: (key, value) => (key === "at" ? new Date(value as string) : value),
 * });
 * const value = codec.decode(codec.encode({ at: new Date(0) }));
 * console.log(value.at.getTime()); // 0
 * ```
 */
export function jsonCodec<T>(options: JsonCodecOptions = {}): Codec<T> {
  const { replacer, reviver } = options;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  return {
    encode(value: T): Uint8Array {
      const text = JSON.stringify(value, replacer);
      if (text === undefined) {
        throw new TypeError(`Cannot encode ${typeof value} as JSON`);
      }
      return encoder.encode(text);
    },
    decode(bytes: Uint8Array): T {
      return JSON.parse(decoder.decode(bytes), reviver) as T;
    },
  };
}
