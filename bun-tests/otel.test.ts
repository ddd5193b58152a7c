// instrument() and messageContext() of the ./otel entry under `bun test`: the cases of
// tests/otel/otel_cases.ts, also run by tests/otel/otel_test.ts.
//
// src/otel/mod.ts imports `npm:@opentelemetry/api@^1` (a Deno / JSR specifier; JSR's
// npm compatibility layer rewrites it for Bun and Node consumers, and the npm package
// build does too). Bun does not resolve `npm:` specifiers, so this runner loads that
// one module with the specifier rewritten to the bare `@opentelemetry/api` of the dev
// dependencies (a Bun runtime plugin, as bun-tests/typed.test.ts does for msgpack).
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
  name: "npm-specifiers-otel",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]otel[\\/]mod\.ts$/ }, async (args) => {
      const source = await Bun.file(args.path).text();
      const contents = source.replace(
        /(["'])npm:((?:@[^/"']+\/)?[^@/"']+)(?:@[^/"']*)?(["'])/g,
        "$1$2$3",
      );
      return { contents, loader: "ts" };
    });
  },
});

const { cases } = await import("../tests/otel/otel_cases.ts");

const TIMEOUT_MS = 60_000;

for (const c of cases) test(c.name, c.fn, TIMEOUT_MS);
