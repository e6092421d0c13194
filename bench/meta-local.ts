/**
 * The `--local` metadata engine (sqlite, synchronous=FULL, group commit) on the event loop vs in
 * its worker thread: create and getattr ops/s with 1 and 32 calls in flight, how long the event
 * loop was held during the creates (p99 and worst: what a cached read would have waited), and how many
 * transactions the creates took. Prints a markdown table.
 * Run: `npm run build && node dist/bench/meta-local.js [N]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteEngine } from '../src/meta/engines/sqlite.js';
import { openSqliteWorkerEngine } from '../src/meta/engines/sqlite-worker-client.js';
import type { GroupCommitStats } from '../src/meta/engines/sqlite-group.js';
import { ROOT_INO, type MetaStore } from '../src/meta/types.js';

const N = Number(process.argv[2] ?? 2000);
const ctx = { uid: 0, gid: 0 };

/** `conc` callers; each call starts from its own event (setImmediate), as FUSE requests arrive. */
async function pool(n: number, conc: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  await Promise.all(Array.from({ length: conc }, async () => { while (next < n) { await turn(); await fn(next++); } }));
  return n / ((performance.now() - t0) / 1000);
}

/** Gaps between ticks of a 1 ms timer, the last one up to stop(): how long the loop was held. */
function loopProbe(): { stop(): { p99: number; max: number } } {
  const gaps: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => { const now = performance.now(); gaps.push(now - last); last = now; }, 1);
  return {
    stop() {
      clearInterval(timer);
      gaps.push(performance.now() - last);
      gaps.sort((a, b) => a - b);
      return { p99: gaps[Math.min(gaps.length - 1, Math.floor(gaps.length * 0.99))], max: gaps[gaps.length - 1] };
    },
  };
}

interface Row { create: number; getattr: number; stallP99: number; stallMax: number; txPer1000: number }

async function measure(store: MetaStore, stats: () => Promise<GroupCommitStats>, conc: number, tag: string): Promise<Row> {
  const dir = (await store.mkdir(ROOT_INO, `bench-${tag}`, 0o40755, ctx)).ino;
  const inos: number[] = new Array(N);
  const before = await stats();
  const probe = loopProbe();
  const create = await pool(N, conc, async (i) => { inos[i] = (await store.create(dir, `f${i}`, 0o100644, ctx)).ino; });
  const lag = probe.stop();
  const after = await stats();
  const getattr = await pool(N, conc, (i) => store.getattr(inos[i], ctx));
  return { create, getattr, stallP99: lag.p99, stallMax: lag.max, txPer1000: ((after.commits - before.commits) / N) * 1000 };
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'flexfs-bench-meta-local-'));
  const results: Array<[string, Row]> = [];
  try {
    const loop = await openSqliteEngine({ file: join(tmp, 'loop.db'), sync: true });
    const lv = await loop.createVolume({ name: 'bench', blockStore: { url: 'file:///tmp/unused' } });
    for (const conc of [1, 32]) {
      results.push([`on the event loop, ${conc} in flight`, await measure(loop.volume(lv.id), () => loop.commitStats(), conc, `l${conc}`)]);
    }
    await loop.close();
    const worker = await openSqliteWorkerEngine({ file: join(tmp, 'worker.db'), sync: true });
    const wv = await worker.createVolume({ name: 'bench', blockStore: { url: 'file:///tmp/unused' } });
    for (const conc of [1, 32]) {
      results.push([`worker thread, ${conc} in flight`, await measure(worker.volume(wv.id), () => worker.commitStats(), conc, `w${conc}`)]);
    }
    await worker.close();
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const lines = [
    `--local metadata engine: ${N} creates then ${N} getattrs, sqlite synchronous=FULL (WAL), group commit, Node ${process.version}`,
    '',
    '| engine | create/s | getattr/s | gaps of a 1 ms timer during creates, p99 / max (ms) | transactions per 1000 creates |',
    '|---|---:|---:|---:|---:|',
    ...results.map(([name, r]) => `| ${name} | ${fmt(r.create)} | ${fmt(r.getattr)} | ${r.stallP99.toFixed(1)} / ${r.stallMax.toFixed(1)} | ${fmt(r.txPer1000)} |`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e) => { process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`); process.exit(1); });
