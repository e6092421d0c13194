import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../../test/harness/ports.js';
import { DiskCache } from './disk-cache.js';
import { rendezvousOrder } from './rendezvous.js';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath ?? e.path, e.name));
  return out;
}

describe('DiskCache', () => {
  it('stores, evicts least recently used over the quota, and rebuilds after a restart', async () => {
    const dir = await tempDir();
    try {
      const evicted: number[] = [];
      const cache = await DiskCache.open({ folder: dir.path, quotaBytes: 3000, onEvict: (b) => evicted.push(b) });
      for (const k of ['a', 'b', 'c']) await cache.put(k, Buffer.alloc(1000, k));
      expect(cache.bytes).toBe(3000);
      expect((await cache.get('a'))?.toString()).toBe('a'.repeat(1000)); // a is now most recent
      await cache.put('d', Buffer.alloc(1000, 'd'));
      expect(evicted).toEqual([1000]);
      expect(cache.has('b')).toBe(false); // least recently used went first
      expect(await cache.get('b')).toBeNull();
      expect(cache.has('a') && cache.has('c') && cache.has('d')).toBe(true);
      const files = await filesUnder(join(dir.path, 'blocks'));
      expect(files).toHaveLength(3);
      expect((await Promise.all(files.map((f) => stat(f)))).reduce((s, st) => s + st.size, 0)).toBe(3000);

      // Make c the oldest on disk, then reopen with a smaller quota: it is trimmed first.
      const old = new Date(Date.now() - 3600_000);
      const cFile = files.find((f) => f.endsWith(createHashHex('c')))!;
      await utimes(cFile, old, old);
      const again = await DiskCache.open({ folder: dir.path, quotaBytes: 2000 });
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
      const cache = await DiskCache.open({ folder: dir.path, quotaBytes: 100 });
      await cache.put('big', Buffer.alloc(101));
      expect(cache.count).toBe(0);
      await cache.put('small', Buffer.alloc(10));
      await cache.delete('small');
      expect(cache.bytes).toBe(0);
      expect(await filesUnder(join(dir.path, 'blocks'))).toHaveLength(0);
    } finally {
      await dir.cleanup();
    }
  });
});

describe('rendezvousOrder', () => {
  it('is stable, spreads keys, and only moves the keys of a removed node', () => {
    const nodes = ['p1:1', 'p2:1', 'p3:1'];
    const counts: Record<string, number> = {};
    let moved = 0;
    for (let i = 0; i < 3000; i++) {
      const key = `vol/blocks/00/1_${i}_${i}`;
      const order = rendezvousOrder(nodes, key);
      expect(rendezvousOrder([...nodes].reverse(), key)).toEqual(order);
      counts[order[0]] = (counts[order[0]] ?? 0) + 1;
      const without = rendezvousOrder(['p1:1', 'p3:1'], key);
      if (order[0] !== 'p2:1' && without[0] !== order[0]) moved++;
      if (order[0] === 'p2:1') expect(without[0]).toBe(order[1]); // failover order = next in line
    }
    expect(moved).toBe(0);
    for (const n of nodes) expect(counts[n]).toBeGreaterThan(800);
  });
});

/** The cache names files by sha256 of the key; tests look files up by it. */
function createHashHex(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
