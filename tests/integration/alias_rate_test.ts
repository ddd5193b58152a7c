import { aliasRateCases } from "./alias_rate_cases.ts";

for (const c of aliasRateCases) Deno.test(c.name, c.fn);
