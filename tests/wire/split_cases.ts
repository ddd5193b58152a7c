/**
 * The codec's split between the client's side (src/wire/encode.ts and
 * decode.ts) and the server's side (src/wire/_server.ts, registered by the
 * public entry src/wire/mod.ts), and the constant modules the library's own
 * code imports instead of the public objects. The client-side subset keeps a
 * browser bundle of the client small; these cases prove that the public entry
 * still encodes and decodes every packet type whatever the import order, and
 * that a client with the subset answers a broker's CONNECT, SUBSCRIBE,
 * UNSUBSCRIBE and PINGREQ exactly as with the full codec.
 *
 * Each import combination runs in a process of its own (_split_probe.ts):
 * in this one the public entry is loaded already.
 *
 * Shared by tests/wire/split_test.ts (Deno) and bun-tests/wire_split.test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as PacketTypeConstants from "../../src/wire/_packet_type.ts";
import * as ReasonCodeConstants from "../../src/wire/_reason_code.ts";
import { PacketType, ReasonCode } from "../../src/wire/mod.ts";
import type { ClientAnswer, ProbeReport } from "./_split_probe.ts";

/** One case: a name and its body. */
export interface SplitCase {
  name: string;
  fn: () => Promise<void> | void;
}

const PROBE = fileURLToPath(new URL("./_split_probe.ts", import.meta.url));
const IS_BUN = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

const reports = new Map<string, Promise<ProbeReport>>();

/** Runs the probe in `mode` under the current runtime (once) and parses its report. */
function probe(mode: string): Promise<ProbeReport> {
  let r = reports.get(mode);
  if (r === undefined) reports.set(mode, r = runProbe(mode));
  return r;
}

function runProbe(mode: string): Promise<ProbeReport> {
  const args = IS_BUN ? [PROBE, mode] : ["run", "-A", "--quiet", PROBE, mode];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`probe ${mode} failed: ${err.message}\n${stderr}`));
        return;
      }
      const line = stdout.trim().split("\n").at(-1) ?? "";
      resolve(JSON.parse(line) as ProbeReport);
    });
  });
}

/** The full codec's bytes for the probe's server packets (hand-checked, §3.2, §3.9, §3.11). */
const FULL_ENCODE = {
  // CONNACK: session present, Success, properties: Receive Maximum (0x21) 10
  CONNACK: "bytes:200601000321000a",
  // SUBACK: packet id 7, no properties, Granted QoS 0, Granted QoS 1, Unspecified error
  SUBACK: "bytes:9006000700000180",
  // UNSUBACK: packet id 8, no properties, Success, No subscription existed
  UNSUBACK: "bytes:b0050008000011",
};

/** The full codec's packets for the probe's client-only bytes. */
const FULL_DECODE = {
  CONNECT: [{ type: 1, clientId: "x", cleanStart: true, keepAlive: 60, properties: {} }],
  SUBSCRIBE: [{
    type: 8,
    packetId: 1,
    filters: [{
      topic: "a/b",
      qos: 0,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0,
    }],
    properties: {},
  }],
  UNSUBSCRIBE: [{ type: 10, packetId: 1, topics: ["a/b"], properties: {} }],
  PINGREQ: [{ type: 12 }],
};

const TYPES = { CONNECT: 1, SUBSCRIBE: 8, UNSUBSCRIBE: 10, PINGREQ: 12 };

/** The client answers each packet a broker must not send with DISCONNECT 0x82. */
function assertClientAnswers(answers: Record<string, ClientAnswer> | undefined): void {
  assert.ok(answers !== undefined, "the probe ran a client");
  assert.deepEqual(Object.keys(answers).sort(), Object.keys(TYPES).sort());
  for (const [name, type] of Object.entries(TYPES)) {
    assert.deepEqual(answers[name], {
      disconnect: 0x82,
      code: "unexpected-packet",
      reasonCode: 0x82,
      message: `unexpected packet type ${type} from the broker`,
    }, name);
  }
}

function decoded(report: ProbeReport): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(report.decode).map(([k, v]) => [k, JSON.parse(v)]),
  );
}

/** The cases. */
export function splitCases(): SplitCase[] {
  const cases: SplitCase[] = [
    {
      name:
        "ReasonCode and PacketType: the library's constant modules hold the same names and values",
      fn: () => {
        assert.deepEqual({ ...ReasonCodeConstants }, { ...ReasonCode });
        assert.deepEqual({ ...PacketTypeConstants }, { ...PacketType });
      },
    },
    {
      name:
        "encodePacket() without the wire entry (the client's codec) refuses CONNACK, SUBACK, UNSUBACK, naming @mqttv5/client/wire; PacketDecoder returns CONNECT, SUBSCRIBE, UNSUBSCRIBE bare",
      fn: async () => {
        const r = await probe("client");
        for (const [name, result] of Object.entries(r.encode)) {
          assert.equal(
            result,
            `TypeError:${name} is encoded by the full codec: import @mqttv5/client/wire`,
          );
        }
        assert.deepEqual(Object.keys(r.encode).sort(), ["CONNACK", "SUBACK", "UNSUBACK"]);
        assert.deepEqual(decoded(r), {
          CONNECT: [{ type: 1 }],
          SUBSCRIBE: [{ type: 8 }],
          UNSUBSCRIBE: [{ type: 10 }],
          PINGREQ: [{ type: 12 }],
        });
      },
    },
    {
      name:
        "Client with the client's codec only answers CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ from the broker with DISCONNECT 0x82 (unexpected-packet)",
      fn: async () => {
        assertClientAnswers((await probe("client")).client);
      },
    },
  ];
  for (const mode of ["wire", "client-then-wire", "wire-then-client"]) {
    cases.push({
      name:
        `@mqttv5/client/wire encodes CONNACK, SUBACK, UNSUBACK and decodes CONNECT, SUBSCRIBE, UNSUBSCRIBE (imports: ${mode})`,
      fn: async () => {
        const r = await probe(mode);
        assert.deepEqual(r.encode, FULL_ENCODE);
        assert.deepEqual(decoded(r), FULL_DECODE);
        if (mode !== "wire") assertClientAnswers(r.client);
      },
    });
  }
  return cases;
}
