/**
 * `npm run bench`: fio jobs (packaging/fio/) on local disk, the null FUSE filesystem (the
 * ceiling), flexfs --local, flexfs on meta.flexfs + Ceph RGW, and s3fs / rclone mount against the
 * same RGW when installed. Prints one table (with ratios and targets) and writes it, with a CPU
 * profile of the flexfs mount, to docs/BENCHMARKS.md.
 *
 * Env: FLEXFS_BENCH_SCALE=small|full (default full: 1 GiB, 10,000 files, 15 s random reads);
 * FLEXFS_BENCH_SIZE_MB, FLEXFS_BENCH_FILES, FLEXFS_BENCH_RUNTIME override; FLEXFS_BENCH_SYSTEMS
 * (comma list of disk,null,flexfs-local,flexfs-rgw,flexfs-rgw-cached,s3fs,rclone) limits the systems;
 * flexfs-rgw-cached is flexfs-rgw mounted with kernel caching on (--no-acl --attrTTL 60 --entryTTL 60);
 * FLEXFS_BENCH_NO_DOC=1 skips writing docs/BENCHMARKS.md; FLEXFS_BENCH_NO_PROFILE=1 skips the profile.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';
import type { ObjectStore } from '../src/store/types.js';
import type { Rgw } from '../test/harness/rgw.js';
import { dropCaches, peakRss } from './daemon.js';
import { fioInstalled, runFio, type FioEnv } from './fio.js';
import { summarizeProfiles } from './profile.js';
import { renderProfile, renderTable, updateDoc, type Column, type Measured } from './report.js';
import {
  FlexfsMount, LocalDisk, NullMount, RcloneMount, REPO, S3fsMount, emptyDir, startMetaServer, which,
  writeS3fsPasswd, type BenchSystem,
} from './systems.js';

const MB = 1e6;
const log = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} bench: ${msg}\n`);

interface Scale { sizeMiB: number; files: number; runtimeSec: number; peerFiles: number }
function scaleFromEnv(): Scale {
  const small = process.env.FLEXFS_BENCH_SCALE === 'small';
  const base = small ? { sizeMiB: 64, files: 500, runtimeSec: 5 } : { sizeMiB: 1024, files: 10_000, runtimeSec: 15 };
  const n = (name: string, d: number) => { const v = process.env[name]; return v && Number(v) > 0 ? Number(v) : d; };
  const files = n('FLEXFS_BENCH_FILES', base.files);
  // s3fs creates ~10 files/s here: 10,000 would take the whole time budget, so peers get fewer
  // (a per-file rate does not depend much on the count).
  const peerFiles = Math.min(files, n('FLEXFS_BENCH_PEER_FILES', 500));
  return { sizeMiB: n('FLEXFS_BENCH_SIZE_MB', base.sizeMiB), files, runtimeSec: n('FLEXFS_BENCH_RUNTIME', base.runtimeSec), peerFiles };
}

const JOBS = join(REPO, 'packaging', 'fio');
const JOB_TIMEOUT_MS = 15 * 60_000;

/** Poll `check` until true; resolves with the elapsed ms since `t0`. */
async function until(check: () => Promise<boolean>, t0: number, timeoutMs: number, what: string): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return performance.now() - t0;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function countKeys(store: ObjectStore, prefix: string): Promise<number> {
  let n = 0;
  let after: string | undefined;
  do {
    const page = await store.list(prefix, { after, limit: 1000 });
    n += page.objects.length;
    after = page.next;
  } while (after);
  return n;
}

function timeLsL(dir: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((ok, fail) => {
    const p = spawn('ls', ['-l', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), JOB_TIMEOUT_MS);
    p.on('exit', (code) => { clearTimeout(timer); code === 0 ? ok(performance.now() - t0) : fail(new Error(`ls -l failed (${code}): ${err}`)); });
  });
}

/** The whole job sequence on one system. Each job's failure is recorded and the rest go on. */
async function benchSystem(sys: BenchSystem, fullScale: Scale, bucketStore: ObjectStore | undefined, peer: boolean): Promise<Measured> {
  const r: Measured = {};
  const scale = peer ? { ...fullScale, files: fullScale.peerFiles } : fullScale;
  const env: FioEnv = { dir: sys.dir, size: `${scale.sizeMiB}m`, runtimeSec: scale.runtimeSec, nrfiles: scale.files };
  const bytes = scale.sizeMiB * 2 ** 20;
  const step = async (id: string, fn: () => Promise<number | undefined>) => {
    try {
      const v = await fn();
      if (v !== undefined) r[id] = v;
      log(`${sys.key} ${id}: ${v === undefined ? '-' : v.toFixed(1)}`);
    } catch (e) {
      r[id] = 'error';
      log(`${sys.key} ${id} FAILED: ${(e as Error).message.split('\n').slice(0, 6).join(' | ')}`);
    }
  };
  await sys.start();
  try {
    let writeT0 = 0;
    let writeMs = 0;
    await step('seqWrite', async () => {
      writeT0 = performance.now();
      const f = await runFio(JOBS, 'seq-write', env, JOB_TIMEOUT_MS);
      writeMs = f.runtimeMs;
      return f.bwBytes / MB;
    });
    if (sys.pid) await step('rss', async () => ((await peakRss(sys.pid!)) ?? NaN) / 2 ** 20);
    await step('seqWriteBucket', async () => {
      if (!writeMs) return undefined;
      if (sys.durable || !bucketStore) return bytes / MB / (writeMs / 1000);
      const ms = await until(async () => (await bucketStore.head('seq.bin'))?.size === bytes, writeT0, JOB_TIMEOUT_MS, 'seq.bin in the bucket');
      return bytes / MB / (ms / 1000);
    });
    await step('coldRead', async () => {
      await sys.remount();
      await dropCaches();
      return (await runFio(JOBS, 'seq-read', env, JOB_TIMEOUT_MS)).bwBytes / MB;
    });
    await step('warmRead', async () => (await runFio(JOBS, 'seq-read', env, JOB_TIMEOUT_MS)).bwBytes / MB);
    await step('randRead', async () => (await runFio(JOBS, 'rand-read', env, JOB_TIMEOUT_MS)).iops);
    let createT0 = 0;
    let createMs = 0;
    await step('create', async () => {
      createT0 = performance.now();
      const f = await runFio(JOBS, 'small-create', env, JOB_TIMEOUT_MS);
      createMs = f.runtimeMs;
      return f.iops;
    });
    await step('createBucket', async () => {
      if (!createMs) return undefined;
      if (sys.durable || !bucketStore) return scale.files / (createMs / 1000);
      const ms = await until(async () => (await countKeys(bucketStore, 'small.')) >= scale.files, createT0, JOB_TIMEOUT_MS, 'small files in the bucket');
      return scale.files / (ms / 1000);
    });
    await step('ls', async () => { await dropCaches(); return (scale.files + 1) / ((await timeLsL(sys.dir)) / 1000); });
    await step('stat', async () => { await dropCaches(); return (await runFio(JOBS, 'small-stat', env, JOB_TIMEOUT_MS)).iops; });
    // the same names again, now looked up: what a kernel (or mount) cache of attributes buys
    await step('statWarm', async () => (await runFio(JOBS, 'small-stat', env, JOB_TIMEOUT_MS)).iops);
    await step('read', async () => (await runFio(JOBS, 'small-read', env, JOB_TIMEOUT_MS)).iops);
    await step('delete', async () => (await runFio(JOBS, 'small-delete', env, JOB_TIMEOUT_MS)).iops);
    await rm(join(sys.dir, 'seq.bin'), { force: true }).catch(() => undefined);
  } finally {
    await sys.stop();
  }
  return r;
}

/** Raw SDK PUT rate into the bucket: 4 MiB objects (the default block size), best of 8 and 16 in flight. */
async function rawPutRate(rgw: Rgw, bucket: string, bytes: number): Promise<number> {
  const store = openStore({ url: `s3://${bucket}/raw`, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true, blockUser: rgw.accessKey, blockPass: rgw.secretKey });
  const body = randomBytes(4 * 2 ** 20);
  const n = Math.max(4, Math.round(bytes / body.length));
  let best = 0;
  try {
    for (const conc of [8, 16]) {
      let next = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: conc }, async () => { while (next < n) await store.put(`c${conc}/o${next++}`, body); }));
      best = Math.max(best, (n * body.length) / MB / ((performance.now() - t0) / 1000));
    }
  } finally {
    // Make room again: the raw objects are not needed after the measurement.
    for (const conc of [8, 16]) {
      for (let i = 0; i < n; i += 16) {
        await Promise.all(Array.from({ length: Math.min(16, n - i) }, (_, j) => store.delete(`c${conc}/o${i + j}`).catch(() => undefined)));
      }
    }
    await store.close();
  }
  return best;
}

/** CPU profile of a flexfs mount (node --cpu-prof) during the sequential write and small-file create. */
async function profileFlexfs(make: (dir: string) => FlexfsMount, work: string, scale: Scale): Promise<string> {
  const profDir = join(work, 'cpuprof');
  await emptyDir(profDir);
  const sys = make(join(work, 'mnt-prof'));
  sys.nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
  // 2,000 small files show the same per-file costs as 10,000 and keep the run under 20 minutes.
  const files = Math.min(scale.files, 2000);
  const env: FioEnv = { dir: sys.dir, size: `${scale.sizeMiB}m`, runtimeSec: scale.runtimeSec, nrfiles: files };
  await sys.start();
  try {
    await runFio(JOBS, 'seq-write', env, JOB_TIMEOUT_MS);
    await runFio(JOBS, 'small-create', env, JOB_TIMEOUT_MS);
  } catch (e) {
    // What the mount said explains a failed job better than fio's errno.
    const said = sys.output().trim().split('\n').slice(-8).join('\n');
    throw new Error(`${(e as Error).message.split('\n')[0]}\nmount log (last lines):\n${said}`);
  } finally {
    await sys.stop();
  }
  const summary = await summarizeProfiles(profDir, REPO);
  return renderProfile(summary, `CPU profile of the \`${sys.label}\` mount process (all threads, node --cpu-prof) while fio wrote ${scale.sizeMiB} MiB sequentially and created ${files} 4 KiB files; self time per function:`);
}

function machine(): string {
  const c = cpus();
  return `${hostname()}: ${c.length} × ${c[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`;
}

function version(cmd: string, args: string[]): Promise<string> {
  return new Promise((ok) => execFile(cmd, args, (err, out, errOut) => ok(err ? '?' : (out || errOut).split('\n')[0].trim())));
}

async function main(): Promise<void> {
  if (!(await fioInstalled())) {
    process.stderr.write('bench: fio is not installed. Install it with: apt-get install -y fio\n');
    process.exit(2);
  }
  const scale = scaleFromEnv();
  const only = process.env.FLEXFS_BENCH_SYSTEMS?.split(',').map((s) => s.trim());
  const want = (k: string) => !only || only.includes(k);
  if (process.getuid?.() !== 0) log('not root: caches cannot be dropped, cold reads are only as cold as a remount makes them');
  const started = Date.now();
  const work = await mkdtemp('/var/tmp/flexfs-bench-');
  const notes: string[] = [];
  const columns: Column[] = [];
  const results: Record<string, Measured> = {};
  let rgw: Rgw | undefined;
  let meta: Awaited<ReturnType<typeof startMetaServer>> | undefined;
  let rawPut: number | undefined;
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await meta?.stop().catch(() => undefined);
    await rgw?.stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  };
  process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)); });
  process.on('SIGTERM', () => { void cleanup().then(() => process.exit(143)); });

  let profileText = '';
  try {
    const systems: Array<{ sys: BenchSystem; peer: boolean; bucket?: ObjectStore }> = [];
    if (want('disk')) systems.push({ sys: new LocalDisk(join(work, 'disk')), peer: false });
    if (want('null')) systems.push({ sys: new NullMount(join(work, 'mnt-null')), peer: false });
    const local = (dir: string) => new FlexfsMount('flexfs-local', 'flexfs --local', dir, ['--local', join(work, 'flexfs-local')]);
    if (want('flexfs-local')) systems.push({ sys: local(join(work, 'mnt-flexfs-local')), peer: false });
    let remote: ((dir: string) => FlexfsMount) | undefined;

    const needRgw = ['flexfs-rgw', 'flexfs-rgw-cached', 's3fs', 'rclone'].some(want);
    if (needRgw && !(await which('radosgw'))) notes.push('RGW columns left out: Ceph is not installed (apt-get install -y ceph-mon ceph-osd ceph-common radosgw).');
    else if (needRgw) {
      log('starting a single-node Ceph RGW (~20 s)');
      const { startRgw } = await import('../test/harness/rgw.js');
      // Several GiB pass through the bucket (raw PUTs, each system's file, the profile run): a
      // 4 GiB OSD would fill up and RGW would refuse writes. The block file is sparse.
      rgw = await startRgw({ bucket: 'bench-raw', osdBytes: 24 * 2 ** 30 });
      for (const b of ['bench-flexfs', 'bench-s3fs', 'bench-rclone']) await rgw.createBucket(b);
      const s3 = (bucket: string) => openStore({ url: `s3://${bucket}`, endpoint: rgw!.endpoint, region: rgw!.region, pathStyle: true, blockUser: rgw!.accessKey, blockPass: rgw!.secretKey });
      rawPut = await rawPutRate(rgw, 'bench-raw', scale.sizeMiB * 2 ** 20);
      log(`raw SDK PUT rate: ${rawPut.toFixed(1)} MB/s`);
      if (want('flexfs-rgw') || want('flexfs-rgw-cached')) {
        if (!(await stat(join(REPO, 'dist', 'src', 'cli', 'meta', 'main.js')).catch(() => undefined))) {
          notes.push('flexfs on meta.flexfs + RGW left out: meta.flexfs is not built.');
        } else {
          meta = await startMetaServer(work, rgw, 'bench-flexfs');
          const credsFile = meta.credsFile;
          remote = (dir: string) => new FlexfsMount('flexfs-rgw', 'flexfs meta.flexfs+RGW', dir, ['--credsFile', credsFile]);
          if (want('flexfs-rgw')) systems.push({ sys: remote(join(work, 'mnt-flexfs-rgw')), peer: false });
          if (want('flexfs-rgw-cached')) {
            const cached = new FlexfsMount('flexfs-rgw-cached', 'flexfs meta.flexfs+RGW, kernel caches 60 s', join(work, 'mnt-flexfs-rgw-cached'),
              ['--credsFile', credsFile, '--no-acl', '--attrTTL', '60', '--entryTTL', '60']);
            systems.push({ sys: cached, peer: false });
          }
        }
      }
      if (want('s3fs')) {
        if (await which('s3fs')) {
          const passwd = join(work, 's3fs-passwd');
          await writeS3fsPasswd(passwd, rgw);
          systems.push({ sys: new S3fsMount(join(work, 'mnt-s3fs'), rgw, 'bench-s3fs', passwd), peer: true, bucket: s3('bench-s3fs') });
        } else notes.push('s3fs column left out: not installed (apt-get install -y s3fs).');
      }
      if (want('rclone')) {
        if (await which('rclone')) {
          systems.push({ sys: new RcloneMount(join(work, 'mnt-rclone'), rgw, 'bench-rclone', join(work, 'rclone-cache')), peer: true, bucket: s3('bench-rclone') });
        } else notes.push('rclone column left out: not installed (apt-get install -y rclone).');
      }
    }

    for (const { sys, peer, bucket } of systems) {
      columns.push({ key: sys.key, label: sys.label, durable: sys.durable, peer });
      log(`--- ${sys.label} ---`);
      try {
        results[sys.key] = await benchSystem(sys, scale, bucket, peer);
      } catch (e) {
        log(`${sys.key} could not run: ${(e as Error).message}`);
        results[sys.key] = { seqWrite: 'failed to mount' };
        notes.push(`${sys.label}: ${(e as Error).message.split('\n')[0]}`);
      }
      if (bucket) await bucket.close();
    }

    if (process.env.FLEXFS_BENCH_NO_PROFILE !== '1' && (remote || want('flexfs-local'))) {
      log('--- profile ---');
      profileText = await profileFlexfs(remote ?? local, work, scale).catch((e: Error) => `Profile failed: ${e.message}`);
    }
  } finally {
    await cleanup();
  }

  const flexfsKey = results['flexfs-rgw'] ? 'flexfs-rgw' : results['flexfs-local'] ? 'flexfs-local' : undefined;
  const [s3fsV, rcloneV] = await Promise.all([version('s3fs', ['--version']), version('rclone', ['version'])]);
  const header = [
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine()}; fio ${await version('fio', ['--version'])}` +
      `${columns.some((c) => c.key === 's3fs') ? `, ${s3fsV}` : ''}${columns.some((c) => c.key === 'rclone') ? `, ${rcloneV}` : ''}.`,
    `Scale: ${scale.sizeMiB} MiB sequential file, ${scale.files.toLocaleString('en-US')} small files${scale.peerFiles < scale.files ? ` (${scale.peerFiles.toLocaleString('en-US')} for the peers)` : ''}, ${scale.runtimeSec} s of random reads; took ${Math.round((Date.now() - started) / 1000)} s.` +
      (process.env.FLEXFS_BENCH_SHARED === '1' ? ' The machine was shared with other jobs during the run: figures are noisy.' : ''),
    `Raw SDK PUT rate into the same RGW (4 MiB objects, best of 8/16 in flight): ${rawPut === undefined ? 'not measured' : `${rawPut.toFixed(1)} MB/s`}.`,
    `Ratios and targets use the \`${columns.find((c) => c.key === flexfsKey)?.label ?? 'flexfs'}\` column; MB/s = 10^6 bytes/s.`,
    ...notes.map((n) => `Note: ${n}`),
  ];
  const table = renderTable({ columns, results, flexfsKey, rawPut, header });
  process.stdout.write(`${table}\n\n${profileText}\n`);
  if (process.env.FLEXFS_BENCH_NO_DOC !== '1') {
    await updateDoc(join(REPO, 'docs', 'BENCHMARKS.md'), { results: table, profile: profileText });
    log('wrote docs/BENCHMARKS.md');
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
