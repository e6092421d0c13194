import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as C } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeVolume, ROOT, type TestVolume } from './volume.js';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  }
  return out;
}

describe('end-to-end encrypted volume: the store only ever sees ciphertext', () => {
  let vol: TestVolume;
  beforeAll(async () => {
    vol = await makeVolume({ blockSize: 256 * 1024, encrypted: true });
  });
  afterAll(async () => {
    await vol?.cleanup();
  });

  it('no plaintext of what was written appears in the stored objects', async () => {
    const fs = await vol.mount({ diskFolder: join(vol.dir, 'diskcache') });
    const marker = 'FLEXFS-PLAINTEXT-MARKER-0123456789';
    // Small (inline) and large (worker) blocks, highly compressible so lz4 would not hide it.
    const small = Buffer.from(marker.repeat(10));
    const large = Buffer.from(marker.repeat(Math.ceil(600_000 / marker.length)));
    for (const [path, data] of [['/small', small], ['/large', large]] as const) {
      const fh = await fs.create(path, 0o644, C.O_WRONLY | C.O_CREAT, ROOT);
      await fs.write(path, fh, data, data.length, 0, ROOT);
      await fs.release(path, fh, ROOT);
    }
    const objects = await filesUnder(join(vol.dir, 'blocks'));
    expect(objects.length).toBeGreaterThanOrEqual(4);
    const needle = Buffer.from(marker.slice(0, 16));
    for (const f of objects) expect((await readFile(f)).includes(needle)).toBe(false);
    // The disk cache holds stored frames too: ciphertext as well.
    const cached = await filesUnder(join(vol.dir, 'diskcache'));
    expect(cached.length).toBeGreaterThan(0);
    for (const f of cached) expect((await readFile(f)).includes(needle)).toBe(false);
    // And it reads back.
    const other = await vol.mount({ memCapacity: 1 });
    const fh = await other.open('/large', C.O_RDONLY, ROOT);
    const buf = Buffer.alloc(large.length);
    let pos = 0;
    while (pos < buf.length) pos += await other.read('/large', fh, buf.subarray(pos), buf.length - pos, pos, ROOT);
    await other.release('/large', fh, ROOT);
    expect(buf.equals(large)).toBe(true);
  });

  it('a block copied over another key fails verification and reads as EIO, never wrong bytes', async () => {
    const fs = await vol.mount();
    for (const p of ['/one', '/two']) {
      const fh = await fs.create(p, 0o644, C.O_WRONLY | C.O_CREAT, ROOT);
      await fs.write(p, fh, Buffer.alloc(5000, p === '/one' ? 1 : 2), 5000, 0, ROOT);
      await fs.release(p, fh, ROOT);
    }
    const [one, two] = await Promise.all(['/one', '/two'].map(async (p) => {
      const ino = (await fs.getattr(p, ROOT)).ino;
      const [ref] = await vol.meta.blocks(ino, 0, 1, ROOT);
      return fs.io.key(ino, 0, ref.blockId);
    }));
    await vol.rawStore.put(two, await vol.rawStore.get(one));
    const cold = await vol.mount({ memCapacity: 1 });
    const fh = await cold.open('/two', C.O_RDONLY, ROOT);
    await expect(cold.read('/two', fh, Buffer.alloc(10), 10, 0, ROOT)).rejects.toMatchObject({ code: 'EIO' });
    await cold.release('/two', fh, ROOT);
  });
});
