/**
 * MetaStore decorator for volumes with encrypted names (settings.nameEncryption): every entry
 * name, symlink target, xattr name and xattr value is sealed here, in the mount, before it reaches
 * the metadata server, and opened on the way back (construction: src/codec/names.ts,
 * docs/FORMAT.md). Names are bound to their parent directory, so a rename re-seals the new name
 * for the new parent. The VFS above sees plaintext and does not know.
 *
 * Limits apply to the plaintext (255-byte names, PATH_MAX targets, 64 KiB values) and are
 * checked here, before sealing; the server checks the sealed form (meta/core/rules.ts).
 * A stored string that does not open is EIO with a message naming where it is, never garbage.
 */
import { FsError } from '../errors/index.js';
import { createNameCipher, SealError, type NameCipher } from '../codec/names.js';
import { checkName, checkXattrName, PATH_MAX, XATTR_SIZE_MAX } from './core/rules.js';
import type {
  Attr, LockRange, BlockRef, ChangeListener, CommitRequest, DirPage, MetaStore, OpContext, SetAttrChanges, StatFs, VolumeSettings,
} from './types.js';

/** The MetaStore a mount uses: sealed names on volumes with the flag, `meta` itself otherwise. */
export async function withNameEncryption(meta: MetaStore, settings: VolumeSettings, dataKey: Buffer | undefined): Promise<MetaStore> {
  if (!settings.nameEncryption) return meta;
  if (settings.nameEncryption !== 1) {
    throw new Error(`volume ${settings.name} uses name encryption format ${String(settings.nameEncryption)}, which this mount client does not know: upgrade mount.flexfs`);
  }
  if (!dataKey) throw new Error(`volume ${settings.name} has encrypted names but no data key was unlocked`);
  return new NameCryptMetaStore(meta, await createNameCipher(dataKey));
}

/** A sealed string that does not open: EIO naming the place (the stored text is not shown). */
function unreadable(e: unknown): never {
  if (e instanceof SealError) throw new FsError('EIO', e.message);
  throw e;
}

/** '.' and '..' are not stored entries: passed through for the engine to answer. */
const isDot = (name: string) => name === '.' || name === '..';

export class NameCryptMetaStore implements MetaStore {
  constructor(private readonly inner: MetaStore, private readonly cipher: NameCipher) {}

  /** A plaintext entry name, checked like an engine checks it, in its sealed form for `parent`. */
  private name(parent: number, name: string): string {
    checkName(name);
    return this.cipher.sealName(parent, name);
  }

  private xattrName(ino: number, name: string): string {
    checkXattrName(name);
    return this.cipher.sealXattrName(ino, name);
  }

  // Every method that seals is async, so a bad name is a rejected promise, never a synchronous throw.
  async lookup(parent: number, name: string, ctx: OpContext): Promise<Attr> {
    return this.inner.lookup(parent, isDot(name) ? name : this.name(parent, name), ctx);
  }
  getattr(ino: number, ctx: OpContext): Promise<Attr> { return this.inner.getattr(ino, ctx); }
  setattr(ino: number, changes: SetAttrChanges, ctx: OpContext): Promise<Attr> { return this.inner.setattr(ino, changes, ctx); }

  async mknod(parent: number, name: string, mode: number, rdev: number, ctx: OpContext): Promise<Attr> {
    return this.inner.mknod(parent, this.name(parent, name), mode, rdev, ctx);
  }
  async create(parent: number, name: string, mode: number, ctx: OpContext, open?: boolean): Promise<Attr> {
    return this.inner.create(parent, this.name(parent, name), mode, ctx, open);
  }
  async mkdir(parent: number, name: string, mode: number, ctx: OpContext): Promise<Attr> {
    return this.inner.mkdir(parent, this.name(parent, name), mode, ctx);
  }
  async symlink(parent: number, name: string, target: string, ctx: OpContext): Promise<Attr> {
    if (typeof target !== 'string' || target === '') throw new FsError('ENOENT', 'empty symlink target');
    if (target.includes('\0')) throw new FsError('EINVAL', 'symlink target contains NUL');
    if (Buffer.byteLength(target, 'utf8') >= PATH_MAX) throw new FsError('ENAMETOOLONG', `symlink target longer than ${PATH_MAX - 1} bytes`);
    return this.inner.symlink(parent, this.name(parent, name), this.cipher.sealTarget(target), ctx);
  }
  async readlink(ino: number, ctx: OpContext): Promise<string> {
    const stored = await this.inner.readlink(ino, ctx);
    try { return this.cipher.openTarget(stored); } catch (e) { unreadable(e); }
  }
  async link(ino: number, newParent: number, newName: string, ctx: OpContext): Promise<Attr> {
    return this.inner.link(ino, newParent, this.name(newParent, newName), ctx);
  }
  async unlink(parent: number, name: string, ctx: OpContext): Promise<void> {
    return this.inner.unlink(parent, isDot(name) ? name : this.name(parent, name), ctx);
  }
  async rmdir(parent: number, name: string, ctx: OpContext): Promise<void> {
    return this.inner.rmdir(parent, isDot(name) ? name : this.name(parent, name), ctx);
  }
  /** Each name sealed for its own directory: a move re-seals the name for the new parent. */
  async rename(parent: number, name: string, newParent: number, newName: string, ctx: OpContext,
    flags?: { noReplace?: boolean; exchange?: boolean }): Promise<void> {
    return this.inner.rename(parent, this.name(parent, name), newParent, this.name(newParent, newName), ctx, flags);
  }
  /** Names opened; the page order is the order of the sealed names, the cursor passes through. */
  async readdir(ino: number, ctx: OpContext, cursor?: string, limit?: number): Promise<DirPage> {
    const page = await this.inner.readdir(ino, ctx, cursor, limit);
    try {
      const entries = page.entries.map((e) => ({ name: this.cipher.openName(ino, e.name), attr: e.attr }));
      return page.next === undefined ? { entries } : { entries, next: page.next };
    } catch (e) {
      unreadable(e);
    }
  }
  statfs(ctx: OpContext, ino?: number): Promise<StatFs> { return this.inner.statfs(ctx, ino); }

  async getxattr(ino: number, name: string, ctx: OpContext): Promise<Buffer> {
    const sealed = await this.inner.getxattr(ino, this.xattrName(ino, name), ctx);
    try { return this.cipher.openXattrValue(ino, name, sealed); } catch (e) { unreadable(e); }
  }
  async setxattr(ino: number, name: string, value: Buffer, flags: number, ctx: OpContext): Promise<void> {
    const stored = this.xattrName(ino, name);
    if (!Buffer.isBuffer(value)) throw new FsError('EINVAL', 'xattr value must be bytes');
    if (value.length > XATTR_SIZE_MAX) throw new FsError('E2BIG', `xattr value larger than ${XATTR_SIZE_MAX} bytes`);
    return this.inner.setxattr(ino, stored, this.cipher.sealXattrValue(ino, name, value), flags, ctx);
  }
  /** Opened names, sorted like an engine sorts plaintext names. */
  async listxattr(ino: number, ctx: OpContext): Promise<string[]> {
    const stored = await this.inner.listxattr(ino, ctx);
    try { return stored.map((s) => this.cipher.openXattrName(ino, s)).sort(); } catch (e) { unreadable(e); }
  }
  async removexattr(ino: number, name: string, ctx: OpContext): Promise<void> {
    return this.inner.removexattr(ino, this.xattrName(ino, name), ctx);
  }

  // Nothing below carries a name, a target or an xattr.
  open(ino: number, ctx: OpContext): Promise<Attr> { return this.inner.open(ino, ctx); }
  release(ino: number, ctx: OpContext): Promise<void> { return this.inner.release(ino, ctx); }
  getlk(ino: number, owner: string, lock: LockRange, ctx: OpContext): Promise<LockRange> { return this.inner.getlk(ino, owner, lock, ctx); }
  setlk(ino: number, owner: string, lock: LockRange, wait: boolean, ctx: OpContext): Promise<void> {
    return this.inner.setlk(ino, owner, lock, wait, ctx);
  }
  flock(ino: number, owner: string, operation: number, ctx: OpContext): Promise<void> { return this.inner.flock(ino, owner, operation, ctx); }
  releaseLocks(ino: number, owner: string, kind: 'posix' | 'flock', ctx: OpContext): Promise<void> {
    return this.inner.releaseLocks(ino, owner, kind, ctx);
  }
  commit(req: CommitRequest, ctx: OpContext): Promise<Attr> { return this.inner.commit(req, ctx); }
  blocks(ino: number, fromIndex: number, count: number, ctx: OpContext): Promise<BlockRef[]> { return this.inner.blocks(ino, fromIndex, count, ctx); }
  allocIds(count: number, ctx: OpContext): Promise<number> { return this.inner.allocIds(count, ctx); }
  settings(): Promise<VolumeSettings> { return this.inner.settings(); }
  close(): Promise<void> { return this.inner.close(); }

  hearsChanges(): boolean {
    return this.inner.hearsChanges?.() ?? false;
  }

  /** The inner store's changes with their entry names opened (one that does not open: all suspect). */
  watch(listener: ChangeListener): () => void {
    if (!this.inner.watch) return () => undefined;
    return this.inner.watch((changes) => {
      if (!changes) return listener(null);
      let e: [number, string][];
      try {
        e = changes.e.map(([parent, stored]) => [parent, isDot(stored) ? stored : this.cipher.openName(parent, stored)]);
      } catch {
        return listener(null);
      }
      listener({ ...changes, e });
    });
  }
}
