/**
 * A MessagePack {@linkcode Codec} for `Typed`, on
 * [`@msgpack/msgpack`](https://www.npmjs.com/package/@msgpack/msgpack) 3.x:
 * the only entry point of this package with a dependency, so that importing
 * anything else never loads it.
 *
 * MessagePack keeps what JSON loses: `Uint8Array` values travel as binary,
 * `Date`s as timestamps, and payloads are smaller and faster to parse.
 *
 * @example Publish and receive MessagePack values
 * ```ts ignore
 * import { Client, Typed } from "@mqttv5/client";
 * import { msgpackCodec } from "@mqttv5/client/codec/msgpack";
 *
 * await using client = new Client({ broker: "mqtt://localhost:1883" });
 * await client.connect();
 * const frames = new Typed(client, msgpackCodec<{ id: number; data: Uint8Array }>());
 * await frames.publish({ topic: "frames/1", qos: 1 }, { id: 1, data: new Uint8Array([1, 2]) });
 * ```
 *
 * @example Encode and decode directly
 * ```ts
 * import { msgpackCodec } from "@mqttv5/client/codec/msgpack";
 *
 * const codec = msgpackCodec<{ id: number; tags: string[] }>();
 * const bytes = codec.encode({ id: 7, tags: ["a"] });
 * console.log(codec.decode(bytes).id); // 7
 * ```
 *
 * @module
 */

import { Decoder, Encoder } from "npm:@msgpack/msgpack@^3";
import type { Codec } from "./typed.ts";

export type { Codec } from "./typed.ts";

/**
 * Encoder settings, passed to `@msgpack/msgpack`'s `Encoder`.
 *
 * @example Usage
 * ```ts
 * import type { MsgpackEncodeOptions } from "@mqttv5/client/codec/msgpack";
 * const canonical: MsgpackEncodeOptions = { sortKeys: true, ignoreUndefined: true };
 * ```
 */
export interface MsgpackEncodeOptions {
  /**
   * Sort object keys, for a canonical encoding.
   *
   * @default {false}
   */
  sortKeys?: boolean;
  /**
   * Leave out object properties whose value is `undefined`, as `JSON.stringify` does.
   *
   * @default {false}
   */
  ignoreUndefined?: boolean;
  /**
   * Encode `bigint` as int64 / uint64.
   *
   * @default {false}
   */
  useBigInt64?: boolean;
  /**
   * Encode non-integer numbers as float32.
   *
   * @default {false}
   */
  forceFloat32?: boolean;
  /**
   * Encode integers as floats too.
   *
   * @default {false}
   */
  forceIntegerToFloat?: boolean;
  /**
   * Deepest nesting of arrays and objects.
   *
   * @default {100}
   */
  maxDepth?: number;
  /**
   * Initial size of the encoder's buffer in bytes.
   *
   * @default {2048}
   */
  initialBufferSize?: number;
  /**
   * An `ExtensionCodec` of `@msgpack/msgpack`, for your own extension types.
   *
   * @default {timestamps only}
   */
  extensionCodec?: object;
}

/**
 * Decoder settings, passed to `@msgpack/msgpack`'s `Decoder`. The limits
 * bound what a hostile payload can make the decoder allocate.
 *
 * @example Usage
 * ```ts
 * import type { MsgpackDecodeOptions } from "@mqttv5/client/codec/msgpack";
 * const strict: MsgpackDecodeOptions = { maxStrLength: 4096, maxArrayLength: 1000 };
 * ```
 */
export interface MsgpackDecodeOptions {
  /**
   * Decode int64 / uint64 as `bigint`.
   *
   * @default {false}
   */
  useBigInt64?: boolean;
  /**
   * Return strings as their raw bytes (`Uint8Array`) instead of decoding UTF-8.
   *
   * @default {false}
   */
  rawStrings?: boolean;
  /**
   * Longest string in bytes.
   *
   * @default {4294967295}
   */
  maxStrLength?: number;
  /**
   * Longest binary value in bytes.
   *
   * @default {4294967295}
   */
  maxBinLength?: number;
  /**
   * Most elements in an array.
   *
   * @default {4294967295}
   */
  maxArrayLength?: number;
  /**
   * Most entries in a map.
   *
   * @default {4294967295}
   */
  maxMapLength?: number;
  /**
   * Longest extension value in bytes.
   *
   * @default {4294967295}
   */
  maxExtLength?: number;
  /**
   * An `ExtensionCodec` of `@msgpack/msgpack`, for your own extension types.
   *
   * @default {timestamps only}
   */
  extensionCodec?: object;
}

/**
 * Options of {@linkcode msgpackCodec}.
 *
 * @example Sort keys on encode
 * ```ts
 * import type { MsgpackCodecOptions } from "@mqttv5/client/codec/msgpack";
 *
 * const options: MsgpackCodecOptions = { encoder: { sortKeys: true } };
 * ```
 */
export interface MsgpackCodecOptions {
  /**
   * Encoder settings.
   *
   * @default {the library's defaults}
   */
  encoder?: MsgpackEncodeOptions;
  /**
   * Decoder settings.
   *
   * @default {the library's defaults}
   */
  decoder?: MsgpackDecodeOptions;
}

/**
 * A {@linkcode Codec} that encodes values as MessagePack and decodes them
 * back, with one `Encoder` and one `Decoder` of `@msgpack/msgpack` per codec
 * (both re-entrant). `encode` returns a fresh buffer. Decoding rejects
 * malformed input and trailing bytes after the value. Values are not checked
 * against `T`: the type parameter is what you promise the payloads contain.
 *
 * @typeParam T The value type.
 * @param options Encoder and decoder options.
 * @returns The codec.
 *
 * @example Canonical encoding with 64-bit integers as bigint
 * ```ts
 * import { msgpackCodec } from "@mqttv5/client/codec/msgpack";
 *
 * const codec = msgpackCodec<{ n: bigint }>({
 *   encoder: { useBigInt64: true, sortKeys: true },
 *   decoder: { useBigInt64: true },
 * });
 * console.log(codec.decode(codec.encode({ n: 2n ** 60n })).n); // 1152921504606846976n
 * ```
 */
export function msgpackCodec<T>(options: MsgpackCodecOptions = {}): Codec<T> {
  // The option shapes mirror the library's; an extensionCodec is passed through as given.
  const encoder = new Encoder(options.encoder as ConstructorParameters<typeof Encoder>[0]);
  const decoder = new Decoder(options.decoder as ConstructorParameters<typeof Decoder>[0]);
  return {
    encode(value: T): Uint8Array {
      return encoder.encode(value);
    },
    decode(bytes: Uint8Array): T {
      return decoder.decode(bytes) as T;
    },
  };
}
