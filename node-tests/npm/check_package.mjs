// The npm package as a user gets it: dist/npm/ (tools/build_npm.ts) packed
// with `npm pack`, installed into a fresh project with `npm install <tarball>`,
// then used from there: every export imported from an ESM script, a QoS 1
// round trip against mosquitto, the `mqttv5` bin, and `tsc` on TypeScript
// files that import the package.
//
//   deno task test:npm      # builds dist/node-tests/ and dist/npm/, then runs this
//
// Not a *.test.mjs file: `node --test node-tests/` (the Node smoke suite) does
// not pick it up, because it needs dist/npm/, which tools/build_node.ts does
// not build. CI runs it as a step of its own (.ci/run).
//
// Nothing comes from the registry: npm runs with --offline and an empty cache
// of its own, so the install also proves that the package needs nothing else.
// The optional peer dependencies @msgpack/msgpack and @opentelemetry/api, and
// tsc, come from the repository's node_modules/ (dev dependencies).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { startBroker } from "../../dist/node-tests/_helpers/broker.js";

const ROOT = new URL("../../", import.meta.url);
const PACKAGE_DIR = fileURLToPath(new URL("dist/npm/", ROOT));
const TSC = fileURLToPath(new URL("node_modules/typescript/bin/tsc", ROOT));
const MSGPACK = fileURLToPath(new URL("node_modules/@msgpack/msgpack", ROOT));
const OTEL_API = fileURLToPath(new URL("node_modules/@opentelemetry/api", ROOT));
const TYPE_ROOTS = fileURLToPath(new URL("node_modules/@types", ROOT));
const NAME = "@mqttv5/client";

/** A bound on every command: npm, node scripts, tsc. */
const COMMAND_MS = 30_000;

/** @type {string} the temporary directory: npm's cache, the tarball, the project */
let dir;
/** @type {string} the fresh project */
let app;
/** @type {import("../../tests/_helpers/broker.ts").Broker} */
let broker;
/** @type {{ filename: string, size: number, unpackedSize: number, files: { path: string }[] }} */
let packed;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mqttv5-npm-check-"));
  app = join(dir, "app");
  broker = await startBroker();
});

after(async () => {
  await broker?.[Symbol.asyncDispose]();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Runs `file args` in `cwd`; resolves with its output, or rejects with the
 * output in the message. npm gets a cache of its own and no network.
 */
function run(file, args, cwd) {
  const env = {
    ...process.env,
    npm_config_cache: join(dir, "npm-cache"),
    npm_config_offline: "true",
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
  };
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd, env, timeout: COMMAND_MS, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          Object.assign(err, { stdout, stderr });
          err.message += `\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
          reject(err);
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

/** The package's "exports", read from the installed package.json. */
async function installedExports() {
  const pkg = JSON.parse(
    await readFile(join(app, "node_modules", NAME, "package.json"), "utf8"),
  );
  return pkg.exports;
}

/** `@mqttv5/client` plus the subpath of an "exports" key. */
function specifier(key) {
  return key === "." ? NAME : `${NAME}/${key.slice(2)}`;
}

const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;

// ---------------------------------------------------------------------------
// Cases, in order: each builds on the one before.

test("npm pack: the tarball holds the entry points, their declarations, README and LICENSE", async (t) => {
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", dir], PACKAGE_DIR);
  [packed] = JSON.parse(stdout);
  const files = new Set(packed.files.map((f) => f.path));
  const manifest = JSON.parse(await readFile(join(PACKAGE_DIR, "package.json"), "utf8"));
  assert.equal(manifest.name, NAME);
  assert.equal(manifest.type, "module");
  assert.deepEqual(manifest.engines, { node: ">=20" });
  for (const name of ["package.json", "README.md", "LICENSE", "bin/mqttv5.js"]) {
    assert.ok(files.has(name), `${name} is in the tarball`);
  }
  for (const [key, target] of Object.entries(manifest.exports)) {
    if (key === "./package.json") continue;
    assert.deepEqual(Object.keys(target), ["types", "import"], `exports["${key}"] conditions`);
    for (const path of Object.values(target)) {
      assert.ok(
        files.has(path.slice(2)),
        `exports["${key}"] names ${path}, which is in the tarball`,
      );
    }
  }
  const strays = [...files].filter((f) => /\.map$|(?<!\.d)\.ts$/.test(f));
  assert.deepEqual(strays, [], "no source maps or TypeScript sources");
  t.diagnostic(
    `${packed.filename}: ${kib(packed.size)} packed, ${kib(packed.unpackedSize)} unpacked, ` +
      `${files.size} files`,
  );
});

test("npm install <tarball>: a fresh project gets the package and nothing else", async () => {
  assert.ok(packed, "npm pack ran");
  await mkdir(app);
  await writeFile(
    join(app, "package.json"),
    JSON.stringify({ name: "npm-check-app", private: true, type: "module" }, null, 2),
  );
  await run("npm", ["install", join(dir, packed.filename)], app);
  const installed = (await readdir(join(app, "node_modules"))).filter((n) => !n.startsWith("."));
  assert.deepEqual(installed, ["@mqttv5"], "no dependency came along");
});

test("every export imports from an ESM script; ./codec/msgpack and ./otel need their peers", async () => {
  const script = `
    const exports = JSON.parse(process.argv[2]);
    const results = {};
    for (const spec of exports) {
      try {
        const mod = await import(spec);
        results[spec] = { exported: Object.keys(mod).length };
      } catch (err) {
        results[spec] = { code: err.code, message: err.message };
      }
    }
    console.log(JSON.stringify(results));
  `;
  await writeFile(join(app, "import_all.mjs"), script);
  const specs = Object.keys(await installedExports())
    .filter((key) => key !== "./package.json")
    .map(specifier);
  assert.ok(specs.length >= 10, `exports: ${specs.join(", ")}`);
  const importAll = async () =>
    JSON.parse((await run("node", ["import_all.mjs", JSON.stringify(specs)], app)).stdout);

  // Without the optional peer dependencies: everything but the msgpack codec and otel.
  const peers = {
    [`${NAME}/codec/msgpack`]: /@msgpack\/msgpack/,
    [`${NAME}/otel`]: /@opentelemetry\/api/,
  };
  const before = await importAll();
  for (const spec of specs) {
    if (spec in peers) {
      assert.equal(before[spec].code, "ERR_MODULE_NOT_FOUND", JSON.stringify(before[spec]));
      assert.match(before[spec].message, peers[spec]);
    } else {
      assert.ok(before[spec].exported > 0, `${spec}: ${JSON.stringify(before[spec])}`);
    }
  }

  // With them (links to the repository's copies): all of them, and they work.
  await mkdir(join(app, "node_modules", "@msgpack"));
  await symlink(MSGPACK, join(app, "node_modules", "@msgpack", "msgpack"), "dir");
  await mkdir(join(app, "node_modules", "@opentelemetry"));
  await symlink(OTEL_API, join(app, "node_modules", "@opentelemetry", "api"), "dir");
  const withPeer = await importAll();
  for (const spec of specs) {
    assert.ok(withPeer[spec].exported > 0, `${spec}: ${JSON.stringify(withPeer[spec])}`);
  }
  const codec = `
    import { msgpackCodec } from "@mqttv5/client/codec/msgpack";
    const codec = msgpackCodec();
    console.log(JSON.stringify(codec.decode(codec.encode({ n: 7, tags: ["a"] }))));
  `;
  await writeFile(join(app, "codec.mjs"), codec);
  const { stdout } = await run("node", ["codec.mjs"], app);
  assert.deepEqual(JSON.parse(stdout), { n: 7, tags: ["a"] });
  // ./otel on the peer's API alone (no SDK: no-op providers): instrument() and back,
  // and a traceparent read from a message.
  const otel = `
    import { trace } from "@opentelemetry/api";
    import { Client } from "@mqttv5/client";
    import { instrument, messageContext } from "@mqttv5/client/otel";
    const client = new Client({ broker: "mqtt://127.0.0.1:1" });
    const undo = instrument(client);
    const wrapped = Object.hasOwn(client, "publish");
    undo[Symbol.dispose]();
    const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const ctx = messageContext({ properties: { userProperties: [["traceparent", tp]] } });
    console.log(JSON.stringify({ wrapped, after: Object.hasOwn(client, "publish"), span: trace.getSpanContext(ctx)?.spanId }));
  `;
  await writeFile(join(app, "otel.mjs"), otel);
  const traced = await run("node", ["otel.mjs"], app);
  assert.deepEqual(JSON.parse(traced.stdout), {
    wrapped: true,
    after: false,
    span: "b7ad6b7169203331",
  });
});

/** The README's Node 20 way: try / finally with disconnect(), no `await using`. */
const ROUND_TRIP = `import { Client } from "@mqttv5/client";

const [url, topic] = process.argv.slice(2);
const client = new Client({ broker: url, clientId: \`npm-check-\${process.pid}\` });
try {
  await client.connect();
  const sub = await client.subscribe([{ topic, qos: 1 }]);
  const ack = await client.publish({ topic, payload: "hello from npm", qos: 1 });
  for await (const m of sub) {
    m.ack();
    console.log(JSON.stringify({ topic: m.topic, text: m.text(), qos: m.qos, puback: ack.reasonCode }));
    break;
  }
} finally {
  await client.disconnect();
}
`;

test("a QoS 1 publish / subscribe round trip from an ESM script, which then exits by itself", async () => {
  await writeFile(join(app, "round_trip.mjs"), ROUND_TRIP);
  const topic = `npm-check/${process.pid}/qos1`;
  const { stdout, stderr } = await run("node", ["round_trip.mjs", broker.url, topic], app);
  assert.deepEqual(JSON.parse(stdout), { topic, text: "hello from npm", qos: 1, puback: 0 });
  assert.equal(stderr, "");
});

test("the mqttv5 bin publishes a retained message and subscribes to it", async () => {
  const bin = join(app, "node_modules", ".bin", "mqttv5");
  const topic = `npm-check/${process.pid}/bin`;
  await run(
    bin,
    ["pub", "--url", broker.url, "-t", topic, "-m", "from the bin", "-q", "1", "-r"],
    app,
  );
  const { stdout } = await run(
    bin,
    ["sub", "--url", broker.url, "-t", topic, "-C", "1", "-W", "5", "-v"],
    app,
  );
  assert.equal(stdout, `${topic} from the bin\n`);
});

/** Uses the package the way the README does; must compile. */
const USAGE =
  `import { Client, type Message, MqttError, type PublishResult, type QoS } from "@mqttv5/client";
import { jsonCodec } from "@mqttv5/client/codec/json";
import { msgpackCodec } from "@mqttv5/client/codec/msgpack";
import { instrument } from "@mqttv5/client/otel";
import { nodeDial } from "@mqttv5/client/transport/node";
import { wsDial } from "@mqttv5/client/transport/ws";
import { Client as WebClient } from "@mqttv5/client/web";
import { encodePacket, PacketType } from "@mqttv5/client/wire";

export async function roundTrip(url: string, topic: string): Promise<string> {
  const client = new Client({ broker: url, dial: nodeDial });
  try {
    await client.connect();
    const sub = await client.subscribe([{ topic, qos: 1 }]);
    const ack: PublishResult = await client.publish({ topic, payload: "hi", qos: 1 });
    for await (const m of sub) {
      const message: Message = m;
      const qos: QoS = message.qos;
      message.ack();
      return \`\${message.topic} \${message.text()} \${qos} \${ack.reasonCode}\`;
    }
    return "";
  } catch (err) {
    if (err instanceof MqttError) return err.code;
    throw err;
  } finally {
    await client.disconnect();
  }
}

export const web: WebClient = new WebClient({ broker: "wss://broker.example/mqtt", dial: wsDial() });
export const ping: Uint8Array = encodePacket({ type: PacketType.Pingreq });
export const json: number = jsonCodec<{ n: number }>().decode(new Uint8Array()).n;
export const packed: Uint8Array = msgpackCodec<string>().encode("x");
export const instrumented: { [Symbol.dispose](): void } = instrument(web, { propagate: false });
`;

/** Each misuse must be a type error: without declarations the directives would be unused. */
const MISUSE = `import { Client } from "@mqttv5/client";
import { encodePacket } from "@mqttv5/client/wire";

const client = new Client({ broker: "mqtt://127.0.0.1:1883" });
// @ts-expect-error QoS is 0, 1 or 2
await client.publish({ topic: "t", payload: "x", qos: 3 });
// @ts-expect-error publish() takes one options object
await client.publish("t", "x");
// @ts-expect-error no such option
new Client({ brokr: "mqtt://127.0.0.1:1883" });
// @ts-expect-error subscribe() resolves with a Subscription
const s: string = await client.subscribe(["t"]);
// @ts-expect-error a packet needs a known type
encodePacket({ type: 99 });
export { s };
`;

/** tsconfig.json "compilerOptions" of a Node project and of a bundler (browser) project. */
const PROJECTS = {
  node: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2023"], // all of which Node 20 has; TypeScript's node20 preset
    types: ["node"],
    typeRoots: [TYPE_ROOTS], // the repository's @types/node
  },
  bundler: {
    target: "ES2022",
    module: "ESNext",
    moduleResolution: "Bundler",
    lib: ["ES2022", "ESNext.Disposable", "DOM", "DOM.Iterable"],
    types: [],
  },
};

/** Runs tsc on `files` with the options of `project`; resolves with its exit code and output. */
async function tsc(project, name, files) {
  const config = join(app, `tsconfig.${name}.json`);
  const compilerOptions = {
    ...PROJECTS[project],
    strict: true,
    noEmit: true,
    skipLibCheck: false, // check the package's .d.ts files too
    noUnusedLocals: false,
  };
  await writeFile(config, JSON.stringify({ compilerOptions, files }, null, 2));
  try {
    const { stdout } = await run("node", [TSC, "-p", config, "--pretty", "false"], app);
    return { code: 0, output: stdout };
  } catch (err) {
    if (typeof err.code !== "number") throw err;
    return { code: err.code, output: err.stdout };
  }
}

test("tsc: a Node project and a bundler project type-check against the declarations; misuse fails", async () => {
  await writeFile(join(app, "usage.ts"), USAGE);
  await writeFile(join(app, "misuse.ts"), MISUSE);
  // Every export, so that every .d.ts the package ships is checked.
  const keys = Object.keys(await installedExports()).filter((k) => k !== "./package.json");
  await writeFile(
    join(app, "all_exports.ts"),
    keys.map((k, i) => `import * as e${i} from "${specifier(k)}";\n`).join("") +
      `export const all: object[] = [${keys.map((_, i) => `e${i}`).join(", ")}];\n`,
  );
  // The misuse file without its directives: each marked line must be an error.
  const lines = MISUSE.split("\n");
  const expected = lines.flatMap((line, i) => line.includes("@ts-expect-error") ? [i + 2] : []);
  await writeFile(
    join(app, "misuse_bare.ts"),
    lines.map((l) => l.replace(/\/\/ @ts-expect-error.*/, "//")).join("\n"),
  );

  const files = ["usage.ts", "misuse.ts", "all_exports.ts"];
  const [node, bundler, bare] = await Promise.all([
    tsc("node", "node", files),
    tsc("bundler", "bundler", files),
    tsc("node", "bare", ["misuse_bare.ts"]),
  ]);
  assert.equal(node.code, 0, `tsc, Node project:\n${node.output}`);
  assert.equal(bundler.code, 0, `tsc, bundler project:\n${bundler.output}`);
  assert.notEqual(bare.code, 0, "tsc fails on the misuse file without its directives");
  const errors = [...bare.output.matchAll(/^misuse_bare\.ts\((\d+),\d+\): error (TS\d+)/gm)];
  assert.deepEqual(
    [...new Set(errors.map((m) => Number(m[1])))],
    expected,
    `one error on each marked line:\n${bare.output}`,
  );
  assert.ok(
    errors.every((m) => !["TS2307", "TS7016"].includes(m[2])),
    `the declarations resolved:\n${bare.output}`,
  );
});
