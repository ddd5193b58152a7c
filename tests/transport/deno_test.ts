// The transport cases (transport_cases.ts) with denoDial, against mosquitto,
// and the runtime picker in src/transport/mod.ts.

import assert from "node:assert/strict";
import { denoDial } from "../../src/transport/deno.ts";
import { autoDial, defaultDial, detectRuntime } from "../../src/transport/mod.ts";
import { lingerCase } from "./linger_cases.ts";
import { runCase, TRANSPORT_CASES } from "./transport_cases.ts";

for (const c of TRANSPORT_CASES) {
  Deno.test(
    `denoDial() ${c.name}`,
    () => runCase(c, denoDial, { abortedTlsHandshakeLingers: true }),
  );
}

Deno.test("detectRuntime() is deno and defaultDial() loads denoDial", async () => {
  assert.equal(detectRuntime(), "deno");
  assert.equal(await defaultDial(), denoDial);
  assert.equal(await defaultDial(), await defaultDial());
});

const plain = TRANSPORT_CASES.find((c) => c.name.startsWith("plain TCP: CONNECT"))!;
Deno.test(`autoDial() ${plain.name}`, () => runCase(plain, autoDial));

Deno.test(
  "denoDial() reads an idle connection into a 512-byte slab, and grows it once messages are larger",
  async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = listener.accept();
    const conn = await denoDial(new URL(`mqtt://127.0.0.1:${listener.addr.port}`), {});
    const peer = await accepted;
    const chunks: Uint8Array[] = [];
    let total = 0;
    let wake: (() => void) | undefined;
    conn.start((c) => {
      chunks.push(c);
      total += c.length;
      wake?.();
    }, () => {});
    const sendAndRead = async (bytes: Uint8Array) => {
      const want = total + bytes.length;
      await peer.write(bytes);
      while (total < want) await new Promise<void>((r) => wake = r);
    };
    try {
      // A PINGRESP to an idle connection: its read held 512 bytes, not more.
      await sendAndRead(new Uint8Array([0xd0, 0x00]));
      assert.equal(chunks[0].buffer.byteLength, 512);
      // 700-byte messages one at a time: one fills a whole 512-byte slab, which
      // grows the small slabs to 1 KiB; no message takes a 64 KiB slab after that.
      for (let i = 0; i < 6; i++) await sendAndRead(new Uint8Array(700).fill(i + 1));
      const sizes = chunks.map((c) => c.buffer.byteLength);
      const grown = sizes.indexOf(1024);
      assert.ok(grown > 0, `small slabs grew to 1 KiB: ${sizes}`);
      assert.ok(sizes.slice(grown).every((n) => n === 1024), `${sizes}`);
      assert.ok(sizes.filter((n) => n === 64 * 1024).length <= 1, `${sizes}`);
      // Every byte arrived in order.
      const all = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) all.set(c, (at += c.length) - c.length);
      for (let i = 0; i < 6; i++) {
        assert.ok(all.subarray(2 + i * 700, 2 + (i + 1) * 700).every((b) => b === i + 1));
      }
    } finally {
      conn.close();
      peer.close();
      listener.close();
    }
  },
);

Deno.test(
  "denoDial() waits a moment before reading again when onData answers true; pause() still holds",
  () => lingerCase(denoDial),
);
