import type { EventEmitter } from 'node:events';
import { Semaphore } from '../store/semaphore.js';
import { Admission } from './admission.js';
import { PROXY_DEFAULTS } from '../config/defaults.js';

/**
 * What GETs may hold at once, so the proxy's memory stays bounded however many clients ask
 * (1,000 concurrent 4 MiB misses once took it from 73 MB to 596 MB):
 * - `maxGets` GETs hold a frame in memory (read from the cache, fetched, or being sent) at a time;
 *   up to `maxQueued` more wait their turn in arrival order, and beyond that a GET is answered
 *   503 at once (clients try another proxy or the bucket; nothing is held for them).
 * - `maxFetches` bucket GETs run at a time; a fetch keeps its slot until its frame is in the disk
 *   cache, so background cache writes are bounded too.
 * Frames are at most 8 MiB plus a header, so memory for frames ≤ (maxGets + maxFetches) × 8 MiB.
 */
export interface GetLimitOptions {
  maxGets?: number;
  maxFetches?: number;
  maxQueued?: number;
}

export const GET_LIMIT_DEFAULTS = {
  maxGets: PROXY_DEFAULTS.maxGets, maxFetches: PROXY_DEFAULTS.maxFetches, maxQueued: PROXY_DEFAULTS.maxQueuedGets,
} as const;

export class GetLimits {
  private readonly gets: Admission;
  private readonly fetches: Semaphore;
  private upstreamNow = 0;
  private upstreamPeakValue = 0;

  constructor(opts: GetLimitOptions = {}) {
    this.gets = new Admission(opts.maxGets ?? GET_LIMIT_DEFAULTS.maxGets, opts.maxQueued ?? GET_LIMIT_DEFAULTS.maxQueued, 'GETs');
    this.fetches = new Semaphore(opts.maxFetches ?? GET_LIMIT_DEFAULTS.maxFetches);
  }

  /** Admit one GET whose response is `res` (Admission.admit): throws AdmissionRefused when it may not run. */
  admit(res: EventEmitter): Promise<void> {
    return this.gets.admit(res);
  }

  /**
   * Run one bucket GET within the fetch limit. The slot is held until `then` (the caller's
   * follow-up work on the result, started at once: the cache write) finishes as well.
   */
  async fetch<T>(get: () => Promise<T>, then: (value: T) => Promise<unknown>): Promise<T> {
    const release = await this.fetches.acquire();
    let value: T;
    this.upstreamNow++;
    this.upstreamPeakValue = Math.max(this.upstreamPeakValue, this.upstreamNow);
    try {
      value = await get();
    } catch (e) {
      release();
      throw e;
    } finally {
      this.upstreamNow--;
    }
    let follow: Promise<unknown>;
    try { follow = Promise.resolve(then(value)); } catch { follow = Promise.resolve(); }
    void follow.catch(() => undefined).finally(release);
    return value;
  }

  /** Bucket GETs running now, and the most ever running at once (what the limit bounds). */
  get upstreamInFlight(): number { return this.upstreamNow; }
  get upstreamPeak(): number { return this.upstreamPeakValue; }
  get getsInFlight(): number { return this.gets.inFlight; }
  get getsQueued(): number { return this.gets.queued; }
}
