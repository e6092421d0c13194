import type { Attr, BlockRef, BlockWrite, MetaStore, OpContext } from '../meta/types.js';
import { FsError } from '../errors/index.js';
import type { BlockIO } from './blockio.js';
import type { BlockIdAllocator } from './ids.js';
import type { DirtyBudget } from './budget.js';
import type { BlockMap } from './block-map.js';
import { DirtyBlock } from './dirty.js';
import { Mutex } from '../util/mutex.js';
import type { PendingCommit, PendingWrite } from '../recovery/types.js';

/** Largest file size flexfs accepts (well inside JS safe integers for every offset computed). */
export const MAX_FILE_SIZE = 2 ** 50;

/** The open file's size, mtime and stored attributes, which the writer moves. */
export interface FileState {
  /** Authoritative size while open (includes unflushed writes). */
  size: number;
  mtime: bigint;
  attr: Attr;
}

export interface FileWriterDeps {
  meta: MetaStore;
  io: BlockIO;
  ids: BlockIdAllocator;
  budget: DirtyBudget;
  blockSize: number;
  /** Runs a metadata call under the metadata deadline. */
  metaCall: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  /** How long a writer may wait for dirty budget. */
  budgetDeadlineMs: number;
  /** Told about attributes the metadata server returned (keeps the attribute cache current). */
  onAttr?: (attr: Attr) => void;
}

/** An upload of one block slot that has started but not finished. */
interface Upload {
  seq: number;
  /** Raw bytes of the block (a promise while the merge base is still being read). */
  raw: Promise<Buffer>;
  done: Promise<void>;
}

/**
 * The write side of an open file: writes land in dirty blocks (under the mount-wide dirty
 * budget), a full block uploads at once, and flush() is the one place data becomes durable and
 * visible — every upload holding data written before it awaited, then one commit of the new
 * slots, size and mtime. A writeback stage belongs in flush's sequence.
 *
 * What it holds for a slot, newest first: dirty[i] over (latest upload of i | uncommitted[i]);
 * under those, the committed BlockMap.
 */
export class FileWriter {
  private readonly dirty = new Map<number, DirtyBlock>();
  private readonly uploads = new Map<number, Upload>();
  private readonly uncommitted = new Map<number, BlockWrite>();
  private readonly lock = new Mutex();
  private seq = 0;
  /** Bumped by every change not yet committed; flush compares it to know it caught everything. */
  private changes = 0;
  private committedChanges = 0;
  private failed: unknown[] = [];

  constructor(
    private readonly ino: number,
    private readonly state: FileState,
    private readonly map: BlockMap,
    private readonly d: FileWriterDeps,
    private readonly ctx: () => OpContext,
    /** Bytes of a slot under the dirty layer (FileReader.base): what a partial block merges with. */
    private readonly base: (index: number) => Promise<Buffer>,
  ) {}

  /** Local changes not yet committed? */
  get isDirty(): boolean {
    return this.changes !== this.committedChanges || this.dirty.size > 0 || this.uploads.size > 0 || this.uncommitted.size > 0;
  }

  /** The dirty (not yet uploading) bytes of slot `index`. */
  dirtyBlock(index: number): DirtyBlock | undefined {
    return this.dirty.get(index);
  }

  /** The raw bytes of slot `index`'s latest upload still under way. */
  uploading(index: number): Promise<Buffer> | undefined {
    return this.uploads.get(index)?.raw;
  }

  /** Slot `index` uploaded but not committed yet (blockId 0: made a hole, not committed yet). */
  uncommittedRef(index: number): BlockRef | undefined {
    return this.uncommitted.get(index);
  }

  async write(data: Buffer, position: number): Promise<number> {
    const bs = this.d.blockSize;
    const len = data.length;
    if (position < 0 || !Number.isSafeInteger(position)) throw new FsError('EINVAL', `write at invalid offset ${position}`);
    if (position + len > MAX_FILE_SIZE) throw new FsError('EFBIG', `write past the maximum file size ${MAX_FILE_SIZE}`);
    let off = 0;
    while (off < len) {
      const at = position + off;
      const index = Math.floor(at / bs);
      const inBlock = at % bs;
      const n = Math.min(len - off, bs - inBlock);
      await this.writeBlock(index, inBlock, data.subarray(off, off + n));
      off += n;
      if (at + n > this.state.size) this.state.size = at + n;
    }
    this.state.mtime = nowNs();
    this.changes++;
    return len;
  }

  private async writeBlock(index: number, at: number, src: Buffer): Promise<void> {
    let block = this.dirty.get(index);
    const want = (block ?? new DirtyBlock(this.d.blockSize)).capacityFor(at + src.length);
    const delta = want - (block?.capacity ?? 0);
    if (delta > 0) {
      if (this.d.budget.wouldBlock(delta)) this.spillPartials();
      await this.d.budget.reserve(delta, this.d.budgetDeadlineMs);
      block = this.dirty.get(index); // the map may have changed while we waited
      if (!block) {
        block = new DirtyBlock(this.d.blockSize);
        this.dirty.set(index, block);
      }
      const added = block.grow(Math.max(want, block.capacityFor(at + src.length)));
      if (added < delta) this.d.budget.give(delta - added);
      else if (added > delta) this.d.budget.take(added - delta);
    } else if (!block) {
      throw new Error('unreachable: dirty block without capacity');
    }
    block.write(at, src);
    if (block.isFull) {
      this.dirty.delete(index);
      this.startUpload(index, Promise.resolve(block.buf), block.capacity);
    }
  }

  /** Under budget pressure: upload this file's partial blocks now instead of at flush. */
  private spillPartials(): void {
    for (const [index, block] of [...this.dirty]) this.spill(index, block);
  }

  /** Turn a dirty block into an upload: merge it with the block underneath, then PUT. */
  private spill(index: number, block: DirtyBlock): void {
    this.dirty.delete(index);
    const raw = block.isFull ? Promise.resolve(block.buf) : this.merged(index, block);
    this.startUpload(index, raw, block.capacity, block);
  }

  private async merged(index: number, block: DirtyBlock): Promise<Buffer> {
    const bs = this.d.blockSize;
    const limit = Math.max(0, Math.min(bs, this.state.size - index * bs));
    // Written from its start to the end of the slot (a failed upload put back): nothing underneath
    // shows, so no read of the block under it (which may be unreachable, e.g. in an outage).
    const [first] = block.ranges;
    if (block.ranges.length === 1 && first[0] === 0 && first[1] >= limit) return Buffer.from(block.buf.subarray(0, limit));
    const base = await this.base(index);
    const len = Math.min(limit, Math.max(block.end, base.length));
    const raw = Buffer.alloc(len);
    base.copy(raw, 0, 0, Math.min(base.length, len));
    block.overlay(raw, 0);
    return raw;
  }

  /** `source`: the dirty block the bytes come from, put back if they cannot even be merged. */
  private startUpload(index: number, rawP: Promise<Buffer>, accounted: number, source?: DirtyBlock): void {
    const seq = ++this.seq;
    const up: Upload = { seq, raw: rawP, done: Promise.resolve() };
    up.done = (async () => {
      let raw: Buffer | undefined;
      try {
        raw = await rawP;
        const blockId = await this.d.ids.alloc();
        // Only partial blocks stay in the memory cache: the next flush of an appending writer
        // merges with them. Full blocks of a streaming write would only push the cache (and the
        // mount's RSS) to its limit; the kernel's page cache still has what was just written.
        await this.d.io.upload(this.ino, index, blockId, raw, raw.length < this.d.blockSize);
        if (this.uploads.get(index) === up) {
          this.uploads.delete(index);
          this.uncommitted.set(index, { index, blockId, length: raw.length });
        }
        this.d.budget.give(accounted);
      } catch (e) {
        if (this.uploads.get(index) === up) {
          this.uploads.delete(index);
          if (raw) this.restore(index, DirtyBlock.full(this.d.blockSize, Buffer.from(raw)), accounted);
          else if (source) this.restore(index, source, accounted); // the merge base could not be read
          else this.d.budget.give(accounted);
          this.failed.push(e);
        } else {
          this.d.budget.give(accounted); // a newer upload of this slot already contains these bytes
        }
      }
    })();
    this.uploads.set(index, up);
  }

  /** A failed upload's block goes back to the dirty set (under any newer writes) so a later flush retries it. */
  private restore(index: number, block: DirtyBlock, accounted: number): void {
    const newer = this.dirty.get(index);
    if (newer) {
      const need = Math.max(block.capacity, newer.end);
      block.grow(need);
      for (const [s, e] of newer.ranges) block.write(s, newer.buf.subarray(s, e));
      this.d.budget.give(newer.capacity);
    }
    this.d.budget.take(Math.max(0, block.capacity - accounted));
    this.d.budget.give(Math.max(0, accounted - block.capacity));
    this.dirty.set(index, block);
  }

  /**
   * Upload everything dirty and commit it (close-to-open: visible to other clients afterwards).
   * Fails with EIO when an upload fails (dirty data kept for a retry) or a deadline passes.
   */
  flush(): Promise<void> {
    return this.lock.run(() => this.flushLocked());
  }

  private async flushLocked(): Promise<void> {
    const changes = this.changes;
    const size = this.state.size;
    const mtime = this.state.mtime;
    this.failed = [];
    for (const [index, block] of [...this.dirty]) this.spill(index, block);
    // Wait for every slot that holds data written before this flush (an upload that replaced one
    // of them carries that data too); uploads of slots first written later need not hold us up.
    const slots = new Set(this.uploads.keys());
    for (;;) {
      const pending = [...this.uploads].filter(([i]) => slots.has(i)).map(([, u]) => u.done);
      if (pending.length === 0) break;
      await Promise.all(pending);
    }
    if (this.failed.length > 0) {
      const first = this.failed[0];
      this.failed = [];
      throw first instanceof FsError ? first : new FsError('EIO', 'block upload failed', { cause: first });
    }
    if (changes === this.committedChanges && this.uncommitted.size === 0) return;
    const writes = [...this.uncommitted.values()].sort((a, b) => a.index - b.index);
    const attr = await this.d.metaCall('commit', () =>
      this.d.meta.commit({ ino: this.ino, writes, size, mtime }, this.ctx()));
    for (const w of writes) {
      if (this.uncommitted.get(w.index) === w) this.uncommitted.delete(w.index);
      this.map.set(w);
    }
    this.map.dropBeyond(size);
    this.committedChanges = changes;
    this.state.attr = attr;
    this.d.onAttr?.(attr);
  }

  /**
   * What is not committed, as a commit ready to apply elsewhere (the recovery folder when an
   * unmount cannot upload; a writeback stage): uploads under way are waited for, uploaded slots
   * are listed as stored, and every dirty slot is merged and encoded now under a fresh block id
   * (its frame is part of the answer, nothing is PUT). Undefined when nothing is pending.
   * Local state is left as it is.
   */
  pendingCommit(): Promise<PendingCommit | undefined> {
    return this.lock.run(async () => {
      while (this.uploads.size > 0) await Promise.all([...this.uploads.values()].map((u) => u.done));
      if (!this.isDirty) return undefined;
      const writes = new Map<number, PendingWrite>();
      for (const w of this.uncommitted.values()) writes.set(w.index, { index: w.index, blockId: w.blockId, length: w.length });
      for (const [index, block] of [...this.dirty]) {
        const raw = block.isFull ? block.buf : await this.merged(index, block);
        if (raw.length === 0) continue; // clipped to nothing by a truncate: the size says it all
        const blockId = await this.d.ids.alloc();
        const frame = await this.d.io.frame(this.ino, index, blockId, raw);
        writes.set(index, { index, blockId, length: raw.length, frame });
      }
      return { ino: this.ino, size: this.state.size, mtime: this.state.mtime, writes: [...writes.values()].sort((a, b) => a.index - b.index) };
    });
  }

  /** Set the size (shrink or sparse grow). Local data is flushed first. */
  truncate(newSize: number): Promise<Attr> {
    if (newSize < 0 || !Number.isSafeInteger(newSize)) return Promise.reject(new FsError('EINVAL', `invalid size ${newSize}`));
    if (newSize > MAX_FILE_SIZE) return Promise.reject(new FsError('EFBIG', `size past the maximum file size ${MAX_FILE_SIZE}`));
    return this.lock.run(async () => {
      await this.flushLocked();
      // The metadata rules clip a slot that straddles the new end (its length shrinks), and bytes
      // past a slot's length read as zeros: a later grow exposes zeros, never the old bytes.
      const attr = await this.d.metaCall('truncate', () => this.d.meta.setattr(this.ino, { size: newSize }, this.ctx()));
      const bs = this.d.blockSize;
      // Writes that raced with the truncate and landed past the new end are dropped.
      for (const [index, block] of [...this.dirty]) {
        if (index * bs >= newSize) {
          this.dirty.delete(index);
          this.d.budget.give(block.capacity);
        } else if ((index + 1) * bs > newSize) block.clip(newSize - index * bs);
      }
      this.map.drop();
      this.state.size = newSize;
      this.state.mtime = attr.mtime;
      this.state.attr = attr;
      this.d.onAttr?.(attr);
      return attr;
    });
  }

  /**
   * Zero [from, to) (fallocate PUNCH_HOLE / ZERO_RANGE; the range is cut at the end of the file).
   * A slot the range covers to its end (or to the end of the file) becomes a hole at the next
   * commit — its dirty bytes and uploads dropped —; a slot it covers in part gets zeros written.
   */
  async zero(from: number, to: number): Promise<void> {
    const bs = this.d.blockSize;
    const size = this.state.size;
    to = Math.min(to, size);
    if (from >= to) return;
    const first = Math.floor(from / bs);
    const last = Math.floor((to - 1) / bs);
    const covered = (index: number) => from <= index * bs && to >= Math.min((index + 1) * bs, size);
    for (const index of [first, last]) {
      if (!covered(index)) {
        const a = Math.max(from, index * bs);
        const b = Math.min(to, (index + 1) * bs);
        if (a < b) await this.write(Buffer.alloc(b - a), a);
      }
      if (first === last) break;
    }
    // Only slots that hold something become hole writes: the commit stays as small as the data.
    const holes = new Set<number>();
    for (const m of [this.dirty, this.uploads, this.uncommitted]) {
      for (const index of m.keys()) if (index >= first && index <= last && covered(index)) holes.add(index);
    }
    for (let i = await this.map.firstSlot(first, last + 1); i >= 0; i = await this.map.firstSlot(i + 1, last + 1)) {
      if (covered(i)) holes.add(i);
    }
    for (const index of holes) {
      const block = this.dirty.get(index);
      if (block) {
        this.dirty.delete(index);
        this.d.budget.give(block.capacity);
      }
      this.uploads.delete(index); // an upload under way finds itself superseded and gives its budget back
      this.uncommitted.set(index, { index, blockId: 0, length: 0 });
    }
    this.state.mtime = nowNs();
    this.changes++;
  }

  /** Grow the size to `size` (fallocate without KEEP_SIZE; no-op when the file is as long): sparse. */
  extend(size: number): void {
    if (size > MAX_FILE_SIZE) throw new FsError('EFBIG', `size past the maximum file size ${MAX_FILE_SIZE}`);
    if (size <= this.state.size) return;
    this.state.size = size;
    this.state.mtime = nowNs();
    this.changes++;
  }

  /** Drop local changes (the inode is gone for good). */
  discard(): void {
    for (const block of this.dirty.values()) this.d.budget.give(block.capacity);
    this.dirty.clear();
    this.uncommitted.clear();
    this.committedChanges = this.changes;
  }
}

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
