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

// The part of Bun's plugin API used here, reached through globalThis (as
// src/transport/bun.ts does) so that `deno check` needs no Bun typings.
interface PluginBuild {
  onLoad(
    options: { filter: RegExp },
    load: (args: { path: string }) => Promise<{ contents: string; loader: "ts" }>,
  ): void;
}
interface BunRuntime {
  plugin(plugin: { name: string; setup(build: PluginBuild): void }): void;
  file(path: string): { text(): Promise<string> };
}
const Bun = (globalThis as unknown as { Bun: BunRuntime }).Bun;

Bun.plugin({
  name: "npm-specifiers",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]codec[\\/]msgpack\.ts$/ }, async (args) => {
      const source = await Bun.file(args.path).text();
      const contents = source.replace(
        /(["'])npm:((?:@[^/"']+\/)?[^@/"']+)(?:@[^/"']*)?(["'])/g,
        "$1$2$3",
      );
      return { contents, loader: "ts" };
    });
  },
});

const { cases } = await import("../tests/codec/typed_cases.ts");

const TIMEOUT_MS = 60_000;

for (const c of cases) test(c.name, c.fn, TIMEOUT_MS);
