import type { Attr, BlockRef, OpContext } from '../meta/types.js';
import type { PendingCommit } from '../recovery/types.js';
import { BlockMap } from './block-map.js';
import { FileReader } from './file-reader.js';
import { FileWriter, type FileState, type FileWriterDeps } from './file-writer.js';

export { MAX_FILE_SIZE, nowNs } from './file-writer.js';

export type OpenFileDeps = FileWriterDeps;

/**
 * State of one inode while it has open handles (shared by all of them, so two fds on a file see
 * each other's writes) or unflushed data: its size, mtime and stored attributes, the committed
 * BlockMap, the FileWriter (dirty blocks → uploads → commit) and the FileReader (local changes laid
 * over stored blocks, readahead). Only the writer's flush()/truncate() talk to the metadata
 * server about data.
 */
export class OpenFile implements FileState {
  handles = 0;
  /** Authoritative size while open (includes unflushed writes). */
  size: number;
  mtime: bigint;
  attr: Attr;
  private readonly map: BlockMap;
  private readonly writer: FileWriter;
  private readonly reader: FileReader;

  constructor(readonly ino: number, attr: Attr, d: OpenFileDeps, ctx: () => OpContext) {
    this.attr = attr;
    this.size = attr.size;
    this.mtime = attr.mtime;
    this.map = new BlockMap(ino, d.blockSize, d.meta, d.metaCall, ctx);
    this.writer = new FileWriter(ino, this, this.map, d, ctx, (index) => this.reader.base(index));
    this.reader = new FileReader(ino, this, this.map, this.writer, d.io, d.blockSize);
  }

  /** Local changes not yet committed? */
  get isDirty(): boolean {
    return this.writer.isDirty;
  }

  /** Attributes as this client sees them: stored ones with local size/mtime laid over. */
  view(stored: Attr): Attr {
    if (!this.isDirty) return { ...stored, size: this.size };
    return { ...stored, size: this.size, mtime: this.mtime, ctime: this.mtime > stored.ctime ? this.mtime : stored.ctime };
  }

  /** A block map fetched ahead for exactly these attributes (OpenFiles.opened checked the version). */
  seedMap(refs: BlockRef[]): void {
    if (!this.isDirty) this.map.seed(refs);
  }

  /** Adopt fresh attributes from the metadata server (on open, when nothing local is pending). */
  refresh(attr: Attr): void {
    this.attr = attr;
    if (!this.isDirty) {
      if (attr.size !== this.size || attr.mtime !== this.mtime) this.map.drop();
      this.size = attr.size;
      this.mtime = attr.mtime;
    }
  }

  write(data: Buffer, position: number): Promise<number> { return this.writer.write(data, position); }
  /** Upload everything dirty and commit it (close-to-open: visible to other clients afterwards). */
  flush(): Promise<void> { return this.writer.flush(); }
  /** What is not committed, as a pending commit (FileWriter.pendingCommit). */
  pendingCommit(): Promise<PendingCommit | undefined> { return this.writer.pendingCommit(); }
  /** Set the size (shrink or sparse grow). Local data is flushed first. */
  truncate(newSize: number): Promise<Attr> { return this.writer.truncate(newSize); }
  /** Zero [from, to): covered slots become holes, partial ones get zeros (fallocate punch/zero). */
  zero(from: number, to: number): Promise<void> { return this.writer.zero(from, to); }
  /** Grow the size sparsely to `size` (no-op when it is that long already). */
  extend(size: number): void { this.writer.extend(size); }
  /** SEEK_DATA (`hole` false) / SEEK_HOLE (true) from `offset`, at block granularity (FileReader.seek). */
  seek(offset: number, hole: boolean): Promise<number> { return this.reader.seek(offset, hole); }
  /** Drop local changes (the inode is gone for good). */
  discard(): void { this.writer.discard(); }
  /** Read into `out`; returns bytes read (0 at or past the end). */
  read(out: Buffer, position: number): Promise<number> { return this.reader.read(out, position); }
  /** Up to `length` bytes at `position`, a view of the cached block where one holds them (FileReader.bytes). */
  bytes(length: number, position: number): Promise<Buffer> { return this.reader.bytes(length, position); }
  /** Start fetching stored blocks [fromIndex, fromIndex+count) that are not local (readahead). */
  prefetch(fromIndex: number, count: number): void { this.reader.prefetch(fromIndex, count); }
}
