import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { AdminClient } from '../../src/meta/client/index.js';
import type { StartedMount } from '../harness/mount.js';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { startTcpGate, type TcpGate } from '../harness/tcp-gate.js';
import { ensureBuilt as ensureMetaBuilt, startDaemon, type Daemon } from '../meta-server/harness.js';
import { buildMountClient, fileSha, MOUNT_ENTRY, mountRemote, patternBytes, run, sha256, workDir } from './helpers.js';
import { covers } from './semantics-doc.js';

const ADMIN_TOKEN = 'mount-outage-admin-token-0123456789';
const MiB = 2 ** 20;

/**
 * A bucket outage under a writer, for real: the volume's S3 endpoint is a TCP gate in front of
 * the RGW that refuses connections on command. A 20 s outage during a durable write is ridden
 * out (the store retries until its deadline, not for a count of quick failures); past the
 * deadline (`--storeDeadline`) the writer gets EIO.
 */
describe('bucket outage under a writer (TCP gate in front of the RGW)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let rgw: Rgw;
  let gate: TcpGate;
  let meta: Daemon | undefined;
  let home: string;
  const mounts: StartedMount[] = [];

  async function mount(name: string, extra: string[] = []): Promise<StartedMount> {
    const m = await mountRemote('ovol', join(dir.path, name), home, extra);
    mounts.push(m);
    return m;
  }

  beforeAll(async () => {
    await buildMountClient();
    await ensureMetaBuilt();
    dir = await workDir('flexfs-outage-');
    home = join(dir.path, 'home');
    rgw = await sharedRgw();
    gate = await startTcpGate(Number(new URL(rgw.endpoint).port));
    await writeCreds(join(home, 'meta', 'creds'), { adminToken: ADMIN_TOKEN, blockUser: rgw.accessKey, blockPass: rgw.secretKey });
    meta = await startDaemon({ home, args: ['--dbFolder', join(home, 'db'), '--sessionTtl', '120'] });
    const admin = new AdminClient(`127.0.0.1:${meta.port}`, ADMIN_TOKEN, { ca: join(home, 'meta', 'tls', 'cert.pem') });
    await admin.createVolume({
      name: 'ovol',
      blockStore: { url: `s3://${rgw.bucket}/outage-${randomBytes(4).toString('hex')}`, endpoint: gate.endpoint, region: rgw.region, pathStyle: true },
    });
    const token = await admin.createToken({ volume: 'ovol', label: 'outage test' });
    await writeCreds(join(home, 'mount', 'creds', 'ovol'), {
      metaAddr: `127.0.0.1:${meta.port}`, token: token.secret, metaCA: join(home, 'meta', 'tls', 'cert.pem'),
    });
  }, 300_000);

  afterAll(async () => {
    for (const m of mounts) await m.stop();
    await meta?.stop();
    await gate?.stop();
    await rgw?.stop();
    await dir?.cleanup();
  });

  it('a 20 s outage during a durable write is ridden out: the write completes and reads back from a fresh mount', async () => {
    covers('store-deadline');
    const a = await mount('a');
    const data = patternBytes(91, 24 * MiB);
    const src = join(dir.path, 'src.bin');
    await fsp.writeFile(src, data);
    // dd in 1 MiB writes with an fsync at the end, started as the bucket goes away: a 24 MiB
    // write to a local RGW can finish within any fixed delay, so the gate closes first
    await gate.close();
    let finished = false;
    const writing = run('dd', [`if=${src}`, `of=${join(a.mountpoint, 'big')}`, 'bs=1M', 'conv=fsync', 'status=none'], { timeoutMs: 180_000 })
      .finally(() => { finished = true; });
    await new Promise((r) => setTimeout(r, 20_000));
    expect(finished, 'the durable write waits for the bucket').toBe(false);
    await gate.open();
    const r = await writing;
    expect(r.code, r.stderr).toBe(0);
    const b = await mount('b');
    expect(await fileSha(join(b.mountpoint, 'big'))).toEqual({ sha: sha256(data), size: data.length });
    // one record when the bucket went, one when it came back (not one per retried request)
    expect(a.output().match(/block store not answering/g)).toHaveLength(1);
    expect(a.output()).toMatch(/block store answering again after \d+ s/);
  }, 240_000);

  it('past --storeDeadline the writer gets EIO instead of waiting on', async () => {
    const c = await mount('c', ['--storeDeadline', '4s']);
    await gate.close();
    try {
      const t0 = Date.now();
      const r = await run('dd', ['if=/dev/zero', `of=${join(c.mountpoint, 'doomed')}`, 'bs=1M', 'count=8', 'conv=fsync', 'status=none'], { timeoutMs: 120_000 });
      const took = Date.now() - t0;
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Input\/output error/);
      expect(took).toBeGreaterThanOrEqual(3_500);
      expect(took).toBeLessThan(60_000);
    } finally {
      await gate.open();
    }
  }, 180_000);

  it('a mount whose bucket does not answer fails at start, saying why; --skipStoreCheck mounts anyway', async () => {
    await gate.close();
    try {
      const mp = join(dir.path, 'nocheck');
      await fsp.mkdir(mp, { recursive: true });
      const t0 = Date.now();
      const r = await run(process.execPath, [MOUNT_ENTRY, 'start', 'ovol', mp, '--foreground'], { timeoutMs: 90_000, env: { ...process.env, FLEXFS_HOME: home } });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/the block store .* cannot be used: .*--skipStoreCheck mounts anyway/);
      expect(Date.now() - t0).toBeLessThan(60_000);
      const m = await mount('skipped', ['--skipStoreCheck']);
      expect((await fsp.readdir(m.mountpoint)).length).toBeGreaterThanOrEqual(0);
    } finally {
      await gate.open();
    }
  }, 180_000);

  it('a bad --storeDeadline is refused naming the flag', async () => {
    const mp = join(dir.path, 'bad');
    await fsp.mkdir(mp, { recursive: true });
    for (const value of ['soon', '0', '20m']) {
      const r = await run(process.execPath, [MOUNT_ENTRY, 'start', 'ovol', mp, '--foreground', '--storeDeadline', value], { timeoutMs: 30_000, env: { ...process.env, FLEXFS_HOME: home } });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/--storeDeadline/);
    }
  });
});
