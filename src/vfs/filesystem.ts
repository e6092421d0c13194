import { constants as fsc } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { FsError, isFsError } from '../errors/index.js';
import { ROOT_INO, type Attr, type MetaStore, type OpContext, type SetAttrChanges, type StatFs } from '../meta/types.js';
import { MemoryBlockCache, defaultMemoryCacheBytes } from '../cache/memory.js';
import { DiskFrameCache } from '../cache/disk.js';
import type { Caller, PosixFs } from './types.js';
import { VFS_DEFAULTS, type FileSystemOptions } from './options.js';
import { BlockIO } from './blockio.js';
import { BlockIdAllocator } from './ids.js';
import { DirtyBudget } from './budget.js';
import { OpenFile } from './openfile.js';
import { Resolver } from './resolver.js';
import { GroupLookup, mayChmod, permits, privBitsToDrop, R_OK, W_OK, X_OK } from './permissions.js';
import { AclStore } from './acl-store.js';
import { isAclName } from './acl.js';
import { withDeadline } from './deadline.js';
import { XattrAbsenceCache } from './xattr-absence.js';
import { S_IFDIR, S_IFMT, S_IFREG, S_ISGID, S_ISUID } from '../util/mode.js';

const O_ACCMODE = 3;
const FMODE_EXEC = 0x20; // in the open flags of an execve (the kernel leaves the x check to us without default_permissions)
const NO_ID = 0xffffffff; // chown's "leave unchanged" (-1 as uint32)
const DAY_NS = 86_400n * 1_000_000_000n;

interface Handle {
  fh: number;
  ino: number;
  flags: number;
  dir: boolean;
  file?: OpenFile;
  /** Sequential-read detector: where the next sequential read starts, and the current window. */
  ra: { next: number; window: number };
  privChecked: boolean;
  /** relatime: the first read through a handle may bump atime (ext4 does it at the read, not the open). */
  atimeDue?: boolean;
}

/**
 * The POSIX core: resolves paths, checks permissions, keeps the handle table and the per-inode
 * open-file state, and maps every operation onto MetaStore calls and block I/O.
 */
export class FlexFileSystem implements PosixFs {
  readonly io: BlockIO;
  readonly budget: DirtyBudget;
  readonly memory: MemoryBlockCache;
  readonly disk?: DiskFrameCache;
  private readonly meta: MetaStore;
  private readonly resolver: Resolver;
  private readonly ids: BlockIdAllocator;
  private readonly groups = new GroupLookup();
  private readonly xattrAbsent = new XattrAbsenceCache();
  private readonly handles = new Map<number, Handle>();
  private readonly files = new Map<number, OpenFile>();
  private nextFh = 1;
  private readonly bs: number;
  private readonly metaDeadlineMs: number;
  private readonly readaheadMax: number;
  private readonly checkPerms: boolean;
  private readonly acls: AclStore;
  private destroyed = false;

  constructor(private readonly o: FileSystemOptions) {
    const bs = o.settings.blockSize;
    if (!Number.isInteger(bs) || bs < 4096) throw new Error(`volume block size ${bs} is not valid`);
    this.bs = bs;
    this.meta = o.meta;
    this.metaDeadlineMs = o.metaDeadlineMs ?? VFS_DEFAULTS.metaDeadlineMs;
    const memCapacity = o.memCapacity ?? defaultMemoryCacheBytes();
    // Prefetched blocks wait in the memory cache: a window larger than half of it would evict
    // blocks before they are read and fetch them again (a small --memCapacity thrashed).
    this.readaheadMax = o.readaheadMax ?? Math.min(64 * 2 ** 20, 8 * bs, Math.floor(memCapacity / 2 / bs) * bs);
    this.checkPerms = o.checkPermissions ?? true;
    this.memory = new MemoryBlockCache(memCapacity);
    if (o.diskFolder) this.disk = new DiskFrameCache(o.diskFolder, o.diskQuota ?? VFS_DEFAULTS.diskQuota);
    this.io = new BlockIO({
      volumeId: o.settings.id,
      store: o.store,
      codec: o.codec,
      memory: this.memory,
      disk: this.disk,
      getDeadlineMs: o.getDeadlineMs ?? VFS_DEFAULTS.getDeadlineMs,
      putDeadlineMs: o.putDeadlineMs ?? VFS_DEFAULTS.putDeadlineMs,
    });
    this.budget = new DirtyBudget(o.dirtyBytes ?? VFS_DEFAULTS.dirtyBytes);
    const call = this.metaCall.bind(this);
    this.resolver = new Resolver(o.meta, o.attrTtlMs ?? VFS_DEFAULTS.attrTtlMs, call);
    const sys: OpContext = { uid: 0, gid: 0, sessionId: o.sessionId };
    this.ids = new BlockIdAllocator(o.meta, () => sys, VFS_DEFAULTS.idBatch, call);
    this.acls = new AclStore({
      meta: o.meta, metaCall: call, ttlMs: o.attrTtlMs ?? VFS_DEFAULTS.attrTtlMs, enabled: o.acl ?? true,
      ctx: (c, mutation) => this.ctx(c, mutation),
      setMode: (ino, perm, c) => this.setattr(ino, { mode: perm }, c),
      inGroup: (c, gid) => this.groups.inGroup(c, gid),
    });
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

  private async need(attr: Attr, want: number, c: Caller): Promise<void> {
    if (!this.checkPerms) return;
    if (!(await this.allowed(attr, want, c))) throw new FsError('EACCES');
  }

  /** Mode bits as the mount reports them (--umask), then the access ACL where it matters. */
  private async allowed(attr: Attr, want: number, c: Caller): Promise<boolean> {
    const seen = this.o.umask ? { ...attr, mode: attr.mode & ~(this.o.umask & 0o777) } : attr;
    return permits(seen, want, c, this.groups, await this.acls.forCheck(attr, c));
  }

  /** Search permission on every directory a path goes through. */
  private search(c: Caller): ((dir: Attr) => Promise<void>) | undefined {
    if (!this.checkPerms || c.uid === 0) return undefined;
    return (dir) => this.need(dir, X_OK, c);
  }

  private resolve(path: string, c: Caller): Promise<Attr> {
    return this.resolver.resolve(path, this.ctx(c), this.search(c));
  }

  /** Resolve `path` with its last entry looked up from the metadata server, not the cache. */
  private async resolveFresh(path: string, c: Caller): Promise<Attr> {
    const { parent, name } = await this.resolver.resolveParent(path, this.ctx(c), this.search(c));
    this.resolver.dropEntry(parent.ino, name);
    return this.resolver.lookup(parent.ino, name, this.ctx(c));
  }

  /** Parent directory (which the caller may write and search) and the entry name. */
  private async parentForChange(path: string, c: Caller): Promise<{ parent: Attr; name: string }> {
    this.writable();
    const r = await this.resolver.resolveParent(path, this.ctx(c), this.search(c));
    await this.need(r.parent, W_OK | X_OK, c);
    return r;
  }

  private handle(fh: number): Handle {
    const h = this.handles.get(fh);
    if (!h) throw new FsError('EBADF', `no open handle ${fh}`);
    return h;
  }

  private fileHandle(fh: number): Handle & { file: OpenFile } {
    const h = this.handle(fh);
    if (h.dir || !h.file) throw new FsError('EISDIR');
    return h as Handle & { file: OpenFile };
  }

  private newFh(): number {
    while (this.handles.has(this.nextFh)) this.nextFh = this.nextFh >= 0x7fffffff ? 1 : this.nextFh + 1;
    const fh = this.nextFh;
    this.nextFh = fh >= 0x7fffffff ? 1 : fh + 1;
    return fh;
  }

  /** Attributes with any local (unflushed) size/mtime laid over. */
  private present(attr: Attr): Attr {
    const f = this.files.get(attr.ino);
    return f ? f.view(attr) : attr;
  }

  private openFile(attr: Attr): OpenFile {
    let f = this.files.get(attr.ino);
    if (!f) {
      f = new OpenFile(attr.ino, attr, {
        meta: this.meta,
        io: this.io,
        ids: this.ids,
        budget: this.budget,
        blockSize: this.bs,
        metaCall: this.metaCall.bind(this),
        budgetDeadlineMs: this.o.putDeadlineMs ?? VFS_DEFAULTS.putDeadlineMs,
        onAttr: (a) => this.resolver.putAttr(a),
      }, () => ({ uid: 0, gid: 0, sessionId: this.o.sessionId }));
      this.files.set(attr.ino, f);
    }
    return f;
  }

  /** Forget an open-file state nobody uses and that has nothing left to write. */
  private maybeDrop(f: OpenFile): void {
    if (f.handles === 0 && !f.isDirty && this.files.get(f.ino) === f) this.files.delete(f.ino);
  }

  private async setattr(ino: number, changes: SetAttrChanges, c: Caller): Promise<Attr> {
    const attr = await this.metaCall('setattr', () => this.meta.setattr(ino, changes, this.ctx(c, true)));
    this.resolver.putAttr(attr);
    this.files.get(ino)?.refresh(attr);
    return attr;
  }

  // ------------------------------------------------------------------ attributes

  async init(): Promise<void> {
    await this.disk?.init();
    const root = await this.resolver.getattr(ROOT_INO, { uid: 0, gid: 0, sessionId: this.o.sessionId }, true);
    if (root.type !== 'dir') throw new Error('volume root is not a directory');
  }

  async getattr(path: string, c: Caller): Promise<Attr> {
    return this.present(await this.resolve(path, c));
  }

  async fgetattr(path: string, fh: number, c: Caller): Promise<Attr> {
    const h = this.handle(fh);
    try {
      return this.present(await this.resolver.getattr(h.ino, this.ctx(c)));
    } catch (e) {
      // An unlinked file still held by this handle: answer from what the handle knows.
      if (isFsError(e, 'ENOENT') && h.file) return h.file.view({ ...h.file.attr, nlink: 0 });
      throw e;
    }
  }

  async access(path: string, mode: number, c: Caller): Promise<void> {
    const attr = await this.resolve(path, c);
    if ((mode & W_OK) && this.o.readOnly) throw new FsError('EROFS', 'read-only mount');
    if (!(await this.allowed(attr, mode & 7, c))) throw new FsError('EACCES');
  }

  async statfs(_path: string, c: Caller): Promise<StatFs> {
    return this.metaCall('statfs', () => this.meta.statfs(this.ctx(c)));
  }

  // ------------------------------------------------------------------ directories

  async opendir(path: string, _flags: number, c: Caller): Promise<number> {
    const attr = await this.resolve(path, c);
    if (attr.type !== 'dir') throw new FsError('ENOTDIR');
    await this.need(attr, R_OK, c);
    const fh = this.newFh();
    this.handles.set(fh, { fh, ino: attr.ino, flags: 0, dir: true, ra: { next: 0, window: 0 }, privChecked: true });
    return fh;
  }

  async readdir(path: string, c: Caller): Promise<{ name: string; attr: Attr }[]> {
    const dir = await this.resolve(path, c);
    if (dir.type !== 'dir') throw new FsError('ENOTDIR');
    const out: { name: string; attr: Attr }[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.metaCall('readdir', () => this.meta.readdir(dir.ino, this.ctx(c), cursor, 1000));
      for (const e of page.entries) {
        this.resolver.putEntry(dir.ino, e.name, e.attr);
        out.push({ name: e.name, attr: this.present(e.attr) });
      }
      cursor = page.next;
    } while (cursor !== undefined);
    return out;
  }

  async releasedir(_path: string, fh: number, _c: Caller): Promise<void> {
    const h = this.handle(fh);
    if (!h.dir) throw new FsError('EBADF');
    this.handles.delete(fh);
  }

  async fsyncdir(_path: string, fh: number, _datasync: boolean, _c: Caller): Promise<void> {
    // Namespace changes are committed by the metadata engine before each call returns.
    if (!this.handle(fh).dir) throw new FsError('ENOTDIR');
  }

  async mkdir(path: string, mode: number, c: Caller): Promise<void> {
    const { parent, name } = await this.parentForChange(path, c);
    const inh = await this.acls.inherit(parent, mode, true, c);
    const made = await this.metaCall('mkdir', () => this.meta.mkdir(parent.ino, name, S_IFDIR | this.acls.createPerm(mode, inh), this.ctx(c, true)));
    const attr = await this.acls.applyInherited(made, inh, c);
    this.resolver.putEntry(parent.ino, name, attr);
    this.resolver.dropAttr(parent.ino);
  }

  async rmdir(path: string, c: Caller): Promise<void> {
    const { parent, name } = await this.parentForChange(path, c);
    await this.metaCall('rmdir', () => this.meta.rmdir(parent.ino, name, this.ctx(c, true)));
    this.resolver.dropEntry(parent.ino, name);
    this.resolver.dropAttr(parent.ino);
  }

  // ------------------------------------------------------------------ files

  async mknod(path: string, mode: number, rdev: number, c: Caller): Promise<void> {
    const { parent, name } = await this.parentForChange(path, c);
    const full = (mode & S_IFMT) === 0 ? S_IFREG | mode : mode;
    if ((full & S_IFMT) === S_IFDIR) throw new FsError('EINVAL', 'mknod cannot make a directory');
    const inh = await this.acls.inherit(parent, full, false, c);
    const made = await this.metaCall('mknod', () =>
      this.meta.mknod(parent.ino, name, (full & S_IFMT) | this.acls.createPerm(full, inh), rdev, this.ctx(c, true)));
    const attr = await this.acls.applyInherited(made, inh, c);
    this.resolver.putEntry(parent.ino, name, attr);
    this.resolver.dropAttr(parent.ino);
  }

  async create(path: string, mode: number, flags: number, c: Caller): Promise<number> {
    const { parent, name } = await this.parentForChange(path, c);
    const inh = await this.acls.inherit(parent, mode, false, c);
    let attr: Attr;
    try {
      attr = await this.metaCall('create', () =>
        this.meta.create(parent.ino, name, S_IFREG | this.acls.createPerm(mode, inh), this.ctx(c, true), true));
    } catch (e) {
      // O_CREAT without O_EXCL on a name that appeared meanwhile: open the existing file.
      if (isFsError(e, 'EEXIST') && !(flags & fsc.O_EXCL)) return this.open(path, flags & ~fsc.O_CREAT, c);
      throw e;
    }
    attr = await this.acls.applyInherited(attr, inh, c);
    this.resolver.putEntry(parent.ino, name, attr);
    this.resolver.dropAttr(parent.ino);
    return this.addFileHandle(attr, flags);
  }

  async open(path: string, flags: number, c: Caller): Promise<number> {
    const attr = await this.resolve(path, c);
    const acc = flags & O_ACCMODE;
    const wantsWrite = acc !== fsc.O_RDONLY || (flags & fsc.O_TRUNC) !== 0;
    if (attr.type === 'dir' && wantsWrite) throw new FsError('EISDIR');
    if (attr.type === 'symlink') throw new FsError('ELOOP');
    if (wantsWrite) this.writable();
    // execve opens for execute, not for reading (a 0711 program runs for others).
    const reads = acc !== fsc.O_WRONLY && !(flags & FMODE_EXEC);
    await this.need(attr, (reads ? R_OK : 0) | (wantsWrite ? W_OK : 0) | (flags & FMODE_EXEC ? X_OK : 0), c);
    let fresh: Attr;
    try {
      fresh = await this.metaCall('open', () => this.meta.open(attr.ino, this.ctx(c)));
    } catch (e) {
      // Close-to-open: the name was resolved from the entry cache, but another client has since
      // replaced or removed the file. Resolve it afresh and open what the name is now.
      if (!isFsError(e, 'ENOENT')) throw e;
      const again = await this.resolveFresh(path, c);
      if (again.ino === attr.ino) throw e;
      return this.open(path, flags, c);
    }
    this.resolver.putAttr(fresh);
    let fh: number;
    try {
      fh = this.addFileHandle(fresh, flags);
      const file = this.handles.get(fh)!.file!;
      if ((flags & fsc.O_TRUNC) && fresh.type === 'file' && file.size > 0) {
        this.resolver.putAttr(await file.truncate(0));
      }
    } catch (e) {
      await this.metaCall('release', () => this.meta.release(attr.ino, this.ctx(c))).catch(() => undefined);
      throw e;
    }
    return fh;
  }

  /** relatime: bump atime on a handle's first read when it is older than mtime or a day old (ctime stays). */
  private touchAtime(attr: Attr, c: Caller): void {
    if (this.o.noAtime || this.o.readOnly || attr.type !== 'file') return;
    const now = BigInt(Date.now()) * 1_000_000n;
    if (attr.atime > attr.mtime && now - attr.atime < DAY_NS) return;
    this.metaCall('setattr', () => this.meta.setattr(attr.ino, { atime: 'now', keepCtime: true }, this.ctx(c)))
      .then((a) => this.resolver.putAttr(a))
      .catch(() => undefined);
  }

  private addFileHandle(attr: Attr, flags: number): number {
    const file = this.openFile(attr);
    file.refresh(attr);
    file.handles++;
    const fh = this.newFh();
    this.handles.set(fh, { fh, ino: attr.ino, flags, dir: false, file, ra: { next: 0, window: 0 }, privChecked: false,
      atimeDue: (flags & O_ACCMODE) !== fsc.O_WRONLY });
    return fh;
  }

  async read(_path: string, fh: number, buf: Buffer, length: number, position: number, c: Caller): Promise<number> {
    const h = this.fileHandle(fh);
    if ((h.flags & O_ACCMODE) === fsc.O_WRONLY) throw new FsError('EBADF', 'handle not open for reading');
    if (position < 0) throw new FsError('EINVAL');
    if (h.atimeDue) {
      h.atimeDue = false;
      this.touchAtime(this.present(h.file.attr), c);
    }
    const n = await h.file.read(buf.subarray(0, Math.min(length, buf.length)), position);
    this.readahead(h, position, n);
    return n;
  }

  /** Sequential readers get a window that doubles up to readaheadMax; random readers none. */
  private readahead(h: Handle, position: number, n: number): void {
    const ra = h.ra;
    if (this.readaheadMax < this.bs) return; // readahead switched off
    if (position === ra.next && n > 0) ra.window = Math.min(this.readaheadMax, Math.max(this.bs, ra.window * 2));
    else ra.window = 0;
    ra.next = position + n;
    if (ra.window === 0 || !h.file) return;
    const from = Math.floor(ra.next / this.bs);
    const to = Math.floor((ra.next + ra.window - 1) / this.bs);
    h.file.prefetch(from, to - from + 1);
  }

  async write(_path: string, fh: number, buf: Buffer, length: number, position: number, c: Caller): Promise<number> {
    const h = this.fileHandle(fh);
    if ((h.flags & O_ACCMODE) === fsc.O_RDONLY) throw new FsError('EBADF', 'handle not open for writing');
    this.writable();
    if (!h.privChecked) {
      h.privChecked = true;
      await this.killPriv(h.ino, c);
    }
    const pos = h.flags & fsc.O_APPEND ? h.file.size : position;
    return h.file.write(buf.subarray(0, Math.min(length, buf.length)), pos);
  }

  /** A write or truncate by an unprivileged caller clears setuid/setgid (privBitsToDrop). */
  private async killPriv(ino: number, c: Caller): Promise<void> {
    if (c.uid === 0) return;
    const attr = await this.resolver.getattr(ino, this.ctx(c));
    const kill = await privBitsToDrop(attr, c, this.groups);
    if (kill) await this.setattr(ino, { mode: attr.mode & 0o7777 & ~kill }, { uid: 0, gid: 0, pid: 0 });
  }

  async flush(_path: string, fh: number, _c: Caller): Promise<void> {
    const h = this.handle(fh);
    if (h.file) await h.file.flush();
  }

  async fsync(_path: string, fh: number, _datasync: boolean, _c: Caller): Promise<void> {
    const h = this.handle(fh);
    if (h.file) await h.file.flush();
  }

  async release(_path: string, fh: number, c: Caller): Promise<void> {
    const h = this.handle(fh);
    this.handles.delete(fh);
    if (!h.file) return;
    const f = h.file;
    let failure: unknown;
    try {
      await f.flush();
    } catch (e) {
      failure = e; // dirty data stays in f for a later flush (next open, destroy)
    }
    f.handles--;
    try {
      await this.metaCall('release', () => this.meta.release(h.ino, this.ctx(c)));
    } catch (e) {
      failure ??= e;
    }
    this.maybeDrop(f);
    if (failure) throw failure;
  }

  async truncate(path: string, size: number, c: Caller): Promise<void> {
    this.writable();
    const attr = await this.resolve(path, c);
    if (attr.type === 'dir') throw new FsError('EISDIR');
    if (attr.type !== 'file') throw new FsError('EINVAL', 'not a regular file');
    await this.need(attr, W_OK, c);
    // Without an open state, start from fresh attributes (the cache may be a TTL old).
    const base = this.files.has(attr.ino) ? attr : await this.resolver.getattr(attr.ino, this.ctx(c), true);
    await this.doTruncate(base, size, c);
  }

  async ftruncate(_path: string, fh: number, size: number, c: Caller): Promise<void> {
    const h = this.fileHandle(fh);
    if ((h.flags & O_ACCMODE) === fsc.O_RDONLY) throw new FsError('EINVAL', 'handle not open for writing');
    this.writable();
    await this.doTruncate(h.file.attr, size, c);
  }

  private async doTruncate(attr: Attr, size: number, c: Caller): Promise<void> {
    const f = this.openFile(attr);
    try {
      const a = await f.truncate(size);
      this.resolver.putAttr(a);
      await this.killPriv(attr.ino, c);
    } finally {
      this.maybeDrop(f);
    }
  }

  // ------------------------------------------------------------------ names

  async unlink(path: string, c: Caller): Promise<void> {
    const { parent, name } = await this.parentForChange(path, c);
    const target = await this.resolver.lookup(parent.ino, name, this.ctx(c)).catch(() => undefined);
    if (target?.type === 'dir') throw new FsError('EISDIR');
    await this.metaCall('unlink', () => this.meta.unlink(parent.ino, name, this.ctx(c, true)));
    this.resolver.dropEntry(parent.ino, name);
    this.resolver.dropAttr(parent.ino);
    if (target) this.resolver.dropAttr(target.ino);
  }

  async rename(src: string, dest: string, c: Caller): Promise<void> {
    const from = await this.parentForChange(src, c);
    const to = await this.parentForChange(dest, c);
    const moved = await this.resolver.lookup(from.parent.ino, from.name, this.ctx(c)).catch(() => undefined);
    const replaced = await this.resolver.lookup(to.parent.ino, to.name, this.ctx(c)).catch(() => undefined);
    // Moving a directory elsewhere rewrites its "..": write permission on it (Linux vfs_rename).
    if (moved?.type === 'dir' && from.parent.ino !== to.parent.ino) await this.need(moved, W_OK, c);
    try {
      await this.metaCall('rename', () =>
        this.meta.rename(from.parent.ino, from.name, to.parent.ino, to.name, this.ctx(c, true)));
    } finally {
      this.resolver.dropEntry(from.parent.ino, from.name);
      this.resolver.dropEntry(to.parent.ino, to.name);
      this.resolver.dropAttr(from.parent.ino);
      this.resolver.dropAttr(to.parent.ino);
      if (moved) this.resolver.dropAttr(moved.ino);
      if (replaced) this.resolver.dropAttr(replaced.ino);
    }
  }

  async link(target: string, path: string, c: Caller): Promise<void> {
    this.writable();
    const existing = await this.resolve(target, c);
    if (existing.type === 'dir') throw new FsError('EPERM', 'hard links to directories are not allowed');
    // protected_hardlinks (the Linux default): others' files need read and write permission.
    if (c.uid !== 0 && c.uid !== existing.uid && this.checkPerms && !(await this.allowed(existing, R_OK | W_OK, c))) {
      throw new FsError('EPERM', 'linking a file of another user needs read and write permission on it');
    }
    const { parent, name } = await this.parentForChange(path, c);
    const attr = await this.metaCall('link', () => this.meta.link(existing.ino, parent.ino, name, this.ctx(c, true)));
    this.resolver.putEntry(parent.ino, name, attr);
    this.resolver.dropAttr(parent.ino);
  }

  async symlink(target: string, path: string, c: Caller): Promise<void> {
    const { parent, name } = await this.parentForChange(path, c);
    if (target.length === 0) throw new FsError('ENOENT', 'empty symlink target');
    if (Buffer.byteLength(target) >= 4096) throw new FsError('ENAMETOOLONG', 'symlink target longer than PATH_MAX');
    const attr = await this.metaCall('symlink', () => this.meta.symlink(parent.ino, name, target, this.ctx(c, true)));
    this.resolver.putEntry(parent.ino, name, attr);
    this.resolver.dropAttr(parent.ino);
  }

  async readlink(path: string, c: Caller): Promise<string> {
    const attr = await this.resolve(path, c);
    if (attr.type !== 'symlink') throw new FsError('EINVAL', 'not a symbolic link');
    return this.metaCall('readlink', () => this.meta.readlink(attr.ino, this.ctx(c)));
  }

  // ------------------------------------------------------------------ ownership, mode, times

  async chmod(path: string, mode: number, c: Caller): Promise<void> {
    this.writable();
    const attr = await this.resolve(path, c);
    if (!(await mayChmod(attr, mode & 0o7777, c, () => this.allowed(attr, W_OK, c)))) throw new FsError('EPERM', 'only the owner or root may change the mode');
    let perm = mode & 0o7777;
    // Linux: an unprivileged owner outside the file's group cannot set setgid on it (silently dropped).
    if (c.uid !== 0 && attr.type !== 'dir' && (perm & S_ISGID) && !(await this.groups.inGroup(c, attr.gid))) perm &= ~S_ISGID;
    await this.acls.afterChmod(await this.setattr(attr.ino, { mode: perm }, c), c);
  }

  async chown(path: string, uid: number, gid: number, c: Caller): Promise<void> {
    this.writable();
    const attr = await this.resolve(path, c);
    const newUid = uid === NO_ID || uid === -1 ? undefined : uid;
    const newGid = gid === NO_ID || gid === -1 ? undefined : gid;
    if (c.uid !== 0) {
      if (newUid !== undefined && newUid !== attr.uid) throw new FsError('EPERM', 'only root may change the owner');
      if (c.uid !== attr.uid && (newUid !== undefined || newGid !== undefined)) throw new FsError('EPERM', 'not the owner');
      if (newGid !== undefined && newGid !== attr.gid && !(await this.groups.inGroup(c, newGid))) {
        throw new FsError('EPERM', 'the owner may only change the group to one it belongs to');
      }
    }
    const changes: SetAttrChanges = {};
    if (newUid !== undefined) changes.uid = newUid;
    if (newGid !== undefined) changes.gid = newGid;
    // Changing ownership of a non-directory clears setuid, and setgid when group-executable.
    if (attr.type !== 'dir' && (newUid !== undefined || newGid !== undefined)) {
      const kill = (attr.mode & S_ISUID) | ((attr.mode & S_ISGID) && (attr.mode & 0o010) ? S_ISGID : 0);
      if (kill) changes.mode = attr.mode & 0o7777 & ~kill;
    }
    await this.setattr(attr.ino, changes, c);
  }

  async utimens(path: string, atime: bigint | 'now' | undefined, mtime: bigint | 'now' | undefined, c: Caller): Promise<void> {
    this.writable();
    const attr = await this.resolve(path, c);
    if (c.uid !== 0 && c.uid !== attr.uid && (atime !== undefined || mtime !== undefined)) {
      // Linux: only both times "now" (utimensat with NULL) is open to a writer; a time given or
      // omitted makes it an explicit change.
      if (atime !== 'now' || mtime !== 'now') throw new FsError('EPERM', 'only the owner may set explicit times');
      if (!(await this.allowed(attr, W_OK, c))) throw new FsError('EACCES');
    }
    const changes: SetAttrChanges = {};
    if (atime !== undefined) changes.atime = atime;
    if (mtime !== undefined) changes.mtime = mtime;
    if (atime === undefined && mtime === undefined) return;
    // Pending writes would commit their own mtime later (cp -p writes, sets times, closes).
    const f = this.files.get(attr.ino);
    if (f && mtime !== undefined) await f.flush();
    await this.setattr(attr.ino, changes, c);
  }

  // ------------------------------------------------------------------ xattrs

  async setxattr(path: string, name: string, value: Buffer, flags: number, c: Caller): Promise<void> {
    this.writable();
    const attr = await this.resolve(path, c);
    if (isAclName(name)) return this.acls.setxattr(attr, name, value, c);
    await this.needXattrWrite(attr, name, c);
    await this.metaCall('setxattr', () => this.meta.setxattr(attr.ino, name, Buffer.from(value), flags, this.ctx(c, true)))
      .finally(() => this.xattrAbsent.forget(attr.ino));
    this.resolver.dropAttr(attr.ino);
  }

  async getxattr(path: string, name: string, c: Caller): Promise<Buffer> {
    const attr = await this.resolve(path, c);
    if (isAclName(name)) return this.acls.getxattr(attr, name, c);
    if (name.startsWith('user.')) await this.need(attr, R_OK, c);
    return this.xattrAbsent.get(attr.ino, name,
      () => this.metaCall('getxattr', () => this.meta.getxattr(attr.ino, name, this.ctx(c))));
  }

  async listxattr(path: string, c: Caller): Promise<string[]> {
    const attr = await this.resolve(path, c);
    return this.acls.visible(await this.metaCall('listxattr', () => this.meta.listxattr(attr.ino, this.ctx(c))));
  }

  async removexattr(path: string, name: string, c: Caller): Promise<void> {
    this.writable();
    const attr = await this.resolve(path, c);
    if (isAclName(name)) return this.acls.removexattr(attr, name, c);
    await this.needXattrWrite(attr, name, c);
    await this.metaCall('removexattr', () => this.meta.removexattr(attr.ino, name, this.ctx(c, true)))
      .finally(() => this.xattrAbsent.forget(attr.ino));
    this.resolver.dropAttr(attr.ino);
  }

  /** Writing user.* xattrs needs write permission; trusted.* and security.* are root's (Linux). */
  private async needXattrWrite(attr: Attr, name: string, c: Caller): Promise<void> {
    if (c.uid === 0) return;
    if (/^(trusted|security)\./.test(name)) throw new FsError('EPERM', 'only root may change trusted and security xattrs');
    if (c.uid !== attr.uid && !name.startsWith('user.')) throw new FsError('EPERM');
    await this.need(attr, W_OK, c);
  }

  // ------------------------------------------------------------------ lifecycle

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const results = await Promise.allSettled([...this.files.values()].map((f) => f.flush()));
    const sys = { uid: 0, gid: 0, sessionId: this.o.sessionId };
    for (const h of [...this.handles.values()]) {
      this.handles.delete(h.fh);
      if (h.file) {
        h.file.handles--;
        await this.metaCall('release', () => this.meta.release(h.ino, sys)).catch(() => undefined);
      }
    }
    this.files.clear();
    await this.o.codec.close();
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
  }

  /** Bytes of dirty data held right now (tests, metrics). */
  get dirtyBytes(): number {
    return this.budget.bytes;
  }
}
