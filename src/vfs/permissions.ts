import { readFile } from 'node:fs/promises';
import type { Attr } from '../meta/types.js';
import type { Caller } from './types.js';

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
    return (await this.groupsOf(caller.pid)).includes(gid);
  }
}

/**
 * POSIX permission check of `want` (R_OK|W_OK|X_OK bits) on an inode: root passes, except that
 * execute needs some x bit on a non-directory; otherwise the owner, group or other class decides.
 */
export async function permits(attr: Attr, want: number, caller: Caller, groups: GroupLookup): Promise<boolean> {
  if (want === 0) return true;
  if (caller.uid === 0) {
    return !(want & X_OK) || attr.type === 'dir' || (attr.mode & 0o111) !== 0;
  }
  let bits: number;
  if (caller.uid === attr.uid) bits = (attr.mode >> 6) & 7;
  else if (await groups.inGroup(caller, attr.gid)) bits = (attr.mode >> 3) & 7;
  else bits = attr.mode & 7;
  return (bits & want) === want;
}

const KILL_PRIV_BITS = 0o6000; // setuid | setgid

/**
 * May `caller` change the permission bits of `attr` to `perm`? The owner and root may set any;
 * anyone else only drop setuid/setgid (and nothing else) on a file it may write: that is the
 * kernel clearing them before a write or truncate by an unprivileged process (FUSE sends it as a
 * mode change under the writer's credentials; a writer could clear them by writing anyway).
 */
export async function mayChmod(attr: Attr, perm: number, caller: Caller, groups: GroupLookup): Promise<boolean> {
  if (caller.uid === 0 || caller.uid === attr.uid) return true;
  const old = attr.mode & 0o7777;
  const dropped = old & ~perm;
  const onlyDrops = perm !== old && (perm & ~old) === 0 && (dropped & ~KILL_PRIV_BITS) === 0;
  return onlyDrops && attr.type !== 'dir' && permits(attr, W_OK, caller, groups);
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
