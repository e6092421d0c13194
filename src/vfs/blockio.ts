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
  /** Bytes of prefetch GETs in flight at once, all readers together; past it prefetch() skips. */
  prefetchBudgetBytes: number;
}

/**
 * Block objects in and out: memory cache → singleflight → disk cache → store, decode and verify;
 * and encode → PUT. Every failure is FsError('EIO') (deadline, store error, corrupt frame).
 */
export class BlockIO {
  private readonly flights = new SingleFlight<number, Buffer>();
  /** Prefetches in flight: block id → the bytes counted against the budget. */
  private readonly prefetching = new Map<number, number>();
  private prefetchingBytes = 0;
  /** Prefetched blocks in the memory cache that no reader has asked for yet: block id → bytes. */
  private readonly unread = new Map<number, number>();
  /** Block ids a reader asked for while their prefetch was in flight. */
  private readonly claimed = new Set<number>();
  /**
   * Counters for tests and metrics. prefetchBytes: bytes fetched by readahead; prefetchUnusedBytes:
   * of those, bytes that left the memory cache (or never fit) before any read; prefetchPeakBytes:
   * the most prefetch bytes in flight at once; prefetchSkips: prefetches refused by the budget.
   */
  readonly stats = { gets: 0, puts: 0, memHits: 0, diskHits: 0, prefetchBytes: 0, prefetchUnusedBytes: 0, prefetchPeakBytes: 0, prefetchSkips: 0 };

  constructor(private readonly o: BlockIOOptions) {
    o.memory.onLeave((blockId) => {
      const bytes = this.unread.get(blockId);
      if (bytes === undefined) return;
      this.unread.delete(blockId);
      this.stats.prefetchUnusedBytes += bytes;
    });
  }

  /** Prefetch GETs in flight now. */
  get prefetchesInFlight(): number {
    return this.prefetching.size;
  }

  key(ino: number, index: number, blockId: number): string {
    return blockKey(this.o.volumeId, ino, index, blockId);
  }

  /** Decoded contents of block `blockId` (slot `index` of `ino`). */
  async fetch(ino: number, index: number, blockId: number): Promise<Buffer> {
    this.unread.delete(blockId);
    if (this.prefetching.has(blockId)) this.claimed.add(blockId);
    return this.cachedOrLoad(ino, index, blockId);
  }

  /**
   * Fetch into the caches without waiting for or reporting the result (readahead). `bytes` is
   * the block's length as the map has it, counted against the prefetch budget while in flight;
   * a prefetch that would pass the budget is skipped (the reader's next read asks again).
   */
  prefetch(ino: number, index: number, blockId: number, bytes: number): void {
    if (this.o.memory.has(blockId) || this.prefetching.has(blockId) || this.flights.has(blockId)) return;
    if (this.prefetchingBytes + bytes > this.o.prefetchBudgetBytes && this.prefetchingBytes > 0) {
      this.stats.prefetchSkips++;
      return;
    }
    this.prefetching.set(blockId, bytes);
    this.prefetchingBytes += bytes;
    this.stats.prefetchPeakBytes = Math.max(this.stats.prefetchPeakBytes, this.prefetchingBytes);
    this.cachedOrLoad(ino, index, blockId).then((data) => {
      this.stats.prefetchBytes += data.length;
      if (this.claimed.has(blockId)) return;
      if (this.o.memory.has(blockId)) this.unread.set(blockId, data.length);
      else this.stats.prefetchUnusedBytes += data.length; // too big for the cache: fetched for nothing
    }).catch(() => undefined).finally(() => {
      this.prefetchingBytes -= this.prefetching.get(blockId) ?? 0;
      this.prefetching.delete(blockId);
      this.claimed.delete(blockId);
    });
  }

  private cachedOrLoad(ino: number, index: number, blockId: number): Promise<Buffer> {
    const hit = this.o.memory.get(blockId);
    if (hit) {
      this.stats.memHits++;
      return Promise.resolve(hit);
    }
    return this.flights.run(blockId, async () => {
      const data = await this.load(ino, index, blockId);
      this.o.memory.set(blockId, data);
      return data;
    });
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
          const data = await this.o.codec.decode(key, frame, { consume: true });
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
      // Without a disk cache nothing needs the frame after decoding: hand it to the codec whole.
      const data = await this.o.codec.decode(key, frame, { consume: !disk });
      if (disk) void disk.put(name, frame);
      return data;
    } catch (e) {
      throw asIoError(`read block ${index} of inode ${ino}`, e);
    }
  }
}
