/**
 * SSE that is really applied, through real FUSE mounts: `--local` volumes whose blocks live in
 * the real RGW behind a header-stripping pass-through (an S3-compatible store that accepts
 * `x-amz-server-side-encryption` and ignores it; RGW itself refuses the header with 400), or
 * behind one that also answers `x-amz-server-side-encryption: AES256` (a store that applied it).
 * Directly and through a real proxy.flexfs (mount → proxy → pass-through → RGW):
 * `--sse` writes succeed with one warning and a counted `sse_not_applied` metric; `--sse=require`
 * fails the write with EIO at close and commits nothing; the refused data goes to the recovery
 * folder at unmount and is stored later only where SSE is applied; an applying store is silent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { openEngine } from '../../src/meta/engines/index.js';
import { openStore } from '../../src/store/index.js';
import type { StartedMount } from '../harness/mount.js';
import { ensureBuilt } from '../harness/mount.js';
import { startCaptureProxy, type CaptureProxy } from '../harness/capture-proxy.js';
import { waitFor } from '../harness/ports.js';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { httpGet, PROXY_ENTRY, startPlainProxy, type PlainProxy } from '../proxy/plain-proxy.js';
import { buildMountClient, mountLocal, sha256, workDir } from './helpers.js';

const MiB = 2 ** 20;
const BUCKET = `mount-sse-${randomBytes(4).toString('hex')}`;
const PREFIX = 'm';
const PROXY_TOKEN = randomBytes(24).toString('base64url');
const NOT_APPLIED = 'did not apply server-side encryption';

interface LogRecord { level: number; msg: string }
const records = (m: StartedMount | PlainProxy): LogRecord[] => ('output' in m ? m.output() : m.logs()).split('\n')
  .filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogRecord);
const warnings = (m: StartedMount | PlainProxy) => records(m).filter((r) => r.level === 40 && r.msg.includes(NOT_APPLIED));

/** The mount's Prometheus counter (it logs its --metricsPort address once live). */
async function mountMetric(m: StartedMount, series: string): Promise<number> {
  await waitFor(() => /metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(m.output()), 15_000, 'metrics address in the mount log');
  const port = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(m.output())![1]);
  const line = (await httpGet(port, '/metrics')).body.split('\n').find((l) => l.startsWith(series + '{') || l.startsWith(series + ' '));
  if (!line) throw new Error(`no ${series} in the mount's metrics`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('--sse checks that the store really applied SSE (real mounts, real RGW)', () => {
  let rgw: Rgw;
  let dir: { path: string; cleanup: () => Promise<void> };
  let ignoring: CaptureProxy;
  let applying: CaptureProxy;
  let local: string;
  let home: string;
  let mp: string;
  const volumeIds = new Map<string, string>();
  const mounts: StartedMount[] = [];
  const proxies: PlainProxy[] = [];

  const mount = async (volume: string, args: string[]) => {
    const m = await mountLocal(mp, { local, home, volume, args: [...args, '--metricsPort', '127.0.0.1:0'] });
    mounts.push(m);
    return m;
  };
  const stopAll = async () => {
    while (mounts.length) await mounts.pop()!.stop();
  };
  /** Objects the volume has in the bucket. */
  async function objectsOf(volume: string): Promise<string[]> {
    const store = openStore({ url: `s3://${BUCKET}/${PREFIX}`, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true,
      blockUser: rgw.accessKey, blockPass: rgw.secretKey }, { retry: false });
    try {
      return (await store.list(`${volumeIds.get(volume)}/`)).objects.map((o) => o.key);
    } finally {
      await store.close();
    }
  }
  /** A write that must fail at fsync (or, with `fsync` false, at close) with EIO; returns that error. */
  async function failingWrite(path: string, data: Buffer, fsync = true): Promise<NodeJS.ErrnoException> {
    const fh = await open(path, 'w');
    let err: unknown;
    try {
      await fh.write(data);
      if (fsync) await fh.sync();
    } catch (e) {
      err = e;
    }
    await fh.close().catch((e: unknown) => { err ??= e; });
    expect(err, 'the write should have failed').toBeDefined();
    return err as NodeJS.ErrnoException;
  }
  const recoveryOf = (volume: string) => join(home, 'mount', 'recovery', volume);
  const recordsIn = async (folder: string) => (await readdir(folder).catch(() => [] as string[])).filter((n) => n.endsWith('.fxr'));
  function noSecrets(text: string): void {
    expect(text).not.toContain(rgw.secretKey);
    expect(text).not.toContain(PROXY_TOKEN);
  }

  beforeAll(async () => {
    await buildMountClient();
    await ensureBuilt([PROXY_ENTRY]);
    rgw = await sharedRgw();
    await rgw.createBucket(BUCKET);
    const keys = { accessKey: rgw.accessKey, secretKey: rgw.secretKey };
    ignoring = await startCaptureProxy({ target: rgw.endpoint, stripSse: { keys } });
    applying = await startCaptureProxy({ target: rgw.endpoint, stripSse: { keys, answer: 'AES256' } });
    dir = await workDir('flexfs-mount-sse-');
    local = join(dir.path, 'local');
    home = join(dir.path, 'home');
    mp = join(dir.path, 'mnt');
    await mkdir(local, { recursive: true });
    // Volumes whose blocks are in the bucket behind one pass-through or the other (1 MiB blocks).
    // The p* volumes are written through proxies; their own endpoint (the mount's fallback) is the
    // applying one, so a block written around a proxy would show as applied, never as refused.
    const engine = await openEngine({ engine: 'sqlite', dbFolder: local });
    try {
      for (const [name, endpoint] of [['ign', ignoring.endpoint], ['req', ignoring.endpoint], ['app', applying.endpoint],
        ['pign', applying.endpoint], ['preq', applying.endpoint], ['papp', applying.endpoint]] as const) {
        const v = await engine.createVolume({
          name, blockSize: MiB, blockStore: {
            url: `s3://${BUCKET}/${PREFIX}`, endpoint, region: rgw.region, pathStyle: true,
            credentials: 'static', blockUser: rgw.accessKey, blockPass: rgw.secretKey,
          },
        });
        volumeIds.set(name, v.id);
      }
    } finally {
      await engine.close();
    }
  }, 300_000);

  afterAll(async () => {
    await stopAll();
    for (const p of proxies) await p.stop();
    await ignoring?.stop();
    await applying?.stop();
    await rgw?.stop();
    await dir?.cleanup();
  }, 60_000);

  it('--sse on a store that ignores SSE: writes succeed, one warning naming the endpoint, sse_not_applied counts', async () => {
    const m = await mount('ign', ['--sse']);
    const a = randomBytes(2 * MiB + 5); // 3 blocks
    const b = randomBytes(MiB + 1); // 2 blocks
    await writeFile(join(mp, 'a'), a);
    await writeFile(join(mp, 'b'), b);
    expect(await mountMetric(m, 'flexfs_mount_sse_not_applied_total')).toBeGreaterThanOrEqual(5);
    const w = warnings(m);
    expect(w).toHaveLength(1);
    expect(w[0].msg).toContain(`s3://${BUCKET} at ${ignoring.endpoint} ${NOT_APPLIED}`);
    expect(w[0].msg).toMatch(/UNENCRYPTED.*--sse=require/);
    // Every block PUT asked for SSE on the wire.
    const puts = ignoring.requests.filter((q) => q.method === 'PUT' && q.path.includes(volumeIds.get('ign')!));
    expect(puts.length).toBeGreaterThanOrEqual(5);
    for (const q of puts) expect(q.headers['x-amz-server-side-encryption']).toBe('AES256');
    await stopAll();
    const again = await mount('ign', []);
    expect(sha256(await readFile(join(mp, 'a')))).toBe(sha256(a));
    expect(sha256(await readFile(join(mp, 'b')))).toBe(sha256(b));
    await stopAll();
    noSecrets(m.output() + again.output());
  }, 180_000);

  it('--sse=require on a store that ignores SSE: EIO at close, the log says why, nothing committed', async () => {
    const m = await mount('req', ['--sse=require']);
    // close() alone reports it (the upload at close fails), and so does fsync.
    const err = await failingWrite(join(mp, 'refused'), randomBytes(MiB + 7), false);
    expect(err.code).toBe('EIO');
    expect(err.syscall).toBe('close');
    expect((await failingWrite(join(mp, 'refused2'), randomBytes(10))).code).toBe('EIO');
    await waitFor(() => m.output().includes('--sse=require refuses'), 15_000, 'the refusal in the mount log');
    expect(warnings(m)[0].msg).toContain(`s3://${BUCKET} at ${ignoring.endpoint} ${NOT_APPLIED}`);
    expect(await mountMetric(m, 'flexfs_mount_sse_not_applied_total')).toBeGreaterThanOrEqual(1);
    await stopAll();
    // The refused objects were removed again, and the file holds none of the data.
    expect(await objectsOf('req')).toEqual([]);
    // The unmount kept the refused data in the recovery folder. A later mount without --sse still
    // demands SSE for it: the store does not apply it, so nothing is stored and the records move
    // to refused/, and the mount starts.
    const again = await mount('req', []);
    for (const f of ['refused', 'refused2']) expect((await stat(join(mp, f)).catch(() => ({ size: 0 }))).size).toBe(0);
    await stopAll();
    expect(await objectsOf('req')).toEqual([]);
    expect(await recordsIn(join(recoveryOf('req'), 'refused'))).toHaveLength(2);
    expect(again.output()).toMatch(/not applied inode \d+ .*written under --sse=require/);
    noSecrets(m.output() + again.output());
  }, 180_000);

  it('--sse and --sse=require on a store that applies SSE: no warning, sse_not_applied 0', async () => {
    for (const flag of ['--sse', '--sse=require']) {
      const m = await mount('app', [flag]);
      const data = randomBytes(2 * MiB);
      await writeFile(join(mp, `f${flag}`), data);
      expect(sha256(await readFile(join(mp, `f${flag}`)))).toBe(sha256(data));
      expect(await mountMetric(m, 'flexfs_mount_sse_not_applied_total')).toBe(0);
      await stopAll();
      expect(records(m).filter((r) => r.level >= 40)).toEqual([]);
    }
    expect((await objectsOf('app')).length).toBeGreaterThanOrEqual(4);
  }, 180_000);

  describe('through proxy.flexfs (mount → proxy → pass-through → RGW)', () => {
    const proxyFor = async (name: string, endpoint: string, args: string[] = []) => {
      const p = await startPlainProxy({
        home: join(dir.path, `proxy-${name}`), store: `s3://${BUCKET}/${PREFIX}`, token: PROXY_TOKEN,
        args: ['--endpoint', endpoint, '--region', rgw.region, '--pathStyle', ...args],
        creds: { blockUser: rgw.accessKey, blockPass: rgw.secretKey },
      });
      proxies.push(p);
      return p;
    };
    beforeAll(async () => {
      await writeCreds(join(home, 'mount', 'creds', 'pign'), { proxyToken: PROXY_TOKEN, proxyNoSSL: true });
      await writeCreds(join(home, 'mount', 'creds', 'preq'), { proxyToken: PROXY_TOKEN, proxyNoSSL: true });
      await writeCreds(join(home, 'mount', 'creds', 'papp'), { proxyToken: PROXY_TOKEN, proxyNoSSL: true });
    });

    it('mount --sse, proxy without --sse: writes go through the proxy, both warn once and count', async () => {
      const p = await proxyFor('ign', ignoring.endpoint);
      const before = await p.metrics();
      const m = await mount('pign', ['--sse', '--proxy', p.addr]);
      const data = randomBytes(2 * MiB + 3); // 3 blocks
      await writeFile(join(mp, 'viaproxy'), data);
      expect(await mountMetric(m, 'flexfs_mount_sse_not_applied_total')).toBeGreaterThanOrEqual(3);
      const after = await p.metrics();
      const put204 = 'flexfs_proxy_requests_total{method="PUT",status="204"}';
      expect(after(put204) - before(put204)).toBeGreaterThanOrEqual(3);
      expect(after('flexfs_proxy_sse_not_applied_total')).toBeGreaterThanOrEqual(3);
      const w = warnings(m);
      expect(w).toHaveLength(1);
      expect(w[0].msg).toContain(`proxy.flexfs at ${p.addr} ${NOT_APPLIED}`);
      expect(applying.requests.filter((q) => q.method === 'PUT' && q.path.includes(volumeIds.get('pign')!))).toEqual([]);
      expect(warnings(p)).toHaveLength(1);
      expect(warnings(p)[0].msg).toContain(`s3://${BUCKET} at ${ignoring.endpoint} ${NOT_APPLIED}`);
      expect(sha256(await readFile(join(mp, 'viaproxy')))).toBe(sha256(data));
      await stopAll();
      noSecrets(m.output() + p.logs());
    }, 180_000);

    it('--sse=require on the mount, or on the proxy: EIO at close, nothing written around the proxy, nothing committed', async () => {
      const plain = await proxyFor('req-plain', ignoring.endpoint);
      let m = await mount('preq', ['--sse=require', '--proxy', plain.addr]);
      expect((await failingWrite(join(mp, 'm-refused'), randomBytes(MiB + 1))).code).toBe('EIO');
      await waitFor(() => m.output().includes('--sse=require refuses'), 15_000, 'the refusal in the mount log');
      expect(warnings(m)[0].msg).toContain(`proxy.flexfs at ${plain.addr} ${NOT_APPLIED}`);
      await stopAll();
      // The proxy's own --sse=require refuses for a mount with plain --sse (a 400 it must not route around).
      const strict = await proxyFor('req-strict', ignoring.endpoint, ['--sse=require']);
      // Its start applies m-refused's record through the strict proxy: refused again, kept aside.
      m = await mount('preq', ['--sse', '--proxy', strict.addr]);
      expect(await recordsIn(join(recoveryOf('preq'), 'refused'))).toHaveLength(1);
      const pData = randomBytes(MiB + 1);
      expect((await failingWrite(join(mp, 'p-refused'), pData)).code).toBe('EIO');
      await waitFor(() => m.output().includes('--sse=require refuses'), 15_000, 'the proxy\'s refusal in the mount log');
      expect((await strict.metrics())('flexfs_proxy_requests_total{method="PUT",status="400"}')).toBeGreaterThanOrEqual(1);
      expect(warnings(strict)[0].msg).toMatch(/--sse=require refuses to store blocks unencrypted/);
      await stopAll();
      // Only the proxies wrote to the bucket (each refused object removed again), never the mount around them.
      const preqPuts = (c: CaptureProxy) => c.requests.filter((q) => q.method === 'PUT' && q.path.includes(volumeIds.get('preq')!)).length;
      expect(preqPuts(ignoring)).toBeGreaterThanOrEqual(2);
      expect(preqPuts(applying)).toBe(0);
      expect(await objectsOf('preq')).toEqual([]);
      // The next mount (no proxy, its endpoint applies SSE) applies p-refused's record: it was
      // written with plain --sse, refused only by the proxy. m-refused's stays in refused/.
      const again = await mount('preq', []);
      expect((await stat(join(mp, 'm-refused')).catch(() => ({ size: 0 }))).size).toBe(0);
      expect(sha256(await readFile(join(mp, 'p-refused')))).toBe(sha256(pData));
      await stopAll();
      expect(preqPuts(applying)).toBeGreaterThanOrEqual(2);
      expect(await recordsIn(recoveryOf('preq'))).toEqual([]);
      expect(await recordsIn(join(recoveryOf('preq'), 'refused'))).toHaveLength(1);
      noSecrets(m.output() + plain.logs() + strict.logs() + again.output());
    }, 240_000);

    it('a proxy in front of a store that applies SSE echoes it: no warning, sse_not_applied 0 on both sides', async () => {
      const p = await proxyFor('app', applying.endpoint, ['--sse']);
      const m = await mount('papp', ['--sse=require', '--proxy', p.addr]);
      const data = randomBytes(2 * MiB);
      await writeFile(join(mp, 'ok'), data);
      expect(await mountMetric(m, 'flexfs_mount_sse_not_applied_total')).toBe(0);
      expect((await p.metrics())('flexfs_proxy_sse_not_applied_total')).toBe(0);
      expect((await p.metrics())('flexfs_proxy_requests_total{method="PUT",status="204"}')).toBeGreaterThanOrEqual(2);
      expect(sha256(await readFile(join(mp, 'ok')))).toBe(sha256(data));
      await stopAll();
      expect(warnings(m)).toEqual([]);
      expect(warnings(p)).toEqual([]);
    }, 180_000);
  });
});
