import { totalmem } from 'node:os';
import { LRUCache } from 'lru-cache';
import { MEMORY_CACHE_DEFAULT } from '../config/defaults.js';
import type { BlockCache } from './types.js';

/**
 * Memory cache of decoded block contents, keyed by block id. Block ids name immutable bytes
 * (DESIGN §3), so entries never need invalidation; the cache is bounded by bytes, not entries.
 */
export class MemoryBlockCache implements BlockCache<number> {
  private readonly lru: LRUCache<number, Buffer>;
  readonly maxBytes: number;
  private readonly leaveListeners: Array<(blockId: number) => void> = [];

  constructor(maxBytes: number = defaultMemoryCacheBytes()) {
    this.maxBytes = Math.max(1, Math.floor(maxBytes));
    this.lru = new LRUCache<number, Buffer>({
      maxSize: this.maxBytes,
      // Empty blocks still take an entry; count them as one byte so maxSize stays meaningful.
      sizeCalculation: (b) => Math.max(1, b.length),
      // 'set' is the same id stored again: the block has not left.
      dispose: (_value, blockId, reason) => {
        if (reason !== 'set') for (const fn of this.leaveListeners) fn(blockId);
      },
    });
  }

  /** Call `fn` whenever a block leaves the cache (evicted for room, dropped or cleared). */
  onLeave(fn: (blockId: number) => void): void {
    this.leaveListeners.push(fn);
  }

  get(blockId: number): Buffer | undefined {
    return this.lru.get(blockId);
  }

  put(blockId: number, data: Buffer): void {
    // A block larger than the whole cache is simply not cached (lru-cache would throw).
    if (data.length > this.maxBytes) return;
    this.lru.set(blockId, data);
  }

  /** put() under its older name (vfs/blockio.ts calls it). */
  set(blockId: number, data: Buffer): void {
    this.put(blockId, data);
  }

  drop(blockId: number): void {
    this.lru.delete(blockId);
  }

  has(blockId: number): boolean {
    return this.lru.has(blockId);
  }

  get bytes(): number {
    return this.lru.calculatedSize ?? 0;
  }

  get count(): number {
    return this.lru.size;
  }

  get capacityBytes(): number {
    return this.maxBytes;
  }

  clear(): void {
    this.lru.clear();
  }
}

/** Default memory cache: 5% of RAM, at least 64 MiB, at most 1 GiB. */
export function defaultMemoryCacheBytes(): number {
  const { ramFraction, minBytes, maxBytes } = MEMORY_CACHE_DEFAULT;
  return Math.min(maxBytes, Math.max(minBytes, Math.floor(totalmem() * ramFraction)));
}
