// seq_probe: the qos1-seq loop of bench/e2e.ts (one outstanding QoS 1 publish, a
// separate subscriber client in the same process) with counting dials, for one
// tree of the client. Per message it prints what each client wrote and read
// (PINGREQ nudges counted apart) and each client's turnaround: the median time
// from entering its read callback to its next write call (publisher: PUBACK in,
// next PUBLISH out; subscriber: PUBLISH in, its PUBACK out), in µs. A turnaround
// of a few µs means the round trip does not wait in the client (no timer, no
// coalescing delay); the rest of the round trip is the kernel, the broker and
// the runtime's wake-ups.
//
//   bun bench/seq_probe.ts "$PWD" mqtt://127.0.0.1:1883 20000
//   deno run -A bench/seq_probe.ts "$PWD" mqtt://127.0.0.1:1883 20000
//   NOSUB=1 bun bench/seq_probe.ts ...     (the subscriber takes another topic)
//
// (a mosquitto listening there, e.g. one started with startBroker's configuration)

import process from "node:process";
import { type Conn, probeSetup } from "./_probe.ts";

const { broker, n, Client, autoDial } = await probeSetup("20000");

interface Counts {
  reads: number;
  writes: number;
  pings: number;
  /** performance.now() of the last read callback not yet answered by a write; 0: none. */
  tRead: number;
  turn: number[];
}

const counts = (): Counts => ({ reads: 0, writes: 0, pings: 0, tRead: 0, turn: [] });

function countingDial(st: Counts) {
  return async (url: URL, options: unknown): Promise<Conn> => {
    const c: Conn = await autoDial(url, options);
    return {
      start(onData, onClose) {
        c.start((b) => {
          st.reads++;
          st.tRead = performance.now();
          onData(b);
        }, onClose);
      },
      write(b) {
        st.writes++;
        if (b[0] === 0xc0 && b[1] === 0x00) st.pings++;
        if (st.tRead > 0) {
          st.turn.push(performance.now() - st.tRead);
          st.tRead = 0;
        }
        return c.write(b);
      },
      close: () => c.close(),
      pause: c.pause?.bind(c),
      resume: c.resume?.bind(c),
    };
  };
}

const P = counts();
const S = counts();
const topic = `seq-probe/${Math.random().toString(36).slice(2, 10)}`;
const sub = new Client({ broker, dial: countingDial(S) });
await sub.connect();
await sub.subscribeCallback(
  [{ topic: process.env.NOSUB ? `${topic}/other` : topic, qos: 1 }],
  () => {},
);
const pub = new Client({ broker, dial: countingDial(P) });
await pub.connect();
const payload = new Uint8Array(64);
const N = Number(n);
for (const x of [P, S]) Object.assign(x, counts());
const c0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < N; i++) await pub.publish({ topic, payload, qos: 1 });
const ms = performance.now() - t0;
const cpu = process.cpuUsage(c0);
const medianUs = (a: number[]) => {
  if (a.length === 0) return null;
  const s = a.slice().sort((x, y) => x - y);
  return Number((s[s.length >> 1] * 1000).toFixed(1));
};
const per = (st: Counts) => ({
  readsPerMsg: Number((st.reads / N).toFixed(2)),
  writesPerMsg: Number((st.writes / N).toFixed(2)),
  pings: st.pings,
  turnaroundUsMedian: medianUs(st.turn),
});
console.log(JSON.stringify({
  msgPerS: Math.round((N / ms) * 1000),
  cpuUsPerMsg: Number(((cpu.user + cpu.system) / N).toFixed(1)),
  publisher: per(P),
  subscriber: per(S),
}));
await pub.disconnect();
await sub.disconnect();
