import { VFS_DEFAULTS } from '../config/defaults.js';

/** One directory's complete listing: its names and the inode each maps to (attributes live in MetaCache). */
export type Listing = [name: string, ino: number][];

/**
 * Complete directory listings the mount keeps while they are fresh (MetaCache owns this and drops
 * a directory's listing with every change to one of its names or to the directory itself, ours
 * or pushed). Bounded: past `VFS_DEFAULTS.listingsMaxEntries` names in all, the oldest listings go.
 * A listing fetched while a drop of its directory happened is refused (`version` taken before the
 * fetch), so a prefetch racing a change never stores what the change made stale.
 */
export class Listings {
  private readonly byDir = new Map<number, { names: Listing; expires: number }>();
  private readonly versions = new Map<number, number>();
  private epoch = 0;
  private entries = 0;

  /** The listing of `dir` if one is held and fresh. */
  get(dir: number): Listing | undefined {
    const l = this.byDir.get(dir);
    if (!l) return undefined;
    if (l.expires > Date.now()) return l.names;
    this.drop(dir);
    return undefined;
  }

  has(dir: number): boolean {
    return this.get(dir) !== undefined;
  }

  /** What `put` must be given for a listing fetched from now on. */
  version(dir: number): string {
    return `${this.epoch}:${this.versions.get(dir) ?? 0}`;
  }

  /** Keep `names` as `dir`'s listing for `ttlMs`, unless `dir` was dropped since `version` was taken. */
  put(dir: number, names: Listing, version: string, ttlMs: number): boolean {
    if (ttlMs <= 0 || version !== this.version(dir)) return false;
    if (names.length > VFS_DEFAULTS.listingsMaxEntries) return false;
    this.drop(dir, false);
    while (this.entries + names.length > VFS_DEFAULTS.listingsMaxEntries) {
      const oldest = this.byDir.keys().next();
      if (oldest.done) break;
      this.drop(oldest.value, false);
    }
    this.byDir.set(dir, { names, expires: Date.now() + ttlMs });
    this.entries += names.length;
    return true;
  }

  /** `dir`'s names or the directory itself changed: its listing (held or being fetched) is stale. */
  drop(dir: number, bump = true): void {
    const l = this.byDir.get(dir);
    if (l) {
      this.byDir.delete(dir);
      this.entries -= l.names.length;
    }
    if (bump) {
      this.versions.set(dir, (this.versions.get(dir) ?? 0) + 1);
      // The versions table stays bounded: clearing it is safe once the epoch moves too.
      if (this.versions.size > VFS_DEFAULTS.listingsMaxEntries) this.clear();
    }
  }

  /** Anything may have changed (changes missed): every listing is stale, and so is every fetch in flight. */
  clear(): void {
    this.byDir.clear();
    this.versions.clear();
    this.entries = 0;
    this.epoch++;
  }
}
