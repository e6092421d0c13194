/**
 * Sequential-read detection for one handle: a reader that continues where its last read ended
 * gets a window that doubles from one block up to `max` bytes; any other read resets it (random
 * readers get none). `next` returns the block slots to prefetch, or undefined.
 */
export class ReadaheadDetector {
  private nextPos = 0;
  private window = 0;

  constructor(private readonly blockSize: number, private readonly max: number) {}

  next(position: number, n: number): { from: number; count: number } | undefined {
    const bs = this.blockSize;
    if (this.max < bs) return undefined; // readahead switched off
    if (position === this.nextPos && n > 0) this.window = Math.min(this.max, Math.max(bs, this.window * 2));
    else this.window = 0;
    this.nextPos = position + n;
    if (this.window === 0) return undefined;
    const from = Math.floor(this.nextPos / bs);
    const to = Math.floor((this.nextPos + this.window - 1) / bs);
    return { from, count: to - from + 1 };
  }
}
