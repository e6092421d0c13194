import type { ObjectStore } from '../store/types.js';
import type { BlockCodec } from '../codec/types.js';
import { blockKey } from '../store/keys.js';
import { MemoryBlockCache } from '../cache/memory.js';
import { DiskFrameCache, frameCacheName } from '../cache/disk.js';
import { SingleFlight } from '../util/singleflight.js';
import { asIoError, withDeadline } from './deadline.js';

export interface BlockIOOptions {
  volumeId: string;
  store: ObjectStore;
  codec: BlockCodec;
  memory: MemoryBlockCache;
  disk?: DiskFrameCache;
  /** Deadline for one block GET / PUT including the store's own retries. */
  getDeadlineMs: number;
  putDeadlineMs: number;
}

/**
 * Block objects in and out: memory cache → singleflight → disk cache → store, decode and verify;
 * and encode → PUT. Every failure is FsError('EIO') (deadline, store error, corrupt frame).
 */
export class BlockIO {
  private readonly flights = new SingleFlight<number, Buffer>();
  /** Counters for tests and metrics. */
  readonly stats = { gets: 0, puts: 0, memHits: 0, diskHits: 0 };

  constructor(private readonly o: BlockIOOptions) {}

  key(ino: number, index: number, blockId: number): string {
    return blockKey(this.o.volumeId, ino, index, blockId);
  }

  /** Decoded contents of block `blockId` (slot `index` of `ino`). */
  async fetch(ino: number, index: number, blockId: number): Promise<Buffer> {
    const hit = this.o.memory.get(blockId);
    if (hit) {
      this.stats.memHits++;
      return hit;
    }
    return this.flights.run(blockId, async () => {
      const data = await this.load(ino, index, blockId);
      this.o.memory.set(blockId, data);
      return data;
    });
  }

  /** Fetch into the caches without waiting for or reporting the result (readahead). */
  prefetch(ino: number, index: number, blockId: number): void {
    if (this.o.memory.has(blockId)) return;
    this.fetch(ino, index, blockId).catch(() => undefined);
  }

  /** The frame `raw` is stored as under block `blockId` (encoded, not PUT: recovery records). */
  frame(ino: number, index: number, blockId: number, raw: Buffer): Promise<Buffer> {
    return this.o.codec.encode(this.key(ino, index, blockId), raw);
  }

  /** Encode and PUT `raw` as block `blockId`; on success the raw bytes join the memory cache if `keep`. */
  async upload(ino: number, index: number, blockId: number, raw: Buffer, keep = true): Promise<void> {
    const key = this.key(ino, index, blockId);
    try {
      const frame = await this.o.codec.encode(key, raw);
      await withDeadline(`put block ${index} of inode ${ino}`, this.o.putDeadlineMs, (signal) =>
        this.o.store.put(key, frame, { signal }));
      this.stats.puts++;
      if (keep) this.o.memory.set(blockId, raw);
      if (this.o.disk) void this.o.disk.put(frameCacheName(this.o.volumeId, blockId), frame);
    } catch (e) {
      throw asIoError(`write block ${index} of inode ${ino}`, e);
    }
  }

  private async load(ino: number, index: number, blockId: number): Promise<Buffer> {
    const key = this.key(ino, index, blockId);
    const disk = this.o.disk;
    const name = frameCacheName(this.o.volumeId, blockId);
    if (disk) {
      const frame = await disk.get(name);
      if (frame) {
        try {
          const data = await this.o.codec.decode(key, frame);
          this.stats.diskHits++;
          return data;
        } catch {
          await disk.drop(name); // damaged on disk: fetch it again from the store
        }
      }
    }
    try {
      const frame = await withDeadline(`get block ${index} of inode ${ino}`, this.o.getDeadlineMs, (signal) =>
        this.o.store.get(key, { signal }));
      this.stats.gets++;
      const data = await this.o.codec.decode(key, frame);
      if (disk) void disk.put(name, frame);
      return data;
    } catch (e) {
      throw asIoError(`read block ${index} of inode ${ino}`, e);
    }
  }
}
