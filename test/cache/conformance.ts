/**
 * The BlockCache conformance suite (src/cache/types.ts): every block cache passes it.
 *
 *   runBlockCacheConformance('memory', { open: async (capacity) => ({ cache, cleanup }), key: (i) => i });
 *
 * `open` makes an empty cache of `capacity` bytes (called once per test); `key(i)` makes the
 * i-th distinct key in the implementation's key type.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { BlockCache } from '../../src/cache/types.js';

export interface OpenedCache<K> {
  cache: BlockCache<K>;
  cleanup(): Promise<void>;
}

export interface CacheFixture<K> {
  open(capacityBytes: number): Promise<OpenedCache<K>>;
  key(i: number): K;
}

export function runBlockCacheConformance<K>(label: string, fx: CacheFixture<K>): void {
  const { key } = fx;
  /** Run `body` on a fresh cache of `capacity` bytes, cleaned up afterwards. */
  async function withCache(capacity: number, body: (c: BlockCache<K>) => Promise<void>): Promise<void> {
    const opened = await fx.open(capacity);
    try {
      await body(opened.cache);
    } finally {
      await opened.cleanup();
    }
  }

  describe(`BlockCache conformance: ${label}`, () => {
    it('misses with undefined, then returns exactly what was put', () => withCache(10_000, async (c) => {
      expect(await c.get(key(1))).toBeUndefined();
      const data = randomBytes(1500);
      await c.put(key(1), data);
      expect((await c.get(key(1)))?.equals(data)).toBe(true);
      expect(await c.get(key(2))).toBeUndefined();
      expect([c.count, c.bytes, c.capacityBytes]).toEqual([1, 1500, 10_000]);
    }));

    it('stays within its capacity, evicting the least recently used entry first', () => withCache(3000, async (c) => {
      for (const i of [1, 2, 3]) await c.put(key(i), Buffer.alloc(1000, i));
      expect(c.bytes).toBe(3000);
      expect((await c.get(key(1)))?.[0]).toBe(1); // 1 is now the most recently used
      await c.put(key(4), Buffer.alloc(1000, 4)); // evicts 2
      expect(await c.get(key(2))).toBeUndefined();
      for (const i of [1, 3, 4]) expect((await c.get(key(i)))?.[0]).toBe(i);
      expect([c.count, c.bytes]).toEqual([3, 3000]);
    }));

    it('does not cache an entry larger than its capacity, and keeps the others', () => withCache(3000, async (c) => {
      await c.put(key(1), Buffer.alloc(1000, 1));
      await c.put(key(2), Buffer.alloc(3001, 2));
      expect(await c.get(key(2))).toBeUndefined();
      expect((await c.get(key(1)))?.[0]).toBe(1);
      expect([c.count, c.bytes]).toEqual([1, 1000]);
    }));

    it('drops an entry and gives its bytes back; dropping a missing key is fine', () => withCache(10_000, async (c) => {
      await c.put(key(1), Buffer.alloc(700, 1));
      await c.put(key(2), Buffer.alloc(300, 2));
      await c.drop(key(1));
      await c.drop(key(1));
      await c.drop(key(99));
      expect(await c.get(key(1))).toBeUndefined();
      expect((await c.get(key(2)))?.[0]).toBe(2);
      expect([c.count, c.bytes]).toEqual([1, 300]);
    }));

    it('putting a present key again (same immutable bytes) keeps one entry', () => withCache(10_000, async (c) => {
      const data = randomBytes(800);
      await c.put(key(1), data);
      await c.put(key(1), Buffer.from(data));
      expect([c.count, c.bytes]).toEqual([1, 800]);
      expect((await c.get(key(1)))?.equals(data)).toBe(true);
    }));

    it('concurrent puts and gets: never over capacity, never the wrong bytes', () => withCache(20_000, async (c) => {
      const bodies = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 37));
      await Promise.all(bodies.map(async (b, i) => {
        await c.put(key(i), b);
        const got = await c.get(key(i % 7));
        if (got) expect(got.equals(bodies[i % 7])).toBe(true);
      }));
      expect(c.bytes).toBeLessThanOrEqual(20_000);
      let held = 0;
      for (const [i, b] of bodies.entries()) {
        const got = await c.get(key(i));
        if (got) { held++; expect(got.equals(b)).toBe(true); }
      }
      expect(held).toBe(c.count);
      expect(held).toBeGreaterThan(0);
    }));
  });
}
