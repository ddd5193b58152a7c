// The `mqttv5` CLI (src/cli/mod.ts) as a child process against a real
// mosquitto, shared by tests/cli/cli_test.ts (Deno.test, which spawns
// `deno run -A src/cli/mod.ts`) and bun-tests/cli.test.ts (bun:test, which
// spawns `bun src/cli/mod.ts`).
//
// Each case starts its own broker and awaits every process it starts. A `sub`
// is started with `-d` and awaited until it logs "subscribed" before anything
// is published, so no case depends on a sleep.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { ExitCode, main } from "../../src/cli/mod.ts";
import { freePort, startBroker } from "../_helpers/broker.ts";
import { startWsBridge } from "../_helpers/ws_bridge.ts";
import { cli, finished, run, start, subscribed } from "./_spawn.ts";

/** One CLI case. */
export interface Case {
  name: string;
  fn: () => Promise<void>;
}

const MOSQUITTO_PUB = "mosquitto_pub";
const MOSQUITTO_SUB = "mosquitto_sub";
const STDBUF = ["/usr/bin/stdbuf", "/bin/stdbuf"].find((p) => existsSync(p));

/** Parses JSON lines. */
function jsonLines(text: string): Record<string, unknown>[] {
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

/** A temporary directory, removed by `await using`. */
async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), "mqttv5-cli-"));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** Bytes that are not UTF-8. */
const BINARY = Uint8Array.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x7f]);

export const cases: Case[] = [
  {
    name:
      "cli pub → sub over a Unix socket: --unix PATH (as mosquitto) and --url unix:///path; a missing socket is named; TLS flags and a relative path are usage errors",
    async fn() {
      await using broker = await startBroker({ unix: true });
      const sub = await subscribed(["--unix", broker.unixPath!, "-t", "ux/+", "-v", "-C", "2"]);
      const a = await run([
        "pub",
        "--unix",
        broker.unixPath!,
        "-t",
        "ux/a",
        "-m",
        "one",
        "-q",
        "1",
      ]);
      assert.equal(a.code, 0, a.stderr);
      const b = await run(["pub", "--url", broker.unixUrl!, "-t", "ux/b", "-m", "two", "-q", "2"]);
      assert.equal(b.code, 0, b.stderr);
      const r = await finished(sub, "sub --unix -C 2");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "ux/a one\nux/b two\n");
      const missing = `${broker.unixPath!}.missing`;
      const gone = await run(["pub", "--unix", missing, "-t", "ux/c", "-m", "x"]);
      assert.equal(gone.code, ExitCode.Failure);
      assert.match(
        gone.stderr,
        new RegExp(`no such socket.*${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`),
      );
      for (
        const [args, message] of [
          [["--unix", "rel.sock"], /must be an absolute path/],
          [
            ["--unix", broker.unixPath!, "--cafile", "/nonexistent.pem"],
            /TLS flags cannot be used/,
          ],
          [["--unix", broker.unixPath!, "--url", broker.url], /--unix cannot be combined/],
          [["--unix", broker.unixPath!, "-p", "1883"], /cannot be combined with --unix/],
        ] as const
      ) {
        const u = await run(["pub", ...args, "-t", "ux/d", "-m", "x"]);
        assert.equal(u.code, ExitCode.Usage, `${args.join(" ")}: ${u.stderr}`);
        assert.match(u.stderr, message);
      }
    },
  },
  {
    name: "cli pub → sub prints `topic payload` with -v and exits after -C",
    async fn() {
      await using broker = await startBroker();
      const p = ["-h", broker.host, "-p", String(broker.port)];
      const sub = await subscribed([...p, "-t", "cli/+", "-v", "-C", "1"]);
      const pub = await run(["pub", ...p, "-t", "cli/a", "-m", "hello world", "-q", "1"]);
      assert.equal(pub.code, 0, pub.stderr);
      const r = await finished(sub, "sub -C 1");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "cli/a hello world\n");
    },
  },
  {
    name: "cli sub --json prints text, base64 binary payloads and user properties (both -D forms)",
    async fn() {
      await using broker = await startBroker();
      await using dir = await tempDir();
      const file = join(dir.path, "payload.bin");
      await writeFile(file, BINARY);
      const sub = await subscribed([
        "--url",
        broker.url,
        "-t",
        "j/#",
        "-q",
        "2",
        "--json",
        "-C",
        "2",
      ]);
      const text = await run([
        "pub",
        "--url",
        broker.url,
        "-t",
        "j/text",
        "-m",
        "héllo",
        "-q",
        "1",
        "-D",
        "publish",
        "user-property",
        "unit",
        "celsius",
        "-D",
        "room=kitchen",
        "-D",
        "publish",
        "content-type",
        "text/plain",
      ]);
      assert.equal(text.code, 0, text.stderr);
      const bin = await run(["pub", "--url", broker.url, "-t", "j/bin", "-f", file, "-q", "2"]);
      assert.equal(bin.code, 0, bin.stderr);
      const r = await finished(sub, "sub --json -C 2");
      assert.equal(r.code, 0, r.stderr);
      const [a, b] = jsonLines(r.stdout);
      assert.deepEqual(a, {
        topic: "j/text",
        payload: "héllo",
        qos: 1,
        retain: false,
        properties: {
          contentType: "text/plain",
          userProperties: [["unit", "celsius"], ["room", "kitchen"]],
        },
      });
      assert.deepEqual(b, {
        topic: "j/bin",
        payload: "//4AAYB/",
        payloadEncoding: "base64",
        qos: 2,
        retain: false,
        properties: {},
      });
    },
  },
  {
    name: "cli sub -C 3 exits after three of five repeated messages",
    async fn() {
      await using broker = await startBroker();
      const p = ["-p", String(broker.port), "-h", broker.host];
      const sub = await subscribed([...p, "-t", "rep", "-C", "3", "-q", "1"]);
      const pub = await run(["pub", ...p, "-t", "rep", "-m", "x", "-q", "1", "--repeat", "5"]);
      assert.equal(pub.code, 0, pub.stderr);
      const r = await finished(sub, "sub -C 3");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "x\nx\nx\n");
    },
  },
  {
    name: "cli sub -W exits with status 27 when the timeout expires",
    async fn() {
      await using broker = await startBroker();
      const started = Date.now();
      const r = await run(["sub", "--url", broker.url, "-t", "quiet/#", "-W", "1"]);
      assert.equal(r.code, 27, r.stderr);
      assert.match(r.stderr, /Timed out/);
      assert.equal(r.stdout, "");
      assert.ok(Date.now() - started >= 1000, "returned before the timeout");
      // -C reached before -W: success.
      const sub = await subscribed(["--url", broker.url, "-t", "w", "-C", "1", "-W", "10"]);
      await run(["pub", "--url", broker.url, "-t", "w", "-m", "in time"]);
      const ok = await finished(sub, "sub -C 1 -W 10");
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, "in time\n");
    },
  },
  {
    name: "cli pub -l publishes one message per stdin line, empty lines as empty messages",
    async fn() {
      await using broker = await startBroker();
      const sub = await subscribed(["--url", broker.url, "-t", "lines", "--json", "-C", "4"]);
      const pub = await run(["pub", "--url", broker.url, "-t", "lines", "-l", "-q", "1"], {
        stdin: "first\n\nthird\r\nno newline at the end",
      });
      assert.equal(pub.code, 0, pub.stderr);
      const r = await finished(sub, "sub -C 4");
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(jsonLines(r.stdout).map((m) => m.payload), [
        "first",
        "",
        "third",
        "no newline at the end",
      ]);
    },
  },
  {
    name: "cli pub -f sends a file's bytes unchanged; -s sends all of stdin",
    async fn() {
      await using broker = await startBroker();
      await using dir = await tempDir();
      const file = join(dir.path, "data.txt");
      await writeFile(file, "line one\nline two\n");
      const sub = await subscribed(["--url", broker.url, "-t", "file/+", "-v", "-N", "-C", "2"]);
      const a = await run(["pub", "--url", broker.url, "-t", "file/f", "-f", file]);
      assert.equal(a.code, 0, a.stderr);
      const b = await run(["pub", "--url", broker.url, "-t", "file/s", "-s"], {
        stdin: "all\nof it",
      });
      assert.equal(b.code, 0, b.stderr);
      const r = await finished(sub, "sub -N -C 2");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "file/f line one\nline two\nfile/s all\nof it");
    },
  },
  {
    name: "cli pub -r retains; sub shows retain:true, and -R skips the stale message",
    async fn() {
      await using broker = await startBroker();
      const pub = await run([
        "pub",
        "--url",
        broker.url,
        "-t",
        "ret/a",
        "-m",
        "stale",
        "-r",
        "-q",
        "1",
      ]);
      assert.equal(pub.code, 0, pub.stderr);
      const all = await run([
        "sub",
        "--url",
        broker.url,
        "-t",
        "ret/#",
        "--json",
        "-C",
        "1",
        "-W",
        "5",
      ]);
      assert.equal(all.code, 0, all.stderr);
      assert.deepEqual(jsonLines(all.stdout).map((m) => [m.payload, m.retain]), [["stale", true]]);
      const fresh = await subscribed(["--url", broker.url, "-t", "ret/#", "-R", "-v", "-C", "1"]);
      await run(["pub", "--url", broker.url, "-t", "ret/b", "-m", "live"]);
      const r = await finished(fresh, "sub -R -C 1");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "ret/b live\n");
    },
  },
  {
    name: "cli connects over TLS with --cafile (-h/-p and mqtts:// URL)",
    async fn() {
      await using broker = await startBroker({ tls: true });
      const ca = broker.certs!.ca.certPath;
      const sub = await subscribed([
        "--url",
        broker.tlsUrl!,
        "--cafile",
        ca,
        "-t",
        "tls",
        "-C",
        "1",
      ]);
      const pub = await run([
        "pub",
        "-h",
        "localhost",
        "-p",
        String(broker.tlsPort),
        "--cafile",
        ca,
        "-t",
        "tls",
        "-m",
        "secret",
        "-q",
        "1",
      ]);
      assert.equal(pub.code, 0, pub.stderr);
      const r = await finished(sub, "TLS sub");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "secret\n");
      // A CA that did not sign the server certificate: a connection failure.
      const other = await run([
        "pub",
        "--url",
        broker.tlsUrl!,
        "--cafile",
        broker.certs!.otherCa.certPath,
        "-t",
        "tls",
        "-m",
        "x",
      ]);
      assert.equal(other.code, 1, other.stderr);
      assert.match(other.stderr, new RegExp(`cannot connect to localhost:${broker.tlsPort}`));
    },
  },
  {
    name: "cli speaks MQTT over WebSocket for ws:// URLs",
    async fn() {
      await using broker = await startBroker();
      await using bridge = await startWsBridge(broker.url);
      const sub = await subscribed(["--url", bridge.url, "-t", "ws/t", "-v", "-C", "1"]);
      const pub = await run(["pub", "--url", bridge.url, "-t", "ws/t", "-m", "over ws", "-q", "1"]);
      assert.equal(pub.code, 0, pub.stderr);
      const r = await finished(sub, "sub over ws");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "ws/t over ws\n");
    },
  },
  {
    name: "cli usage errors print the problem and the usage on stderr and exit 2",
    async fn() {
      const bad: string[][] = [
        ["pub", "-t", "a"], // no message
        ["pub", "-m", "x"], // no topic
        ["pub", "-t", "a", "-m", "x", "-q", "3"],
        ["pub", "-t", "a/+", "-m", "x"],
        ["pub", "-t", "a", "-m", "x", "-n"],
        ["sub", "-t", "a", "--bogus"],
        ["sub", "-t", "a", "-V", "mqttv311"],
        ["sub", "-t", "a", "-C"],
        ["sub"],
        ["bench", "--size", "3"],
        ["frobnicate"],
        [],
      ];
      for (const args of bad) {
        const r = await run(args);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, /Usage: mqttv5/, args.join(" "));
        assert.equal(r.stdout, "", args.join(" "));
      }
      for (const command of ["pub", "sub", "bench"]) {
        const help = await run([command, "--help"]);
        assert.equal(help.code, 0, help.stderr);
        assert.match(help.stdout, new RegExp(`^Usage: mqttv5 ${command}`));
      }
    },
  },
  {
    name: "cli reports an unreachable broker with host:port, exit 1, and never the password",
    async fn() {
      const port = await freePort();
      const password = "hunter2-Sup3rSecret";
      const a = await run([
        "pub",
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-u",
        "alice",
        "-P",
        password,
        "-t",
        "a",
        "-m",
        "x",
        "-d",
      ]);
      assert.equal(a.code, 1, a.stderr);
      assert.match(a.stderr, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}`));
      assert.ok(!a.stderr.includes(password), a.stderr);
      assert.ok(!a.stdout.includes(password), a.stdout);
      const b = await run([
        "sub",
        "--url",
        `mqtt://alice:${password}@127.0.0.1:${port}`,
        "-t",
        "a",
      ]);
      assert.equal(b.code, 1, b.stderr);
      assert.match(b.stderr, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}`));
      assert.ok(!b.stderr.includes(password), b.stderr);
      assert.equal(b.stderr.trim().split("\n").length, 1, "one line");
    },
  },
  {
    name: "cli bench prints throughput and latency percentiles, and a --json summary",
    async fn() {
      await using broker = await startBroker();
      const text = await run([
        "bench",
        "--url",
        broker.url,
        "--qos",
        "1",
        "--count",
        "400",
        "--publishers",
        "2",
        "--window",
        "16",
        "--progress",
      ]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /sent: +400 .* msg\/s/);
      assert.match(text.stdout, /received: +400 .* msg\/s/);
      assert.match(text.stdout, /lost: +0/);
      assert.match(text.stdout, /p50 [\d.]+ ms +p90 [\d.]+ ms +p99 [\d.]+ ms +max [\d.]+ ms/);
      assert.match(text.stderr, /\rsent \d+\/400/, "a progress line");

      const json = await run([
        "bench",
        "--url",
        broker.url,
        "--qos",
        "0",
        "--count",
        "300",
        "--size",
        "100",
        "--json",
        "--drain-timeout",
        "2",
      ]);
      assert.equal(json.code, 0, json.stderr);
      const s = JSON.parse(json.stdout);
      assert.equal(s.count, 300);
      assert.equal(s.sent, 300);
      assert.equal(s.received + s.lost, 300);
      assert.equal(s.size, 100);
      for (const k of ["p50", "p90", "p99", "max"]) {
        assert.equal(typeof s.latencyMs[k], "number", k);
      }
      assert.ok(s.latencyMs.p50 <= s.latencyMs.p90 && s.latencyMs.p90 <= s.latencyMs.p99);
      assert.ok(s.latencyMs.p99 <= s.latencyMs.max);
      assert.ok(s.sentPerSecond > 0 && s.receivedPerSecond > 0);
    },
  },
  {
    name: "cli interoperates with mosquitto_pub and mosquitto_sub",
    async fn() {
      await using broker = await startBroker();
      const p = ["-h", broker.host, "-p", String(broker.port)];
      // Ours → mosquitto_sub; with -d it reports the SUBACK on stdout, among its output.
      // stdbuf: mosquitto_sub's stdout is a pipe, which libc would buffer fully.
      const theirs = start(STDBUF ?? MOSQUITTO_SUB, [
        ...(STDBUF === undefined ? [] : ["-oL", MOSQUITTO_SUB]),
        ...p,
        "-V",
        "mqttv5",
        "-d",
        "-t",
        "interop/#",
        "-C",
        "1",
        "-F",
        "%t %p %P",
      ]);
      try {
        await theirs.waitFor("stdout", "received SUBACK", "mosquitto_sub to be subscribed");
        const pub = await run([
          "pub",
          ...p,
          "-t",
          "interop/ours",
          "-m",
          "from mqttv5",
          "-q",
          "1",
          "-D",
          "k=v",
        ]);
        assert.equal(pub.code, 0, pub.stderr);
        const r = await finished(theirs, "mosquitto_sub -C 1");
        assert.equal(r.code, 0, r.stderr);
        const output = r.stdout.split("\n").filter((l) =>
          l !== "" && !l.startsWith("Client ") && !l.startsWith("Subscribed")
        );
        assert.deepEqual(output, ["interop/ours from mqttv5 k:v"]);
      } finally {
        theirs.kill("SIGKILL");
        await theirs.done;
      }
      // mosquitto_pub → ours.
      const ours = await subscribed([...p, "-t", "interop/#", "-q", "2", "--json", "-C", "1"]);
      const mp = await finished(
        start(MOSQUITTO_PUB, [
          ...p,
          "-V",
          "mqttv5",
          "-t",
          "interop/theirs",
          "-m",
          "from mosquitto",
          "-q",
          "2",
          "-D",
          "publish",
          "user-property",
          "a",
          "b",
        ]),
        "mosquitto_pub",
      );
      assert.equal(mp.code, 0, mp.stderr);
      const r = await finished(ours, "our sub");
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(jsonLines(r.stdout), [{
        topic: "interop/theirs",
        payload: "from mosquitto",
        qos: 2,
        retain: false,
        properties: { userProperties: [["a", "b"]] },
      }]);
    },
  },
  {
    name: "cli sub stops quietly with status 0 when the reader of stdout goes away (EPIPE)",
    async fn() {
      await using broker = await startBroker();
      const sub = await subscribed(["--url", broker.url, "-t", "epipe", "-q", "1"]);
      const pub = cli([
        "pub",
        "--url",
        broker.url,
        "-t",
        "epipe",
        "-m",
        "x",
        "-q",
        "1",
        "--repeat",
        "100000",
      ]);
      try {
        await sub.waitFor("stdout", "x\n", "the first message");
        sub.closeStdout();
        const r = await finished(sub, "sub after its stdout closed");
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stderr, /EPIPE|Error/);
      } finally {
        pub.kill("SIGKILL");
        await pub.done;
      }
    },
  },
  {
    name: "cli sends its will when killed, and disconnects cleanly (no will) on SIGINT",
    async fn() {
      await using broker = await startBroker();
      const will = ["--will-topic", "wills/x", "--will-payload", "gone", "--will-qos", "1"];
      const watcher = await subscribed([
        "--url",
        broker.url,
        "-t",
        "wills/#",
        "-v",
        "-C",
        "1",
        "-q",
        "1",
      ]);
      // SIGINT: a clean DISCONNECT, status 0, no will.
      const polite = await subscribed([
        "--url",
        broker.url,
        "-t",
        "x",
        ...will,
        "--will-payload",
        "polite",
      ]);
      polite.kill("SIGINT");
      const p = await finished(polite, "sub after SIGINT");
      assert.equal(p.code, 0, p.stderr);
      // SIGKILL: no DISCONNECT, so the broker publishes the will.
      const victim = await subscribed(["--url", broker.url, "-t", "x", ...will]);
      victim.kill("SIGKILL");
      await victim.done;
      const r = await finished(watcher, "will watcher");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "wills/x gone\n");
    },
  },
  {
    name:
      "main() with an already-aborted signal resolves 0 at once: it reads no file and dials nothing",
    async fn() {
      // A listener that counts the connections it is offered.
      const sockets: Socket[] = [];
      const server = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const address = server.address();
      const port = String(typeof address === "object" && address !== null ? address.port : 0);
      try {
        const controller = new AbortController();
        controller.abort(new Error("stopped before it started"));
        const signal = controller.signal;
        const missing = join(tmpdir(), `mqttv5-cli-missing-${Date.now()}`, "payload.bin");
        const common = ["-h", "127.0.0.1", "-p", port, "-t", "abort/t"];
        assert.equal(
          await main(["pub", ...common, "-f", missing, "-q", "1"], { signal }),
          ExitCode.Ok,
        );
        assert.equal(await main(["pub", ...common, "-m", "x", "-q", "1"], { signal }), ExitCode.Ok);
        assert.equal(await main(["sub", ...common, "-C", "1"], { signal }), ExitCode.Ok);
        assert.equal(await main(["bench", ...common, "--count", "10"], { signal }), ExitCode.Ok);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(sockets.length, 0, "no connection was made");
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  },
];
