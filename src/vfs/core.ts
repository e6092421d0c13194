import { constants as fsc } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { FsError, isFsError } from '../errors/index.js';
import { ROOT_INO, type Attr, type DirEntry, type MetaStore, type OpContext, type SetAttrChanges, type StatFs } from '../meta/types.js';
import { MemoryBlockCache, defaultMemoryCacheBytes } from '../cache/memory.js';
import { DiskFrameCache } from '../cache/disk.js';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, type AttrChanges, type Caller, type InodeFs, type OpenResult } from './types.js';
import { VFS_DEFAULTS, type FileSystemOptions } from './options.js';
import { BlockIO } from './blockio.js';
import { BlockIdAllocator } from './ids.js';
import { DirtyBudget } from './budget.js';
import { OpenFile } from './openfile.js';
import { MetaCache } from './meta-cache.js';
import { HandleTable, type FileHandle } from './handles.js';
import { ReadaheadDetector } from './readahead.js';
import { AccessPolicy, GroupLookup, privBitsToDrop, R_OK, W_OK, X_OK } from './permissions.js';
import { AclStore } from './acl-store.js';
import { isAclName } from './acl.js';
import { withDeadline } from './deadline.js';
import { XattrAbsenceCache } from './xattr-absence.js';
import { S_IFDIR, S_IFMT, S_IFREG, S_ISGID, S_ISUID } from '../util/mode.js';
import { NAME_MAX } from '../meta/core/rules.js';

const O_ACCMODE = 3;
const FMODE_EXEC = 0x20; // in the open flags of an execve (the kernel leaves the x check to us without default_permissions)
const DAY_NS = 86_400n * 1_000_000_000n;
/** Inodes whose last-open data version is remembered for keep_cache (bounded). */
const VERSIONS_MAX = 100_000;

/**
 * The POSIX core, by inode (InodeFs): checks permissions (AccessPolicy), keeps the handle table
 * and the per-inode open-file state, and maps every operation onto MetaStore calls and block
 * I/O. Metadata answers are cached in MetaCache; every change reports what it made stale
 * (invalidation.ts).
 */
export class FsCore implements InodeFs {
  readonly io: BlockIO;
  readonly budget: DirtyBudget;
  readonly memory: MemoryBlockCache;
  readonly disk?: DiskFrameCache;
  readonly cache: MetaCache;
  private readonly meta: MetaStore;
  private readonly ids: BlockIdAllocator;
  private readonly policy: AccessPolicy;
  private readonly xattrAbsent = new XattrAbsenceCache();
  private readonly handles = new HandleTable();
  private readonly files = new Map<number, OpenFile>();
  /** ino → "mtime:size" when this mount last opened it (keep_cache decision). */
  private readonly versions = new Map<number, string>();
  private readonly bs: number;
  private readonly metaDeadlineMs: number;
  private readonly readaheadMax: number;
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
    this.cache = new MetaCache(o.meta, o.attrTtlMs ?? VFS_DEFAULTS.attrTtlMs, call);
    const sys: OpContext = { uid: 0, gid: 0, sessionId: o.sessionId };
    this.ids = new BlockIdAllocator(o.meta, () => sys, VFS_DEFAULTS.idBatch, call);
    const groups = new GroupLookup();
    this.acls = new AclStore({
      meta: o.meta, metaCall: call, ttlMs: o.attrTtlMs ?? VFS_DEFAULTS.attrTtlMs, enabled: o.acl ?? true,
      ctx: (c, mutation) => this.ctx(c, mutation),
      setMode: (ino, perm, c) => this.setMeta(ino, { mode: perm }, c),
      inGroup: (c, gid) => groups.inGroup(c, gid),
    });
    this.policy = new AccessPolicy(o.checkPermissions ?? true, o.umask ?? 0, groups, this.acls);
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
        onAttr: (a) => this.cache.putAttr(a),
      }, () => ({ uid: 0, gid: 0, sessionId: this.o.sessionId }));
      this.files.set(attr.ino, f);
    }
    return f;
  }

  /** Forget an open-file state nobody uses and that has nothing left to write. */
  private maybeDrop(f: OpenFile): void {
    if (f.handles === 0 && !f.isDirty && this.files.get(f.ino) === f) this.files.delete(f.ino);
  }

  /** One setattr at the metadata server; caches and the open-file state take the answer. */
  private async setMeta(ino: number, changes: SetAttrChanges, c: Caller): Promise<Attr> {
    const attr = await this.metaCall('setattr', () => this.meta.setattr(ino, changes, this.ctx(c, true)));
    this.cache.putAttr(attr);
    this.files.get(ino)?.refresh(attr);
    return attr;
  }

  /** A new inode's entry: ACLs inherited from the parent applied, the caches told. */
  private async made(parent: number, name: string, attr: Attr): Promise<Attr> {
    this.cache.changed({ kind: 'create', parent, name, ino: attr.ino });
    this.cache.putEntry(parent, name, attr);
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
    return this.present(await this.cache.lookup(parent, name, this.ctx(c)));
  }

  async getattr(ino: number, c: Caller, fh?: number): Promise<Attr> {
    try {
      return this.present(await this.cache.getattr(ino, this.ctx(c)));
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
    return this.present(attr);
  }

  private async truncate(attr: Attr, size: number, h: FileHandle | undefined, c: Caller): Promise<Attr> {
    if (attr.type === 'dir') throw new FsError('EISDIR');
    if (attr.type !== 'file') throw new FsError('EINVAL', 'not a regular file');
    // ftruncate needs a handle open for writing (the kernel checks that); otherwise write permission.
    if (!h || (h.flags & O_ACCMODE) === fsc.O_RDONLY) await this.policy.need(attr, W_OK, c);
    // Without an open state, start from fresh attributes (the cache may be a TTL old).
    const base = this.files.has(attr.ino) ? attr : await this.cache.getattr(attr.ino, this.ctx(c), true);
    const f = this.openFile(base);
    try {
      const a = await f.truncate(size);
      this.cache.putAttr(a);
      return (await this.killPriv(a, c)) ?? a;
    } finally {
      this.maybeDrop(f);
    }
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
    return this.present(attr);
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
      const h = this.addFileHandle(fresh, flags);
      if ((flags & fsc.O_TRUNC) && fresh.type === 'file' && h.file.size > 0) this.cache.putAttr(await h.file.truncate(0));
      return { fh: h.fh, keepCache: this.sameVersion(this.present(fresh)) };
    } catch (e) {
      await this.metaCall('release', () => this.meta.release(ino, this.ctx(c))).catch(() => undefined);
      throw e;
    }
  }

  /** Whether the data is what it was at this mount's last open of the inode (and remember it). */
  private sameVersion(attr: Attr): boolean {
    const v = `${attr.mtime}:${attr.size}`;
    const same = this.versions.get(attr.ino) === v;
    if (!same) {
      if (this.versions.size >= VERSIONS_MAX) this.versions.clear();
      this.versions.set(attr.ino, v);
    }
    return same;
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
    const h = this.addFileHandle(attr, flags);
    this.sameVersion(attr);
    return { fh: h.fh, keepCache: false, attr: this.present(attr) };
  }

  private addFileHandle(attr: Attr, flags: number): FileHandle {
    const file = this.openFile(attr);
    file.refresh(attr);
    file.handles++;
    return this.handles.addFile(attr.ino, flags, file, new ReadaheadDetector(this.bs, this.readaheadMax),
      (flags & O_ACCMODE) !== fsc.O_WRONLY);
  }

  /** relatime: bump atime on a handle's first read when it is older than mtime or a day old (ctime stays). */
  private touchAtime(attr: Attr, c: Caller): void {
    if (this.o.noAtime || this.o.readOnly || attr.type !== 'file') return;
    const now = BigInt(Date.now()) * 1_000_000n;
    if (attr.atime > attr.mtime && now - attr.atime < DAY_NS) return;
    this.metaCall('setattr', () => this.meta.setattr(attr.ino, { atime: 'now', keepCtime: true }, this.ctx(c)))
      .then((a) => this.cache.putAttr(a))
      .catch(() => undefined);
  }

  async read(fh: number, buf: Buffer, length: number, position: number, c: Caller): Promise<number> {
    const h = this.handles.file(fh);
    if ((h.flags & O_ACCMODE) === fsc.O_WRONLY) throw new FsError('EBADF', 'handle not open for reading');
    if (position < 0) throw new FsError('EINVAL');
    if (h.atimeDue) {
      h.atimeDue = false;
      this.touchAtime(this.present(h.file.attr), c);
    }
    const n = await h.file.read(buf.subarray(0, Math.min(length, buf.length)), position);
    const ahead = h.readahead.next(position, n);
    if (ahead) h.file.prefetch(ahead.from, ahead.count);
    return n;
  }

  async write(fh: number, data: Buffer, position: number, c: Caller): Promise<number> {
    const h = this.handles.file(fh);
    if ((h.flags & O_ACCMODE) === fsc.O_RDONLY) throw new FsError('EBADF', 'handle not open for writing');
    this.writable();
    if (!h.privChecked) {
      h.privChecked = true;
      await this.killPriv(await this.cache.getattr(h.ino, this.ctx(c)), c);
    }
    const pos = h.flags & fsc.O_APPEND ? h.file.size : position;
    return h.file.write(data, pos);
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
    if (h.kind !== 'file') return;
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
    // What this mount wrote is what it opens next time: the page cache holds those bytes.
    this.versions.set(f.ino, `${f.view(f.attr).mtime}:${f.size}`);
    this.maybeDrop(f);
    if (failure) throw failure;
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
        out.push({ name: e.name, attr: this.present(e.attr) });
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
    const attr = await this.cache.getattr(ino, this.ctx(c));
    if (isAclName(name)) return this.acls.setxattr(attr, name, value, c);
    await this.policy.checkXattrWrite(attr, name, c);
    await this.metaCall('setxattr', () => this.meta.setxattr(ino, name, Buffer.from(value), flags, this.ctx(c, true)))
      .finally(() => this.xattrAbsent.forget(ino));
    this.cache.changed({ kind: 'xattr', ino });
  }

  async getxattr(ino: number, name: string, c: Caller): Promise<Buffer> {
    const attr = await this.cache.getattr(ino, this.ctx(c));
    if (isAclName(name)) return this.acls.getxattr(attr, name, c);
    await this.policy.checkXattrRead(attr, name, c);
    return this.xattrAbsent.get(ino, name, () => this.metaCall('getxattr', () => this.meta.getxattr(ino, name, this.ctx(c))));
  }

  async listxattr(ino: number, c: Caller): Promise<string[]> {
    return this.acls.visible(await this.metaCall('listxattr', () => this.meta.listxattr(ino, this.ctx(c))));
  }

  async removexattr(ino: number, name: string, c: Caller): Promise<void> {
    this.writable();
    const attr = await this.cache.getattr(ino, this.ctx(c));
    if (isAclName(name)) return this.acls.removexattr(attr, name, c);
    await this.policy.checkXattrWrite(attr, name, c);
    await this.metaCall('removexattr', () => this.meta.removexattr(ino, name, this.ctx(c, true)))
      .finally(() => this.xattrAbsent.forget(ino));
    this.cache.changed({ kind: 'xattr', ino });
  }

  // ------------------------------------------------------------------ lifecycle

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const results = await Promise.allSettled([...this.files.values()].map((f) => f.flush()));
    const sys = { uid: 0, gid: 0, sessionId: this.o.sessionId };
    for (const h of this.handles.all()) {
      this.handles.delete(h.fh);
      if (h.kind === 'file') {
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

/** A name in a directory: not empty, no "/", at most NAME_MAX bytes (the kernel checks most of it). */
function checkName(name: string): void {
  if (Buffer.byteLength(name) > NAME_MAX) throw new FsError('ENAMETOOLONG', `name longer than ${NAME_MAX} bytes`);
}
