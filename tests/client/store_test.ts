import { storeCases } from "./store_cases.ts";

for (const c of storeCases) Deno.test(c.name, c.fn);
