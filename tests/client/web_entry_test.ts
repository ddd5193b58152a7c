/**
 * The web entry (web.ts) registers no runtime transport: a Client there needs
 * `dial`. Checked in a fresh process that never loads mod.ts (which registers
 * the runtime's transport for the whole module graph).
 *
 * @module
 */

import assert from "node:assert/strict";

const WEB = new URL("../../web.ts", import.meta.url).href;

async function evalIn(code: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-lock", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("web.ts Client without dial throws a TypeError naming wsDial; with dial it is created", async () => {
  const out = await evalIn(`
    const { Client, wsDial } = await import(${JSON.stringify(WEB)});
    let error = "none";
    try { new Client({ broker: "mqtt://127.0.0.1:1883" }); } catch (e) { error = e.name + ": " + e.message; }
    const ok = new Client({ broker: "ws://127.0.0.1:8080/mqtt", dial: wsDial() });
    console.log(JSON.stringify({ error, created: ok.connected === false }));
  `);
  const r = JSON.parse(out) as { error: string; created: boolean };
  assert.match(r.error, /^TypeError: .*wsDial/);
  assert.equal(r.created, true);
});

Deno.test("mod.ts Client without dial picks the runtime's transport (no TypeError)", async () => {
  const MOD = new URL("../../mod.ts", import.meta.url).href;
  const out = await evalIn(`
    const { Client } = await import(${JSON.stringify(MOD)});
    const c = new Client({ broker: "mqtt://127.0.0.1:1883" });
    console.log(String(c.connected));
  `);
  assert.equal(out, "false");
});
