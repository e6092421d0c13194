import { FsError, isFsError } from '../errors/index.js';

/**
 * Inodes known to have no `security.capability` xattr. The kernel asks for it before every write
 * (to drop file capabilities), so without this each write costs a metadata round trip. Kept true
 * by this mount's own setxattr/removexattr (they forget the inode); a change made by another
 * client shows once the entry expires (`ttlMs`). Bounded: past `maxEntries` the oldest go first.
 */
export const CAPABILITY_XATTR = 'security.capability';

export class XattrAbsenceCache {
  /** ino → when the absence was learned (ms); Map order is insertion order, oldest first. */
  private readonly known = new Map<number, number>();
  /** Bumped by every forget: an answer fetched across a change must not be remembered. */
  private epoch = 0;

  constructor(private readonly maxEntries = 65_536, private readonly ttlMs = 30_000) {}

  /** Names this cache answers for. */
  covers(name: string): boolean {
    return name === CAPABILITY_XATTR;
  }

  /**
   * getxattr through the cache: a known absence is ENODATA without calling `fetch`; an ENODATA
   * from `fetch` is remembered unless this mount changed xattrs while it was under way.
   */
  async get(ino: number, name: string, fetch: () => Promise<Buffer>): Promise<Buffer> {
    if (!this.covers(name)) return fetch();
    if (this.isAbsent(ino)) throw new FsError('ENODATA', 'no such attribute');
    const epoch = this.epoch;
    try {
      return await fetch();
    } catch (e) {
      if (isFsError(e, 'ENODATA') && epoch === this.epoch) this.markAbsent(ino);
      throw e;
    }
  }

  isAbsent(ino: number, now = Date.now()): boolean {
    const at = this.known.get(ino);
    if (at === undefined) return false;
    if (now - at < this.ttlMs) return true;
    this.known.delete(ino);
    return false;
  }

  markAbsent(ino: number, now = Date.now()): void {
    this.known.delete(ino);
    this.known.set(ino, now);
    while (this.known.size > this.maxEntries) this.known.delete(this.known.keys().next().value as number);
  }

  /** Call when a set/remove of an xattr of `ino` has finished (or failed) on this mount. */
  forget(ino: number): void {
    this.epoch++;
    this.known.delete(ino);
  }

  /** Forget every absence (changes by other mounts may have been missed). */
  clear(): void {
    this.epoch++;
    this.known.clear();
  }

  get size(): number {
    return this.known.size;
  }
}
