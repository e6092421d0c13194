/**
 * `npm run bench:coldread`: cold sequential read, side by side in one run. Writes a file of
 * half-compressible data to flexfs `--local` and to flexfs on meta.flexfs + Ceph RGW, then for each
 * remounts, drops the kernel's caches and reads it with `dd bs=1M`, and again (remount, drop) with
 * fio (packaging/fio/seq-read.fio). Prints MB/s, the mount process's CPU seconds per GiB read, and
 * the raw SDK GET rate of the same RGW (4 MiB objects, several in flight) as the ceiling.
 *
 * Env: FLEXFS_COLDREAD_MB (default 1024), FLEXFS_COLDREAD_SYSTEMS (comma list of flexfs-local,
 * flexfs-rgw), FLEXFS_COLDREAD_PROFILE=1 adds a CPU profile (node --cpu-prof) of the RGW mount
 * during one more cold dd read.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';
import type { Rgw } from '../test/harness/rgw.js';
import { dropCaches } from './daemon.js';
import { fioInstalled, runFio, type FioEnv } from './fio.js';
import { summarizeProfiles } from './profile.js';
import { renderProfile } from './report.js';
import { FlexfsMount, REPO, emptyDir, startMetaServer, which } from './systems.js';

const MB = 1e6;
const MiB = 2 ** 20;
const JOBS = join(REPO, 'packaging', 'fio');
const JOB_TIMEOUT_MS = 15 * 60_000;
const log = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} coldread: ${msg}\n`);

/** User + system CPU seconds of a live process, all its threads (/proc/PID/stat). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * 1 MiB chunks, each half random bytes and half repeated text: lz4 saves about half of a block,
 * as with typical mixed data (neither all zeros nor all noise).
 */
async function writeHalfCompressible(file: string, bytes: number): Promise<void> {
  const text = Buffer.from('2026-12-07T01:41:00Z INFO flexfs block 000123 stored in 4.1 ms; cache hit ratio 0.93\n');
  const fh = await open(file, 'w');
  try {
    for (let off = 0; off < bytes; off += MiB) {
      const chunk = Buffer.alloc(MiB);
      randomBytes(MiB / 2).copy(chunk);
      for (let at = MiB / 2; at < MiB; at += text.length) text.copy(chunk, at);
      await fh.write(chunk, 0, Math.min(MiB, bytes - off), off);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** `dd if=FILE of=/dev/null bs=1M`; MB/s from our own clock (dd's summary line varies by locale). */
function dd(file: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((ok, fail) => execFile('dd', [`if=${file}`, 'of=/dev/null', 'bs=1M'], { timeout: JOB_TIMEOUT_MS }, (err, _out, errOut) => {
    if (err) { fail(new Error(`dd failed: ${err.message}\n${errOut}`)); return; }
    const m = /^(\d+) bytes/m.exec(errOut);
    ok(Number(m?.[1] ?? 0) / MB / ((performance.now() - t0) / 1000));
  }));
}

/** Raw SDK GET rate of 4 MiB objects, best of 8 and 16 in flight (the ceiling a mount can reach). */
async function rawGetRate(rgw: Rgw, bucket: string, bytes: number): Promise<number> {
  const store = openStore({ url: `s3://${bucket}/raw`, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true, blockUser: rgw.accessKey, blockPass: rgw.secretKey });
  const body = randomBytes(4 * MiB);
  const n = Math.max(8, Math.round(bytes / body.length));
  let best = 0;
  try {
    for (let i = 0; i < n; i += 16) await Promise.all(Array.from({ length: Math.min(16, n - i) }, (_, j) => store.put(`o${i + j}`, body)));
    for (const conc of [8, 16]) {
      let next = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: conc }, async () => { while (next < n) await store.get(`o${next++}`); }));
      best = Math.max(best, (n * body.length) / MB / ((performance.now() - t0) / 1000));
    }
  } finally {
    for (let i = 0; i < n; i += 16) await Promise.all(Array.from({ length: Math.min(16, n - i) }, (_, j) => store.delete(`o${i + j}`).catch(() => undefined)));
    await store.close();
  }
  return best;
}

interface Row { label: string; dd?: number; fio?: number; cpuPerGiB?: number; error?: string }

async function benchOne(sys: FlexfsMount, sizeBytes: number, profileDir?: string): Promise<Row> {
  const row: Row = { label: sys.label };
  const file = join(sys.dir, 'seq.bin');
  await sys.start();
  try {
    log(`${sys.key}: writing ${sizeBytes / MiB} MiB`);
    await writeHalfCompressible(file, sizeBytes);
    await sys.remount();
    await dropCaches();
    const cpu0 = await cpuSeconds(sys.pid!);
    row.dd = await dd(file);
    row.cpuPerGiB = (await cpuSeconds(sys.pid!) - cpu0) / (sizeBytes / 2 ** 30);
    log(`${sys.key}: dd ${row.dd.toFixed(1)} MB/s, ${row.cpuPerGiB.toFixed(2)} CPU s/GiB`);
    await sys.remount();
    await dropCaches();
    const env: FioEnv = { dir: sys.dir, size: `${sizeBytes / MiB}m`, runtimeSec: 0, nrfiles: 1 };
    row.fio = (await runFio(JOBS, 'seq-read', env, JOB_TIMEOUT_MS)).bwBytes / MB;
    log(`${sys.key}: fio ${row.fio.toFixed(1)} MB/s`);
    if (profileDir) {
      await sys.stop();
      sys.nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
      await sys.start();
      await dropCaches();
      await dd(file);
      await sys.stop(); // the profile is written at exit
      sys.nodeArgs = [];
      await sys.start();
    }
    await rm(file, { force: true });
  } catch (e) {
    row.error = (e as Error).message.split('\n')[0];
    log(`${sys.key} FAILED: ${(e as Error).message}\n${sys.output().split('\n').slice(-8).join('\n')}`);
  } finally {
    await sys.stop();
  }
  return row;
}

async function main(): Promise<void> {
  if (!(await fioInstalled())) {
    process.stderr.write('coldread: fio is not installed. Install it with: apt-get install -y fio\n');
    process.exit(2);
  }
  const mb = Number(process.env.FLEXFS_COLDREAD_MB ?? 1024);
  if (!Number.isInteger(mb) || mb <= 0) {
    process.stderr.write(`coldread: FLEXFS_COLDREAD_MB must be a positive whole number of MiB, got ${JSON.stringify(process.env.FLEXFS_COLDREAD_MB)}\n`);
    process.exit(2);
  }
  const size = mb * MiB;
  const only = process.env.FLEXFS_COLDREAD_SYSTEMS?.split(',').map((s) => s.trim());
  const want = (k: string) => !only || only.includes(k);
  const profile = process.env.FLEXFS_COLDREAD_PROFILE === '1';
  const work = await mkdtemp('/var/tmp/flexfs-coldread-');
  let rgw: Rgw | undefined;
  let meta: Awaited<ReturnType<typeof startMetaServer>> | undefined;
  const cleanup = async () => {
    await meta?.stop().catch(() => undefined);
    await rgw?.stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  };
  process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)); });
  process.on('SIGTERM', () => { void cleanup().then(() => process.exit(143)); });
  const rows: Row[] = [];
  let rawGet: number | undefined;
  let profileText = '';
  try {
    if (want('flexfs-local')) {
      rows.push(await benchOne(new FlexfsMount('flexfs-local', 'flexfs --local', join(work, 'mnt-local'), ['--local', join(work, 'local')]), size));
    }
    if (want('flexfs-rgw')) {
      if (!(await which('radosgw'))) throw new Error('Ceph is not installed (apt-get install -y ceph-mon ceph-osd ceph-common radosgw)');
      log('starting a single-node Ceph RGW');
      const { startRgw } = await import('../test/harness/rgw.js');
      rgw = await startRgw({ bucket: 'coldread-raw', osdBytes: 8 * 2 ** 30 });
      await rgw.createBucket('coldread-flexfs');
      rawGet = await rawGetRate(rgw, 'coldread-raw', Math.min(size, 512 * MiB));
      log(`raw SDK GET rate: ${rawGet.toFixed(1)} MB/s`);
      meta = await startMetaServer(work, rgw, 'coldread-flexfs');
      const profDir = profile ? join(work, 'cpuprof') : undefined;
      if (profDir) await emptyDir(profDir);
      rows.push(await benchOne(new FlexfsMount('flexfs-rgw', 'flexfs meta.flexfs+RGW', join(work, 'mnt-rgw'), ['--credsFile', meta.credsFile]), size, profDir));
      if (profDir) {
        profileText = renderProfile(await summarizeProfiles(profDir, REPO),
          `CPU profile of the flexfs meta.flexfs+RGW mount (all threads) during a cold \`dd bs=1M\` read of ${mb} MiB; self time per function:`);
      }
    }
  } finally {
    await cleanup();
  }
  const fmt = (v: number | undefined, d = 1) => (v === undefined ? '-' : v.toFixed(d));
  const lines = [
    `Cold sequential read of ${mb} MiB (half-compressible), remount + drop caches before each read; MB/s = 10^6 bytes/s.`,
    `Raw SDK GET rate of the same RGW (4 MiB objects, best of 8/16 in flight): ${rawGet === undefined ? 'not measured' : `${rawGet.toFixed(1)} MB/s`}.`,
    '',
    '| system | dd bs=1M MB/s | fio 1M MB/s | mount CPU s per GiB (dd) | vs raw GET (dd) |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.label} | ${r.error ? `error: ${r.error}` : fmt(r.dd)} | ${fmt(r.fio)} | ${fmt(r.cpuPerGiB, 2)} | ${rawGet && r.dd && r.label.includes('RGW') ? `${(r.dd / rawGet).toFixed(2)}×` : '-'} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n${profileText ? `\n${profileText}\n` : ''}`);
  if (rows.some((r) => r.error)) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`coldread failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
