/**
 * The not-yet-uploaded bytes of one block slot: a buffer that grows as needed (up to the block
 * size) plus the sorted, merged byte ranges actually written. Incoming data is always COPIED in
 * (the FUSE layer reuses its buffers). Bytes outside the ranges come from the block underneath
 * (merge base) when the block is uploaded or read.
 */
const GROW_STRAIGHT_ABOVE = 256 * 1024;

export class DirtyBlock {
  buf: Buffer;
  /** Sorted, non-overlapping, non-adjacent [start, end) ranges. */
  ranges: [number, number][] = [];

  constructor(readonly blockSize: number, capacity = 0) {
    this.buf = Buffer.alloc(capacity);
  }

  /** A fully written block made from `raw` (e.g. an upload that failed and must be retried). */
  static full(blockSize: number, raw: Buffer): DirtyBlock {
    const d = new DirtyBlock(blockSize);
    d.buf = raw;
    if (raw.length > 0) d.ranges = [[0, raw.length]];
    return d;
  }

  get capacity(): number {
    return this.buf.length;
  }

  /** Highest written offset + 1 (0 when nothing is written). */
  get end(): number {
    return this.ranges.length ? this.ranges[this.ranges.length - 1][1] : 0;
  }

  get isFull(): boolean {
    return this.ranges.length === 1 && this.ranges[0][0] === 0 && this.ranges[0][1] >= this.blockSize;
  }

  /**
   * Capacity needed to hold bytes up to `end`: powers of two from 4 KiB, and straight to the
   * block size beyond 256 KiB (a streaming writer would otherwise reallocate and copy its block
   * five more times on the way to 4 MiB, which shows up as GC time).
   */
  capacityFor(end: number): number {
    if (end <= this.buf.length) return this.buf.length;
    let cap = Math.max(4096, this.buf.length);
    while (cap < end) cap *= 2;
    return cap > GROW_STRAIGHT_ABOVE ? this.blockSize : Math.min(cap, this.blockSize);
  }

  /** Grow the buffer to `cap` bytes; returns how many bytes were added. */
  grow(cap: number): number {
    if (cap <= this.buf.length) return 0;
    const next = Buffer.alloc(cap);
    this.buf.copy(next, 0, 0, this.end);
    const added = cap - this.buf.length;
    this.buf = next;
    return added;
  }

  /** Copy `src` in at `offset` (the buffer must already be large enough). */
  write(offset: number, src: Buffer): void {
    if (src.length === 0) return;
    src.copy(this.buf, offset);
    this.addRange(offset, offset + src.length);
  }

  /** Copy the written bytes inside [from, from+out.length) of the block into `out`. */
  overlay(out: Buffer, from: number): void {
    const to = from + out.length;
    for (const [s, e] of this.ranges) {
      const a = Math.max(s, from);
      const b = Math.min(e, to);
      if (a < b) this.buf.copy(out, a - from, a, b);
    }
  }

  /** Forget bytes at and past `len` (truncate). */
  clip(len: number): void {
    this.ranges = this.ranges.filter(([s]) => s < len).map(([s, e]) => [s, Math.min(e, len)] as [number, number]);
    if (len < this.buf.length) this.buf.fill(0, len);
  }

  private addRange(s: number, e: number): void {
    const out: [number, number][] = [];
    let placed = false;
    for (const r of this.ranges) {
      if (r[1] < s) out.push(r);
      else if (r[0] > e) {
        if (!placed) {
          out.push([s, e]);
          placed = true;
        }
        out.push(r);
      } else {
        s = Math.min(s, r[0]);
        e = Math.max(e, r[1]);
      }
    }
    if (!placed) out.push([s, e]);
    this.ranges = out;
  }
}
