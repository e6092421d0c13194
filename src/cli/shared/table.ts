/** Print rows as an aligned text table (no borders), header first. */
export function formatTable(headers: string[], rows: Array<Array<string | number | boolean | undefined | null>>): string {
  const cells = rows.map((r) => r.map((c) => (c === undefined || c === null ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

/** Print `key: value` pairs aligned. */
export function formatPairs(pairs: Array<[string, string | number | boolean | undefined | null]>): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${(k + ':').padEnd(w + 1)} ${v === undefined || v === null || v === '' ? '-' : String(v)}`).join('\n') + '\n';
}

/** Seconds as a duration flag writes them (7d, 24h, 15m, 30s): `--help` defaults. */
export function durationFlag(seconds: number): string {
  for (const [unit, n] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= n && seconds % n === 0) return `${seconds / n}${unit}`;
  }
  return `${seconds}s`;
}

/** Parse a duration: seconds ("3600") or with a unit (30s, 15m, 24h, 7d). Returns seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)\s*([smhd]?)$/i.exec(text.trim());
  if (!m) throw new Error(`duration "${text}": expected seconds or a number with s/m/h/d, e.g. 24h`);
  const mult = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2].toLowerCase() as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * mult;
}
