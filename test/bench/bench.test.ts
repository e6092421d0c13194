import { execFile } from 'node:child_process';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peakRss } from '../../bench/daemon.js';
import { runFio } from '../../bench/fio.js';
import { summarizeProfiles } from '../../bench/profile.js';
import { renderTable, updateDoc } from '../../bench/report.js';
import { REPO_ROOT } from '../harness/mount.js';
import { tempDir } from '../harness/ports.js';

// The bench's own parts on real fio and real V8 profiles; the full `npm run bench` is not a test
// (performance lives in benchmarks, not timed tests).
const JOBS = join(REPO_ROOT, 'packaging', 'fio');
let tmp: { path: string; cleanup: () => Promise<void> };
beforeAll(async () => { tmp = await tempDir('flexfs-bench-test-'); });
afterAll(async () => { await tmp?.cleanup(); });

describe('fio job files', () => {
  it('seq-write writes BENCH_SIZE and reports a bandwidth that includes the end fsync', async () => {
    const env = { dir: tmp.path, size: '4m', runtimeSec: 1, nrfiles: 20 };
    const r = await runFio(JOBS, 'seq-write', env, 60_000);
    expect((await stat(join(tmp.path, 'seq.bin'))).size).toBe(4 * 2 ** 20);
    expect(r.bwBytes).toBeGreaterThan(0);
    expect(r.runtimeMs).toBeLessThanOrEqual(r.wallMs);
    const read = await runFio(JOBS, 'seq-read', env, 60_000);
    expect(read.bwBytes).toBeGreaterThan(0);
  });

  it('small-create makes BENCH_NRFILES 4 KiB files and small-delete removes them', async () => {
    const env = { dir: join(tmp.path), size: '4m', runtimeSec: 1, nrfiles: 20 };
    const c = await runFio(JOBS, 'small-create', env, 60_000);
    const small = (await readdir(tmp.path)).filter((f) => f.startsWith('small.'));
    expect(small).toHaveLength(20);
    for (const f of small) expect((await stat(join(tmp.path, f))).size).toBe(4096);
    expect(c.iops).toBeGreaterThan(0);
    await runFio(JOBS, 'small-delete', env, 60_000);
    expect((await readdir(tmp.path)).filter((f) => f.startsWith('small.'))).toHaveLength(0);
  });

  it('a failing job rejects with a message naming the job', async () => {
    const env = { dir: join(tmp.path, 'missing', 'dir'), size: '1m', runtimeSec: 1, nrfiles: 1 };
    await expect(runFio(JOBS, 'seq-read', env, 60_000)).rejects.toThrow(/fio seq-read/);
  });
});

describe('profile summary', () => {
  it('finds the hot function of a real --cpu-prof profile', async () => {
    const dir = join(tmp.path, 'prof');
    const script = 'function benchHotLoop(){let x=0;const t=Date.now();while(Date.now()-t<400)x+=Math.sqrt(x+1);return x}benchHotLoop();';
    await new Promise<void>((ok, fail) => execFile(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '-e', script],
      { timeout: 30_000 }, (err) => (err ? fail(err) : ok())));
    const s = await summarizeProfiles(dir, REPO_ROOT, 5);
    expect(s.threads.map((t) => t.name.split(' ')[0])).toContain('main');
    const hot = s.top.find((t) => t.fn === 'benchHotLoop');
    expect(hot).toBeDefined();
    expect(hot!.ms).toBeGreaterThan(100);
  });
});

describe('report', () => {
  it('computes ratios against the ceiling and the best durable peer, and flags missed targets', () => {
    const table = renderTable({
      columns: [
        { key: 'null', label: 'null', durable: true, peer: false },
        { key: 'flexfs-rgw', label: 'flexfs', durable: true, peer: false },
        { key: 's3fs', label: 's3fs', durable: true, peer: true },
        { key: 'rclone', label: 'rclone', durable: false, peer: true },
      ],
      results: {
        null: { seqWrite: 1000, delete: 1000 },
        'flexfs-rgw': { seqWrite: 100, delete: 400, rss: 120 },
        s3fs: { seqWrite: 50, delete: 100 },
        rclone: { seqWrite: 900, delete: 50 },
      },
      flexfsKey: 'flexfs-rgw', rawPut: 100, header: ['hdr'],
    });
    const row = (label: string) => table.split('\n').find((l) => l.startsWith(`| ${label}`))!;
    // rclone's fio write figure is its local cache, so the durable peer is s3fs: 100/50.
    expect(row('seq write 1M')).toContain('| 0.10× | 2.00× |');
    expect(row('seq write 1M')).toContain('| yes |');
    expect(row('small files: delete')).toContain('| 0.40× |');
    expect(row('small files: delete')).toContain('**MISSED**');
    expect(row('mount peak RSS')).toContain('| yes |');
  });

  it('replaces only the marked sections of the doc', async () => {
    const file = join(tmp.path, 'B.md');
    await writeFile(file, '# T\nkeep me\n<!-- bench:results:begin -->\nold\n<!-- bench:results:end -->\ntail\n');
    await updateDoc(file, { results: 'new table', profile: 'prof' });
    const text = await readFile(file, 'utf8');
    expect(text).toContain('keep me');
    expect(text).toContain('tail');
    expect(text).not.toContain('old');
    expect(text).toMatch(/results:begin -->\nnew table\n<!-- bench:results:end/);
    expect(text).toMatch(/profile:begin -->\nprof\n<!-- bench:profile:end/);
  });
});

it('peakRss reads VmHWM of a live process', async () => {
  expect(await peakRss(process.pid)).toBeGreaterThan(10 * 2 ** 20);
  expect(await peakRss(2 ** 22 + 12345)).toBeUndefined();
});
