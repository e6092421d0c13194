import { constants as fsc } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { FsError, isFsError } from '../errors/index.js';
import { ROOT_INO, type Attr, type DirEntry, type MetaStore, type OpContext, type SetAttrChanges, type StatFs } from '../meta/types.js';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, type AttrChanges, type Caller, type InodeFs, type OpenResult } from './types.js';
import { VFS_DEFAULTS, type FileSystemOptions } from './options.js';
import { OpenFiles } from './open-files.js';
import { Xattrs } from './xattrs.js';
import { buildCoreParts, type CoreParts } from './parts.js';
import type { MemoryBlockCache } from '../cache/memory.js';
import type { DiskFrameCache } from '../cache/disk.js';
import type { BlockIO } from './blockio.js';
import type { DirtyBudget } from './budget.js';
import { MetaCache } from './meta-cache.js';
import { HandleTable, type FileHandle } from './handles.js';
import { AccessPolicy, GroupLookup, privBitsToDrop, R_OK, W_OK, X_OK } from './permissions.js';
import { AclStore } from './acl-store.js';
import { withDeadline } from './deadline.js';
import { S_IFDIR, S_IFMT, S_IFREG, S_ISGID, S_ISUID } from '../util/mode.js';
import { NAME_MAX } from '../meta/core/rules.js';

const O_ACCMODE = 3;
const FMODE_EXEC = 0x20; // in the open flags of an execve (the kernel leaves the x check to us without default_permissions)

/**
 * The POSIX core, by inode (InodeFs): checks permissions (AccessPolicy), keeps the handle table
 * and maps every operation onto MetaStore calls. The open files' data path is OpenFiles', the
 * xattrs' Xattrs'; the block-side parts (CoreParts) are injected or built from the options.
 * Metadata answers are cached in MetaCache; every change reports what it made stale
 * (invalidation.ts).
 */
export class FsCore implements InodeFs {
  readonly io: BlockIO;
  readonly budget: DirtyBudget;
  readonly memory: MemoryBlockCache;
  readonly disk?: DiskFrameCache;
  readonly cache: MetaCache;
  private readonly meta: MetaStore;
  private readonly policy: AccessPolicy;
  private readonly handles = new HandleTable();
  private readonly files: OpenFiles;
  private readonly xattrs: Xattrs;
  private readonly metaDeadlineMs: number;
  private readonly acls: AclStore;
  private destroyed = false;

  constructor(private readonly o: FileSystemOptions, parts: CoreParts = buildCoreParts(o)) {
    const bs = o.settings.blockSize;
    if (!Number.isInteger(bs) || bs < 4096) throw new Error(`volume block size ${bs} is not valid`);
    this.meta = o.meta;
    this.metaDeadlineMs = o.metaDeadlineMs ?? VFS_DEFAULTS.metaDeadlineMs;
    ({ memory: this.memory, disk: this.disk, io: this.io, budget: this.budget } = parts);
    const call = this.metaCall.bind(this);
    const ctx = (c: Caller, mutation?: boolean) => this.ctx(c, mutation);
    this.cache = new MetaCache(o.meta, o.attrTtlMs ?? VFS_DEFAULTS.attrTtlMs, call);
    const groups = new GroupLookup();
    this.acls = new AclStore({
      meta: o.meta, metaCall: call, ttlMs: o.attrTtlMs ?? VFS_DEFAULTS.attrTtlMs, enabled: o.acl ?? true, ctx,
      setMode: (ino, perm, c) => this.setMeta(ino, { mode: perm }, c),
      inGroup: (c, gid) => groups.inGroup(c, gid),
    });
    this.policy = new AccessPolicy(o.checkPermissions ?? true, o.umask ?? 0, groups, this.acls);
    this.files = new OpenFiles({
      meta: o.meta, io: this.io, ids: parts.ids, budget: this.budget, cache: this.cache, handles: this.handles,
      blockSize: bs, readaheadMax: parts.readaheadMax, budgetDeadlineMs: o.putDeadlineMs ?? VFS_DEFAULTS.putDeadlineMs,
      noAtime: !!o.noAtime, readOnly: !!o.readOnly, sessionId: o.sessionId, metaCall: call, ctx,
      killPriv: (attr, c) => this.killPriv(attr, c),
    });
    this.xattrs = new Xattrs({ meta: o.meta, cache: this.cache, acls: this.acls, policy: this.policy, metaCall: call, ctx });
  }

  // ------------------------------------------------------------------ plumbing

  private metaCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withDeadline(`metadata ${what}`, this.metaDeadlineMs, () => fn());
  }

  private ctx(c: Caller, mutation = false): OpContext {
    return { uid: c.uid, gid: c.gid, pid: c.pid, sessionId: this.o.sessionId, opId: mutation ? randomUUID() : undefined };
  }

  private writable(): void {
    if (this.o.readOnly) throw new FsError('EROFS', 'read-only mount');
  }

  /** A directory `c` may search, and that is one. */
  private async dirFor(ino: number, c: Caller): Promise<Attr> {
    const dir = await this.cache.getattr(ino, this.ctx(c));
    if (dir.type !== 'dir') throw new FsError('ENOTDIR');
    await this.policy.search(dir, c);
    return dir;
  }

  /** A directory `c` may add names to or remove names from. */
  private async dirForChange(ino: number, name: string, c: Caller): Promise<Attr> {
    this.writable();
    checkName(name);
    const dir = await this.dirFor(ino, c);
    await this.policy.need(dir, W_OK | X_OK, c);
    return dir;
  }

  /** The file handle `fh` names, if any (a directory's handle or none: undefined). */
  private fileOf(fh: number | undefined): FileHandle | undefined {
    if (fh === undefined) return undefined;
    const h = this.handles.get(fh);
    return h.kind === 'file' ? h : undefined;
  }

  /** One setattr at the metadata server; caches and the open-file state take the answer. */
  private async setMeta(ino: number, changes: SetAttrChanges, c: Caller): Promise<Attr> {
    const attr = await this.metaCall('setattr', () => this.meta.setattr(ino, changes, this.ctx(c, true)));
    this.cache.putAttr(attr);
    this.files.refresh(attr);
    return attr;
  }

  /** A new inode's entry: ACLs inherited from the parent applied, the caches told. */
  private async made(parent: number, name: string, attr: Attr): Promise<Attr> {
    this.cache.changed({ kind: 'create', parent, name, ino: attr.ino });
    this.cache.putEntry(parent, name, attr);
    this.xattrs.created(attr.ino);
    return attr;
  }

  // ------------------------------------------------------------------ attributes

  async init(): Promise<void> {
    await this.disk?.init();
    const root = await this.cache.getattr(ROOT_INO, { uid: 0, gid: 0, sessionId: this.o.sessionId }, true);
    if (root.type !== 'dir') throw new Error('volume root is not a directory');
  }

  async lookup(parent: number, name: string, c: Caller): Promise<Attr> {
    checkName(name);
    // The metadata server answers ENOTDIR itself: fetch the parent only to check search permission.
    if (this.policy.searchChecked(c)) await this.dirFor(parent, c);
    return this.files.present(await this.cache.lookup(parent, name, this.ctx(c)));
  }

  async getattr(ino: number, c: Caller, fh?: number): Promise<Attr> {
    try {
      return this.files.present(await this.cache.getattr(ino, this.ctx(c)));
    } catch (e) {
      // An unlinked file still held open here: answer from what the open state knows.
      const f = this.fileOf(fh)?.file ?? this.files.get(ino);
      if (isFsError(e, 'ENOENT') && f) return f.view({ ...f.attr, nlink: 0 });
      throw e;
    }
  }

  async access(ino: number, mask: number, c: Caller): Promise<void> {
    const attr = await this.cache.getattr(ino, this.ctx(c));
    if ((mask & W_OK) && this.o.readOnly) throw new FsError('EROFS', 'read-only mount');
    if (!(await this.policy.allowed(attr, mask & 7, c))) throw new FsError('EACCES');
  }

  async statfs(c: Caller): Promise<StatFs> {
    return this.metaCall('statfs', () => this.meta.statfs(this.ctx(c)));
  }

  /**
   * chmod, chown, truncate and utimens as one FUSE setattr, in libfuse's order. The kernel sends
   * a truncate by an unprivileged writer with the mode that drops setuid/setgid (accepted from a
   * writer by chmodPerm) and with mtime "now", which the truncate sets itself.
   */
  async setattr(ino: number, ch: AttrChanges, c: Caller, fh?: number): Promise<Attr> {
    this.writable();
    const h = this.fileOf(fh);
    let attr = await this.getattr(ino, c, fh);
    if (ch.mode !== undefined) {
      const perm = await this.policy.chmodPerm(attr, ch.mode, c);
      attr = await this.setMeta(attr.ino, { mode: perm }, c);
      await this.acls.afterChmod(attr, c);
    }
    if (ch.uid !== undefined || ch.gid !== undefined) attr = await this.chown(attr, ch.uid, ch.gid, c);
    let { atime, mtime } = ch;
    if (ch.size !== undefined) {
      attr = await this.truncate(attr, ch.size, h, c);
      if (atime === 'now') atime = undefined;
      if (mtime === 'now') mtime = undefined;
    }
    if (atime !== undefined || mtime !== undefined) attr = await this.utimens(attr, atime, mtime, c);
    return this.files.present(attr);
  }

  private async truncate(attr: Attr, size: number, h: FileHandle | undefined, c: Caller): Promise<Attr> {
    if (attr.type === 'dir') throw new FsError('EISDIR');
    if (attr.type !== 'file') throw new FsError('EINVAL', 'not a regular file');
    // ftruncate needs a handle open for writing (the kernel checks that); otherwise write permission.
    if (!h || (h.flags & O_ACCMODE) === fsc.O_RDONLY) await this.policy.need(attr, W_OK, c);
    return this.files.truncate(attr, size, c);
  }

  private async chown(attr: Attr, uid: number | undefined, gid: number | undefined, c: Caller): Promise<Attr> {
    const ids = await this.policy.chownIds(attr, uid, gid, c);
    const changes: SetAttrChanges = {};
    if (ids.uid !== undefined) changes.uid = ids.uid;
    if (ids.gid !== undefined) changes.gid = ids.gid;
    // Changing ownership of a non-directory clears setuid, and setgid when group-executable.
    if (attr.type !== 'dir' && (ids.uid !== undefined || ids.gid !== undefined)) {
      const kill = (attr.mode & S_ISUID) | ((attr.mode & S_ISGID) && (attr.mode & 0o010) ? S_ISGID : 0);
      if (kill) changes.mode = attr.mode & 0o7777 & ~kill;
    }
    return this.setMeta(attr.ino, changes, c);
  }

  private async utimens(attr: Attr, atime: bigint | 'now' | undefined, mtime: bigint | 'now' | undefined, c: Caller): Promise<Attr> {
    await this.policy.checkTimes(attr, atime, mtime, c);
    const changes: SetAttrChanges = {};
    if (atime !== undefined) changes.atime = atime;
    if (mtime !== undefined) changes.mtime = mtime;
    // Pending writes would commit their own mtime later (cp -p writes, sets times, closes).
    const f = this.files.get(attr.ino);
    if (f && mtime !== undefined) await f.flush();
    return this.setMeta(attr.ino, changes, c);
  }

  /** A write or truncate by an unprivileged caller clears setuid/setgid (privBitsToDrop). */
  private async killPriv(attr: Attr, c: Caller): Promise<Attr | undefined> {
    if (c.uid === 0) return undefined;
    const kill = await privBitsToDrop(attr, c, this.policy.groups);
    return kill ? this.setMeta(attr.ino, { mode: attr.mode & 0o7777 & ~kill }, { uid: 0, gid: 0, pid: 0 }) : undefined;
  }

  async readlink(ino: number, c: Caller): Promise<string> {
    const attr = await this.cache.getattr(ino, this.ctx(c));
    if (attr.type !== 'symlink') throw new FsError('EINVAL', 'not a symbolic link');
    return this.metaCall('readlink', () => this.meta.readlink(ino, this.ctx(c)));
  }

  // ------------------------------------------------------------------ names

  async mknod(parent: number, name: string, mode: number, rdev: number, c: Caller): Promise<Attr> {
    const dir = await this.dirForChange(parent, name, c);
    const full = (mode & S_IFMT) === 0 ? S_IFREG | mode : mode;
    if ((full & S_IFMT) === S_IFDIR) throw new FsError('EINVAL', 'mknod cannot make a directory');
    const inh = await this.acls.inherit(dir, full, false, c);
    const attr = await this.metaCall('mknod', () =>
      this.meta.mknod(parent, name, (full & S_IFMT) | this.acls.createPerm(full, inh, c.umask), rdev, this.ctx(c, true)));
    return this.made(parent, name, await this.acls.applyInherited(attr, inh, c));
  }

  async mkdir(parent: number, name: string, mode: number, c: Caller): Promise<Attr> {
    const dir = await this.dirForChange(parent, name, c);
    const inh = await this.acls.inherit(dir, mode, true, c);
    const attr = await this.metaCall('mkdir', () => this.meta.mkdir(parent, name, S_IFDIR | this.acls.createPerm(mode, inh, c.umask), this.ctx(c, true)));
    return this.made(parent, name, await this.acls.applyInherited(attr, inh, c));
  }

  async symlink(parent: number, name: string, target: string, c: Caller): Promise<Attr> {
    await this.dirForChange(parent, name, c);
    if (target.length === 0) throw new FsError('ENOENT', 'empty symlink target');
    if (Buffer.byteLength(target) >= 4096) throw new FsError('ENAMETOOLONG', 'symlink target longer than PATH_MAX');
    const attr = await this.metaCall('symlink', () => this.meta.symlink(parent, name, target, this.ctx(c, true)));
    return this.made(parent, name, attr);
  }

  async link(ino: number, newParent: number, newName: string, c: Caller): Promise<Attr> {
    this.writable();
    const existing = await this.cache.getattr(ino, this.ctx(c));
    await this.policy.checkLink(existing, c);
    await this.dirForChange(newParent, newName, c);
    const attr = await this.metaCall('link', () => this.meta.link(ino, newParent, newName, this.ctx(c, true)));
    this.cache.changed({ kind: 'link', parent: newParent, name: newName, ino });
    this.cache.putEntry(newParent, newName, attr);
    return this.files.present(attr);
  }

  async unlink(parent: number, name: string, c: Caller): Promise<void> {
    await this.dirForChange(parent, name, c);
    const target = await this.cache.lookup(parent, name, this.ctx(c)).catch(() => undefined);
    if (target?.type === 'dir') throw new FsError('EISDIR');
    await this.metaCall('unlink', () => this.meta.unlink(parent, name, this.ctx(c, true)));
    this.cache.changed({ kind: 'unlink', parent, name, ino: target?.ino });
  }

  async rmdir(parent: number, name: string, c: Caller): Promise<void> {
    await this.dirForChange(parent, name, c);
    const target = await this.cache.lookup(parent, name, this.ctx(c)).catch(() => undefined);
    await this.metaCall('rmdir', () => this.meta.rmdir(parent, name, this.ctx(c, true)));
    this.cache.changed({ kind: 'rmdir', parent, name, ino: target?.ino });
  }

  async rename(parent: number, name: string, newParent: number, newName: string, flags: number, c: Caller): Promise<void> {
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw new FsError('EINVAL', `unknown rename flags ${flags}`);
    const noReplace = (flags & RENAME_NOREPLACE) !== 0;
    const exchange = (flags & RENAME_EXCHANGE) !== 0;
    if (noReplace && exchange) throw new FsError('EINVAL', 'RENAME_NOREPLACE and RENAME_EXCHANGE together');
    await this.dirForChange(parent, name, c);
    await this.dirForChange(newParent, newName, c);
    const moved = await this.cache.lookup(parent, name, this.ctx(c)).catch(() => undefined);
    const replaced = await this.cache.lookup(newParent, newName, this.ctx(c)).catch(() => undefined);
    // Moving a directory elsewhere rewrites its "..": write permission on it (Linux vfs_rename).
    if (parent !== newParent) {
      if (moved?.type === 'dir') await this.policy.need(moved, W_OK, c);
      if (exchange && replaced?.type === 'dir') await this.policy.need(replaced, W_OK, c);
    }
    try {
      await this.metaCall('rename', () => this.meta.rename(parent, name, newParent, newName, this.ctx(c, true),
        flags ? { noReplace, exchange } : undefined));
    } finally {
      this.cache.changed({ kind: 'rename', parent, name, ino: moved?.ino, newParent, newName, replaced: replaced?.ino });
    }
  }

  // ------------------------------------------------------------------ files

  async open(ino: number, flags: number, c: Caller): Promise<OpenResult> {
    const attr = await this.cache.getattr(ino, this.ctx(c));
    const acc = flags & O_ACCMODE;
    const wantsWrite = acc !== fsc.O_RDONLY || (flags & fsc.O_TRUNC) !== 0;
    if (attr.type === 'dir' && wantsWrite) throw new FsError('EISDIR');
    if (attr.type === 'symlink') throw new FsError('ELOOP');
    if (wantsWrite) this.writable();
    // execve opens for execute, not for reading (a 0711 program runs for others).
    const reads = acc !== fsc.O_WRONLY && !(flags & FMODE_EXEC);
    await this.policy.need(attr, (reads ? R_OK : 0) | (wantsWrite ? W_OK : 0) | (flags & FMODE_EXEC ? X_OK : 0), c);
    let fresh: Attr;
    try {
      fresh = await this.metaCall('open', () => this.meta.open(ino, this.ctx(c)));
    } catch (e) {
      // Close-to-open: the inode is gone (another client removed or replaced the name that led
      // here). ESTALE makes the kernel look the name up again; the path layer does the same.
      if (!isFsError(e, 'ENOENT')) throw e;
      this.cache.dropAttr(ino);
      throw new FsError('ESTALE', `inode ${ino} no longer exists`);
    }
    this.cache.putAttr(fresh);
    try {
      return await this.files.opened(fresh, flags);
    } catch (e) {
      await this.metaCall('release', () => this.meta.release(ino, this.ctx(c))).catch(() => undefined);
      throw e;
    }
  }

  async create(parent: number, name: string, mode: number, flags: number, c: Caller): Promise<OpenResult & { attr: Attr }> {
    const dir = await this.dirForChange(parent, name, c);
    const inh = await this.acls.inherit(dir, mode, false, c);
    let attr: Attr;
    try {
      attr = await this.metaCall('create', () =>
        this.meta.create(parent, name, S_IFREG | this.acls.createPerm(mode, inh, c.umask), this.ctx(c, true), true));
    } catch (e) {
      // O_CREAT without O_EXCL on a name that appeared meanwhile: open the existing file.
      if (!isFsError(e, 'EEXIST') || (flags & fsc.O_EXCL)) throw e;
      const existing = await this.cache.lookupFresh(parent, name, this.ctx(c));
      const opened = await this.open(existing.ino, flags & ~fsc.O_CREAT, c);
      return { ...opened, attr: await this.getattr(existing.ino, c, opened.fh) };
    }
    attr = await this.made(parent, name, await this.acls.applyInherited(attr, inh, c));
    return { ...this.files.created(attr, flags), attr: this.files.present(attr) };
  }

  async read(fh: number, length: number, position: number, c: Caller): Promise<Uint8Array> {
    return this.files.read(this.handles.file(fh), length, position, c);
  }

  async write(fh: number, data: Buffer, position: number, c: Caller): Promise<number> {
    const h = this.handles.file(fh);
    this.writable();
    return this.files.write(h, data, position, c);
  }

  async flush(fh: number, _c: Caller): Promise<void> {
    const h = this.handles.get(fh);
    if (h.kind === 'file') await h.file.flush();
  }

  async fsync(fh: number, _datasync: boolean, _c: Caller): Promise<void> {
    const h = this.handles.get(fh);
    if (h.kind === 'file') await h.file.flush();
  }

  async release(fh: number, c: Caller): Promise<void> {
    const h = this.handles.get(fh);
    this.handles.delete(fh);
    if (h.kind === 'file') await this.files.release(h, c);
  }

  async fallocate(_ino: number, fh: number, mode: number, offset: number, length: number, c: Caller): Promise<void> {
    const h = this.handles.file(fh);
    this.writable();
    return this.files.fallocate(h, mode, offset, length, c);
  }

  async lseek(_ino: number, fh: number, offset: number, whence: number, _c: Caller): Promise<number> {
    return this.files.lseek(this.handles.file(fh), offset, whence);
  }

  // ------------------------------------------------------------------ directories

  async opendir(ino: number, _flags: number, c: Caller): Promise<number> {
    const attr = await this.cache.getattr(ino, this.ctx(c));
    if (attr.type !== 'dir') throw new FsError('ENOTDIR');
    await this.policy.need(attr, R_OK, c);
    return this.handles.addDir(ino).fh;
  }

  async readdir(fh: number, fromStart: boolean, c: Caller): Promise<DirEntry[]> {
    const h = this.handles.dir(fh);
    if (h.listing && !fromStart) return h.listing;
    const out: DirEntry[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.metaCall('readdir', () => this.meta.readdir(h.ino, this.ctx(c), cursor, 1000));
      for (const e of page.entries) {
        this.cache.putEntry(h.ino, e.name, e.attr);
        out.push({ name: e.name, attr: this.files.present(e.attr) });
      }
      cursor = page.next;
    } while (cursor !== undefined);
    h.listing = out;
    return out;
  }

  async releasedir(fh: number, _c: Caller): Promise<void> {
    this.handles.dir(fh);
    this.handles.delete(fh);
  }

  async fsyncdir(fh: number, _datasync: boolean, _c: Caller): Promise<void> {
    // Namespace changes are committed by the metadata engine before each call returns.
    this.handles.dir(fh);
  }

  // ------------------------------------------------------------------ xattrs

  async setxattr(ino: number, name: string, value: Buffer, flags: number, c: Caller): Promise<void> {
    this.writable();
    return this.xattrs.set(await this.cache.getattr(ino, this.ctx(c)), name, value, flags, c);
  }

  async getxattr(ino: number, name: string, c: Caller): Promise<Buffer> {
    return this.xattrs.get(await this.cache.getattr(ino, this.ctx(c)), name, c);
  }

  listxattr(ino: number, c: Caller): Promise<string[]> {
    return this.xattrs.list(ino, c);
  }

  async removexattr(ino: number, name: string, c: Caller): Promise<void> {
    this.writable();
    return this.xattrs.remove(await this.cache.getattr(ino, this.ctx(c)), name, c);
  }

  // ------------------------------------------------------------------ lifecycle

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      await this.files.closeAll();
    } finally {
      await this.o.codec.close();
    }
  }

  /** Bytes of dirty data held right now (tests, metrics). */
  get dirtyBytes(): number {
    return this.budget.bytes;
  }
}

/** A name in a directory: not empty, no "/", at most NAME_MAX bytes (the kernel checks most of it). */
function checkName(name: string): void {
  if (Buffer.byteLength(name) > NAME_MAX) throw new FsError('ENAMETOOLONG', `name longer than ${NAME_MAX} bytes`);
}
