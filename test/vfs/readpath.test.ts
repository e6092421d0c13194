import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as C } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
    const fs = await vol.mount();
    const fh = await fs.open('/big', C.O_RDONLY, ROOT);
    const buf = Buffer.alloc(128 * 1024);
    for (let pos = 0; pos < 2 * BS; pos += buf.length) await fs.read('/big', fh, buf, buf.length, pos, ROOT);
    // After two blocks of sequential reading, blocks beyond them are being fetched already.
    await expect.poll(() => fs.io.stats.gets, { timeout: 5000 }).toBeGreaterThan(3);
    await fs.release('/big', fh, ROOT);

    const rnd = await vol.mount();
    const rh = await rnd.open('/big', C.O_RDONLY, ROOT);
    for (const idx of [9, 3, 14, 6]) await rnd.read('/big', rh, buf, 1000, idx * BS + 77, ROOT);
    await new Promise((r) => setTimeout(r, 200));
    expect(rnd.io.stats.gets).toBe(4);
    await rnd.release('/big', rh, ROOT);
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
