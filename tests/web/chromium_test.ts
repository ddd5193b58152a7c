// The web entry in a real browser (issue #13): esbuild bundles
// _chromium_entry.ts (which imports only web.ts) for the browser, a loopback
// HTTP server serves it with a page, headless Chromium (Debian's `chromium`,
// driven over the DevTools protocol by _chromium.ts) loads the page, and the
// page's Client talks MQTT over WebSocket through the test bridge to a real
// mosquitto. The test calls the page's functions one step at a time and
// asserts on what they return; console errors and uncaught exceptions in the
// page fail it.
//
// Chromium must be installed: a missing one fails the test with the install
// command (tests/_helpers/ensure_chromium.sh, run by `deno task test`).

import assert from "node:assert/strict";
import { join } from "node:path";
import { Client } from "../../mod.ts";
import { type Broker, startBroker } from "../_helpers/broker.ts";
import { startWsBridge, type WsBridge } from "../_helpers/ws_bridge.ts";
import { bundle } from "./_bundle.ts";
import { type Chromium, launchChromium, type Page } from "./_chromium.ts";
import type { Exchange, Received, StatusRecord } from "./_chromium_entry.ts";

const ENTRY = "tests/web/_chromium_entry.ts";
const SHAPES = ["iterator", "queue", "callback"];

const PAGE = `<!doctype html>
<html>
<head><meta charset="utf-8"><link rel="icon" href="data:,"><title>mqttv5 in Chromium</title></head>
<body>
<script type="module">
import * as mqttTest from "/entry.js";
window.mqttTest = mqttTest;
</script>
</body>
</html>
`;

let bundled: Promise<string> | undefined;

/** The esbuild bundle of the entry (built once per file). */
function entryBundle(): Promise<string> {
  bundled ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "mqttv5-chromium-bundle-" });
    try {
      return (await bundle("esbuild", ENTRY, join(dir, "entry.js"))).text;
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
  return bundled;
}

/** Serves the page and the bundle on 127.0.0.1, a free port. */
function servePage(script: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/") return new Response(PAGE, { headers: { "content-type": "text/html" } });
    if (path === "/entry.js") {
      return new Response(script, { headers: { "content-type": "text/javascript" } });
    }
    return new Response("not found", { status: 404 });
  });
}

/** Everything a case needs: mosquitto, the bridge, the page server, Chromium and a loaded page. */
interface Env {
  broker: Broker;
  bridge: WsBridge;
  browser: Chromium;
  page: Page;
  /** The browser's monotonic clock now, in seconds (what throttled timers align to). */
  monotonic(): number;
}

/** Sets up an Env, runs `fn`, and tears everything down (also on failure). */
async function withPage(
  chromiumFlags: string[],
  fn: (env: Env) => Promise<void>,
): Promise<void> {
  const script = await entryBundle();
  await using broker = await startBroker();
  const env = { broker } as Env;
  env.bridge = await startWsBridge(broker.url);
  const server = servePage(script);
  try {
    await using browser = await launchChromium(chromiumFlags);
    env.browser = browser;
    const page = env.page = await browser.newPage();
    try {
      const { monotonicSeconds, at } = await page.goto(`http://127.0.0.1:${server.addr.port}/`);
      env.monotonic = () => monotonicSeconds + (performance.now() - at) / 1000;
      const loaded = await page.evaluate<string>("typeof window.mqttTest");
      assert.equal(loaded, "object", `the page did not load the bundle: ${page.errors.join("\n")}`);
      try {
        await fn(env);
      } catch (err) {
        // What the page said helps more than the stack of an evaluate() here.
        const said = [...page.errors.map((e) => `error: ${e}`), ...page.console.slice(-20)];
        if (/DevTools connection closed/.test(String(err))) {
          said.push(`Chromium's stderr ends:\n${browser.stderr()}`);
        }
        if (said.length === 0) throw err;
        throw new Error(`${(err as Error).message}\n--- the page:\n${said.join("\n")}`, {
          cause: err,
        });
      }
      const { unexpected } = unexpectedErrors(page, env.bridge.url);
      assert.deepEqual(unexpected, [], "no console errors or uncaught exceptions in the page");
    } finally {
      page.detach();
    }
  } finally {
    await env.bridge[Symbol.asyncDispose]();
    await server.shutdown();
  }
}

/** Starts a bridge on `port` again (the old listener may take a moment to go). */
async function restartBridge(target: string, port: number): Promise<WsBridge> {
  for (let attempt = 1;; attempt++) {
    try {
      return await startWsBridge(target, { port });
    } catch (err) {
      if (attempt >= 20 || (err as { code?: string }).code !== "EADDRINUSE") throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * The page errors other than the failed WebSocket dials to `bridgeUrl`
 * (Chromium logs one for each dial while the bridge is down).
 */
function unexpectedErrors(page: Page, bridgeUrl: string): { unexpected: string[]; dials: number } {
  const failedDial = `WebSocket connection to '${bridgeUrl}' failed`;
  const dials = page.errors.filter((e) => e.includes(failedDial)).length;
  return { unexpected: page.errors.filter((e) => !e.includes(failedDial)), dials };
}

/** `[topic, payload, qos]` of one shape's messages, in arrival order. */
function byShape(received: Received[], shape: string): [string, string, number][] {
  return received.filter((m) => m.shape === shape).map((m) => [m.topic, m.payload, m.qos]);
}

function checkExchange(round: string, x: Exchange): void {
  assert.deepEqual(
    x.published,
    [0, 1, 2].flatMap((qos) =>
      SHAPES.map((shape) => ({ label: `${shape} q${qos}`, reasonCode: 0 }))
    ),
    `round ${round}: every publish succeeds with reason code 0`,
  );
  assert.equal(x.received.length, 9, `round ${round}: nine messages, no duplicates`);
  for (const shape of SHAPES) {
    assert.deepEqual(
      byShape(x.received, shape),
      [0, 1, 2].map((qos) => [`${shape}/q${qos}`, `${round}: ${shape} q${qos}`, qos]),
      `round ${round}: the ${shape} subscription receives QoS 0, 1, 2 in order, each at its QoS`,
    );
  }
}

function types(events: StatusRecord[]): string[] {
  return events.map((e) => e.type === "reconnecting" ? `reconnecting ${e.attempt}` : e.type);
}

Deno.test("Client in headless Chromium: QoS 0/1/2 over WebSocket through all three subscribe shapes, and it reconnects by itself after the bridge restarts", async () => {
  await withPage([], async (env) => {
    const { page, broker } = env;
    const prefix = `web/chromium/${crypto.randomUUID()}`;
    const started = await page.evaluate<{ clientId: string; userAgent: string }>(
      `mqttTest.start(${JSON.stringify(env.bridge.url)}, ${JSON.stringify(prefix)})`,
    );
    assert.match(started.userAgent, /HeadlessChrome\//, "the page runs in headless Chromium");
    assert.notEqual(started.clientId, "");

    checkExchange("before", await page.evaluate<Exchange>(`mqttTest.exchange("before")`));
    assert.equal(env.bridge.handshakes.length, 1, "one WebSocket connection through the bridge");
    assert.deepEqual(env.bridge.handshakes[0].protocols, ["mqtt"]);

    // The bridge goes away (every connection cut, the port closed)...
    const port = env.bridge.port;
    const url = env.bridge.url;
    await env.bridge[Symbol.asyncDispose]();
    await page.evaluate(`mqttTest.waitFor("disconnected", 1)`);
    // ...QoS 1 and 2 publishes are made while it is down...
    const held = await page.evaluate<{ connected: boolean }>(`mqttTest.publishHeld()`);
    assert.equal(held.connected, false, "the client knows it is disconnected");
    // ...and a reconnect attempt fails (the port is closed) before it comes back.
    await page.evaluate(`mqttTest.waitFor("reconnecting", 2)`);
    env.bridge = await restartBridge(broker.url, port);
    assert.equal(env.bridge.url, url, "the bridge is back at the same URL");

    const events = await page.evaluate<StatusRecord[]>(`mqttTest.waitFor("connected", 2)`);
    const reasonCodes = await page.evaluate<number[]>(`mqttTest.heldResults()`);
    assert.deepEqual(reasonCodes, [0, 0], "the publishes made while down complete");
    const heldBack = await page.evaluate<Received[]>(
      `mqttTest.collect(["iterator/held", "queue/held"])`,
    );
    assert.deepEqual(
      heldBack.map((m) => [m.shape, m.topic, m.payload, m.qos]),
      [["iterator", "iterator/held", "held q1", 1], ["queue", "queue/held", "held q2", 2]],
    );
    checkExchange("after", await page.evaluate<Exchange>(`mqttTest.exchange("after")`));
    assert.equal(env.bridge.handshakes.length, 1, "one reconnect through the restarted bridge");

    // The status events up to the reconnect: up, down, attempts 1..n (at least
    // one failed while the port was closed), up again.
    const upAgain = types(events);
    const attempts = upAgain.slice(2, -1);
    assert.deepEqual(
      [upAgain.slice(0, 2), upAgain.at(-1)],
      [["connected", "disconnected"], "connected"],
      `status events: ${upAgain.join(", ")}`,
    );
    assert.ok(attempts.length >= 2, `retried: ${upAgain.join(", ")}`);
    assert.deepEqual(attempts, attempts.map((_, i) => `reconnecting ${i + 1}`));

    const all = types(await page.evaluate<StatusRecord[]>(`mqttTest.stop()`));
    assert.deepEqual(
      all.slice(upAgain.length),
      ["disconnected", "closed"],
      `nothing else happened after the reconnect: ${all.join(", ")}`,
    );
    const { dials } = unexpectedErrors(page, url);
    console.log(
      `${env.browser.version}: status ${all.join(", ")}; ${dials} failed dial(s) logged while down`,
    );
  });
});

/** Minimizes (hidden: the page's visibilityState becomes "hidden") or restores the page's window. */
async function setHidden(browser: Chromium, page: Page, hidden: boolean): Promise<void> {
  const { windowId } = await browser.send("Browser.getWindowForTarget", {
    targetId: page.targetId,
  }) as { windowId: number };
  await browser.send("Browser.setWindowBounds", {
    windowId,
    bounds: { windowState: hidden ? "minimized" : "normal" },
  });
}

/** Waits until mosquitto's log contains `text`. */
async function waitForLog(broker: Broker, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await broker.log()).includes(text)) {
    if (Date.now() > deadline) {
      throw new Error(
        `mosquitto did not log "${text}" within ${timeoutMs} ms:\n${await broker.log()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test("Client in headless Chromium: a page frozen beyond 1.5 x keepAlive is dropped by the broker, reconnects by itself on resume and loses no QoS 1 message", async () => {
  await withPage([], async (env) => {
    const { page, broker, browser } = env;
    const prefix = `web/chromium/${crypto.randomUUID()}`;
    const started = await page.evaluate<{ clientId: string; keepAlive: number }>(
      `mqttTest.start(${JSON.stringify(env.bridge.url)}, ${JSON.stringify(prefix)}, 2)`,
    );
    assert.equal(started.keepAlive, 2);
    await using publisher = new Client({ broker: broker.url });
    await publisher.connect();

    // Hidden, then frozen: no task of the page runs, so no PINGREQ goes out.
    await setHidden(browser, page, true);
    await page.send("Page.setWebLifecycleState", { state: "frozen" });
    const frozenAt = Date.now();
    // mosquitto gives up on it after 1.5 x keepAlive of silence [MQTT-3.1.2-22]...
    await waitForLog(broker, `Client ${started.clientId} has exceeded timeout`, 10_000);
    const droppedAfterMs = Date.now() - frozenAt;
    // ...and keeps its session: QoS 1 messages published now wait there.
    for (const shape of SHAPES) {
      const { reasonCode } = await publisher.publish({
        topic: `${prefix}/${shape}/frozen`,
        payload: `while frozen: ${shape}`,
        qos: 1,
      });
      assert.equal(reasonCode, 0, "the broker has a subscriber (the dropped session) for it");
    }
    await page.send("Page.setWebLifecycleState", { state: "active" });
    await setHidden(browser, page, false);
    const frozenMs = Date.now() - frozenAt;

    const events = await page.evaluate<StatusRecord[]>(`mqttTest.waitFor("connected", 2)`);
    const back = await page.evaluate<Received[]>(
      `mqttTest.collect(${JSON.stringify(SHAPES.map((s) => `${s}/frozen`))})`,
    );
    assert.deepEqual(
      back.map((m) => [m.shape, m.topic, m.payload, m.qos]).sort(),
      SHAPES.map((s) => [s, `${s}/frozen`, `while frozen: ${s}`, 1]).sort(),
      "each QoS 1 message published while the page was frozen arrives once, at QoS 1",
    );
    const connected = events.filter((e) => e.type === "connected");
    assert.deepEqual(
      connected.map((e) => e.sessionPresent),
      [false, true],
      "the reconnect resumed the session",
    );
    checkExchange("after", await page.evaluate<Exchange>(`mqttTest.exchange("after")`));
    const all = types(await page.evaluate<StatusRecord[]>(`mqttTest.stop()`));
    console.log(
      `frozen ${frozenMs} ms (keepAlive 2 s), dropped by mosquitto after ${droppedAfterMs} ms; status ${
        all.join(", ")
      }`,
    );
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

// About three and a half minutes (it waits for whole minutes of the browser's clock).
//
// Chrome runs the timers of a tab hidden for five minutes once a minute
// ("intensive wake-up throttling"; MQTT.js #1257). The flag below cuts the five
// minutes to one second; the wake-ups stay one minute apart, aligned to whole
// minutes of the browser's monotonic clock, so the test can place the moment
// the throttling starts. Keep alive 60 s (the shortest that one wake-up a
// minute can keep alive: the broker allows 90 s [MQTT-3.1.2-22]). The client
// last talks to the broker at B - 45 s, the tab is hidden at B - 15 s (the
// throttling starts some 7 s later, after five runs of a timer chain), and
// the page's timers then run at B and B + 60 s, B a whole minute. A client
// that pings after keepAlive of silence does not ping at B (45 s of silence),
// nor does one that expects the next tick as late as this one came (some 8 s
// late, not 60), and the broker drops it at B + 45 s; the test asserts that
// it does not. (The client knows the page is hidden and pings at 20 s of
// silence or more: src/client/keepalive.ts.)
Deno.test({
  name:
    "Client in headless Chromium: keep alive 60 s in a hidden tab whose timers run once a minute (intensive wake-up throttling): the broker never drops it",
  async fn() {
    const flags = ["--enable-features=IntensiveWakeUpThrottling:grace_period_seconds/1"];
    await withPage(flags, async (env) => {
      const { page, broker, browser } = env;
      const prefix = `web/chromium/${crypto.randomUUID()}`;
      const started = await page.evaluate<{ clientId: string; keepAlive: number }>(
        `mqttTest.start(${JSON.stringify(env.bridge.url)}, ${JSON.stringify(prefix)}, 60)`,
      );
      assert.equal(started.keepAlive, 60);
      await page.evaluate(`mqttTest.watchTimers()`);
      let b = Math.ceil(env.monotonic() / 60) * 60;
      if (b - env.monotonic() < 48) b += 60;
      const until = (t: number) => sleep((t - env.monotonic()) * 1000);
      await until(b - 45);
      checkExchange("before", await page.evaluate<Exchange>(`mqttTest.exchange("before")`));
      await until(b - 15);
      await setHidden(browser, page, true);
      await until(b + 100);
      const t = await page.evaluate<{ gaps: number[]; hidden: boolean }>(`mqttTest.timers()`);
      const o = await page.evaluate<{ events: StatusRecord[]; connected: boolean }>(
        `mqttTest.observed()`,
      );
      const log = await broker.log();
      assert.ok(t.hidden, "the page is hidden");
      assert.ok(
        t.gaps.some((g) => g >= 50_000),
        `precondition: the page's timers ran once a minute (gaps ${t.gaps.join(", ")} ms)`,
      );
      assert.ok(
        !log.includes(`Client ${started.clientId} has exceeded timeout`),
        `mosquitto dropped the hidden page's client for silence (timer gaps ${
          t.gaps.slice(-4).join(", ")
        } ms; status ${types(o.events).join(", ")}):\n${log}`,
      );
      assert.deepEqual(types(o.events), ["connected"], "never disconnected");
      await setHidden(browser, page, false);
      checkExchange("after", await page.evaluate<Exchange>(`mqttTest.exchange("after")`));
      await page.evaluate(`mqttTest.stop()`);
    });
  },
});
