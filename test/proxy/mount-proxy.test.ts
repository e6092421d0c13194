/**
 * The mount client reads and writes blocks through proxy.flexfs: a real `--local` volume (file://
 * blocks), a real proxy daemon (--noSSL) in a child process, real FUSE mounts in child processes.
 * Covers the volume's `proxies` setting, `--proxy`, the mount(8) form `-o proxy=a+b`, a wrong
 * proxyToken (401 → the proxy is marked down, reads fall back to the bucket) and a dead proxy
 * (connection refused → fallback), with the test-only fault hook still wrapping the bucket store;
 * an end-to-end encrypted volume whose proxy cache and bucket hold ciphertext only; and a volume
 * on a live meta.flexfs whose `proxies` setting reaches a --credsFile mount.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEncryption } from '../../src/codec/index.js';
import { readCreds, writeCreds } from '../../src/config/creds.js';
import { AdminClient } from '../../src/meta/client/index.js';
import { openEngine } from '../../src/meta/engines/index.js';
import { splitProxyList, parseMountOptions } from '../../src/cli/mount/flags.js';
import { helperInvocation } from '../../src/cli/mount/helper.js';
import { ensureBuilt, startMount, type StartedMount } from '../harness/mount.js';
import { freePort, waitFor } from '../harness/ports.js';
import { ensureBuilt as ensureMetaBuilt, startDaemon, type Daemon } from '../meta-server/harness.js';
import {
  buildMountClient, fileSha, filesContaining, listFiles, MOUNT_ENTRY, mountLocal, run, sha256, workDir, writeRandomFile,
} from '../mount/helpers.js';
import { cacheFileOf, REPO } from './harness.js';

const PROXY_ENTRY = 'dist/src/cli/proxy/index.js';
const SIZE = 6 * 2 ** 20 + 12345; // 7 blocks of 1 MiB, the last one partial
const PROXY_TOKEN = randomBytes(24).toString('base64url');
const WRONG_TOKEN = randomBytes(24).toString('base64url');
/** Plaintext markers: the plain volume's is stored readably (the control), the E2E volume's never. */
const PLAIN_MARKER = Buffer.from(`FLEXFS-PLAIN-MARKER-${randomBytes(6).toString('hex')}`);
const SECRET_MARKER = Buffer.from(`FLEXFS-SECRET-MARKER-${randomBytes(6).toString('hex')}`);
const E2E_PASSPHRASE = 'e2e passphrase of the proxied volume';
const MiB = 2 ** 20;

/** Random bytes (stored raw: lz4 cannot shrink them) with `marker` once in every 1 MiB block. */
function withMarkers(marker: Buffer, size: number): Buffer {
  const data = randomBytes(size);
  for (let at = 1000; at + marker.length < size; at += MiB) marker.copy(data, at);
  return data;
}

/** `proxy.flexfs start --noSSL` in a child (test/proxy/harness.ts starts TLS proxies only). */
interface PlainProxy { addr: string; port: number; diskFolder: string; logs(): string; kill9(): Promise<void> }

async function startPlainProxy(home: string, store: string): Promise<PlainProxy> {
  const port = await freePort();
  const credsFile = join(home, 'proxy', 'creds');
  const diskFolder = join(home, 'cache');
  await writeCreds(credsFile, { token: PROXY_TOKEN });
  const child: ChildProcess = spawn(process.execPath, [join(REPO, PROXY_ENTRY), 'start', '--store', store, '--noSSL',
    '--bindAddr', `127.0.0.1:${port}`, '--diskFolder', diskFolder, '--diskQuota', '256M', '--credsFile', credsFile, '--verbose'],
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
    addr: `127.0.0.1:${port}`, port, diskFolder, logs: () => logs,
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
  let secId: string;
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
    await ensureMetaBuilt();
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
      // The same behind the same proxy, end-to-end encrypted (passphrase: `secret` in its creds).
      const encryption = (await createEncryption(E2E_PASSPHRASE)).params;
      secId = (await engine.createVolume({
        name: 'sec', blockSize: MiB, blockStore: { url: `file://${join(local, 'blocks')}` }, proxies: [proxy.addr], encryption,
      })).id;
    } finally {
      await engine.close();
    }
    await mountCreds(PROXY_TOKEN);
    await writeCreds(join(mountHome, 'mount', 'creds', 'sec'), { proxyToken: PROXY_TOKEN, proxyNoSSL: true, secret: E2E_PASSPHRASE });
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
      '--proxyFingerprint', `${'ab'.repeat(32)},${'CD:'.repeat(31)}CD`], { input: `token=t-1\nproxyToken=${PROXY_TOKEN}\n`, env: { FLEXFS_HOME: mountHome } });
    expect(r.code, r.stderr).toBe(0);
    noSecretsIn(r.stdout + r.stderr);
    const creds = await readCreds(file);
    // fingerprints are stored normalized: colon-separated upper-case hex
    expect(creds).toEqual({ metaAddr: '127.0.0.1:1', token: 't-1', proxyToken: PROXY_TOKEN, proxyFingerprint: `${'AB:'.repeat(31)}AB,${'CD:'.repeat(31)}CD` });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('the volume\'s proxies setting: a written file goes through the proxy (write-through warms its cache)', async () => {
    const before = await metrics(proxy);
    const m = await mountLocal(mp, { local, home: mountHome });
    mounts.push(m);
    await logged(m, `blocks: proxies(${proxy.addr})`);
    sha = await writeRandomFile(join(mp, 'big.bin'), SIZE);
    await writeFile(join(mp, 'marker.bin'), withMarkers(PLAIN_MARKER, 2 * MiB));
    await stopAll();
    const after = await metrics(proxy);
    // 7 blocks, each PUT once through the proxy (204) and written through to the bucket.
    expect(after('flexfs_proxy_requests_total{method="PUT",status="204"}') - before('flexfs_proxy_requests_total{method="PUT",status="204"}')).toBeGreaterThanOrEqual(7);
    expect(after('flexfs_proxy_cache_objects')).toBeGreaterThanOrEqual(7);
    noSecretsIn(m.output());
  }, 120_000);

  it('E2E volume through the proxy: its cache and the bucket hold ciphertext only; a cold mount reads it back', async () => {
    const data = withMarkers(SECRET_MARKER, 2 * MiB + 777); // 3 blocks
    const before = await metrics(proxy);
    const m = await mountLocal(mp, { local, home: mountHome, volume: 'sec' });
    mounts.push(m);
    await logged(m, `blocks: proxies(${proxy.addr})`);
    await writeFile(join(mp, 'secret.bin'), data);
    await stopAll();
    const afterWrite = await metrics(proxy);
    expect(afterWrite('flexfs_proxy_requests_total{method="PUT",status="204"}') - before('flexfs_proxy_requests_total{method="PUT",status="204"}')).toBeGreaterThanOrEqual(3);
    // Every block of the volume went through the proxy: its cache file is the bucket object, byte for byte.
    const blocksDir = join(local, 'blocks');
    const objects = await listFiles(join(blocksDir, secId));
    expect(objects.length).toBeGreaterThanOrEqual(3);
    for (const file of objects) {
      const cached = await readFile(cacheFileOf(proxy.diskFolder, file.slice(blocksDir.length + 1)));
      expect(cached.equals(await readFile(file)), file).toBe(true);
    }
    // No plaintext anywhere in the proxy's disk folder, nor in the bucket folder or meta.db.
    expect(await filesContaining(proxy.diskFolder, [SECRET_MARKER])).toEqual([]);
    expect(await filesContaining(local, [SECRET_MARKER])).toEqual([]);
    // Control: the same scans find the plain volume's marker (cache and bucket).
    expect((await filesContaining(proxy.diskFolder, [PLAIN_MARKER])).length).toBeGreaterThan(0);
    expect((await filesContaining(blocksDir, [PLAIN_MARKER])).length).toBeGreaterThan(0);

    const again = await mountLocal(mp, { local, home: mountHome, volume: 'sec' });
    mounts.push(again);
    expect(sha256(await readFile(join(mp, 'secret.bin')))).toBe(sha256(data));
    const afterRead = await metrics(proxy);
    expect(afterRead('flexfs_proxy_cache_hits_total') - afterWrite('flexfs_proxy_cache_hits_total')).toBeGreaterThanOrEqual(3);
    await stopAll();
    noSecretsIn(m.output() + again.output());
    expect(m.output() + again.output() + proxy.logs()).not.toContain(E2E_PASSPHRASE);
  }, 120_000);

  it('a volume on meta.flexfs with `proxies` set: a --credsFile mount (no --proxy) writes and reads through the proxy', async () => {
    const metaHome = join(dir.path, 'meta-home');
    const adminToken = randomBytes(24).toString('base64url');
    await writeCreds(join(metaHome, 'meta', 'creds'), { adminToken });
    let meta: Daemon | undefined;
    try {
      meta = await startDaemon({ home: metaHome, args: ['--dbFolder', join(metaHome, 'db')] });
      const metaCA = join(metaHome, 'meta', 'tls', 'cert.pem');
      const admin = new AdminClient(`127.0.0.1:${meta.port}`, adminToken, { ca: metaCA });
      await admin.createVolume({ name: 'rvol', blockSize: MiB, blockStore: { url: `file://${join(local, 'blocks')}` }, proxies: [proxy.addr] });
      const { secret } = await admin.createToken({ volume: 'rvol', label: 'mount-proxy test' });
      const credsFile = join(dir.path, 'rvol.creds');
      await writeCreds(credsFile, { metaAddr: `127.0.0.1:${meta.port}`, token: secret, metaCA, proxyToken: PROXY_TOKEN, proxyNoSSL: true });
      const remoteMount = () => startMount({
        args: [MOUNT_ENTRY, 'start', 'rvol', mp, '--foreground', '--credsFile', credsFile], mountpoint: mp,
        env: { FLEXFS_HOME: join(dir.path, 'empty-home'), NOTIFY_SOCKET: '', FLEXFS_TEST_FAULTS: '' }, timeoutMs: 60_000,
      });
      const before = await metrics(proxy);
      const m = await remoteMount();
      mounts.push(m);
      await logged(m, `blocks: proxies(${proxy.addr})`);
      const data = randomBytes(2 * MiB + 5); // 3 blocks
      await writeFile(join(mp, 'remote.bin'), data);
      await stopAll();
      const afterWrite = await metrics(proxy);
      expect(afterWrite('flexfs_proxy_requests_total{method="PUT",status="204"}') - before('flexfs_proxy_requests_total{method="PUT",status="204"}')).toBeGreaterThanOrEqual(3);
      const again = await remoteMount();
      mounts.push(again);
      expect(sha256(await readFile(join(mp, 'remote.bin')))).toBe(sha256(data));
      const afterRead = await metrics(proxy);
      expect(afterRead('flexfs_proxy_cache_hits_total') - afterWrite('flexfs_proxy_cache_hits_total')).toBeGreaterThanOrEqual(3);
      expect(afterRead('flexfs_proxy_cache_misses_total') - afterWrite('flexfs_proxy_cache_misses_total')).toBe(0);
      await stopAll();
      noSecretsIn(m.output() + again.output());
      expect(m.output() + again.output()).not.toContain(secret);
    } finally {
      await stopAll();
      await meta?.stop();
    }
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
