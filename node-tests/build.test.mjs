// Checks of the Node build itself (dist/node/, made by tools/build_node.ts):
// every entry point imports under Node, the Deno and Bun transports stay in
// lazily loaded chunks that Node never loads, and the code calls no static
// built-in this Node lacks.
//
// A module loader hook, registered before any of dist/node/ is imported,
// records every module this process loads; the dial case reads that record.

import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { register } from "node:module";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { MessageChannel } from "node:worker_threads";
import { test } from "node:test";
import { PACKAGE_DIR, until, WAIT_MS } from "./_helpers.mjs";

// ---------------------------------------------------------------------------
// Every module loaded from here on, in load order (hooks run off-thread and
// post each URL back).

const loaded = [];
{
  const { port1, port2 } = new MessageChannel();
  port1.on("message", (url) => loaded.push(url));
  port1.unref();
  const hooks = `
    let port;
    export function initialize(data) { port = data.port; }
    export async function load(url, context, nextLoad) {
      port.postMessage(url);
      return nextLoad(url, context);
    }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`, import.meta.url, {
    data: { port: port2 },
    transferList: [port2],
  });
}

let markers = 0;

/** Waits until every load so far has been reported, by loading one more module. */
async function settledLoads() {
  const marker = `data:text/javascript,export default ${++markers};`;
  await import(marker);
  await until(() => loaded.includes(marker), "the module loader hook to report");
  return loaded.filter((url) => !url.startsWith("data:"));
}

// ---------------------------------------------------------------------------
// The build's files

const ROOT = new URL("../", import.meta.url);
const NOT_FOR_NODE = new Set(["./transport/deno", "./transport/bun"]);

/** The built entry points: deno.json's exports but the Deno and Bun transports, as .js URLs. */
async function entryPoints() {
  const config = JSON.parse(await readFile(new URL("deno.json", ROOT), "utf8"));
  return Object.entries(config.exports)
    .filter(([name]) => !NOT_FOR_NODE.has(name))
    .map(([name, path]) => ({ name, url: new URL(path.replace(/\.ts$/, ".js"), PACKAGE_DIR) }));
}

/** Every .js file of dist/node/ with its text. */
async function builtFiles() {
  const names = await readdir(PACKAGE_DIR, { recursive: true });
  const files = [];
  for (const name of names.filter((n) => n.endsWith(".js")).sort()) {
    const url = new URL(name, PACKAGE_DIR);
    files.push({ name, url: url.href, text: await readFile(url, "utf8") });
  }
  return files;
}

/** Relative specifiers of static `import ... from` / `export ... from` / `import "..."`. */
function staticImports(text) {
  const specs = [];
  const re = /^(?:import|export)\s[^;]*?\bfrom\s*"([^"]+)"|^import\s*"([^"]+)"/gm;
  for (const m of text.matchAll(re)) specs.push(m[1] ?? m[2]);
  return specs.filter((s) => s.startsWith("."));
}

/** Relative specifiers of dynamic `import("...")`. */
function dynamicImports(text) {
  return [...text.matchAll(/\bimport\(\s*"(\.[^"]+)"\s*\)/g)].map((m) => m[1]);
}

/** The files holding the Deno or Bun transport: whatever calls Deno.connect or Bun.connect. */
function isOtherRuntimeTransport(file) {
  return /\b(?:Deno\.connect|Bun\.connect)\b/.test(file.text);
}

// ---------------------------------------------------------------------------
// Cases

test("dist/node: every entry point imports under Node", async () => {
  const entries = await entryPoints();
  assert.ok(entries.length >= 4, `entry points: ${entries.map((e) => e.name).join(", ")}`);
  for (const e of entries) {
    const mod = await import(e.url.href);
    assert.ok(Object.keys(mod).length > 0, `${e.name} (${e.url.pathname}) exports something`);
  }
  const { nodeDial } = await import(new URL("src/transport/node.js", PACKAGE_DIR).href);
  assert.equal(typeof nodeDial, "function");
});

test("dist/node: the Deno and Bun transports are separate chunks, reached only by a dynamic import()", async () => {
  const files = await builtFiles();
  const byUrl = new Map(files.map((f) => [f.url, f]));
  const others = files.filter(isOtherRuntimeTransport);
  assert.equal(others.length, 2, `Deno and Bun transport chunks: ${others.map((f) => f.name)}`);

  // Walk the static import graph from every entry point.
  const seen = new Set();
  const queue = (await entryPoints()).map((e) => e.url.href);
  while (queue.length > 0) {
    const url = queue.pop();
    if (seen.has(url)) continue;
    seen.add(url);
    const file = byUrl.get(url);
    assert.ok(file, `${url} is part of the build`);
    for (const spec of staticImports(file.text)) queue.push(new URL(spec, url).href);
  }
  for (const f of others) {
    assert.ok(!seen.has(f.url), `${f.name} is loaded with a static import from an entry point`);
    const importers = files.filter((g) =>
      dynamicImports(g.text).some((spec) => new URL(spec, g.url).href === f.url)
    );
    assert.ok(importers.length > 0, `${f.name} is loaded by a dynamic import()`);
  }
});

test("Client connects with its default dial under Node and loads neither the Deno nor the Bun transport", async () => {
  const { Client } = await import(new URL("mod.js", PACKAGE_DIR).href);
  const { startBroker } = await import("../dist/node-tests/_helpers/broker.js");
  const broker = await startBroker();
  try {
    const client = new Client({ broker: broker.url, connectTimeoutMs: WAIT_MS });
    try {
      assert.equal((await client.connect()).reasonCode, 0);
    } finally {
      await client.disconnect();
    }
  } finally {
    await broker[Symbol.asyncDispose]();
  }
  const urls = await settledLoads();
  const files = await builtFiles();
  const others = files.filter(isOtherRuntimeTransport);
  // autoDial's loader: the chunk that imports the Deno and Bun transports lazily.
  const loaders = files.filter((f) =>
    !isOtherRuntimeTransport(f) &&
    others.some((o) => dynamicImports(f.text).some((spec) => new URL(spec, f.url).href === o.url))
  );
  assert.equal(loaders.length, 1, `autoDial's loader: ${loaders.map((f) => f.name)}`);
  assert.ok(urls.includes(loaders[0].url), `autoDial's loader (${loaders[0].name}) was loaded`);
  assert.ok(
    urls.includes(new URL("src/transport/node.js", PACKAGE_DIR).href),
    "the node:net / node:tls transport was loaded",
  );
  for (const f of others) assert.ok(!urls.includes(f.url), `Node loaded ${f.name}`);
});

/** Static members of built-ins newer than Node 20; each is checked against this Node. */
const NEWER_BUILTINS = [
  "Promise.withResolvers", // Node 22
  "Promise.try", // Node 23 (V8 12.8)
  "Array.fromAsync", // Node 22
  "Object.groupBy", // Node 21
  "Map.groupBy", // Node 21
  "Iterator.from", // Node 22
  "Uint8Array.fromBase64", // Node 25
  "Uint8Array.fromHex", // Node 25
  "RegExp.escape", // Node 24
  "Error.isError", // Node 24
  "Math.sumPrecise", // Node 25
];

function lacks(path) {
  const [owner, member] = path.split(".");
  return typeof globalThis[owner]?.[member] !== "function";
}

/** Lines of `text` that call `path`, outside comments, as `where:line: code`. */
function uses(text, path, where) {
  const re = new RegExp(`\\b${path.replace(".", "\\.")}\\b`);
  return text.split("\n").flatMap((line, i) => {
    const code = line.trim();
    if (code.startsWith("*") || code.startsWith("//") || code.startsWith("/*")) return [];
    return re.test(line) ? [`${where}:${i + 1}: ${code}`] : [];
  });
}

test(`dist/node calls no static built-in that Node ${process.version} lacks`, async () => {
  const missing = NEWER_BUILTINS.filter(lacks);
  const problems = [];
  for (const file of await builtFiles()) {
    for (const path of missing) {
      const found = uses(file.text, path, `dist/node/${file.name}`);
      if (found.length === 0) continue;
      problems.push(...found);
      // Name the TypeScript source too, from the source map's embedded sources.
      const map = JSON.parse(await readFile(new URL(`${file.url}.map`), "utf8"));
      map.sources.forEach((source, i) => {
        const where = relative(fileURLToPath(ROOT), fileURLToPath(new URL(source, file.url)));
        problems.push(...uses(map.sourcesContent?.[i] ?? "", path, `  from ${where}`));
      });
    }
  }
  if (problems.length > 0) assert.fail(`built-ins this Node lacks:\n${problems.join("\n")}`);
});
