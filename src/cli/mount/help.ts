import { MEMORY_CACHE_DEFAULT, VFS_DEFAULTS } from '../../config/defaults.js';
import { sizeFlag } from '../../config/sizes.js';

/** `mount.flexfs start --help` texts whose defaults come from the defaults table (config/defaults.ts). */
export const START_HELP = {
  memCapacity: `memory block cache, e.g. 512M or 5% (default ${MEMORY_CACHE_DEFAULT.ramFraction * 100}% of RAM, `
    + `at least ${sizeFlag(MEMORY_CACHE_DEFAULT.minBytes)}, at most ${sizeFlag(MEMORY_CACHE_DEFAULT.maxBytes)})`,
  diskQuota: `disk block cache quota, e.g. 10G or 5% (default ${sizeFlag(VFS_DEFAULTS.diskQuota)})`,
} as const;
