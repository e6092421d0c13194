import { KERNEL_CACHE_DEFAULTS, VFS_DEFAULTS } from '../config/defaults.js';

/** Seconds a cache may keep attributes, names and the absence of names (0: not at all). */
export interface CacheTimeouts {
  attr: number;
  entry: number;
  negative: number;
}

/**
 * The timeouts a mount uses while it hears other mounts' changes (a connected meta.flexfs
 * session: every change is pushed and dropped at once) and while it does not (`--local`, or the
 * connection is down). See KERNEL_CACHE_DEFAULTS.
 */
export interface CacheTimeoutChoice {
  heard: CacheTimeouts;
  unheard: CacheTimeouts;
}

export const DEFAULT_CACHE_TIMEOUTS: CacheTimeoutChoice = {
  heard: { ...KERNEL_CACHE_DEFAULTS.heard },
  unheard: { ...KERNEL_CACHE_DEFAULTS.unheard },
};

/**
 * How long the mount's own metadata cache trusts what it holds under kernel timeouts `t`: never
 * less than the kernel (a request the kernel passes on must not find older data here), never
 * less than the mount's default.
 */
export function mountCacheMs(t: CacheTimeouts): number {
  return Math.max(VFS_DEFAULTS.attrTtlMs, t.attr * 1000, t.entry * 1000);
}
