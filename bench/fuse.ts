/**
 * `npm run bench:fuse`: the FUSE layers side by side in one run, measured by the same script
 * (bench/ref-nullfs/measure.py: stat ×3 of 10k files after drop_caches, `ls -l` after
 * drop_caches, dd 2 GiB write and read bs=1M):
 *   - ref-nullfs: the C low-level null fs (bench/ref-nullfs/llnull.c, compiled here), TTL 0 and 3600
 *   - the low-level layer's JS null fs (src/fuse/lowlevel/nullfs.ts, the same shape as llnull.c),
 *     TTL 0 and 3600, with requests received by libfuse's threads (default) and by the JS thread
 *     itself (--inline)
 * (The fuse-native row, libfuse 2's high-level API, is gone with that layer: every mount, the
 * bench ceiling bench/nullfs.ts included, now runs on the low-level layer.)
 * Needs root (drop_caches), gcc, pkg-config, libfuse3-dev, python3. Writes the table to
 * docs/BENCHMARKS.md (section bench:fuse) unless FLEXFS_BENCH_NO_DOC=1.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startDaemon } from './daemon.js';
import { updateDoc } from './report.js';
import { REPO } from './systems.js';

const run = promisify(execFile);
const KERNEL = release();
const log = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} bench:fuse: ${msg}\n`);

interface System { key: string; label: string; cmd: string; args: (mnt: string) => string[]; env?: NodeJS.ProcessEnv; create: boolean }
interface Row { stat: number; ls: number; entries: number; write: string; read: string }

function systems(llnull: string): System[] {
  const node = process.execPath;
  const llEntry = join(REPO, 'dist', 'src', 'fuse', 'lowlevel', 'nullfs-main.js');
  return [
    { key: 'ref0', label: 'ref-nullfs (C, low-level), TTL 0', cmd: llnull, args: (m) => [m, '-f', '-o', 'allow_other'], env: { TTL: '0' }, create: false },
    { key: 'new0', label: 'low-level layer JS null fs, TTL 0 (libfuse threads → TSFN)', cmd: node, args: (m) => [llEntry, m, '--ttl', '0'], create: false },
    { key: 'inl0', label: 'low-level layer JS null fs, TTL 0, receive inline', cmd: node, args: (m) => [llEntry, m, '--ttl', '0', '--inline'], create: false },
    { key: 'ref3600', label: 'ref-nullfs (C, low-level), TTL 3600', cmd: llnull, args: (m) => [m, '-f', '-o', 'allow_other'], env: { TTL: '3600' }, create: false },
    { key: 'new3600', label: 'low-level layer JS null fs, TTL 3600 (libfuse threads → TSFN)', cmd: node, args: (m) => [llEntry, m, '--ttl', '3600'], create: false },
    { key: 'inl3600', label: 'low-level layer JS null fs, TTL 3600, receive inline', cmd: node, args: (m) => [llEntry, m, '--ttl', '3600', '--inline'], create: false },
  ];
}

/** "label: stat(no cache) 18000/s  ls -l cold 14000/s (10000 entries)  write 1.8 GB/s  read 1.8 GB/s" */
function parse(line: string): Row {
  const m = /stat\(no cache\) (\d+)\/s\s+ls -l cold (\d+)\/s \((\d+) entries\)\s+write (.+?)\s+read (.+)$/.exec(line);
  if (!m) throw new Error(`cannot parse measure.py output: ${line}`);
  return { stat: Number(m[1]), ls: Number(m[2]), entries: Number(m[3]), write: m[4].trim(), read: m[5].trim() };
}

/** dd's "1.8 GB/s" / "850 MB/s" → MB/s. */
function mbps(s: string): number {
  const m = /([\d.]+) (k|M|G)B\/s/.exec(s);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'G' ? 1000 : m[2] === 'M' ? 1 : 0.001);
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'flexfs-bench-fuse-'));
  const llnull = join(work, 'llnull');
  const cflags = (await run('pkg-config', ['--cflags', '--libs', 'fuse3'])).stdout.trim().split(/\s+/);
  await run('gcc', ['-O2', '-o', llnull, join(REPO, 'bench', 'ref-nullfs', 'llnull.c'), ...cflags]);
  const results: Record<string, Row | string> = {};
  const loadBefore = loadavg()[0];
  try {
    for (const sys of systems(llnull)) {
      const mnt = join(work, `mnt-${sys.key}`);
      log(`${sys.label}: mounting`);
      const d = await startDaemon({ cmd: sys.cmd, args: sys.args(mnt), mountpoint: mnt, env: sys.env, cwd: REPO });
      try {
        const { stdout } = await run('python3', [join(REPO, 'bench', 'ref-nullfs', 'measure.py'), mnt, sys.create ? 'create' : 'nocreate', sys.key],
          { timeout: 15 * 60_000 });
        results[sys.key] = parse(stdout.trim().split('\n').pop()!);
        log(`${sys.label}: ${stdout.trim()}`);
      } catch (e) {
        results[sys.key] = `error: ${(e as Error).message.split('\n')[0]}`;
        log(`${sys.label} FAILED: ${(e as Error).message}`);
      } finally {
        await d.stop();
        const writes = /writes: .*/.exec(d.output())?.[0];
        if (writes) log(`${sys.label}: ${writes}`);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const table = render(systems('').map((s) => [s.key, s.label]), results, [loadBefore, loadavg()[0]]);
  process.stdout.write(`${table}\n`);
  if (process.env.FLEXFS_BENCH_NO_DOC !== '1') {
    await updateDoc(join(REPO, 'docs', 'BENCHMARKS.md'), { fuse: table });
    log('docs/BENCHMARKS.md updated (section bench:fuse)');
  }
}

function render(labels: [string, string][], r: Record<string, Row | string>, load: [number, number]): string {
  const row = (k: string) => (typeof r[k] === 'object' ? (r[k] as Row) : undefined);
  const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}×` : '–');
  const k = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k/s` : `${n}/s`);
  const lines = [
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} cores, kernel ${KERNEL}, load average ${load[0].toFixed(1)} at the start and ${load[1].toFixed(1)} at the end (a shared machine: compare rows of one run, not runs); same script (bench/ref-nullfs/measure.py) for every row.`,
    '',
    '| filesystem | stat ×3, 10k files | ls -l 10k after drop_caches | dd write 1M | dd read 1M |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const [key, label] of labels) {
    const x = r[key];
    if (typeof x !== 'object') { lines.push(`| ${label} | ${x ?? '–'} | | | |`); continue; }
    lines.push(`| ${label} | ${k(x.stat)} | ${k(x.ls)} | ${x.write} | ${x.read} |`);
  }
  const n0 = row('new0'), r0 = row('ref0'), n36 = row('new3600'), r36 = row('ref3600');
  const i0 = row('inl0'), i36 = row('inl3600');
  lines.push('', '| ratio | stat | ls -l | write | read |', '|---|---:|---:|---:|---:|');
  const ratios = (label: string, a?: Row, b?: Row) => lines.push(`| ${label} | ${ratio(a?.stat, b?.stat)} | ${ratio(a?.ls, b?.ls)} | ${ratio(a && mbps(a.write), b && mbps(b.write))} | ${ratio(a && mbps(a.read), b && mbps(b.read))} |`);
  ratios('new JS / ref-nullfs, TTL 0 (goal ≥ 0.8×)', n0, r0);
  ratios('new JS / ref-nullfs, TTL 3600 (goal ≥ 0.8×)', n36, r36);
  ratios('new JS inline / ref-nullfs, TTL 0', i0, r0);
  ratios('new JS inline / ref-nullfs, TTL 3600', i36, r36);
  return lines.join('\n');
}

main().catch((e) => {
  console.error(`bench:fuse: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
