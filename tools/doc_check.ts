// Documentation completeness beyond `deno doc --lint`: every exported symbol of
// every entry point has a summary and a titled example; every public function,
// method and constructor documents each parameter (@param), what it returns
// (@returns, also for Promise<void>); every public property has a summary.
// Prints each gap and exits 1 if there is any.
//
//   deno run -A tools/doc_check.ts            (all entry points of deno.json)
//   deno run -A tools/doc_check.ts mod.ts     (some)

interface Tag {
  kind: string;
  doc?: string;
  name?: string;
}
interface JsDoc {
  doc?: string;
  tags?: Tag[];
}
interface Param {
  kind: string;
  name?: string;
  left?: Param;
  arg?: Param;
}
interface FunctionDef {
  params: Param[];
  returnType?: { repr: string };
}
interface Member {
  name: string;
  kind?: string;
  jsDoc?: JsDoc;
  accessibility?: string;
  functionDef?: FunctionDef;
  params?: Param[];
  returnType?: { repr: string };
  isStatic?: boolean;
}
interface Declaration {
  kind: string;
  declarationKind?: string;
  jsDoc?: JsDoc;
  def: {
    methods?: Member[];
    constructors?: Member[];
    properties?: Member[];
    params?: Param[];
    returnType?: { repr: string };
    callSignatures?: Member[];
  };
}
interface DocSymbol {
  name: string;
  declarations: Declaration[];
}

const config = JSON.parse(await Deno.readTextFile("deno.json"));
const entries: string[] = Deno.args.length > 0
  ? Deno.args
  : [...new Set(Object.values(config.exports as Record<string, string>))];

const gaps: string[] = [];

function paramName(p: Param): string | undefined {
  if (p.name !== undefined) return p.name;
  if (p.left !== undefined) return paramName(p.left);
  if (p.arg !== undefined) return paramName(p.arg);
  return undefined;
}

function tags(doc: JsDoc | undefined, kind: string): Tag[] {
  return (doc?.tags ?? []).filter((t) => t.kind === kind);
}

function checkCallable(where: string, doc: JsDoc | undefined, params: Param[], ret?: string) {
  if (doc === undefined || (doc.doc ?? "").trim() === "") {
    gaps.push(`${where}: no summary`);
    return;
  }
  if (tags(doc, "internal").length > 0 || tags(doc, "ignore").length > 0) return;
  const documented = new Set(tags(doc, "param").map((t) => t.name));
  for (const p of params) {
    const n = paramName(p);
    if (n !== undefined && !documented.has(n)) gaps.push(`${where}: no @param ${n}`);
  }
  if (ret !== undefined && ret !== "void" && ret !== "" && tags(doc, "return").length === 0) {
    gaps.push(`${where}: no @returns (${ret})`);
  }
}

function checkExample(where: string, doc: JsDoc | undefined) {
  const ex = tags(doc, "example");
  if (ex.length === 0) gaps.push(`${where}: no @example`);
  for (const e of ex) {
    const title = (e.doc ?? "").split("\n")[0].trim();
    if (title === "" || title.startsWith("```")) gaps.push(`${where}: an @example without a title`);
  }
}

for (const entry of entries) {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", entry],
    stderr: "inherit",
  })
    .outputSync();
  if (!out.success) {
    gaps.push(`${entry}: deno doc failed`);
    continue;
  }
  const json = JSON.parse(new TextDecoder().decode(out.stdout));
  for (const [file, node] of Object.entries(json.nodes as Record<string, unknown>)) {
    const mod = node as { module_doc?: JsDoc; symbols: DocSymbol[] };
    if (tags(mod.module_doc, "module").length === 0) gaps.push(`${file}: no @module doc`);
    for (const sym of mod.symbols) {
      // A const and a type of one name show as one symbol: one titled example for both.
      const exported = sym.declarations.filter((d) => d.declarationKind !== "private");
      if (exported.length > 1 && exported.some((d) => tags(d.jsDoc, "example").length > 0)) {
        for (const d of exported) {
          if (tags(d.jsDoc, "example").length === 0) {
            d.jsDoc = {
              ...d.jsDoc,
              tags: [...(d.jsDoc?.tags ?? []), { kind: "example", doc: "(merged)" }],
            };
          }
        }
      }
      for (const decl of sym.declarations) {
        if (decl.declarationKind === "private") continue; // referenced, not exported
        if (decl.kind === "import" || decl.kind === "moduleDoc" || decl.kind === "reference") {
          continue;
        }
        const where = `${entry} ${sym.name}`;
        if ((decl.jsDoc?.doc ?? "").trim() === "") gaps.push(`${where}: no summary`);
        checkExample(where, decl.jsDoc);
        const def = decl.def;
        if (decl.kind === "function") {
          checkCallable(where, decl.jsDoc, def.params ?? [], def.returnType?.repr);
        }
        for (const c of def.constructors ?? []) {
          if (c.accessibility === "private") continue;
          checkCallable(`${where} constructor`, c.jsDoc, c.params ?? []);
        }
        for (const m of def.methods ?? []) {
          if (m.accessibility === "private" || m.name.startsWith("#")) continue;
          const at = `${where}.${m.name}`;
          if (m.kind === "getter" || m.kind === "setter") {
            if ((m.jsDoc?.doc ?? "").trim() === "") gaps.push(`${at}: no summary`);
            continue;
          }
          // Class methods carry a functionDef; interface methods their params directly.
          const params = m.functionDef?.params ?? m.params ?? [];
          checkCallable(at, m.jsDoc, params, (m.functionDef?.returnType ?? m.returnType)?.repr);
        }
        for (const p of def.properties ?? []) {
          if (p.accessibility === "private") continue;
          if ((p.jsDoc?.doc ?? "").trim() === "") gaps.push(`${where}.${p.name}: no summary`);
        }
      }
    }
  }
}

for (const g of [...new Set(gaps)]) console.log(g);
console.error(`${new Set(gaps).size} documentation gaps in ${entries.length} entry points`);
Deno.exit(gaps.length === 0 ? 0 : 1);
