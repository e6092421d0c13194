import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as C } from 'node:fs';
import { makeVolume, ROOT, ALICE, BOB, type TestVolume } from './volume.js';
import type { FlexFileSystem } from '../../src/vfs/index.js';
import { XATTR_CREATE, XATTR_REPLACE } from '../../src/meta/types.js';

const errno = (code: string) => expect.objectContaining({ code });

describe('VFS semantics (real sqlite engine + file store + codec)', () => {
  let vol: TestVolume;
  let fs: FlexFileSystem;

  beforeAll(async () => {
    vol = await makeVolume({ blockSize: 256 * 1024 });
    fs = await vol.mount();
    await fs.chmod('/', 0o777, ROOT);
  });
  afterAll(async () => {
    await vol?.cleanup();
  });

  async function put(path: string, text: string, caller = ROOT, mode = 0o644): Promise<void> {
    const fh = await fs.create(path, mode, C.O_WRONLY | C.O_CREAT, caller);
    await fs.write(path, fh, Buffer.from(text), Buffer.byteLength(text), 0, caller);
    await fs.release(path, fh, caller);
  }
  async function cat(f: FlexFileSystem, path: string, caller = ROOT): Promise<string> {
    const fh = await f.open(path, C.O_RDONLY, caller);
    const buf = Buffer.alloc(1 << 16);
    const n = await f.read(path, fh, buf, buf.length, 0, caller);
    await f.release(path, fh, caller);
    return buf.subarray(0, n).toString();
  }

  it('getattr: root, missing names, non-directories in the middle, long names', async () => {
    const root = await fs.getattr('/', ROOT);
    expect(root.type).toBe('dir');
    expect(root.ino).toBe(1);
    await expect(fs.getattr('/nope', ROOT)).rejects.toEqual(errno('ENOENT'));
    await put('/plain', 'x');
    await expect(fs.getattr('/plain/child', ROOT)).rejects.toEqual(errno('ENOTDIR'));
    await expect(fs.getattr('/' + 'n'.repeat(256), ROOT)).rejects.toEqual(errno('ENAMETOOLONG'));
  });

  it('mkdir, readdir with attributes, rmdir and their errnos', async () => {
    await fs.mkdir('/d', 0o755, ROOT);
    await expect(fs.mkdir('/d', 0o755, ROOT)).rejects.toEqual(errno('EEXIST'));
    await put('/d/a', 'aa');
    await fs.mkdir('/d/sub', 0o700, ROOT);
    const list = await fs.readdir('/d', ROOT);
    expect(list.map((e) => e.name)).toEqual(['a', 'sub']);
    expect(list[0].attr.size).toBe(2);
    expect(list[1].attr.type).toBe('dir');
    expect((await fs.getattr('/d/sub', ROOT)).mode & 0o7777).toBe(0o700);
    await expect(fs.rmdir('/d', ROOT)).rejects.toEqual(errno('ENOTEMPTY'));
    await expect(fs.rmdir('/d/a', ROOT)).rejects.toEqual(errno('ENOTDIR'));
    await expect(fs.rmdir('/d/none', ROOT)).rejects.toEqual(errno('ENOENT'));
    await expect(fs.opendir('/d/a', 0, ROOT)).rejects.toEqual(errno('ENOTDIR'));
    await expect(fs.readdir('/d/a', ROOT)).rejects.toEqual(errno('ENOTDIR'));
    const dh = await fs.opendir('/d', 0, ROOT);
    await fs.fsyncdir('/d', dh, false, ROOT);
    await fs.releasedir('/d', dh, ROOT);
    await expect(fs.releasedir('/d', dh, ROOT)).rejects.toEqual(errno('EBADF'));
    await fs.rmdir('/d/sub', ROOT);
    await fs.unlink('/d/a', ROOT);
    await fs.rmdir('/d', ROOT);
    await expect(fs.getattr('/d', ROOT)).rejects.toEqual(errno('ENOENT'));
  });

  it('create / open: O_EXCL, O_CREAT on an existing file, EISDIR, O_TRUNC, O_APPEND, access modes, bad handles', async () => {
    await put('/c', 'hello');
    await expect(fs.create('/c', 0o644, C.O_WRONLY | C.O_CREAT | C.O_EXCL, ROOT)).rejects.toEqual(errno('EEXIST'));
    const again = await fs.create('/c', 0o644, C.O_RDWR | C.O_CREAT, ROOT);
    await fs.release('/c', again, ROOT);
    expect(await cat(fs, '/c')).toBe('hello');
    await fs.mkdir('/dir', 0o755, ROOT);
    await expect(fs.open('/dir', C.O_WRONLY, ROOT)).rejects.toEqual(errno('EISDIR'));

    const ap = await fs.open('/c', C.O_WRONLY | C.O_APPEND, ROOT);
    await fs.write('/c', ap, Buffer.from(' world'), 6, 0, ROOT); // offset ignored with O_APPEND
    await expect(fs.read('/c', ap, Buffer.alloc(4), 4, 0, ROOT)).rejects.toEqual(errno('EBADF'));
    await fs.release('/c', ap, ROOT);
    expect(await cat(fs, '/c')).toBe('hello world');

    const ro = await fs.open('/c', C.O_RDONLY, ROOT);
    await expect(fs.write('/c', ro, Buffer.from('x'), 1, 0, ROOT)).rejects.toEqual(errno('EBADF'));
    await expect(fs.ftruncate('/c', ro, 0, ROOT)).rejects.toEqual(errno('EINVAL'));
    await fs.release('/c', ro, ROOT);
    await expect(fs.read('/c', 99999, Buffer.alloc(1), 1, 0, ROOT)).rejects.toEqual(errno('EBADF'));

    const tr = await fs.open('/c', C.O_WRONLY | C.O_TRUNC, ROOT);
    expect((await fs.fgetattr('/c', tr, ROOT)).size).toBe(0);
    await fs.release('/c', tr, ROOT);
    expect(await cat(fs, '/c')).toBe('');
  });

  it('two handles on one file see each other\'s writes before any flush; read past EOF is 0', async () => {
    await put('/shared', '');
    const w = await fs.open('/shared', C.O_WRONLY, ROOT);
    const r = await fs.open('/shared', C.O_RDONLY, ROOT);
    await fs.write('/shared', w, Buffer.from('abcdef'), 6, 0, ROOT);
    const buf = Buffer.alloc(10);
    expect(await fs.read('/shared', r, buf, 10, 0, ROOT)).toBe(6);
    expect(buf.subarray(0, 6).toString()).toBe('abcdef');
    expect(await fs.read('/shared', r, buf, 10, 6, ROOT)).toBe(0);
    expect(await fs.read('/shared', r, buf, 10, 1000, ROOT)).toBe(0);
    expect((await fs.getattr('/shared', ROOT)).size).toBe(6);
    await fs.release('/shared', w, ROOT);
    await fs.release('/shared', r, ROOT);
  });

  it('fsync makes data visible and durable for another client before close', async () => {
    const other = await vol.mount();
    const fh = await fs.create('/synced', 0o644, C.O_RDWR | C.O_CREAT, ROOT);
    await fs.write('/synced', fh, Buffer.from('durable'), 7, 0, ROOT);
    await fs.fsync('/synced', fh, false, ROOT);
    expect(await cat(other, '/synced')).toBe('durable');
    await fs.write('/synced', fh, Buffer.from('!'), 1, 7, ROOT);
    await fs.flush('/synced', fh, ROOT);
    expect(await cat(other, '/synced')).toBe('durable!');
    await fs.release('/synced', fh, ROOT);
  });

  it('unlink while open: the handle keeps reading and writing; the name is gone', async () => {
    await put('/tmpfile', 'still here');
    const fh = await fs.open('/tmpfile', C.O_RDWR, ROOT);
    await fs.unlink('/tmpfile', ROOT);
    await expect(fs.getattr('/tmpfile', ROOT)).rejects.toEqual(errno('ENOENT'));
    await fs.write('/tmpfile', fh, Buffer.from('STILL'), 5, 0, ROOT);
    await fs.flush('/tmpfile', fh, ROOT);
    const buf = Buffer.alloc(32);
    const n = await fs.read('/tmpfile', fh, buf, 32, 0, ROOT);
    expect(buf.subarray(0, n).toString()).toBe('STILL here');
    expect((await fs.fgetattr('/tmpfile', fh, ROOT)).nlink).toBe(0);
    await fs.release('/tmpfile', fh, ROOT);
    await expect(fs.unlink('/tmpfile', ROOT)).rejects.toEqual(errno('ENOENT'));
    await fs.mkdir('/adir', 0o755, ROOT);
    await expect(fs.unlink('/adir', ROOT)).rejects.toEqual(errno('EISDIR'));
  });

  it('rename: move, replace, into own subtree, caches follow', async () => {
    await fs.mkdir('/r', 0o755, ROOT);
    await fs.mkdir('/r/x', 0o755, ROOT);
    await put('/r/x/f', 'one');
    await put('/r/g', 'two');
    expect((await fs.getattr('/r/x/f', ROOT)).size).toBe(3); // warm the caches
    await fs.rename('/r/x', '/r/y', ROOT);
    await expect(fs.getattr('/r/x/f', ROOT)).rejects.toEqual(errno('ENOENT'));
    expect(await cat(fs, '/r/y/f')).toBe('one');
    await fs.rename('/r/g', '/r/y/f', ROOT); // replaces
    expect(await cat(fs, '/r/y/f')).toBe('two');
    await expect(fs.getattr('/r/g', ROOT)).rejects.toEqual(errno('ENOENT'));
    await expect(fs.rename('/r/y', '/r/y/inside', ROOT)).rejects.toEqual(errno('EINVAL'));
    await expect(fs.rename('/r/missing', '/r/z', ROOT)).rejects.toEqual(errno('ENOENT'));
    await fs.mkdir('/r/full', 0o755, ROOT);
    await put('/r/full/k', 'k');
    await expect(fs.rename('/r/y', '/r/full', ROOT)).rejects.toEqual(errno('ENOTEMPTY'));
  });

  it('link, symlink, readlink, mknod FIFO', async () => {
    await put('/l1', 'linked');
    await fs.link('/l1', '/l2', ROOT);
    expect((await fs.getattr('/l1', ROOT)).nlink).toBe(2);
    expect(await cat(fs, '/l2')).toBe('linked');
    await fs.unlink('/l1', ROOT);
    expect((await fs.getattr('/l2', ROOT)).nlink).toBe(1);
    await expect(fs.link('/', '/rootlink', ROOT)).rejects.toEqual(errno('EPERM'));
    await expect(fs.link('/l2', '/l2', ROOT)).rejects.toEqual(errno('EEXIST'));

    await fs.symlink('../some/where', '/sl', ROOT);
    const sl = await fs.getattr('/sl', ROOT);
    expect(sl.type).toBe('symlink');
    expect(sl.size).toBe('../some/where'.length);
    expect(await fs.readlink('/sl', ROOT)).toBe('../some/where');
    await expect(fs.readlink('/l2', ROOT)).rejects.toEqual(errno('EINVAL'));

    await fs.mknod('/fifo', C.S_IFIFO | 0o644, 0, ROOT);
    const fifo = await fs.getattr('/fifo', ROOT);
    expect(fifo.type).toBe('fifo');
    expect(fifo.mode & C.S_IFMT).toBe(C.S_IFIFO);
  });

  it('truncate by path: shrink, sparse grow, on a directory', async () => {
    await put('/t', '0123456789');
    await fs.truncate('/t', 4, ROOT);
    expect(await cat(fs, '/t')).toBe('0123');
    await fs.truncate('/t', 8, ROOT);
    expect(await cat(fs, '/t')).toBe('0123\0\0\0\0');
    await fs.mkdir('/tdir', 0o755, ROOT);
    await expect(fs.truncate('/tdir', 0, ROOT)).rejects.toEqual(errno('EISDIR'));
  });

  it('chmod / chown rules and setuid clearing', async () => {
    await put('/own', 'x', ALICE);
    expect((await fs.getattr('/own', ROOT)).uid).toBe(ALICE.uid);
    await expect(fs.chmod('/own', 0o777, BOB)).rejects.toEqual(errno('EPERM'));
    await fs.chmod('/own', 0o4755, ALICE);
    expect((await fs.getattr('/own', ROOT)).mode & 0o7777).toBe(0o4755);
    await expect(fs.chown('/own', BOB.uid, -1, ALICE)).rejects.toEqual(errno('EPERM'));
    await expect(fs.chown('/own', -1, 4242, ALICE)).rejects.toEqual(errno('EPERM'));
    await expect(fs.chown('/own', -1, ALICE.gid, BOB)).rejects.toEqual(errno('EPERM'));
    await fs.chown('/own', BOB.uid, BOB.gid, ROOT);
    const after = await fs.getattr('/own', ROOT);
    expect([after.uid, after.gid]).toEqual([BOB.uid, BOB.gid]);
    expect(after.mode & 0o4000).toBe(0); // chown cleared setuid
    // A write by a non-root caller clears setuid as well.
    await fs.chmod('/own', 0o4777, ROOT);
    const fh = await fs.open('/own', C.O_WRONLY, ALICE);
    await fs.write('/own', fh, Buffer.from('y'), 1, 0, ALICE);
    await fs.release('/own', fh, ALICE);
    expect((await fs.getattr('/own', ROOT)).mode & 0o7777).toBe(0o777);
    // An unprivileged owner outside the file's group cannot set setgid.
    await fs.chown('/own', ALICE.uid, BOB.gid, ROOT);
    await fs.chmod('/own', 0o2755, ALICE);
    expect((await fs.getattr('/own', ROOT)).mode & 0o7777).toBe(0o755);
  });

  it('utimens: explicit times, UTIME_NOW, UTIME_OMIT, permission rules', async () => {
    await put('/times', 'x', ALICE, 0o666);
    const t1 = 1_600_000_000_123_456_789n;
    const t2 = 1_500_000_000_000_000_001n;
    await fs.utimens('/times', t1, t2, ALICE);
    let a = await fs.getattr('/times', ROOT);
    expect([a.atime, a.mtime]).toEqual([t1, t2]);
    await fs.utimens('/times', undefined, 'now', ALICE); // atime omitted
    a = await fs.getattr('/times', ROOT);
    expect(a.atime).toBe(t1);
    expect(a.mtime).toBeGreaterThan(t2);
    await expect(fs.utimens('/times', t1, t1, BOB)).rejects.toEqual(errno('EPERM'));
    await fs.utimens('/times', 'now', 'now', BOB); // allowed: BOB may write (0666)
    // "now" with the other time omitted is an explicit change (Linux, touch -a / -m): owner only.
    await expect(fs.utimens('/times', undefined, 'now', BOB)).rejects.toEqual(errno('EPERM'));
    await expect(fs.utimens('/times', 'now', undefined, BOB)).rejects.toEqual(errno('EPERM'));
    await fs.chmod('/times', 0o644, ALICE);
    await expect(fs.utimens('/times', 'now', 'now', BOB)).rejects.toEqual(errno('EACCES'));
    // Pending writes do not overwrite an mtime set afterwards (cp -p).
    const fh = await fs.open('/times', C.O_WRONLY, ALICE);
    await fs.write('/times', fh, Buffer.from('zz'), 2, 0, ALICE);
    await fs.utimens('/times', t1, t2, ALICE);
    await fs.release('/times', fh, ALICE);
    expect((await fs.getattr('/times', ROOT)).mtime).toBe(t2);
  });

  it('access and permission checks for non-root callers', async () => {
    await put('/secret', 's', ROOT, 0o600);
    await put('/public', 'p', ROOT, 0o644);
    await expect(fs.access('/secret', C.R_OK, ALICE)).rejects.toEqual(errno('EACCES'));
    await fs.access('/public', C.R_OK, ALICE);
    await expect(fs.access('/public', C.W_OK, ALICE)).rejects.toEqual(errno('EACCES'));
    await fs.access('/public', C.F_OK, ALICE);
    await fs.access('/secret', C.R_OK | C.W_OK, ROOT);
    await expect(fs.access('/public', C.X_OK, ROOT)).rejects.toEqual(errno('EACCES'));
    await expect(fs.open('/secret', C.O_RDONLY, ALICE)).rejects.toEqual(errno('EACCES'));
    await fs.mkdir('/locked', 0o755, ROOT);
    await expect(fs.create('/locked/f', 0o644, C.O_CREAT | C.O_WRONLY, ALICE)).rejects.toEqual(errno('EACCES'));
    await expect(fs.mkdir('/locked/d', 0o755, ALICE)).rejects.toEqual(errno('EACCES'));
    await fs.mkdir('/nosearch', 0o700, ROOT);
    await put('/nosearch/f', 'f', ROOT, 0o644);
    await expect(fs.getattr('/nosearch/f', ALICE)).rejects.toEqual(errno('EACCES'));
    // Group class via the caller's primary gid.
    await put('/grp', 'g', ROOT, 0o640);
    await fs.chown('/grp', -1, ALICE.gid, ROOT);
    await fs.access('/grp', C.R_OK, ALICE);
    await expect(fs.access('/grp', C.R_OK, BOB)).rejects.toEqual(errno('EACCES'));
  });

  it('xattrs: set/get/list/remove, create/replace flags, missing names', async () => {
    await put('/xa', 'x');
    await fs.setxattr('/xa', 'user.color', Buffer.from('blue'), 0, ROOT);
    expect((await fs.getxattr('/xa', 'user.color', ROOT)).toString()).toBe('blue');
    expect(await fs.listxattr('/xa', ROOT)).toContain('user.color');
    await expect(fs.setxattr('/xa', 'user.color', Buffer.from('red'), XATTR_CREATE, ROOT)).rejects.toEqual(errno('EEXIST'));
    await expect(fs.setxattr('/xa', 'user.none', Buffer.from('red'), XATTR_REPLACE, ROOT)).rejects.toEqual(errno('ENODATA'));
    await expect(fs.getxattr('/xa', 'user.none', ROOT)).rejects.toEqual(errno('ENODATA'));
    await fs.removexattr('/xa', 'user.color', ROOT);
    await expect(fs.getxattr('/xa', 'user.color', ROOT)).rejects.toEqual(errno('ENODATA'));
    await expect(fs.removexattr('/xa', 'user.color', ROOT)).rejects.toEqual(errno('ENODATA'));
    await expect(fs.setxattr('/xa', 'trusted.x', Buffer.from('1'), 0, ALICE)).rejects.toEqual(errno('EPERM'));
  });

  it('statfs reports the volume block size', async () => {
    const st = await fs.statfs('/', ROOT);
    expect(st.blockSize).toBe(256 * 1024);
    expect(st.inodes).toBeGreaterThan(0);
  });

  it('atime: relatime by default, untouched with noAtime', async () => {
    await put('/at', 'x');
    await fs.utimens('/at', 1_000_000_000n, 2_000_000_000n, ROOT); // atime older than mtime
    const noat = await vol.mount({ noAtime: true, attrTtlMs: 0 });
    await cat(noat, '/at');
    expect((await vol.meta.getattr((await fs.getattr('/at', ROOT)).ino, ROOT)).atime).toBe(1_000_000_000n);
    await cat(fs, '/at');
    const ino = (await fs.getattr('/at', ROOT)).ino;
    await expect.poll(async () => (await vol.meta.getattr(ino, ROOT)).atime, { timeout: 5000 }).toBeGreaterThan(2_000_000_000n);
  });

  it('atime: bumped by the first read of a handle, not by the open (as ext4); ctime stays', async () => {
    await put('/at2', 'x');
    await fs.utimens('/at2', 1_000_000_000n, 2_000_000_000n, ROOT);
    const ino = (await fs.getattr('/at2', ROOT)).ino;
    const before = await vol.meta.getattr(ino, ROOT);
    const fh = await fs.open('/at2', C.O_RDONLY, ROOT);
    await expect(fs.ftruncate('/at2', fh, 0, ROOT)).rejects.toEqual(errno('EINVAL'));
    await fs.release('/at2', fh, ROOT); // a metadata call after any the open started
    expect(await vol.meta.getattr(ino, ROOT)).toEqual(before);
    expect(await cat(fs, '/at2')).toBe('x');
    await expect.poll(async () => (await vol.meta.getattr(ino, ROOT)).atime, { timeout: 5000 }).toBeGreaterThan(2_000_000_000n);
    const after = await vol.meta.getattr(ino, ROOT);
    expect([after.ctime, after.mtime]).toEqual([before.ctime, before.mtime]);
  });

  it('security.capability: a known absence costs no metadata call; this mount\'s set/remove keep it true', async () => {
    // Counting pass-through around the real MetaStore.
    const calls: Record<string, number> = {};
    const meta = new Proxy(vol.meta, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          // ACL look-ups (system.posix_acl_*, fetched for permission checks) are not counted.
          if (!(prop === 'getxattr' && String(args[1]).startsWith('system.posix_acl_'))) calls[String(prop)] = (calls[String(prop)] ?? 0) + 1;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const cfs = await vol.mount({ meta });
    await put('/cap', 'x');
    const cap = 'security.capability';
    await expect(cfs.getxattr('/cap', cap, ROOT)).rejects.toEqual(errno('ENODATA'));
    expect(calls.getxattr).toBe(1);
    for (let i = 0; i < 5; i++) await expect(cfs.getxattr('/cap', cap, ALICE)).rejects.toEqual(errno('ENODATA'));
    expect(calls.getxattr).toBe(1);
    // Other names are not cached.
    await expect(cfs.getxattr('/cap', 'user.none', ROOT)).rejects.toEqual(errno('ENODATA'));
    await expect(cfs.getxattr('/cap', 'user.none', ROOT)).rejects.toEqual(errno('ENODATA'));
    expect(calls.getxattr).toBe(3);
    // A set on this mount is seen at once, and so is its removal.
    const value = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    await cfs.setxattr('/cap', cap, value, 0, ROOT);
    expect((await cfs.getxattr('/cap', cap, ROOT)).equals(value)).toBe(true);
    await cfs.removexattr('/cap', cap, ROOT);
    await expect(cfs.getxattr('/cap', cap, ROOT)).rejects.toEqual(errno('ENODATA'));
    const before = calls.getxattr;
    await expect(cfs.getxattr('/cap', cap, ROOT)).rejects.toEqual(errno('ENODATA'));
    expect(calls.getxattr).toBe(before);
    // A set that fails (XATTR_REPLACE of a missing name) leaves nothing stale either.
    await expect(cfs.setxattr('/cap', cap, value, XATTR_REPLACE, ROOT)).rejects.toEqual(errno('ENODATA'));
    await cfs.setxattr('/cap', cap, value, XATTR_CREATE, ROOT);
    expect((await cfs.getxattr('/cap', cap, ROOT)).equals(value)).toBe(true);
  });

  it('readOnly: every mutation is EROFS, reads work', async () => {
    await put('/ro', 'readable');
    const ro = await vol.mount({ readOnly: true });
    expect(await cat(ro, '/ro')).toBe('readable');
    const rofs = (p: Promise<unknown>) => expect(p).rejects.toEqual(errno('EROFS'));
    await rofs(ro.mkdir('/x', 0o755, ROOT));
    await rofs(ro.create('/x', 0o644, C.O_CREAT | C.O_WRONLY, ROOT));
    await rofs(ro.open('/ro', C.O_WRONLY, ROOT));
    await rofs(ro.open('/ro', C.O_RDONLY | C.O_TRUNC, ROOT));
    await rofs(ro.unlink('/ro', ROOT));
    await rofs(ro.rename('/ro', '/ro2', ROOT));
    await rofs(ro.truncate('/ro', 0, ROOT));
    await rofs(ro.chmod('/ro', 0o600, ROOT));
    await rofs(ro.chown('/ro', 1, 1, ROOT));
    await rofs(ro.utimens('/ro', 'now', 'now', ROOT));
    await rofs(ro.setxattr('/ro', 'user.a', Buffer.from('1'), 0, ROOT));
    await rofs(ro.removexattr('/ro', 'user.a', ROOT));
    await rofs(ro.symlink('/a', '/b', ROOT));
    await rofs(ro.link('/ro', '/b', ROOT));
    await rofs(ro.mknod('/b', C.S_IFIFO | 0o644, 0, ROOT));
    await rofs(ro.access('/ro', C.W_OK, ROOT));
  });

  it('destroy() flushes dirty data of files still open', async () => {
    const tmp = await vol.mount();
    const fh = await tmp.create('/late', 0o644, C.O_WRONLY | C.O_CREAT, ROOT);
    await tmp.write('/late', fh, Buffer.from('flushed at destroy'), 18, 0, ROOT);
    await tmp.destroy();
    expect(await cat(fs, '/late')).toBe('flushed at destroy');
  });
});
