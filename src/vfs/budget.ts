import { FsError } from '../errors/index.js';

/**
 * Global dirty-bytes budget shared by every writer of one FileSystem. Writers reserve bytes
 * before they buffer them and wait (with a deadline) while the budget is spent; bytes come back
 * when blocks finish uploading or are dropped. Slows writers instead of growing memory.
 */
export class DirtyBudget {
  private used = 0;
  private waiters: { need: number; resolve: () => void }[] = [];

  constructor(readonly limit: number) {
    if (!(limit > 0)) throw new Error(`dirty budget must be positive (got ${limit})`);
  }

  get bytes(): number {
    return this.used;
  }

  /** Would `n` more bytes exceed the budget? */
  wouldBlock(n: number): boolean {
    return this.used > 0 && this.used + n > this.limit;
  }

  /** Take `n` bytes without waiting (used when the caller already waited or must not block). */
  take(n: number): void {
    this.used += n;
  }

  give(n: number): void {
    this.used = Math.max(0, this.used - n);
    this.wake();
  }

  /**
   * Wait until `n` bytes fit (always admitted when nothing else is dirty, so a single write
   * larger than the budget cannot deadlock), then take them. EIO after `deadlineMs`.
   */
  async reserve(n: number, deadlineMs: number): Promise<void> {
    if (!this.wouldBlock(n) && this.waiters.length === 0) {
      this.used += n;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        need: n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new FsError('EIO', `write: dirty data could not be uploaded within ${deadlineMs} ms`));
        this.wake();
      }, deadlineMs);
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    while (this.waiters.length > 0 && !this.wouldBlock(this.waiters[0].need)) {
      const w = this.waiters.shift()!;
      this.used += w.need;
      w.resolve();
    }
  }
}
