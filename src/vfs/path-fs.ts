import { constants as fsc } from 'node:fs';
import { FsError, isFsError } from '../errors/index.js';
import { ROOT_INO, type Attr, type StatFs } from '../meta/types.js';
import { NAME_MAX } from '../meta/core/rules.js';
import type { Caller, PosixFs } from './types.js';
import type { FsCore } from './core.js';

const O_ACCMODE = 3;

/**
 * The path layer: PosixFs over the inode-level core, for callers that speak paths (the VFS test
 * suites, benches). Each path is walked from the root with the core's lookups (which check
 * search permission and use its caches), then the core runs the operation on the inode.
 */
export class FlexFileSystem implements PosixFs {
  /** What each handle this layer opened is: its inode and open flags. */
  private readonly opened = new Map<number, { ino: number; flags: number }>();

  constructor(readonly core: FsCore) {}

  get io() { return this.core.io; }
  get budget() { return this.core.budget; }
  get memory() { return this.core.memory; }
  get disk() { return this.core.disk; }
  /** Bytes of dirty data held right now (tests, metrics). */
  get dirtyBytes(): number { return this.core.dirtyBytes; }

  /** Split "/a/b/c" into components, validating each. */
  static split(path: string): string[] {
    if (typeof path !== 'string' || !path.startsWith('/')) throw new FsError('EINVAL', `path must be absolute: ${JSON.stringify(path)}`);
    const parts = path.split('/').filter((p) => p.length > 0 && p !== '.');
    for (const p of parts) {
      if (Buffer.byteLength(p) > NAME_MAX) throw new FsError('ENAMETOOLONG', `name longer than ${NAME_MAX} bytes`);
      if (p === '..') throw new FsError('EINVAL', 'path contains ".."');
    }
    return parts;
  }

  private async walk(parts: string[], c: Caller): Promise<Attr> {
    let cur = await this.core.getattr(ROOT_INO, c);
    for (const name of parts) {
      if (cur.type !== 'dir') throw new FsError('ENOTDIR', 'a path component is not a directory');
      cur = await this.core.lookup(cur.ino, name, c);
    }
    return cur;
  }

  private resolve(path: string, c: Caller): Promise<Attr> {
    return this.walk(FlexFileSystem.split(path), c);
  }

  /** The parent directory's inode and the last name. */
  private async parentOf(path: string, c: Caller): Promise<{ parent: number; name: string }> {
    const parts = FlexFileSystem.split(path);
    if (parts.length === 0) throw new FsError('EBUSY', 'the root directory has no parent entry');
    const parent = await this.walk(parts.slice(0, -1), c);
    if (parent.type !== 'dir') throw new FsError('ENOTDIR', `${path}: parent is not a directory`);
    return { parent: parent.ino, name: parts[parts.length - 1] };
  }

  private ino(fh: number): { ino: number; flags: number } {
    const o = this.opened.get(fh);
    if (!o) throw new FsError('EBADF', `no open handle ${fh}`);
    return o;
  }

  init(): Promise<void> { return this.core.init(); }

  async getattr(path: string, c: Caller): Promise<Attr> { return this.resolve(path, c); }

  async fgetattr(_path: string, fh: number, c: Caller): Promise<Attr> {
    return this.core.getattr(this.ino(fh).ino, c, fh);
  }

  async access(path: string, mode: number, c: Caller): Promise<void> {
    return this.core.access((await this.resolve(path, c)).ino, mode, c);
  }

  statfs(_path: string, c: Caller): Promise<StatFs> { return this.core.statfs(c); }

  // ------------------------------------------------------------------ directories

  async opendir(path: string, flags: number, c: Caller): Promise<number> {
    const dir = await this.resolve(path, c);
    const fh = await this.core.opendir(dir.ino, flags, c);
    this.opened.set(fh, { ino: dir.ino, flags });
    return fh;
  }

  async readdir(path: string, c: Caller): Promise<{ name: string; attr: Attr }[]> {
    const dir = await this.resolve(path, c);
    if (dir.type !== 'dir') throw new FsError('ENOTDIR');
    const fh = await this.core.opendir(dir.ino, 0, { ...c, uid: 0 }); // a path readdir comes without a handle: read permission was checked by the caller's opendir
    try {
      return await this.core.readdir(fh, true, c);
    } finally {
      await this.core.releasedir(fh, c);
    }
  }

  async releasedir(_path: string, fh: number, c: Caller): Promise<void> {
    await this.core.releasedir(fh, c);
    this.opened.delete(fh);
  }

  fsyncdir(_path: string, fh: number, datasync: boolean, c: Caller): Promise<void> {
    return this.core.fsyncdir(fh, datasync, c);
  }

  async mkdir(path: string, mode: number, c: Caller): Promise<void> {
    const { parent, name } = await this.parentOf(path, c);
    await this.core.mkdir(parent, name, mode, c);
  }

  async rmdir(path: string, c: Caller): Promise<void> {
    const { parent, name } = await this.parentOf(path, c);
    await this.core.rmdir(parent, name, c);
  }

  // ------------------------------------------------------------------ files

  async mknod(path: string, mode: number, rdev: number, c: Caller): Promise<void> {
    const { parent, name } = await this.parentOf(path, c);
    await this.core.mknod(parent, name, mode, rdev, c);
  }

  async create(path: string, mode: number, flags: number, c: Caller): Promise<number> {
    const { parent, name } = await this.parentOf(path, c);
    const { fh, attr } = await this.core.create(parent, name, mode, flags, c);
    this.opened.set(fh, { ino: attr.ino, flags });
    return fh;
  }

  async open(path: string, flags: number, c: Caller, retried = false): Promise<number> {
    const attr = await this.resolve(path, c);
    try {
      const { fh } = await this.core.open(attr.ino, flags, c);
      this.opened.set(fh, { ino: attr.ino, flags });
      return fh;
    } catch (e) {
      // Close-to-open: the name was resolved from the entry cache, but another client has since
      // replaced or removed the file. Look the name up afresh and open what it is now.
      if (!isFsError(e, 'ESTALE')) throw e;
      const { parent, name } = await this.parentOf(path, c);
      const again = await this.core.cache.lookupFresh(parent, name, { uid: c.uid, gid: c.gid, pid: c.pid }).catch(() => undefined);
      if (!again || again.ino === attr.ino || retried) throw new FsError('ENOENT');
      return this.open(path, flags, c, true);
    }
  }

  async read(_path: string, fh: number, buf: Buffer, length: number, position: number, c: Caller): Promise<number> {
    const data = await this.core.read(fh, Math.min(length, buf.length), position, c);
    buf.set(data);
    return data.length;
  }

  write(_path: string, fh: number, buf: Buffer, length: number, position: number, c: Caller): Promise<number> {
    return this.core.write(fh, buf.subarray(0, Math.min(length, buf.length)), position, c);
  }

  flush(_path: string, fh: number, c: Caller): Promise<void> { return this.core.flush(fh, c); }

  fsync(_path: string, fh: number, datasync: boolean, c: Caller): Promise<void> { return this.core.fsync(fh, datasync, c); }

  async release(_path: string, fh: number, c: Caller): Promise<void> {
    this.opened.delete(fh);
    await this.core.release(fh, c);
  }

  async truncate(path: string, size: number, c: Caller): Promise<void> {
    await this.core.setattr((await this.resolve(path, c)).ino, { size }, c);
  }

  async ftruncate(_path: string, fh: number, size: number, c: Caller): Promise<void> {
    const { ino, flags } = this.ino(fh);
    if ((flags & O_ACCMODE) === fsc.O_RDONLY) throw new FsError('EINVAL', 'handle not open for writing');
    await this.core.setattr(ino, { size }, c, fh);
  }

  // ------------------------------------------------------------------ names

  async unlink(path: string, c: Caller): Promise<void> {
    const { parent, name } = await this.parentOf(path, c);
    await this.core.unlink(parent, name, c);
  }

  async rename(src: string, dest: string, c: Caller): Promise<void> {
    const from = await this.parentOf(src, c);
    const to = await this.parentOf(dest, c);
    await this.core.rename(from.parent, from.name, to.parent, to.name, 0, c);
  }

  async link(target: string, path: string, c: Caller): Promise<void> {
    const existing = await this.resolve(target, c);
    const { parent, name } = await this.parentOf(path, c);
    await this.core.link(existing.ino, parent, name, c);
  }

  async symlink(target: string, path: string, c: Caller): Promise<void> {
    const { parent, name } = await this.parentOf(path, c);
    await this.core.symlink(parent, name, target, c);
  }

  async readlink(path: string, c: Caller): Promise<string> {
    return this.core.readlink((await this.resolve(path, c)).ino, c);
  }

  // ------------------------------------------------------------------ ownership, mode, times

  async chmod(path: string, mode: number, c: Caller): Promise<void> {
    await this.core.setattr((await this.resolve(path, c)).ino, { mode }, c);
  }

  async chown(path: string, uid: number, gid: number, c: Caller): Promise<void> {
    await this.core.setattr((await this.resolve(path, c)).ino, { uid, gid }, c);
  }

  async utimens(path: string, atime: bigint | 'now' | undefined, mtime: bigint | 'now' | undefined, c: Caller): Promise<void> {
    const attr = await this.resolve(path, c);
    if (atime === undefined && mtime === undefined) return;
    await this.core.setattr(attr.ino, { atime, mtime }, c);
  }

  // ------------------------------------------------------------------ xattrs

  async setxattr(path: string, name: string, value: Buffer, flags: number, c: Caller): Promise<void> {
    await this.core.setxattr((await this.resolve(path, c)).ino, name, value, flags, c);
  }

  async getxattr(path: string, name: string, c: Caller): Promise<Buffer> {
    return this.core.getxattr((await this.resolve(path, c)).ino, name, c);
  }

  async listxattr(path: string, c: Caller): Promise<string[]> {
    return this.core.listxattr((await this.resolve(path, c)).ino, c);
  }

  async removexattr(path: string, name: string, c: Caller): Promise<void> {
    await this.core.removexattr((await this.resolve(path, c)).ino, name, c);
  }

  destroy(): Promise<void> { return this.core.destroy(); }
}
