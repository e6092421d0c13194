import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureBuilt } from '../harness/build.js';
import { startMount, type StartedMount } from '../harness/mount.js';
import { tempDir } from '../harness/ports.js';
import { findFuseMount } from '../../src/fuse/mountinfo.js';

const run = promisify(execFile);
const osErrno = constants.errno as Record<string, number>;
const ENTRY = 'dist/bench/nullfs-main.js';

interface Stats { writes: number; maxWrite: number; writeSizes: Record<string, number>; creates: { path: string; uid: number; gid: number }[] }

describe('FUSE adapter over the null filesystem (real mount in a child process)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let m: StartedMount;
  let mp: string;

  const stats = async (): Promise<Stats> => {
    const { stdout } = await run('getfattr', ['--only-values', '-n', 'user.nullfs.stats', mp]);
    return JSON.parse(stdout) as Stats;
  };

  beforeAll(async () => {
    await ensureBuilt([ENTRY]);
    dir = await tempDir('flexfs-fuse-');
    await fsp.chmod(dir.path, 0o755); // nobody must reach the mountpoint
    mp = join(dir.path, 'mnt');
    m = await startMount({ args: [ENTRY, mp], mountpoint: mp });
  });

  afterAll(async () => {
    await m?.stop();
    await dir?.cleanup();
  });

  it('mounts with the flexfs options', async () => {
    const entry = await findFuseMount(mp);
    expect(entry?.fstype).toBe('fuse.flexfs');
    expect(entry?.source).toBe('nullfs');
    const info = await fsp.readFile('/proc/self/mountinfo', 'utf8');
    const line = info.split('\n').find((l) => l.includes(` ${mp} `))!;
    expect(line).toMatch(/default_permissions/);
    expect(line).toMatch(/allow_other/);
    expect(line).toMatch(/max_read=131072/);
  });

  it('dd bs=1M arrives as 128 KiB writes; reads return zeros up to the size', async () => {
    await run('setfattr', ['-n', 'user.nullfs.reset', '-v', '1', mp]);
    await run('dd', ['if=/dev/zero', `of=${join(mp, 'big')}`, 'bs=1M', 'count=16', 'conv=fsync']);
    const s = await stats();
    expect(s.maxWrite).toBe(131072);
    expect(s.writes).toBeGreaterThanOrEqual(128);
    expect(s.writeSizes['131072']).toBeGreaterThanOrEqual(Math.floor(s.writes * 0.9));
    const st = await fsp.stat(join(mp, 'big'));
    expect(st.size).toBe(16 * 2 ** 20);
    expect(st.blksize).toBe(131072);
    const data = await fsp.readFile(join(mp, 'big'));
    expect(data.length).toBe(16 * 2 ** 20);
    expect(data.every((b) => b === 0)).toBe(true);
  });

  it('a file created by a non-root user belongs to that uid/gid', async () => {
    const shared = join(mp, 'shared');
    await fsp.mkdir(shared);
    await fsp.chmod(shared, 0o777);
    await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'touch', join(shared, 'by-nobody')]);
    await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'mkdir', join(shared, 'dir-by-nobody')]);
    for (const name of ['by-nobody', 'dir-by-nobody']) {
      const st = await fsp.stat(join(shared, name));
      expect([st.uid, st.gid]).toEqual([65534, 65534]);
    }
    const create = (await stats()).creates.find((c) => c.path === '/shared/by-nobody');
    expect(create).toMatchObject({ uid: 65534, gid: 65534 });
    // default_permissions: the kernel refuses nobody in a root-only directory.
    await fsp.mkdir(join(mp, 'private'), { mode: 0o755 });
    await expect(run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'touch', join(mp, 'private', 'x')]))
      .rejects.toThrow(/Permission denied/);
  });

  it('passes errnos through: FsError keeps its code, other failures are EIO', async () => {
    await expect(fsp.mkdir(join(mp, 'fail-EACCES'))).rejects.toMatchObject({ code: 'EACCES' });
    // libuv has no name for EDQUOT: compare the number.
    await expect(fsp.writeFile(join(mp, 'fail-EDQUOT'), 'x')).rejects.toMatchObject({ errno: -osErrno.EDQUOT });
    await expect(fsp.mkdir(join(mp, 'fail-ENAMETOOLONG'))).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    await expect(fsp.writeFile(join(mp, 'fail-crash'), 'x')).rejects.toMatchObject({ code: 'EIO' });
    await expect(fsp.stat(join(mp, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fsp.rmdir(join(mp, 'shared'))).rejects.toMatchObject({ code: 'ENOTEMPTY' });
  });

  it('keeps nanosecond times and UTIME_NOW', async () => {
    // libfuse 2.9's high-level API only forwards setattr calls that set BOTH times (touch -d,
    // cp -p, rsync, tar); a lone `touch -m`/`touch -a` never reaches utimens (documented limit).
    const f = join(mp, 'times');
    await fsp.writeFile(f, '');
    await run('touch', ['-d', '2001-02-03 04:05:06.123456789 UTC', f]);
    expect((await run('stat', ['-c', '%.9X %.9Y', f])).stdout.trim()).toBe('981173106.123456789 981173106.123456789');
    const before = Date.now() / 1000 - 5;
    await run('touch', [f]); // both UTIME_NOW
    const [atime, mtime] = (await run('stat', ['-c', '%.9X %.9Y', f])).stdout.trim().split(' ').map(Number);
    expect(atime).toBeGreaterThan(before);
    expect(mtime).toBeGreaterThan(before);
  });

  it('xattrs: size probing, ERANGE-free round trip, list and remove', async () => {
    const f = join(mp, 'xa');
    await fsp.writeFile(f, '');
    const big = 'v'.repeat(3000);
    await run('setfattr', ['-n', 'user.big', '-v', big, f]);
    await run('setfattr', ['-n', 'user.small', '-v', 'x', f]);
    expect((await run('getfattr', ['--only-values', '-n', 'user.big', f])).stdout).toBe(big);
    const list = (await run('getfattr', ['-d', f])).stdout;
    expect(list).toMatch(/user\.big=/);
    expect(list).toMatch(/user\.small="x"/);
    await run('setfattr', ['-x', 'user.small', f]);
    await expect(run('getfattr', ['-n', 'user.small', f])).rejects.toThrow(/No such attribute/);
  });

  it('directories, renames, links, symlinks, truncate, statfs', async () => {
    await fsp.mkdir(join(mp, 'd1'));
    await fsp.writeFile(join(mp, 'd1', 'a'), 'hello');
    await fsp.rename(join(mp, 'd1'), join(mp, 'd2'));
    expect((await fsp.readdir(join(mp, 'd2')))).toEqual(['a']);
    expect((await fsp.stat(join(mp, 'd2', 'a'))).size).toBe(5);
    await fsp.link(join(mp, 'd2', 'a'), join(mp, 'd2', 'hard'));
    const [s1, s2] = await Promise.all([fsp.stat(join(mp, 'd2', 'a')), fsp.stat(join(mp, 'd2', 'hard'))]);
    expect(s1.ino).toBe(s2.ino);
    // The new name's attributes are fresh; the old name's may be cached for attr_timeout.
    expect(s2.nlink).toBe(2);
    await fsp.symlink('a', join(mp, 'd2', 'sym'));
    expect(await fsp.readlink(join(mp, 'd2', 'sym'))).toBe('a');
    await fsp.truncate(join(mp, 'd2', 'a'), 3 * 2 ** 40); // 3 TiB sparse: 64-bit sizes
    expect((await fsp.stat(join(mp, 'd2', 'a'))).size).toBe(3 * 2 ** 40);
    const ls = (await run('ls', ['-a', join(mp, 'd2')])).stdout.split('\n').filter(Boolean);
    expect(ls).toEqual(['.', '..', 'a', 'hard', 'sym']);
    const sf = await fsp.statfs(mp);
    expect(sf.blocks * sf.bsize).toBeGreaterThan(2 ** 44); // > 16 TiB: 64-bit statfs counts
  });
});
