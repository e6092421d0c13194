import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as C, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { StartedMount } from '../harness/mount.js';
import { waitFor } from '../harness/ports.js';
import { buildMountClient, mountLocal, ok, patternBytes, workDir } from './helpers.js';

const KiB = 1024;
const MiB = 2 ** 20;
const FUSE_CAP_WRITEBACK_CACHE = 1 << 16;

/** A small deterministic generator (xorshift) for offsets and sizes. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x % n;
  };
}

/**
 * A flexfs mount (--local) with the kernel's writeback cache on (`mount.flexfs start
 * --writebackCache`; the mount's log record says what FUSE INIT negotiated). Data is checked on that
 * mount after dropping the page cache, and on a second, ordinary mount of the same volume after
 * close (writes reached the core by then: close-to-open holds).
 */
describe('writeback cache mount option (real mounts, --local)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let wb: StartedMount;
  let plain: StartedMount;
  let mp: string;
  let mp2: string;
  const dropCaches = () => ok('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches']);

  beforeAll(async () => {
    await buildMountClient();
    dir = await workDir('flexfs-mwb-');
    const local = join(dir.path, 'local');
    mp = join(dir.path, 'wb');
    mp2 = join(dir.path, 'plain');
    wb = await mountLocal(mp, { local, home: join(dir.path, 'home'), args: ['--writebackCache'] });
    await waitFor(async () => /"kernel":\{/.test(wb.output()), 10_000, 'the mount record');
    plain = await mountLocal(mp2, { local, home: join(dir.path, 'home') });
  });
  afterAll(async () => {
    await plain?.stop();
    await wb?.stop();
    await dir?.cleanup();
  });

  it('negotiates FUSE_CAP_WRITEBACK_CACHE', () => {
    const record = wb.output().split('\n').map((l) => { try { return JSON.parse(l) as { kernel?: { want: number } }; } catch { return {}; } })
      .find((r) => r.kernel);
    const info = record!.kernel!;
    expect(info.want & FUSE_CAP_WRITEBACK_CACHE).toBe(FUSE_CAP_WRITEBACK_CACHE);
  });

  it('random-offset writes and reads of 6 MiB keep their bytes; stat shows the size after close, on both mounts', async () => {
    const size = 6 * MiB;
    const model = Buffer.alloc(size);
    const r = rng(12345);
    const fh = await fsp.open(join(mp, 'random'), 'w+');
    let end = 0;
    for (let i = 0; i < 300; i++) {
      const n = 1 + r(96 * KiB);
      const at = r(size - n);
      const piece = patternBytes(i + 1, n);
      await fh.write(piece, 0, n, at);
      piece.copy(model, at);
      end = Math.max(end, at + n);
      if (i % 25 === 0) { // read back a range while the pages are dirty
        const len = 1 + r(200 * KiB);
        const from = r(end);
        const got = Buffer.alloc(len);
        const { bytesRead } = await fh.read(got, 0, len, from);
        expect(bytesRead).toBe(Math.min(len, end - from));
        expect(got.subarray(0, bytesRead).equals(model.subarray(from, from + bytesRead))).toBe(true);
      }
    }
    await fh.close();
    const want = model.subarray(0, end);
    expect((await fsp.stat(join(mp, 'random'))).size).toBe(end);
    expect((await fsp.stat(join(mp2, 'random'))).size).toBe(end);
    expect((await fsp.readFile(join(mp2, 'random'))).equals(want)).toBe(true);
    await dropCaches();
    expect((await fsp.readFile(join(mp, 'random'))).equals(want)).toBe(true);
  });

  it('partial-page writes through a write-only descriptor: the kernel reads the page through it', async () => {
    const base = patternBytes(7, 3 * 4096 + 100);
    await fsp.writeFile(join(mp2, 'wronly'), base); // written elsewhere: nothing cached on the writeback mount
    const fh = await fsp.open(join(mp, 'wronly'), C.O_WRONLY);
    const patch = Buffer.from('PATCHED-IN-THE-MIDDLE');
    await fh.write(patch, 0, patch.length, 5000);
    await fh.write(patch, 0, patch.length, 3 * 4096 + 90); // straddles the end
    await fh.close();
    const want = Buffer.alloc(3 * 4096 + 90 + patch.length);
    base.copy(want);
    patch.copy(want, 5000);
    patch.copy(want, 3 * 4096 + 90);
    expect((await fsp.readFile(join(mp2, 'wronly'))).equals(want)).toBe(true);
    await dropCaches();
    expect((await fsp.readFile(join(mp, 'wronly'))).equals(want)).toBe(true);
  });

  it('O_APPEND: the kernel places appends itself; page writes are not appended again', async () => {
    const f = join(mp, 'append');
    const parts: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const piece = patternBytes(100 + i, 1000 + i * 777);
      parts.push(piece);
      await fsp.appendFile(f, piece);
    }
    const fh = await fsp.open(f, 'a');
    for (let i = 0; i < 5; i++) {
      const piece = Buffer.from(`line ${i}\n`);
      parts.push(piece);
      await fh.write(piece, 0, piece.length, 0); // the offset is ignored with O_APPEND
    }
    await fh.close();
    const want = Buffer.concat(parts);
    expect((await fsp.stat(f)).size).toBe(want.length);
    expect((await fsp.readFile(join(mp2, 'append'))).equals(want)).toBe(true);
    await dropCaches();
    expect((await fsp.readFile(f)).equals(want)).toBe(true);
  });

  it('truncate down and up around dirty pages; the size after close is what stat shows everywhere', async () => {
    const f = join(mp, 'trunc');
    const fh = await fsp.open(f, 'w+');
    const data = patternBytes(9, 2 * MiB + 123);
    await fh.write(data, 0, data.length, 0);
    await fh.truncate(MiB + 7); // while pages are dirty
    const tail = Buffer.from('after the truncate');
    await fh.write(tail, 0, tail.length, MiB + 7);
    await fh.truncate(3 * MiB); // sparse grow
    await fh.close();
    const want = Buffer.alloc(3 * MiB);
    data.copy(want, 0, 0, MiB + 7);
    tail.copy(want, MiB + 7);
    expect((await fsp.stat(f)).size).toBe(3 * MiB);
    expect((await fsp.stat(join(mp2, 'trunc'))).size).toBe(3 * MiB);
    expect((await fsp.readFile(join(mp2, 'trunc'))).equals(want)).toBe(true);
    await fsp.truncate(f, 100);
    expect((await fsp.stat(f)).size).toBe(100);
    // the other mount: an open revalidates (its stat may show the old size for the attribute TTL)
    expect((await fsp.readFile(join(mp2, 'trunc'))).equals(want.subarray(0, 100))).toBe(true);
    await dropCaches();
    expect((await fsp.readFile(f)).equals(want.subarray(0, 100))).toBe(true);
  });

  it('a writer that is not the owner closes cleanly (the kernel flushes its mtime with setattr)', async () => {
    await fsp.mkdir(join(mp, 'shared'), { mode: 0o777 });
    await fsp.chmod(join(mp, 'shared'), 0o777);
    const f = join(mp, 'shared', 'by-root');
    await fsp.writeFile(f, 'root wrote this');
    await fsp.chmod(f, 0o666);
    const r = await ok('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', 'sh', '-c', `printf 'alice' >> '${f}' && echo done`]);
    expect(r.trim()).toBe('done');
    expect(await fsp.readFile(join(mp2, 'shared', 'by-root'), 'utf8')).toBe('root wrote thisalice');
  });
});
