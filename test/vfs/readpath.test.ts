import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as C } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseBlockKey } from '../../src/store/keys.js';
import type { ObjectStore } from '../../src/store/types.js';
import { makeVolume, ROOT, type TestVolume } from './volume.js';

const BS = 256 * 1024;

describe('VFS read path: singleflight, readahead, disk cache', () => {
  let vol: TestVolume;
  let data: Buffer;
  beforeAll(async () => {
    vol = await makeVolume({ blockSize: BS });
    const fs = await vol.mount();
    data = randomBytes(16 * BS);
    const fh = await fs.create('/big', 0o644, C.O_WRONLY | C.O_CREAT, ROOT);
    await fs.write('/big', fh, data, data.length, 0, ROOT);
    await fs.release('/big', fh, ROOT);
  });
  afterAll(async () => {
    await vol?.cleanup();
  });

  it('concurrent reads of one block share one GET', async () => {
    const fs = await vol.mount({ readaheadMax: 1 });
    const fh = await fs.open('/big', C.O_RDONLY, ROOT);
    const bufs = Array.from({ length: 8 }, () => Buffer.alloc(1000));
    await Promise.all(bufs.map((b, i) => fs.read('/big', fh, b, 1000, 5000 + i * 3000, ROOT)));
    expect(fs.io.stats.gets).toBe(1);
    bufs.forEach((b, i) => expect(b.equals(data.subarray(5000 + i * 3000, 6000 + i * 3000))).toBe(true));
    await fs.release('/big', fh, ROOT);
  });

  it('sequential reads prefetch ahead with a growing window; random reads do not', async () => {
    // Every GET the store sees, as the block index it asks for, in order.
    const { store, requested } = recordingStore(vol.store);
    const fs = await vol.mount({ store }); // readaheadMax: default 8 blocks
    const fh = await fs.open('/big', C.O_RDONLY, ROOT);
    const piece = BS / 2;
    const buf = Buffer.alloc(piece);
    const lead: number[] = [];
    for (let i = 0; i < 10; i++) {
      const pos = i * piece;
      await fs.read('/big', fh, buf, piece, pos, ROOT);
      expect(buf.equals(data.subarray(pos, pos + piece))).toBe(true);
      await settled(requested);
      // How far beyond the block being read the fetches reach once this read's readahead is out.
      lead.push(Math.max(...requested) - Math.floor(pos / BS));
    }
    // The window starts at one block and doubles per sequential read up to readaheadMax (8 blocks),
    // then stays there: a fixed window (any size) would show a constant lead.
    expect(lead).toEqual([1, 2, 4, 8, 8, 8, 8, 8, 8, 8]);
    expect(new Set(requested).size, 'each block fetched once').toBe(requested.length);
    await fs.release('/big', fh, ROOT);

    // A smaller readaheadMax caps the window: 1, 2, then 2 blocks ahead.
    const capped = recordingStore(vol.store);
    const small = await vol.mount({ store: capped.store, readaheadMax: 2 * BS });
    const sh = await small.open('/big', C.O_RDONLY, ROOT);
    const smallLead: number[] = [];
    for (let i = 0; i < 4; i++) {
      await small.read('/big', sh, buf, piece, i * piece, ROOT);
      await settled(capped.requested);
      smallLead.push(Math.max(...capped.requested) - Math.floor((i * piece) / BS));
    }
    expect(smallLead).toEqual([1, 2, 2, 2]);
    await small.release('/big', sh, ROOT);

    const random = recordingStore(vol.store);
    const rnd = await vol.mount({ store: random.store });
    const rh = await rnd.open('/big', C.O_RDONLY, ROOT);
    for (const idx of [9, 3, 14, 6]) await rnd.read('/big', rh, buf, 1000, idx * BS + 77, ROOT);
    await settled(random.requested);
    expect(random.requested).toEqual([9, 3, 14, 6]);
    expect(rnd.io.stats.gets).toBe(4);
    await rnd.release('/big', rh, ROOT);
  });

  it('prefetched blocks that leave the memory cache unread are counted; a read block is not', async () => {
    const fs = await vol.mount();
    const fh = await fs.open('/big', C.O_RDONLY, ROOT);
    const piece = BS / 2;
    const buf = Buffer.alloc(piece);
    // Four sequential reads cover blocks 0 and 1; the window has grown to 8 blocks by then.
    for (let i = 0; i < 4; i++) {
      await fs.read('/big', fh, buf, piece, i * piece, ROOT);
      expect(buf.equals(data.subarray(i * piece, (i + 1) * piece))).toBe(true);
    }
    await expect.poll(() => fs.io.prefetchesInFlight, { timeout: 30_000 }).toBe(0);
    const { prefetchBytes } = fs.io.stats;
    expect(prefetchBytes, 'blocks 1 … 9 fetched ahead').toBe(9 * BS);
    expect(fs.io.stats.prefetchUnusedBytes).toBe(0);
    fs.memory.clear();
    // Block 0 was fetched for the read itself and block 1 was read: the other eight went unused.
    expect(fs.io.stats.prefetchUnusedBytes).toBe(prefetchBytes - BS);
    await fs.release('/big', fh, ROOT);
  });

  it('prefetch GETs in flight stay within their byte budget, and the memory cache within its size', async () => {
    // A 4-block cache gives an in-flight budget of 2 blocks; the window is forced up to 8 blocks.
    const fs = await vol.mount({ memCapacity: 4 * BS, readaheadMax: 8 * BS });
    const fh = await fs.open('/big', C.O_RDONLY, ROOT);
    const piece = BS / 4;
    const buf = Buffer.alloc(piece);
    for (let pos = 0; pos < data.length; pos += piece) {
      await fs.read('/big', fh, buf, piece, pos, ROOT);
      expect(buf.equals(data.subarray(pos, pos + piece))).toBe(true);
      expect(fs.io.stats.prefetchPeakBytes).toBeLessThanOrEqual(2 * BS);
      expect(fs.memory.bytes).toBeLessThanOrEqual(4 * BS);
    }
    expect(fs.io.stats.prefetchPeakBytes, 'the budget was used').toBe(2 * BS);
    expect(fs.io.stats.prefetchSkips, 'prefetches past the budget were skipped').toBeGreaterThan(0);
    await fs.release('/big', fh, ROOT);
  });

  it('the disk cache serves a second client, and a damaged cached frame is refetched', async () => {
    const diskFolder = join(vol.dir, 'dc');
    const first = await vol.mount({ diskFolder, memCapacity: 1, readaheadMax: 1 });
    const fh = await first.open('/big', C.O_RDONLY, ROOT);
    const buf = Buffer.alloc(BS);
    await first.read('/big', fh, buf, BS, 0, ROOT);
    await first.release('/big', fh, ROOT);
    expect(first.io.stats.gets).toBe(1);
    await expect.poll(async () => (await readdir(diskFolder, { recursive: true })).filter((n) => /-\d+$/.test(n)).length).toBe(1);

    const second = await vol.mount({ diskFolder, memCapacity: 1, readaheadMax: 1 });
    const fh2 = await second.open('/big', C.O_RDONLY, ROOT);
    await second.read('/big', fh2, buf, BS, 0, ROOT);
    expect(second.io.stats.gets).toBe(0);
    expect(second.io.stats.diskHits).toBe(1);
    expect(buf.equals(data.subarray(0, BS))).toBe(true);
    await second.release('/big', fh2, ROOT);

    const [cachedFile] = (await readdir(diskFolder, { recursive: true })).filter((n) => /-\d+$/.test(n));
    await writeFile(join(diskFolder, cachedFile), Buffer.from('garbage'));
    const third = await vol.mount({ diskFolder, memCapacity: 1, readaheadMax: 1 });
    const fh3 = await third.open('/big', C.O_RDONLY, ROOT);
    await third.read('/big', fh3, buf, BS, 0, ROOT);
    expect(buf.equals(data.subarray(0, BS))).toBe(true);
    expect(third.io.stats.gets).toBe(1);
    await third.release('/big', fh3, ROOT);
  });
});

/** The store, with the block index of every GET recorded in call order. */
describe('VFS read path: files fetched ahead of a reader walking a directory', () => {
  let vol: TestVolume;
  const bodies = Array.from({ length: 10 }, (_, i) => randomBytes(1000 + i));
  beforeAll(async () => {
    vol = await makeVolume({ blockSize: BS });
    const fs = await vol.mount();
    await fs.mkdir('/walk', 0o755, ROOT);
    for (const [i, b] of bodies.entries()) {
      const fh = await fs.create(`/walk/f${i}`, 0o644, C.O_WRONLY | C.O_CREAT, ROOT);
      await fs.write(`/walk/f${i}`, fh, b, b.length, 0, ROOT);
      await fs.release(`/walk/f${i}`, fh, ROOT);
    }
  });
  afterAll(async () => {
    await vol?.cleanup();
  });

  /** The volume's real MetaStore, counting the block-map requests made through it. */
  function countingMeta(): { meta: typeof vol.meta; blockCalls: () => number } {
    let n = 0;
    const meta = new Proxy(vol.meta, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        return prop === 'blocks' ? (...a: unknown[]) => { n++; return v.apply(target, a); } : v.bind(target);
      },
    });
    return { meta, blockCalls: () => n };
  }

  async function readAll(fs: Awaited<ReturnType<TestVolume['mount']>>, path: string): Promise<Buffer> {
    const fh = await fs.open(path, C.O_RDONLY, ROOT);
    const buf = Buffer.alloc(4096);
    const n = await fs.read(path, fh, buf, buf.length, 0, ROOT);
    await fs.release(path, fh, ROOT);
    return buf.subarray(0, n);
  }

  async function walked(fs: Awaited<ReturnType<TestVolume['mount']>>): Promise<void> {
    await fs.readdir('/walk', ROOT);
    for (const i of [0, 1]) expect((await readAll(fs, `/walk/f${i}`)).equals(bodies[i])).toBe(true);
    // f2..f9 are being fetched ahead now: wait until their blocks are in.
    for (let t = 0; fs.io.stats.gets < bodies.length && t < 500; t++) await new Promise((r) => setTimeout(r, 10));
    expect(fs.io.stats.gets).toBe(bodies.length);
  }

  it('the block maps fetched ahead serve the opens: one block-map request per file, one GET per block', async () => {
    const { meta, blockCalls } = countingMeta();
    const fs = await vol.mount({ meta });
    await walked(fs);
    for (let i = 2; i < bodies.length; i++) expect((await readAll(fs, `/walk/f${i}`)).equals(bodies[i])).toBe(true);
    expect(blockCalls()).toBe(bodies.length);
    expect(fs.io.stats.gets, 'nothing fetched twice').toBe(bodies.length);
  });

  it('a file changed by another client between the listing and its open reads as changed', async () => {
    const { meta, blockCalls } = countingMeta();
    const fs = await vol.mount({ meta });
    await walked(fs);
    const other = await vol.mount();
    const changed = randomBytes(1500);
    const fh = await other.open('/walk/f5', C.O_WRONLY | C.O_TRUNC, ROOT);
    await other.write('/walk/f5', fh, changed, changed.length, 0, ROOT);
    await other.release('/walk/f5', fh, ROOT);
    for (let i = 2; i < bodies.length; i++) {
      expect((await readAll(fs, `/walk/f${i}`)).equals(i === 5 ? changed : bodies[i]), `f${i}`).toBe(true);
    }
    expect(blockCalls(), 'only the changed file asked for its map again').toBe(bodies.length + 1);
    bodies[5] = changed;
  });
});

function recordingStore(inner: ObjectStore): { store: ObjectStore; requested: number[] } {
  const requested: number[] = [];
  const store: ObjectStore = {
    get description() { return inner.description; },
    put: (k, b, o) => inner.put(k, b, o),
    get: (k, o) => {
      requested.push(parseBlockKey(k)?.index ?? -1);
      return inner.get(k, o);
    },
    head: (k, o) => inner.head(k, o),
    delete: (k, o) => inner.delete(k, o),
    list: (p, o) => inner.list(p, o),
    close: async () => undefined, // the volume's store is shared by the test's mounts
  };
  return { store, requested };
}

/** Wait until no new GET has been issued for a while (readahead is started without awaiting it). */
async function settled(requested: number[], quietMs = 150): Promise<void> {
  let seen = -1;
  while (seen !== requested.length) {
    seen = requested.length;
    await new Promise((r) => setTimeout(r, quietMs));
  }
}
