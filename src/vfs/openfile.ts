import type { Attr, BlockRef, BlockWrite, MetaStore, OpContext } from '../meta/types.js';
import { FsError } from '../errors/index.js';
import type { BlockIO } from './blockio.js';
import type { BlockIdAllocator } from './ids.js';
import type { DirtyBudget } from './budget.js';
import { DirtyBlock } from './dirty.js';
import { Mutex } from '../util/mutex.js';

/** Largest file size flexfs accepts (well inside JS safe integers for every offset computed). */
export const MAX_FILE_SIZE = 2 ** 50;

/** Block map slots loaded per metadata round trip. */
const MAP_CHUNK = 1024;

export interface OpenFileDeps {
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
 * State of one inode while it has open handles (shared by all of them, so two fds on a file see
 * each other's writes) or unflushed data. Holds the writer (dirty blocks → uploads → commit) and
 * the reader (block map cache, overlay of local changes on stored blocks).
 *
 * Layers, newest first, for reading slot i: dirty[i] over (latest upload of i | uncommitted[i] |
 * committed map[i] | hole). Only flush()/truncate() talk to the metadata server about data.
 */
export class OpenFile {
  handles = 0;
  /** Authoritative size while open (includes unflushed writes). */
  size: number;
  mtime: bigint;
  attr: Attr;

  private readonly dirty = new Map<number, DirtyBlock>();
  private readonly uploads = new Map<number, Upload>();
  private readonly uncommitted = new Map<number, BlockWrite>();
  private readonly map = new Map<number, BlockRef>();
  private readonly mapChunks = new Map<number, Promise<void>>();
  private readonly lock = new Mutex();
  private seq = 0;
  /** Bumped by every change not yet committed; flush compares it to know it caught everything. */
  private changes = 0;
  private committedChanges = 0;
  private failed: unknown[] = [];

  constructor(readonly ino: number, attr: Attr, private readonly d: OpenFileDeps, private readonly ctx: () => OpContext) {
    this.attr = attr;
    this.size = attr.size;
    this.mtime = attr.mtime;
  }

  /** Local changes not yet committed? */
  get isDirty(): boolean {
    return this.changes !== this.committedChanges || this.dirty.size > 0 || this.uploads.size > 0 || this.uncommitted.size > 0;
  }

  /** Attributes as this client sees them: stored ones with local size/mtime laid over. */
  view(stored: Attr): Attr {
    if (!this.isDirty) return { ...stored, size: this.size };
    return { ...stored, size: this.size, mtime: this.mtime, ctime: this.mtime > stored.ctime ? this.mtime : stored.ctime };
  }

  /** Adopt fresh attributes from the metadata server (on open, when nothing local is pending). */
  refresh(attr: Attr): void {
    this.attr = attr;
    if (!this.isDirty) {
      if (attr.size !== this.size || attr.mtime !== this.mtime) this.dropMap();
      this.size = attr.size;
      this.mtime = attr.mtime;
    }
  }

  // ---------------------------------------------------------------- write path

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
      if (at + n > this.size) this.size = at + n;
    }
    this.mtime = nowNs();
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
    this.startUpload(index, raw, block.capacity);
  }

  private async merged(index: number, block: DirtyBlock): Promise<Buffer> {
    const base = await this.base(index);
    const bs = this.d.blockSize;
    const limit = Math.max(0, Math.min(bs, this.size - index * bs));
    const len = Math.min(limit, Math.max(block.end, base.length));
    const raw = Buffer.alloc(len);
    base.copy(raw, 0, 0, Math.min(base.length, len));
    block.overlay(raw, 0);
    return raw;
  }

  private startUpload(index: number, rawP: Promise<Buffer>, accounted: number): void {
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
          if (raw) this.restore(index, raw, accounted);
          else this.d.budget.give(accounted);
          this.failed.push(e);
        } else {
          this.d.budget.give(accounted); // a newer upload of this slot already contains these bytes
        }
      }
    })();
    this.uploads.set(index, up);
  }

  /** A failed upload goes back to the dirty set (under any newer writes) so a later flush retries it. */
  private restore(index: number, raw: Buffer, accounted: number): void {
    const newer = this.dirty.get(index);
    const block = DirtyBlock.full(this.d.blockSize, Buffer.from(raw));
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
    const size = this.size;
    const mtime = this.mtime;
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
      this.map.set(w.index, w);
    }
    this.dropMapBeyond(size);
    this.committedChanges = changes;
    this.attr = attr;
    this.d.onAttr?.(attr);
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
      this.dropMap();
      this.size = newSize;
      this.mtime = attr.mtime;
      this.attr = attr;
      this.d.onAttr?.(attr);
      return attr;
    });
  }

  /** Drop local changes (the inode is gone for good). */
  discard(): void {
    for (const block of this.dirty.values()) this.d.budget.give(block.capacity);
    this.dirty.clear();
    this.uncommitted.clear();
    this.committedChanges = this.changes;
  }

  // ---------------------------------------------------------------- read path

  /** Read into `out`; returns bytes read (0 at or past the end). */
  async read(out: Buffer, position: number): Promise<number> {
    const bs = this.d.blockSize;
    if (position >= this.size || out.length === 0) return 0;
    const n = Math.min(out.length, this.size - position);
    const first = Math.floor(position / bs);
    const last = Math.floor((position + n - 1) / bs);
    const parts: Promise<void>[] = [];
    for (let index = first; index <= last; index++) {
      const blockStart = index * bs;
      const from = Math.max(position, blockStart);
      const to = Math.min(position + n, blockStart + bs);
      const dst = out.subarray(from - position, to - position);
      parts.push(this.readSlot(index, from - blockStart, dst));
    }
    await Promise.all(parts);
    return n;
  }

  private async readSlot(index: number, inBlock: number, dst: Buffer): Promise<void> {
    const block = this.dirty.get(index); // taken together with base() in the same tick: one snapshot
    const basePromise = this.base(index);
    const base = await basePromise;
    dst.fill(0);
    if (inBlock < base.length) base.copy(dst, 0, inBlock, Math.min(base.length, inBlock + dst.length));
    block?.overlay(dst, inBlock);
  }

  /** Bytes of slot `index` under the dirty layer (empty buffer for a hole). */
  private base(index: number): Promise<Buffer> {
    const up = this.uploads.get(index);
    if (up) return up.raw;
    const w = this.uncommitted.get(index);
    if (w) return this.fetchRef(w);
    return this.committedRef(index).then((ref) => (ref ? this.fetchRef(ref) : EMPTY));
  }

  /** A stored block, cut to its slot's length (a truncate may have shortened the slot). */
  private async fetchRef(ref: BlockRef): Promise<Buffer> {
    const data = await this.d.io.fetch(this.ino, ref.index, ref.blockId);
    return data.length > ref.length ? data.subarray(0, ref.length) : data;
  }

  /** Start fetching stored blocks [fromIndex, fromIndex+count) that are not local (readahead). */
  prefetch(fromIndex: number, count: number): void {
    const lastIndex = Math.floor(Math.max(0, this.size - 1) / this.d.blockSize);
    for (let index = fromIndex; index < fromIndex + count && index <= lastIndex; index++) {
      if (this.dirty.has(index) || this.uploads.has(index)) continue;
      const w = this.uncommitted.get(index);
      if (w) {
        this.d.io.prefetch(this.ino, index, w.blockId);
        continue;
      }
      this.committedRef(index)
        .then((ref) => ref && this.d.io.prefetch(this.ino, index, ref.blockId))
        .catch(() => undefined);
    }
  }

  private async committedRef(index: number): Promise<BlockRef | undefined> {
    const chunk = Math.floor(index / MAP_CHUNK);
    let loading = this.mapChunks.get(chunk);
    if (!loading) {
      loading = this.loadChunk(chunk);
      this.mapChunks.set(chunk, loading);
      loading.catch(() => this.mapChunks.delete(chunk)); // retry next time
    }
    await loading;
    return this.map.get(index);
  }

  private async loadChunk(chunk: number): Promise<void> {
    const from = chunk * MAP_CHUNK;
    const refs = await this.d.metaCall('blocks', () => this.d.meta.blocks(this.ino, from, MAP_CHUNK, this.ctx()));
    for (const r of refs) if (!this.map.has(r.index)) this.map.set(r.index, r);
  }

  private dropMap(): void {
    this.map.clear();
    this.mapChunks.clear();
  }

  private dropMapBeyond(size: number): void {
    const lastIndex = Math.ceil(size / this.d.blockSize);
    for (const index of this.map.keys()) if (index >= lastIndex) this.map.delete(index);
  }
}

const EMPTY = Buffer.alloc(0);

export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
