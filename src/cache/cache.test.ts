import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, utimes, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../../test/harness/ports.js';
import { DiskFrameCache, frameCacheName, hashedLayout } from './disk.js';
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

describe("DiskFrameCache with the proxy's layout (hashedLayout)", () => {
  it('stores, evicts least recently used over the quota, and rebuilds after a restart', async () => {
    const dir = await tempDir();
    try {
      const evicted: number[] = [];
      const cache = await DiskFrameCache.open(dir.path, 3000, { layout: hashedLayout, onEvict: (b) => evicted.push(b) });
      for (const k of ['a', 'b', 'c']) await cache.put(k, Buffer.alloc(1000, k));
      expect(cache.bytes).toBe(3000);
      expect((await cache.get('a'))?.toString()).toBe('a'.repeat(1000)); // a is now most recent
      await cache.put('d', Buffer.alloc(1000, 'd'));
      expect(evicted).toEqual([1000]);
      expect(cache.has('b')).toBe(false); // least recently used went first
      expect(await cache.get('b')).toBeUndefined();
      expect(cache.has('a') && cache.has('c') && cache.has('d')).toBe(true);
      const files = await filesUnder(join(dir.path, 'blocks'));
      expect(files).toHaveLength(3);
      expect((await Promise.all(files.map((f) => stat(f)))).reduce((s, st) => s + st.size, 0)).toBe(3000);

      // Make c the oldest on disk, then reopen with a smaller quota: it is trimmed first.
      const old = new Date(Date.now() - 3600_000);
      const cFile = files.find((f) => f.endsWith(createHashHex('c')))!;
      await utimes(cFile, old, old);
      const again = await DiskFrameCache.open(dir.path, 2000, { layout: hashedLayout });
      expect(again.count).toBe(2);
      expect(again.has('c')).toBe(false);
      expect((await again.get('d'))?.equals(Buffer.alloc(1000, 'd'))).toBe(true);
      expect(await readFile(files.find((f) => f.endsWith(createHashHex('a')))!)).toEqual(Buffer.alloc(1000, 'a'));
    } finally {
      await dir.cleanup();
    }
  });

  it('does not cache an object larger than the quota, and forgets deleted keys', async () => {
    const dir = await tempDir();
    try {
      const cache = await DiskFrameCache.open(dir.path, 100, { layout: hashedLayout });
      await cache.put('big', Buffer.alloc(101));
      expect(cache.count).toBe(0);
      await cache.put('small', Buffer.alloc(10));
      await cache.drop('small');
      expect(cache.bytes).toBe(0);
      expect(await filesUnder(join(dir.path, 'blocks'))).toHaveLength(0);
    } finally {
      await dir.cleanup();
    }
  });
});

describe('DiskFrameCache, both layouts', () => {
  for (const [label, layout] of [['mount (namedLayout)', undefined], ['proxy (hashedLayout)', hashedLayout]] as const) {
    it(`${label}: owner-only modes, and a hit refreshes an old mtime so a restart keeps the frame`, async () => {
      const dir = await tempDir();
      try {
        const c = await DiskFrameCache.open(dir.path, 2000, { layout });
        await c.put('old-1', Buffer.alloc(1000, 1));
        await c.put('new-2', Buffer.alloc(1000, 2));
        const files = await filesUnder(dir.path);
        expect(files).toHaveLength(2);
        for (const f of files) {
          expect((await stat(f)).mode & 0o777).toBe(0o600);
          expect((await stat(join(f, '..'))).mode & 0o777).toBe(0o700);
        }
        // old-1 is read (a hit) after a restart, then the cache restarts smaller.
        // old-1 is the older of the two on disk.
        const oneFile = files[(await Promise.all(files.map((f) => readFile(f)))).findIndex((b) => b[0] === 1)];
        for (const f of files) {
          const t = new Date(Date.now() - (f === oneFile ? 7200_000 : 3600_000));
          await utimes(f, t, t);
        }
        const reopened = await DiskFrameCache.open(dir.path, 2000, { layout });
        expect((await reopened.get('old-1'))?.[0]).toBe(1);
        await expect.poll(async () => (await stat(oneFile)).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
        const smaller = await DiskFrameCache.open(dir.path, 1000, { layout });
        expect(smaller.has('old-1')).toBe(true); // without the refresh it was the oldest and went first
        expect(smaller.has('new-2')).toBe(false);
      } finally {
        await dir.cleanup();
      }
    });
  }
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

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath ?? e.path, e.name));
  return out;
}

/** The proxy layout names files by sha256 of the key; tests look files up by it. */
function createHashHex(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
