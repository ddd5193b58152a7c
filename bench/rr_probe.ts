// rr_probe: request/response on one connection with an async consumer (the
// iterator shape of rr-same-conn), counting what the client writes and reads,
// for one tree of the client. It answers "where does a round trip's CPU go"
// between two versions, which bench/compare.ts only measures:
//
//   taskset -c 1 bun bench/rr_probe.ts /work/bench-base mqtt://127.0.0.1:18830
//   taskset -c 1 bun bench/rr_probe.ts "$PWD" mqtt://127.0.0.1:18830
//
// (a mosquitto listening there; Deno works too: deno run -A bench/rr_probe.ts ...)
// Prints CPU µs per round trip, PINGREQs (nudges), writes and reads.

import process from "node:process";
import { type Conn, probeSetup } from "./_probe.ts";

const { broker, n, Client, autoDial } = await probeSetup("5000");

let pings = 0;
let writes = 0;
let reads = 0;
const dial = async (url: URL, options: unknown): Promise<Conn> => {
  const c: Conn = await autoDial(url, options);
  return {
    start(onData, onClose) {
      c.start((b) => {
        reads++;
        onData(b);
      }, onClose);
    },
    write(b) {
      writes++;
      if (b[0] === 0xc0 && b[1] === 0x00) pings++;
      return c.write(b);
    },
    close: () => c.close(),
    pause: c.pause?.bind(c),
    resume: c.resume?.bind(c),
  };
};

const client = new Client({ broker, dial });
await client.connect();
const sub = await client.subscribe([{ topic: "rr-probe/#", qos: 1 }]);
const it = sub[Symbol.asyncIterator]();
const rounds = Number(n);
const payload = new Uint8Array(64);
const c0 = process.cpuUsage();
for (let i = 0; i < rounds; i++) {
  await client.publish({ topic: "rr-probe/req", payload, qos: 1 });
  const r = await it.next();
  r.value.ack();
}
const cpu = process.cpuUsage(c0);
console.log(JSON.stringify({
  cpuUsPerRoundTrip: Number(((cpu.user + cpu.system) / rounds).toFixed(1)),
  pingsPerRoundTrip: Number((pings / rounds).toFixed(2)),
  writesPerRoundTrip: Number((writes / rounds).toFixed(2)),
  readsPerRoundTrip: Number((reads / rounds).toFixed(2)),
}));
await client.disconnect();
