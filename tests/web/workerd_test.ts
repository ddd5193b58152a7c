// The web entry and cloudflareDial() on workerd (Cloudflare's Workers runtime,
// the pinned `workerd` devDependency), without nodejs_compat: _worker.ts,
// bundled by esbuild for the browser platform, does QoS 1 round trips against
// mosquitto over cloudflareDial() (TCP, and TLS verified against the test CA,
// which workerd's network service trusts) and over wsDial() through the
// WebSocket bridge, and dials a closed port; it answers one HTTP request with
// the results as JSON. A second request checks pause() on workerd: while the
// worker holds its connection paused, a server sending 16 MiB backs up.

import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { freePort, startBroker } from "../_helpers/broker.ts";
import { canConnect } from "../_helpers/broker.ts";
import { startWsBridge } from "../_helpers/ws_bridge.ts";
import { bundle, describeSizes, importsOf, ROOT, sizes } from "./_bundle.ts";
import type { RoundTrip } from "./_worker.ts";

/** The compatibility date the worker runs with (no compatibility flags: no nodejs_compat). */
const COMPATIBILITY_DATE = "2025-09-01";

/** The workerd binary of node_modules (the npm package's platform build). */
async function workerdPath(): Promise<string> {
  const out = await new Deno.Command("node", {
    args: ["-p", "require('workerd').default"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(
    out.success,
    `cannot find workerd (npm install first?): ${new TextDecoder().decode(out.stderr)}`,
  );
  return new TextDecoder().decode(out.stdout).trim();
}

function capnp(port: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # Outbound connections (connect() and WebSocket) go here: loopback allowed,
    # TLS verified against the test CA.
    (name = "net", network = (
      allow = ["public", "private", "local"],
      tlsOptions = (trustedCertificates = [embed "ca.pem"]),
    )),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  globalOutbound = "net",
);
`;
}

/** workerd serving `config.capnp` in `dir` on `port`, stopped by dispose. */
async function startWorkerd(
  dir: string,
  port: number,
): Promise<AsyncDisposable & { log(): string }> {
  const child = new Deno.Command(await workerdPath(), {
    args: ["serve", join(dir, "config.capnp"), "--verbose"],
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const decoder = new TextDecoder();
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) log += decoder.decode(chunk, { stream: true });
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  let exited: Deno.CommandStatus | undefined;
  const status = child.status.then((s) => (exited = s));
  const handle = {
    log: () => log,
    async [Symbol.asyncDispose]() {
      if (exited === undefined) {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
      }
      await status;
      await drained;
    },
  };
  const deadline = Date.now() + 15_000;
  while (!(await canConnect(port))) {
    if (exited !== undefined || Date.now() > deadline) {
      await handle[Symbol.asyncDispose]();
      assert.fail(`workerd did not start (${exited ? `exit ${exited.code}` : "timeout"}):\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return handle;
}

/** A loopback server that writes `size` bytes to the first connection, then ends it. */
async function sendServer(size: number): Promise<
  AsyncDisposable & { port: number; accepted: Promise<Socket>; written: () => boolean }
> {
  let resolveAccepted!: (s: Socket) => void;
  const accepted = new Promise<Socket>((resolve) => (resolveAccepted = resolve));
  const sockets: Socket[] = [];
  let written = false;
  const payload = new Uint8Array(size).map((_, i) => i & 0xff);
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    socket.end(payload, () => (written = true));
    resolveAccepted(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    port,
    accepted,
    written: () => written,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

Deno.test("cloudflareDial() and wsDial() on workerd (no nodejs_compat): QoS 1 round trips over TCP, TLS and WebSocket; failed dials are connect-failed; pause() backs the sender up", async () => {
  const started = performance.now();
  await using broker = await startBroker({ tls: true });
  await using bridge = await startWsBridge(broker.url);
  const dir = await Deno.makeTempDir({ prefix: "mqttv5-workerd-" });
  try {
    const worker = await bundle("esbuild", "tests/web/_worker.ts", join(dir, "worker.js"));
    assert.deepEqual(
      importsOf(worker.text),
      ["cloudflare:sockets"],
      "only import(cloudflare:sockets) is left",
    );
    console.log(describeSizes("worker bundle (esbuild)", sizes(worker.text)));
    await Deno.writeTextFile(join(dir, "ca.pem"), broker.certs!.ca.cert);
    const port = await freePort();
    await Deno.writeTextFile(join(dir, "config.capnp"), capnp(port));
    await using workerd = await startWorkerd(dir, port);
    const closed = await freePort();
    const query = new URLSearchParams({
      tcp: broker.url,
      tls: broker.tlsUrl!, // mqtts://localhost:<port>: the certificate names localhost
      ws: bridge.url,
      refused: `mqtt://127.0.0.1:${closed}`,
      notTls: `mqtts://127.0.0.1:${broker.port}`,
    });
    const response = await fetch(`http://127.0.0.1:${port}/?${query}`, {
      signal: AbortSignal.timeout(20_000),
    });
    const text = await response.text();
    assert.equal(response.status, 200, `${text}\n${workerd.log()}`);
    const results = JSON.parse(text) as Record<string, RoundTrip>;
    console.log(JSON.stringify(results));
    for (
      const [label, dialer] of [["tcp", "cloudflareDial"], ["tls", "cloudflareDial"], [
        "ws",
        "wsDial",
      ]]
    ) {
      const r = results[label];
      assert.ok(r.ok, `${label} over ${dialer}: ${JSON.stringify(r.error)}\n${workerd.log()}`);
      assert.ok(r.reasonCode! < 0x80, `${label}: PUBACK reason code ${r.reasonCode}`);
      assert.equal(r.topic, "(the topic published to)");
      assert.equal(r.payload, `hello over ${label}`);
      assert.equal(r.qos, 1);
    }
    assert.equal(bridge.handshakes.length, 1, "wsDial went through the bridge");
    assert.equal(results.refused.ok, false);
    assert.equal(results.refused.error?.code, "connect-failed");
    assert.doesNotMatch(
      results.refused.error!.message,
      /mqtt:\/\//,
      "the message names host:port, not the URL",
    );
    // Workers do not tell a failed TLS handshake from a failed connection.
    assert.equal(results.notTls.ok, false);
    assert.equal(results.notTls.error?.code, "connect-failed");

    // pause(): the worker reads nothing for 1.5 s; the server's 16 MiB back up meanwhile.
    const SIZE = 16 << 20;
    await using sender = await sendServer(SIZE);
    const pending = fetch(
      `http://127.0.0.1:${port}/?paused=mqtt://127.0.0.1:${sender.port}&pauseMs=1500`,
      { signal: AbortSignal.timeout(20_000) },
    );
    const serverSide = await sender.accepted;
    await new Promise((resolve) => setTimeout(resolve, 700));
    const backedUp = !sender.written() && serverSide.writableLength > 0;
    const pausedText = await (await pending).text();
    const paused = (JSON.parse(pausedText) as Record<string, RoundTrip>).paused;
    console.log(`paused: ${JSON.stringify(paused)}, server backed up: ${backedUp}`);
    assert.ok(paused.ok, `${JSON.stringify(paused.error)}\n${workerd.log()}`);
    assert.equal(paused.duringPause, 0, "no onData while paused");
    assert.equal(paused.received, SIZE, "every byte after resume()");
    assert.ok(backedUp, "the server's writes backed up while the worker was paused");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log(`workerd test: ${(performance.now() - started).toFixed(0)} ms`);
});
