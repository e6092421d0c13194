import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { QuotaReport } from '../../src/meta/core/quota-admin.js';
import type { StartedMount } from '../harness/mount.js';
import { waitFor } from '../harness/ports.js';
import { runCli, type Daemon } from '../meta-server/harness.js';
import { ok, patternBytes, run } from './helpers.js';
import { covers } from './semantics-doc.js';
import { SERVER_SETUPS, startVolumeServers, type VolumeServers } from './two-servers.js';

const EDQUOT = 122; // Node's fs has no name for it: 'Unknown system error -122'

/** The call fails with EDQUOT ("Disk quota exceeded"). */
async function expectEdquot(p: Promise<unknown>): Promise<void> {
  const err = await p.then(() => null, (e: NodeJS.ErrnoException) => e);
  expect(err?.errno, `expected EDQUOT, got ${String(err)}`).toBe(-EDQUOT);
}

const ADMIN_TOKEN = 'mount-quota-admin-token-0123456789abcd';
const MiB = 2 ** 20;

/**
 * Directory quotas through real mounts: two mounts A and B of one volume, real RGW for the
 * blocks, the `meta.flexfs quota` CLI as a child process. Once with both mounts on one
 * meta.flexfs (sqlite), once with each on its own meta.flexfs, the two sharing one redis-server.
 * The limits hold across mounts (the check is in the engine's transaction), `df` inside the
 * directory shows the quota, and mv in and out keeps the usage exact.
 */
for (const setup of SERVER_SETUPS) describe(`directory quotas through two mounts (${setup})`, () => {
  let env: VolumeServers;
  let meta: Daemon;
  let metaB: Daemon;
  let home: string;
  let a: StartedMount;
  let b: StartedMount;

  const cli = (args: string[]) => runCli([...args, '--addr', `127.0.0.1:${meta.port}`], { FLEXFS_HOME: home });
  const quota = async (path: string): Promise<QuotaReport> => {
    const r = await cli(['quota', 'get', 'qvol', path, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as QuotaReport;
  };
  const seen = (path: string) => waitFor(async () => fsp.stat(path).then(() => true, () => false), 10_000, `${path} to appear`, 20);
  /** `stat -f` of a path: [total bytes, free bytes, total inodes, free inodes]. */
  const df = async (path: string) => {
    const [blocks, free, frsize, files, ffree] = (await ok('stat', ['-f', '-c', '%b %f %S %c %d', path])).trim().split(' ').map(Number);
    return [blocks * frsize, free * frsize, files, ffree];
  };

  beforeAll(async () => {
    env = await startVolumeServers(setup, { prefix: 'quota', adminToken: ADMIN_TOKEN, volume: 'qvol', blockSize: 1 * MiB });
    ({ home, meta, metaB } = env);
    a = await env.mount('a');
    b = await env.mount('b');
  }, 300_000);

  afterAll(async () => {
    await env?.stop();
  });

  it('a byte limit holds across mounts: dd past it on A gets EDQUOT after B filled part; the inode limit refuses creates at once', async () => {
    covers('quota-edquot');
    await fsp.mkdir(join(a.mountpoint, 'proj'));
    await fsp.writeFile(join(a.mountpoint, 'proj', 'before'), patternBytes(1, 1 * MiB));
    const set = await cli(['quota', 'set', 'qvol', '/proj', '--bytes', '8M', '--inodes', '4', '--json']);
    expect(set.code, set.stderr).toBe(0);
    // what the directory held when the quota was set is counted
    expect(JSON.parse(set.stdout)).toMatchObject({ path: '/proj', limits: { bytes: 8 * MiB, inodes: 4 }, usage: { bytes: 1 * MiB, inodes: 1 } });

    await seen(join(b.mountpoint, 'proj'));
    await fsp.writeFile(join(b.mountpoint, 'proj', 'from-b'), patternBytes(2, 5 * MiB));
    expect((await quota('/proj')).usage).toEqual({ bytes: 6 * MiB, inodes: 2 });

    // A writes 4 MiB more: the writes land in A's memory, the commit at fsync is refused
    const dd = await run('dd', ['if=/dev/zero', `of=${join(a.mountpoint, 'proj', 'from-a')}`, 'bs=1M', 'count=4', 'conv=fsync'], { timeoutMs: 120_000 });
    expect(dd.code).not.toBe(0);
    expect(dd.stderr).toMatch(/Disk quota exceeded/);
    expect((await quota('/proj')).usage).toEqual({ bytes: 6 * MiB, inodes: 3 }); // the file exists, empty
    expect((await fsp.stat(join(b.mountpoint, 'proj', 'from-b'))).size).toBe(5 * MiB);
    await fsp.unlink(join(a.mountpoint, 'proj', 'from-a'));

    // a write that fits goes through
    const fh = await fsp.open(join(a.mountpoint, 'proj', 'fits'), 'w');
    await fh.write(patternBytes(3, 2 * MiB));
    await fh.sync();
    await fh.close();
    expect((await quota('/proj')).usage).toEqual({ bytes: 8 * MiB, inodes: 3 });
    // one more byte anywhere below it, from either mount: EDQUOT at fsync and close (as ENOSPC)
    const more = await fsp.open(join(b.mountpoint, 'proj', 'extra'), 'w');
    await more.write('x');
    await expectEdquot(more.sync());
    await expectEdquot(more.close());
    await fsp.unlink(join(b.mountpoint, 'proj', 'extra')); // and with it the byte B kept to retry
    expect((await quota('/proj')).usage).toEqual({ bytes: 8 * MiB, inodes: 3 });

    // the inode limit: 4 inodes below /proj; the fourth create works, the fifth is refused at once
    await fsp.mkdir(join(b.mountpoint, 'proj', 'sub'));
    await expectEdquot(fsp.writeFile(join(a.mountpoint, 'proj', 'sub', 'one-too-many'), ''));
    await expectEdquot(fsp.mkdir(join(b.mountpoint, 'proj', 'dir2')));
    await expectEdquot(fsp.symlink('x', join(a.mountpoint, 'proj', 'link')));
    // outside the quota nothing is limited
    await fsp.writeFile(join(a.mountpoint, 'free'), patternBytes(4, 1 * MiB));
    expect((await quota('/proj')).usage).toEqual({ bytes: 8 * MiB, inodes: 4 });
  }, 300_000);

  it('df inside the quota directory shows the quota (in it, in a subdirectory, on a file); the volume outside', async () => {
    covers('quota-df');
    for (const p of [join(a.mountpoint, 'proj'), join(b.mountpoint, 'proj', 'sub'), join(a.mountpoint, 'proj', 'before')]) {
      expect(await df(p)).toEqual([8 * MiB, 0, 4, 0]);
    }
    const vol = await df(a.mountpoint);
    expect(vol[0]).toBeGreaterThan(8 * MiB);
    const text = await ok('df', ['-B1', join(a.mountpoint, 'proj')]);
    expect(text).toMatch(new RegExp(`\\s${8 * MiB}\\s+${8 * MiB}\\s+0\\s`));
  });

  it('mv in and out of the quota (files and a directory tree, across mounts) keeps quota get exact', async () => {
    covers('quota-rename');
    await cli(['quota', 'set', 'qvol', '/proj', '--bytes', '64M', '--inodes', '100']);
    await fsp.mkdir(join(a.mountpoint, 'out'));
    await fsp.writeFile(join(a.mountpoint, 'out', 'big'), patternBytes(5, 3 * MiB));
    await fsp.mkdir(join(a.mountpoint, 'out', 'tree'));
    await fsp.writeFile(join(a.mountpoint, 'out', 'tree', 'x'), patternBytes(6, 1 * MiB));
    await fsp.mkdir(join(a.mountpoint, 'out', 'tree', 'deeper'));
    await fsp.writeFile(join(a.mountpoint, 'out', 'tree', 'deeper', 'y'), 'hello');
    const start = (await quota('/proj')).usage;

    await ok('mv', [join(a.mountpoint, 'out', 'big'), join(a.mountpoint, 'proj', 'big')]);
    expect((await quota('/proj')).usage).toEqual({ bytes: start.bytes + 3 * MiB, inodes: start.inodes + 1 });
    await seen(join(b.mountpoint, 'out', 'tree'));
    await ok('mv', [join(b.mountpoint, 'out', 'tree'), join(b.mountpoint, 'proj', 'sub', 'tree')]);
    expect((await quota('/proj')).usage).toEqual({ bytes: start.bytes + 4 * MiB + 5, inodes: start.inodes + 5 });
    await ok('mv', [join(a.mountpoint, 'proj', 'big'), join(a.mountpoint, 'big-out')]);
    await ok('mv', [join(a.mountpoint, 'proj', 'sub', 'tree'), join(a.mountpoint, 'out', 'tree')]);
    expect((await quota('/proj')).usage).toEqual(start);
    // a hard link out of the quota is EXDEV (ln reports "Invalid cross-device link")
    const ln = await run('ln', [join(a.mountpoint, 'proj', 'before'), join(a.mountpoint, 'linked')]);
    expect(ln.code).not.toBe(0);
    expect(ln.stderr).toMatch(/cross-device/i);
  });

  it('quota list, get, delete and their errors (no such path, not a directory, bad size, no limit given)', async () => {
    const list = await cli(['quota', 'list', 'qvol', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const all = JSON.parse(list.stdout) as QuotaReport[];
    expect(all.map((q) => q.path)).toEqual(['/proj']);
    expect(all[0]).toEqual(await quota('/proj'));
    const table = await cli(['quota', 'list', 'qvol']);
    expect(table.stdout).toMatch(/PATH[\s\S]*\/proj/);

    const missing = await cli(['quota', 'get', 'qvol', '/proj/nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such path: \/proj\/nope \(no "nope" in \/proj\)/);
    const file = await cli(['quota', 'set', 'qvol', '/proj/before', '--bytes', '1M']);
    expect(file.code).toBe(1);
    expect(file.stderr).toMatch(/\/proj\/before is not a directory/);
    const size = await cli(['quota', 'set', 'qvol', '/proj', '--bytes', '10Q']);
    expect(size.code).toBe(2);
    expect(size.stderr).toMatch(/--bytes/);
    const none = await cli(['quota', 'set', 'qvol', '/proj']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/give --bytes SIZE, --inodes N or both/);
    const relative = await cli(['quota', 'get', 'qvol', 'proj']);
    expect(relative.code).toBe(2);
    expect(relative.stderr).toMatch(/starting with \//);
    const vol = await cli(['quota', 'list', 'no-such-volume']);
    expect(vol.code).toBe(1);
    expect(vol.stderr).toMatch(/volume "no-such-volume" does not exist/);

    const del = await cli(['quota', 'delete', 'qvol', '/proj']);
    expect(del.code, del.stderr).toBe(0);
    const after = await cli(['quota', 'get', 'qvol', '/proj']);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/\/proj has no quota/);
    // without a quota, df inside shows the volume and creating is not limited
    expect(await df(join(a.mountpoint, 'proj'))).toEqual(await df(a.mountpoint));
    await fsp.writeFile(join(a.mountpoint, 'proj', 'now-allowed'), patternBytes(7, 100 * 1024));
  });
});
