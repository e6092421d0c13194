import { readFile } from 'node:fs/promises';
import { FsError } from '../errors/index.js';
import type { Attr } from '../meta/types.js';
import type { Caller } from './types.js';
import { ACL_GROUP, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER, ACL_USER, withMode, type Acl } from './acl.js';

export const R_OK = 4;
export const W_OK = 2;
export const X_OK = 1;

/**
 * Supplementary groups of a caller, read from /proc/<pid>/status (async) and cached briefly.
 * Only consulted when the caller's primary gid does not already decide the question.
 */
export class GroupLookup {
  private readonly cache = new Map<number, { groups: number[]; expires: number }>();

  constructor(private readonly ttlMs = 1000) {}

  async groupsOf(pid: number): Promise<number[]> {
    if (!(pid > 0)) return [];
    const now = Date.now();
    const hit = this.cache.get(pid);
    if (hit && hit.expires > now) return hit.groups;
    let groups: number[] = [];
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const line = /^Groups:\s*(.*)$/m.exec(status);
      groups = line ? line[1].trim().split(/\s+/).filter(Boolean).map(Number) : [];
    } catch {
      groups = []; // the process is gone: primary gid only
    }
    if (this.cache.size > 4096) this.cache.clear();
    this.cache.set(pid, { groups, expires: now + this.ttlMs });
    return groups;
  }

  async inGroup(caller: Caller, gid: number): Promise<boolean> {
    if (caller.gid === gid) return true;
    if (caller.groups) return caller.groups.includes(gid);
    return (await this.groupsOf(caller.pid)).includes(gid);
  }
}

/**
 * Whether a check by `caller` on `attr` can depend on an access ACL: only for callers who are
 * neither root nor the owner (the owner class is USER_OBJ, which is the mode's owner bits).
 * Lets callers skip fetching the ACL when it cannot matter.
 */
export function aclMatters(attr: Attr, caller: Caller): boolean {
  return caller.uid !== 0 && caller.uid !== attr.uid;
}

/**
 * POSIX permission check of `want` (R_OK|W_OK|X_OK bits) on an inode: root passes, except that
 * execute needs some x bit on a non-directory; otherwise the owner, group or other class decides.
 * With an access ACL (POSIX.1e, Linux posix_acl_permission): owner, then named users, then the
 * owning group and named groups (any match that grants), then other; named users and all groups
 * are limited by the mask. The mode is the authority for USER_OBJ, MASK and OTHER (acl.ts withMode).
 */
export async function permits(attr: Attr, want: number, caller: Caller, groups: GroupLookup, acl?: Acl | null): Promise<boolean> {
  if (want === 0) return true;
  if (caller.uid === 0) {
    return !(want & X_OK) || attr.type === 'dir' || (attr.mode & 0o111) !== 0;
  }
  if (acl && caller.uid !== attr.uid) return aclPermits(withMode(acl, attr.mode), attr, want, caller, groups);
  let bits: number;
  if (caller.uid === attr.uid) bits = (attr.mode >> 6) & 7;
  else if (await groups.inGroup(caller, attr.gid)) bits = (attr.mode >> 3) & 7;
  else bits = attr.mode & 7;
  return (bits & want) === want;
}

async function aclPermits(acl: Acl, attr: Attr, want: number, caller: Caller, groups: GroupLookup): Promise<boolean> {
  const mask = acl.find((e) => e.tag === ACL_MASK)?.perm ?? 7;
  const named = acl.find((e) => e.tag === ACL_USER && e.id === caller.uid);
  if (named) return (named.perm & mask & want) === want;
  let groupMatched = false;
  for (const e of acl) {
    const gid = e.tag === ACL_GROUP_OBJ ? attr.gid : e.tag === ACL_GROUP ? e.id : undefined;
    if (gid === undefined || !(await groups.inGroup(caller, gid))) continue;
    groupMatched = true;
    // The first matching group entry that grants `want` decides, through the mask (as Linux).
    if ((e.perm & want) === want) return (e.perm & mask & want) === want;
  }
  if (groupMatched) return false;
  const other = acl.find((e) => e.tag === ACL_OTHER)!.perm;
  return (other & want) === want;
}

const KILL_PRIV_BITS = 0o6000; // setuid | setgid

/**
 * May `caller` change the permission bits of `attr` to `perm`? The owner and root may set any;
 * anyone else only drop setuid/setgid (and nothing else) on a file it may write (`mayWrite`,
 * which honours the ACL): that is the
 * kernel clearing them before a write or truncate by an unprivileged process (FUSE sends it as a
 * mode change under the writer's credentials; a writer could clear them by writing anyway).
 */
export async function mayChmod(attr: Attr, perm: number, caller: Caller, mayWrite: () => Promise<boolean>): Promise<boolean> {
  if (caller.uid === 0 || caller.uid === attr.uid) return true;
  const old = attr.mode & 0o7777;
  const dropped = old & ~perm;
  const onlyDrops = perm !== old && (perm & ~old) === 0 && (dropped & ~KILL_PRIV_BITS) === 0;
  return onlyDrops && attr.type !== 'dir' && mayWrite();
}

/**
 * setuid/setgid bits a write or truncate by `caller` clears (Linux): none for root; setuid
 * always; setgid when the file is group-executable or the caller is not in the file's group.
 */
export async function privBitsToDrop(attr: Attr, caller: Caller, groups: GroupLookup): Promise<number> {
  if (caller.uid === 0) return 0;
  let drop = attr.mode & 0o4000;
  if ((attr.mode & 0o2000) && ((attr.mode & 0o010) || !(await groups.inGroup(caller, attr.gid)))) drop |= 0o2000;
  return drop;
}

const NO_ID = 0xffffffff; // chown's "leave unchanged" (-1 as uint32)
const S_ISGID_BIT = 0o2000;

/** Where the core asks for an inode's access ACL (AclStore.forCheck). */
export interface AclSource {
  forCheck(attr: Attr, c: Caller): Promise<Acl | null>;
}

/**
 * Every permission rule of the core in one place: mode bits (as the mount reports them, with
 * --umask), access ACLs, and Linux's rules for chmod, chown, utimens, xattr names and hard links.
 * With `checkPermissions` off (the kernel checks mode bits, default_permissions) only the rules
 * the kernel leaves to the filesystem apply (ownership changes, explicit times, xattr classes).
 */
export class AccessPolicy {
  constructor(
    private readonly checkPermissions: boolean,
    private readonly umask: number,
    readonly groups: GroupLookup,
    private readonly acls: AclSource,
  ) {}

  /** Does `c` have `want` (R_OK|W_OK|X_OK) on `attr`? */
  async allowed(attr: Attr, want: number, c: Caller): Promise<boolean> {
    const seen = this.umask ? { ...attr, mode: attr.mode & ~(this.umask & 0o777) } : attr;
    return permits(seen, want, c, this.groups, await this.acls.forCheck(attr, c));
  }

  /** EACCES unless `c` has `want` on `attr` (when the core checks permissions). */
  async need(attr: Attr, want: number, c: Caller): Promise<void> {
    if (!this.checkPermissions) return;
    if (!(await this.allowed(attr, want, c))) throw new FsError('EACCES');
  }

  /** Whether lookups by `c` check search permission on the directory (root's always pass). */
  searchChecked(c: Caller): boolean {
    return this.checkPermissions && c.uid !== 0;
  }

  /** Search (x) permission on a directory a lookup goes through. */
  async search(dir: Attr, c: Caller): Promise<void> {
    if (this.searchChecked(c)) await this.need(dir, X_OK, c);
  }

  /** The permission bits a chmod by `c` sets (EPERM when it may not). */
  async chmodPerm(attr: Attr, mode: number, c: Caller): Promise<number> {
    let perm = mode & 0o7777;
    if (!(await mayChmod(attr, perm, c, () => this.allowed(attr, W_OK, c)))) {
      throw new FsError('EPERM', 'only the owner or root may change the mode');
    }
    // Linux: an unprivileged owner outside the file's group cannot set setgid on it (silently dropped).
    if (c.uid !== 0 && attr.type !== 'dir' && (perm & S_ISGID_BIT) && !(await this.groups.inGroup(c, attr.gid))) perm &= ~S_ISGID_BIT;
    return perm;
  }

  /** chown's new ids (undefined: unchanged), checked against Linux's rules. */
  async chownIds(attr: Attr, uid: number | undefined, gid: number | undefined, c: Caller): Promise<{ uid?: number; gid?: number }> {
    const newUid = uid === undefined || uid === NO_ID || uid === -1 ? undefined : uid;
    const newGid = gid === undefined || gid === NO_ID || gid === -1 ? undefined : gid;
    if (c.uid !== 0) {
      if (newUid !== undefined && newUid !== attr.uid) throw new FsError('EPERM', 'only root may change the owner');
      if (c.uid !== attr.uid && (newUid !== undefined || newGid !== undefined)) throw new FsError('EPERM', 'not the owner');
      if (newGid !== undefined && newGid !== attr.gid && !(await this.groups.inGroup(c, newGid))) {
        throw new FsError('EPERM', 'the owner may only change the group to one it belongs to');
      }
    }
    return { uid: newUid, gid: newGid };
  }

  /**
   * Linux utimensat: the owner and root set any times; a writer only both times "now" (a time
   * given or omitted makes it an explicit change).
   */
  async checkTimes(attr: Attr, atime: bigint | 'now' | undefined, mtime: bigint | 'now' | undefined, c: Caller): Promise<void> {
    if (c.uid === 0 || c.uid === attr.uid || (atime === undefined && mtime === undefined)) return;
    if (atime !== 'now' || mtime !== 'now') throw new FsError('EPERM', 'only the owner may set explicit times');
    if (!(await this.allowed(attr, W_OK, c))) throw new FsError('EACCES');
  }

  /** Reading user.* xattrs needs read permission. */
  async checkXattrRead(attr: Attr, name: string, c: Caller): Promise<void> {
    if (name.startsWith('user.')) await this.need(attr, R_OK, c);
  }

  /** Writing user.* xattrs needs write permission; trusted.* and security.* are root's (Linux). */
  async checkXattrWrite(attr: Attr, name: string, c: Caller): Promise<void> {
    if (c.uid === 0) return;
    if (/^(trusted|security)\./.test(name)) throw new FsError('EPERM', 'only root may change trusted and security xattrs');
    if (c.uid !== attr.uid && !name.startsWith('user.')) throw new FsError('EPERM');
    await this.need(attr, W_OK, c);
  }

  /** protected_hardlinks (the Linux default): others' files need read and write permission. */
  async checkLink(existing: Attr, c: Caller): Promise<void> {
    if (existing.type === 'dir') throw new FsError('EPERM', 'hard links to directories are not allowed');
    if (c.uid !== 0 && c.uid !== existing.uid && this.checkPermissions && !(await this.allowed(existing, R_OK | W_OK, c))) {
      throw new FsError('EPERM', 'linking a file of another user needs read and write permission on it');
    }
  }
}
