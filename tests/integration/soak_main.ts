// Runs the supervisor soak and prints its figures as JSON on stdout (progress
// on stderr): `deno run -A tests/integration/soak_main.ts`, `deno task soak`.
// SOAK_MS sets the duration (default 20000); SOAK_PUBLISHERS the publishers (4);
// SOAK_SESSION_EXPIRY the clients' Session Expiry Interval in seconds (client default);
// SOAK_RATE publishes per second per publisher (1000; 0 = unthrottled);
// SOAK_OBSERVE=1 checks the broker's flows towards the subscriber (see soak.ts).
// Exits 1 when a message was lost, a QoS 2 message duplicated, or a publish failed.

import { runSoak } from "./soak.ts";

const durationMs = Number(Deno.env.get("SOAK_MS") ?? 20_000);
const publishers = Number(Deno.env.get("SOAK_PUBLISHERS") ?? 4);
const expiry = Deno.env.get("SOAK_SESSION_EXPIRY");
const rate = Deno.env.get("SOAK_RATE");

const report = await runSoak({
  durationMs,
  publishers,
  sessionExpirySeconds: expiry === undefined ? undefined : Number(expiry),
  ratePerPublisher: rate === undefined ? undefined : Number(rate),
  observeSubscriber: Deno.env.get("SOAK_OBSERVE") === "1",
  log: (line) => console.error(line),
});
console.log(JSON.stringify(report, null, 2));
const ok = report.lost === 0 && report.qos2Duplicates === 0 && report.failed === 0 &&
  report.unsettled === 0 && report.unexpected === 0 && report.markersArrived;
if (!ok) Deno.exit(1);
