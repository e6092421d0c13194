import { FsError } from '../errors/index.js';
import type { Attr, MetaStore, OpContext } from '../meta/types.js';
import { NAME_MAX } from '../meta/core/rules.js';
import { S_IFDIR, S_IFMT, S_IFREG } from '../util/mode.js';
import type { AclStore } from './acl-store.js';
import type { MetaCache } from './meta-cache.js';
import type { OpenFiles } from './open-files.js';
import { W_OK, X_OK, type AccessPolicy } from './permissions.js';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, type Caller } from './types.js';
import type { Xattrs } from './xattrs.js';

export interface NamespaceDeps {
  meta: MetaStore;
  cache: MetaCache;
  policy: AccessPolicy;
  acls: AclStore;
  xattrs: Xattrs;
  files: OpenFiles;
  metaCall: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  ctx(c: Caller, mutation?: boolean): OpContext;
  /** Throws EROFS on a read-only mount. */
  writable(): void;
}

/**
 * The namespace operations of the core (FsCore delegates to it): mknod, mkdir, symlink, link,
 * unlink, rmdir, rename — each checks the directories' permissions (AccessPolicy), makes one
 * MetaStore call and reports the change to MetaCache (invalidation.ts) — and the checks and
 * bookkeeping that create and lookup share with them.
 */
export class Namespace {
  constructor(private readonly d: NamespaceDeps) {}

  /** A directory `c` may search, and that is one. */
  async dirFor(ino: number, c: Caller): Promise<Attr> {
    const dir = await this.d.cache.getattr(ino, this.d.ctx(c));
    if (dir.type !== 'dir') throw new FsError('ENOTDIR');
    await this.d.policy.search(dir, c);
    return dir;
  }

  /** A directory `c` may add names to or remove names from. */
  async dirForChange(ino: number, name: string, c: Caller): Promise<Attr> {
    this.d.writable();
    checkName(name);
    const dir = await this.dirFor(ino, c);
    await this.d.policy.need(dir, W_OK | X_OK, c);
    return dir;
  }

  /** A new inode's entry: ACLs inherited from the parent applied, the caches told. */
  async made(parent: number, name: string, attr: Attr): Promise<Attr> {
    this.d.cache.changed({ kind: 'create', parent, name, ino: attr.ino });
    this.d.cache.putEntry(parent, name, attr);
    this.d.xattrs.created(attr.ino);
    return attr;
  }


  async mknod(parent: number, name: string, mode: number, rdev: number, c: Caller): Promise<Attr> {
    const dir = await this.dirForChange(parent, name, c);
    const full = (mode & S_IFMT) === 0 ? S_IFREG | mode : mode;
    if ((full & S_IFMT) === S_IFDIR) throw new FsError('EINVAL', 'mknod cannot make a directory');
    const inh = await this.d.acls.inherit(dir, full, false, c);
    const attr = await this.d.metaCall('mknod', () =>
      this.d.meta.mknod(parent, name, (full & S_IFMT) | this.d.acls.createPerm(full, inh, c.umask), rdev, this.d.ctx(c, true)));
    return this.made(parent, name, await this.d.acls.applyInherited(attr, inh, c));
  }

  async mkdir(parent: number, name: string, mode: number, c: Caller): Promise<Attr> {
    const dir = await this.dirForChange(parent, name, c);
    const inh = await this.d.acls.inherit(dir, mode, true, c);
    const attr = await this.d.metaCall('mkdir', () => this.d.meta.mkdir(parent, name, S_IFDIR | this.d.acls.createPerm(mode, inh, c.umask), this.d.ctx(c, true)));
    return this.made(parent, name, await this.d.acls.applyInherited(attr, inh, c));
  }

  async symlink(parent: number, name: string, target: string, c: Caller): Promise<Attr> {
    await this.dirForChange(parent, name, c);
    if (target.length === 0) throw new FsError('ENOENT', 'empty symlink target');
    if (Buffer.byteLength(target) >= 4096) throw new FsError('ENAMETOOLONG', 'symlink target longer than PATH_MAX');
    const attr = await this.d.metaCall('symlink', () => this.d.meta.symlink(parent, name, target, this.d.ctx(c, true)));
    return this.made(parent, name, attr);
  }

  async link(ino: number, newParent: number, newName: string, c: Caller): Promise<Attr> {
    this.d.writable();
    const existing = await this.d.cache.getattr(ino, this.d.ctx(c));
    await this.d.policy.checkLink(existing, c);
    await this.dirForChange(newParent, newName, c);
    const attr = await this.d.metaCall('link', () => this.d.meta.link(ino, newParent, newName, this.d.ctx(c, true)));
    this.d.cache.changed({ kind: 'link', parent: newParent, name: newName, ino });
    this.d.cache.putEntry(newParent, newName, attr);
    return this.d.files.present(attr);
  }

  async unlink(parent: number, name: string, c: Caller): Promise<void> {
    await this.dirForChange(parent, name, c);
    const target = await this.d.cache.lookup(parent, name, this.d.ctx(c)).catch(() => undefined);
    if (target?.type === 'dir') throw new FsError('EISDIR');
    await this.d.metaCall('unlink', () => this.d.meta.unlink(parent, name, this.d.ctx(c, true)));
    this.d.cache.changed({ kind: 'unlink', parent, name, ino: target?.ino });
  }

  async rmdir(parent: number, name: string, c: Caller): Promise<void> {
    await this.dirForChange(parent, name, c);
    const target = await this.d.cache.lookup(parent, name, this.d.ctx(c)).catch(() => undefined);
    await this.d.metaCall('rmdir', () => this.d.meta.rmdir(parent, name, this.d.ctx(c, true)));
    this.d.cache.changed({ kind: 'rmdir', parent, name, ino: target?.ino });
  }

  async rename(parent: number, name: string, newParent: number, newName: string, flags: number, c: Caller): Promise<void> {
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw new FsError('EINVAL', `unknown rename flags ${flags}`);
    const noReplace = (flags & RENAME_NOREPLACE) !== 0;
    const exchange = (flags & RENAME_EXCHANGE) !== 0;
    if (noReplace && exchange) throw new FsError('EINVAL', 'RENAME_NOREPLACE and RENAME_EXCHANGE together');
    await this.dirForChange(parent, name, c);
    await this.dirForChange(newParent, newName, c);
    const moved = await this.d.cache.lookup(parent, name, this.d.ctx(c)).catch(() => undefined);
    const replaced = await this.d.cache.lookup(newParent, newName, this.d.ctx(c)).catch(() => undefined);
    // Moving a directory elsewhere rewrites its "..": write permission on it (Linux vfs_rename).
    if (parent !== newParent) {
      if (moved?.type === 'dir') await this.d.policy.need(moved, W_OK, c);
      if (exchange && replaced?.type === 'dir') await this.d.policy.need(replaced, W_OK, c);
    }
    try {
      await this.d.metaCall('rename', () => this.d.meta.rename(parent, name, newParent, newName, this.d.ctx(c, true),
        flags ? { noReplace, exchange } : undefined));
    } finally {
      this.d.cache.changed({ kind: 'rename', parent, name, ino: moved?.ino, newParent, newName, replaced: replaced?.ino });
    }
  }
}

/** A name in a directory: not empty, no "/", at most NAME_MAX bytes (the kernel checks most of it). */
export function checkName(name: string): void {
  if (Buffer.byteLength(name) > NAME_MAX) throw new FsError('ENAMETOOLONG', `name longer than ${NAME_MAX} bytes`);
}
