// Loads modules of ours that import `npm:` specifiers (a Deno / JSR form; JSR's
// npm compatibility layer and the npm package build rewrite them for Bun and
// Node consumers) under `bun test`, which does not resolve `npm:`: a Bun runtime
// plugin rewrites `npm:name@range` to the bare `name` of the dev dependencies in
// the files `filter` matches (onResolve does not see `npm:` specifiers, onLoad does).
// Used by typed.test.ts (msgpack) and otel.test.ts (@opentelemetry/api).

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

/**
 * Rewrites the `npm:` specifiers of the modules whose path matches `filter`.
 *
 * @param name The plugin's name.
 * @param filter Which source files to rewrite.
 */
export function rewriteNpmSpecifiers(name: string, filter: RegExp): void {
  const Bun = (globalThis as unknown as { Bun: BunRuntime }).Bun;
  Bun.plugin({
    name,
    setup(build) {
      build.onLoad({ filter }, async (args) => {
        const source = await Bun.file(args.path).text();
        const contents = source.replace(
          /(["'])npm:((?:@[^/"']+\/)?[^@/"']+)(?:@[^/"']*)?(["'])/g,
          "$1$2$3",
        );
        return { contents, loader: "ts" };
      });
    },
  });
}
