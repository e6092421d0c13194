export { MemoryBlockCache, defaultMemoryCacheBytes } from './memory.js';
export { DiskFrameCache, frameCacheName } from './disk.js';
