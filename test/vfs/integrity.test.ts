import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as C } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { makeVolume, ROOT, type TestVolume } from './volume.js';
import type { FlexFileSystem } from '../../src/vfs/index.js';

/** Deterministic PRNG (mulberry32) so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Compressible-ish payload: random runs mixed with repeated bytes, so lz4 does real work. */
function payload(len: number, r: () => number): Buffer {
  const b = r() < 0.5 ? randomBytes(len) : Buffer.alloc(len, Math.floor(r() * 256));
  if (len > 16 && r() < 0.5) randomBytes(16).copy(b, Math.floor(r() * (len - 16)));
  return b;
}

async function readAll(fs: FlexFileSystem, path: string, size: number, chunk = 1 << 20): Promise<Buffer> {
  const fh = await fs.open(path, C.O_RDONLY, ROOT);
  try {
    const out = Buffer.alloc(size);
    let pos = 0;
    for (;;) {
      const buf = Buffer.alloc(Math.min(chunk, size - pos + 7));
      const n = await fs.read(path, fh, buf, buf.length, pos, ROOT);
      if (n === 0) break;
      buf.copy(out, pos, 0, n);
      pos += n;
    }
    expect(pos).toBe(size);
    return out;
  } finally {
    await fs.release(path, fh, ROOT);
  }
}

class Model {
  data = Buffer.alloc(0);
  write(pos: number, d: Buffer): void {
    if (d.length === 0) return; // a zero-length write does not extend a file
    if (pos + d.length > this.data.length) this.truncate(pos + d.length);
    d.copy(this.data, pos);
  }
  truncate(size: number): void {
    const n = Buffer.alloc(size);
    this.data.copy(n, 0, 0, Math.min(size, this.data.length));
    this.data = n;
  }
}

for (const variant of [{ name: 'lz4', encrypted: false }, { name: 'lz4 + AES-256-GCM', encrypted: true }]) {
  describe(`VFS integrity (${variant.name}, real sqlite engine + file store)`, () => {
    let vol: TestVolume;
    let a: FlexFileSystem;
    let b: FlexFileSystem;
    const BS = 256 * 1024;

    beforeAll(async () => {
      vol = await makeVolume({ blockSize: BS, encrypted: variant.encrypted });
      a = await vol.mount();
      b = await vol.mount();
    });
    afterAll(async () => {
      await vol?.cleanup();
    });

    it('random writes, overwrites, appends, sparse extends and truncates read back identical (reopen + second client)', async () => {
      const r = rng(variant.encrypted ? 7 : 42);
      const files = Array.from({ length: 6 }, (_, i) => ({ path: `/f${i}`, model: new Model() }));
      for (const f of files) await a.release(f.path, await a.create(f.path, 0o644, C.O_RDWR | C.O_CREAT, ROOT), ROOT);
      for (let round = 0; round < 3; round++) {
        for (const f of files) {
          const fh = await a.open(f.path, C.O_RDWR, ROOT);
          const maxSize = [0, 100, BS - 1, BS, 3 * BS + 17, 900_000][files.indexOf(f)] || 1;
          for (let i = 0; i < 25; i++) {
            const op = r();
            const size = f.model.data.length;
            if (op < 0.55) {
              const pos = Math.floor(r() * (maxSize + 1));
              const len = Math.floor(r() * Math.min(maxSize + 1, 3 * BS));
              const d = payload(len, r);
              expect(await a.write(f.path, fh, d, len, pos, ROOT)).toBe(len);
              f.model.write(pos, d);
            } else if (op < 0.7) {
              const d = payload(Math.floor(r() * 5000), r);
              await a.write(f.path, fh, d, d.length, size, ROOT); // append
              f.model.write(size, d);
            } else if (op < 0.82) {
              const ns = Math.floor(r() * (maxSize + 1)); // shrink or sparse grow
              await a.ftruncate(f.path, fh, ns, ROOT);
              f.model.truncate(ns);
            } else if (op < 0.9) {
              await a.flush(f.path, fh, ROOT);
            } else {
              const pos = Math.floor(r() * (size + 10));
              const len = Math.floor(r() * 2 * BS);
              const buf = Buffer.alloc(len);
              const n = await a.read(f.path, fh, buf, len, pos, ROOT);
              const want = f.model.data.subarray(Math.min(pos, size), Math.min(size, pos + len));
              expect(n).toBe(want.length);
              expect(buf.subarray(0, n).equals(want)).toBe(true);
            }
            expect((await a.fgetattr(f.path, fh, ROOT)).size).toBe(f.model.data.length);
          }
          await a.release(f.path, fh, ROOT);
        }
        for (const f of files) {
          const size = f.model.data.length;
          expect((await readAll(a, f.path, size)).equals(f.model.data)).toBe(true);
          // Second client on the same volume: close-to-open, so it sees everything after open.
          const got = await readAll(b, f.path, size);
          expect(got.equals(f.model.data)).toBe(true);
          expect((await b.getattr(f.path, ROOT)).size).toBe(size);
        }
      }
    });

    it('files of many sizes (0 B … 50 MiB, block edges) round-trip through a fresh client', async () => {
      const big = variant.encrypted ? 12 * 2 ** 20 + 5 : 50 * 2 ** 20 + 5;
      const sizes = [0, 1, BS - 1, BS, BS + 1, 5 * BS, 1_000_003, big];
      const r = rng(99);
      const written = new Map<string, Buffer>();
      for (const size of sizes) {
        const path = `/size-${size}`;
        const data = payload(size, r);
        const fh = await a.create(path, 0o600, C.O_WRONLY | C.O_CREAT, ROOT);
        // 128 KiB pieces like the kernel sends with big_writes.
        for (let pos = 0; pos < size; pos += 128 * 1024) {
          const piece = data.subarray(pos, Math.min(size, pos + 128 * 1024));
          await a.write(path, fh, piece, piece.length, pos, ROOT);
        }
        await a.release(path, fh, ROOT);
        written.set(path, data);
      }
      const c = await vol.mount();
      for (const [path, data] of written) {
        expect((await c.getattr(path, ROOT)).size).toBe(data.length);
        expect((await readAll(c, path, data.length)).equals(data)).toBe(true);
      }
      expect(c.io.stats.gets).toBeGreaterThan(0); // really read from the store
    });

    it('a sparse file reads zeros in its holes and stores no blocks for them', async () => {
      const path = '/sparse';
      const fh = await a.create(path, 0o644, C.O_RDWR | C.O_CREAT, ROOT);
      await a.write(path, fh, Buffer.from('head'), 4, 0, ROOT);
      await a.write(path, fh, Buffer.from('tail'), 4, 100 * BS, ROOT);
      await a.release(path, fh, ROOT);
      const attr = await b.getattr(path, ROOT);
      expect(attr.size).toBe(100 * BS + 4);
      const refs = await vol.meta.blocks(attr.ino, 0, 1000, ROOT);
      expect(refs.map((x) => x.index)).toEqual([0, 100]);
      const data = await readAll(b, path, attr.size);
      expect(data.subarray(0, 4).toString()).toBe('head');
      expect(data.subarray(4, 100 * BS).every((x) => x === 0)).toBe(true);
      expect(data.subarray(100 * BS).toString()).toBe('tail');
    });

    it('shrinking into a block and growing again reads zeros, not the old bytes', async () => {
      const path = '/shrink';
      const fh = await a.create(path, 0o644, C.O_RDWR | C.O_CREAT, ROOT);
      const d = Buffer.alloc(2 * BS, 0xab);
      await a.write(path, fh, d, d.length, 0, ROOT);
      await a.flush(path, fh, ROOT);
      await a.ftruncate(path, fh, BS + 10, ROOT);
      await a.ftruncate(path, fh, 2 * BS, ROOT);
      await a.release(path, fh, ROOT);
      const got = await readAll(b, path, 2 * BS);
      expect(got.subarray(0, BS + 10).every((x) => x === 0xab)).toBe(true);
      expect(got.subarray(BS + 10).every((x) => x === 0)).toBe(true);
    });
  });
}
