export type { BlockCache } from './types.js';
export { MemoryBlockCache, defaultMemoryCacheBytes } from './memory.js';
export { DiskFrameCache, type DiskFrameCacheOptions } from './disk.js';
export { frameCacheName, hashedLayout, namedLayout, type FrameLayout } from './frame-layout.js';
