// Helpers the end-to-end benchmark drivers share (e2e_run.ts, compare.ts).

export function parseArgs(args: string[]): Map<string, string> {
  const kv = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) throw new TypeError(`unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    if (eq > 0) kv.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < args.length && !args[i + 1].startsWith("--")) kv.set(a.slice(2), args[++i]);
    else kv.set(a.slice(2), "true");
  }
  return kv;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fmtRate(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(0);
}
