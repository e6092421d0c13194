import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureBuilt } from '../harness/build.js';
import { startMount, type StartedMount } from '../harness/mount.js';
import { tempDir, waitFor } from '../harness/ports.js';
import { findFuseMount } from '../../src/fuse/mountinfo.js';
import { REPORTED_BLKSIZE } from '../../src/fuse/stat.js';

const run = promisify(execFile);
const osErrno = constants.errno as Record<string, number>;
const ENTRY = 'dist/bench/nullfs-main.js';

interface Stats {
  writes: number; maxWrite: number; writeSizes: Record<string, number>; reads: number; maxRead: number;
  creates: { path: string; uid: number; gid: number }[]; inodes: number; forgets: number;
}

describe('low-level FUSE layer over the null filesystem (real mount in a child process)', () => {
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
    // What INIT negotiated, logged by the child right after the mount.
    await waitFor(async () => m.output().includes('max_write'), 10_000, 'the mount log line');
    expect(m.output()).toMatch(/max_write 1048576/);
  });

  it('dd bs=1M arrives as 1 MiB writes; reads return zeros up to the size', async () => {
    await run('setfattr', ['-n', 'user.nullfs.reset', '-v', '1', mp]);
    await run('dd', ['if=/dev/zero', `of=${join(mp, 'big')}`, 'bs=1M', 'count=16', 'conv=fsync']);
    const s = await stats();
    expect(s.maxWrite).toBe(2 ** 20);
    expect(s.writes).toBe(16);
    expect(s.writeSizes[String(2 ** 20)]).toBe(16);
    const st = await fsp.stat(join(mp, 'big'));
    expect(st.size).toBe(16 * 2 ** 20);
    expect(st.blksize).toBe(REPORTED_BLKSIZE); // what the flexfs mount reports
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

  it('keeps nanosecond times, UTIME_NOW and UTIME_OMIT', async () => {
    const f = join(mp, 'times');
    await fsp.writeFile(f, '');
    await run('touch', ['-d', '2001-02-03 04:05:06.123456789 UTC', f]);
    expect((await run('stat', ['-c', '%.9X %.9Y', f])).stdout.trim()).toBe('981173106.123456789 981173106.123456789');
    const before = Date.now() / 1000 - 5;
    await run('touch', [f]); // both UTIME_NOW
    const [atime, mtime] = (await run('stat', ['-c', '%.9X %.9Y', f])).stdout.trim().split(' ').map(Number);
    expect(atime).toBeGreaterThan(before);
    expect(mtime).toBeGreaterThan(before);
    // One time alone (the other UTIME_OMIT) reaches the filesystem on the low-level layer.
    await run('touch', ['-m', '-d', '2001-02-03 04:05:06.5 UTC', f]);
    const [a2, m2] = (await run('stat', ['-c', '%.9X %.9Y', f])).stdout.trim().split(' ');
    expect(m2).toBe('981173106.500000000');
    expect(Number(a2)).toBe(atime);
    await run('touch', ['-a', '-d', '2002-02-03 04:05:06 UTC', f]);
    expect((await run('stat', ['-c', '%.9X %.9Y', f])).stdout.trim()).toBe('1012709106.000000000 981173106.500000000');
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
    // One kernel inode for both names (inode-based layer): both see the new link count.
    expect([s1.nlink, s2.nlink]).toEqual([2, 2]);
    await fsp.symlink('a', join(mp, 'd2', 'sym'));
    expect(await fsp.readlink(join(mp, 'd2', 'sym'))).toBe('a');
    await fsp.truncate(join(mp, 'd2', 'a'), 3 * 2 ** 40); // 3 TiB sparse: 64-bit sizes
    expect((await fsp.stat(join(mp, 'd2', 'a'))).size).toBe(3 * 2 ** 40);
    const ls = (await run('ls', ['-a', join(mp, 'd2')])).stdout.split('\n').filter(Boolean);
    expect(ls).toEqual(['.', '..', 'a', 'hard', 'sym']);
    const sf = await fsp.statfs(mp);
    expect(sf.blocks * sf.bsize).toBeGreaterThan(2 ** 44); // > 16 TiB: 64-bit statfs counts
  });

  it('O_APPEND writes go to the end; an unlinked open file stays readable; forget frees it', async () => {
    const f = join(mp, 'appended');
    await fsp.writeFile(f, 'abc');
    await fsp.appendFile(f, 'de');
    expect((await fsp.stat(f)).size).toBe(5);
    const before = (await stats()).inodes;
    const g = join(mp, 'unlinked');
    const fh = await fsp.open(g, 'w+');
    await fh.write(Buffer.alloc(10, 1), 0, 10, 0);
    await fsp.unlink(g);
    expect((await fh.stat()).nlink).toBe(0);
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(20, 7), 0, 20, 0);
    expect(bytesRead).toBe(10);
    expect(buffer.subarray(0, 10).every((b) => b === 0)).toBe(true);
    expect((await stats()).inodes).toBe(before + 1); // the kernel still holds it
    await fh.close();
    await waitFor(async () => (await stats()).inodes === before, 10_000, 'the forget of the unlinked inode');
  });

  it('lists a directory larger than one readdir reply, in order, and removes it', async () => {
    const d = join(mp, 'wide');
    await fsp.mkdir(d);
    const names = Array.from({ length: 600 }, (_, i) => `entry-with-a-longish-name-${String(i).padStart(4, '0')}`);
    for (const n of names) await fsp.writeFile(join(d, n), '');
    expect(await fsp.readdir(d)).toEqual(names);
    const ls = (await run('ls', ['-f', d])).stdout.split('\n').filter(Boolean);
    expect(ls).toEqual(['.', '..', ...names]);
    expect((await fsp.stat(d)).nlink).toBe(2);
    await run('rm', ['-r', d]);
    await expect(fsp.stat(d)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
