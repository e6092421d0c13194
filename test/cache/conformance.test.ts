/** Every block cache (src/cache/) against the BlockCache conformance suite. */
import { tempDir } from '../harness/ports.js';
import { DiskFrameCache, frameCacheName, hashedLayout } from '../../src/cache/disk.js';
import { MemoryBlockCache } from '../../src/cache/memory.js';
import { runBlockCacheConformance } from './conformance.js';

runBlockCacheConformance<number>('memory LRU (MemoryBlockCache)', {
  open: async (capacity) => ({ cache: new MemoryBlockCache(capacity), cleanup: async () => {} }),
  key: (i) => i,
});

runBlockCacheConformance<string>('disk frame cache (DiskFrameCache)', {
  open: async (capacity) => {
    const dir = await tempDir('flexfs-cache-conf-');
    return { cache: new DiskFrameCache(dir.path, capacity), cleanup: () => dir.cleanup() };
  },
  key: (i) => frameCacheName('vol-1', i),
});

runBlockCacheConformance<string>("disk frame cache, the proxy's layout (DiskFrameCache, hashedLayout)", {
  open: async (capacity) => {
    const dir = await tempDir('flexfs-cache-conf-');
    return { cache: await DiskFrameCache.open(dir.path, capacity, { layout: hashedLayout }), cleanup: () => dir.cleanup() };
  },
  key: (i) => `vol-1/blocks/${String(i % 256).padStart(2, '0')}/1_${i}_${i}`,
});
