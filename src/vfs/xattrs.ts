import type { Attr, MetaStore, OpContext } from '../meta/types.js';
import type { Caller } from './types.js';
import type { AclStore } from './acl-store.js';
import { isAclName } from './acl.js';
import type { AccessPolicy } from './permissions.js';
import type { MetaCache } from './meta-cache.js';
import { XattrAbsenceCache } from './xattr-absence.js';

export interface XattrDeps {
  meta: MetaStore;
  cache: MetaCache;
  acls: AclStore;
  policy: AccessPolicy;
  metaCall: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  ctx(c: Caller, mutation?: boolean): OpContext;
}

/**
 * Extended attributes of an inode: the POSIX ACL names go to AclStore, the rest to the metadata
 * server after the xattr-class permission rules, with the per-inode "no such xattr" cache for the
 * names the kernel asks about before every write (security.capability).
 */
export class Xattrs {
  private readonly absent = new XattrAbsenceCache();

  constructor(private readonly d: XattrDeps) {}

  /** A new inode this mount made has no xattrs but the ACLs it inherits: its absences are known. */
  created(ino: number): void {
    this.absent.markAbsent(ino);
  }

  /** Another mount changed `ino`'s xattrs or attributes: what this cache knows of it may be stale. */
  forget(ino: number): void {
    this.absent.forget(ino);
  }

  /** Changes by other mounts may have been missed: forget everything. */
  clear(): void {
    this.absent.clear();
  }

  async set(attr: Attr, name: string, value: Buffer, flags: number, c: Caller): Promise<void> {
    if (isAclName(name)) return this.d.acls.setxattr(attr, name, value, c);
    await this.d.policy.checkXattrWrite(attr, name, c);
    await this.d.metaCall('setxattr', () => this.d.meta.setxattr(attr.ino, name, Buffer.from(value), flags, this.d.ctx(c, true)))
      .finally(() => this.absent.forget(attr.ino));
    this.d.cache.changed({ kind: 'xattr', ino: attr.ino });
  }

  async get(attr: Attr, name: string, c: Caller): Promise<Buffer> {
    if (isAclName(name)) return this.d.acls.getxattr(attr, name, c);
    await this.d.policy.checkXattrRead(attr, name, c);
    return this.absent.get(attr.ino, name, () => this.d.metaCall('getxattr', () => this.d.meta.getxattr(attr.ino, name, this.d.ctx(c))));
  }

  async list(ino: number, c: Caller): Promise<string[]> {
    return this.d.acls.visible(await this.d.metaCall('listxattr', () => this.d.meta.listxattr(ino, this.d.ctx(c))));
  }

  async remove(attr: Attr, name: string, c: Caller): Promise<void> {
    if (isAclName(name)) return this.d.acls.removexattr(attr, name, c);
    await this.d.policy.checkXattrWrite(attr, name, c);
    await this.d.metaCall('removexattr', () => this.d.meta.removexattr(attr.ino, name, this.d.ctx(c, true)))
      .finally(() => this.absent.forget(attr.ino));
    this.d.cache.changed({ kind: 'xattr', ino: attr.ino });
  }
}
