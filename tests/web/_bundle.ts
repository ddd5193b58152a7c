// Runs the three bundlers on an entry file, with the flags a user would type
// for a browser and nothing else, and looks at what they produced.
//
//   esbuild (node_modules/.bin/esbuild, the pinned devDependency):
//     esbuild <entry> --bundle --format=esm --platform=browser [--minify] --outfile=<out>
//   Bun:  bun build <entry> --target=browser --outfile <out>
//   Deno: deno bundle --platform browser <entry> -o <out>
//
// Each bundler runs from the repository root; a failure throws with its output.

import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { findImports } from "../../tools/check_layers.ts";

/** The repository root. */
export const ROOT: URL = new URL("../../", import.meta.url);

/** The Bun the test tasks use, when `bun` is not on the PATH (as in tools/build_node.ts). */
const BUN_FALLBACK = ["npx", "-y", "bun@1.4.5"];

/** A bundler this module can run. */
export type Bundler = "esbuild" | "bun" | "deno";

/** What one bundler run produced. */
export interface Bundle {
  bundler: Bundler;
  /** The command line, for messages. */
  command: string[];
  /** The bundle's path. */
  path: string;
  /** The bundle's text. */
  text: string;
  /** Wall time of the bundler process, in milliseconds. */
  ms: number;
}

async function run(command: string[], what: string): Promise<void> {
  const [cmd, ...args] = command;
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, {
      args,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    throw new Error(`${what}: cannot run ${cmd} (npm install first?)`, { cause: err });
  }
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new Error(`${what} failed (exit ${out.code}): ${command.join(" ")}\n${text}`);
  }
}

let bunCommand: Promise<string[]> | undefined;

function bun(): Promise<string[]> {
  bunCommand ??= (async () => {
    try {
      const out = await new Deno.Command("bun", {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      })
        .output();
      if (out.success) return ["bun"];
    } catch {
      // not on the PATH
    }
    return BUN_FALLBACK;
  })();
  return bunCommand;
}

/** The esbuild of node_modules (installed by `npm install`). */
export function esbuildPath(): string {
  return new URL("node_modules/.bin/esbuild", ROOT).pathname;
}

/**
 * Bundles `entry` for a browser with `bundler`.
 *
 * @param bundler Which bundler.
 * @param entry The entry file, relative to the repository root.
 * @param outfile Where to write the bundle.
 * @param extra Extra flags (only `--minify`, for the size budget).
 * @returns The bundle.
 */
export async function bundle(
  bundler: Bundler,
  entry: string,
  outfile: string,
  extra: string[] = [],
): Promise<Bundle> {
  let command: string[];
  switch (bundler) {
    case "esbuild":
      command = [
        esbuildPath(),
        entry,
        "--bundle",
        "--format=esm",
        "--platform=browser",
        ...extra,
        `--outfile=${outfile}`,
      ];
      break;
    case "bun":
      command = [
        ...await bun(),
        "build",
        entry,
        "--target=browser",
        ...extra,
        "--outfile",
        outfile,
      ];
      break;
    case "deno":
      command = [
        Deno.execPath(),
        "bundle",
        "--platform",
        "browser",
        ...extra,
        entry,
        "-o",
        outfile,
      ];
      break;
  }
  const started = performance.now();
  await run(command, `${bundler} bundle`);
  const ms = performance.now() - started;
  return { bundler, command, path: outfile, text: await Deno.readTextFile(outfile), ms };
}

/**
 * The module specifiers a bundle still imports (static `import`, `export ...
 * from`, dynamic `import()`; found outside comments and strings by the layer
 * check's scanner) or `require()`s: a self-contained browser bundle has none.
 *
 * @param text The bundle.
 * @returns The specifiers, in order (`<non-literal>` for `import(expr)`).
 */
export function importsOf(text: string): string[] {
  const found = findImports(text).map((s) => s.specifier ?? "<non-literal>");
  for (const m of text.matchAll(/\brequire\s*\(\s*["'`]([^"'`]+)["'`]\s*\)/g)) found.push(m[1]);
  return found;
}

/** Sizes of a bundle, in bytes. */
export interface Sizes {
  raw: number;
  gzip: number;
  brotli: number;
}

/**
 * Weighs a bundle: raw, gzip (level 9) and brotli (quality 11, what a CDN serves).
 *
 * @param text The bundle.
 * @returns Its sizes in bytes.
 */
export function sizes(text: string): Sizes {
  const bytes = new TextEncoder().encode(text);
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }).length,
  };
}

/**
 * One line for the test output.
 *
 * @param label What was weighed.
 * @param s Its sizes.
 * @returns `label: raw N B, gzip N B, brotli N B (x.x KiB)`.
 */
export function describeSizes(label: string, s: Sizes): string {
  return `${label}: ${s.raw} B raw, ${s.gzip} B gzip, ${s.brotli} B brotli (${
    (s.brotli / 1024).toFixed(1)
  } KiB)`;
}
