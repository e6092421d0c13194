import { Admission } from './admission.js';
import { PROXY_DEFAULTS } from '../config/defaults.js';

/**
 * What PUTs may hold at once: a PUT holds its whole body (a block frame, at most 8 MiB plus a
 * header from a mount; bodies up to the 64 MiB limit are accepted) from admission until it is
 * answered. `maxPuts` run at a time, up to `maxQueued` more wait in arrival order without their
 * body being read, and beyond that a PUT is answered 503 at once (a mount's proxy group then
 * writes the block through the next proxy or the bucket). Memory for bodies ≤ maxPuts × body size.
 */
export interface PutLimitOptions {
  maxPuts?: number;
  maxQueued?: number;
}

export const PUT_LIMIT_DEFAULTS = { maxPuts: PROXY_DEFAULTS.maxPuts, maxQueued: PROXY_DEFAULTS.maxQueuedPuts } as const;

export function putAdmission(opts: PutLimitOptions = {}): Admission {
  return new Admission(opts.maxPuts ?? PUT_LIMIT_DEFAULTS.maxPuts, opts.maxQueued ?? PUT_LIMIT_DEFAULTS.maxQueued, 'PUTs');
}
