/**
 * The daemons' operator surface (docs/OPERATIONS.md): each of meta.flexfs, proxy.flexfs and
 * mount.flexfs writes its start line to --logFile, and every metric on its /metrics follows one
 * scheme, flexfs_<component>_<what>[_unit], counters ending in _total and histograms in a unit.
 * Real daemons on loopback: a --noSSL meta server on sqlite, a proxy over a file:// bucket, a
 * daemonized --local mount.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeCreds } from '../../src/config/creds.js';
import { findFuseMount } from '../../src/fuse/mountinfo.js';
import { liveMountStatuses } from '../../src/ops/status.js';
import { ensureBuilt, REPO_ROOT } from '../harness/build.js';
import { freePort, tempDir, waitFor } from '../harness/ports.js';
import { startDaemon, type Daemon } from '../meta-server/harness.js';
import { request, startProxyProcess, type ProxyProc } from '../proxy/harness.js';

const run = promisify(execFile);

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

/** Names in a Prometheus text exposition that break the scheme (empty: all follow it). */
function offScheme(text: string, component: 'mount' | 'meta' | 'proxy'): string[] {
  const bad: string[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1], t[2]);
  }
  expect(types.size).toBeGreaterThan(3);
  for (const [name, type] of types) {
    if (!new RegExp(`^flexfs_${component}_[a-z][a-z0-9_]*[a-z0-9]$`).test(name)) bad.push(`${name}: not flexfs_${component}_…`);
    if (type === 'counter' && !name.endsWith('_total')) bad.push(`${name}: a counter not ending in _total`);
    if (type === 'histogram' && !/_(seconds|bytes)$/.test(name)) bad.push(`${name}: a histogram without a unit (_seconds, _bytes)`);
  }
  // every sample belongs to a declared metric (histograms add _bucket, _sum, _count)
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0];
    if (!types.has(name) && !types.has(name.replace(/_(bucket|sum|count)$/, ''))) bad.push(`${name}: a sample of no declared metric`);
  }
  return bad;
}

async function jsonRecords(file: string): Promise<Array<Record<string, unknown>>> {
  return (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('daemon logs in --logFile and one metrics naming scheme', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let meta: Daemon | undefined;
  let proxy: ProxyProc | undefined;
  let mp = '';
  let home = '';

  beforeAll(async () => {
    await ensureBuilt(['mount/main', 'meta/main', 'proxy/index'].map((m) => `dist/src/cli/${m}.js`));
    dir = await tempDir('flexfs-logs-metrics-');
    home = join(dir.path, 'home');
  }, 300_000);

  afterAll(async () => {
    await meta?.stop();
    await proxy?.stop();
    if (mp && await findFuseMount(mp)) await run('fusermount', ['-u', '-z', mp]).catch(() => undefined);
    for (const s of await liveMountStatuses(join(home, 'mount', 'run')).catch(() => [])) {
      try { process.kill(s.pid, 'SIGTERM'); } catch { /* gone */ }
    }
    await dir?.cleanup();
  });

  it('meta.flexfs: JSON start line in --logFile (0600); /metrics all flexfs_meta_*', async () => {
    const metaHome = join(dir.path, 'meta-home');
    await writeCreds(join(metaHome, 'meta', 'creds'), { adminToken: 'admin-token-0123456789abcdef' });
    const logFile = join(dir.path, 'meta.log');
    meta = await startDaemon({ home: metaHome, noSSL: true, args: ['--dbFolder', join(dir.path, 'db'), '--logFile', logFile] });
    const recs = await jsonRecords(logFile);
    expect(recs.find((r) => r.msg === 'meta.flexfs listening'), JSON.stringify(recs)).toMatchObject({ level: 30, name: 'meta.flexfs' });
    expect((await stat(logFile)).mode & 0o777).toBe(0o600);
    expect(meta.output()).not.toContain('meta.flexfs listening'); // the file instead of stderr
    expect(offScheme(await httpGet(`${meta.addr}/metrics`), 'meta')).toEqual([]);
  }, 120_000);

  it('proxy.flexfs: text start line in --logFile; /metrics all flexfs_proxy_*', async () => {
    const proxyHome = join(dir.path, 'proxy-home');
    await writeCreds(join(proxyHome, 'proxy', 'creds'), { token: 'proxy-token-0123456789abcdef' });
    const logFile = join(dir.path, 'proxy.log');
    proxy = await startProxyProcess({
      home: proxyHome, diskFolder: join(dir.path, 'proxy-cache'), store: `file://${join(dir.path, 'bucket')}`, quota: '64M',
      args: ['--logFile', logFile, '--logFormat', 'text'],
    });
    const text = await readFile(logFile, 'utf8');
    expect(text).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO  proxy\.flexfs proxy\.flexfs listening addr=127\.0\.0\.1:\d+ /m);
    expect(text).not.toContain('proxy-token-0123456789abcdef');
    const res = await request({ port: proxy.port, ca: proxy.certPem }, 'GET', '/metrics');
    expect(offScheme(res.body.toString(), 'proxy')).toEqual([]);
  }, 120_000);

  it('mount.flexfs (daemonized): the start line in --logFile, the stop line too; /metrics all flexfs_mount_*', async () => {
    mp = join(dir.path, 'mnt');
    await mkdir(mp);
    const logFile = join(dir.path, 'mount.log');
    const port = await freePort();
    const env = { ...process.env, FLEXFS_HOME: home, NOTIFY_SOCKET: '' };
    const started = await run(process.execPath, [join(REPO_ROOT, 'dist/src/cli/mount/main.js'), 'start', 'lmvol', mp, '--local', join(dir.path, 'local'),
      '--metricsPort', `127.0.0.1:${port}`, '--logFile', logFile], { env, timeout: 120_000 });
    expect(started.stdout).toContain(`log ${logFile}`);
    expect(await findFuseMount(mp)).toBeTruthy();
    await writeFile(join(mp, 'f'), 'hello');
    expect(await readFile(join(mp, 'f'), 'utf8')).toBe('hello');
    const recs = await jsonRecords(logFile);
    expect(recs.some((r) => r.name === 'mount.flexfs' && r.level === 30 && /volume lmvol mounted at /.test(String(r.msg))), JSON.stringify(recs)).toBe(true);
    expect(offScheme(await httpGet(`http://127.0.0.1:${port}/metrics`), 'mount')).toEqual([]);
    await run('fusermount', ['-u', mp]);
    await waitFor(async () => (await jsonRecords(logFile)).some((r) => r.msg === 'stopped'), 60_000, 'the mount daemon logs "stopped"', 100);
  }, 240_000);
});
