import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as C } from 'node:fs';
import { makeVolume, ROOT, ALICE, type TestVolume } from './volume.js';
import type { FlexFileSystem } from '../../src/vfs/index.js';

const BS = 256 * 1024;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const KEEP_SIZE = 0x01;
const PUNCH_HOLE = 0x02;
const ZERO_RANGE = 0x10;
const errno = (code: string) => expect.objectContaining({ code });

/**
 * lseek SEEK_DATA/SEEK_HOLE and fallocate in the core (FsCore by inode and handle, below FUSE):
 * block granularity, committed and local (dirty, uploaded) slots, punched slots as holes.
 */
describe('VFS lseek SEEK_DATA/SEEK_HOLE and fallocate (real sqlite engine + file store, 256 KiB blocks)', () => {
  let vol: TestVolume;
  let fs: FlexFileSystem;

  beforeAll(async () => {
    vol = await makeVolume({ blockSize: BS });
    fs = await vol.mount();
    await fs.chmod('/', 0o777, ROOT);
  });
  afterAll(async () => {
    await vol?.cleanup();
  });

  /** Open `path` (created if needed) and give its ino, handle and helpers. */
  async function openFile(path: string, flags = C.O_RDWR | C.O_CREAT, caller = ROOT) {
    const fh = flags & C.O_CREAT ? await fs.create(path, 0o644, flags, caller) : await fs.open(path, flags, caller);
    const ino = (await fs.getattr(path, caller)).ino;
    return {
      fh, ino,
      write: (at: number, data: Buffer) => fs.write(path, fh, data, data.length, at, caller),
      seek: (offset: number, whence: number) => fs.core.lseek(ino, fh, offset, whence, caller),
      falloc: (mode: number, offset: number, length: number) => fs.core.fallocate(ino, fh, mode, offset, length, caller),
      read: async (at: number, n: number) => {
        const buf = Buffer.alloc(n);
        return buf.subarray(0, await fs.read(path, fh, buf, n, at, caller));
      },
      size: async () => (await fs.fgetattr(path, fh, caller)).size,
      close: () => fs.release(path, fh, caller),
    };
  }

  const seekMap = async (f: Awaited<ReturnType<typeof openFile>>, offsets: number[]) =>
    Promise.all(offsets.flatMap((o) => [SEEK_DATA, SEEK_HOLE].map((w) => f.seek(o, w).catch((e: { code: string }) => e.code))));

  it('SEEK_DATA/SEEK_HOLE over committed and dirty slots; EOF is a hole; ENXIO at and past the end', async () => {
    const f = await openFile('/sparse');
    await f.write(0, Buffer.alloc(10, 1));          // slot 0 (partly written: all data)
    await f.write(3 * BS + 5, Buffer.alloc(10, 3)); // slot 3
    await fs.ftruncate('/sparse', f.fh, 6 * BS, ROOT); // flushes, then sparse grow to 6 blocks
    await f.write(5 * BS, Buffer.alloc(BS, 5));     // slot 5 full: uploading or uploaded, uncommitted
    await f.write(4 * BS + 1, Buffer.from('x'));    // slot 4 dirty
    // offset → [SEEK_DATA, SEEK_HOLE]
    const expectMap = [0, BS, 1, 2 * BS + 5, 3 * BS, 3 * BS + 7, 6 * BS - 1];
    const want = [
      0, BS,
      3 * BS, BS,
      1, BS,
      3 * BS, 2 * BS + 5,
      3 * BS, 6 * BS, // slots 3 (committed), 4 (dirty), 5 (uploaded) are data, then EOF
      3 * BS + 7, 6 * BS,
      6 * BS - 1, 6 * BS,
    ];
    expect(await seekMap(f, expectMap)).toEqual(want);
    expect(await seekMap(f, [6 * BS, 6 * BS + 100, -1])).toEqual(['ENXIO', 'ENXIO', 'ENXIO', 'ENXIO', 'ENXIO', 'ENXIO']);
    await f.close();
    // committed now: the same answers from the block map
    const g = await openFile('/sparse', C.O_RDONLY);
    expect(await seekMap(g, expectMap)).toEqual(want);
    // a file that ends in a hole: SEEK_DATA from there is ENXIO, SEEK_HOLE the offset itself
    await fs.truncate('/sparse', 8 * BS, ROOT);
    const h = await openFile('/sparse', C.O_RDONLY);
    expect(await seekMap(h, [6 * BS + 3])).toEqual(['ENXIO', 6 * BS + 3]);
    // whence other than SEEK_DATA/SEEK_HOLE is the kernel's business
    await expect(h.seek(0, 0)).rejects.toEqual(errno('EINVAL'));
    await g.close();
    await h.close();
    // an empty file: both are ENXIO
    const e = await openFile('/empty');
    expect(await seekMap(e, [0])).toEqual(['ENXIO', 'ENXIO']);
    await e.close();
  });

  it('PUNCH_HOLE|KEEP_SIZE: covered slots become holes (dropped from the map), partial ones read zeros; size kept', async () => {
    const data = Buffer.alloc(5 * BS);
    for (let i = 0; i < data.length; i++) data[i] = 1 + (i % 251);
    const f = await openFile('/punch');
    await f.write(0, data);
    await f.close();
    const g = await openFile('/punch', C.O_RDWR);
    // [BS+100, 3*BS+50): slot 1 in part, slot 2 whole, slot 3 in part
    await g.falloc(PUNCH_HOLE | KEEP_SIZE, BS + 100, 2 * BS - 50);
    const want = Buffer.from(data);
    want.fill(0, BS + 100, 3 * BS + 50);
    expect(await g.size()).toBe(5 * BS);
    expect((await g.read(0, 5 * BS)).equals(want)).toBe(true);
    expect(await g.seek(0, SEEK_HOLE)).toBe(2 * BS);
    expect(await g.seek(2 * BS, SEEK_DATA)).toBe(3 * BS);
    await g.close();
    const slots = (await vol.meta.blocks(g.ino, 0, 10, { uid: 0, gid: 0 })).map((s) => s.index);
    expect(slots).toEqual([0, 1, 3, 4]);
    const h = await openFile('/punch', C.O_RDONLY);
    expect((await h.read(0, 5 * BS)).equals(want)).toBe(true);
    expect(await h.seek(BS, SEEK_HOLE)).toBe(2 * BS);
    await h.close();
    // punching past the end keeps the size; PUNCH_HOLE without KEEP_SIZE is EOPNOTSUPP
    const k = await openFile('/punch', C.O_RDWR);
    await k.falloc(PUNCH_HOLE | KEEP_SIZE, 4 * BS, 10 * BS);
    expect(await k.size()).toBe(5 * BS);
    expect(await k.seek(3 * BS + 1, SEEK_HOLE)).toBe(4 * BS);
    await expect(k.seek(4 * BS, SEEK_DATA)).rejects.toEqual(errno('ENXIO'));
    await expect(k.falloc(PUNCH_HOLE, 0, BS)).rejects.toEqual(errno('ENOTSUP'));
    await k.close();
  });

  it('a punch over local data: dirty and uploaded-but-uncommitted slots are dropped too', async () => {
    const f = await openFile('/punch-local');
    await f.write(0, Buffer.alloc(4 * BS, 7)); // full slots: uploads start at once
    await f.write(4 * BS, Buffer.alloc(100, 8)); // a dirty partial slot
    await f.falloc(PUNCH_HOLE | KEEP_SIZE, BS, 4 * BS + 100 - BS);
    expect(await f.seek(0, SEEK_HOLE)).toBe(BS);
    await expect(f.seek(BS, SEEK_DATA)).rejects.toEqual(errno('ENXIO'));
    await f.write(2 * BS + 10, Buffer.from('after')); // a write after the punch lands on zeros
    await f.close();
    const g = await openFile('/punch-local', C.O_RDONLY);
    const all = await g.read(0, 5 * BS);
    expect(all.length).toBe(4 * BS + 100);
    const want = Buffer.alloc(4 * BS + 100);
    want.fill(7, 0, BS);
    want.write('after', 2 * BS + 10);
    expect(all.equals(want)).toBe(true);
    expect((await vol.meta.blocks(g.ino, 0, 10, { uid: 0, gid: 0 })).map((s) => s.index)).toEqual([0, 2]);
    await g.close();
  });

  it('mode 0 grows the size sparsely, KEEP_SIZE alone changes nothing, ZERO_RANGE zeroes (and grows without KEEP_SIZE)', async () => {
    const f = await openFile('/alloc');
    await f.write(0, Buffer.from('hello world'));
    await f.falloc(0, 0, 3 * BS);
    expect(await f.size()).toBe(3 * BS);
    expect(await f.seek(0, SEEK_HOLE)).toBe(BS); // no space reserved: the new range is a hole
    await f.falloc(0, 0, 10); // within the size: nothing changes
    await f.falloc(KEEP_SIZE, 0, 10 * BS);
    expect(await f.size()).toBe(3 * BS);
    await f.falloc(ZERO_RANGE | KEEP_SIZE, 6, 3);
    expect((await f.read(0, 11)).toString()).toBe('hello \0\0\0ld');
    await f.falloc(ZERO_RANGE, 2 * BS, 2 * BS);
    expect(await f.size()).toBe(4 * BS);
    await f.close();
    const g = await openFile('/alloc', C.O_RDONLY);
    expect(await g.size()).toBe(4 * BS);
    expect((await g.read(0, 11)).toString()).toBe('hello \0\0\0ld');
    await g.close();
  });

  it('fallocate errors: EBADF read-only handle, EINVAL range, EFBIG, EOPNOTSUPP modes; clears setuid like a write', async () => {
    const w = await openFile('/errs');
    await w.write(0, Buffer.from('x'));
    await expect(w.falloc(0, -1, 10)).rejects.toEqual(errno('EINVAL'));
    await expect(w.falloc(0, 0, 0)).rejects.toEqual(errno('EINVAL'));
    await expect(w.falloc(0, 2 ** 50, 1)).rejects.toEqual(errno('EFBIG'));
    await expect(w.falloc(0x08 /* COLLAPSE_RANGE */, 0, BS)).rejects.toEqual(errno('ENOTSUP'));
    await expect(w.falloc(0x20 /* INSERT_RANGE */, 0, BS)).rejects.toEqual(errno('ENOTSUP'));
    await w.close();
    const r = await openFile('/errs', C.O_RDONLY);
    await expect(r.falloc(0, 0, 10)).rejects.toEqual(errno('EBADF'));
    await r.close();
    // setuid cleared by an unprivileged caller's fallocate
    await fs.chmod('/errs', 0o4777, ROOT);
    const a = await openFile('/errs', C.O_RDWR, ALICE);
    await a.falloc(0, 0, BS);
    expect((await fs.getattr('/errs', ROOT)).mode & 0o7777).toBe(0o777);
    await a.close();
  });
});
