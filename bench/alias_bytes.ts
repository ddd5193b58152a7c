// Wire bytes saved by `autoTopicAlias` (issue #14): a realistic device topic set
// published through one client with and without automatic topic aliases,
// counted at the dial (every byte the client writes to its socket).
//
//   deno run -A bench/alias_bytes.ts [--messages 20000] [--topics 200] [--seed 7]
//   deno run -A bench/alias_bytes.ts --host 127.0.0.1 --port 1883   (a broker of yours)
//
// Without --host it starts mosquitto (tests/_helpers/broker.ts) once per Topic
// Alias Maximum: 10 (mosquitto's default), 50 and 200 (as many as topics; set
// with `max_topic_alias`). With --host only the broker's own maximum is measured.
// Topics: `factory/line-LL/station-SS/sensor/KIND`, 10 lines x 5 stations x 4
// kinds = 200; payloads like `{"v":21.53,"ts":1767225600123}` (30 B), QoS 0.
// Popularity: Zipf (s = 1.1) over the topics in a seeded random order, and, to
// show the other end, uniform (every topic equally likely). Prints one Markdown
// table: PUBLISH bytes without and with, the share saved, and the share of
// PUBLISH packets that went alias-only.

import { Client, type DialFunc } from "../mod.ts";
import { autoDial } from "../src/transport/mod.ts";
import { PacketDecoder, packetLength, PacketType } from "../src/wire/mod.ts";
import { startBroker } from "../tests/_helpers/broker.ts";
import { Prng } from "../tests/_helpers/prng.ts";
import { parseArgs } from "./_util.ts";

const args = parseArgs(Deno.args);
const MESSAGES = Number(args.get("messages") ?? 20_000);
const SEED = Number(args.get("seed") ?? 7);
const KINDS = ["temperature", "humidity", "vibration", "pressure"];

function topicSet(): string[] {
  const topics: string[] = [];
  for (let line = 1; line <= 10; line++) {
    for (let station = 1; station <= 5; station++) {
      for (const kind of KINDS) {
        const l = String(line).padStart(2, "0");
        const s = String(station).padStart(2, "0");
        topics.push(`factory/line-${l}/station-${s}/sensor/${kind}`);
      }
    }
  }
  return topics.slice(0, Number(args.get("topics") ?? topics.length));
}

/** `n` topic indexes drawn by Zipf (s) over a seeded random ranking, or uniformly (s = 0). */
function draws(topics: number, n: number, s: number, rng: Prng): number[] {
  const rank = Array.from({ length: topics }, (_, i) => i);
  for (let i = topics - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [rank[i], rank[j]] = [rank[j], rank[i]];
  }
  const weights = rank.map((_, k) => 1 / Math.pow(k + 1, s));
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf: number[] = [];
  let acc = 0;
  for (const w of weights) cdf.push(acc += w / total);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    let k = cdf.findIndex((c) => u < c);
    if (k < 0) k = topics - 1;
    out.push(rank[k]);
  }
  return out;
}

interface Count {
  publishBytes: number;
  publishes: number;
  aliasOnly: number;
  topicAliasMaximum: number;
}

/** Publishes `sequence` through a client whose socket writes are decoded and counted. */
async function run(
  url: string,
  topics: string[],
  sequence: number[],
  auto: boolean,
): Promise<Count> {
  const count: Count = { publishBytes: 0, publishes: 0, aliasOnly: 0, topicAliasMaximum: 0 };
  const dial: DialFunc = async (u, options) => {
    const conn = await autoDial(u, options);
    const decoder = new PacketDecoder();
    return {
      start: (onData, onClose) => conn.start(onData, onClose),
      write: (bytes) => {
        for (const p of decoder.push(bytes)) {
          if (p.type !== PacketType.Publish) continue;
          count.publishes++;
          count.publishBytes += packetLength(p); // the decoded packet re-encodes to its size
          if (p.topic === "") count.aliasOnly++;
        }
        return conn.write(bytes);
      },
      close: () => conn.close(),
      pause: conn.pause && (() => conn.pause!()),
      resume: conn.resume && (() => conn.resume!()),
    };
  };
  const client = new Client({ broker: url, dial, autoTopicAlias: auto });
  const info = await client.connect();
  count.topicAliasMaximum = info.topicAliasMaximum;
  let ts = 1_767_225_600_000;
  for (let i = 0; i < sequence.length; i++) {
    const v = (20 + (i % 997) / 100).toFixed(2);
    await client.publish({ topic: topics[sequence[i]], payload: `{"v":${v},"ts":${ts++}}` });
  }
  await client.publish({ topic: "bench/fence", qos: 1 }); // everything before it is written
  await client.disconnect();
  count.publishes--; // the fence
  count.publishBytes -= packetLength({
    type: PacketType.Publish,
    topic: "bench/fence",
    payload: new Uint8Array(0),
    qos: 1,
    packetId: 1,
    retain: false,
    dup: false,
  });
  return count;
}

const topics = topicSet();
const rows: string[] = [];
const measure = async (url: string) => {
  for (const [name, s] of [["Zipf s=1.1", 1.1], ["uniform", 0]] as const) {
    const sequence = draws(topics.length, MESSAGES, s, new Prng(SEED));
    const plain = await run(url, topics, sequence, false);
    const aliased = await run(url, topics, sequence, true);
    const saved = 1 - aliased.publishBytes / plain.publishBytes;
    rows.push(
      `| ${aliased.topicAliasMaximum} | ${name} | ${MESSAGES} | ${plain.publishBytes} | ${aliased.publishBytes} | ` +
        `${(plain.publishBytes / MESSAGES).toFixed(1)} -> ${
          (aliased.publishBytes / MESSAGES).toFixed(1)
        } | ` +
        `**${(100 * saved).toFixed(1)}%** | ${
          (100 * aliased.aliasOnly / aliased.publishes).toFixed(1)
        }% |`,
    );
  }
};

const host = args.get("host");
if (host !== undefined) {
  await measure(`mqtt://${host}:${args.get("port") ?? "1883"}`);
} else {
  for (const max of [10, 50, 200]) {
    await using broker = await startBroker({
      config: max === 10 ? [] : [`max_topic_alias ${max}`],
    });
    await measure(broker.url);
  }
}
console.log(`${topics.length} topics, ${MESSAGES} QoS 0 messages per run, seed ${SEED}\n`);
console.log(
  "| Topic Alias Maximum | popularity | messages | PUBLISH bytes, off | on | per message | saved | alias-only |",
);
console.log("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) console.log(r);
