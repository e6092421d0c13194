/**
 * A real S3 server for tests: a throw-away single-node Ceph cluster (one mon, one bluestore OSD on
 * a sparse file, radosgw with the beast frontend), fully isolated in a temp dir on 127.0.0.1 and
 * free ports, so several can run at once. Comes up in ~15–30 s.
 *
 *   const rgw = await sharedRgw();   // in beforeAll: the run's cluster (globalSetup) or one per file
 *   …
 *   await rgw.stop();                // in afterAll: no-op for the run's cluster
 *
 * Processes never outlive the test process: stop() kills them, so does an 'exit' hook, and a
 * detached reaper shell kills them (and removes the dir) if the test process dies by SIGKILL.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile, open } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir, waitFor } from './ports.js';
import { S3ObjectStore } from '../../src/store/s3.js';

/** What a test needs to reach the cluster (also what the globalSetup provides). */
export interface RgwInfo {
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  /** A role the S3 user may assume through the RGW's own STS (POST to `endpoint`). */
  roleArn: string;
}

export interface Rgw extends RgwInfo {
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
  /** Temp dir holding the cluster, and the daemon pids (empty for the run's shared cluster). */
  dir?: string;
  pids?: () => number[];
}

const REGION = 'us-east-1';
const ROLE_NAME = 'flexfs-test-role';
const START_TIMEOUT_MS = 120_000;

/** Start a private cluster. Fails loudly (with log tails) when Ceph does not come up. */
/**
 * `osdBytes`: size of the OSD's (sparse) block file, default 4 GiB. A full OSD makes RGW refuse
 * writes, so runs that store several GiB (the benchmarks) ask for more.
 */
export async function startRgw(opts: { bucket?: string; osdBytes?: number } = {}): Promise<Rgw> {
  let lastErr: unknown;
  // A free port can be taken between probing and binding; a second try with new ports covers that.
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      return await startOnce(opts.bucket ?? 'flexfs-test', opts.osdBytes ?? 4 * 2 ** 30);
    } catch (e) {
      lastErr = e;
      if (!(e instanceof PortRaceError)) break;
    }
  }
  throw lastErr;
}

class PortRaceError extends Error {}

async function startOnce(bucket: string, osdBytes: number): Promise<Rgw> {
  const dir = await tempDir('flexfs-rgw-');
  const D = dir.path;
  const conf = join(D, 'ceph.conf');
  const procs: ChildProcess[] = [];
  const pidFile = join(D, 'pids');
  let stopped = false;

  const killAll = () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null && p.pid) {
      try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  };
  const onExit = () => {
    killAll();
    try { rmSync(D, { recursive: true, force: true }); } catch { /* best effort */ }
  };
  process.on('exit', onExit);
  const reaper = startReaper(pidFile, D);

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    killAll();
    await Promise.all(procs.map((p) => exited(p, 5_000)));
    try { if (reaper.pid) process.kill(reaper.pid, 'SIGKILL'); } catch { /* gone */ }
    process.off('exit', onExit);
    await dir.cleanup();
  };

  const launch = async (name: string, args: string[]) => {
    const out = await open(join(D, 'log', `${name}.out`), 'a');
    const p = spawn(args[0], args.slice(1), { stdio: ['ignore', out.fd, out.fd] });
    await out.close();
    procs.push(p);
    await writeFile(pidFile, procs.map((x) => x.pid).join(' ') + '\n');
    return p;
  };
  const dead = () => procs.find((p) => p.exitCode !== null || p.signalCode !== null);

  try {
    const monPort = await freePort();
    const rgwPort = await freePort();
    const fsid = randomUUID();
    for (const sub of ['run', 'log', 'mon', 'osd/ceph-0', 'rgw']) await mkdir(join(D, sub), { recursive: true });
    await writeFile(conf, cephConf(D, fsid, monPort, rgwPort, osdBytes));
    await run('ceph-authtool', ['--create-keyring', join(D, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, join(D, 'monmap')]);
    await run('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', join(D, 'monmap')]);
    const mon = await launch('mon', ['ceph-mon', '-c', conf, '-i', 'a', '-f']);
    await waitFor(async () => {
      if (mon.exitCode !== null) throw new PortRaceError('ceph-mon exited');
      await run('ceph', ['-c', conf, '--connect-timeout', '5', 'mon', 'stat'], 10_000);
      return true;
    }, 30_000, 'ceph-mon to answer', 200).catch(async (e) => {
      if (mon.exitCode !== null && /Address already in use/.test(await logTail(D))) throw new PortRaceError(String(e));
      throw e;
    });

    const osdUuid = randomUUID();
    const osdId = (await run('ceph', ['-c', conf, 'osd', 'new', osdUuid], 30_000)).trim();
    if (osdId !== '0') throw new Error(`unexpected osd id "${osdId}"`);
    await run('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--osd-uuid', osdUuid], 60_000);
    await launch('osd', ['ceph-osd', '-c', conf, '-i', '0', '-f']);
    await launch('rgw', ['radosgw', '-c', conf, '-n', 'client.rgw', '-f']);

    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitFor(async () => {
      const d = dead();
      if (d) throw new Error(`${d.spawnfile} exited (${d.exitCode ?? d.signalCode})`);
      const res = await fetch(endpoint, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
      return res !== null;
    }, START_TIMEOUT_MS, `radosgw at ${endpoint}`, 250);

    // radosgw-admin generates the keys (a secret must not travel in argv); read them from its JSON.
    const created = JSON.parse(await run('radosgw-admin', ['-c', conf, '-n', 'client.rgw', 'user', 'create', '--uid=flexfs',
      '--display-name=flexfs'], 60_000)) as { keys?: { access_key: string; secret_key: string }[] };
    const key = created.keys?.[0];
    if (!key?.access_key || !key.secret_key) throw new Error('radosgw-admin user create returned no S3 keys');
    const { access_key: accessKey, secret_key: secretKey } = key;

    // A role the user may assume through RGW's STS, allowed everything on S3.
    await run('radosgw-admin', ['-c', conf, '-n', 'client.rgw', 'caps', 'add', '--uid=flexfs', '--caps=roles=*'], 30_000);
    await run('radosgw-admin', ['-c', conf, '-n', 'client.rgw', 'role', 'create', `--role-name=${ROLE_NAME}`, '--path=/',
      `--assume-role-policy-doc=${JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ['arn:aws:iam:::user/flexfs'] }, Action: ['sts:AssumeRole'] }] })}`], 30_000);
    await run('radosgw-admin', ['-c', conf, '-n', 'client.rgw', 'role-policy', 'put', `--role-name=${ROLE_NAME}`, '--policy-name=all-s3',
      `--policy-doc=${JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:*'], Resource: ['arn:aws:s3:::*'] }] })}`], 30_000);

    const info: RgwInfo = { endpoint, region: REGION, accessKey, secretKey, bucket, roleArn: `arn:aws:iam:::role/${ROLE_NAME}` };
    const rgw: Rgw = {
      ...info, createBucket: (name) => createBucket(info, name), stop, dir: D,
      pids: () => procs.map((p) => p.pid).filter((p): p is number => p !== undefined),
    };
    await waitFor(() => rgw.createBucket(bucket).then(() => true), 30_000, `bucket ${bucket} to be created`, 500);
    return rgw;
  } catch (e) {
    const tail = await logTail(D);
    await stop();
    if (e instanceof PortRaceError) throw e;
    throw new Error(`Ceph RGW test cluster failed to start: ${e instanceof Error ? e.message : String(e)}\n--- log tail ---\n${tail}`);
  }
}

/** Create a bucket on the cluster (an existing one of ours is fine). */
export async function createBucket(info: RgwInfo, name: string): Promise<void> {
  const s3 = new S3ObjectStore({ bucket: name, endpoint: info.endpoint, region: info.region, blockUser: info.accessKey, blockPass: info.secretKey });
  try {
    await s3.createBucket();
  } finally {
    await s3.close();
  }
}

let fileCluster: { rgw: Promise<Rgw>; refs: number } | undefined;

/**
 * The cluster for this test file: the one the vitest globalSetup (test/harness/rgw-global.ts)
 * started for the whole run when configured, else one started for this process on first use.
 * Call stop() on what you get when done (afterAll); the last user of a per-process cluster
 * stops it, the run's cluster is stopped by the globalSetup teardown.
 */
export async function sharedRgw(): Promise<Rgw> {
  let provided: RgwInfo | undefined;
  try {
    // Imported lazily so the globalSetup (outside any worker) can import this module too.
    const { inject } = await import('vitest');
    provided = (inject as (k: string) => RgwInfo | undefined)('flexfsRgw');
  } catch {
    provided = undefined; // not inside a vitest worker
  }
  if (provided) return { ...provided, createBucket: (name) => createBucket(provided!, name), stop: async () => {} };
  if (!fileCluster) {
    const started = startRgw();
    fileCluster = { rgw: started, refs: 0 };
    started.catch(() => { fileCluster = undefined; });
  }
  const entry = fileCluster;
  entry.refs++;
  const rgw = await entry.rgw;
  let released = false;
  return {
    ...rgw,
    stop: async () => {
      if (released) return;
      released = true;
      if (--entry.refs === 0) {
        if (fileCluster === entry) fileCluster = undefined;
        await rgw.stop();
      }
    },
  };
}

function cephConf(D: string, fsid: string, monPort: number, rgwPort: number, osdBytes: number): string {
  return `[global]
fsid = ${fsid}
mon host = [v2:127.0.0.1:${monPort}]
mon initial members = a
public addr = 127.0.0.1
ms bind msgr1 = false
ms bind msgr2 = true
auth cluster required = none
auth service required = none
auth client required = none
# radosgw hangs at start with auth none unless the mon client mode allows crc
ms mon client mode = crc secure
run dir = ${D}/run
admin socket = ${D}/run/$cluster-$name.$pid.asok
log file = ${D}/log/$name.log
pid file = ${D}/run/$name.pid
mon data = ${D}/mon/$cluster-$id
osd data = ${D}/osd/$cluster-$id
keyring = ${D}/keyring
log to stderr = false
err to stderr = true
mon cluster log file = ${D}/log/cluster.log
osd objectstore = bluestore
bluestore block create = true
bluestore block size = ${osdBytes}
bluestore fsck on mkfs = false
bluestore cache size = 134217728
osd memory target = 536870912
osd op num shards = 1
osd op num threads per shard = 2
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon allow pool delete = true

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${D}/rgw
rgw thread pool size = 32
rgw enable usage log = false
# STS (AssumeRole) for credential tests; the key must be 16 characters
rgw sts key = flexfsteststskey
rgw s3 auth use sts = true
`;
}

/** Run a Ceph tool to completion; reject with its stderr tail on failure or timeout. */
function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${String(stderr).trim().split('\n').slice(-5).join('\n') || err.message}`));
      else resolve(String(stdout));
    });
  });
}

function exited(p: ChildProcess, timeoutMs: number): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, timeoutMs);
    p.once('exit', () => { clearTimeout(t); resolve(); });
  });
}

/** A detached shell that kills the daemons and removes the dir once this process is gone. */
function startReaper(pidFile: string, dir: string): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
    `[ -f "$1" ] && kill -9 $(cat "$1") 2>/dev/null; sleep 1; rm -rf "$2"`;
  const p = spawn('sh', ['-c', script, 'flexfs-rgw-reaper', pidFile, dir], { detached: true, stdio: 'ignore' });
  p.unref();
  return p;
}

async function logTail(D: string): Promise<string> {
  const parts: string[] = [];
  for (const f of ['mon.out', 'mon.a.log', 'osd.out', 'osd.0.log', 'rgw.out', 'client.rgw.log']) {
    const text = await readFile(join(D, 'log', f), 'utf8').catch(() => '');
    if (text) parts.push(`== ${f} ==\n${text.trim().split('\n').slice(-15).join('\n')}`);
  }
  return parts.join('\n') || '(no logs)';
}
