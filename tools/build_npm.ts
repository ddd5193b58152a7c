// Builds the npm package to dist/npm/: ES modules, .d.ts declarations and a
// package.json with an "exports" map, for Node >= 20 (and Bun, and bundlers).
//
//   deno task build:npm                  # deno run -A tools/build_npm.ts
//   cd dist/npm && npm pack              # or: npm publish
//
// The check that CI runs on it (npm pack, install into a fresh project, a QoS 1
// round trip, tsc) is node-tests/npm/check_package.mjs (`deno task test:npm`).
//
// dist/npm/
//   package.json    name and version from deno.json, "type": "module",
//                   "engines": node >= 20, "exports": one entry per deno.json
//                   export but the Deno and Bun transports (Node and Bun reach
//                   theirs through autoDial), each with "types" and "import";
//                   "bin": mqttv5 (the CLI); every `npm:` import of the sources
//                   as an optional peer dependency (see peerDependencies()).
//   mod.js, web.js, src/<path>.js    the entry points, where deno.json has them;
//                   shared code in chunk-*.js, the Deno and Bun transports in
//                   chunks of their own that Node never loads. Built like
//                   dist/node/ (tools/build_node.ts: `deno bundle`, code
//                   splitting) but with npm packages left as imports, and no
//                   source maps (the sources are not in the package).
//   mod.d.ts, web.d.ts, src/**/*.d.ts   declarations, one per source file that
//                   an entry point's declarations reach, with the JSDoc. Emitted
//                   by tsc (the `typescript` dev dependency): declarations only,
//                   without type-checking (`deno task check` does that), which
//                   is exact here because every export carries explicit types
//                   (JSR's no-slow-types rule). Relative imports are rewritten
//                   from .ts to .js, `npm:name@range` to `name`.
//   bin/mqttv5.js   `npx mqttv5 pub ...`: calls the CLI's main().
//   README.md, LICENSE
//
// Each run deletes dist/npm/ first and takes about two seconds. It fails when
// an export's file is missing, a declaration imports a file that is not there,
// or the output imports something other than `node:*`, a relative path or an
// `npm:` package with a version range.

import { bundleForNode, emptyDir, NOT_FOR_NODE, run } from "./build_node.ts";

const ROOT = new URL("../", import.meta.url);
const OUT = "dist/npm";
const OUT_URL = new URL(`${OUT}/`, ROOT);
const TSC = "node_modules/typescript/bin/tsc";

const DESCRIPTION = "A fast, ergonomic MQTT v5 client for Deno, Bun and Node, with a " +
  "web-standard core and zero runtime dependencies.";
const KEYWORDS = ["mqtt", "mqtt5", "mqttv5", "iot", "pubsub", "client", "websocket", "node", "bun"];

/** The CLI's bin script: Node before 24.2 has no `import.meta.main`, so it calls main() itself. */
const BIN = `#!/usr/bin/env node
// mqttv5: the command line of @mqttv5/client (src/cli/mod.js), as npm's bin.
// It does what src/cli/mod.ts does when Deno or Bun run it directly.
import process from "node:process";
import { main } from "../src/cli/mod.js";

const controller = new AbortController();
let signals = 0;
const onSignal = () => {
  // The first signal stops cleanly; a second one does not wait.
  if (++signals > 1) process.exit(130);
  controller.abort();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
process.exit(await main(process.argv.slice(2), { signal: controller.signal }));
`;

interface DenoConfig {
  name: string;
  version: string;
  license: string;
  exports: Record<string, string>;
}

/** One entry of package.json "exports", with the paths it names (relative, "./"). */
interface ExportEntry {
  name: string;
  source: string;
  types: string;
  import: string;
}

/** An `npm:name@range/subpath` import of the sources. */
interface NpmImport {
  name: string;
  range: string;
}

async function readConfig(): Promise<DenoConfig> {
  return JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
}

function exportEntries(config: DenoConfig): ExportEntry[] {
  return Object.entries(config.exports)
    .filter(([name]) => !NOT_FOR_NODE.has(name))
    .map(([name, source]) => ({
      name,
      source,
      types: source.replace(/\.ts$/, ".d.ts"),
      import: source.replace(/\.ts$/, ".js"),
    }));
}

/** Every file under `dir` (a directory URL), as paths relative to it. */
async function listFiles(dir: URL, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) {
      files.push(...await listFiles(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`));
    } else {
      files.push(`${prefix}${entry.name}`);
    }
  }
  return files.sort();
}

/** An import or export specifier: `from "x"`, `import("x")`, `import "x"`. */
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|^\s*import\s*)"([^"]+)"/g;

/** A line of a comment (JSDoc examples hold imports that are not the file's). */
const COMMENT_LINE = /^\s*(?:\*|\/\*|\/\/)/;

/** Applies `replace` to every specifier outside comments. */
function mapSpecifiers(text: string, replace: (spec: string) => string): string {
  return text.split("\n").map((line) =>
    COMMENT_LINE.test(line)
      ? line
      : line.replace(SPECIFIER, (_, lead: string, spec: string) => `${lead}"${replace(spec)}"`)
  ).join("\n");
}

/** The specifiers outside comments. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  mapSpecifiers(text, (spec) => (found.push(spec), spec));
  return found;
}

/**
 * Rewrites the import specifiers of one output file: `npm:name@range/sub` to
 * `name/sub` (recorded in `npm`), and with `tsToJs` relative `.ts` paths to
 * `.js`. Throws on any other kind of specifier (`jsr:`, `https:`, a bare name)
 * but `node:*` and `cloudflare:sockets`.
 */
function rewriteSpecifiers(
  text: string,
  file: string,
  npm: Map<string, NpmImport>,
  tsToJs: boolean,
): string {
  return mapSpecifiers(text, (spec) => {
    if (spec.startsWith("./") || spec.startsWith("../")) {
      return tsToJs && spec.endsWith(".ts") ? `${spec.slice(0, -3)}.js` : spec;
    }
    // node:* on Node; cloudflare:sockets exists only on Workers (transport/cloudflare).
    if (spec.startsWith("node:") || spec === "cloudflare:sockets") return spec;
    const m = /^npm:((?:@[^/@]+\/)?[^/@]+)@([^/]+)(\/.*)?$/.exec(spec);
    if (m === null) {
      throw new Error(
        `${OUT}/${file} imports "${spec}": only relative paths, node:*, cloudflare:sockets and npm:name@range work in the npm package`,
      );
    }
    const [, name, range, subpath = ""] = m;
    const seen = npm.get(name);
    if (seen !== undefined && seen.range !== range) {
      throw new Error(`npm:${name} is imported with two ranges: ${seen.range} and ${range}`);
    }
    npm.set(name, { name, range });
    return `${name}${subpath}`;
  });
}

async function bundle(entries: ExportEntry[]): Promise<void> {
  await bundleForNode(
    entries.map((e) => e.source.replace(/^\.\//, "")),
    OUT,
    ["--external=npm:*"], // npm: imports stay imports (rewriteSpecifiers names them)
  );
}

/** tsc: declarations only, into `outdir`, from the sources the entries reach. */
async function declarations(entries: ExportEntry[], outdir: URL): Promise<void> {
  try {
    await Deno.stat(new URL(TSC, ROOT));
  } catch {
    throw new Error(`${TSC} is missing: run \`npm install\` (typescript is a dev dependency)`);
  }
  const tmp = await Deno.makeTempDir({ prefix: "mqttv5-npm-" });
  try {
    const root = decodeURIComponent(ROOT.pathname);
    const tsconfig = {
      compilerOptions: {
        target: "ES2022",
        module: "ESNext",
        moduleResolution: "Bundler",
        allowImportingTsExtensions: true,
        // What deno check sees: web globals and disposables; no Deno or Node types
        // are needed, because the declarations are emitted from explicit types.
        lib: ["ES2023", "ESNext.Disposable", "DOM", "DOM.Iterable"],
        types: [],
        strict: true,
        declaration: true,
        emitDeclarationOnly: true,
        noCheck: true,
        rootDir: root,
        outDir: decodeURIComponent(outdir.pathname),
        newLine: "lf",
      },
      files: entries.map((e) => `${root}${e.source.replace(/^\.\//, "")}`),
    };
    const path = `${tmp}/tsconfig.json`;
    await Deno.writeTextFile(path, JSON.stringify(tsconfig, null, 2));
    await run(["node", TSC, "-p", path], "tsc (declarations)");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/**
 * Moves the declarations an entry point reaches from `from` into dist/npm/,
 * with rewritten specifiers; the rest (the CLI's internals, the Deno and Bun
 * transports) stay behind. Throws on a relative import with no file.
 */
async function copyDeclarations(
  entries: ExportEntry[],
  from: URL,
  npm: Map<string, NpmImport>,
): Promise<void> {
  const done = new Set<string>();
  const queue = entries.map((e) => e.types.replace(/^\.\//, ""));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    let text: string;
    try {
      text = await Deno.readTextFile(new URL(file, from));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new Error(`tsc emitted no ${file}, which a declaration imports`);
      }
      throw err;
    }
    text = rewriteSpecifiers(text, file, npm, true);
    for (const spec of specifiers(text)) {
      if (!spec.startsWith(".")) continue;
      const target = new URL(spec.replace(/\.js$/, ".d.ts"), new URL(file, OUT_URL));
      queue.push(target.href.slice(OUT_URL.href.length));
    }
    const out = new URL(file, OUT_URL);
    await Deno.mkdir(new URL("./", out), { recursive: true });
    await Deno.writeTextFile(out, text);
  }
}

/**
 * Every `npm:` import is an optional peer dependency: each sits behind an
 * entry point of its own (today `@msgpack/msgpack` behind ./codec/msgpack),
 * so the package installs nothing else and anything that does not import that
 * entry never needs it; whoever does installs it next to the client (npm
 * checks the range and warns on a mismatch).
 */
function peerDependencies(npm: Map<string, NpmImport>) {
  const names = [...npm.keys()].sort();
  if (names.length === 0) return {};
  return {
    peerDependencies: Object.fromEntries(names.map((n) => [n, npm.get(n)!.range])),
    peerDependenciesMeta: Object.fromEntries(names.map((n) => [n, { optional: true }])),
  };
}

function packageJson(config: DenoConfig, entries: ExportEntry[], npm: Map<string, NpmImport>) {
  const exports: Record<string, unknown> = {};
  for (const e of entries) exports[e.name] = { types: e.types, import: e.import };
  exports["./package.json"] = "./package.json";
  return {
    name: config.name,
    version: config.version,
    description: DESCRIPTION,
    license: config.license,
    keywords: KEYWORDS,
    type: "module",
    engines: { node: ">=20" },
    exports,
    bin: { mqttv5: "./bin/mqttv5.js" },
    ...peerDependencies(npm),
  };
}

/** Builds dist/npm/ and returns its files (relative paths) with their sizes in bytes. */
export async function buildNpm(): Promise<Map<string, number>> {
  const config = await readConfig();
  const entries = exportEntries(config);
  await emptyDir(OUT);
  const tmp = new URL(`${await Deno.makeTempDir({ prefix: "mqttv5-dts-" })}/`, "file:///");
  try {
    await Promise.all([bundle(entries), declarations(entries, tmp)]);
    const npm = new Map<string, NpmImport>();
    for (const file of await listFiles(OUT_URL)) {
      if (!file.endsWith(".js")) continue;
      const url = new URL(file, OUT_URL);
      await Deno.writeTextFile(
        url,
        rewriteSpecifiers(await Deno.readTextFile(url), file, npm, false),
      );
    }
    await copyDeclarations(entries, tmp, npm);
    await Deno.mkdir(new URL("bin/", OUT_URL));
    await Deno.writeTextFile(new URL("bin/mqttv5.js", OUT_URL), BIN, { mode: 0o755 });
    for (const name of ["README.md", "LICENSE"]) {
      await Deno.copyFile(new URL(name, ROOT), new URL(name, OUT_URL));
    }
    await Deno.writeTextFile(
      new URL("package.json", OUT_URL),
      JSON.stringify(packageJson(config, entries, npm), null, 2) + "\n",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  const files = new Map<string, number>();
  for (const file of await listFiles(OUT_URL)) {
    files.set(file, (await Deno.stat(new URL(file, OUT_URL))).size);
  }
  for (const e of entries) {
    for (const path of [e.types, e.import]) {
      if (!files.has(path.replace(/^\.\//, ""))) {
        throw new Error(`exports["${e.name}"] names ${path}, which the build did not produce`);
      }
    }
  }
  return files;
}

if (import.meta.main) {
  const started = performance.now();
  const files = await buildNpm();
  const ms = Math.round(performance.now() - started);
  const sum = (suffix: string) => {
    let n = 0, bytes = 0;
    for (const [file, size] of files) if (file.endsWith(suffix)) (n++, bytes += size);
    return `${n} ${suffix} (${(bytes / 1024).toFixed(0)} KiB)`;
  };
  console.log(`built ${OUT}/: ${sum(".js")}, ${sum(".d.ts")}, ${files.size} files, in ${ms} ms`);
}
