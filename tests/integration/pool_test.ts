import { poolCases } from "./pool_cases.ts";

for (const c of poolCases) Deno.test(c.name, c.fn);
