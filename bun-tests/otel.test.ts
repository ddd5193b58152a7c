// instrument() and messageContext() of the ./otel entry under `bun test`: the cases of
// tests/otel/otel_cases.ts, also run by tests/otel/otel_test.ts.
//
// src/otel/mod.ts imports `npm:@opentelemetry/api@^1` (a Deno / JSR specifier; JSR's
// npm compatibility layer rewrites it for Bun and Node consumers, and the npm package
// build does too). Bun does not resolve `npm:` specifiers, so this runner loads that
// one module with the specifier rewritten to the bare `@opentelemetry/api` of the dev
// dependencies (a Bun runtime plugin, as bun-tests/typed.test.ts does for msgpack).
import { test } from "bun:test";
import { rewriteNpmSpecifiers } from "./_npm_specifiers.ts";

rewriteNpmSpecifiers("npm-specifiers-otel", /[\\/]src[\\/]otel[\\/]mod\.ts$/);

const { cases } = await import("../tests/otel/otel_cases.ts");

const TIMEOUT_MS = 60_000;

for (const c of cases) test(c.name, c.fn, TIMEOUT_MS);
