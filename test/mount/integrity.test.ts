import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import type { StartedMount } from '../harness/mount.js';
import { waitFor } from '../harness/ports.js';
import {
  buildMountClient, expectCode, fileSha, filesContaining, listFiles, mountLocal, ok, patternBytes, sha256,
  spawnScript, workDir, writeRandomFile,
} from './helpers.js';
import { covers } from './semantics-doc.js';

const MiB = 2 ** 20;
const BS = 4 * MiB; // the default volume block size (--local volumes are created with it)

/** What a file must read back as: its bytes (small/medium files) or just sha + size (the big one). */
type Expect = { sha: string; size: number };
const expectOf = (b: Buffer): Expect => ({ sha: sha256(b), size: b.length });

async function verifyAll(mp: string, model: Map<string, Expect>, skip: Set<string> = new Set()): Promise<void> {
  const bad: string[] = [];
  for (const [name, want] of model) {
    if (skip.has(name)) continue;
    const got = await fileSha(join(mp, name));
    if (got.sha !== want.sha || got.size !== want.size) bad.push(`${name}: size ${got.size} (want ${want.size})${got.sha !== want.sha ? ', bytes differ' : ''}`);
  }
  expect(bad, `files differing on ${mp}`).toEqual([]);
}

describe('integrity through a real mount (--local): sizes 0 B … 200 MiB, remount, second mount', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let local: string;
  let home: string;
  let a: StartedMount | undefined;
  let b: StartedMount | undefined;
  const model = new Map<string, Expect>();
  const mpA = () => join(dir.path, 'a');
  const mpB = () => join(dir.path, 'b');

  beforeAll(async () => {
    await buildMountClient();
    dir = await workDir('flexfs-mint-');
    local = join(dir.path, 'local');
    home = join(dir.path, 'home');
    a = await mountLocal(mpA(), { local, home });
  });

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await dir?.cleanup();
  });

  it('writes files of many sizes, sparse, overwritten in the middle, appended and truncated; reads them back on the same mount', async () => {
    const mp = mpA();
    const sizes = [0, 1, 4095, 4096, 4097, 131071, 131072, 131073, BS - 1, BS, BS + 1, 3 * BS + 12345];
    for (const [i, size] of sizes.entries()) {
      const data = patternBytes(i + 1, size);
      await fsp.writeFile(join(mp, `size-${size}`), data);
      model.set(`size-${size}`, expectOf(data));
    }
    // Compressible data goes through lz4 for real (random data is stored raw).
    const text = Buffer.from('flexfs compressible line of text, repeated many times.\n'.repeat(200_000));
    await fsp.writeFile(join(mp, 'text'), text);
    model.set('text', expectOf(text));

    // Sparse: two islands far apart, then a sparse grow.
    const sparse = Buffer.alloc(70 * MiB);
    const fh = await fsp.open(join(mp, 'sparse'), 'w');
    for (const [off, seed, len] of [[10 * MiB + 5, 11, MiB], [50 * MiB - 3, 12, 100_000]] as const) {
      const d = patternBytes(seed, len);
      await fh.write(d, 0, len, off);
      d.copy(sparse, off);
    }
    await fh.truncate(70 * MiB);
    await fh.close();
    model.set('sparse', expectOf(sparse));

    // Overwrite in the middle, across the first block boundary, then a small dd patch.
    const ow = patternBytes(21, 3 * BS);
    await fsp.writeFile(join(mp, 'overwrite'), ow);
    const patch = patternBytes(22, 3 * MiB / 2);
    const oh = await fsp.open(join(mp, 'overwrite'), 'r+');
    await oh.write(patch, 0, patch.length, BS - MiB / 2);
    await oh.close();
    patch.copy(ow, BS - MiB / 2);
    await fsp.writeFile(join(dir.path, 'ddsrc'), patternBytes(23, 10_000));
    await ok('dd', [`if=${join(dir.path, 'ddsrc')}`, `of=${join(mp, 'overwrite')}`, 'bs=10000', 'seek=700', 'oflag=seek_bytes', 'conv=notrunc']);
    patternBytes(23, 10_000).copy(ow, 700);
    model.set('overwrite', expectOf(ow));

    // Append across a block boundary, in three opens.
    let ap = patternBytes(31, 3 * MiB);
    await fsp.writeFile(join(mp, 'append'), ap);
    for (const seed of [32, 33]) {
      const more = patternBytes(seed, 2 * MiB + 7);
      await fsp.appendFile(join(mp, 'append'), more);
      ap = Buffer.concat([ap, more]);
    }
    model.set('append', expectOf(ap));

    // Truncate: shrink into a block, grow again (zeros, not the old bytes), append after.
    const tr = patternBytes(41, 9 * MiB);
    await fsp.writeFile(join(mp, 'truncate'), tr);
    await ok('truncate', ['-s', String(5 * MiB + 7), join(mp, 'truncate')]);
    await ok('truncate', ['-s', String(6 * MiB), join(mp, 'truncate')]);
    await fsp.appendFile(join(mp, 'truncate'), 'tail');
    const trWant = Buffer.concat([tr.subarray(0, 5 * MiB + 7), Buffer.alloc(6 * MiB - (5 * MiB + 7)), Buffer.from('tail')]);
    model.set('truncate', expectOf(trWant));

    // One big file: 200 MiB of random bytes (streamed, never held whole).
    const bigSha = await writeRandomFile(join(mp, 'big'), 200 * MiB);
    model.set('big', { sha: bigSha, size: 200 * MiB });

    await verifyAll(mp, model);
  });

  it('a second mount of the same --local DIR (another process on the same sqlite WAL + blocks) reads the same bytes; close-to-open both ways', async () => {
    b = await mountLocal(mpB(), { local, home });
    await verifyAll(mpB(), model);
    // Change on B, close, read on A at once (and the other way round).
    const buf = patternBytes(51, 2 * MiB);
    const fh = await fsp.open(join(mpB(), 'overwrite'), 'r+');
    await fh.write(buf, 0, buf.length, 2 * BS - MiB);
    await fh.close();
    const ow = await fsp.readFile(join(mpA(), 'overwrite'));
    expect(ow.subarray(2 * BS - MiB, 2 * BS + MiB).equals(buf)).toBe(true);
    model.set('overwrite', expectOf(ow));
    const fromA = patternBytes(52, 5 * MiB + 1);
    await fsp.writeFile(join(mpA(), 'from-a'), fromA);
    expect(sha256(await fsp.readFile(join(mpB(), 'from-a')))).toBe(sha256(fromA));
    model.set('from-a', expectOf(fromA));
    // Close-to-open even right after the reader looked: B stats (and reads) a file, A grows it
    // and closes, B's next open sees all of it — not the length B had cached a moment ago.
    await fsp.writeFile(join(mpA(), 'grows'), 've');
    expect((await fsp.stat(join(mpB(), 'grows'))).size).toBe(2);
    expect((await fsp.readFile(join(mpB(), 'grows'))).toString()).toBe('ve');
    await fsp.writeFile(join(mpA(), 'grows'), 'version-2 longer');
    expect((await fsp.readFile(join(mpB(), 'grows'))).toString()).toBe('version-2 longer');
    // The atomic-save pattern: A writes a temp file and renames it over a name B just opened.
    await fsp.writeFile(join(mpA(), 'config'), 'old');
    expect((await fsp.readFile(join(mpB(), 'config'))).toString()).toBe('old');
    await fsp.writeFile(join(mpA(), 'config.tmp'), 'new contents');
    await fsp.rename(join(mpA(), 'config.tmp'), join(mpA(), 'config'));
    expect((await fsp.readFile(join(mpB(), 'config'))).toString()).toBe('new contents');
    for (const n of ['grows', 'config']) await fsp.rm(join(mpA(), n));
    await b.stop();
    b = undefined;
  });

  it('unmount (SIGTERM) flushes a file still open for writing; everything reads back after a remount', async () => {
    covers('unmount-flushes');
    const data = patternBytes(61, 5 * MiB + 3);
    await fsp.writeFile(join(dir.path, 'pending-src'), data);
    // A child opens the file, writes, and keeps it open (no close, no fsync) until killed.
    const holder = spawnScript(join(import.meta.dirname, 'hold-open.mjs'), [join(mpA(), 'pending'), join(dir.path, 'pending-src')]);
    try {
      await waitFor(() => holder.lines.includes('written'), 30_000, 'the holder to write');
      await a!.stop();
      expect(a!.output()).toMatch(/SIGTERM: flushing and unmounting/);
      expect(a!.output()).not.toMatch(/flush failed/);
    } finally {
      holder.kill();
      await holder.exited;
    }
    model.set('pending', expectOf(data));
    a = await mountLocal(mpA(), { local, home });
    await verifyAll(mpA(), model);
  });

  it('a damaged block object reads as EIO, never as wrong bytes', async () => {
    covers('corrupt-eio');
    const victim = patternBytes(71, MiB);
    await fsp.writeFile(join(mpA(), 'victim'), victim);
    const ino = (await fsp.stat(join(mpA(), 'victim'))).ino;
    await a!.stop();
    const objects = (await listFiles(join(local, 'blocks'))).filter((f) => basename(f).startsWith(`${ino}_0_`));
    expect(objects.length).toBeGreaterThan(0);
    for (const f of objects) {
      const raw = await fsp.readFile(f);
      raw[Math.floor(raw.length / 2)] ^= 0x5a;
      await fsp.writeFile(f, raw);
    }
    a = await mountLocal(mpA(), { local, home });
    await expectCode(fsp.readFile(join(mpA(), 'victim')), 'EIO');
    await verifyAll(mpA(), model); // the others are untouched
  });
});

describe('end-to-end encrypted --local volume through a real mount', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let m: StartedMount | undefined;

  beforeAll(async () => {
    await buildMountClient();
    dir = await workDir('flexfs-me2e-');
  });
  afterAll(async () => {
    await m?.stop();
    await dir?.cleanup();
  });

  it('the blocks folder and the metadata hold no plaintext of what was written; data reads back after a remount', async () => {
    const local = join(dir.path, 'local');
    const home = join(dir.path, 'home');
    const secretFile = join(dir.path, 'secret');
    await fsp.writeFile(secretFile, 'an e2e passphrase for the mount test\n', { mode: 0o600 });
    const mp = join(dir.path, 'mnt');
    const args = ['--secretFile', secretFile];
    m = await mountLocal(mp, { local, home, volume: 'secret-vol', args });
    expect(m.output()).toMatch(/end-to-end encrypted/);
    const needle = Buffer.from('PLAINTEXT-NEEDLE-7f3a9c: the quick brown fox. ');
    const text = Buffer.concat(Array.from({ length: 40_000 }, () => needle)); // compressible, ~1.8 MiB
    const random = patternBytes(81, 9 * MiB + 17);
    await fsp.writeFile(join(mp, 'text'), text);
    await fsp.writeFile(join(mp, 'random'), random);
    await m.stop();
    m = undefined;
    // Samples of the random file, 64 bytes each, from several blocks.
    const samples = [0, 1 * MiB, 4 * MiB + 3, 8 * MiB + 100, 9 * MiB].map((o) => random.subarray(o, o + 64));
    const blocks = await listFiles(join(local, 'blocks'));
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    expect(await filesContaining(join(local, 'blocks'), [needle.subarray(0, 24), ...samples])).toEqual([]);
    expect(await filesContaining(local, [needle.subarray(0, 24), ...samples])).toEqual([]); // meta.db, WAL too
    // Control: the scan finds plaintext on an unencrypted volume (random data is stored raw).
    const plainLocal = join(dir.path, 'plain');
    const pm = await mountLocal(join(dir.path, 'plain-mnt'), { local: plainLocal, home });
    await fsp.writeFile(join(pm.mountpoint, 'random'), random);
    await pm.stop();
    expect((await filesContaining(join(plainLocal, 'blocks'), samples)).length).toBeGreaterThan(0);
    m = await mountLocal(mp, { local, home, volume: 'secret-vol', args });
    expect(sha256(await fsp.readFile(join(mp, 'text')))).toBe(sha256(text));
    expect(sha256(await fsp.readFile(join(mp, 'random')))).toBe(sha256(random));
  });
});
