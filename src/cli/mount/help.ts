import { MEMORY_CACHE_DEFAULT, VFS_DEFAULTS } from '../../config/defaults.js';

/** A byte count as a size flag would write it: 64M, 1G. */
export function sizeFlag(bytes: number): string {
  const GiB = 2 ** 30;
  const MiB = 2 ** 20;
  if (bytes % GiB === 0) return `${bytes / GiB}G`;
  if (bytes % MiB === 0) return `${bytes / MiB}M`;
  return String(bytes);
}

/** `mount.flexfs start --help` texts whose defaults come from the defaults table (config/defaults.ts). */
export const START_HELP = {
  memCapacity: `memory block cache, e.g. 512M or 5% (default ${MEMORY_CACHE_DEFAULT.ramFraction * 100}% of RAM, `
    + `at least ${sizeFlag(MEMORY_CACHE_DEFAULT.minBytes)}, at most ${sizeFlag(MEMORY_CACHE_DEFAULT.maxBytes)})`,
  diskQuota: `disk block cache quota, e.g. 10G or 5% (default ${sizeFlag(VFS_DEFAULTS.diskQuota)})`,
} as const;
