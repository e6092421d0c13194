import type { OpContext } from '../meta/types.js';
import { MemoryBlockCache, defaultMemoryCacheBytes } from '../cache/memory.js';
import { DiskFrameCache } from '../cache/disk.js';
import { READAHEAD_DEFAULTS } from '../config/defaults.js';
import { VFS_DEFAULTS, type FileSystemOptions } from './options.js';
import { BlockIO } from './blockio.js';
import { BlockIdAllocator } from './ids.js';
import { DirtyBudget } from './budget.js';
import { withDeadline } from './deadline.js';

/**
 * The core's block-side parts: the block caches, block I/O, the dirty budget, the block id
 * allocator and the readahead limit. Built from the options by default; the composition root
 * (or a test) may build them itself and hand them to FsCore.
 */
export interface CoreParts {
  memory: MemoryBlockCache;
  disk?: DiskFrameCache;
  io: BlockIO;
  budget: DirtyBudget;
  ids: BlockIdAllocator;
  /** Largest readahead window in bytes (below one block: readahead off). */
  readaheadMax: number;
}

export function buildCoreParts(o: FileSystemOptions): CoreParts {
  const bs = o.settings.blockSize;
  const memCapacity = o.memCapacity ?? defaultMemoryCacheBytes();
  const memory = new MemoryBlockCache(memCapacity);
  const disk = o.diskFolder ? new DiskFrameCache(o.diskFolder, o.diskQuota ?? VFS_DEFAULTS.diskQuota) : undefined;
  const io = new BlockIO({
    volumeId: o.settings.id, store: o.store, codec: o.codec, memory, disk,
    getDeadlineMs: o.getDeadlineMs ?? VFS_DEFAULTS.getDeadlineMs,
    putDeadlineMs: o.putDeadlineMs ?? VFS_DEFAULTS.putDeadlineMs,
    prefetchBudgetBytes: Math.min(READAHEAD_DEFAULTS.inFlightBytes, Math.floor(memCapacity * READAHEAD_DEFAULTS.cacheShare)),
  });
  const metaDeadlineMs = o.metaDeadlineMs ?? VFS_DEFAULTS.metaDeadlineMs;
  const sys: OpContext = { uid: 0, gid: 0, sessionId: o.sessionId };
  const ids = new BlockIdAllocator(o.meta, () => sys, VFS_DEFAULTS.idBatch,
    (what, fn) => withDeadline(`metadata ${what}`, metaDeadlineMs, () => fn()));
  return {
    memory, disk, io, ids,
    budget: new DirtyBudget(o.dirtyBytes ?? VFS_DEFAULTS.dirtyBytes),
    // Prefetched blocks wait in the memory cache: a window larger than a share of it would evict
    // blocks before they are read and fetch them again (a small --memCapacity thrashed).
    readaheadMax: o.readaheadMax ?? Math.min(READAHEAD_DEFAULTS.maxBytes, READAHEAD_DEFAULTS.maxBlocks * bs,
      Math.floor((memCapacity * READAHEAD_DEFAULTS.cacheShare) / bs) * bs),
  };
}
