/**
 * `npm run bench:workload`: a real tree on every system, side by side with local disk (issues 13
 * and 14). The tree is this checkout's node_modules, tarred at bench time (`tar --sort=name`:
 * the same tree for the same package-lock). Per system, each job after dropping the kernel's
 * caches and remounting (so a mount's in-process caches are cold too): `tar -xf` (entries/s),
 * `find . | wc -l`, `du -s`, `grep -r` of an absent string (reads every byte), `rm -rf`.
 * flexfs mounts run with --metricsPort, and the bench counts the mount's core calls (one per FUSE
 * request), metadata cache misses, meta.flexfs RPCs and block GET/PUTs per entry of each job.
 * Then a flexfs --local mount runs under node --cpu-prof for the untar and for the grep -r.
 *
 * Env: FLEXFS_BENCH_SYSTEMS (comma list of disk, flexfs-local, flexfs-local-wb, flexfs-rgw,
 * flexfs-rgw-cached, flexfs-rgw-wb, s3fs, rclone; default all but the -wb variants, which add
 * --writebackCache); FLEXFS_BENCH_PEER_ENTRIES (default 600: s3fs and rclone get a subtree of
 * whole packages with at least that many entries); FLEXFS_BENCH_NO_DOC=1 prints only;
 * FLEXFS_BENCH_TREE_ENTRIES=N uses a subtree of whole packages (about N entries) for every
 * system (a quick run); FLEXFS_BENCH_NO_PROFILE=1 skips the profiles; FLEXFS_BENCH_SHARED=1 notes
 * a shared machine.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';
import type { ObjectStore } from '../src/store/types.js';
import type { Rgw } from '../test/harness/rgw.js';
import { dropCaches } from './daemon.js';
import { summarizeProfiles } from './profile.js';
import { renderProfile, updateDoc } from './report.js';
import {
  FlexfsMount, LocalDisk, RcloneMount, REPO, S3fsMount, emptyDir, startMetaServer, which, writeS3fsPasswd, type BenchSystem,
} from './systems.js';

const log = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} bench:workload: ${msg}\n`);

/** grep -r looks for this; it is in no package, so grep reads every byte of every file. */
const ABSENT = 'flexfs-workload-absent-8d1f6c2e';
const JOB_TIMEOUT_MS = 10 * 60_000;
/** Peers create ~10 files/s here: a subtree keeps them inside the bench's ~10 minutes. */
const PEER_JOB_TIMEOUT_MS = 4 * 60_000;
const DEFAULT_PEER_ENTRIES = 600;

interface Tree {
  tar: string; entries: number; files: number; bytes: number; what: string;
  /** What `find .` prints after extracting it: the entries, ".", and node_modules when the tar has no entry of its own for it. */
  findCount: number;
}
interface RunOut { ms: number; code: number | null; stdout: string; stderr: string }

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<RunOut> {
  const t0 = performance.now();
  return new Promise((ok) => {
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout = (stdout + d.toString()).slice(-100_000); });
    p.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4_000); });
    const timer = setTimeout(() => { stderr += `\n(killed after ${timeoutMs / 1000} s)`; p.kill('SIGKILL'); }, timeoutMs);
    p.on('error', (e) => { stderr += e.message; });
    p.on('close', (code) => { clearTimeout(timer); ok({ ms: performance.now() - t0, code, stdout, stderr }); });
  });
}

async function mustRun(cmd: string, args: string[], cwd: string, timeoutMs: number, okCodes = [0]): Promise<RunOut> {
  const r = await run(cmd, args, cwd, timeoutMs);
  if (r.code === null || !okCodes.includes(r.code)) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return r;
}

/** Tar `paths` (inside REPO) with sorted names; count its entries, regular files and bytes. */
async function makeTree(tar: string, paths: string[], what: string): Promise<Tree> {
  await mustRun('tar', ['--sort=name', '--exclude=node_modules/.cache', '--exclude=node_modules/.vite', '-C', REPO, '-cf', tar, ...paths], REPO, JOB_TIMEOUT_MS);
  const listing = (await mustRunBig('tar', ['-tvf', tar])).split('\n').filter(Boolean);
  let files = 0;
  let bytes = 0;
  for (const line of listing) {
    if (line[0] !== '-') continue;
    files++;
    bytes += Number(line.split(/\s+/)[2]);
  }
  const hasRoot = listing.some((l) => / node_modules\/$/.test(l));
  return { tar, entries: listing.length, files, bytes, what, findCount: listing.length + (hasRoot ? 1 : 2) };
}

/** stdout of a command without the 100 kB tail limit (tar listings are megabytes). */
function mustRunBig(cmd: string, args: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => chunks.push(d));
    p.on('close', (code) => (code === 0 ? ok(Buffer.concat(chunks).toString()) : fail(new Error(`${cmd} failed (${code})`))));
  });
}

/** Whole top-level packages of node_modules (for the peers, or a quick run), in name order, until at least `want` entries (skipping any that would overshoot 1.5×). */
async function peerSubtree(want: number): Promise<string[]> {
  const count = async (p: string): Promise<number> => {
    const st = await stat(p).catch(() => undefined);
    if (!st?.isDirectory()) return 1;
    let n = 1;
    for (const e of await readdir(p, { withFileTypes: true })) n += e.isDirectory() ? await count(join(p, e.name)) : 1;
    return n;
  };
  const picked: string[] = [];
  let n = 0;
  for (const name of (await readdir(join(REPO, 'node_modules'))).sort()) {
    if (name.startsWith('.')) continue;
    const size = await count(join(REPO, 'node_modules', name));
    if (n + size > want * 1.5) continue;
    picked.push(join('node_modules', name));
    n += size;
    if (n >= want) break;
  }
  return picked;
}

/** Sums of Prometheus counters by one label, from a text exposition. */
function counters(text: string, metric: string, label: string, keep: (labels: string) => boolean = () => true): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const labels = line.slice(metric.length, line.indexOf('}') + 1);
    if (!keep(labels)) continue;
    const v = new RegExp(`${label}="([^"]*)"`).exec(labels)?.[1] ?? '';
    out.set(v, (out.get(v) ?? 0) + Number(line.split(' ').pop()));
  }
  return out;
}

/** What a flexfs mount (and its meta.flexfs) has counted so far. */
interface Counts { ops: Map<string, number>; metaMiss: number; rpcs: Map<string, number>; blocks: Map<string, number> }

async function readCounts(sys: WorkloadSystem, meta?: MetaHandle): Promise<Counts | undefined> {
  if (!(sys instanceof FlexfsMount)) return undefined;
  const addr = /metrics on http:\/\/([^/\s"]+)\/metrics/.exec(sys.output())?.[1];
  if (!addr) return undefined;
  const text = await (await fetch(`http://${addr}/metrics`)).text();
  const miss = counters(text, 'flexfs_mount_meta_cache_requests_total', 'result');
  const rpcs = sys.key.startsWith('flexfs-rgw') && meta ? await meta.requests() : new Map<string, number>();
  return { ops: counters(text, 'flexfs_mount_op_seconds_count', 'op'), metaMiss: miss.get('miss') ?? 0, rpcs, blocks: counters(text, 'flexfs_mount_block_requests_total', 'op') };
}

const minus = (a: Map<string, number>, b: Map<string, number>) => {
  const out = new Map<string, number>();
  for (const [k, v] of a) { const d = v - (b.get(k) ?? 0); if (d > 0) out.set(k, d); }
  return out;
};
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** Per-entry request counts of one job on one flexfs system. */
interface JobCounts { per: number; ops: Map<string, number>; metaMiss: number; rpcs: Map<string, number>; blocks: Map<string, number> }

interface MetaHandle { requests(): Promise<Map<string, number>> }

type WorkloadSystem = BenchSystem & { output?(): string };

const JOBS = ['untar', 'find', 'du', 'grep', 'rm'] as const;
type Job = typeof JOBS[number];
interface SystemResult { seconds: Partial<Record<Job, number | string>>; counts: Partial<Record<Job, JobCounts>>; note?: string }

/** The five jobs on one system, each cold; a failed job is recorded and the rest go on. */
async function benchSystem(sys: WorkloadSystem, tree: Tree, timeoutMs: number, bucket?: ObjectStore, meta?: MetaHandle): Promise<SystemResult> {
  const res: SystemResult = { seconds: {}, counts: {} };
  const job = async (id: Job, per: number, cmd: string, args: string[], okCodes: number[], check?: (r: RunOut) => void) => {
    try {
      if (id !== 'untar') await sys.remount();
      await dropCaches();
      const before = await readCounts(sys, meta).catch(() => undefined);
      const r = await mustRun(cmd, args, sys.dir, timeoutMs, okCodes);
      check?.(r);
      const after = before && await readCounts(sys, meta).catch(() => undefined);
      if (before && after) {
        res.counts[id] = { per, ops: minus(after.ops, before.ops), metaMiss: after.metaMiss - before.metaMiss, rpcs: minus(after.rpcs, before.rpcs), blocks: minus(after.blocks, before.blocks) };
      }
      res.seconds[id] = r.ms / 1000;
      const k = res.counts[id];
      log(`${sys.key} ${id}: ${(r.ms / 1000).toFixed(2)} s${k ? `; per entry: ${(total(k.ops) / per).toFixed(2)} core calls, ${(total(k.rpcs) / per).toFixed(2)} RPCs` : ''}`);
    } catch (e) {
      res.seconds[id] = /killed after/.test((e as Error).message) ? `> ${timeoutMs / 60_000} min` : 'error';
      log(`${sys.key} ${id} FAILED: ${(e as Error).message.slice(0, 400)}`);
    }
  };
  await sys.start();
  try {
    await job('untar', tree.entries, 'tar', ['-xf', tree.tar], [0]);
    if (!sys.durable && bucket && typeof res.seconds.untar === 'number') {
      // rclone uploads after close: remounting before the bucket holds every file would lose them.
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && (await countKeys(bucket)) < tree.files) await new Promise((r) => setTimeout(r, 1000));
    }
    await job('find', tree.entries, 'sh', ['-c', 'find . | wc -l'], [0], (r) => {
      const n = Number(r.stdout.trim());
      if (n !== tree.findCount) throw new Error(`find saw ${n} entries, expected ${tree.findCount} (the tar's ${tree.entries} and ".")`);
    });
    await job('du', tree.entries, 'du', ['-s', '.'], [0]);
    // grep exits 1 when nothing matched: that is the success here.
    await job('grep', tree.files, 'grep', ['-r', ABSENT, '.'], [1]);
    await job('rm', tree.entries, 'rm', ['-rf', 'node_modules'], [0]);
  } finally {
    await sys.stop();
  }
  return res;
}

async function countKeys(store: ObjectStore): Promise<number> {
  let n = 0;
  let after: string | undefined;
  do {
    const page = await store.list('', { after, limit: 1000 });
    n += page.objects.length;
    after = page.next;
  } while (after);
  return n;
}

/** CPU profiles of a flexfs --local mount during the untar and during the grep -r. */
async function profileLocal(work: string, tree: Tree): Promise<string> {
  const parts: string[] = [];
  const dir = join(work, 'mnt-prof');
  const data = join(work, 'flexfs-prof');
  for (const phase of ['untar', 'grep'] as const) {
    const profDir = join(work, `cpuprof-${phase}`);
    await emptyDir(profDir);
    const sys = new FlexfsMount('flexfs-prof', 'flexfs --local', dir, ['--local', data]);
    sys.nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
    await sys.start();
    try {
      await dropCaches();
      if (phase === 'untar') await mustRun('tar', ['-xf', tree.tar], dir, JOB_TIMEOUT_MS);
      else await mustRun('grep', ['-r', ABSENT, '.'], dir, JOB_TIMEOUT_MS, [1]);
    } finally {
      await sys.stop();
    }
    const what = phase === 'untar' ? `\`tar -xf\` of the ${tree.entries.toLocaleString('en-US')}-entry tree` : `a cold \`grep -r\` over it (after a remount)`;
    parts.push(renderProfile(await summarizeProfiles(profDir, REPO, 10), `CPU profile of the \`flexfs --local\` mount process (all threads, node --cpu-prof, start to exit) during ${what}; self time per function:`));
  }
  return parts.join('\n\n');
}

const fmtS = (v: number) => (v >= 100 ? Math.round(v).toString() : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const fmtRate = (v: number) => Math.round(v).toLocaleString('en-US');

interface Column { key: string; label: string; peer: boolean; flexfs: boolean; tree: Tree }

/** Seconds per job and system, the ratio to local disk on the same tree, and the issue's goals. */
function renderResults(columns: Column[], results: Record<string, SystemResult>, diskFor: (t: Tree) => SystemResult | undefined): string {
  const goals: Record<string, string> = {
    untar: '≥ 1,500 entries/s', find: '≤ 5× local disk', du: '≤ 5× local disk', grep: '≤ 5× local disk', rm: '≥ 3,000 entries/s',
  };
  const rows: Array<{ label: string; job: Job; rate?: boolean }> = [
    { label: '`tar -xf` (s)', job: 'untar' }, { label: '`tar -xf` (entries/s)', job: 'untar', rate: true },
    { label: '`find . \\| wc -l` (s)', job: 'find' }, { label: '`du -s` (s)', job: 'du' },
    { label: '`grep -r` absent string (s)', job: 'grep' },
    { label: '`rm -rf` (s)', job: 'rm' }, { label: '`rm -rf` (entries/s)', job: 'rm', rate: true },
  ];
  const lines = [
    `| job | ${columns.map((c) => c.label).join(' | ')} | goal (flexfs) |`,
    `|---|${columns.map(() => '---:').join('|')}|---|`,
  ];
  for (const row of rows) {
    const cells = columns.map((c) => {
      const v = results[c.key]?.seconds[row.job];
      if (v === undefined) return '–';
      if (typeof v === 'string') return v;
      if (row.rate) {
        const rate = c.tree.entries / v;
        const met = c.flexfs ? (rate >= (row.job === 'untar' ? 1500 : 3000) ? ' ✓' : ' ✗') : '';
        return `${fmtRate(rate)}${met}`;
      }
      const d = diskFor(c.tree)?.seconds[row.job];
      if (c.key.startsWith('disk') || typeof d !== 'number' || d <= 0) return fmtS(v);
      const ratio = v / d;
      const met = c.flexfs && ['find', 'du', 'grep'].includes(row.job) ? (ratio <= 5 ? ' ✓' : ' ✗') : '';
      return `${fmtS(v)} (${ratio >= 10 ? Math.round(ratio) : ratio.toFixed(1)}×)${met}`;
    });
    const goal = row.rate || !['untar', 'rm'].includes(row.job) ? goals[row.job] : '';
    lines.push(`| ${row.label} | ${cells.join(' | ')} | ${goal} |`);
  }
  return lines.join('\n');
}

/** Per entry (per regular file for grep): mount core calls by op, metadata misses, RPCs, block requests. */
function renderCounts(columns: Column[], results: Record<string, SystemResult>): string {
  const lines = [
    '| system | job | core calls / entry (= FUSE requests), top ops | metadata cache misses / entry | meta.flexfs RPCs / entry, top ops | block GET / PUT per entry |',
    '|---|---|---|---:|---|---:|',
  ];
  const top = (m: Map<string, number>, per: number) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5)
    .map(([k, v]) => `${k} ${(v / per).toFixed(2)}`).join(', ');
  for (const c of columns.filter((x) => x.flexfs)) {
    for (const j of JOBS) {
      const k = results[c.key]?.counts[j];
      if (!k) continue;
      const rpc = total(k.rpcs);
      lines.push(`| ${c.label} | ${j} | ${(total(k.ops) / k.per).toFixed(2)}: ${top(k.ops, k.per)} | ${(k.metaMiss / k.per).toFixed(2)} | ${c.key.startsWith('flexfs-rgw') ? `${(rpc / k.per).toFixed(2)}: ${top(k.rpcs, k.per)}` : '– (in-process sqlite)'} | ${((k.blocks.get('get') ?? 0) / k.per).toFixed(2)} / ${((k.blocks.get('put') ?? 0) / k.per).toFixed(2)} |`);
    }
  }
  return lines.join('\n');
}

function machine(): string {
  const c = cpus();
  return `${hostname()}: ${c.length} × ${c[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`;
}

async function main(): Promise<void> {
  const only = process.env.FLEXFS_BENCH_SYSTEMS?.split(',').map((s) => s.trim()).filter(Boolean);
  const known = ['disk', 'flexfs-local', 'flexfs-local-wb', 'flexfs-rgw', 'flexfs-rgw-cached', 'flexfs-rgw-wb', 's3fs', 'rclone'];
  const unknown = only?.filter((s) => !known.includes(s)) ?? [];
  if (unknown.length) {
    process.stderr.write(`bench:workload: unknown system(s) in FLEXFS_BENCH_SYSTEMS: ${unknown.join(', ')}; choose from ${known.join(', ')}\n`);
    process.exit(2);
  }
  const want = (k: string) => (only ? only.includes(k) : !k.endsWith('-wb'));
  const peerEnv = process.env.FLEXFS_BENCH_PEER_ENTRIES;
  const peerEntries = peerEnv && Number(peerEnv) > 0 ? Number(peerEnv) : DEFAULT_PEER_ENTRIES;
  if (process.getuid?.() !== 0) log('not root: caches cannot be dropped; the jobs are only as cold as a remount makes them');
  const started = Date.now();
  const work = await mkdtemp('/var/tmp/flexfs-workload-');
  const notes: string[] = [];
  let rgw: Rgw | undefined;
  let meta: Awaited<ReturnType<typeof startMetaServer>> | undefined;
  const cleanup = async () => {
    await meta?.stop().catch(() => undefined);
    await rgw?.stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  };
  process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)); });
  process.on('SIGTERM', () => { void cleanup().then(() => process.exit(143)); });

  const columns: Column[] = [];
  const results: Record<string, SystemResult> = {};
  let profileText = '';
  let tree: Tree;
  let peerTree: Tree | undefined;
  try {
    log('tarring node_modules');
    const treeEnv = process.env.FLEXFS_BENCH_TREE_ENTRIES;
    tree = treeEnv && Number(treeEnv) > 0
      ? await (async () => { const paths = await peerSubtree(Number(treeEnv)); return makeTree(join(work, 'tree.tar'), paths, `${paths.length} packages of node_modules`); })()
      : await makeTree(join(work, 'tree.tar'), ['node_modules'], 'node_modules');
    log(`tree: ${tree.entries} entries, ${tree.files} files, ${(tree.bytes / 1e6).toFixed(1)} MB`);
    const peersWanted = ['s3fs', 'rclone'].some(want);
    if (peersWanted) {
      const paths = await peerSubtree(peerEntries);
      peerTree = await makeTree(join(work, 'peer-tree.tar'), paths, `${paths.length} packages (${paths[0]?.slice(13)} … ${paths[paths.length - 1]?.slice(13)})`);
    }
    const systems: Array<{ sys: WorkloadSystem; peer: boolean; bucket?: ObjectStore; tree: Tree }> = [];
    if (want('disk')) systems.push({ sys: new LocalDisk(join(work, 'disk')), peer: false, tree });
    if (peerTree && want('disk')) {
      const d = new LocalDisk(join(work, 'disk-peer'));
      d.key = 'disk-peer'; d.label = 'local disk (peer subtree)';
      systems.push({ sys: d, peer: false, tree: peerTree });
    }
    const metrics = ['--metricsPort', '127.0.0.1:0'];
    if (want('flexfs-local')) systems.push({ sys: new FlexfsMount('flexfs-local', 'flexfs --local', join(work, 'mnt-local'), ['--local', join(work, 'flexfs-local'), ...metrics]), peer: false, tree });
    if (want('flexfs-local-wb')) systems.push({ sys: new FlexfsMount('flexfs-local-wb', 'flexfs --local --writebackCache', join(work, 'mnt-local-wb'), ['--local', join(work, 'flexfs-local-wb'), '--writebackCache', ...metrics]), peer: false, tree });

    const needRgw = ['flexfs-rgw', 'flexfs-rgw-cached', 'flexfs-rgw-wb', 's3fs', 'rclone'].some(want);
    let metaHandle: MetaHandle | undefined;
    if (needRgw && !(await which('radosgw'))) notes.push('RGW columns left out: Ceph is not installed (apt-get install -y ceph-mon ceph-osd ceph-common radosgw).');
    else if (needRgw) {
      log('starting a single-node Ceph RGW (~20-60 s)');
      const { startRgw } = await import('../test/harness/rgw.js');
      rgw = await startRgw({ bucket: 'workload-raw', osdBytes: 8 * 2 ** 30 });
      for (const b of ['workload-flexfs', 'workload-s3fs', 'workload-rclone']) await rgw.createBucket(b);
      const s3 = (bucket: string) => openStore({ url: `s3://${bucket}`, endpoint: rgw!.endpoint, region: rgw!.region, pathStyle: true, blockUser: rgw!.accessKey, blockPass: rgw!.secretKey });
      if (['flexfs-rgw', 'flexfs-rgw-cached', 'flexfs-rgw-wb'].some(want)) {
        meta = await startMetaServer(work, rgw, 'workload-flexfs');
        const m = meta;
        const ca = await readFile(m.ca);
        metaHandle = { requests: () => metaRequestCounts(m.port, ca) };
        const remote = (key: string, label: string, extra: string[]) =>
          new FlexfsMount(key, label, join(work, `mnt-${key}`), ['--credsFile', m.credsFile, ...metrics, ...extra]);
        if (want('flexfs-rgw')) systems.push({ sys: remote('flexfs-rgw', 'flexfs meta.flexfs+RGW', []), peer: false, tree });
        if (want('flexfs-rgw-cached')) systems.push({ sys: remote('flexfs-rgw-cached', 'flexfs meta.flexfs+RGW, kernel caches 60 s', ['--no-acl', '--attrTTL', '60', '--entryTTL', '60']), peer: false, tree });
        if (want('flexfs-rgw-wb')) systems.push({ sys: remote('flexfs-rgw-wb', 'flexfs meta.flexfs+RGW --writebackCache', ['--writebackCache']), peer: false, tree });
      }
      if (want('s3fs')) {
        if (await which('s3fs')) {
          const passwd = join(work, 's3fs-passwd');
          await writeS3fsPasswd(passwd, rgw);
          systems.push({ sys: new S3fsMount(join(work, 'mnt-s3fs'), rgw, 'workload-s3fs', passwd), peer: true, bucket: s3('workload-s3fs'), tree: peerTree! });
        } else notes.push('s3fs column left out: not installed (apt-get install -y s3fs).');
      }
      if (want('rclone')) {
        if (await which('rclone')) {
          systems.push({ sys: new RcloneMount(join(work, 'mnt-rclone'), rgw, 'workload-rclone', join(work, 'rclone-cache')), peer: true, bucket: s3('workload-rclone'), tree: peerTree! });
        } else notes.push('rclone column left out: not installed (apt-get install -y rclone).');
      }
    }

    for (const { sys, peer, bucket, tree: t } of systems) {
      const label = peer ? `${sys.label} (subtree)` : sys.label;
      columns.push({ key: sys.key, label, peer, flexfs: sys.key.startsWith('flexfs'), tree: t });
      log(`--- ${label}: ${t.entries} entries ---`);
      try {
        results[sys.key] = await benchSystem(sys, t, peer ? PEER_JOB_TIMEOUT_MS : JOB_TIMEOUT_MS, bucket, sys.key.startsWith('flexfs-rgw') ? metaHandle : undefined);
      } catch (e) {
        log(`${sys.key} could not run: ${(e as Error).message}`);
        results[sys.key] = { seconds: { untar: 'failed to mount' }, counts: {} };
        notes.push(`${sys.label}: ${(e as Error).message.split('\n')[0]}`);
      }
      if (bucket) await bucket.close();
    }

    if (process.env.FLEXFS_BENCH_NO_PROFILE !== '1' && want('flexfs-local')) {
      log('--- profile (flexfs --local) ---');
      profileText = await profileLocal(work, tree).catch((e: Error) => `Profile failed: ${e.message}`);
    }
  } finally {
    await cleanup();
  }

  const diskFor = (t: Tree) => results[t === tree ? 'disk' : 'disk-peer'];
  const header = [
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine()}; took ${Math.round((Date.now() - started) / 1000)} s.` +
      (process.env.FLEXFS_BENCH_SHARED === '1' ? ' The machine was shared with other jobs during the run: figures are noisy.' : ''),
    `Tree: this checkout's ${tree.what} (\`tar --sort=name\`): ${tree.entries.toLocaleString('en-US')} entries, ${tree.files.toLocaleString('en-US')} regular files, ${(tree.bytes / 1e6).toFixed(1)} MB.` +
      (peerTree && columns.some((c) => c.peer) ? ` Peers (marked "subtree") get ${peerTree.what}: ${peerTree.entries.toLocaleString('en-US')} entries, ${peerTree.files} files, ${(peerTree.bytes / 1e6).toFixed(1)} MB, and their ratios are to local disk on that subtree; each of their jobs is capped at ${PEER_JOB_TIMEOUT_MS / 60_000} min.` : ''),
    'Each job runs after `echo 3 > /proc/sys/vm/drop_caches` and (all but the untar) a remount; seconds, then (×) the ratio to local disk on the same tree. ✓/✗: the flexfs goal of issues 13/14 met or not.',
    'flexfs mounts run with `--metricsPort` (one timer per call) so the bench can count their requests.',
    ...notes.map((n) => `Note: ${n}`),
  ];
  const table = [...header, '', renderResults(columns, results, diskFor)].join('\n');
  const counts = ['Requests per entry (per regular file for grep), counted from the mount\'s and meta.flexfs\'s /metrics around each job:', '', renderCounts(columns, results)].join('\n');
  const body = [table, counts, profileText].filter(Boolean).join('\n\n');
  process.stdout.write(`${body}\n`);
  if (process.env.FLEXFS_BENCH_NO_DOC !== '1') {
    await updateDoc(join(REPO, 'docs', 'BENCHMARKS.md'), { workload: body });
    log('wrote docs/BENCHMARKS.md');
  }
}

/** meta.flexfs's RPC counts by op, heartbeats aside. */
async function metaRequestCounts(port: number, ca: Buffer): Promise<Map<string, number>> {
  const { get } = await import('node:https');
  const text = await new Promise<string>((done, fail) => {
    get({ host: '127.0.0.1', port, path: '/metrics', ca }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => done(body));
    }).on('error', fail);
  });
  return counters(text, 'flexfs_meta_requests_total', 'op', (l) => !l.includes('op="heartbeat"'));
}

main().catch((e) => {
  process.stderr.write(`bench:workload failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
