// Typed, jsonCodec() and msgpackCodec() under `bun test`: the cases of
// tests/codec/typed_cases.ts, also run by tests/codec/typed_test.ts.
//
// src/codec/msgpack.ts imports `npm:@msgpack/msgpack@^3` (a Deno / JSR
// specifier; JSR's npm compatibility layer rewrites it for Bun and Node
// consumers). Bun does not resolve `npm:` specifiers, so this runner loads that
// one module with the specifier rewritten to the bare `@msgpack/msgpack` of the
// dev dependencies (a Bun runtime plugin: onResolve does not see `npm:`
// specifiers, onLoad does).
import { test } from "bun:test";
import { rewriteNpmSpecifiers } from "./_npm_specifiers.ts";

rewriteNpmSpecifiers("npm-specifiers", /[\\/]src[\\/]codec[\\/]msgpack\.ts$/);

const { cases } = await import("../tests/codec/typed_cases.ts");

const TIMEOUT_MS = 60_000;

for (const c of cases) test(c.name, c.fn, TIMEOUT_MS);
