import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import { AdminClient } from '../../src/meta/client/index.js';
import { findFuseMount } from '../../src/fuse/mountinfo.js';
import type { StartedMount } from '../harness/mount.js';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { ensureBuilt as ensureMetaBuilt, META_MAIN, startDaemon, type Daemon } from '../meta-server/harness.js';
import { buildMountClient, expectCode, MOUNT_ENTRY, mountLocal, mountRemote, patternBytes, run, workDir } from './helpers.js';

const KiB = 1024;
const BS = 256 * KiB;
const ADMIN_TOKEN = 'mount-time-travel-admin-token-0123456789';

type Setup = 'meta.flexfs on sqlite' | 'meta.flexfs on redis' | '--local (embedded sqlite)';

/**
 * Time travel through real mounts (docs/SEMANTICS.md "Time travel"): files are written, the time T
 * taken, then some are overwritten, truncated, renamed and deleted and gc runs (its window covers
 * T); `mount.flexfs start … --atTime T` on a second mountpoint reads the old bytes and the old
 * listing, refuses every change (EROFS), and a time before the window is refused naming it.
 * meta.flexfs on sqlite and on redis (blocks in RGW), and an embedded --local volume.
 */
for (const setup of ['meta.flexfs on sqlite', 'meta.flexfs on redis', '--local (embedded sqlite)'] as Setup[]) {
  describe(`time travel (${setup}): --atTime mounts show the volume as it was`, () => {
    let dir: { path: string; cleanup: () => Promise<void> };
    let home: string;
    let rgw: Rgw | undefined;
    let redis: RedisServer | undefined;
    let meta: Daemon | undefined;
    const local = setup.startsWith('--local');
    const mounts: StartedMount[] = [];
    const volume = 'tvol';
    const localDir = () => join(dir.path, 'local');
    const engineArgs = () => setup === 'meta.flexfs on redis' ? ['--engine', redis!.url] : ['--dbFolder', join(home, 'db')];

    const mount = async (name: string, args: string[] = []): Promise<StartedMount> => {
      const mp = join(dir.path, name);
      const m = local ? await mountLocal(mp, { local: localDir(), home, volume, args }) : await mountRemote(volume, mp, home, args);
      mounts.push(m);
      return m;
    };

    beforeAll(async () => {
      await buildMountClient();
      await ensureMetaBuilt();
      dir = await workDir('flexfs-timetravel-');
      home = join(dir.path, 'home');
      if (local) return;
      rgw = await sharedRgw();
      if (setup === 'meta.flexfs on redis') redis = await startRedis();
      await writeCreds(join(home, 'meta', 'creds'), { adminToken: ADMIN_TOKEN, blockUser: rgw.accessKey, blockPass: rgw.secretKey });
      meta = await startDaemon({ home, args: engineArgs() });
      const admin = new AdminClient(`127.0.0.1:${meta.port}`, ADMIN_TOKEN, { ca: join(home, 'meta', 'tls', 'cert.pem') });
      await admin.createVolume({
        name: volume, blockSize: BS,
        blockStore: { url: `s3://${rgw.bucket}/tt-${randomBytes(4).toString('hex')}`, endpoint: rgw.endpoint, region: rgw.region, pathStyle: true },
      });
      const token = await admin.createToken({ volume, label: 'time travel test' });
      await writeCreds(join(home, 'mount', 'creds', volume), {
        metaAddr: `127.0.0.1:${meta.port}`, token: token.secret, metaCA: join(home, 'meta', 'tls', 'cert.pem'),
      });
    }, 300_000);

    afterAll(async () => {
      for (const m of mounts) await m.stop();
      await meta?.stop();
      await redis?.stop();
      await rgw?.stop();
      await dir?.cleanup();
    });

    it('an --atTime mount reads the old bytes and listing after overwrites, truncates, renames, deletes and gc; changes are EROFS', async () => {
      const rw = await mount('rw');
      const root = join(rw.mountpoint, 'proj');
      await fsp.mkdir(join(root, 'sub'), { recursive: true });
      const old = {
        'keep.txt': patternBytes(1, 1000),
        'overwritten.bin': patternBytes(2, 3 * BS + 17),
        'truncated.bin': patternBytes(3, 2 * BS),
        'deleted.bin': patternBytes(4, BS + 5),
        'renamed.txt': patternBytes(5, 77),
        'sub/deep.bin': patternBytes(6, BS),
      } as Record<string, Buffer>;
      for (const [name, data] of Object.entries(old)) await fsp.writeFile(join(root, name), data);
      await fsp.symlink('keep.txt', join(root, 'link'));
      // T: after every close above committed (the server's clock: meta.flexfs runs on this machine)
      const t = Date.now();
      while (Date.now() <= t + 1) await new Promise((r) => setTimeout(r, 1));

      await fsp.writeFile(join(root, 'overwritten.bin'), patternBytes(20, BS + 3));
      await fsp.truncate(join(root, 'truncated.bin'), 100);
      await fsp.rm(join(root, 'deleted.bin'));
      await fsp.rm(join(root, 'sub'), { recursive: true });
      await fsp.rename(join(root, 'renamed.txt'), join(root, 'now-named.txt'));
      await fsp.writeFile(join(root, 'new.txt'), 'after T');
      if (local) { await rw.stop(); mounts.splice(mounts.indexOf(rw), 1); } // one embedded mount at a time

      // gc with the volume's retention (1 day): the blocks T still reads stay, being inside the window
      const gc = local
        ? await run('node', [META_MAIN, 'gc', volume, '--local', localDir(), '--json'], { env: { FLEXFS_HOME: home } })
        : await run('node', [META_MAIN, 'gc', volume, ...engineArgs(), '--json'], { env: { FLEXFS_HOME: home } });
      expect(gc.code, gc.stderr).toBe(0);
      const summary = (JSON.parse(gc.stdout) as { queuedDeleted: number; queuedKept: number; historyPruned: number }[])[0];
      expect(summary.queuedDeleted).toBe(0);
      // superseded blocks: overwritten, deleted, sub/deep (256 KiB blocks: 4 + 2 + 1, and the truncated tail; --local: 4 MiB blocks, 1 each)
      expect(summary.queuedKept).toBeGreaterThanOrEqual(local ? 3 : 8);
      expect(summary.historyPruned).toBe(0);

      const past = await mount('past', ['--atTime', new Date(t).toISOString()]);
      expect((await findFuseMount(past.mountpoint))!.options.split(',')[0]).toBe('ro'); // a read-only mount for the kernel too
      const proot = join(past.mountpoint, 'proj');
      expect((await fsp.readdir(proot)).sort()).toEqual(['deleted.bin', 'keep.txt', 'link', 'overwritten.bin', 'renamed.txt', 'sub', 'truncated.bin']);
      for (const [name, data] of Object.entries(old)) {
        const got = await fsp.readFile(join(proot, name));
        expect(got.length, name).toBe(data.length);
        expect(got.equals(data), `${name} reads its bytes as of T`).toBe(true);
      }
      expect(await fsp.readlink(join(proot, 'link'))).toBe('keep.txt');
      await expectCode(fsp.stat(join(proot, 'new.txt')), 'ENOENT');
      await expectCode(fsp.stat(join(proot, 'now-named.txt')), 'ENOENT');
      // read-only: every change is refused
      await expectCode(fsp.writeFile(join(proot, 'x.txt'), 'no'), 'EROFS');
      await expectCode(fsp.appendFile(join(proot, 'keep.txt'), 'no'), 'EROFS');
      await expectCode(fsp.rm(join(proot, 'keep.txt')), 'EROFS');
      await expectCode(fsp.mkdir(join(proot, 'd')), 'EROFS');
      await expectCode(fsp.rename(join(proot, 'keep.txt'), join(proot, 'k2')), 'EROFS');

      // the present is as it is now
      const now = local ? await mount('rw2') : rw;
      const nroot = join(now.mountpoint, 'proj');
      expect((await fsp.readdir(nroot)).sort()).toEqual(['keep.txt', 'link', 'new.txt', 'now-named.txt', 'overwritten.bin', 'truncated.bin']);
      expect((await fsp.readFile(join(nroot, 'overwritten.bin'))).equals(patternBytes(20, BS + 3))).toBe(true);
      expect((await fsp.stat(join(nroot, 'truncated.bin'))).size).toBe(100);
    });

    it('a time before the history window is refused, naming the window (exit 1)', async () => {
      const mp = join(dir.path, 'too-old');
      await fsp.mkdir(mp, { recursive: true });
      const base = [MOUNT_ENTRY, 'start', volume, mp, '--foreground', '--atTime', '2001-01-01T00:00:00Z'];
      const r = await run('node', local ? [...base, '--local', localDir()] : base, { env: { FLEXFS_HOME: home, NOTIFY_SOCKET: '' } });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/can be seen as of \d{4}-\d\d-\d\dT[\d:.]+Z … \d{4}-\d\d-\d\dT[\d:.]+Z only/);
      expect(r.stderr).toContain('2001-01-01T00:00:00.000Z is outside it');
      // a malformed time is a usage error (exit 2) naming the expected form
      const bad = await run('node', [MOUNT_ENTRY, 'start', volume, mp, '--foreground', '--atTime', 'yesterday'], { env: { FLEXFS_HOME: home, NOTIFY_SOCKET: '' } });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('2026-12-04T10:00:00Z');
    });
  });
}
