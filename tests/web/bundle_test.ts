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
import * as ClientState from "../../src/client/_client_state.ts";
import * as KeepAliveAction from "../../src/client/_keep_alive_action.ts";
import * as StoreState from "../../src/client/_store_state.ts";
import * as FlowState from "../../src/session/_flow_state.ts";
import * as InboundStoreOp from "../../src/session/_inbound_store_op.ts";
import * as Qos2State from "../../src/session/_qos2_state.ts";
import * as StoreOp from "../../src/session/_store_op.ts";
import * as Verdict from "../../src/session/_verdict.ts";
import * as PacketType from "../../src/wire/_packet_type.ts";
import * as ReasonCode from "../../src/wire/_reason_code.ts";
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
  entry = ENTRY,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mqttv5-web-" });
  try {
    await fn(await bundle(bundler, entry, join(dir, `${bundler}.js`), extra));
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

/**
 * The bundle's wsDial words a failed dial plainly (the classifier tables of
 * the runtime entry are not in it): connect-failed, naming host:port.
 */
async function checkPlainDialError(b: Bundle): Promise<void> {
  const mod = await import(new URL(`file://${b.path}`).href) as {
    failedDial(broker: string): Promise<{ name: string; code: string; message: string }>;
  };
  const port = freePort();
  const err = await mod.failedDial(`ws://127.0.0.1:${port}/mqtt`);
  assert.equal(err.name, "MqttError", err.message);
  assert.equal(err.code, "connect-failed", err.message);
  assert.match(err.message, new RegExp(`^Cannot connect to 127\\.0\\.0\\.1:${port}: `));
  const headers = await (mod as unknown as {
    dialWithHeaders(broker: string): Promise<{ name: string; message: string }>;
  }).dialWithHeaders(`ws://127.0.0.1:${port}/mqtt`);
  assert.equal(headers.name, "TypeError", headers.message);
  const unix = (mod as unknown as {
    unixBroker(): { name: string; code: string; message: string };
  }).unixBroker();
  assert.equal(unix.code, "invalid-broker-url", unix.message);
  assert.match(
    unix.message,
    /Unix sockets need a runtime transport: import Client from @mqttv5\/client/,
  );
  assert.match(headers.message, /headers.*@mqttv5\/client\/transport\/ws/);
}

/** A loopback port nothing listens on (bound, then released). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
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
      await checkPlainDialError(b);
    });
  });
}

/** The size budget of `Client` + `wsDial` (issue #13): 30 KiB brotli, esbuild-minified. */
const BUDGET_BROTLI = 30 * 1024;

/**
 * The constant modules the library imports as namespaces (`import * as
 * ReasonCode from "../wire/_reason_code.ts"`), which a bundler inlines as
 * numbers. An import of the public object instead (`import { ReasonCode } from
 * "../wire/constants.ts"`), or of a namespace through a module that re-exports
 * it (`import { ClientState } from "./core.ts"`), puts an object with every
 * name back into the bundle: these are the ones found (every key as `Key:`).
 */
function constantObjects(text: string): string[] {
  const modules = {
    ReasonCode,
    PacketType,
    ClientState,
    KeepAliveAction,
    StoreState,
    FlowState,
    StoreOp,
    Qos2State,
    Verdict,
    InboundStoreOp,
  };
  return Object.entries(modules)
    .filter(([, ns]) => Object.keys(ns).every((k) => new RegExp(`[{,]${k}:`).test(text)))
    .map(([name]) => name);
}

Deno.test(`Client + wsDial, esbuild-minified for a browser, is at most ${BUDGET_BROTLI} B brotli`, async () => {
  await withBundle("esbuild", ["--minify"], (b) => {
    checkSelfContained(b);
    assert.match(b.text, /export\{/, "the bundle exports Client and wsDial");
    const s = sizes(b.text);
    console.log(
      `${describeSizes("esbuild --minify", s)}; budget ${BUDGET_BROTLI} B, ${
        BUDGET_BROTLI - s.brotli
      } B to spare`,
    );
    assert.ok(
      s.brotli <= BUDGET_BROTLI,
      `Client + wsDial is ${s.brotli} B brotli, over the budget of ${BUDGET_BROTLI} B`,
    );
    // The runtime entry's error classifier stays out of the web bundle.
    assert.ok(!b.text.includes("ERR_TLS_CERT_ALTNAME_INVALID"), "no classifier tables");
    // The server's side of the codec (src/wire/_server.ts, which @mqttv5/client/wire
    // registers) stays out: the client imports src/wire/encode.ts and decode.ts.
    assert.ok(!b.text.includes("CONNECT protocol name"), "no server-side decoders");
    assert.ok(!b.text.includes("CONNACK sessionPresent must be false"), "no server-side encoders");
    assert.deepEqual(constantObjects(b.text), [], "constants are inlined, not objects");
  }, "tests/web/_budget_entry.ts");
});

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
  assert.ok(files.includes("src/transport/_ws.ts"), "wsDial is in the graph");
  for (const runtimeOnly of ["src/transport/ws.ts", "src/transport/_errors.ts"]) {
    assert.ok(
      !files.includes(runtimeOnly),
      `${runtimeOnly} (runtime-only parts) is not in the graph`,
    );
  }
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
