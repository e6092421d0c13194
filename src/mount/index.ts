/**
 * mount/: the composition root. `openMountStack(config)` builds everything below the CLI (metadata
 * source, block store, codec, VFS) from typed config; `close()` takes it down in order.
 */
export { openMountStack, type MountStack } from './stack.js';
export { localEngineSpec, openMetaSource } from './meta-source.js';
export { openBlockStore, type MountBlockStore } from './block-store.js';
export type { MountStackConfig, MetaSourceConfig, MetaSource, MountLog } from './config.js';
