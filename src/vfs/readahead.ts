/**
 * Sequential-read detection for one handle: a reader that continues where its last read ended
 * gets a window that doubles from one block up to `max` bytes; a read far from the stream resets
 * it (random readers get none). The kernel sends a sequential stream as several requests in
 * flight, which can arrive slightly out of order: a read within one block of the stream's end
 * keeps the window (without growing it) instead of resetting it. Call `next` when a read arrives
 * (not when it completes: completions reorder far more). Returns the block slots to prefetch, or
 * undefined.
 */
export class ReadaheadDetector {
  /** End of the furthest read of the current stream. */
  private nextPos = 0;
  private window = 0;

  constructor(private readonly blockSize: number, private readonly max: number) {}

  next(position: number, n: number): { from: number; count: number } | undefined {
    const bs = this.blockSize;
    if (this.max < bs) return undefined; // readahead switched off
    if (n <= 0) return undefined;
    if (position === this.nextPos) {
      this.window = Math.min(this.max, Math.max(bs, this.window * 2));
      this.nextPos = position + n;
    } else if (this.window > 0 && Math.abs(position - this.nextPos) <= bs) {
      this.nextPos = Math.max(this.nextPos, position + n);
    } else {
      this.window = 0;
      this.nextPos = position + n;
      return undefined;
    }
    const from = Math.floor(this.nextPos / bs);
    const to = Math.floor((this.nextPos + this.window - 1) / bs);
    return { from, count: to - from + 1 };
  }
}
