import { describe, expect, it } from 'vitest';
import { readdir, utimes, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../../test/harness/ports.js';
import { DiskFrameCache, frameCacheName } from './disk.js';
import { MemoryBlockCache } from './memory.js';

describe('DiskFrameCache', () => {
  it('keeps frames under the quota, evicting least recently used first, and survives a restart', async () => {
    const dir = await tempDir();
    try {
      const c = new DiskFrameCache(dir.path, 3000);
      await c.put('a', Buffer.alloc(1000, 1));
      await c.put('b', Buffer.alloc(1000, 2));
      await c.put('c', Buffer.alloc(1000, 3));
      expect((await c.get('a'))?.[0]).toBe(1); // a is now most recently used
      await c.put('d', Buffer.alloc(1000, 4)); // evicts b
      expect(await c.get('b')).toBeUndefined();
      expect(c.bytes).toBe(3000);
      expect((await c.get('a'))?.[0]).toBe(1);
      await c.put('huge', Buffer.alloc(5000)); // larger than the quota: not cached
      expect(await c.get('huge')).toBeUndefined();
      await c.drop('a');
      expect(await c.get('a')).toBeUndefined();
      const again = new DiskFrameCache(dir.path, 3000);
      expect((await again.get('d'))?.[0]).toBe(4);
      expect(again.count).toBe(2);
      const smaller = new DiskFrameCache(dir.path, 1000); // a lower quota trims at start-up
      await smaller.init();
      expect(smaller.bytes).toBeLessThanOrEqual(1000);
    } finally {
      await dir.cleanup();
    }
  });

  it('removes leftovers of interrupted writes at start-up and rejects a bad quota', async () => {
    const dir = await tempDir();
    try {
      await mkdir(join(dir.path, 'ab'), { recursive: true });
      await writeFile(join(dir.path, 'ab', 'x.1234.tmp'), 'partial');
      const old = new Date(Date.now() - 60_000);
      await utimes(join(dir.path, 'ab'), old, old);
      const c = new DiskFrameCache(dir.path, 100);
      await c.init();
      expect(await readdir(join(dir.path, 'ab'))).toEqual([]);
      expect(() => new DiskFrameCache(dir.path, 0)).toThrow(/quota/);
      expect(frameCacheName('v/1', 42)).toBe('v_1-42');
    } finally {
      await dir.cleanup();
    }
  });
});

describe('MemoryBlockCache', () => {
  it('is bounded by bytes', () => {
    const m = new MemoryBlockCache(2500);
    m.set(1, Buffer.alloc(1000));
    m.set(2, Buffer.alloc(1000));
    m.set(3, Buffer.alloc(1000));
    expect(m.bytes).toBeLessThanOrEqual(2500);
    expect(m.has(1)).toBe(false);
    expect(m.has(3)).toBe(true);
    m.set(4, Buffer.alloc(3000)); // bigger than the cache: ignored
    expect(m.has(4)).toBe(false);
  });
});
