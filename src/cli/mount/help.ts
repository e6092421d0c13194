import { KERNEL_CACHE_DEFAULTS, MEMORY_CACHE_DEFAULT, VFS_DEFAULTS } from '../../config/defaults.js';
import { sizeFlag } from '../../config/sizes.js';
import { durationFlag } from '../shared/table.js';

/** `mount.flexfs start --help` texts whose defaults come from the defaults table (config/defaults.ts). */
export const START_HELP = {
  memCapacity: `memory block cache, e.g. 512M or 5% (default ${MEMORY_CACHE_DEFAULT.ramFraction * 100}% of RAM, `
    + `at least ${sizeFlag(MEMORY_CACHE_DEFAULT.minBytes)}, at most ${sizeFlag(MEMORY_CACHE_DEFAULT.maxBytes)})`,
  diskQuota: `disk block cache quota, e.g. 10G or 5% (default ${sizeFlag(VFS_DEFAULTS.diskQuota)})`,
  storeDeadline: 'how long a block upload or fetch keeps retrying through a bucket outage before the '
    + `operation fails with EIO, e.g. 90s or 10m (default ${durationFlag(VFS_DEFAULTS.putDeadlineMs / 1000)})`,
  attrTTL: `seconds the kernel may cache attributes (default ${KERNEL_CACHE_DEFAULTS.heard.attr} on meta.flexfs while `
    + `connected: other mounts' changes invalidate them at once; ${KERNEL_CACHE_DEFAULTS.unheard.attr} on --local and while `
    + `disconnected: every stat asks flexfs, which caches them ${VFS_DEFAULTS.attrTtlMs / 1000} s)`,
  negativeTTL: `seconds the kernel may remember that a name does not exist (default ${KERNEL_CACHE_DEFAULTS.heard.negative} `
    + `on meta.flexfs while connected: a create on another mount invalidates it at once; ${KERNEL_CACHE_DEFAULTS.unheard.negative} otherwise)`,
  entryTTL: `seconds the kernel may cache names (default ${KERNEL_CACHE_DEFAULTS.heard.entry} on meta.flexfs while `
    + `connected: other mounts' changes invalidate them at once; ${KERNEL_CACHE_DEFAULTS.unheard.entry} otherwise)`,
} as const;
