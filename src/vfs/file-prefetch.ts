import { FILE_PREFETCH_DEFAULTS } from '../config/defaults.js';
import type { Attr, OpContext } from '../meta/types.js';

/** A regular file as a listing showed it. */
export interface ListedFile {
  ino: number;
  size: number;
  /** The attributes the listing showed (the warm's caller may use them; FilePrefetch does not). */
  attr?: Attr;
}

/**
 * Fetches files ahead of a reader that walks a directory's files in listing order. `grep -r`
 * (and `cat *`, `cp -r`, `tar c`) opens one file after another in readdir order, so each costs it
 * a block GET in series (tens of ms on a remote bucket); fetching the next few in the background
 * turns that latency into throughput, as ListingPrefetch does for directories.
 *
 * A walk is two consecutive regular files of one listing opened for reading: then the next
 * `ahead` files are warmed (`warm`: their block map and first blocks into the memory cache),
 * `concurrency` at once. A file opened alone, or files opened out of order, fetch nothing. Block
 * objects are immutable, so nothing warmed can be stale: a file changed meanwhile just leaves
 * unread blocks, counted as unused prefetch.
 */
export class FilePrefetch {
  /** File ino → the directory listing it was last seen in, and its place among that listing's files. */
  private readonly where = new Map<number, { dir: number; index: number }>();
  /** Per directory: its files in listing order, the last one opened, and how far warming reached. */
  private readonly dirs = new Map<number, { files: ListedFile[]; lastOpened: number; warmedTo: number }>();
  private readonly queue: { file: ListedFile; ctx: OpContext }[] = [];
  private inFlight = 0;
  private stopped = false;

  constructor(
    private readonly warm: (file: ListedFile, ctx: OpContext) => Promise<void>,
    private readonly o: { [K in keyof typeof FILE_PREFETCH_DEFAULTS]: number } = FILE_PREFETCH_DEFAULTS,
  ) {}

  /** `dir` was listed; `files` are its regular files, in listing order. */
  listed(dir: number, files: ListedFile[]): void {
    if (this.stopped) return;
    const old = this.dirs.get(dir);
    if (old) for (const f of old.files) if (this.where.get(f.ino)?.dir === dir) this.where.delete(f.ino);
    this.dirs.delete(dir);
    if (files.length < 2) return;
    while (this.where.size + files.length > this.o.maxTracked && this.dirs.size > 0) this.forgetOldest();
    if (files.length > this.o.maxTracked) return;
    this.dirs.set(dir, { files, lastOpened: -2, warmedTo: 0 });
    files.forEach((f, index) => this.where.set(f.ino, { dir, index }));
  }

  /** `ino` was opened for reading. */
  opened(ino: number, ctx: OpContext): void {
    const at = this.where.get(ino);
    if (this.stopped || !at) return;
    const d = this.dirs.get(at.dir);
    if (!d) return;
    const sequential = at.index === d.lastOpened + 1;
    d.lastOpened = at.index;
    if (!sequential) return;
    const to = Math.min(d.files.length, at.index + 1 + this.o.ahead);
    for (let i = Math.max(at.index + 1, d.warmedTo); i < to; i++) {
      if (d.files[i].size > 0) this.queue.push({ file: d.files[i], ctx });
    }
    d.warmedTo = Math.max(d.warmedTo, to);
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.where.clear();
    this.dirs.clear();
  }

  private forgetOldest(): void {
    const oldest = this.dirs.keys().next().value as number;
    for (const f of this.dirs.get(oldest)!.files) if (this.where.get(f.ino)?.dir === oldest) this.where.delete(f.ino);
    this.dirs.delete(oldest);
  }

  private pump(): void {
    while (this.inFlight < this.o.concurrency && this.queue.length > 0 && !this.stopped) {
      const { file, ctx } = this.queue.shift()!;
      this.inFlight++;
      this.warm(file, ctx).catch(() => undefined).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }
}
