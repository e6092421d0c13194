/**
 * How many lookups of each inode the kernel holds (FUSE's nlookup): every entry reply (lookup,
 * mknod, mkdir, symlink, link, create, a readdirplus entry) adds one, forget takes `n` away.
 * An inode the kernel holds may be cached there: what coherent caching must invalidate.
 */
export class LookupCounts {
  private readonly counts = new Map<number, number>();

  add(ino: number): void {
    this.counts.set(ino, (this.counts.get(ino) ?? 0) + 1);
  }

  forget(ino: number, n: number): void {
    const left = (this.counts.get(ino) ?? 0) - n;
    if (left > 0) this.counts.set(ino, left);
    else this.counts.delete(ino);
  }

  /** Lookups the kernel holds on `ino` (0: it has forgotten it). */
  of(ino: number): number {
    return this.counts.get(ino) ?? 0;
  }

  /** Every inode the kernel holds. */
  inodes(): IterableIterator<number> {
    return this.counts.keys();
  }

  /** Inodes the kernel holds. */
  get size(): number {
    return this.counts.size;
  }
}
