/**
 * The mount client reads and writes blocks through proxy.flexfs: a real `--local` volume (file://
 * blocks), a real proxy daemon (--noSSL) in a child process, real FUSE mounts in child processes.
 * Covers the volume's `proxies` setting, `--proxy`, the mount(8) form `-o proxy=a+b`, a wrong
 * proxyToken (401 → the proxy is marked down, reads fall back to the bucket) and a dead proxy
 * (connection refused → fallback), with the test-only fault hook still wrapping the bucket store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCreds, writeCreds } from '../../src/config/creds.js';
import { openEngine } from '../../src/meta/engines/index.js';
import { splitProxyList, parseMountOptions } from '../../src/cli/mount/flags.js';
import { helperInvocation } from '../../src/cli/mount/helper.js';
import { ensureBuilt, startMount, type StartedMount } from '../harness/mount.js';
import { freePort, waitFor } from '../harness/ports.js';
import { buildMountClient, fileSha, MOUNT_ENTRY, mountLocal, run, workDir, writeRandomFile } from '../mount/helpers.js';
import { REPO } from './harness.js';

const PROXY_ENTRY = 'dist/src/cli/proxy/index.js';
const SIZE = 6 * 2 ** 20 + 12345; // 7 blocks of 1 MiB, the last one partial
const PROXY_TOKEN = randomBytes(24).toString('base64url');
const WRONG_TOKEN = randomBytes(24).toString('base64url');

/** `proxy.flexfs start --noSSL` in a child (test/proxy/harness.ts starts TLS proxies only). */
interface PlainProxy { addr: string; port: number; logs(): string; kill9(): Promise<void> }

async function startPlainProxy(home: string, store: string): Promise<PlainProxy> {
  const port = await freePort();
  const credsFile = join(home, 'proxy', 'creds');
  await writeCreds(credsFile, { token: PROXY_TOKEN });
  const child: ChildProcess = spawn(process.execPath, [join(REPO, PROXY_ENTRY), 'start', '--store', store, '--noSSL',
    '--bindAddr', `127.0.0.1:${port}`, '--diskFolder', join(home, 'cache'), '--diskQuota', '256M', '--credsFile', credsFile, '--verbose'],
  { env: { ...process.env, FLEXFS_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  proxies.add(child);
  let logs = '';
  child.stdout!.on('data', (d) => { logs += d; });
  child.stderr!.on('data', (d) => { logs += d; });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`proxy exited with ${child.exitCode}: ${logs.slice(-2000)}`);
      return (await httpGet(port, '/health')).status === 200;
    }, 30_000, `proxy on port ${port}`, 100);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    addr: `127.0.0.1:${port}`, port, logs: () => logs,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      proxies.delete(child);
    },
  };
}
const proxies = new Set<ChildProcess>();

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}

/** The proxy's Prometheus counters, `name{labels}` → value (missing series read as 0). */
async function metrics(p: PlainProxy): Promise<(series: string) => number> {
  const out = new Map<string, number>();
  for (const line of (await httpGet(p.port, '/metrics')).body.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return (series) => out.get(series) ?? 0;
}

describe('mount.flexfs through proxy.flexfs', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let local: string;
  let mountHome: string;
  let mp: string;
  let proxy: PlainProxy;
  let sha: string;
  const mounts: StartedMount[] = [];

  const mountCreds = (proxyToken: string) => writeCreds(join(mountHome, 'mount', 'creds', 'vol'), { proxyToken, proxyNoSSL: true });
  async function stopAll(): Promise<void> {
    while (mounts.length) await mounts.pop()!.stop();
  }
  /** The mount logs its store after the kernel mount is live: wait for the line. */
  const logged = (m: StartedMount, text: string) => waitFor(() => m.output().includes(text), 15_000, `"${text}" in the mount log`);
  function noSecretsIn(text: string): void {
    expect(text).not.toContain(PROXY_TOKEN);
    expect(text).not.toContain(WRONG_TOKEN);
  }

  beforeAll(async () => {
    await buildMountClient();
    await ensureBuilt([PROXY_ENTRY]);
    dir = await workDir('flexfs-mount-proxy-');
    local = join(dir.path, 'local');
    mountHome = join(dir.path, 'home');
    mp = join(dir.path, 'mnt');
    await mkdir(join(local, 'blocks'), { recursive: true });
    proxy = await startPlainProxy(join(dir.path, 'proxy'), `file://${join(local, 'blocks')}`);
    // The volume names the proxy in its settings (what meta.flexfs hands out); 1 MiB blocks.
    const engine = await openEngine({ engine: 'sqlite', dbFolder: local });
    try {
      await engine.createVolume({ name: 'vol', blockSize: 2 ** 20, blockStore: { url: `file://${join(local, 'blocks')}` }, proxies: [proxy.addr] });
    } finally {
      await engine.close();
    }
    await mountCreds(PROXY_TOKEN);
  }, 300_000);

  afterAll(async () => {
    await stopAll();
    for (const c of proxies) c.kill('SIGKILL');
    await dir?.cleanup();
  }, 60_000);

  it('proxy lists: "+" and "," separate, -o proxy= survives mount(8) comma splitting', () => {
    expect(splitProxyList('a:1+b:2,c:3')).toEqual(['a:1', 'b:2', 'c:3']);
    expect(() => splitProxyList('+')).toThrow(/names no proxy/);
    expect(parseMountOptions('_netdev,proxy=10.0.0.1:9450+10.0.0.2:9450,ro')).toEqual({ proxy: '10.0.0.1:9450+10.0.0.2:9450', ro: true });
    expect(helperInvocation(['vol', '/mnt', '-o', 'proxy=h:1+h:2'])?.flags.proxy).toBe('h:1+h:2');
  });

  it('init creds takes proxyToken from stdin (never argv) and the proxy TLS fields from flags', async () => {
    const file = join(dir.path, 'init-creds');
    const r = await run(process.execPath, [join(REPO, MOUNT_ENTRY), 'init', 'creds', 'vol', '--metaAddr', '127.0.0.1:1', '--credsFile', file,
      '--proxyNoSSL', '--proxyFingerprint', 'AB:CD'], { input: `token=t-1\nproxyToken=${PROXY_TOKEN}\n`, env: { FLEXFS_HOME: mountHome } });
    expect(r.code, r.stderr).toBe(0);
    noSecretsIn(r.stdout + r.stderr);
    const creds = await readCreds(file);
    expect(creds).toEqual({ metaAddr: '127.0.0.1:1', token: 't-1', proxyToken: PROXY_TOKEN, proxyFingerprint: 'AB:CD', proxyNoSSL: true });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('the volume\'s proxies setting: a written file goes through the proxy (write-through warms its cache)', async () => {
    const before = await metrics(proxy);
    const m = await mountLocal(mp, { local, home: mountHome });
    mounts.push(m);
    await logged(m, `blocks: proxies(${proxy.addr})`);
    sha = await writeRandomFile(join(mp, 'big.bin'), SIZE);
    await stopAll();
    const after = await metrics(proxy);
    // 7 blocks, each PUT once through the proxy (204) and written through to the bucket.
    expect(after('flexfs_proxy_requests_total{method="PUT",status="204"}') - before('flexfs_proxy_requests_total{method="PUT",status="204"}')).toBeGreaterThanOrEqual(7);
    expect(after('flexfs_proxy_cache_objects')).toBeGreaterThanOrEqual(7);
    noSecretsIn(m.output());
  }, 120_000);

  it('mount -o proxy=dead+live: a cold mount reads the file back byte-identical from the proxy cache', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const before = await metrics(proxy);
    // The mount(8) helper form, with a two-proxy group whose first member is down.
    const m = await startMount({
      args: [MOUNT_ENTRY, 'vol', mp, '-o', `local=${local},proxy=${dead}+${proxy.addr},foreground`],
      mountpoint: mp, env: { FLEXFS_HOME: mountHome, NOTIFY_SOCKET: '', FLEXFS_TEST_FAULTS: '' }, timeoutMs: 60_000,
    });
    mounts.push(m);
    await logged(m, `blocks: proxies(${dead},${proxy.addr})`);
    expect(await fileSha(join(mp, 'big.bin'))).toEqual({ sha, size: SIZE });
    const after = await metrics(proxy);
    const delta = (s: string) => after(s) - before(s);
    expect(delta('flexfs_proxy_cache_hits_total')).toBeGreaterThanOrEqual(7);
    expect(delta('flexfs_proxy_cache_misses_total')).toBe(0);
    expect(delta('flexfs_proxy_bytes_served_total')).toBeGreaterThanOrEqual(SIZE);
    await stopAll();
    noSecretsIn(m.output());
  }, 120_000);

  it('a wrong proxyToken: the proxy answers 401, is marked down, and reads fall back to the bucket', async () => {
    await mountCreds(WRONG_TOKEN);
    const before = await metrics(proxy);
    const m = await mountLocal(mp, { local, home: mountHome, args: ['--proxy', proxy.addr] });
    mounts.push(m);
    expect(await fileSha(join(mp, 'big.bin'))).toEqual({ sha, size: SIZE });
    const after = await metrics(proxy);
    expect(after('flexfs_proxy_requests_total{method="GET",status="401"}') - before('flexfs_proxy_requests_total{method="GET",status="401"}')).toBeGreaterThanOrEqual(1);
    expect(after('flexfs_proxy_cache_hits_total') - before('flexfs_proxy_cache_hits_total')).toBe(0);
    expect(m.output()).toMatch(/proxy 127\.0\.0\.1:\d+ failed.*401.*refused proxyToken/);
    await stopAll();
    noSecretsIn(m.output());
    noSecretsIn(proxy.logs());
  }, 120_000);

  it('the proxy killed: a cold mount reads via the bucket; test faults still wrap the bucket store', async () => {
    await mountCreds(PROXY_TOKEN);
    await proxy.kill9();
    const m = await mountLocal(mp, { local, home: mountHome, args: ['--proxy', proxy.addr], env: { FLEXFS_TEST_FAULTS: '{"errorRate":0}' } });
    mounts.push(m);
    expect(await fileSha(join(mp, 'big.bin'))).toEqual({ sha, size: SIZE });
    await stopAll();
    expect(m.output()).toMatch(/proxy 127\.0\.0\.1:\d+ failed.*ECONNREFUSED/);
    // The fault decorator counted the bucket GETs the fallback made (printed at exit).
    const calls = /TEST-ONLY faults: (\d+) calls/.exec(m.output());
    expect(Number(calls?.[1] ?? 0)).toBeGreaterThanOrEqual(7);
    noSecretsIn(m.output());
  }, 120_000);
});
