import { describe, expect, it } from 'vitest';
import { Listings } from './listings.js';
import { ListingPrefetch } from './listing-prefetch.js';
import type { OpContext } from '../meta/types.js';
import { LISTING_PREFETCH_DEFAULTS } from '../config/defaults.js';

const CTX: OpContext = { uid: 0, gid: 0, pid: 1 };

describe('Listings', () => {
  it('keeps a listing until its directory is dropped, and refuses one fetched across a drop', () => {
    const l = new Listings();
    const v = l.version(7);
    expect(l.put(7, [['a', 10]], v, 60_000)).toBe(true);
    expect(l.get(7)).toEqual([['a', 10]]);
    l.drop(7);
    expect(l.get(7)).toBeUndefined();
    // a fetch that began before a drop (a change raced it) is not kept
    const before = l.version(8);
    l.drop(8);
    expect(l.put(8, [['x', 11]], before, 60_000)).toBe(false);
    expect(l.has(8)).toBe(false);
    // clear() (changes missed) makes every fetch in flight stale too
    const inFlight = l.version(9);
    l.clear();
    expect(l.put(9, [['y', 12]], inFlight, 60_000)).toBe(false);
    // no TTL, no listing
    expect(l.put(9, [['y', 12]], l.version(9), 0)).toBe(false);
  });

  it('expires listings', async () => {
    const l = new Listings();
    l.put(1, [['a', 2]], l.version(1), 20);
    await new Promise((r) => setTimeout(r, 40));
    expect(l.get(1)).toBeUndefined();
  });
});

describe('ListingPrefetch', () => {
  function setup(enabled = true) {
    const fetched: number[] = [];
    const held = new Set<number>();
    let inFlight = 0;
    let maxInFlight = 0;
    const releases: (() => void)[] = [];
    const p = new ListingPrefetch({
      held: (d) => held.has(d),
      fetch: (d) => {
        fetched.push(d);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        return new Promise<void>((done) => releases.push(() => { inFlight--; held.add(d); done(); }));
      },
      enabled: () => enabled,
    }, { ...LISTING_PREFETCH_DEFAULTS, concurrency: 2 });
    const drain = async () => { while (releases.length) { releases.shift()!(); await new Promise((r) => setImmediate(r)); } };
    return { p, fetched, held, drain, maxInFlight: () => maxInFlight };
  }

  it('fetches nothing for a plain listing, and lists ahead once a walk shows (children first, then siblings)', async () => {
    const s = setup();
    s.p.listed(1, [2, 3, 4], CTX); // `ls` of the root: no walk yet
    expect(s.fetched).toEqual([]);
    s.p.listed(2, [5, 6], CTX); // the walker went into 2, a subdirectory of what it listed
    await s.drain();
    expect(s.fetched.slice(0, 2).sort()).toEqual([5, 6]);
    expect(s.fetched.slice(2).sort()).toEqual([3, 4]);
    expect(s.maxInFlight()).toBe(2);
  });

  it('skips what is held or queued, and does nothing while disabled', async () => {
    const s = setup();
    s.held.add(3);
    s.p.listed(1, [2, 3], CTX);
    s.p.listed(2, [4], CTX);
    s.p.listed(2, [4], CTX);
    await s.drain();
    expect(s.fetched).toEqual([4]);
    const off = setup(false);
    off.p.listed(1, [2, 3], CTX);
    off.p.listed(2, [4], CTX);
    await off.drain();
    expect(off.fetched).toEqual([]);
  });
});
