import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as C } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { makeVolume, ROOT, type TestVolume } from './volume.js';
import { openMountStack, type MountStack } from '../../src/mount/index.js';
import type { FlexFileSystem } from '../../src/vfs/index.js';
import { decodeRecord } from '../../src/recovery/index.js';

const BS = 256 * 1024;

async function readAll(fs: FlexFileSystem, path: string): Promise<Buffer> {
  const fh = await fs.open(path, C.O_RDONLY, ROOT);
  try {
    const parts: Buffer[] = [];
    for (let pos = 0; ;) {
      const buf = Buffer.alloc(1 << 20);
      const n = await fs.read(path, fh, buf, buf.length, pos, ROOT);
      if (n === 0) break;
      parts.push(buf.subarray(0, n));
      pos += n;
    }
    return Buffer.concat(parts);
  } finally {
    await fs.release(path, fh, ROOT);
  }
}

async function writeAll(fs: FlexFileSystem, path: string, data: Buffer, at = 0, flags = C.O_WRONLY | C.O_CREAT): Promise<number> {
  const fh = flags & C.O_CREAT ? await fs.create(path, 0o644, flags, ROOT) : await fs.open(path, flags, ROOT);
  for (let pos = 0; pos < data.length; pos += 100_000) {
    const piece = data.subarray(pos, pos + 100_000);
    await fs.write(path, fh, piece, piece.length, at + pos, ROOT);
  }
  return fh;
}

/**
 * Unmount with data the store will not take: the VFS waits out its block deadline, saves each
 * file's pending commit to the recovery folder (frames + commit, 0600 in a 0700 folder) and
 * fails naming it; the next stack opened on that folder uploads and commits it before serving,
 * never resurrecting a file deleted meanwhile nor overwriting a later commit.
 */
describe.each([false, true])('recovery folder (encrypted volume: %s)', (encrypted) => {
  let vol: TestVolume;
  let folder: string;
  const stacks: MountStack[] = [];

  /** A mount stack on the test volume with a recovery folder (the harness owns store and engine). */
  async function open(putDeadlineMs = 1_500): Promise<FlexFileSystem> {
    const stack = await openMountStack({
      volume: vol.settings.name, dataKey: vol.dataKey, codecWorkers: 1,
      meta: { kind: 'given', source: { meta: vol.meta, settings: vol.settings, close: async () => undefined }, namesSealed: true },
      openStore: () => vol.store,
      recoveryFolder: folder,
      vfs: { memCapacity: 64 * 2 ** 20, putDeadlineMs, getDeadlineMs: putDeadlineMs },
    });
    await stack.fs.init();
    stacks.push(stack);
    return stack.fs;
  }

  /** Unmount while every PUT fails: the destroy error, and the records it left. */
  async function unmountInOutage(fs: FlexFileSystem): Promise<{ error: Error; records: string[] }> {
    vol.faults.faults = { errorRate: 1, ops: ['put'] };
    try {
      const error = await fs.destroy().then(() => undefined, (e: Error) => e);
      expect(error, 'destroy must fail when data could not be uploaded').toBeInstanceOf(Error);
      const records = (await readdir(folder)).filter((n) => n.endsWith('.fxr'));
      return { error: error!, records };
    } finally {
      vol.faults.faults = {};
    }
  }

  beforeAll(async () => {
    vol = await makeVolume({ blockSize: BS, encrypted });
    folder = join(vol.dir, 'recovery', vol.settings.name);
  });
  afterAll(async () => {
    for (const s of stacks) await s.core.destroy().catch(() => undefined);
    await vol?.cleanup();
  });

  it('saves what the store would not take, names the folder, and the next open applies it', async () => {
    const a = await open();
    // a committed file the outage appends to (a partial block merged with the one underneath)…
    const base = randomBytes(BS + 5000);
    await a.release('/appended', await writeAll(a, '/appended', base), ROOT);
    // …and a new file: two full blocks and a partial one, never closed
    const fresh = Buffer.concat([Buffer.from('PLAINTEXT-MARKER-'.repeat(1000)), randomBytes(2 * BS)]);
    vol.faults.faults = { errorRate: 1, ops: ['put'] };
    await writeAll(a, '/fresh', fresh);
    const more = randomBytes(70_000);
    await writeAll(a, '/appended', more, base.length, C.O_WRONLY);
    const { error, records } = await unmountInOutage(a);
    expect(error.name).toBe('UnflushedDataError');
    expect(error.message).toContain(folder);
    expect(error.message).toContain(`flexfs recover --volume ${vol.settings.name} ${folder}`);
    expect(records).toHaveLength(2);
    expect((await stat(folder)).mode & 0o777).toBe(0o700);
    for (const r of records) {
      expect((await stat(join(folder, r))).mode & 0o777).toBe(0o600);
      const rec = decodeRecord(await readFile(join(folder, r)));
      expect(rec.volumeId).toBe(vol.settings.id);
      expect(rec.writes.some((w) => w.frame)).toBe(true);
      // E2E volumes: the record holds encrypted frames only
      if (encrypted) expect((await readFile(join(folder, r))).includes(Buffer.from('PLAINTEXT-MARKER-'))).toBe(false);
    }

    const b = await open();
    expect(await readdir(folder).catch(() => 'gone')).toBe('gone');
    expect((await readAll(b, '/fresh')).equals(fresh)).toBe(true);
    expect((await readAll(b, '/appended')).equals(Buffer.concat([base, more]))).toBe(true);
    // from a stack with nothing cached: the blocks really are in the store
    const c = await vol.mount({ memCapacity: 1 });
    expect((await readAll(c, '/fresh')).equals(fresh)).toBe(true);
  });

  it('does not resurrect a file deleted meanwhile', async () => {
    const a = await open();
    await writeAll(a, '/doomed', randomBytes(BS / 2));
    const { records } = await unmountInOutage(a);
    expect(records).toHaveLength(1);
    const other = await vol.mount();
    await other.unlink('/doomed', ROOT);
    const b = await open();
    await expect(b.getattr('/doomed', ROOT)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(folder).catch(() => 'gone')).toBe('gone');
  });

  it('keeps, without applying, a record a later commit superseded', async () => {
    const a = await open();
    await writeAll(a, '/raced', randomBytes(BS / 2));
    const { records } = await unmountInOutage(a);
    expect(records).toHaveLength(1);
    const other = await vol.mount();
    const newer = randomBytes(1000);
    await other.release('/raced', await writeAll(other, '/raced', newer, 0, C.O_WRONLY | C.O_TRUNC), ROOT);
    const b = await open();
    expect((await readAll(b, '/raced')).equals(newer)).toBe(true);
    expect(await readdir(join(folder, 'superseded'))).toEqual(records);
    expect((await readdir(folder)).filter((n) => n.endsWith('.fxr'))).toEqual([]);
  });

  it('moves a damaged record aside and applies the rest', async () => {
    await mkdir(folder, { recursive: true, mode: 0o700 });
    await writeFile(join(folder, '99-00000000000000000001.fxr'), Buffer.from('FXR1 not really a record'), { mode: 0o600 });
    await writeFile(join(folder, '.98-00000000000000000001.fxr.tmp'), Buffer.from('a save that never finished'));
    await open();
    expect(await readdir(join(folder, 'damaged'))).toEqual(['99-00000000000000000001.fxr']);
    expect((await readdir(folder)).filter((n) => n.startsWith('.'))).toEqual([]);
  });
});
