import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { freePort } from '../harness/ports.js';
import type { StartedMount } from '../harness/mount.js';
import { buildMountClient, expectCode, fileSha, listFiles, mountLocal, ok, patternBytes, sha256, workDir } from './helpers.js';

const MiB = 2 ** 20;
const BS = 4 * MiB; // the default block size of --local volumes

/**
 * Readahead through a real mount (--local), observed by the mount's own metrics (--metricsPort):
 * a sequential reader gets blocks fetched ahead of it, a random reader only the blocks it touches,
 * and a damaged block read ahead still reads as EIO.
 */
describe('readahead through a real mount (--local)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let m: StartedMount | undefined;
  let port = 0;
  const local = () => join(dir.path, 'local');
  const mp = () => join(dir.path, 'mnt');
  const big = patternBytes(11, 12 * BS);

  /** A fresh mount process: nothing in its memory cache, nothing in the kernel's page cache. */
  async function remount(): Promise<void> {
    await m?.stop();
    await ok('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches']);
    port = await freePort();
    m = await mountLocal(mp(), { local: local(), home: join(dir.path, 'home'), args: ['--metricsPort', `127.0.0.1:${port}`] });
  }
  async function metric(name: string, label = ''): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes(label))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  }
  const gets = () => metric('flexfs_mount_block_requests_total', 'op="get"');
  const prefetched = () => metric('flexfs_mount_prefetch_bytes_total');

  beforeAll(async () => {
    await buildMountClient();
    dir = await workDir('flexfs-mra-');
    await remount();
    await fsp.writeFile(join(mp(), 'big'), big);
  });
  afterAll(async () => {
    await m?.stop();
    await dir?.cleanup();
  });

  it('a sequential reader gets blocks fetched ahead of it, each once, and reads identical bytes', async () => {
    await remount();
    // The first block only; the kernel's own readahead (4 MiB) asks for one more at most.
    await ok('dd', [`if=${join(mp(), 'big')}`, 'of=/dev/null', 'bs=1M', 'count=4', 'status=none']);
    await expect.poll(gets, { timeout: 60_000, message: 'blocks fetched beyond the two the kernel asked for' }).toBeGreaterThanOrEqual(4);
    expect(await prefetched()).toBeGreaterThanOrEqual(2 * BS);
    expect(await fileSha(join(mp(), 'big'))).toEqual({ sha: sha256(big), size: big.length });
    expect(await gets(), 'every block fetched exactly once').toBe(12);
    expect(await metric('flexfs_mount_prefetch_unused_bytes_total')).toBe(0);
  });

  it('a random reader fetches only the blocks it touches and starts no prefetch', async () => {
    await remount();
    for (const index of [9, 3, 7, 5]) {
      const at = index * BS + 8192;
      const out = await ok('sh', ['-c', `dd if="${join(mp(), 'big')}" bs=4096 skip=${at / 4096} count=1 status=none | od -An -tx1 -v | tr -d ' \\n'`]);
      expect(out).toBe(big.subarray(at, at + 4096).toString('hex'));
    }
    expect(await gets()).toBe(4);
    expect(await prefetched()).toBe(0);
  });

  it('a reader walking a directory\'s files in order gets the next files fetched ahead, each block once', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `f${String(i).padStart(2, '0')}`);
    const bodies = names.map((_, i) => patternBytes(100 + i, 64 * 1024 + i));
    await fsp.mkdir(join(mp(), 'walk'));
    for (const [i, n] of names.entries()) await fsp.writeFile(join(mp(), 'walk', n), bodies[i]);
    const filesPrefetched = () => metric('flexfs_mount_files_prefetched_total');

    // One file, then files out of listing order: nothing is fetched ahead.
    await remount();
    for (const n of ['f05', 'f02', 'f11', 'f07']) expect(await fileSha(join(mp(), 'walk', n))).toEqual({ sha: sha256(bodies[Number(n.slice(1))]), size: bodies[Number(n.slice(1))].length });
    expect(await filesPrefetched()).toBe(0);
    expect(await gets()).toBe(4);

    // `cat walk/*` opens them in listing order: from the second file on, the next ones are fetched ahead.
    await remount();
    const out = await ok('sh', ['-c', `cat "${join(mp(), 'walk')}"/* | sha256sum`]);
    expect(out.split(' ')[0]).toBe(sha256(Buffer.concat(bodies)));
    expect(await filesPrefetched()).toBeGreaterThanOrEqual(15);
    expect(await gets(), 'every block fetched exactly once').toBe(20);
    expect(await metric('flexfs_mount_prefetch_unused_bytes_total'), 'every block fetched ahead was read').toBe(0);
  });

  it('a damaged block fetched ahead still reads as EIO, never as wrong bytes', async () => {
    const victim = patternBytes(12, 6 * BS);
    await fsp.writeFile(join(mp(), 'victim'), victim);
    const ino = (await fsp.stat(join(mp(), 'victim'))).ino;
    await m!.stop();
    const objects = (await listFiles(join(local(), 'blocks'))).filter((f) => basename(f).startsWith(`${ino}_3_`));
    expect(objects.length).toBe(1);
    const raw = await fsp.readFile(objects[0]);
    raw[Math.floor(raw.length / 2)] ^= 0x5a;
    await fsp.writeFile(objects[0], raw);
    await remount();
    const fh = await fsp.open(join(mp(), 'victim'), 'r');
    try {
      const buf = Buffer.alloc(MiB);
      // Blocks 0-2 read sequentially: block 3 is in the window (and the kernel's readahead) by then.
      for (let pos = 0; pos < 3 * BS; pos += MiB) {
        const { bytesRead } = await fh.read(buf, 0, MiB, pos);
        expect(bytesRead).toBe(MiB);
        expect(buf.equals(victim.subarray(pos, pos + MiB))).toBe(true);
      }
      await expectCode(fh.read(buf, 0, MiB, 3 * BS), 'EIO');
      await expectCode(fh.read(buf, 0, MiB, 3 * BS + MiB), 'EIO'); // not cached as data either
      const { bytesRead } = await fh.read(buf, 0, MiB, 4 * BS);
      expect(bytesRead).toBe(MiB);
      expect(buf.equals(victim.subarray(4 * BS, 4 * BS + MiB))).toBe(true);
    } finally {
      await fh.close();
    }
  });
});
