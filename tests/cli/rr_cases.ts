// `mqttv5 rr` (src/cli/rr.ts) as a child process against a real mosquitto,
// answered by a Client.serve() in the test process; shared by
// tests/cli/rr_test.ts (`deno run -A src/cli/mod.ts`) and
// bun-tests/cli_rr.test.ts (`bun src/cli/mod.ts`).

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Message } from "../../mod.ts";
import { startBroker } from "../_helpers/broker.ts";
import { connected } from "../_helpers/clients.ts";
import { run } from "./_spawn.ts";

/** One CLI case. */
export interface Case {
  name: string;
  fn: () => Promise<void>;
}

export const rrCases: Case[] = [];
const add = (name: string, fn: () => Promise<void>) => rrCases.push({ name, fn });

add("cli rr prints the response payload and exits 0", async () => {
  await using broker = await startBroker();
  await using server = await connected(broker.url, { clientId: "cli-rr-server" });
  const seen: Message[] = [];
  await server.serve([{ topic: "svc/upper", qos: 1 }], (m) => {
    seen.push(m);
    return m.text().toUpperCase();
  });
  const p = ["-h", broker.host, "-p", String(broker.port)];
  const r = await run(["rr", ...p, "-t", "svc/upper", "-m", "hello rr", "-q", "1", "-W", "10"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "HELLO RR\n");
  assert.equal(seen.length, 1);
  assert.equal(seen[0].qos, 1, "-q 1");
  assert.match(seen[0].properties.responseTopic!, /^mqttv5\/response\/[^/]+\/[0-9a-f]{16}$/);
  assert.equal(seen[0].properties.correlationData?.length, 16);
});

add(
  "cli rr -e uses that response topic; -v prints the topic; -D adds request properties",
  async () => {
    await using broker = await startBroker();
    await using server = await connected(broker.url, { clientId: "cli-rr-server" });
    const seen: Message[] = [];
    await server.serve(["svc/echo"], (m) => {
      seen.push(m);
      return `echo ${m.text()}`;
    });
    const r = await run([
      "rr",
      "--url",
      broker.url,
      "-t",
      "svc/echo",
      "-e",
      "cli/replies",
      "-m",
      "x",
      "-v",
      "-D",
      "publish",
      "user-property",
      "k",
      "v",
      "-W",
      "10",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "cli/replies echo x\n");
    assert.equal(seen[0].properties.responseTopic, "cli/replies");
    assert.deepEqual(seen[0].properties.userProperties, [["k", "v"]]);
  },
);

add("cli rr -s sends stdin; --json prints the response as JSON; -N drops the newline", async () => {
  await using broker = await startBroker();
  await using server = await connected(broker.url, { clientId: "cli-rr-server" });
  await server.serve(["svc/len"], (m) => ({
    payload: String(m.payload.length),
    properties: { contentType: "text/plain" },
  }));
  const p = ["-h", broker.host, "-p", String(broker.port), "-t", "svc/len", "-W", "10"];
  const json = await run(["rr", ...p, "-s", "--json"], { stdin: "twelve bytes" });
  assert.equal(json.code, 0, json.stderr);
  const out = JSON.parse(json.stdout);
  assert.equal(out.payload, "12");
  assert.equal(out.properties.contentType, "text/plain");
  assert.equal(Buffer.from(out.properties.correlationData, "base64").length, 16);
  assert.match(out.topic, /^mqttv5\/response\//);
  const bare = await run(["rr", ...p, "-n", "-N"]);
  assert.equal(bare.code, 0, bare.stderr);
  assert.equal(bare.stdout, "0");
});

add("cli rr -W exits 27 with 'Timed out' when no response comes", async () => {
  await using broker = await startBroker();
  const r = await run([
    "rr",
    "-h",
    broker.host,
    "-p",
    String(broker.port),
    "-t",
    "svc/nobody",
    "-m",
    "?",
    "-W",
    "0.2",
  ]);
  assert.equal(r.code, 27, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /Timed out/);
});

add("cli rr refuses bad command lines with status 2", async () => {
  const bad: string[][] = [
    ["rr", "-m", "x"], // no topic
    ["rr", "-t", "svc/a"], // no message
    ["rr", "-t", "svc/a", "-m", "x", "-n"], // two messages
    ["rr", "-t", "svc/+", "-m", "x"], // a wildcard in the request topic
    ["rr", "-t", "svc/a", "-e", "back/#", "-m", "x"], // and in the response topic
    ["rr", "-t", "svc/a", "-m", "x", "-D", "publish", "correlation-data", "ab"],
    ["rr", "-t", "svc/a", "-m", "x", "-W", "soon"],
    ["rr", "-t", "svc/a", "-m", "x", "-v", "--json"],
  ];
  for (const args of bad) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /Usage: mqttv5 rr/);
  }
  const help = await run(["rr", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /-e, --response-topic/);
});
