import type { BlockRef } from '../meta/types.js';
import { FsError } from '../errors/index.js';
import type { BlockIO } from './blockio.js';
import type { BlockMap } from './block-map.js';
import type { FileState, FileWriter } from './file-writer.js';

const EMPTY = Buffer.alloc(0);

/**
 * The read side of an open file: each slot's bytes are the writer's dirty block laid over what
 * is under it — an upload under way, an uploaded-but-uncommitted block, the committed block from
 * the BlockMap, or a hole (zeros) — fetched through BlockIO (caches, singleflight, verify);
 * prefetch() starts fetching stored blocks ahead of a sequential reader.
 */
export class FileReader {
  constructor(
    private readonly ino: number,
    private readonly state: FileState,
    private readonly map: BlockMap,
    private readonly writer: FileWriter,
    private readonly io: BlockIO,
    private readonly blockSize: number,
  ) {}

  /**
   * Up to `length` bytes at `position` (fewer at the end, none past it). When one stored or
   * uploading block holds them all and nothing dirty lies over them, the answer is a view of that
   * block (blocks are immutable: no copy); otherwise a fresh buffer assembled by read().
   */
  async bytes(length: number, position: number): Promise<Buffer> {
    const bs = this.blockSize;
    if (position >= this.state.size || length <= 0) return EMPTY;
    const n = Math.min(length, this.state.size - position);
    const index = Math.floor(position / bs);
    if (Math.floor((position + n - 1) / bs) === index && !this.writer.dirtyBlock(index)) {
      const base = await this.base(index);
      const inBlock = position - index * bs;
      // the same tick as the dirty check above: one snapshot, as in readSlot
      if (inBlock + n <= base.length && !this.writer.dirtyBlock(index)) return base.subarray(inBlock, inBlock + n);
    }
    const out = Buffer.allocUnsafe(n);
    return out.subarray(0, await this.read(out, position));
  }

  /** Read into `out`; returns bytes read (0 at or past the end). */
  async read(out: Buffer, position: number): Promise<number> {
    const bs = this.blockSize;
    if (position >= this.state.size || out.length === 0) return 0;
    const n = Math.min(out.length, this.state.size - position);
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
    const block = this.writer.dirtyBlock(index); // taken together with base() in the same tick: one snapshot
    const basePromise = this.base(index);
    const base = await basePromise;
    dst.fill(0);
    if (inBlock < base.length) base.copy(dst, 0, inBlock, Math.min(base.length, inBlock + dst.length));
    block?.overlay(dst, inBlock);
  }

  /** Bytes of slot `index` under the dirty layer (empty buffer for a hole). */
  base(index: number): Promise<Buffer> {
    const up = this.writer.uploading(index);
    if (up) return up;
    const w = this.writer.uncommittedRef(index);
    if (w) return w.blockId === 0 ? Promise.resolve(EMPTY) : this.fetchRef(w);
    return this.map.get(index).then((ref) => (ref ? this.fetchRef(ref) : EMPTY));
  }

  /** A stored block, cut to its slot's length (a truncate may have shortened the slot). */
  private async fetchRef(ref: BlockRef): Promise<Buffer> {
    const data = await this.io.fetch(this.ino, ref.index, ref.blockId);
    return data.length > ref.length ? data.subarray(0, ref.length) : data;
  }

  /**
   * lseek SEEK_DATA / SEEK_HOLE at block granularity: a slot holds data when it is dirty,
   * uploading, uploaded-but-uncommitted or committed (a slot written in part is all data); the end
   * of the file is a hole. SEEK_DATA at or past the end, or in a hole that runs to it, is ENXIO;
   * so is SEEK_HOLE at or past the end.
   */
  async seek(offset: number, hole: boolean): Promise<number> {
    const size = this.state.size;
    if (offset < 0 || offset >= size) throw new FsError('ENXIO', `offset ${offset} at or past the end (${size})`);
    const bs = this.blockSize;
    const end = Math.ceil(size / bs); // slots [0, end) lie under the size
    const at = (index: number) => Math.max(offset, index * bs);
    for (let index = Math.floor(offset / bs); index < end;) {
      const local = this.localData(index);
      if (local !== undefined) {
        if (local !== hole) return at(index);
        index++;
        continue;
      }
      if (hole) {
        if ((await this.map.get(index)) === undefined) return at(index);
        index++;
        continue;
      }
      // SEEK_DATA over committed slots: jump to the next committed one, or the next local one.
      const next = await this.map.firstSlot(index, end);
      const stop = next < 0 ? end : next;
      let i = index + 1;
      while (i < stop && this.localData(i) === undefined) i++;
      if (i < stop) { index = i; continue; } // a local slot decides: data is the answer, a punched one is skipped
      if (next < 0) break;
      if (this.localData(next) === false) { index = next + 1; continue; }
      return at(next);
    }
    if (hole) return size;
    throw new FsError('ENXIO', `no data at or after ${offset}`);
  }

  /** Whether the writer's layers say slot `index` holds data (true) or was made a hole (false); undefined: the committed map decides. */
  private localData(index: number): boolean | undefined {
    if (this.writer.dirtyBlock(index) || this.writer.uploading(index)) return true;
    const w = this.writer.uncommittedRef(index);
    return w ? w.blockId !== 0 : undefined;
  }

  /** Start fetching stored blocks [fromIndex, fromIndex+count) that are not local (readahead). */
  prefetch(fromIndex: number, count: number): void {
    const lastIndex = Math.floor(Math.max(0, this.state.size - 1) / this.blockSize);
    for (let index = fromIndex; index < fromIndex + count && index <= lastIndex; index++) {
      if (this.writer.dirtyBlock(index) || this.writer.uploading(index)) continue;
      const w = this.writer.uncommittedRef(index);
      if (w) {
        if (w.blockId !== 0) this.io.prefetch(this.ino, index, w.blockId, w.length);
        continue;
      }
      this.map.get(index)
        .then((ref) => ref && this.io.prefetch(this.ino, index, ref.blockId, ref.length))
        .catch(() => undefined);
    }
  }
}
