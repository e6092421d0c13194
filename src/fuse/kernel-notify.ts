import type { Attr, Changes } from '../meta/types.js';
import { ROOT_INO } from '../meta/types.js';
import type { LookupCounts } from './lookup-counts.js';

/** The kernel notifications the session offers (LowLevelSession's). */
export interface KernelNotifications {
  /** offset -1: attributes only; offset 0, length 0: attributes and every cached page. */
  invalidateInode(ino: number, offset?: number, length?: number): Promise<number>;
  invalidateEntry(parent: number, name: string): Promise<number>;
}

/** Negative entries tracked for a reconnect's invalidation. */
const MAX_NEGATIVE = 65_536;

/** What the kernel was last told of an inode's attributes: a change of any of these matters to it. */
const versionOf = (a: Attr) => `${a.mtime}:${a.ctime}:${a.size}:${a.mode}:${a.uid}:${a.gid}:${a.nlink}`;

/**
 * Keeps the kernel's caches true (coherent caching, docs/SEMANTICS.md). Two jobs:
 * - what other mounts changed (MetaStore.watch, after the core's own caches dropped it) becomes
 *   inval_entry / inval_inode calls for what the kernel may hold: names in directories it holds,
 *   inodes it holds (data changes drop their pages too). Off the request path, best effort: a
 *   notification for something the kernel no longer has answers ENOENT, which is fine.
 * - with attribute caching on, an open whose fresh attributes differ from what the kernel was
 *   last told drops the kernel's attributes before the open is answered (close-to-open even if
 *   the other mount's push is still on its way).
 */
export class KernelCoherence {
  private readonly told = new Map<number, string>();
  /** With long name caching: the names the kernel may hold ("parent/name" → ino), per ino its names. */
  private readonly names = new Map<string, [parent: number, name: string]>();
  private readonly namesOf = new Map<number, Set<string>>();
  /** Names the kernel was told do not exist (negative entries), oldest first, bounded. */
  private readonly absent = new Map<string, [parent: number, name: string]>();
  private target: KernelNotifications | undefined;

  constructor(private readonly lookups: LookupCounts, private readonly attrCaching: boolean, private readonly nameCaching = false) {}

  /** The session, once mounted (notifications before that have nothing to drop). */
  attach(target: KernelNotifications): void {
    this.target = target;
  }

  /** An attribute reply to the kernel (entry, getattr, setattr, readdirplus). */
  replied(a: Attr): void {
    if (this.attrCaching) this.told.set(a.ino, versionOf(a));
  }

  /** An entry reply: the kernel may now cache `name` in `parent` as `ino`. */
  named(parent: number, name: string, ino: number): void {
    if (!this.nameCaching) return;
    const k = `${parent}/${name}`;
    this.names.set(k, [parent, name]);
    let set = this.namesOf.get(ino);
    if (!set) this.namesOf.set(ino, (set = new Set()));
    set.add(k);
  }

  /** A negative entry reply: the kernel may now cache that `name` is not in `parent`. */
  negative(parent: number, name: string): void {
    const k = `${parent}/${name}`;
    this.absent.delete(k);
    this.absent.set(k, [parent, name]);
    // The kernel drops old negative entries itself; past this many only the newest are tracked
    // for a reconnect (older ones then live out their timeout).
    if (this.absent.size > MAX_NEGATIVE) this.absent.delete(this.absent.keys().next().value as string);
  }

  /** The kernel forgot `ino`. */
  forgotten(ino: number): void {
    if (this.lookups.of(ino) !== 0) return;
    this.told.delete(ino);
    for (const k of this.namesOf.get(ino) ?? []) this.names.delete(k);
    this.namesOf.delete(ino);
  }

  /** Before answering an open: `fresh` is the attribute the open just fetched from the server. */
  async opening(fresh: Attr): Promise<void> {
    if (!this.attrCaching || !this.target) return;
    const was = this.told.get(fresh.ino);
    if (was === undefined || was === versionOf(fresh)) return;
    this.told.set(fresh.ino, versionOf(fresh));
    // Attributes only (offset -1): takes no page lock, so it cannot wait on this open.
    await this.target.invalidateInode(fresh.ino, -1, 0).catch(() => undefined);
  }

  othersChanged(changes: Changes | null): void {
    const t = this.target;
    if (!t) return;
    const ignore = () => undefined;
    if (!changes) {
      // Changes were (or may be) missed: drop what the kernel holds of every inode, and every
      // name it may cache (they come back, looked up afresh, as it needs them).
      for (const ino of this.lookups.inodes()) { this.told.delete(ino); void t.invalidateInode(ino, 0, 0).catch(ignore); }
      void t.invalidateInode(ROOT_INO, 0, 0).catch(ignore);
      for (const [parent, name] of [...this.names.values(), ...this.absent.values()]) void t.invalidateEntry(parent, name).catch(ignore);
      this.absent.clear();
      return;
    }
    for (const [parent, name] of changes.e) {
      this.absent.delete(`${parent}/${name}`);
      if (parent === ROOT_INO || this.lookups.of(parent) > 0) void t.invalidateEntry(parent, name).catch(ignore);
    }
    const data = new Set(changes.d);
    for (const ino of new Set([...changes.a, ...changes.d])) {
      if (ino !== ROOT_INO && this.lookups.of(ino) === 0) continue;
      this.told.delete(ino);
      void t.invalidateInode(ino, data.has(ino) ? 0 : -1, 0).catch(ignore);
    }
  }
}
