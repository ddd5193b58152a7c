// tools/check_layers.ts: the layer rule on synthetic file maps (no disk, no broker).

import assert from "node:assert/strict";
import { checkLayers, findImports, layerOf } from "../../tools/check_layers.ts";

Deno.test("checkLayers() fails an import that points up a layer", () => {
  const violations = checkLayers({
    "src/queue/memory.ts": 'import { MqttError } from "../errors.ts";\n' +
      'import type { PublishOptions } from "../client/types.ts";\n',
    "src/client/types.ts": "export interface PublishOptions { topic: string }\n",
    "src/errors.ts": "export class MqttError extends Error {}\n",
  });
  assert.deepEqual(violations.map((v) => [v.file, v.line, v.specifier, v.rule]), [
    ["src/queue/memory.ts", 2, "../client/types.ts", "upward"],
  ]);
  assert.deepEqual(violations[0].from, { level: 2, area: "src/queue" });
  assert.deepEqual(violations[0].to, { level: 3, area: "src/client" });
});

Deno.test("checkLayers() passes downward and same-layer imports", () => {
  assert.deepEqual(
    checkLayers({
      "mod.ts": 'export { Client } from "./src/client/client.ts";\n',
      "src/client/client.ts": 'import { MqttError } from "../errors.ts";\n' +
        'import type { SessionStore } from "../session/store.ts";\n' +
        'const { autoDial } = await import("../transport/mod.ts");\n',
      "src/queue/file.ts": 'import { readFrame } from "../store/_frame.ts";\n',
      "src/cli/pub.ts": 'import { readFile } from "node:fs/promises";\n' +
        'import type { Client } from "../../mod.ts";\n',
    }),
    [],
  );
});

Deno.test("checkLayers() catches import type, export-from and dynamic import() upward", () => {
  const violations = checkLayers({
    "src/wire/encode.ts": [
      "import type {",
      "  Client,",
      '} from "../client/client.ts";',
      'export * from "../group/client_group.ts";',
      'const m = await import("../codec/json.ts");',
      '// import { x } from "../client/client.ts"; (a comment: not an import)',
      "const s = 'import { y } from \"../client/client.ts\"';",
    ].join("\n"),
  });
  assert.deepEqual(violations.map((v) => [v.line, v.rule, v.to?.level]), [
    [1, "upward", 3],
    [4, "upward", 4],
    [5, "upward", 4],
  ]);
});

Deno.test("checkLayers() fails an adapter importing another runtime's adapter", () => {
  const violations = checkLayers({
    "src/transport/bun.ts": 'import { endpoint } from "./_endpoint.ts";\n' +
      'import { wsDial } from "./ws.ts";\n',
    "src/transport/mod.ts": 'const d = (await import("./bun.ts")).bunDial;\n',
    // the one listed exception: denoDial hands insecureSkipVerify dials to nodeDial
    "src/transport/deno.ts": 'const { nodeDial } = await import("./node.ts");\n' +
      'import { bunDial } from "./bun.ts";\n',
  });
  assert.deepEqual(violations.map((v) => [v.file, v.line, v.rule]), [
    ["src/transport/bun.ts", 2, "adapter"],
    ["src/transport/deno.ts", 2, "adapter"],
  ]);
});

Deno.test("checkLayers() confines node: imports and the Deno global to the runtime files", () => {
  const violations = checkLayers({
    "src/client/client.ts": 'import process from "node:process";\n' +
      "const pid = Deno.pid; const g = globalThis as { Deno?: unknown }; g.Deno;\n",
    "src/transport/node.ts": 'import { connect } from "node:net";\n',
    "src/store/_fs.ts": "const f = await Deno.open(path);\n",
    "src/cli/mod.ts": 'import process from "node:process";\nconst a = Bun.argv;\n',
  });
  assert.deepEqual(violations.map((v) => [v.file, v.line, v.rule, v.specifier]), [
    ["src/cli/mod.ts", 2, "runtime", "Bun"],
    ["src/client/client.ts", 1, "runtime", "node:process"],
    ["src/client/client.ts", 2, "runtime", "Deno"],
  ]);
});

Deno.test("checkLayers() fails a file or a target the layer table does not place", () => {
  const violations = checkLayers({
    "src/web/mod.ts": 'export { Client } from "../client/client.ts";\n',
    "src/client/client.ts": 'import { x } from "../../tests/_helpers/broker.ts";\n' +
      "const m = await import(name);\n",
  });
  assert.deepEqual(violations.map((v) => [v.file, v.line, v.rule]), [
    ["src/client/client.ts", 1, "unlayered"],
    ["src/client/client.ts", 2, "unlayered"],
    ["src/web/mod.ts", 1, "unlayered"],
  ]);
});

Deno.test("findImports() skips regular expressions, templates and import.meta", () => {
  const sites = findImports([
    'const re = /"/; const t = `a ${"b"} import "c"`;',
    "if (import.meta.main) {}",
    'export { a } from "./a.ts"; const x = 1 / 2; import "./side.ts";',
  ].join("\n"));
  assert.deepEqual(sites, [{ specifier: "./a.ts", line: 3 }, { specifier: "./side.ts", line: 3 }]);
});

Deno.test("layerOf() places every area of the table", () => {
  assert.deepEqual(layerOf("src/_internal/async.ts")?.level, 0);
  assert.deepEqual(layerOf("src/errors.ts")?.level, 0);
  assert.deepEqual(layerOf("src/topic/trie.ts")?.level, 1);
  assert.deepEqual(layerOf("src/store/file.ts")?.level, 2);
  assert.deepEqual(layerOf("src/client/client.ts")?.level, 3);
  assert.deepEqual(layerOf("src/codec/json.ts")?.level, 4);
  assert.deepEqual(layerOf("src/otel/mod.ts")?.level, 4);
  assert.deepEqual(layerOf("mod.ts")?.level, 5);
  assert.deepEqual(layerOf("src/cli/mod.ts")?.level, 5);
  assert.deepEqual(layerOf("src/errors_extra.ts"), undefined);
});
