import { FsError, isFsError } from '../errors/index.js';
import type { Attr, MetaStore, OpContext } from '../meta/types.js';
import type { Caller } from './types.js';
import {
  ACL_ACCESS, ACL_DEFAULT, decodeAcl, encodeAcl, inheritAcl, isModeEquivalent, modeOfAcl, withMode,
  type Acl, type Inherited,
} from './acl.js';
import { aclMatters } from './permissions.js';

const S_ISGID = 0o2000;
const CACHE_MAX = 16384;

export interface AclStoreDeps {
  meta: MetaStore;
  metaCall: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  /** How long a fetched ACL (or its absence) is trusted: the attribute cache TTL. */
  ttlMs: () => number;
  /** Mount flag --acl (default on); off: the ACL names answer EOPNOTSUPP. */
  enabled: boolean;
  ctx(c: Caller, mutation?: boolean): OpContext;
  /** Set permission bits (0o7777) through the file system's setattr, which updates its caches. */
  setMode(ino: number, perm: number, c: Caller): Promise<Attr>;
  inGroup(c: Caller, gid: number): Promise<boolean>;
}

/**
 * POSIX ACLs kept on inodes as the xattrs `system.posix_acl_access` / `_default` of the metadata
 * store (engines know nothing of ACLs), with a short-TTL cache for permission checks and creates.
 *
 * The mode is the authority for the owner, mask and other entries of an access ACL: every reader
 * lays the current mode over the stored value (acl.ts withMode), and chmod rewrites the stored
 * value to match. Mode and ACL live in two metadata calls, so every change is ordered to narrow
 * first: the mode is first cut to what both the old and the new state allow, then the ACL is
 * written, then the final mode set. A crash in between leaves fewer rights, never more.
 */
export class AclStore {
  private readonly cache = new Map<string, { acl: Acl | null; expires: number }>();

  constructor(private readonly d: AclStoreDeps) {}

  get enabled(): boolean {
    return this.d.enabled;
  }

  private on(): void {
    if (!this.d.enabled) throw new FsError('ENOTSUP', 'POSIX ACLs are off on this mount (mounted with --no-acl)');
  }

  /** Another mount changed `ino`: its cached ACLs may be stale. */
  forget(ino: number): void {
    for (const name of [ACL_ACCESS, ACL_DEFAULT]) this.cache.delete(`${ino}:${name}`);
  }

  /** Changes by other mounts may have been missed: forget every cached ACL. */
  clear(): void {
    this.cache.clear();
  }

  private remember(ino: number, name: string, acl: Acl | null): void {
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(`${ino}:${name}`, { acl, expires: Date.now() + this.d.ttlMs() });
  }

  /** The stored ACL `name` of `ino` (null when none), from the cache unless `fresh`. */
  private async stored(ino: number, name: string, c: Caller, fresh = false): Promise<Acl | null> {
    const hit = fresh ? undefined : this.cache.get(`${ino}:${name}`);
    if (hit && hit.expires > Date.now()) return hit.acl;
    let value: Buffer | undefined;
    try {
      value = await this.d.metaCall('getxattr', () => this.d.meta.getxattr(ino, name, this.d.ctx(c)));
    } catch (e) {
      if (!isFsError(e, 'ENODATA')) throw e;
    }
    let acl: Acl | null = null;
    try {
      acl = value ? decodeAcl(value) : null;
    } catch {
      acl = null; // a malformed value stored before flexfs understood ACLs: not an ACL
    }
    this.remember(ino, name, acl);
    return acl;
  }

  private async write(ino: number, name: string, acl: Acl, c: Caller): Promise<void> {
    await this.d.metaCall('setxattr', () => this.d.meta.setxattr(ino, name, encodeAcl(acl), 0, this.d.ctx(c, true)));
    this.remember(ino, name, acl);
  }

  /** Remove a stored ACL; absent already is fine (the state wanted). */
  private async remove(ino: number, name: string, c: Caller): Promise<void> {
    try {
      await this.d.metaCall('removexattr', () => this.d.meta.removexattr(ino, name, this.d.ctx(c, true)));
    } catch (e) {
      if (!isFsError(e, 'ENODATA')) throw e;
    }
    this.remember(ino, name, null);
  }

  /** The access ACL a permission check of `c` on `attr` needs, or null when it cannot matter. */
  async forCheck(attr: Attr, c: Caller): Promise<Acl | null> {
    if (!this.d.enabled || attr.type === 'symlink' || !aclMatters(attr, c)) return null;
    return this.stored(attr.ino, ACL_ACCESS, c);
  }

  async getxattr(attr: Attr, name: string, c: Caller): Promise<Buffer> {
    this.on();
    if (name === ACL_DEFAULT && attr.type !== 'dir') throw new FsError('ENODATA', 'only directories have default ACLs');
    const acl = await this.stored(attr.ino, name, c, true);
    if (!acl) throw new FsError('ENODATA', 'no such attribute');
    return encodeAcl(name === ACL_ACCESS ? withMode(acl, attr.mode) : acl);
  }

  private mayChange(attr: Attr, c: Caller): void {
    this.on();
    if (attr.type === 'symlink') throw new FsError('ENOTSUP', 'symbolic links have no ACLs');
    if (c.uid !== 0 && c.uid !== attr.uid) throw new FsError('EPERM', 'only the owner or root may change an ACL');
  }

  /** setxattr of an ACL name: validated (EINVAL), an empty value removes. */
  async setxattr(attr: Attr, name: string, value: Buffer, c: Caller): Promise<void> {
    this.mayChange(attr, c);
    const acl = decodeAcl(value);
    if (name === ACL_ACCESS) return this.setAccess(attr, acl, c);
    if (attr.type !== 'dir') {
      if (acl === null) return;
      throw new FsError('EACCES', 'default ACLs can only be set on directories');
    }
    if (acl === null) return this.remove(attr.ino, ACL_DEFAULT, c);
    return this.write(attr.ino, ACL_DEFAULT, acl, c);
  }

  async removexattr(attr: Attr, name: string, c: Caller): Promise<void> {
    this.mayChange(attr, c);
    if (name === ACL_DEFAULT && attr.type !== 'dir') return;
    // Removing the access ACL keeps the mode: the group bits (the mask) become the group's.
    await this.remove(attr.ino, name, c);
  }

  /**
   * A new access ACL: the mode takes USER_OBJ, MASK (else GROUP_OBJ) and OTHER; an ACL equal to
   * the mode is not stored (as ext4), so `cp -a`/`chmod`-like uses cost no xattr. Setgid is dropped
   * when the caller is neither root nor in the file's group (Linux posix_acl_update_mode).
   */
  private async setAccess(attr: Attr, acl: Acl | null, c: Caller): Promise<void> {
    if (acl === null) return this.remove(attr.ino, ACL_ACCESS, c);
    let perm = (attr.mode & 0o7000) | modeOfAcl(acl);
    if (c.uid !== 0 && (perm & S_ISGID) && !(await this.d.inGroup(c, attr.gid))) perm &= ~S_ISGID;
    const cur = attr.mode & 0o7777;
    const narrow = cur & perm;
    if (narrow !== cur) await this.d.setMode(attr.ino, narrow, c);
    if (isModeEquivalent(acl)) await this.remove(attr.ino, ACL_ACCESS, c);
    else await this.write(attr.ino, ACL_ACCESS, acl, c);
    if (perm !== narrow) await this.d.setMode(attr.ino, perm, c);
  }

  /** After a chmod: keep a stored access ACL's owner, mask and other entries equal to the mode. */
  async afterChmod(attr: Attr, c: Caller): Promise<void> {
    if (!this.d.enabled || attr.type === 'symlink') return;
    const acl = await this.stored(attr.ino, ACL_ACCESS, c);
    if (!acl) return;
    const updated = withMode(acl, attr.mode);
    if (updated.every((e, i) => e.perm === acl[i].perm)) return;
    await this.write(attr.ino, ACL_ACCESS, updated, c);
  }

  /** What a new inode in `parent` inherits from its default ACL; undefined without one. */
  async inherit(parent: Attr, perm: number, isDir: boolean, c: Caller): Promise<Inherited | undefined> {
    if (!this.d.enabled) return undefined;
    const dflt = await this.stored(parent.ino, ACL_DEFAULT, c);
    return dflt ? inheritAcl(dflt, perm, isDir) : undefined;
  }

  /**
   * Permission bits to create an inode with. Without a default ACL the caller's umask applies
   * (when the kernel left it to us; else the mode arrives masked already); with one, the ACL
   * masks the mode instead and the umask is ignored (POSIX.1e). With inherited ACLs to write
   * afterwards, the inode starts owner-only, so nobody else gets in before its ACLs are in place.
   */
  createPerm(requested: number, inh: Inherited | undefined, umask = 0): number {
    if (!inh) return requested & 0o7777 & ~(umask & 0o777);
    const later = inh.access !== undefined || inh.default !== undefined;
    return (requested & 0o7000) | (later ? inh.perm & 0o700 : inh.perm);
  }

  /** Store the inherited ACLs of a new inode, then give it its final mode. Returns its attributes. */
  async applyInherited(attr: Attr, inh: Inherited | undefined, c: Caller): Promise<Attr> {
    if (!this.d.enabled) return attr;
    if (inh?.access) await this.write(attr.ino, ACL_ACCESS, inh.access, c);
    else this.remember(attr.ino, ACL_ACCESS, null);
    if (inh?.default) await this.write(attr.ino, ACL_DEFAULT, inh.default, c);
    else if (attr.type === 'dir') this.remember(attr.ino, ACL_DEFAULT, null);
    if (!inh) return attr;
    const final = (attr.mode & 0o7000) | inh.perm;
    return (attr.mode & 0o7777) === final ? attr : this.d.setMode(attr.ino, final, c);
  }

  /** listxattr: with ACLs off, stored ACL names are hidden (reading them would be EOPNOTSUPP). */
  visible(names: string[]): string[] {
    return this.d.enabled ? names : names.filter((n) => n !== ACL_ACCESS && n !== ACL_DEFAULT);
  }
}
