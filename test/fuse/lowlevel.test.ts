import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureBuilt } from '../harness/build.js';
import { startMount, type StartedMount } from '../harness/mount.js';
import { tempDir, waitFor } from '../harness/ports.js';
import { findFuseMount } from '../../src/fuse/mountinfo.js';
import type { LlMemFsStats } from '../../bench/llmemfs.js';

const run = promisify(execFile);
const ENTRY = 'dist/bench/llmemfs-main.js';
/** Short on purpose: the never-answered lookup must come back EIO quickly. */
const DEADLINE_MS = 1500;

// Both ways of receiving requests: libfuse's threads + thread-safe function, and the JS thread
// polling /dev/fuse itself (receive: 'inline').
describe.each(['threads', 'inline'])('low-level FUSE layer (libfuse3 addon), receive=%s, over an in-memory filesystem (real mount in a child process)', (receive) => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let m: StartedMount;
  let mp: string;

  const stats = async (): Promise<LlMemFsStats> =>
    JSON.parse((await run('getfattr', ['--only-values', '-n', 'user.llmemfs.stats', mp])).stdout) as LlMemFsStats;
  const reset = () => run('setfattr', ['-n', 'user.llmemfs.reset', '-v', '1', mp]);
  const ctl = (cmd: string, arg: string) => run('setfattr', ['-n', `user.llmemfs.${cmd}`, '-v', arg, join(mp, 'ctl')]);

  beforeAll(async () => {
    await ensureBuilt([ENTRY]);
    dir = await tempDir('flexfs-ll-');
    await fsp.chmod(dir.path, 0o755);
    mp = join(dir.path, 'mnt');
    const extra = receive === 'inline' ? ['--inline'] : [];
    m = await startMount({ args: [ENTRY, mp, '--ttl', '3600', '--deadline-ms', String(DEADLINE_MS), ...extra], mountpoint: mp });
  });

  afterAll(async () => {
    await m?.stop();
    await dir?.cleanup();
  });

  it('mounts as fuse.llmemfs with the requested options and 1 MiB max_write', async () => {
    const entry = await findFuseMount(mp);
    expect(entry?.fstype).toBe('fuse.llmemfs');
    expect(entry?.source).toBe('llmemfs');
    const line = (await fsp.readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.includes(` ${mp} `))!;
    expect(line).toMatch(/default_permissions/);
    expect(line).toMatch(/allow_other/);
    // The child logs what INIT negotiated right after the mount appears.
    await waitFor(async () => m.output().includes('"maxWrite"'), 10_000, 'the mount log line');
    expect(m.output()).toMatch(/"maxWrite":1048576/);
  });

  it('dd bs=1M arrives as 1 MiB write requests', async () => {
    await reset();
    await run('dd', ['if=/dev/zero', `of=${join(mp, 'big')}`, 'bs=1M', 'count=16', 'conv=fsync']);
    const s = await stats();
    expect(s.maxWrite).toBe(2 ** 20);
    expect(s.writeSizes[String(2 ** 20)]).toBe(16);
    expect(s.ops.write).toBe(16);
    expect((await fsp.stat(join(mp, 'big'))).size).toBe(16 * 2 ** 20);
    // The payload arrives intact (a large write is handed over in the block it was read into).
    const payload = randomBytes(2 ** 20);
    const fh = await fsp.open(join(mp, 'random'), 'w');
    await fh.write(payload, 0, payload.length, 0); // one write(2) of 1 MiB (writeFile splits into 512 KiB)
    await fh.close();
    expect((await stats()).lastWrite).toEqual({
      size: 2 ** 20, head: payload.subarray(0, 16).toString('hex'), tail: payload.subarray(2 ** 20 - 16).toString('hex'),
    });
    const data = await fsp.readFile(join(mp, 'big'));
    expect(data.length).toBe(16 * 2 ** 20);
    expect(data.every((b) => b === 0)).toBe(true);
    // keep_cache on open: the second read of the unchanged file comes from the page cache.
    // (Up to 3 tries: another process on the machine may drop all caches in between.)
    let reads = -1;
    for (let i = 0; i < 3 && reads !== 0; i++) {
      await fsp.readFile(join(mp, 'big'));
      await reset();
      expect((await fsp.readFile(join(mp, 'big'))).length).toBe(16 * 2 ** 20);
      const again = await stats();
      expect(again.ops.open).toBe(1);
      reads = again.ops.read ?? 0;
    }
    expect(reads).toBe(0);
  });

  it('ls -l of a directory is answered by readdirplus: no lookup or getattr per entry', async () => {
    await reset();
    const { stdout } = await run('ls', ['-l', join(mp, 'many')]);
    expect(stdout.split('\n').filter((l) => / m\d{4}$/.test(l))).toHaveLength(200);
    const s = await stats();
    expect(s.ops.readdirplus).toBeGreaterThanOrEqual(1);
    const manyIno = (await fsp.stat(join(mp, 'many'))).ino;
    expect(s.lookupsByParent[String(manyIno)] ?? 0).toBe(0);
    expect(s.ops.getattr ?? 0).toBeLessThanOrEqual(1); // at most the directory itself
  });

  it('caller uid, gid and supplementary groups reach JavaScript; new files belong to the caller', async () => {
    const shared = join(mp, 'shared');
    await fsp.mkdir(shared, { mode: 0o777 });
    await fsp.chmod(shared, 0o777);
    await reset();
    const as1000 = ['--reuid=1000', '--regid=1000', '--groups=1000,4242,4343'];
    await run('setpriv', [...as1000, 'touch', join(shared, 'by-1000')]);
    await expect(run('setpriv', [...as1000, 'stat', join(shared, 'not-there')])).rejects.toThrow(/No such file/);
    const s = await stats();
    const create = s.creates.find((c) => c.name === 'by-1000');
    expect(create).toMatchObject({ uid: 1000, gid: 1000 });
    expect([...(create!.groups ?? [])].sort()).toEqual([1000, 4242, 4343]);
    expect(s.lastCaller.lookup).toMatchObject({ uid: 1000, gid: 1000 });
    expect([...(s.lastCaller.lookup.groups ?? [])].sort()).toEqual([1000, 4242, 4343]);
    const st = await fsp.stat(join(shared, 'by-1000'));
    expect([st.uid, st.gid]).toEqual([1000, 1000]);
    // default_permissions: the kernel refuses uid 1000 in a root-only directory.
    await fsp.mkdir(join(mp, 'private'), { mode: 0o755 });
    await expect(run('setpriv', [...as1000, 'touch', join(mp, 'private', 'x')])).rejects.toThrow(/Permission denied/);
  });

  it('a request JavaScript never answers comes back EIO at its deadline; the late answer is dropped', async () => {
    await expect(fsp.stat(join(mp, 'hang-1'))).rejects.toMatchObject({ code: 'EIO' });
    // The filesystem keeps serving, and the handler's late answer (after 2x the deadline) is ignored.
    await new Promise((r) => setTimeout(r, DEADLINE_MS * 2 + 300));
    expect((await stats()).lateReplies).toBeGreaterThanOrEqual(1);
    expect((await fsp.stat(join(mp, 'big'))).size).toBe(16 * 2 ** 20);
  });

  it('setattr: truncate, lone atime/mtime updates (UTIME_OMIT), UTIME_NOW, chmod', async () => {
    const f = join(mp, 'times');
    await fsp.writeFile(f, '');
    await run('touch', ['-d', '2001-02-03 04:05:06.123456789 UTC', f]);
    expect((await run('stat', ['-c', '%.9X %.9Y', f])).stdout.trim()).toBe('981173106.123456789 981173106.123456789');
    // readdirplus refreshes the kernel's cached attributes from the JS-encoded entries: same times.
    await run('ls', ['-l', mp]);
    expect((await run('stat', ['-c', '%.9X %.9Y %s %a', f])).stdout.trim()).toBe('981173106.123456789 981173106.123456789 0 644');
    await run('touch', ['-m', '-d', '2002-01-01 00:00:00 UTC', f]); // mtime only: atime omitted
    expect((await run('stat', ['-c', '%X %Y', f])).stdout.trim()).toBe('981173106 1009843200');
    const before = Date.now() / 1000 - 5;
    await run('touch', ['-a', f]); // atime now, mtime omitted
    const [atime, mtime] = (await run('stat', ['-c', '%X %Y', f])).stdout.trim().split(' ').map(Number);
    expect(atime).toBeGreaterThan(before);
    expect(mtime).toBe(1009843200);
    await run('truncate', ['-s', String(3 * 2 ** 40), f]);
    expect((await fsp.stat(f)).size).toBe(3 * 2 ** 40);
    await fsp.chmod(f, 0o600);
    expect((await fsp.stat(f)).mode & 0o777).toBe(0o600);
  });

  it('names, symlinks, renames, xattrs; an op without a handler answers ENOSYS', async () => {
    const d = join(mp, 'd1');
    await fsp.mkdir(d);
    await fsp.writeFile(join(d, 'a'), 'hello');
    await fsp.symlink('a', join(d, 'sym'));
    expect(await fsp.readlink(join(d, 'sym'))).toBe('a');
    await fsp.rename(join(d, 'a'), join(d, 'b'));
    expect((await fsp.readdir(d)).sort()).toEqual(['b', 'sym']);
    await run('setfattr', ['-n', 'user.big', '-v', 'v'.repeat(3000), join(d, 'b')]);
    expect((await run('getfattr', ['--only-values', '-n', 'user.big', join(d, 'b')])).stdout).toBe('v'.repeat(3000));
    expect((await run('getfattr', ['-d', join(d, 'b')])).stdout).toMatch(/user\.big=/);
    await fsp.unlink(join(d, 'sym'));
    await fsp.unlink(join(d, 'b'));
    await fsp.rmdir(d);
    // (link would show EPERM: the kernel turns a link ENOSYS into EPERM itself)
    await expect(run('mkfifo', [join(mp, 'fifo')])).rejects.toThrow(/Function not implemented/);
  });

  it('notify_inval_inode / notify_inval_entry / notify_delete make changes visible despite a 3600 s TTL', async () => {
    await fsp.mkdir(join(mp, 'nd'));
    for (const n of ['f', 'g', 'h']) await fsp.writeFile(join(mp, 'nd', n), '');
    expect((await fsp.stat(join(mp, 'nd', 'f'))).size).toBe(0);
    // Changed behind the kernel's back: the cached attributes win until invalidated.
    await ctl('resize', 'nd/f 4096');
    expect((await fsp.stat(join(mp, 'nd', 'f'))).size).toBe(0);
    await ctl('inval-inode', 'nd/f');
    expect((await fsp.stat(join(mp, 'nd', 'f'))).size).toBe(4096);
    // A name removed behind the kernel's back stays visible until its entry is invalidated.
    await ctl('hide', 'nd/g');
    await fsp.stat(join(mp, 'nd', 'g'));
    await ctl('inval-entry', 'nd/g');
    await expect(fsp.stat(join(mp, 'nd', 'g'))).rejects.toMatchObject({ code: 'ENOENT' });
    // notify_delete removes the name from the kernel's cache in one step.
    await fsp.stat(join(mp, 'nd', 'h'));
    await ctl('delete', 'nd/h');
    await expect(fsp.stat(join(mp, 'nd', 'h'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('SIGTERM unmounts cleanly: exit 0, nothing left in /proc/mounts', async () => {
    await m.stop();
    expect(await m.exited).toBe(0);
    expect(await findFuseMount(mp)).toBeUndefined();
    expect(await fsp.readFile('/proc/mounts', 'utf8')).not.toContain(` ${mp} `);
  });
});

describe('low-level FUSE layer with writebackCache (real mount in a child process)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let m: StartedMount;
  let mp: string;

  beforeAll(async () => {
    await ensureBuilt([ENTRY]);
    dir = await tempDir('flexfs-llwb-');
    mp = join(dir.path, 'mnt');
    m = await startMount({ args: [ENTRY, mp, '--ttl', '3600', '--writeback'], mountpoint: mp });
  });

  afterAll(async () => {
    await m?.stop();
    await dir?.cleanup();
  });

  it('4 KiB writes reach JavaScript merged into large requests', async () => {
    await run('dd', ['if=/dev/zero', `of=${join(mp, 'wb')}`, 'bs=4k', 'count=1024', 'conv=fsync']);
    const s = JSON.parse((await run('getfattr', ['--only-values', '-n', 'user.llmemfs.stats', mp])).stdout) as LlMemFsStats;
    expect(s.maxWrite).toBeGreaterThanOrEqual(64 * 1024);
    expect(s.ops.write).toBeLessThan(1024 / 4);
    expect((await fsp.stat(join(mp, 'wb'))).size).toBe(4 * 2 ** 20);
  });
});
