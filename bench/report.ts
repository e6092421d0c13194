import { readFile, writeFile } from 'node:fs/promises';
import type { ProfileSummary } from './profile.js';

/** What one system measured: metric id → value (or an error text). */
export type Measured = Record<string, number | string>;

export interface Column { key: string; label: string; durable: boolean; peer: boolean }

export interface MetricRow {
  id: string;
  label: string;
  unit: string;
  /** Target check on the flexfs value; returns [target text, met]. */
  target?: (ctx: TargetCtx) => [string, boolean | undefined] | undefined;
  lowerIsBetter?: boolean;
}

export interface TargetCtx {
  flexfs?: number;
  ceiling?: number;
  /** Local disk's figure (the `disk` column). */
  disk?: number;
  bestPeer?: number;
  bestDurablePeer?: number;
  rawPut?: number;
}

const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
const atLeast = (what: string, k: number, a?: number, b?: number): [string, boolean | undefined] => {
  const r = ratio(a, b);
  return [`≥ ${k}× ${what}`, r === undefined ? undefined : r >= k];
};

export const METRICS: MetricRow[] = [
  { id: 'seqWrite', label: 'seq write 1M + end_fsync (fio)', unit: 'MB/s',
    target: (c) => {
      const [t1, ok1] = atLeast('raw PUT', 0.9, c.flexfs, c.rawPut);
      const [t2, ok2] = atLeast('best durable peer', 1.2, c.flexfs, c.bestDurablePeer);
      return [`${t1}; ${t2}`, ok1 === undefined && ok2 === undefined ? undefined : ok1 !== false && ok2 !== false];
    } },
  { id: 'seqWriteBucket', label: 'seq write until data in bucket', unit: 'MB/s', target: (c) => atLeast('best peer', 1.2, c.flexfs, c.bestPeer) },
  { id: 'coldRead', label: 'seq read cold (remount + drop caches)', unit: 'MB/s', target: (c) => atLeast('best peer', 1.2, c.flexfs, c.bestPeer) },
  { id: 'warmRead', label: 'seq read warm', unit: 'MB/s', target: (c) => atLeast('ceiling', 1, c.flexfs, c.ceiling) },
  { id: 'randRead', label: '4K random read, cached', unit: 'IOPS', target: (c) => atLeast('ceiling', 1, c.flexfs, c.ceiling) },
  { id: 'create', label: 'small files: create 4K, fsync at close', unit: 'files/s', target: (c) => atLeast('best durable peer', 2, c.flexfs, c.bestDurablePeer) },
  { id: 'createBucket', label: 'small files: create until in bucket', unit: 'files/s' },
  { id: 'ls', label: 'small files: ls -l (cold dentries)', unit: 'entries/s', target: (c) => atLeast('ceiling', 0.5, c.flexfs, c.ceiling) },
  { id: 'stat', label: 'small files: stat (cold dentries)', unit: 'ops/s' },
  { id: 'statWarm', label: 'small files: stat again (looked up)', unit: 'ops/s', target: (c) => atLeast('local disk', 0.5, c.flexfs, c.disk) },
  { id: 'read', label: 'small files: open+read 4K+close', unit: 'files/s' },
  { id: 'delete', label: 'small files: delete', unit: 'files/s', target: (c) => atLeast('ceiling', 0.5, c.flexfs, c.ceiling) },
  { id: 'rss', label: 'mount peak RSS after the write (VmHWM)', unit: 'MiB', lowerIsBetter: true,
    target: (c) => (c.flexfs === undefined ? undefined : ['≤ 300 MiB', c.flexfs <= 300]) },
];

function fmt(v: number | string | undefined): string {
  if (v === undefined) return '–';
  if (typeof v === 'string') return v;
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export interface ReportInput {
  columns: Column[];
  results: Record<string, Measured>;
  /** Column whose figures the ratios and targets use. */
  flexfsKey?: string;
  rawPut?: number;
  header: string[];
}

/** The markdown table: one row per metric, one column per system, then ratios and targets. */
export function renderTable(inp: ReportInput): string {
  const { columns, results, flexfsKey } = inp;
  const num = (key: string, id: string) => { const v = results[key]?.[id]; return typeof v === 'number' ? v : undefined; };
  const best = (id: string, cols: Column[], lower = false) => {
    const vals = cols.map((c) => num(c.key, id)).filter((v): v is number => v !== undefined);
    return vals.length ? (lower ? Math.min(...vals) : Math.max(...vals)) : undefined;
  };
  const peers = columns.filter((c) => c.peer);
  const lines = [
    `| job | unit | ${columns.map((c) => c.label).join(' | ')} | flexfs/ceiling | flexfs/best peer | target | met |`,
    `|---|---|${columns.map(() => '---:').join('|')}|---:|---:|---|---|`,
  ];
  for (const m of METRICS) {
    const fx = flexfsKey ? num(flexfsKey, m.id) : undefined;
    const ceiling = num('null', m.id);
    // rclone's fio write figure is its local cache: it is no durable peer for fsync'd writes.
    const durablePeers = peers.filter((p) => p.durable);
    const bestPeer = best(m.id, m.id === 'seqWrite' || m.id === 'create' ? durablePeers : peers, m.lowerIsBetter);
    const ctx: TargetCtx = { flexfs: fx, ceiling, disk: num('disk', m.id), bestPeer: best(m.id, peers), bestDurablePeer: best(m.id, durablePeers), rawPut: inp.rawPut };
    const t = m.target?.(ctx);
    const r = (a?: number, b?: number) => { const x = ratio(a, b); return x === undefined ? '–' : `${x.toFixed(2)}×`; };
    const met = !t ? '' : t[1] === undefined ? 'n/a' : t[1] ? 'yes' : '**MISSED**';
    lines.push(`| ${m.label} | ${m.unit} | ${columns.map((c) => fmt(results[c.key]?.[m.id])).join(' | ')} | ${m.lowerIsBetter ? '–' : r(fx, ceiling)} | ${m.lowerIsBetter ? '–' : r(fx, bestPeer)} | ${t?.[0] ?? ''} | ${met} |`);
  }
  return [...inp.header, '', ...lines].join('\n');
}

export function renderProfile(p: ProfileSummary, title: string): string {
  const lines = [
    title, '',
    `Busy CPU time sampled: ${Math.round(p.totalMs)} ms over ${p.threads.length} thread(s) (${p.threads.map((t) => `${t.name.split(' (')[0]}: ${Math.round(t.ms - t.idleMs)} ms busy`).join(', ')}).`,
    '',
    '| # | function | where | thread | self ms | share of busy |',
    '|---:|---|---|---|---:|---:|',
    ...p.top.map((t, i) => `| ${i + 1} | \`${t.fn}\` | ${t.where} | ${t.thread} | ${Math.round(t.ms)} | ${(t.share * 100).toFixed(1)}% |`),
  ];
  return lines.join('\n');
}

const TEMPLATE = `# Benchmarks

Run: \`npm run bench\` (full size, < 20 min) or \`FLEXFS_BENCH_SCALE=small npm run bench\` (quick).
See "How the bench works" below.

## Codec

<!-- Filled by the integrator from \`npm run bench:codec\`. -->

## Results

<!-- bench:results:begin -->
<!-- bench:results:end -->

## Profile

<!-- bench:profile:begin -->
<!-- bench:profile:end -->
`;

/** Replace the text between `<!-- bench:<name>:begin -->` and `:end -->` in docs/BENCHMARKS.md. */
export async function updateDoc(file: string, sections: Record<string, string>): Promise<void> {
  let text = await readFile(file, 'utf8').catch(() => TEMPLATE);
  for (const [name, body] of Object.entries(sections)) {
    const begin = `<!-- bench:${name}:begin -->`;
    const end = `<!-- bench:${name}:end -->`;
    const a = text.indexOf(begin);
    const b = text.indexOf(end);
    if (a < 0 || b < a) text += `\n${begin}\n${body}\n${end}\n`;
    else text = `${text.slice(0, a + begin.length)}\n${body}\n${text.slice(b)}`;
  }
  await writeFile(file, text);
}
