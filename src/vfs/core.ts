import { constants as fsc } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { FsError, isFsError } from '../errors/index.js';
import { ROOT_INO, type Attr, type BlockRef, type ChangeListener, type DirEntry, type MetaStore, type OpContext, type StatFs } from '../meta/types.js';
import type { AttrChanges, Caller, InodeFs, OpenResult, RecordLock } from './types.js';
import { VFS_DEFAULTS, type FileSystemOptions } from './options.js';
import { FILE_PREFETCH_DEFAULTS } from '../config/defaults.js';
import { OpenFiles } from './open-files.js';
import { Xattrs } from './xattrs.js';
import { buildCoreParts, type CoreParts } from './parts.js';
import type { MemoryBlockCache } from '../cache/memory.js';
import type { DiskFrameCache } from '../cache/disk.js';
import type { BlockIO } from './blockio.js';
import type { DirtyBudget } from './budget.js';
import { MetaCache } from './meta-cache.js';
import { ListingPrefetch } from './listing-prefetch.js';
import { FilePrefetch, type ListedFile } from './file-prefetch.js';
import { dropOthersChanges } from './coherence.js';
import { HandleTable, type FileHandle } from './handles.js';
import { AccessPolicy, GroupLookup, R_OK, W_OK, X_OK } from './permissions.js';
import { AclStore } from './acl-store.js';
import { withDeadline } from './deadline.js';
import { S_IFREG } from '../util/mode.js';
import { Namespace, checkName } from './namespace.js';
import { AttrOps } from './attr-ops.js';
import { MountLocks } from './locks.js';

/** Slots per block-map request of committedBlocks. */
const BLOCK_MAP_PAGE = 1024;

const O_ACCMODE = 3;
const FMODE_EXEC = 0x20; // in the open flags of an execve (the kernel leaves the x check to us without default_permissions)

/**
 * The POSIX core, by inode (InodeFs): checks permissions (AccessPolicy), keeps the handle table
 * and maps every operation onto MetaStore calls. Namespace changes are Namespace's
 * (namespace.ts), setattr and the setuid/setgid rules AttrOps' (attr-ops.ts), the open files'
 * data path OpenFiles', the xattrs' Xattrs'; every public operation stays a method here (the
 * per-op metrics decorate this class's methods). The block-side parts (CoreParts) are injected or built from the options.
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
  private readonly names: Namespace;
  private readonly attrs: AttrOps;
  private readonly prefetch: ListingPrefetch;
  private readonly filePrefetch: FilePrefetch;
  private readonly locks: MountLocks;
  private destroyed = false;
  private readonly unwatch?: () => void;

  constructor(private readonly o: FileSystemOptions, parts: CoreParts = buildCoreParts(o)) {
    const bs = o.settings.blockSize;
    if (!Number.isInteger(bs) || bs < 4096) throw new Error(`volume block size ${bs} is not valid`);
    this.meta = o.meta;
    this.metaDeadlineMs = o.metaDeadlineMs ?? VFS_DEFAULTS.metaDeadlineMs;
    ({ memory: this.memory, disk: this.disk, io: this.io, budget: this.budget } = parts);
    const call = this.metaCall.bind(this);
    const ctx = (c: Caller, mutation?: boolean) => this.ctx(c, mutation);
    const unheardMs = o.attrTtlMs ?? VFS_DEFAULTS.attrTtlMs;
    const heardMs = o.attrTtlHeardMs ?? unheardMs;
    // While the store hears others' changes they are dropped as they come: trust longer.
    const ttlMs = heardMs === unheardMs ? () => unheardMs : () => (this.hearsOthers() ? heardMs : unheardMs);
    this.cache = new MetaCache(o.meta, ttlMs, call);
    const groups = new GroupLookup();
    this.acls = new AclStore({
      meta: o.meta, metaCall: call, ttlMs, enabled: o.acl ?? true, ctx,
      setMode: (ino, perm, c) => this.attrs.setMeta(ino, { mode: perm }, c),
      inGroup: (c, gid) => groups.inGroup(c, gid),
    });
    this.policy = new AccessPolicy(o.checkPermissions ?? true, o.umask ?? 0, groups, this.acls);
    this.files = new OpenFiles({
      meta: o.meta, io: this.io, ids: parts.ids, budget: this.budget, cache: this.cache, handles: this.handles,
      blockSize: bs, readaheadMax: parts.readaheadMax, budgetDeadlineMs: o.putDeadlineMs ?? VFS_DEFAULTS.putDeadlineMs,
      noAtime: !!o.noAtime, readOnly: !!o.readOnly, sessionId: o.sessionId, metaCall: call, ctx, recovery: o.recovery,
      killPriv: (attr, c) => this.attrs.killPriv(attr, c),
    });
    this.xattrs = new Xattrs({ meta: o.meta, cache: this.cache, acls: this.acls, policy: this.policy, metaCall: call, ctx });
    const shared = { meta: o.meta, cache: this.cache, policy: this.policy, acls: this.acls, files: this.files, metaCall: call, ctx, writable: () => this.writable() };
    this.names = new Namespace({ ...shared, xattrs: this.xattrs });
    this.attrs = new AttrOps({ ...shared, getattr: (ino, c, fh) => this.getattr(ino, c, fh), fileOf: (fh) => this.fileOf(fh) });
    this.prefetch = new ListingPrefetch({
      held: (dir) => this.cache.listings.has(dir),
      fetch: async (dir, ctx) => { await this.fetchListing(dir, ctx); this.cache.stats.listingsPrefetched++; },
      enabled: () => this.hearsOthers() && !this.destroyed,
    });
    this.filePrefetch = new FilePrefetch((f, ctx) => this.warmFile(f, ctx));
    this.locks = new MountLocks({ meta: o.meta, ctx: (c) => this.ctx(c), retryMs: o.lockRetryMs });
    this.unwatch = o.meta.watch?.((c) => dropOthersChanges({ meta: this.cache, xattrs: this.xattrs, acls: this.acls }, c));
  }

  /**
   * Hear what other mounts change, after this core's caches dropped it (the FUSE layer tells the
   * kernel). A MetaStore without `watch` (an embedded volume) has no other mounts: never called.
   */
  watchOthers(listener: ChangeListener): () => void {
    return this.o.meta.watch?.(listener) ?? (() => undefined);
  }

  /** True while other mounts' changes reach watchOthers' listeners (a connected meta.flexfs session). */
  hearsOthers(): boolean {
    return this.o.meta.hearsChanges?.() ?? false;
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

  /** The file handle `fh` names, if any (a directory's handle or none: undefined). */
  private fileOf(fh: number | undefined): FileHandle | undefined {
    if (fh === undefined) return undefined;
    const h = this.handles.get(fh);
    return h.kind === 'file' ? h : undefined;
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
    if (this.policy.searchChecked(c)) await this.names.dirFor(parent, c);
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

  async readlink(ino: number, c: Caller): Promise<string> {
    const attr = await this.cache.getattr(ino, this.ctx(c));
    if (attr.type !== 'symlink') throw new FsError('EINVAL', 'not a symbolic link');
    return this.metaCall('readlink', () => this.meta.readlink(ino, this.ctx(c)));
  }

  setattr(ino: number, changes: AttrChanges, c: Caller, fh?: number): Promise<Attr> {
    return this.attrs.setattr(ino, changes, c, fh);
  }

  // ------------------------------------------------------------------ names (namespace.ts)

  mknod(parent: number, name: string, mode: number, rdev: number, c: Caller): Promise<Attr> {
    return this.names.mknod(parent, name, mode, rdev, c);
  }
  mkdir(parent: number, name: string, mode: number, c: Caller): Promise<Attr> {
    return this.names.mkdir(parent, name, mode, c);
  }
  symlink(parent: number, name: string, target: string, c: Caller): Promise<Attr> {
    return this.names.symlink(parent, name, target, c);
  }
  link(ino: number, newParent: number, newName: string, c: Caller): Promise<Attr> {
    return this.names.link(ino, newParent, newName, c);
  }
  unlink(parent: number, name: string, c: Caller): Promise<void> {
    return this.names.unlink(parent, name, c);
  }
  rmdir(parent: number, name: string, c: Caller): Promise<void> {
    return this.names.rmdir(parent, name, c);
  }
  rename(parent: number, name: string, newParent: number, newName: string, flags: number, c: Caller): Promise<void> {
    return this.names.rename(parent, name, newParent, newName, flags, c);
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
    if (reads && fresh.type === 'file') this.filePrefetch.opened(ino, this.ctx(c));
    try {
      return await this.files.opened(fresh, flags);
    } catch (e) {
      await this.metaCall('release', () => this.meta.release(ino, this.ctx(c))).catch(() => undefined);
      throw e;
    }
  }

  async create(parent: number, name: string, mode: number, flags: number, c: Caller): Promise<OpenResult & { attr: Attr }> {
    const dir = await this.names.dirForChange(parent, name, c);
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
    attr = await this.names.made(parent, name, await this.acls.applyInherited(attr, inh, c));
    return { ...this.files.created(attr, flags), attr: this.files.present(attr) };
  }

  async read(fh: number, length: number, position: number, c: Caller, fill = false): Promise<Uint8Array> {
    return this.files.read(this.handles.file(fh), length, position, c, fill);
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

  // ------------------------------------------------------------------ locks (vfs/locks.ts)

  getlk(ino: number, fh: number, owner: number, lock: RecordLock, c: Caller): Promise<RecordLock> {
    this.handles.file(fh);
    return this.metaCall('getlk', () => this.locks.getlk(ino, owner, lock, c));
  }

  /** No metadata deadline around a waiting F_SETLKW: it may wait as long as the holder holds. */
  async setlk(ino: number, fh: number, owner: number, lock: RecordLock, wait: boolean, c: Caller): Promise<void> {
    this.handles.file(fh);
    await this.locks.setlk(ino, owner, lock, wait, c);
  }

  async flock(ino: number, fh: number, owner: number, operation: number, c: Caller): Promise<void> {
    this.handles.file(fh);
    await this.locks.flock(ino, owner, operation, c);
  }

  releaseLocks(ino: number, owner: number, kind: 'posix' | 'flock', c: Caller): Promise<void> {
    return this.metaCall('releaseLocks', () => this.locks.releaseLocks(ino, owner, kind, c));
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
    const ctx = this.ctx(c);
    // While other mounts' changes are heard, a complete listing held (fetched ahead of a tree
    // walker, or by an earlier open) is as fresh as the cached entries it is made of.
    const entries = (this.hearsOthers() ? this.cache.listing(h.ino) : undefined) ?? await this.fetchListing(h.ino, ctx);
    h.listing = entries.map(([name, attr]) => ({ name, attr: this.files.present(attr) }));
    this.prefetch.listed(h.ino, entries.filter(([, a]) => a.type === 'dir').map(([, a]) => a.ino), ctx);
    this.filePrefetch.listed(h.ino, entries.filter(([, a]) => a.type === 'file').map(([, a]) => ({ ino: a.ino, size: a.size, attr: a })));
    return h.listing;
  }

  /** FilePrefetch's fetch: the first blocks of a file a walker is about to open, into the memory cache. */
  private async warmFile(f: ListedFile, ctx: OpContext): Promise<void> {
    if (this.destroyed) return;
    const bs = this.o.settings.blockSize;
    const count = Math.max(1, Math.min(Math.ceil(f.size / bs), Math.floor(FILE_PREFETCH_DEFAULTS.firstBytes / bs)));
    const refs = await this.metaCall('blocks', () => this.meta.blocks(f.ino, 0, count, ctx));
    for (const r of refs) if (r.blockId !== 0) this.io.prefetch(f.ino, r.index, r.blockId, r.length);
    // The whole map fetched: the open takes it if the file is still the version listed.
    if (f.attr && count * bs >= f.size) this.files.mapAhead(f.attr, refs);
    this.cache.stats.filesPrefetched++;
  }

  /** `dir`'s whole listing from the metadata server, put into the caches. */
  private async fetchListing(dir: number, ctx: OpContext): Promise<[string, Attr][]> {
    const version = this.cache.listings.version(dir);
    const out: [string, Attr][] = [];
    let cursor: string | undefined;
    do {
      const page = await this.metaCall('readdir', () => this.meta.readdir(dir, ctx, cursor, 1000));
      for (const e of page.entries) out.push([e.name, e.attr]);
      cursor = page.next;
    } while (cursor !== undefined);
    this.cache.putListing(dir, out, version);
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
    this.prefetch.stop();
    this.filePrefetch.stop();
    this.unwatch?.();
    this.locks.close();
    try {
      await this.files.closeAll();
    } finally {
      await this.o.codec.close();
    }
  }

  /**
   * The committed block map of a file (slot, block id, raw length), read as the system: for the
   * operator tools the mount serves (`flexfs info`/`warmup`, ops/mount-control.ts). Uncommitted
   * writes of open files are not in it.
   */
  async committedBlocks(ino: number): Promise<{ attr: Attr; blocks: BlockRef[] }> {
    const sys: OpContext = { uid: 0, gid: 0, sessionId: this.o.sessionId };
    const attr = await this.metaCall('getattr', () => this.meta.getattr(ino, sys));
    const blocks: BlockRef[] = [];
    if (attr.type !== 'file') return { attr, blocks };
    const slots = Math.ceil(attr.size / this.o.settings.blockSize);
    for (let from = 0; from < slots; from += BLOCK_MAP_PAGE) {
      blocks.push(...await this.metaCall('blocks', () => this.meta.blocks(ino, from, Math.min(BLOCK_MAP_PAGE, slots - from), sys)));
    }
    return { attr, blocks: blocks.sort((a, b) => a.index - b.index) };
  }

  /** Bytes of dirty data held right now (tests, metrics). */
  get dirtyBytes(): number {
    return this.budget.bytes;
  }
}
