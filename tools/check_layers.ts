// The layer rule: every import in src/**/*.ts and mod.ts points down a layer (or stays on
// its own layer), never up, and never sideways into another runtime's adapter. Prints
// each violation as `file:line` with the import and the two layers, and exits 1 if there
// is any. No dependencies; reads files only.
//
//   deno run --allow-read tools/check_layers.ts        (deno task layers)
//
// Layers, lowest first. A file may import from its own layer or any layer below it.
//
//   | layer | holds                                              |
//   | ----- | -------------------------------------------------- |
//   | L0    | src/_internal/*, src/errors.ts                     |
//   | L1    | src/wire, src/topic, src/transport                 |
//   | L2    | src/session, src/store, src/queue                  |
//   | L3    | src/client                                         |
//   | L4    | src/group, src/codec, src/otel                     |
//   | L5    | mod.ts, web.ts, src/api.ts, src/cli                |
//
// Rules, in the order they are checked:
//
// 1. upward: an import whose target sits on a higher layer than the importer fails.
//    Same-layer imports between directories are allowed (src/queue may use src/store,
//    src/wire may use src/topic, src/cli may use mod.ts).
// 2. adapter: inside src/transport, every file that is not mod.ts, types.ts or a private
//    `_x.ts` helper is a runtime adapter (deno.ts, bun.ts, node.ts, ws.ts, ...). Only
//    src/transport/mod.ts (autoDial) may import an adapter from inside src/transport;
//    adapters and helpers share code through `_x.ts` files. Layers above may import any
//    adapter (the CLI loads ws.ts, Client loads transport/mod.ts).
// 3. runtime: `node:` specifiers and the `Deno.` / `Bun.` globals are touched only by the
//    runtime adapters (src/transport/deno.ts, bun.ts, node.ts) and the file-backed
//    store and queue (src/store/**, src/queue/file.ts). The CLI (src/cli/**) may import
//    `node:` (it runs on Deno, Bun and Node through their node: support) but not reach
//    for `Deno.` / `Bun.`. Runtime detection through `globalThis` (`g.Deno`, `"Bun" in
//    globalThis`) is not touching the runtime and passes.
// 4. unlayered: a file under src/ that the table does not place, a relative import that
//    leaves src/ and mod.ts, and a dynamic import() whose specifier is not a string
//    literal all fail: place the new directory in LAYERS below first.
//
// Other specifiers (npm:, jsr:, https:, bare names) are not checked.
//
// Known exceptions live in EXCEPTIONS with the reason; keep that list short.

/** One layer of the table above. */
export interface Layer {
  /** 0 (lowest) to 5. */
  level: number;
  /** The directory or file the path fell in, e.g. `src/queue` or `mod.ts`. */
  area: string;
}

/** One import that breaks the layer rule. */
export interface Violation {
  /** The importing file, relative to the repository root (`src/queue/file.ts`). */
  file: string;
  /** 1-based line of the import keyword. */
  line: number;
  /** The specifier as written (`"../client/types.ts"`). */
  specifier: string;
  /** Which rule it breaks. */
  rule: "upward" | "adapter" | "runtime" | "unlayered";
  /** The importer's layer, if the table places it. */
  from?: Layer;
  /** The target's layer, for relative imports the table places. */
  to?: Layer;
  /** One line for the report. */
  message: string;
}

/** Area prefixes (directories end with `/`) and their level; the longest match wins. */
const LAYERS: [string, number][] = [
  ["src/_internal/", 0],
  ["src/errors.ts", 0],
  ["src/wire/", 1],
  ["src/topic/", 1],
  ["src/transport/", 1],
  ["src/session/", 2],
  ["src/store/", 2],
  ["src/queue/", 2],
  ["src/client/", 3],
  ["src/group/", 4],
  ["src/codec/", 4],
  ["src/otel/", 4],
  ["mod.ts", 5],
  ["web.ts", 5],
  ["src/api.ts", 5],
  ["src/cli/", 5],
];

/** Files that may import `node:` and use the `Deno.` / `Bun.` globals. */
const RUNTIME_FILES: (string | RegExp)[] = [
  "src/transport/deno.ts",
  "src/transport/bun.ts",
  "src/transport/node.ts",
  /^src\/store\//,
  "src/queue/file.ts",
];

/** Files that may import `node:` but not use the `Deno.` / `Bun.` globals. */
const NODE_SPECIFIER_FILES: (string | RegExp)[] = [/^src\/cli\//];

/** Imports that break a rule on purpose: `from -> to` (resolved paths) and why. */
const EXCEPTIONS: { from: string; to: string; why: string }[] = [
  {
    from: "src/transport/deno.ts",
    to: "src/transport/node.ts",
    why: "Deno.connectTls has no insecureSkipVerify and no serverName other than the host; " +
      "denoDial hands those dials to node:tls through nodeDial (loaded on demand)",
  },
];

/**
 * Places a repository-relative path in the layer table.
 *
 * @param path A POSIX path relative to the repository root, e.g. `src/queue/file.ts`.
 * @returns The layer, or `undefined` when the table does not place the path.
 */
export function layerOf(path: string): Layer | undefined {
  let best: [string, number] | undefined;
  for (const entry of LAYERS) {
    const [prefix] = entry;
    const hit = prefix.endsWith("/") ? path.startsWith(prefix) : path === prefix;
    if (hit && (best === undefined || prefix.length > best[0].length)) best = entry;
  }
  if (best === undefined) return undefined;
  return { level: best[1], area: best[0].replace(/\/$/, "") };
}

function matches(path: string, patterns: (string | RegExp)[]): boolean {
  return patterns.some((p) => typeof p === "string" ? p === path : p.test(path));
}

/** A file in src/transport that is a runtime adapter (not mod.ts, types.ts or `_x.ts`). */
function isAdapter(path: string): boolean {
  const m = /^src\/transport\/([^/]+\.ts)$/.exec(path);
  if (m === null) return false;
  const name = m[1];
  return !name.startsWith("_") && name !== "mod.ts" && name !== "types.ts";
}

/** An import, export-from or dynamic import found in a source file. */
export interface ImportSite {
  /** The specifier as written, or `undefined` for `import(expr)` with a non-literal. */
  specifier: string | undefined;
  /** 1-based line of the `import` / `export` keyword. */
  line: number;
}

const KEYWORDS_BEFORE_REGEX = new Set([
  "return",
  "typeof",
  "case",
  "do",
  "else",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "instanceof",
  "yield",
  "await",
]);

/**
 * Blanks comments and the contents of string, template and regular expression literals,
 * keeping every offset (and every newline) where it was, so that a search over the
 * result finds only code and the original text can be read at the same offsets.
 */
function maskSource(src: string): string {
  const out = src.split("");
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  // Template literal nesting: each entry counts the `{` open inside one `${ ... }`.
  const templates: number[] = [];
  let prev = ""; // last significant code character or word, for the regex heuristic
  let i = 0;
  const n = src.length;
  const scanTemplate = () => {
    // at the character after "`" or after the "}" closing a substitution
    const start = i;
    while (i < n) {
      const c = src[i];
      if (c === "\\") {
        i += 2;
      } else if (c === "`") {
        blank(start, i);
        i++;
        prev = "`";
        return;
      } else if (c === "$" && src[i + 1] === "{") {
        blank(start, i);
        i += 2;
        templates.push(0);
        prev = "{";
        return;
      } else {
        i++;
      }
    }
    blank(start, n);
  };
  while (i < n) {
    const c = src[i];
    if (c === "/" && src[i + 1] === "/") {
      const end = src.indexOf("\n", i);
      const stop = end === -1 ? n : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end === -1 ? n : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      const start = ++i;
      while (i < n && src[i] !== c && src[i] !== "\n") i += src[i] === "\\" ? 2 : 1;
      blank(start, Math.min(i, n));
      i++;
      prev = c;
    } else if (c === "`") {
      i++;
      scanTemplate();
    } else if (c === "}" && templates.length > 0 && templates[templates.length - 1] === 0) {
      templates.pop();
      i++;
      scanTemplate();
    } else if (
      c === "/" && (prev === "" || "(,=:[!&|?{};+-*%<>~^".includes(prev) ||
        KEYWORDS_BEFORE_REGEX.has(prev))
    ) {
      // a regular expression literal
      const start = ++i;
      let inClass = false;
      while (i < n && src[i] !== "\n") {
        const d = src[i];
        if (d === "\\") {
          i += 2;
          continue;
        }
        if (d === "[") inClass = true;
        else if (d === "]") inClass = false;
        else if (d === "/" && !inClass) break;
        i++;
      }
      blank(start, Math.min(i, n));
      i++;
      prev = "/";
    } else if (/[A-Za-z_$]/.test(c)) {
      const start = i;
      while (i < n && /[\w$]/.test(src[i])) i++;
      prev = src.slice(start, i);
    } else {
      if (c === "{" && templates.length > 0) templates[templates.length - 1]++;
      else if (c === "}" && templates.length > 0) templates[templates.length - 1]--;
      if (!/\s/.test(c)) prev = c;
      i++;
    }
  }
  return out.join("");
}

function lineAt(src: string, offset: number): number {
  let line = 1;
  for (let k = 0; k < offset; k++) if (src.charCodeAt(k) === 10) line++;
  return line;
}

/** Reads the string literal whose opening quote is at `quote` in the original text. */
function literalAt(src: string, masked: string, quote: number): string | undefined {
  const q = src[quote];
  const close = masked.indexOf(q, quote + 1);
  if (close === -1) return undefined;
  const text = src.slice(quote + 1, close);
  if (q === "`" && text.includes("${")) return undefined;
  return text;
}

/**
 * Finds every static import, `import type`, `export ... from`, side-effect import and
 * dynamic `import("...")` (also `typeof import("...")`) in a TypeScript source, skipping
 * comments and string contents.
 *
 * @param source The file's text.
 * @returns The import sites in source order.
 */
export function findImports(source: string): ImportSite[] {
  const masked = maskSource(source);
  const sites: ImportSite[] = [];
  const keyword = /\b(import|export)\b/g;
  for (let m = keyword.exec(masked); m !== null; m = keyword.exec(masked)) {
    const at = m.index;
    if (at > 0 && /[.$]/.test(masked[at - 1])) continue; // `x.import`, `$import`
    const rest = masked.slice(at + m[0].length, at + m[0].length + 4000);
    const line = lineAt(source, at);
    if (m[1] === "import") {
      const dynamic = /^\s*\(\s*/.exec(rest);
      if (dynamic !== null) {
        const quote = at + m[0].length + dynamic[0].length;
        const specifier = `"'\``.includes(masked[quote])
          ? literalAt(source, masked, quote)
          : undefined;
        sites.push({ specifier, line });
        continue;
      }
      const bare = /^\s*["']/.exec(rest);
      if (bare !== null) {
        const quote = at + m[0].length + bare[0].length - 1;
        sites.push({ specifier: literalAt(source, masked, quote), line });
        continue;
      }
      if (/^\s*\./.test(rest)) continue; // import.meta
    }
    // `import x, { a, type b } from "..."`, `export * as ns from "..."`, `export type {...} from`
    const clause = /^[\s\w$*{},]*?\bfrom\s*["']/.exec(rest);
    if (clause === null) continue; // `export const ...`, `export { a };`
    const quote = at + m[0].length + clause[0].length - 1;
    sites.push({ specifier: literalAt(source, masked, quote), line });
  }
  return sites;
}

/** Resolves a relative specifier against the importing file; both repository-relative. */
function resolve(from: string, specifier: string): string | undefined {
  const url = new URL(specifier, `file:///root/${from}`);
  return url.pathname.startsWith("/root/") ? url.pathname.slice("/root/".length) : undefined;
}

function describe(layer: Layer | undefined): string {
  return layer === undefined ? "no layer" : `L${layer.level} (${layer.area})`;
}

/**
 * Checks the layer rule over a set of files.
 *
 * @param files Repository-relative paths (`src/queue/file.ts`, `mod.ts`) and their text.
 * @returns Every violation, ordered by file and line; empty when the rule holds.
 */
export function checkLayers(files: Map<string, string> | Record<string, string>): Violation[] {
  const entries = files instanceof Map ? [...files] : Object.entries(files);
  entries.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  const violations: Violation[] = [];
  for (const [file, source] of entries) {
    const from = layerOf(file);
    if (from === undefined) {
      violations.push({
        file,
        line: 1,
        specifier: "",
        rule: "unlayered",
        message: `${file} has no layer: add its directory to LAYERS in tools/check_layers.ts`,
      });
    }
    for (const { specifier, line } of findImports(source)) {
      const at = `${file}:${line}`;
      if (specifier === undefined) {
        violations.push({
          file,
          line,
          specifier: "",
          rule: "unlayered",
          ...(from && { from }),
          message: `${at}: import() with a non-literal specifier cannot be checked`,
        });
        continue;
      }
      if (specifier.startsWith("node:")) {
        if (!matches(file, RUNTIME_FILES) && !matches(file, NODE_SPECIFIER_FILES)) {
          violations.push({
            file,
            line,
            specifier,
            rule: "runtime",
            ...(from && { from }),
            message: `${at}: import "${specifier}" in ${describe(from)}: only the runtime ` +
              `adapters, the file-backed store/queue and the CLI may import node:`,
          });
        }
        continue;
      }
      if (!specifier.startsWith(".") && !specifier.startsWith("/")) continue; // npm:, jsr:, …
      const target = resolve(file, specifier);
      const to = target === undefined ? undefined : layerOf(target);
      const base = { file, line, specifier, ...(from && { from }), ...(to && { to }) };
      if (to === undefined) {
        violations.push({
          ...base,
          rule: "unlayered",
          message: `${at}: import "${specifier}" points outside the layer table ` +
            `(${target ?? "outside the repository"}), from ${describe(from)}`,
        });
        continue;
      }
      if (from === undefined) continue; // reported once above
      const excepted = EXCEPTIONS.some((e) => e.from === file && e.to === target);
      if (excepted) continue;
      if (to.level > from.level) {
        violations.push({
          ...base,
          rule: "upward",
          message: `${at}: import "${specifier}" points up: ${describe(from)} -> ${describe(to)}`,
        });
      } else if (
        target !== undefined && target !== file && isAdapter(target) &&
        file.startsWith("src/transport/") && file !== "src/transport/mod.ts"
      ) {
        violations.push({
          ...base,
          rule: "adapter",
          message: `${at}: import "${specifier}" reaches sideways into another runtime's ` +
            `adapter (${target}); share code through a src/transport/_x.ts helper`,
        });
      }
    }
    if (!matches(file, RUNTIME_FILES)) {
      const masked = maskSource(source);
      const global = /(?<![.\w$])(Deno|Bun)\s*\./g;
      for (let m = global.exec(masked); m !== null; m = global.exec(masked)) {
        const line = lineAt(source, m.index);
        violations.push({
          file,
          line,
          specifier: m[1],
          rule: "runtime",
          ...(from && { from }),
          message: `${file}:${line}: uses the ${m[1]} global in ${describe(from)}: only the ` +
            `runtime adapters and the file-backed store/queue may`,
        });
      }
    }
  }
  violations.sort((a, b) => a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line);
  return violations;
}

async function collect(root: URL, dir: string, into: Map<string, string>): Promise<void> {
  for await (const entry of Deno.readDir(new URL(dir, root))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) await collect(root, `${path}/`, into);
    else if (entry.isFile && path.endsWith(".ts")) {
      into.set(path, await Deno.readTextFile(new URL(path, root)));
    }
  }
}

async function main(): Promise<number> {
  const root = new URL("../", import.meta.url);
  const files = new Map<string, string>();
  files.set("mod.ts", await Deno.readTextFile(new URL("mod.ts", root)));
  files.set("web.ts", await Deno.readTextFile(new URL("web.ts", root)));
  await collect(root, "src/", files);
  const violations = checkLayers(files);
  for (const v of violations) console.log(v.message);
  const imports = [...files.values()].reduce((sum, s) => sum + findImports(s).length, 0);
  if (violations.length > 0) {
    console.log(
      `layer rule: ${violations.length} violation(s) in ${files.size} files ` +
        `(${imports} imports); see the table at the top of tools/check_layers.ts`,
    );
    return 1;
  }
  console.log(`layer rule: ok (${files.size} files, ${imports} imports)`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
