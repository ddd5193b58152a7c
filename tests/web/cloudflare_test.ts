// cloudflareDial() under Deno, on a stand-in for `cloudflare:sockets`: the
// transport contract cases (tests/transport/transport_cases.ts) that need no
// TLS settings, run against mosquitto and small loopback servers. The stand-in
// (`denoSockets` below) gives connect() the shape and the behaviour seen on
// workerd: connect() returns at once, `opened` settles with the connection (and
// the TLS handshake), `readable` yields a fresh buffer per read and reads
// nothing ahead (so a paused reader backs TCP up), `writable` resolves a write
// once the bytes are taken, close() ends both and fails a pending read.
// workerd_test.ts runs the adapter on workerd itself (round trips, pause).
//
// Left out: the cases that pass TLS settings (Workers' connect() takes none:
// cloudflareDial rejects them with a TypeError, checked below), "TLS:
// verification is on by default" (Deno's error names the unknown CA, workerd's
// does not: there it is connect-failed) and the unix:// cases.

import assert from "node:assert/strict";
import {
  type CloudflareConnect,
  cloudflareDial,
  type CloudflareSocket,
} from "../../src/transport/cloudflare.ts";
import { runCase, TRANSPORT_CASES } from "../transport/transport_cases.ts";

/** connect() of `cloudflare:sockets` on Deno.connect / Deno.connectTls. */
function denoSockets(): CloudflareConnect {
  return ({ hostname, port }, options) => {
    const tls = options?.secureTransport === "on";
    let conn: Deno.Conn | undefined;
    let closing = false;
    const opening: Promise<Deno.Conn> = (async () => {
      const c = tls
        ? await Deno.connectTls({ hostname, port })
        : await Deno.connect({ hostname, port });
      if (closing) {
        c.close();
        throw new Error("closed before the connection was established");
      }
      conn = c;
      if (tls) await (c as Deno.TlsConn).handshake();
      return c;
    })();
    let resolveClosed!: () => void;
    const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
    const shut = () => {
      if (closing) return;
      closing = true;
      try {
        conn?.close();
      } catch {
        // already closed
      }
      resolveClosed();
    };
    opening.catch(shut);
    const readable = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const c = await opening;
        const buf = new Uint8Array(16 * 1024); // a fresh buffer per read, as on workerd
        const n = await c.read(buf);
        if (n === null) {
          controller.close();
          shut();
        } else {
          controller.enqueue(buf.subarray(0, n));
        }
      },
    }, { highWaterMark: 0 });
    const writable = new WritableStream<Uint8Array>({
      async write(chunk) {
        const c = await opening;
        let written = 0;
        while (written < chunk.length) written += await c.write(chunk.subarray(written));
      },
    });
    const socket: CloudflareSocket = {
      readable,
      writable,
      opened: opening,
      closed,
      close() {
        shut();
        return closed;
      },
    };
    return socket;
  };
}

const LEFT_OUT = /^(TLS|mTLS)\b|over TLS|\(TLS\)|stopping the broker|unix/;

const cases = TRANSPORT_CASES.filter((c) => !LEFT_OUT.test(c.name));

Deno.test("cloudflareDial() runs the TLS-free transport cases (a guard against filtering them all out)", () => {
  assert.ok(cases.length >= 18, `only ${cases.length} cases selected`);
});

for (const c of cases) {
  Deno.test(
    `cloudflareDial() ${c.name}`,
    () =>
      runCase(c, cloudflareDial({ connect: denoSockets() }), { abortedTlsHandshakeLingers: true }),
  );
}

Deno.test("cloudflareDial() refuses TLS settings Workers cannot apply, other schemes and a bad connect, with a TypeError", async () => {
  let dialed = 0;
  const connect: CloudflareConnect = (address, options) => {
    dialed++;
    return denoSockets()(address, options);
  };
  const dial = cloudflareDial({ connect });
  const tlsCases = [
    { caCerts: ["pem"] },
    { cert: "pem", key: "pem" },
    { insecureSkipVerify: true },
    { serverName: "other.example" },
    { alpn: ["mqtt"] },
  ];
  for (const tls of tlsCases) {
    await assert.rejects(
      dial(new URL("mqtts://broker.example"), { tls }),
      TypeError,
      JSON.stringify(tls),
    );
  }
  for (
    const url of ["ws://broker.example/mqtt", "wss://broker.example/mqtt", "unix:///tmp/mqtt.sock"]
  ) {
    await assert.rejects(dial(new URL(url), {}), TypeError, url);
  }
  assert.equal(dialed, 0, "nothing was dialed");
  assert.throws(
    () => cloudflareDial({ connect: "connect" as unknown as CloudflareConnect }),
    TypeError,
  );
});

Deno.test("cloudflareDial() without connect() outside Workers rejects with a TypeError (cloudflare:sockets is missing)", async () => {
  const error = await cloudflareDial()(new URL("mqtt://127.0.0.1:1"), {}).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof TypeError, String(error));
  assert.ok(error.cause !== undefined, "the import's failure is the cause");
});

Deno.test("cloudflareDial() asks connect() for TLS on mqtts://, tls://, ssl:// and with options.tls, on the default ports", async () => {
  const calls: { hostname: string; port: number; secureTransport?: string }[] = [];
  const connect: CloudflareConnect = (address, options) => {
    calls.push({ ...address, secureTransport: options?.secureTransport });
    const failed = Promise.reject(
      new Error("proxy request failed, cannot connect to the specified address"),
    );
    return {
      readable: new ReadableStream(),
      writable: new WritableStream(),
      opened: failed,
      closed: failed,
      close: () => Promise.resolve(),
    };
  };
  const dial = cloudflareDial({ connect });
  const urls: [string, { tls?: object }][] = [
    ["mqtt://a.example", {}],
    ["tcp://a.example:1884", {}],
    ["mqtts://a.example", { tls: {} }],
    ["tls://a.example:9000", {}],
    ["ssl://[::1]", {}],
    ["mqtt://a.example:1883", { tls: { serverName: "a.example" } }],
  ];
  for (const [url, options] of urls) {
    const error = await dial(new URL(url), options).then(() => undefined, (e: unknown) => e);
    assert.equal((error as { code?: string }).code, "connect-failed", url);
  }
  assert.deepEqual(calls, [
    { hostname: "a.example", port: 1883, secureTransport: "off" },
    { hostname: "a.example", port: 1884, secureTransport: "off" },
    { hostname: "a.example", port: 8883, secureTransport: "on" },
    { hostname: "a.example", port: 9000, secureTransport: "on" },
    { hostname: "::1", port: 8883, secureTransport: "on" },
    { hostname: "a.example", port: 1883, secureTransport: "on" },
  ]);
});
