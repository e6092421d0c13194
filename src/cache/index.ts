export type { BlockCache } from './types.js';
export { MemoryBlockCache, defaultMemoryCacheBytes } from './memory.js';
export { DiskFrameCache, frameCacheName } from './disk.js';
