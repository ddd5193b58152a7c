// The web entry (web.ts) bundles for a browser with no flags beyond the
// platform: esbuild, Bun's and Deno's bundlers each build _browser_entry.ts
// (new Client + wsDial, connect, publish) into one self-contained file (no
// `node:` import, no import at all), and each bundle runs: imported here, it
// publishes through a WebSocket bridge to a real mosquitto. Each test prints
// the bundle's size (raw, gzip, brotli).

import assert from "node:assert/strict";
import { join } from "node:path";
import { Client } from "../../mod.ts";
import { startBroker } from "../_helpers/broker.ts";
import { startWsBridge } from "../_helpers/ws_bridge.ts";
import {
  type Bundle,
  bundle,
  type Bundler,
  describeSizes,
  importsOf,
  ROOT,
  sizes,
} from "./_bundle.ts";

const ENTRY = "tests/web/_browser_entry.ts";

/** Bundles the entry with `bundler` into a fresh directory, hands it to `fn`, cleans up. */
async function withBundle(
  bundler: Bundler,
  extra: string[],
  fn: (b: Bundle) => Promise<void> | void,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mqttv5-web-" });
  try {
    await fn(await bundle(bundler, ENTRY, join(dir, `${bundler}.js`), extra));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Imports the bundle and publishes through it; a subscriber on the plain port receives the message. */
async function runBundle(b: Bundle): Promise<void> {
  await using broker = await startBroker();
  await using bridge = await startWsBridge(broker.url);
  await using sub = new Client({ broker: broker.url });
  await sub.connect();
  const topic = `web/bundle/${b.bundler}/${Date.now()}`;
  const messages = await sub.subscribe([{ topic, qos: 1 }]);
  const mod = await import(new URL(`file://${b.path}`).href) as {
    publishOnce(broker: string, topic: string, payload: string): Promise<number>;
  };
  const reasonCode = await mod.publishOnce(bridge.url, topic, `from the ${b.bundler} bundle`);
  assert.ok(reasonCode < 0x80, `PUBACK reason code ${reasonCode}`);
  const it = messages[Symbol.asyncIterator]();
  const next = await it.next();
  assert.equal(next.done, false);
  const m = next.value!;
  m.ack();
  assert.equal(m.topic, topic);
  assert.equal(m.text(), `from the ${b.bundler} bundle`);
  assert.equal(m.qos, 1);
  assert.equal(bridge.handshakes.length, 1, "the bundle went through the WebSocket bridge");
}

function checkSelfContained(b: Bundle): void {
  // Nothing imported at all: in particular no node: module.
  assert.deepEqual(importsOf(b.text), [], `${b.bundler}: the bundle imports nothing`);
}

for (
  const [bundler, flags] of [
    ["esbuild", "--bundle --format=esm --platform=browser"],
    ["bun", "bun build --target=browser"],
    ["deno", "deno bundle --platform browser"],
  ] as const
) {
  Deno.test(`web.ts bundles for a browser with ${bundler} (${flags}), self-contained, and the bundle publishes over WebSocket`, async () => {
    await withBundle(bundler, [], async (b) => {
      checkSelfContained(b);
      console.log(
        `${describeSizes(`${bundler} bundle`, sizes(b.text))}, built in ${b.ms.toFixed(0)} ms`,
      );
      await runBundle(b);
    });
  });
}

Deno.test("web.ts module graph holds no node: import and no Deno, Bun or Node transport", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "web.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; dependencies?: { specifier: string }[] }[];
  };
  const root = ROOT.href;
  const files = info.modules.map((m) => m.specifier.replace(root, ""));
  const deps = info.modules.flatMap((m) => (m.dependencies ?? []).map((d) => d.specifier));
  assert.ok(files.includes("src/transport/ws.ts"), "wsDial is in the graph");
  assert.deepEqual(deps.filter((d) => d.startsWith("node:")), [], "no node: import");
  for (const adapter of ["deno", "bun", "node", "mod"]) {
    assert.ok(
      !files.includes(`src/transport/${adapter}.ts`),
      `src/transport/${adapter}.ts is not in the graph`,
    );
  }
  assert.ok(
    !files.includes("mod.ts"),
    "mod.ts (which registers a runtime transport) is not in the graph",
  );
});
