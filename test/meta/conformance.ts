import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants } from 'node:fs';
import { isFsError } from '../../src/errors/index.js';
import { hasRecordAccess, type MetaEngine } from '../../src/meta/engine.js';
import { isWithin, parentsOf } from '../../src/meta/core/ancestry.js';
import type { MetaTx } from '../../src/meta/core/tx.js';
import { ROOT_INO, XATTR_CREATE, XATTR_REPLACE, type Attr, type MetaStore, type OpContext } from '../../src/meta/types.js';

/**
 * The MetaStore conformance suite: every operation and errno of the interface. Runs against the
 * sqlite and redis engines and against RemoteMetaStore over a live meta.flexfs. Uses only the
 * MetaStore interface (and, when given, the MetaEngine for gc-queue and namespace checks).
 * Each test works in its own fresh directory, so the suite shares one volume.
 */
export interface ConformanceSetup {
  store: MetaStore;
  engine?: MetaEngine;
  /** 'stored': readdir lists in the order of the stored names (encrypted names), not by name. */
  readdirOrder?: 'name' | 'stored';
  cleanup(): Promise<void>;
}

const ROOT: OpContext = { uid: 0, gid: 0 };
const USER: OpContext = { uid: 1000, gid: 1000 };
const OTHER: OpContext = { uid: 1001, gid: 1001 };
const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK } = constants;

async function expectErrno(p: Promise<unknown>, code: string): Promise<void> {
  let err: unknown;
  try { await p; } catch (e) { err = e; }
  expect(err, `expected ${code}`).toBeDefined();
  expect(isFsError(err) ? err.code : String((err as { code?: string }).code ?? err)).toBe(code);
}

function nowNs(): bigint { return BigInt(Date.now()) * 1_000_000n; }
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

export function runMetaStoreConformance(label: string, setup: () => Promise<ConformanceSetup>): void {
  describe(`MetaStore conformance: ${label}`, () => {
    let s: ConformanceSetup;
    let m: MetaStore;
    let seq = 0;
    /** A fresh directory (mode 0777) for one test. */
    const fresh = async (mode = 0o777): Promise<number> => (await m.mkdir(ROOT_INO, `t${process.pid}-${Date.now()}-${seq++}`, mode, ROOT)).ino;
    const ino = async (parent: number, name: string) => (await m.lookup(parent, name, ROOT)).ino;
    const gone = async (i: number) => expectErrno(m.getattr(i, ROOT), 'ENOENT');
    const gcIds = async (): Promise<number[]> => {
      if (!s.engine) return [];
      const vol = (await m.settings()).id;
      return (await s.engine.gcQueue(vol, Date.now() + 60_000, 100_000)).map((g) => g.blockId);
    };

    /** Run fn over the volume's records (engines with record access only; else null). */
    const records = async <T>(fn: (tx: MetaTx) => Promise<T>, readOnly = true): Promise<T | null> => {
      if (!s.engine || !hasRecordAccess(s.engine)) return null;
      return s.engine.transactRecords((await m.settings()).id, fn, readOnly);
    };
    const parents = (i: number) => records(async (tx) => (await parentsOf(tx, i)).sort((a, b) => a - b));
    const linkParents = (i: number) => records((tx) => tx.getLinkParents(i));
    const primary = (i: number) => records(async (tx) => (await tx.getInode(i))?.parent);
    const within = (i: number, dir: number) => records((tx) => isWithin(tx, i, dir));
    const recordAccess = () => !!s.engine && hasRecordAccess(s.engine);
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

    /** A listing as the suite compares it: as is, or sorted by name where the store lists in stored order. */
    const listed = (names: string[]) => (s.readdirOrder === 'stored' ? [...names].sort(byBytes) : names);

    beforeAll(async () => { s = await setup(); m = s.store; });
    afterAll(async () => { await s?.cleanup(); });

    it('has a root directory and volume settings', async () => {
      const root = await m.getattr(ROOT_INO, ROOT);
      expect(root.type).toBe('dir');
      expect(root.mode & S_IFMT).toBe(S_IFDIR);
      expect(root.nlink).toBeGreaterThanOrEqual(2);
      expect((await m.lookup(ROOT_INO, '.', ROOT)).ino).toBe(ROOT_INO);
      const st = await m.settings();
      expect(st.blockSize).toBeGreaterThanOrEqual(256 * 1024);
      expect(typeof st.id).toBe('string');
      await expectErrno(m.getattr(987654321, ROOT), 'ENOENT');
    });

    it('create, lookup, getattr: owner, mode, times, parent times', async () => {
      const d = await fresh();
      const before = await m.getattr(d, ROOT);
      await new Promise((r) => setTimeout(r, 2));
      const t0 = nowNs() - 1_000_000n;
      const a = await m.create(d, 'f', 0o640, USER);
      expect(a.type).toBe('file');
      expect(a.mode).toBe(S_IFREG | 0o640);
      expect([a.uid, a.gid, a.nlink, a.size, a.rdev]).toEqual([1000, 1000, 1, 0, 0]);
      expect(typeof a.mtime).toBe('bigint');
      expect(a.mtime >= t0 && a.mtime <= nowNs() + 1_000_000n).toBe(true);
      expect(a.ctime).toBe(a.mtime);
      expect(await m.lookup(d, 'f', ROOT)).toEqual(a);
      expect(await m.getattr(a.ino, ROOT)).toEqual(a);
      const after = await m.getattr(d, ROOT);
      expect(after.mtime > before.mtime).toBe(true);
      expect(after.ctime > before.ctime).toBe(true);
      expect(after.nlink).toBe(before.nlink);
      await expectErrno(m.create(d, 'f', 0o644, USER), 'EEXIST');
      await expectErrno(m.lookup(d, 'nope', ROOT), 'ENOENT');
      await expectErrno(m.create(a.ino, 'x', 0o644, USER), 'ENOTDIR');
      await expectErrno(m.lookup(a.ino, 'x', ROOT), 'ENOTDIR');
      await expectErrno(m.create(987654321, 'x', 0o644, USER), 'ENOENT');
    });

    it('rejects bad names: EINVAL, ENAMETOOLONG', async () => {
      const d = await fresh();
      for (const bad of ['', '.', '..', 'a/b', 'a\0b']) {
        await expectErrno(m.create(d, bad, 0o644, USER), 'EINVAL');
        await expectErrno(m.mkdir(d, bad, 0o755, USER), 'EINVAL');
      }
      await expectErrno(m.create(d, 'x'.repeat(256), 0o644, USER), 'ENAMETOOLONG');
      await expectErrno(m.create(d, 'é'.repeat(128), 0o644, USER), 'ENAMETOOLONG'); // 256 bytes in UTF-8
      await expectErrno(m.lookup(d, 'y'.repeat(300), ROOT), 'ENAMETOOLONG');
      await expectErrno(m.rename(d, 'x', d, 'z'.repeat(256), USER), 'ENAMETOOLONG');
      const ok = await m.create(d, 'x'.repeat(255), 0o644, USER);
      expect((await m.lookup(d, 'x'.repeat(255), ROOT)).ino).toBe(ok.ino);
      const uni = await m.create(d, 'ü'.repeat(127), 0o644, USER);
      expect((await m.lookup(d, 'ü'.repeat(127), ROOT)).ino).toBe(uni.ino);
    });

    it('mkdir, rmdir: nlink accounting, "..", ENOTEMPTY, ENOTDIR, EISDIR', async () => {
      const d = await fresh();
      const sub = await m.mkdir(d, 'sub', 0o750, USER);
      expect(sub.type).toBe('dir');
      expect(sub.mode).toBe(S_IFDIR | 0o750);
      expect(sub.nlink).toBe(2);
      expect((await m.getattr(d, ROOT)).nlink).toBe(3);
      expect((await m.lookup(sub.ino, '..', ROOT)).ino).toBe(d);
      expect((await m.lookup(sub.ino, '.', ROOT)).ino).toBe(sub.ino);
      await m.mkdir(sub.ino, 'inner', 0o755, USER);
      expect((await m.getattr(sub.ino, ROOT)).nlink).toBe(3);
      await expectErrno(m.mkdir(d, 'sub', 0o755, USER), 'EEXIST');
      await expectErrno(m.rmdir(d, 'sub', USER), 'ENOTEMPTY');
      await expectErrno(m.unlink(d, 'sub', USER), 'EISDIR');
      const f = await m.create(d, 'file', 0o644, USER);
      await expectErrno(m.rmdir(d, 'file', USER), 'ENOTDIR');
      await expectErrno(m.rmdir(d, 'missing', USER), 'ENOENT');
      await expectErrno(m.rmdir(d, '.', USER), 'EINVAL');
      await expectErrno(m.mkdir(f.ino, 'x', 0o755, USER), 'ENOTDIR');
      await m.rmdir(sub.ino, 'inner', USER);
      await m.rmdir(d, 'sub', USER);
      await gone(sub.ino);
      expect((await m.getattr(d, ROOT)).nlink).toBe(2);
      await expectErrno(m.lookup(d, 'sub', ROOT), 'ENOENT');
    });

    it('mknod: regular, FIFO, char/block devices, sockets', async () => {
      const d = await fresh();
      const fifo = await m.mknod(d, 'fifo', S_IFIFO | 0o600, 0, USER);
      expect([fifo.type, fifo.mode & S_IFMT]).toEqual(['fifo', S_IFIFO]);
      const chr = await m.mknod(d, 'chr', S_IFCHR | 0o600, 0x0103, ROOT);
      expect([chr.type, chr.rdev, chr.mode]).toEqual(['chr', 0x0103, S_IFCHR | 0o600]);
      const blk = await m.mknod(d, 'blk', S_IFBLK | 0o600, 0x0801, ROOT);
      expect([blk.type, blk.rdev]).toEqual(['blk', 0x0801]);
      const sock = await m.mknod(d, 'sock', S_IFSOCK | 0o755, 0, USER);
      expect(sock.type).toBe('sock');
      const reg = await m.mknod(d, 'reg', 0o644, 0, USER);
      expect([reg.type, reg.mode]).toEqual(['file', S_IFREG | 0o644]);
      const reg2 = await m.mknod(d, 'reg2', S_IFREG | 0o600, 0, USER);
      expect(reg2.type).toBe('file');
      await expectErrno(m.mknod(d, 'dir', S_IFDIR | 0o755, 0, USER), 'EINVAL');
      await expectErrno(m.mknod(d, 'lnk', S_IFLNK | 0o777, 0, USER), 'EINVAL'); // symlinks need a target: symlink()
      await expectErrno(m.mknod(d, 'odd', S_IFMT | 0o644, 0, USER), 'EINVAL'); // no such file type
      await expectErrno(m.mknod(d, 'fifo', S_IFIFO | 0o600, 0, USER), 'EEXIST');
      expect(listed((await m.readdir(d, ROOT)).entries.map((e) => e.name))).toEqual(['blk', 'chr', 'fifo', 'reg', 'reg2', 'sock']);
    });

    it('symlink and readlink', async () => {
      const d = await fresh();
      const target = '../some/where/ünïcode';
      const l = await m.symlink(d, 'link', target, USER);
      expect(l.type).toBe('symlink');
      expect(l.mode & S_IFMT).toBe(S_IFLNK);
      expect(l.size).toBe(Buffer.byteLength(target));
      expect(l.uid).toBe(1000);
      expect(await m.readlink(l.ino, ROOT)).toBe(target);
      const f = await m.create(d, 'f', 0o644, USER);
      await expectErrno(m.readlink(f.ino, ROOT), 'EINVAL');
      await expectErrno(m.symlink(d, 'empty', '', USER), 'ENOENT');
      await expectErrno(m.symlink(d, 'link', 'x', USER), 'EEXIST');
      await expectErrno(m.symlink(d, 'long', 'a'.repeat(5000), USER), 'ENAMETOOLONG');
      await m.unlink(d, 'link', USER);
      await gone(l.ino);
    });

    it('link: nlink, ctime, EPERM on directories, EEXIST', async () => {
      const d = await fresh();
      const f = await m.create(d, 'a', 0o644, USER);
      await new Promise((r) => setTimeout(r, 2));
      const l = await m.link(f.ino, d, 'b', USER);
      expect(l.ino).toBe(f.ino);
      expect(l.nlink).toBe(2);
      expect(l.ctime > f.ctime).toBe(true);
      expect((await m.lookup(d, 'b', ROOT)).nlink).toBe(2);
      const sub = await m.mkdir(d, 'sub', 0o755, USER);
      await m.link(f.ino, sub.ino, 'c', USER);
      expect((await m.getattr(f.ino, ROOT)).nlink).toBe(3);
      await expectErrno(m.link(sub.ino, d, 'dirlink', USER), 'EPERM');
      await expectErrno(m.link(f.ino, d, 'b', USER), 'EEXIST');
      await expectErrno(m.link(987654321, d, 'x', USER), 'ENOENT');
      await expectErrno(m.link(f.ino, f.ino, 'x', USER), 'ENOTDIR');
      await m.unlink(d, 'a', USER);
      expect((await m.lookup(d, 'b', ROOT)).nlink).toBe(2);
      await m.unlink(sub.ino, 'c', USER);
      await m.unlink(d, 'b', USER);
      await gone(f.ino);
      await expectErrno(m.unlink(d, 'b', USER), 'ENOENT');
    });

    it('setattr: chmod, chown, times, truncate rules, ctime', async () => {
      const d = await fresh();
      const f = await m.create(d, 'f', 0o644, USER);
      await new Promise((r) => setTimeout(r, 2));
      const a = await m.setattr(f.ino, { mode: S_IFDIR | 0o4755 }, USER);
      expect(a.mode).toBe(S_IFREG | 0o4755); // type bits are ignored
      expect(a.ctime > f.ctime).toBe(true);
      expect(a.mtime).toBe(f.mtime);
      const b = await m.setattr(f.ino, { uid: 2000, gid: 3000 }, ROOT);
      expect([b.uid, b.gid]).toEqual([2000, 3000]);
      expect(b.mode & 0o4000).toBe(0); // chown drops setuid
      const t = 1_234_567_890_123_456_789n;
      const c = await m.setattr(f.ino, { atime: t, mtime: t + 1n }, ROOT);
      expect([c.atime, c.mtime]).toEqual([t, t + 1n]);
      expect(c.ctime > t).toBe(true);
      const n0 = nowNs() - 1_000_000_000n;
      const e = await m.setattr(f.ino, { atime: 'now', mtime: 'now' }, ROOT);
      expect(e.atime >= n0 && e.mtime >= n0).toBe(true);
      expect(await m.getattr(f.ino, ROOT)).toEqual(e);
      const sub = await m.mkdir(d, 'sub', 0o755, USER);
      await expectErrno(m.setattr(sub.ino, { size: 0 }, ROOT), 'EISDIR');
      const l = await m.symlink(d, 'l', 'f', USER);
      await expectErrno(m.setattr(l.ino, { size: 0 }, ROOT), 'EINVAL');
      await expectErrno(m.setattr(f.ino, { size: -1 }, ROOT), 'EINVAL');
      await expectErrno(m.setattr(987654321, { mode: 0o600 }, ROOT), 'ENOENT');
      const g = await m.setattr(f.ino, { size: 12345 }, ROOT);
      expect(g.size).toBe(12345);
      const dm = await m.setattr(sub.ino, { mode: 0o1777 }, ROOT);
      expect(dm.mode).toBe(S_IFDIR | 0o1777);
    });

    it('setattr: truncate sets mtime and ctime; an explicit ctime is kept', async () => {
      const d = await fresh();
      const f = await m.create(d, 'f', 0o644, USER);
      await new Promise((r) => setTimeout(r, 2));
      const grown = await m.setattr(f.ino, { size: 100 }, USER);
      expect(grown.size).toBe(100);
      expect(grown.mtime > f.mtime).toBe(true);
      expect(grown.ctime > f.ctime).toBe(true);
      await new Promise((r) => setTimeout(r, 2));
      const shrunk = await m.setattr(f.ino, { size: 10 }, USER);
      expect(shrunk.mtime > grown.mtime).toBe(true);
      expect(shrunk.ctime > grown.ctime).toBe(true);
      expect(shrunk.mtime).toBe(shrunk.ctime);
      expect(await m.getattr(f.ino, ROOT)).toEqual(shrunk);
      // an explicit mtime given with the truncate wins (utimensat after ftruncate in one call)
      const t = 1_111_111_111_000_000_000n;
      const pinned = await m.setattr(f.ino, { size: 20, mtime: t }, USER);
      expect([pinned.size, pinned.mtime]).toEqual([20, t]);
      // an explicit ctime (restores, replication) is stored as given
      const c = await m.setattr(f.ino, { ctime: t + 7n }, ROOT);
      expect(c.ctime).toBe(t + 7n);
      const both = await m.setattr(f.ino, { mode: 0o600, ctime: t + 9n }, ROOT);
      expect([both.mode, both.ctime]).toEqual([S_IFREG | 0o600, t + 9n]);
      expect(await m.getattr(f.ino, ROOT)).toEqual(both);
    });

    it('setattr keepCtime: an access-time bump leaves ctime; only with atime alone', async () => {
      const d = await fresh();
      const f = await m.create(d, 'f', 0o644, USER);
      const t = 1_222_333_444_000_000_000n;
      const set = await m.setattr(f.ino, { mtime: t, ctime: t + 5n }, ROOT);
      const bumped = await m.setattr(f.ino, { atime: 'now', keepCtime: true }, USER);
      expect(bumped.atime > t + 5n).toBe(true);
      expect([bumped.ctime, bumped.mtime]).toEqual([set.ctime, t]);
      expect(await m.getattr(f.ino, ROOT)).toEqual(bumped);
      const explicit = await m.setattr(f.ino, { atime: t, keepCtime: true }, ROOT);
      expect([explicit.atime, explicit.ctime]).toEqual([t, set.ctime]);
      await expectErrno(m.setattr(f.ino, { keepCtime: true }, ROOT), 'EINVAL');
      await expectErrno(m.setattr(f.ino, { atime: 'now', mtime: 'now', keepCtime: true }, ROOT), 'EINVAL');
      await expectErrno(m.setattr(f.ino, { atime: 'now', mode: 0o600, keepCtime: true }, ROOT), 'EINVAL');
      expect(await m.getattr(f.ino, ROOT)).toEqual(explicit);
      // without the flag an atime change is a status change (utimensat)
      const touched = await m.setattr(f.ino, { atime: 'now' }, ROOT);
      expect(touched.ctime > set.ctime).toBe(true);
    });

    it('creating, linking or renaming into a removed directory: ENOENT', async () => {
      const d = await fresh();
      const sub = await m.mkdir(d, 'sub', 0o777, USER);
      const f = await m.create(d, 'f', 0o644, USER);
      const g = await m.mkdir(d, 'g', 0o755, USER);
      await m.rmdir(d, 'sub', USER);
      await expectErrno(m.create(sub.ino, 'x', 0o644, USER), 'ENOENT');
      await expectErrno(m.create(sub.ino, 'x', 0o644, USER, true), 'ENOENT');
      await expectErrno(m.mkdir(sub.ino, 'x', 0o755, USER), 'ENOENT');
      await expectErrno(m.mknod(sub.ino, 'x', S_IFIFO | 0o600, 0, USER), 'ENOENT');
      await expectErrno(m.symlink(sub.ino, 'x', 'target', USER), 'ENOENT');
      await expectErrno(m.link(f.ino, sub.ino, 'x', USER), 'ENOENT');
      await expectErrno(m.rename(d, 'f', sub.ino, 'x', USER), 'ENOENT');
      await expectErrno(m.rename(d, 'g', sub.ino, 'x', USER), 'ENOENT');
      await expectErrno(m.lookup(sub.ino, 'x', ROOT), 'ENOENT');
      await expectErrno(m.readdir(sub.ino, ROOT), 'ENOENT');
      // nothing moved or changed
      expect((await m.lookup(d, 'f', ROOT)).nlink).toBe(1);
      expect((await m.lookup(d, 'g', ROOT)).ino).toBe(g.ino);
      expect((await m.getattr(d, ROOT)).nlink).toBe(3);
      expect(listed((await m.readdir(d, ROOT)).entries.map((e) => e.name))).toEqual(['f', 'g']);
    });

    it('sticky directories: only entry owner, dir owner or root remove or rename', async () => {
      const d = await fresh(0o1777);
      await m.setattr(d, { uid: 1002, gid: 1002 }, ROOT);
      await m.create(d, 'mine', 0o644, USER);
      await expectErrno(m.unlink(d, 'mine', OTHER), 'EPERM');
      await expectErrno(m.rename(d, 'mine', d, 'stolen', OTHER), 'EPERM');
      await m.create(d, 'theirs', 0o644, OTHER);
      await expectErrno(m.rename(d, 'theirs', d, 'mine', OTHER), 'EPERM'); // may not replace USER's entry
      await m.rename(d, 'mine', d, 'mine2', USER);
      await m.mkdir(d, 'udir', 0o777, USER);
      await expectErrno(m.rmdir(d, 'udir', OTHER), 'EPERM');
      await m.unlink(d, 'mine2', { uid: 1002, gid: 1002 }); // owner of the directory
      await m.unlink(d, 'theirs', ROOT);
      await m.rmdir(d, 'udir', USER);
      expect((await m.readdir(d, ROOT)).entries).toEqual([]);
      // Without the sticky bit anyone (the kernel checks write permission) may remove.
      const open = await fresh(0o777);
      await m.create(open, 'x', 0o644, USER);
      await m.unlink(open, 'x', OTHER);
    });

    it('setgid directories: group inherited, subdirectories stay setgid', async () => {
      const d = await fresh(0o2777);
      await m.setattr(d, { gid: 500 }, ROOT);
      const f = await m.create(d, 'f', 0o644, USER);
      expect(f.gid).toBe(500);
      const sub = await m.mkdir(d, 'sub', 0o755, USER);
      expect(sub.gid).toBe(500);
      expect(sub.mode & 0o2000).toBe(0o2000);
      const n = await m.mknod(sub.ino, 'fifo', S_IFIFO | 0o600, 0, USER);
      expect(n.gid).toBe(500);
      const plain = await fresh(0o777);
      expect((await m.create(plain, 'g', 0o644, USER)).gid).toBe(1000);
    });

    it('rename: move, replace files and empty dirs, type errors, ENOTEMPTY', async () => {
      const d = await fresh();
      const a = await m.create(d, 'a', 0o644, USER);
      await m.rename(d, 'a', d, 'b', USER);
      await expectErrno(m.lookup(d, 'a', ROOT), 'ENOENT');
      expect((await m.lookup(d, 'b', ROOT)).ino).toBe(a.ino);
      // replace a file: the old target loses its name (and is freed)
      const c = await m.create(d, 'c', 0o644, USER);
      await m.rename(d, 'b', d, 'c', USER);
      expect((await m.lookup(d, 'c', ROOT)).ino).toBe(a.ino);
      await gone(c.ino);
      // replace a hard-linked target: it survives under its other name
      const h = await m.create(d, 'h', 0o644, USER);
      await m.link(h.ino, d, 'h2', USER);
      await m.rename(d, 'c', d, 'h', USER);
      expect((await m.getattr(h.ino, ROOT)).nlink).toBe(1);
      // directories
      const x = await m.mkdir(d, 'x', 0o755, USER);
      const y = await m.mkdir(d, 'y', 0o755, USER);
      expect((await m.getattr(d, ROOT)).nlink).toBe(4);
      await expectErrno(m.rename(d, 'x', d, 'h', USER), 'ENOTDIR');
      await expectErrno(m.rename(d, 'h', d, 'x', USER), 'EISDIR');
      await m.rename(d, 'x', d, 'y', USER); // replaces the empty dir y
      await gone(y.ino);
      expect((await m.lookup(d, 'y', ROOT)).ino).toBe(x.ino);
      expect((await m.getattr(d, ROOT)).nlink).toBe(3);
      const z = await m.mkdir(d, 'z', 0o755, USER);
      await m.create(z.ino, 'inside', 0o644, USER);
      await expectErrno(m.rename(d, 'y', d, 'z', USER), 'ENOTEMPTY');
      await expectErrno(m.rename(d, 'missing', d, 'q', USER), 'ENOENT');
      await expectErrno(m.rename(d, 'h', 987654321, 'q', USER), 'ENOENT');
      await expectErrno(m.rename(d, 'h', a.ino, 'q', USER), 'ENOTDIR');
    });

    it('rename: directories across parents, subtree loops, no-ops, noReplace, exchange', async () => {
      const d = await fresh();
      const p1 = await m.mkdir(d, 'p1', 0o755, USER);
      const p2 = await m.mkdir(d, 'p2', 0o755, USER);
      const c = await m.mkdir(p1.ino, 'c', 0o755, USER);
      const gc = await m.mkdir(c.ino, 'gc', 0o755, USER);
      await expectErrno(m.rename(p1.ino, 'c', c.ino, 'self', USER), 'EINVAL');
      await expectErrno(m.rename(p1.ino, 'c', gc.ino, 'deeper', USER), 'EINVAL');
      await expectErrno(m.rename(d, 'p1', gc.ino, 'loop', USER), 'EINVAL');
      await m.rename(p1.ino, 'c', p2.ino, 'c2', USER);
      expect((await m.getattr(p1.ino, ROOT)).nlink).toBe(2);
      expect((await m.getattr(p2.ino, ROOT)).nlink).toBe(3);
      expect((await m.lookup(c.ino, '..', ROOT)).ino).toBe(p2.ino);
      expect((await m.getattr(c.ino, ROOT)).nlink).toBe(3);
      // no-ops: onto itself, onto a hard link of itself
      const f = await m.create(d, 'f', 0o644, USER);
      await m.link(f.ino, d, 'f2', USER);
      await m.rename(d, 'f', d, 'f', USER);
      await m.rename(d, 'f', d, 'f2', USER);
      expect((await m.lookup(d, 'f', ROOT)).ino).toBe(f.ino);
      expect((await m.lookup(d, 'f2', ROOT)).nlink).toBe(2);
      // noReplace
      const g = await m.create(d, 'g', 0o644, USER);
      await expectErrno(m.rename(d, 'f', d, 'g', USER, { noReplace: true }), 'EEXIST');
      await m.rename(d, 'g', d, 'g-new', USER, { noReplace: true });
      expect((await m.lookup(d, 'g-new', ROOT)).ino).toBe(g.ino);
      // exchange a file with a directory across parents
      await m.rename(d, 'g-new', p1.ino, 'swap', USER);
      await m.rename(p1.ino, 'swap', p2.ino, 'c2', USER, { exchange: true });
      expect((await m.lookup(p1.ino, 'swap', ROOT)).ino).toBe(c.ino);
      expect((await m.lookup(p2.ino, 'c2', ROOT)).ino).toBe(g.ino);
      expect((await m.getattr(p1.ino, ROOT)).nlink).toBe(3);
      expect((await m.getattr(p2.ino, ROOT)).nlink).toBe(2);
      expect((await m.lookup(c.ino, '..', ROOT)).ino).toBe(p1.ino);
      await expectErrno(m.rename(d, 'f', d, 'nothing', USER, { exchange: true }), 'ENOENT');
      await expectErrno(m.rename(d, 'p1', p1.ino, 'x', USER, { exchange: true }), 'ENOENT');
      await expectErrno(m.rename(d, 'p1', c.ino, 'gc', USER, { exchange: true }), 'EINVAL');
    });

    it('readdir: sorted by name with attributes, resumable cursor, default limit', async () => {
      const d = await fresh();
      const names = ['b', 'a', 'Z', 'é', 'aa', '0', 'file.txt'];
      for (const n of names) await m.create(d, n, 0o644, USER);
      await m.mkdir(d, 'dir', 0o755, USER);
      const page = await m.readdir(d, ROOT);
      expect(listed(page.entries.map((e) => e.name))).toEqual([...names, 'dir'].sort(byBytes));
      const all = page.entries.map((e) => e.name); // the store's order: pages below follow it
      expect(page.next).toBeUndefined();
      for (const e of page.entries) expect(e.attr).toEqual(await m.lookup(d, e.name, ROOT));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const p = await m.readdir(d, ROOT, cursor, 3);
        expect(p.entries.length).toBeLessThanOrEqual(3);
        seen.push(...p.entries.map((e) => e.name));
        cursor = p.next;
        pages++;
      } while (cursor !== undefined && pages < 10);
      expect(seen).toEqual(all);
      expect(pages).toBe(3);
      // a cursor stays valid when the entry it names is removed meanwhile
      const p1 = await m.readdir(d, ROOT, undefined, 2);
      // (with sealed names the order is the sealed names': the second entry may be the directory)
      const gone = p1.entries[1];
      await (gone.attr.type === 'dir' ? m.rmdir(d, gone.name, USER) : m.unlink(d, gone.name, USER));
      const p2 = await m.readdir(d, ROOT, p1.next, 100);
      expect(p2.entries.map((e) => e.name)).toEqual(all.slice(2));
      const f = await m.lookup(d, names.find((n) => n !== p1.entries[1].name)!, ROOT);
      await expectErrno(m.readdir(f.ino, ROOT), 'ENOTDIR');
      await expectErrno(m.readdir(987654321, ROOT), 'ENOENT');
      expect((await m.readdir(await fresh(), ROOT)).entries).toEqual([]);
    });

    it('readdir: default page of 1000', async () => {
      const d = await fresh();
      const names = Array.from({ length: 1003 }, (_, i) => `n${String(i).padStart(5, '0')}`);
      for (let i = 0; i < names.length; i += 50) {
        await Promise.all(names.slice(i, i + 50).map((n) => m.create(d, n, 0o644, USER)));
      }
      const p = await m.readdir(d, ROOT);
      expect(p.entries.length).toBe(1000);
      expect(p.next).toBeDefined();
      const rest = await m.readdir(d, ROOT, p.next);
      expect(listed([...p.entries, ...rest.entries].map((e) => e.name))).toEqual(names);
      expect(rest.next).toBeUndefined();
    });

    it('xattrs: get/set/list/remove, create/replace flags, binary values, ctime', async () => {
      const d = await fresh();
      const f = await m.create(d, 'f', 0o644, USER);
      const bin = Buffer.from([0, 1, 2, 255, 0, 10, 13]);
      await new Promise((r) => setTimeout(r, 2));
      await m.setxattr(f.ino, 'user.b', bin, 0, USER);
      expect((await m.getattr(f.ino, ROOT)).ctime > f.ctime).toBe(true);
      expect(Buffer.compare(await m.getxattr(f.ino, 'user.b', ROOT), bin)).toBe(0);
      await m.setxattr(f.ino, 'user.a', Buffer.alloc(0), XATTR_CREATE, USER);
      expect((await m.getxattr(f.ino, 'user.a', ROOT)).length).toBe(0);
      expect(await m.listxattr(f.ino, ROOT)).toEqual(['user.a', 'user.b']);
      await expectErrno(m.setxattr(f.ino, 'user.a', Buffer.from('x'), XATTR_CREATE, USER), 'EEXIST');
      await expectErrno(m.setxattr(f.ino, 'user.none', Buffer.from('x'), XATTR_REPLACE, USER), 'ENODATA');
      await m.setxattr(f.ino, 'user.a', Buffer.from('new'), XATTR_REPLACE, USER);
      expect((await m.getxattr(f.ino, 'user.a', ROOT)).toString()).toBe('new');
      await expectErrno(m.getxattr(f.ino, 'user.none', ROOT), 'ENODATA');
      await expectErrno(m.removexattr(f.ino, 'user.none', USER), 'ENODATA');
      await m.removexattr(f.ino, 'user.a', USER);
      expect(await m.listxattr(f.ino, ROOT)).toEqual(['user.b']);
      const big = Buffer.alloc(60_000, 7);
      await m.setxattr(d, 'user.big', big, 0, ROOT);
      expect((await m.getxattr(d, 'user.big', ROOT)).equals(big)).toBe(true);
      await expectErrno(m.getxattr(987654321, 'user.a', ROOT), 'ENOENT');
      await expectErrno(m.setxattr(987654321, 'user.a', bin, 0, ROOT), 'ENOENT');
      expect(await m.listxattr((await fresh()), ROOT)).toEqual([]);
      // gone with the inode
      await m.unlink(d, 'f', USER);
      await expectErrno(m.getxattr(f.ino, 'user.b', ROOT), 'ENOENT');
    });

    it('xattrs: E2BIG for large values, ERANGE for bad names, EINVAL for bad flags', async () => {
      const d = await fresh();
      const f = await m.create(d, 'f', 0o644, USER);
      await m.setxattr(f.ino, 'user.keep', Buffer.from('v'), 0, USER);
      const max = Buffer.alloc(65536, 1);
      await m.setxattr(f.ino, 'user.max', max, 0, USER);
      expect((await m.getxattr(f.ino, 'user.max', ROOT)).length).toBe(65536);
      await expectErrno(m.setxattr(f.ino, 'user.huge', Buffer.alloc(65537, 1), 0, USER), 'E2BIG');
      await expectErrno(m.setxattr(f.ino, 'user.max', Buffer.alloc(65537, 2), XATTR_REPLACE, USER), 'E2BIG');
      expect((await m.getxattr(f.ino, 'user.max', ROOT)).equals(max)).toBe(true);
      const long = 'user.' + 'n'.repeat(251); // 256 bytes
      const longest = 'user.' + 'n'.repeat(250); // 255 bytes
      await m.setxattr(f.ino, longest, Buffer.from('x'), 0, USER);
      for (const bad of ['', long, 'user.a\0b']) {
        await expectErrno(m.setxattr(f.ino, bad, Buffer.from('x'), 0, USER), 'ERANGE');
        await expectErrno(m.getxattr(f.ino, bad, ROOT), 'ERANGE');
        await expectErrno(m.removexattr(f.ino, bad, USER), 'ERANGE');
      }
      await expectErrno(m.setxattr(f.ino, 'user.flags', Buffer.from('x'), XATTR_CREATE | XATTR_REPLACE, USER), 'EINVAL');
      await expectErrno(m.setxattr(f.ino, 'user.flags', Buffer.from('x'), 4, USER), 'EINVAL');
      await expectErrno(m.setxattr(f.ino, 'user.keep', Buffer.from('y'), 8 | XATTR_REPLACE, USER), 'EINVAL');
      expect(await m.listxattr(f.ino, ROOT)).toEqual([longest, 'user.keep', 'user.max'].sort(byBytes));
      expect((await m.getxattr(f.ino, 'user.keep', ROOT)).toString()).toBe('v');
    });

    it('commit, blocks, allocIds: slots, holes, supersede → gc queue, size and times', async () => {
      const bs = (await m.settings()).blockSize;
      const d = await fresh();
      const f = await m.create(d, 'data', 0o644, USER);
      const first = await m.allocIds(4, USER);
      expect(first).toBeGreaterThan(0);
      const mtime = 1_700_000_000_000_000_000n;
      const a = await m.commit({ ino: f.ino, size: 2 * bs + 100, mtime, writes: [
        { index: 2, blockId: first + 2, length: 100 }, { index: 0, blockId: first, length: bs },
      ] }, USER);
      expect(a.size).toBe(2 * bs + 100);
      expect(a.mtime).toBe(mtime);
      expect(a.ctime > mtime).toBe(true);
      expect(await m.blocks(f.ino, 0, 10, ROOT)).toEqual([
        { index: 0, blockId: first, length: bs }, { index: 2, blockId: first + 2, length: 100 },
      ]);
      expect(await m.blocks(f.ino, 1, 1, ROOT)).toEqual([]); // hole
      expect(await m.blocks(f.ino, 2, 5, ROOT)).toEqual([{ index: 2, blockId: first + 2, length: 100 }]);
      // a hole write ({ blockId: 0, length: 0 }) drops a slot (punch) and queues its block; on a hole it is a no-op
      const punchId = await m.allocIds(1, USER);
      await m.commit({ ino: f.ino, size: 2 * bs + 100, mtime, writes: [{ index: 1, blockId: punchId, length: 10 }] }, USER);
      expect((await m.blocks(f.ino, 1, 1, ROOT))[0].blockId).toBe(punchId);
      const punched = await m.commit({ ino: f.ino, size: 2 * bs + 100, mtime, writes: [
        { index: 1, blockId: 0, length: 0 }, { index: 5, blockId: 0, length: 0 },
      ] }, USER);
      expect(punched.size).toBe(2 * bs + 100);
      expect(await m.blocks(f.ino, 0, 10, ROOT)).toEqual([
        { index: 0, blockId: first, length: bs }, { index: 2, blockId: first + 2, length: 100 },
      ]);
      if (s.engine) expect(await gcIds()).toContain(punchId);
      await expectErrno(m.commit({ ino: f.ino, size: 1, mtime, writes: [{ index: 0, blockId: 0, length: 5 }] }, USER), 'EINVAL');
      // supersede slot 0
      await m.commit({ ino: f.ino, size: 2 * bs + 100, mtime: mtime + 1n, writes: [{ index: 0, blockId: first + 3, length: bs }] }, USER);
      expect((await m.blocks(f.ino, 0, 1, ROOT))[0].blockId).toBe(first + 3);
      if (s.engine) expect(await gcIds()).toContain(first);
      // shrink: slot 2 dropped to gc, slot 0 keeps its block with a shorter length
      const t = await m.setattr(f.ino, { size: 1000 }, USER);
      expect(t.size).toBe(1000);
      expect(await m.blocks(f.ino, 0, 10, ROOT)).toEqual([{ index: 0, blockId: first + 3, length: 1000 }]);
      if (s.engine) expect(await gcIds()).toContain(first + 2);
      // a commit with a smaller size also clips
      await m.commit({ ino: f.ino, size: 10, mtime, writes: [] }, USER);
      expect(await m.blocks(f.ino, 0, 10, ROOT)).toEqual([{ index: 0, blockId: first + 3, length: 10 }]);
      // sparse extend keeps the map
      expect((await m.setattr(f.ino, { size: 10 * bs }, USER)).size).toBe(10 * bs);
      expect((await m.blocks(f.ino, 0, 100, ROOT)).length).toBe(1);
      // errors
      const dir = await m.mkdir(d, 'sub', 0o755, USER);
      await expectErrno(m.commit({ ino: dir.ino, size: 1, mtime, writes: [] }, USER), 'EISDIR');
      await expectErrno(m.commit({ ino: f.ino, size: 1, mtime, writes: [{ index: 0, blockId: first, length: bs + 1 }] }, USER), 'EINVAL');
      await expectErrno(m.commit({ ino: f.ino, size: 1, mtime, writes: [{ index: -1, blockId: first, length: 1 }] }, USER), 'EINVAL');
      await expectErrno(m.commit({ ino: 987654321, size: 1, mtime, writes: [] }, USER), 'ENOENT');
      await expectErrno(m.blocks(987654321, 0, 1, ROOT), 'ENOENT');
      await expectErrno(m.allocIds(0, USER), 'EINVAL');
      // unlink frees: remaining blocks are queued
      await m.unlink(d, 'data', USER);
      if (s.engine) expect(await gcIds()).toContain(first + 3);
    });

    it('allocIds: ranges never overlap, even concurrently', async () => {
      const ranges = await Promise.all(Array.from({ length: 20 }, (_, i) => m.allocIds(1 + i * 10, USER).then((f) => [f, f + i * 10] as const)));
      ranges.sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBeGreaterThan(ranges[i - 1][1]);
    });

    it('holds: an unlinked open file lives until the last release', async () => {
      const d = await fresh();
      const bs = (await m.settings()).blockSize;
      const f = await m.create(d, 'open', 0o644, USER, true);
      const id = await m.allocIds(1, USER);
      await m.commit({ ino: f.ino, size: 5, mtime: nowNs(), writes: [{ index: 0, blockId: id, length: 5 }] }, USER);
      await m.open(f.ino, USER); // second hold
      await m.unlink(d, 'open', USER);
      await expectErrno(m.lookup(d, 'open', ROOT), 'ENOENT');
      expect((await m.readdir(d, ROOT)).entries).toEqual([]);
      const a = await m.getattr(f.ino, ROOT);
      expect(a.nlink).toBe(0);
      expect(await m.blocks(f.ino, 0, 1, ROOT)).toEqual([{ index: 0, blockId: id, length: 5 }]);
      // still writable while open
      await m.commit({ ino: f.ino, size: bs, mtime: nowNs(), writes: [] }, USER);
      await expectErrno(m.link(f.ino, d, 'revive', USER), 'ENOENT');
      if (s.engine) expect(await gcIds()).not.toContain(id);
      await m.release(f.ino, USER);
      expect((await m.getattr(f.ino, ROOT)).nlink).toBe(0);
      await m.release(f.ino, USER);
      await gone(f.ino);
      if (s.engine) expect(await gcIds()).toContain(id);
      await m.release(f.ino, USER); // releasing a gone inode is harmless
      // open/release of a linked file changes nothing visible
      const g = await m.create(d, 'g', 0o644, USER);
      expect((await m.open(g.ino, USER)).ino).toBe(g.ino);
      await m.release(g.ino, USER);
      expect((await m.getattr(g.ino, ROOT)).nlink).toBe(1);
      await expectErrno(m.open(987654321, USER), 'ENOENT');
      // replacing an open file by rename keeps it alive too
      const h = await m.create(d, 'h', 0o644, USER, true);
      await m.rename(d, 'g', d, 'h', USER);
      expect((await m.getattr(h.ino, ROOT)).nlink).toBe(0);
      await m.release(h.ino, USER);
      await gone(h.ino);
    });

    it('operation ids: a retried non-idempotent call applies once', async () => {
      const d = await fresh();
      const op = (id: string): OpContext => ({ ...USER, opId: `${process.pid}-${Date.now()}-${id}` });
      const c1 = op('create');
      const a = await m.create(d, 'once', 0o644, c1);
      const b = await m.create(d, 'once', 0o644, c1);
      expect(b).toEqual(a);
      await expectErrno(m.create(d, 'once', 0o644, op('other')), 'EEXIST');
      const mk = op('mkdir');
      const d1 = await m.mkdir(d, 'dir', 0o755, mk);
      expect((await m.mkdir(d, 'dir', 0o755, mk)).ino).toBe(d1.ino);
      const u = op('unlink');
      await m.unlink(d, 'once', u);
      await m.unlink(d, 'once', u); // no ENOENT: same operation
      await expectErrno(m.unlink(d, 'once', op('unlink2')), 'ENOENT');
      const r = op('rename');
      await m.rename(d, 'dir', d, 'dir2', r);
      await m.rename(d, 'dir', d, 'dir2', r);
      expect((await m.lookup(d, 'dir2', ROOT)).ino).toBe(d1.ino);
      const l = await m.create(d, 'l', 0o644, USER);
      const lk = op('link');
      await m.link(l.ino, d, 'l2', lk);
      expect((await m.link(l.ino, d, 'l2', lk)).nlink).toBe(2);
      expect((await m.getattr(l.ino, ROOT)).nlink).toBe(2);
      const x = op('xattr');
      await m.setxattr(l.ino, 'user.k', Buffer.from('v'), XATTR_CREATE, x);
      await m.setxattr(l.ino, 'user.k', Buffer.from('v'), XATTR_CREATE, x);
    });

    it('statfs: counters follow creates, writes and removals', async () => {
      const d = await fresh();
      const s0 = await m.statfs(ROOT);
      expect(s0.blockSize).toBe((await m.settings()).blockSize);
      expect(s0.inodes).toBeGreaterThanOrEqual(2);
      const f = await m.create(d, 'f', 0o644, USER);
      const g = await m.mkdir(d, 'g', 0o755, USER);
      const id = await m.allocIds(1, USER);
      await m.commit({ ino: f.ino, size: 5000, mtime: nowNs(), writes: [{ index: 0, blockId: id, length: 5000 }] }, USER);
      const s1 = await m.statfs(ROOT);
      expect(s1.inodes - s0.inodes).toBe(2);
      expect(s1.usedBytes - s0.usedBytes).toBe(5000);
      await m.setattr(f.ino, { size: 1000 }, USER);
      expect((await m.statfs(ROOT)).usedBytes - s0.usedBytes).toBe(1000);
      await m.unlink(d, 'f', USER);
      await m.rmdir(d, 'g', USER);
      const s2 = await m.statfs(ROOT);
      expect(s2.inodes).toBe(s0.inodes);
      expect(s2.usedBytes).toBe(s0.usedBytes);
      void g;
    });

    // ---------------------------------------------------------------- shared locks
    // Owners differ by the kernel owner string (a remote store's calls all share its session).
    const RD = 0; const WR = 1; const UN = 2;
    const lk = (type: number, start: number, len: number, pid = 1) => ({ type, start, len, pid });

    it('locks: ranges of other owners conflict (EAGAIN), F_GETLK reports the holder, an owner never blocks itself', async () => {
      const f = await m.create(await fresh(), 'f', 0o644, USER);
      await m.setlk(f.ino, 'o1', lk(WR, 0, 10, 111), false, USER);
      await m.setlk(f.ino, 'o1', lk(RD, 5, 10, 111), false, USER); // own lock: replaced, no conflict
      await expectErrno(m.setlk(f.ino, 'o2', lk(RD, 0, 1), false, USER), 'EAGAIN');
      await expectErrno(m.setlk(f.ino, 'o2', lk(WR, 14, 0), false, USER), 'EAGAIN'); // len 0: to the end
      await m.setlk(f.ino, 'o2', lk(RD, 5, 10, 222), false, USER); // read over read: shared
      await m.setlk(f.ino, 'o2', lk(WR, 15, 0, 222), false, USER);
      expect(await m.getlk(f.ino, 'o3', lk(WR, 0, 1), USER)).toEqual({ type: WR, start: 0, len: 5, pid: 111 });
      expect(await m.getlk(f.ino, 'o3', lk(RD, 20, 5), USER)).toEqual({ type: WR, start: 15, len: 0, pid: 222 });
      expect((await m.getlk(f.ino, 'o3', lk(RD, 5, 10), USER)).type).toBe(UN);
      expect((await m.getlk(f.ino, 'o1', lk(WR, 0, 5), USER)).type).toBe(UN); // its own lock is no conflict
      await expectErrno(m.getlk(f.ino, 'o3', lk(UN, 0, 1), USER), 'EINVAL');
      await expectErrno(m.setlk(f.ino, 'o3', lk(7, 0, 1), false, USER), 'EINVAL');
      await expectErrno(m.setlk(987654321, 'o3', lk(WR, 0, 1), false, USER), 'ENOENT');
    });

    it('locks: unlock splits, upgrade and downgrade of a sub-range, touching locks merge', async () => {
      const f = await m.create(await fresh(), 'f', 0o644, USER);
      const probe = async (start: number, len: number) => (await m.getlk(f.ino, 'probe', lk(WR, start, len), USER));
      await m.setlk(f.ino, 'a', lk(RD, 0, 10), false, USER);
      await m.setlk(f.ino, 'a', lk(RD, 10, 10), false, USER); // touching: merged into [0, 20)
      expect(await probe(0, 0)).toMatchObject({ type: RD, start: 0, len: 20 });
      await m.setlk(f.ino, 'a', lk(UN, 5, 5), false, USER); // split: [0,5) and [10,20)
      expect(await probe(5, 5)).toMatchObject({ type: UN });
      expect(await probe(6, 0)).toMatchObject({ type: RD, start: 10, len: 10 });
      await m.setlk(f.ino, 'a', lk(WR, 12, 2), false, USER); // upgrade a sub-range
      await expectErrno(m.setlk(f.ino, 'b', lk(RD, 12, 1), false, USER), 'EAGAIN');
      await m.setlk(f.ino, 'b', lk(RD, 10, 2), false, USER); // the rest is still a read lock
      await m.setlk(f.ino, 'b', lk(UN, 0, 0), false, USER);
      await m.setlk(f.ino, 'a', lk(RD, 12, 2), false, USER); // downgrade: [10,20) read again, merged
      expect(await probe(10, 0)).toMatchObject({ type: RD, start: 10, len: 10 });
      await m.setlk(f.ino, 'b', lk(RD, 12, 1), false, USER);
      await m.setlk(f.ino, 'a', lk(UN, 0, 0), false, USER);
      await m.setlk(f.ino, 'b', lk(UN, 0, 0), false, USER);
      expect((await probe(0, 0)).type).toBe(UN);
    });

    it('flock: shared or exclusive per owner, converted in place, apart from fcntl locks', async () => {
      const f = await m.create(await fresh(), 'f', 0o644, USER);
      await m.setlk(f.ino, 'p', lk(WR, 0, 0), false, USER);
      await m.flock(f.ino, 'a', 1, USER); // LOCK_SH: an fcntl lock does not block it
      await m.flock(f.ino, 'b', 1, USER);
      await expectErrno(m.flock(f.ino, 'c', 2, USER), 'EAGAIN');
      await expectErrno(m.flock(f.ino, 'a', 2, USER), 'EAGAIN'); // b shares it
      await m.flock(f.ino, 'b', 8, USER); // LOCK_UN
      await m.flock(f.ino, 'a', 2, USER); // upgrade: a is alone now
      await expectErrno(m.flock(f.ino, 'b', 1, USER), 'EAGAIN');
      await m.flock(f.ino, 'a', 1, USER); // downgrade
      await m.flock(f.ino, 'b', 1, USER);
      await expectErrno(m.flock(f.ino, 'x', 3, USER), 'EINVAL');
      await expectErrno(m.releaseLocks(f.ino, 'a', 'x' as 'posix', USER), 'EINVAL');
    });

    it('locks go at releaseLocks (one kind, one owner) and with the session\'s last hold on the inode', async () => {
      const f = await m.create(await fresh(), 'f', 0o644, USER);
      await m.open(f.ino, USER);
      await m.open(f.ino, USER);
      await m.setlk(f.ino, 'a', lk(WR, 0, 1), false, USER);
      await m.setlk(f.ino, 'b', lk(WR, 1, 1), false, USER);
      await m.flock(f.ino, 'a', 2, USER);
      await m.releaseLocks(f.ino, 'a', 'posix', USER); // a's fcntl lock, not its flock, not b's lock
      await m.setlk(f.ino, 'c', lk(WR, 0, 1), false, USER);
      await expectErrno(m.setlk(f.ino, 'c', lk(WR, 1, 1), false, USER), 'EAGAIN');
      await expectErrno(m.flock(f.ino, 'c', 2, USER), 'EAGAIN');
      await m.releaseLocks(f.ino, 'a', 'flock', USER);
      await m.flock(f.ino, 'c', 2, USER);
      await m.release(f.ino, USER); // one hold left: the locks stay
      await expectErrno(m.setlk(f.ino, 'd', lk(WR, 1, 1), false, USER), 'EAGAIN');
      await m.release(f.ino, USER); // the last: no process of the session has it open
      await m.setlk(f.ino, 'd', lk(WR, 0, 0), false, USER);
      await m.flock(f.ino, 'd', 2, USER);
    });

    it('F_SETLKW: a waiter is recorded, a wait-for cycle answers EDEADLK, the waiter gets through once freed', async () => {
      const d = await fresh();
      const f1 = await m.create(d, 'f1', 0o644, USER);
      const f2 = await m.create(d, 'f2', 0o644, USER);
      await m.setlk(f1.ino, 'a', lk(WR, 0, 0), true, USER);
      await m.setlk(f2.ino, 'b', lk(WR, 0, 0), true, USER);
      await expectErrno(m.setlk(f2.ino, 'a', lk(WR, 0, 0), true, USER), 'EAGAIN'); // a waits for b
      await expectErrno(m.setlk(f1.ino, 'b', lk(WR, 0, 0), true, USER), 'EDEADLK'); // b would wait for a
      await expectErrno(m.setlk(f1.ino, 'c', lk(WR, 0, 0), true, USER), 'EAGAIN'); // c waits for a: no cycle
      await expectErrno(m.setlk(f1.ino, 'b', lk(WR, 0, 0), false, USER), 'EAGAIN'); // F_SETLK: no deadlock check
      await m.setlk(f2.ino, 'b', lk(UN, 0, 0), false, USER);
      await m.setlk(f2.ino, 'a', lk(WR, 0, 0), true, USER); // a's retry gets through, its wait is cleared
      // with a no longer waiting, b waiting for a closes no cycle
      await expectErrno(m.setlk(f1.ino, 'b', lk(WR, 0, 0), true, USER), 'EAGAIN');
      await m.setlk(f1.ino, 'a', lk(UN, 0, 0), false, USER);
      await m.setlk(f2.ino, 'a', lk(UN, 0, 0), false, USER);
      await m.setlk(f1.ino, 'b', lk(WR, 0, 0), true, USER);
      await m.setlk(f1.ino, 'b', lk(UN, 0, 0), false, USER);
    });

    it('parents: every inode type knows its directory from creation; isWithin follows the chain', async () => {
      if (!recordAccess()) return;
      const d = await fresh();
      const other = await fresh();
      const sub = await m.mkdir(d, 'sub', 0o755, USER);
      const made = [
        await m.create(sub.ino, 'f', 0o644, USER),
        await m.mkdir(sub.ino, 'dir', 0o755, USER),
        await m.symlink(sub.ino, 'sym', 'f', USER),
        await m.mknod(sub.ino, 'fifo', S_IFIFO | 0o644, 0, USER),
        await m.mknod(sub.ino, 'sock', S_IFSOCK | 0o644, 0, USER),
      ];
      for (const a of made) {
        expect(await parents(a.ino)).toEqual([sub.ino]);
        expect(await linkParents(a.ino)).toBeNull();
        for (const dir of [sub.ino, d, ROOT_INO, a.ino]) expect(await within(a.ino, dir)).toBe(true);
        expect(await within(a.ino, other)).toBe(false);
      }
      expect(await parents(ROOT_INO)).toEqual([]);
      expect(await within(sub.ino, made[0].ino)).toBe(false); // nothing is inside a file
      expect(await within(987654321, ROOT_INO)).toBe(false);
      // a directory moved elsewhere takes its subtree with it
      await m.rename(d, 'sub', other, 'moved', USER);
      expect(await within(made[0].ino, other)).toBe(true);
      expect(await within(made[0].ino, d)).toBe(false);
    });

    it('parents: hard links add a parent (two links in one directory count twice), unlink of either link drops one', async () => {
      if (!recordAccess()) return;
      const d1 = await fresh();
      const d2 = await fresh();
      const f = await m.create(d1, 'f', 0o644, USER);
      await m.link(f.ino, d2, 'l1', USER);
      await m.link(f.ino, d2, 'l2', USER);
      await m.link(f.ino, d1, 'l3', USER);
      expect(await primary(f.ino)).toBe(d1);
      expect(await linkParents(f.ino)).toEqual(sorted([d1, d2]).map((d) => [d, d === d1 ? 1 : 2]));
      expect(await parents(f.ino)).toEqual(sorted([d1, d2]));
      await m.unlink(d1, 'f', USER); // the name `parent` stood for: another one of d1 takes its place
      expect(await parents(f.ino)).toEqual(sorted([d1, d2]));
      await m.unlink(d1, 'l3', USER);
      expect(await parents(f.ino)).toEqual([d2]);
      expect(await within(f.ino, d1)).toBe(false);
      expect(await within(f.ino, d2)).toBe(true);
      expect(await linkParents(f.ino)).toEqual([[d2, 1]]);
      await m.unlink(d2, 'l1', USER);
      expect(await parents(f.ino)).toEqual([d2]);
      expect(await linkParents(f.ino)).toBeNull();
      // an unlinked file still open remembers its last directory; freed, its records are gone
      await m.open(f.ino, USER);
      await m.unlink(d2, 'l2', USER);
      expect(await parents(f.ino)).toEqual([d2]);
      await m.release(f.ino, USER);
      await gone(f.ino);
      expect(await parents(f.ino)).toEqual([]);
      expect(await linkParents(f.ino)).toBeNull();
      // a hard-linked file freed by unlinking its names in any order leaves no record behind
      const g = await m.create(d1, 'g', 0o644, USER);
      await m.link(g.ino, d2, 'g2', USER);
      await m.unlink(d2, 'g2', USER);
      expect(await linkParents(g.ino)).toBeNull();
      expect(await parents(g.ino)).toEqual([d1]);
    });

    it('parents: rename of a hard-linked file, rename over a hard link, exchange', async () => {
      if (!recordAccess()) return;
      const [d1, d2, d3] = [await fresh(), await fresh(), await fresh()];
      const f = await m.create(d1, 'f', 0o644, USER);
      await m.link(f.ino, d2, 'g', USER);
      await m.rename(d1, 'f', d3, 'f', USER); // the primary name moves
      expect(await primary(f.ino)).toBe(d3);
      expect(await parents(f.ino)).toEqual(sorted([d2, d3]));
      await m.rename(d2, 'g', d3, 'g', USER); // the other name moves
      expect(await parents(f.ino)).toEqual([d3]);
      expect(await linkParents(f.ino)).toEqual([[d3, 1]]);
      await m.rename(d3, 'g', d3, 'g-renamed', USER); // same directory: nothing changes
      expect(await linkParents(f.ino)).toEqual([[d3, 1]]);
      // replace-on-rename: the victim h loses its name in d2, f gains one in d2
      const h = await m.create(d1, 'h', 0o644, USER);
      await m.link(h.ino, d2, 'h2', USER);
      await m.rename(d3, 'g-renamed', d2, 'h2', USER);
      expect(await parents(h.ino)).toEqual([d1]);
      expect(await linkParents(h.ino)).toBeNull();
      expect(await parents(f.ino)).toEqual(sorted([d2, d3]));
      // replacing the last name of a file frees it and its records
      const v = await m.create(d1, 'victim', 0o644, USER);
      await m.rename(d1, 'h', d1, 'victim', USER);
      await gone(v.ino);
      expect(await parents(h.ino)).toEqual([d1]);
      // exchange: a hard-linked file with a plain one, and a file with a directory, across parents
      const c = await m.create(d1, 'c', 0o644, USER);
      await m.rename(d2, 'h2', d1, 'c', USER, { exchange: true }); // f's d2 name ↔ c
      expect(await parents(f.ino)).toEqual(sorted([d1, d3]));
      expect(await parents(c.ino)).toEqual([d2]);
      const dir = await m.mkdir(d3, 'dir', 0o755, USER);
      await m.rename(d2, 'h2', d3, 'dir', USER, { exchange: true });
      expect(await parents(c.ino)).toEqual([d3]);
      expect(await parents(dir.ino)).toEqual([d2]);
      expect(await within(c.ino, d2)).toBe(false);
    });

    it('parents: a file made before parents were kept is within nothing; a rename of its one name teaches it', async () => {
      if (!recordAccess()) return;
      const d1 = await fresh();
      const d2 = await fresh();
      const f = await m.create(d1, 'old', 0o644, USER);
      await records(async (tx) => {
        const { parent: _p, ...rec } = (await tx.getInode(f.ino))!;
        tx.putInode(rec);
      }, false);
      expect(await parents(f.ino)).toEqual([]);
      expect(await within(f.ino, d1)).toBe(false);
      expect(await within(f.ino, ROOT_INO)).toBe(false);
      await m.link(f.ino, d2, 'linked', USER); // hard-linked: its parents stay unknown
      expect(await linkParents(f.ino)).toBeNull();
      await m.unlink(d2, 'linked', USER);
      expect(await parents(f.ino)).toEqual([]);
      await m.rename(d1, 'old', d2, 'old', USER);
      expect(await parents(f.ino)).toEqual([d2]);
      expect(await within(f.ino, d2)).toBe(true);
    });

    it('leaves a consistent namespace (engine check)', async () => {
      if (!s.engine) return;
      const vol = (await m.settings()).id;
      expect(await s.engine.checkNamespace(vol)).toEqual([]);
    });
  });
}

export type { Attr };
