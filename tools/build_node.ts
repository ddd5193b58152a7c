// Builds the package to ES modules that Node (>= 20) can import, for the Node
// smoke suite in node-tests/:
//
//   deno run -A tools/build_node.ts      # then: node --test node-tests/
//
// dist/node/        every entry point of deno.json's "exports" except the Deno
//                   and Bun transports: mod.js, src/wire/mod.js,
//                   src/topic/mod.js, src/transport/node.js, src/store/file.js
//                   (paths mirror the sources), shared code in chunk-*.js.
//                   Built with `deno bundle` (esbuild inside Deno; no new
//                   dependency; class and function names kept as written).
//                   --code-splitting turns the `import("./deno.ts")` /
//                   `import("./bun.ts")` of src/transport/mod.ts into dynamic
//                   imports of chunks of their own, which Node never loads:
//                   autoDial takes them only under Deno or Bun
//                   (node-tests/build.test.mjs checks both). `node:*` imports
//                   stay external.
// dist/node-tests/  the runtime-neutral test helpers the Node suite reuses:
//                   _helpers/broker.js (mosquitto on free loopback ports) and
//                   transport/transport_cases.js (the DialFunc contract
//                   cases). Built with `bun build --target=node`,
//                   because these use `await using`, which Node 20 cannot
//                   parse and `deno bundle` leaves as written (it has no
//                   target option); Bun lowers it. Only test code goes this
//                   way: the package itself holds no `using`, and Node 20
//                   importing dist/node/ at all proves its syntax is fine.
//
// Each run deletes both directories first (chunk names carry content hashes,
// so stale chunks would pile up) and takes about a second. dist/ is build
// output: git-ignored, never committed.

const ROOT = new URL("../", import.meta.url);

/** deno.json exports that make no sense under Node. */
export const NOT_FOR_NODE = new Set(["./transport/deno", "./transport/bun"]);

/** Test helpers bundled for node-tests/, relative to the repository root. */
const TEST_ENTRIES = [
  "tests/_helpers/broker.ts",
  "tests/transport/transport_cases.ts",
];

/** The Bun the test tasks use, when `bun` is not on the PATH. */
const BUN_FALLBACK = ["npx", "-y", "bun@1.4.5"];

async function packageEntries(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const exports = config.exports as Record<string, string>;
  return Object.entries(exports)
    .filter(([name]) => !NOT_FOR_NODE.has(name))
    .map(([, path]) => path.replace(/^\.\//, ""));
}

/** Runs `command` in the repository root; throws with its output when it fails. */
export async function run(command: string[], what: string): Promise<void> {
  const [cmd, ...args] = command;
  const { code, stdout, stderr } = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    const text = new TextDecoder();
    throw new Error(
      `${what} failed (exit ${code}): ${command.join(" ")}\n` +
        text.decode(stdout) + text.decode(stderr),
    );
  }
}

/** Deletes `outdir` (relative to the repository root) if it exists. */
export async function emptyDir(outdir: string): Promise<void> {
  await Deno.remove(new URL(`${outdir}/`, ROOT), { recursive: true }).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
}

/**
 * The repository's package.json has no "type": without this file Node would
 * take the .js files for CommonJS (or guess, with a warning).
 */
async function markEsm(outdir: string): Promise<void> {
  await Deno.writeTextFile(
    new URL(`${outdir}/package.json`, ROOT),
    JSON.stringify({ private: true, type: "module" }, null, 2) + "\n",
  );
}

/**
 * `deno bundle` of `entries` into `outdir` as ES modules for Node: code
 * splitting (the Deno and Bun transports land in chunks Node never loads),
 * `node:*` and `cloudflare:*` left as imports, plus `extra` flags.
 */
export async function bundleForNode(
  entries: string[],
  outdir: string,
  extra: string[] = [],
): Promise<void> {
  await run([
    Deno.execPath(),
    "bundle",
    "--quiet",
    "--platform=deno", // keeps node:* external ("browser" would try to resolve them)
    "--external=cloudflare:*", // cloudflare:sockets exists only on Workers
    "--format=esm",
    "--code-splitting",
    ...extra,
    `--outdir=${outdir}`,
    ...entries,
  ], "deno bundle");
}

async function buildPackage(outdir: string): Promise<void> {
  await emptyDir(outdir);
  await bundleForNode(await packageEntries(), outdir, ["--sourcemap=linked"]);
  await markEsm(outdir);
}

async function hasBun(): Promise<boolean> {
  try {
    return (await new Deno.Command("bun", { args: ["--version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

async function buildTestHelpers(outdir: string): Promise<void> {
  await emptyDir(outdir);
  const bun = await hasBun() ? ["bun"] : BUN_FALLBACK;
  await run([
    ...bun,
    "build",
    "--target=node",
    "--format=esm",
    "--splitting",
    "--sourcemap=linked",
    "--root=tests",
    `--outdir=${outdir}`,
    ...TEST_ENTRIES,
  ], "bun build");
  await markEsm(outdir);
}

async function countJs(dir: URL): Promise<number> {
  let n = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) n += await countJs(new URL(`${entry.name}/`, dir));
    else if (entry.name.endsWith(".js")) n++;
  }
  return n;
}

if (import.meta.main) {
  const started = performance.now();
  const outdirs = ["dist/node", "dist/node-tests"];
  await Promise.all([buildPackage(outdirs[0]), buildTestHelpers(outdirs[1])]);
  const counts = await Promise.all(outdirs.map((d) => countJs(new URL(`${d}/`, ROOT))));
  const ms = Math.round(performance.now() - started);
  const summary = outdirs.map((d, i) => `${d}/ (${counts[i]} .js files)`).join(", ");
  console.log(`built ${summary} in ${ms} ms`);
}
