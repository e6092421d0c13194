import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createEncryption } from '../../src/codec/index.js';
import type { MetaEngine } from '../../src/meta/engine.js';
import { openRedisEngine } from '../../src/meta/engines/redis.js';
import { openSqliteEngine } from '../../src/meta/engines/sqlite.js';
import type { MetaStore, OpContext, VolumeSettings } from '../../src/meta/types.js';
import { dumpVolume, requireRecordAccess } from '../../src/ops/dump.js';
import { parentsOf } from '../../src/meta/core/ancestry.js';
import type { DumpRecord } from '../../src/ops/dump-format.js';
import { readDump, writeDump } from '../../src/ops/dump-stream.js';
import { loadVolume } from '../../src/ops/load.js';
import { ensureBuilt } from '../harness/build.js';
import { tempDir } from '../harness/ports.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { runCommand } from '../harness/run-command.js';
import { META_MAIN } from '../meta-server/harness.js';

/**
 * `meta.flexfs dump` / `load`: a volume with every inode kind, hard links, binary xattrs, a file
 * with holes, a directory bigger than one dump page and queued gc work moves sqlite → redis and
 * redis → sqlite (real sqlite files, a real redis-server). The dumps before and after are equal
 * (but for the header's engine and time) and the loaded volume answers the MetaStore calls as the
 * source does. The CLI runs as child processes for exit codes, gzip, 0600 files and broken dumps.
 */

const ROOT: OpContext = { uid: 0, gid: 0 };
const BIG_DIR = 1200; // > the dump page (500) and > one readdir page
const BS = 256 * 1024;
const ENTRIES = BIG_DIR + 13; // 9 in the root, 2 in d, the big dir's files and sub, sub's deeper
const INODES = BIG_DIR + 12;  // the root and one per entry, less the two extra names of d/f

async function collect(it: AsyncIterable<DumpRecord>): Promise<DumpRecord[]> {
  const out: DumpRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}
async function* numbered(records: DumpRecord[]): AsyncIterable<{ record: DumpRecord; line: number }> {
  let line = 0;
  for (const record of records) yield { record, line: ++line };
}
/** The dump without what differs by source: the header's engine and time, the gc queue's order. */
const body = (d: DumpRecord[]) => {
  const gc = d.filter((r) => r.kind === 'gc').sort((a, b) => (a.kind === 'gc' && b.kind === 'gc' ? a.blockId - b.blockId : 0));
  return [...d.filter((r) => r.kind !== 'header' && r.kind !== 'gc'), ...gc];
};

/** Build the volume the way mounts would, through the MetaStore API. */
async function populate(engine: MetaEngine, name: string): Promise<VolumeSettings> {
  const vol = await engine.createVolume({ name, blockSize: BS, blockStore: { url: 'file:///tmp/flexfs-dump-unused' }, capacityBytes: 1 << 30, inodeLimit: 100_000 });
  const m = engine.volume(vol.id);
  const d = await m.mkdir(1, 'd', 0o2755, ROOT);
  const f = await m.create(d.ino, 'f', 0o104755, ROOT);
  const ids = await m.allocIds(3, ROOT);
  // Slots 0 and 5 hold blocks, 1-4 and 6 are holes; then slot 5 is punched (its block queued).
  await m.commit({ ino: f.ino, writes: [{ index: 0, blockId: ids, length: BS }, { index: 5, blockId: ids + 1, length: BS }, { index: 7, blockId: ids + 2, length: 100 }],
    size: 7 * BS + 100, mtime: 1_700_000_000_123_456_789n }, ROOT);
  await m.commit({ ino: f.ino, writes: [{ index: 5, blockId: 0, length: 0 }], size: 7 * BS + 100, mtime: 1_700_000_001_000_000_001n }, ROOT);
  await m.setxattr(f.ino, 'user.bin', Buffer.from([0, 1, 0xff, 0x80, 10]), 0, ROOT);
  await m.setxattr(f.ino, 'user.empty', Buffer.alloc(0), 0, ROOT);
  await m.setxattr(d.ino, 'user.dir', Buffer.from('dir ✓'), 0, ROOT);
  await m.link(f.ino, 1, 'hardlink', ROOT);
  await m.link(f.ino, d.ino, 'again', ROOT);
  await m.symlink(1, 'sym', 'd/f', ROOT);
  await m.mknod(1, 'fifo', 0o010644, 0, ROOT);
  await m.mknod(1, 'chr', 0o020600, (1 << 8) | 3, ROOT);
  await m.mknod(1, 'blk', 0o060660, (8 << 8) | 1, ROOT);
  await m.mknod(1, 'sock', 0o140755, 0, ROOT);
  const owned = await m.create(1, 'owned', 0o640, { uid: 1000, gid: 1001 });
  await m.setattr(owned.ino, { atime: 1_234_567_890_123_456_789n, mtime: 987_654_321_000_000_007n }, ROOT);
  const big = await m.mkdir(1, 'big', 0o1777, ROOT);
  for (let i = 0; i < BIG_DIR; i++) await m.create(big.ino, `file-${String(i).padStart(5, '0')}`, 0o644, ROOT);
  const deep = await m.mkdir(big.ino, 'sub', 0o700, ROOT);
  await m.mkdir(deep.ino, 'deeper', 0o700, ROOT);
  const gone = await m.create(1, 'gone', 0o644, ROOT);
  const gid = await m.allocIds(2, ROOT);
  await m.commit({ ino: gone.ino, writes: [{ index: 0, blockId: gid, length: 10 }, { index: 1, blockId: gid + 1, length: 10 }], size: BS + 10, mtime: 1n }, ROOT);
  await m.unlink(1, 'gone', ROOT); // both blocks queued for gc
  return vol;
}

/** The parents (core/ancestry.ts) of d/f, hard-linked as d/f, /hardlink and d/again, and of a plain file. */
async function linkParentsOfF(engine: MetaEngine, volumeId: string): Promise<unknown> {
  const m = engine.volume(volumeId);
  const d = await m.lookup(1, 'd', ROOT);
  const f = await m.lookup(d.ino, 'f', ROOT);
  const owned = await m.lookup(1, 'owned', ROOT);
  return requireRecordAccess(engine).transactRecords(volumeId, async (tx) => ({
    parent: (await tx.getInode(f.ino))?.parent, linkParents: await tx.getLinkParents(f.ino),
    parents: (await parentsOf(tx, f.ino)).sort(), owned: await parentsOf(tx, owned.ino), d: d.ino,
  }), true);
}

/** Everything a mount can ask of the volume, walked through the MetaStore API. */
async function answers(m: MetaStore): Promise<unknown[]> {
  const out: unknown[] = [await m.statfs(ROOT), await m.getattr(1, ROOT)];
  const dirs = [1];
  for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
    let cursor: string | undefined;
    do {
      const page = await m.readdir(dir, ROOT, cursor);
      for (const e of page.entries) {
        const a = e.attr;
        const xattrs = await Promise.all((await m.listxattr(a.ino, ROOT)).sort().map(async (n) => [n, (await m.getxattr(a.ino, n, ROOT)).toString('hex')]));
        out.push([dir, e.name, a, await m.lookup(dir, e.name, ROOT), xattrs,
          a.type === 'file' ? await m.blocks(a.ino, 0, 100, ROOT) : null,
          a.type === 'symlink' ? await m.readlink(a.ino, ROOT) : null]);
        if (a.type === 'dir') dirs.push(a.ino);
      }
      cursor = page.next;
    } while (cursor);
  }
  return out;
}

describe('meta.flexfs dump / load between sqlite and redis', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let redis: RedisServer;
  let sqliteA: MetaEngine;
  let sqliteB: MetaEngine;
  let redisEngine: MetaEngine;

  beforeAll(async () => {
    dir = await tempDir('flexfs-dump-');
    for (const d of ['a', 'b', 'cli']) await mkdir(join(dir.path, d));
    redis = await startRedis();
    sqliteA = await openSqliteEngine({ file: join(dir.path, 'a', 'meta.db') });
    sqliteB = await openSqliteEngine({ file: join(dir.path, 'b', 'meta.db') });
    redisEngine = await openRedisEngine({ url: redis.url });
  }, 120_000);
  afterAll(async () => {
    await sqliteA?.close();
    await sqliteB?.close();
    await redisEngine?.close();
    await redis?.stop();
    await dir?.cleanup();
  });

  async function roundTrip(from: MetaEngine, to: MetaEngine, back: MetaEngine, name: string): Promise<void> {
    const vol = await populate(from, name);
    const first = await collect(dumpVolume(from, name));
    const kinds = new Set(first.flatMap((r) => (r.kind === 'inode' ? [r.type] : [])));
    expect([...kinds].sort()).toEqual(['blk', 'chr', 'dir', 'fifo', 'file', 'sock', 'symlink']);
    expect(first.filter((r) => r.kind === 'gc')).toHaveLength(3);
    const end = first[first.length - 1];
    expect(end.kind === 'end' && end.counts).toEqual({ inodes: INODES, entries: ENTRIES, gc: 3 });

    const loaded = await loadVolume(to, numbered(first));
    expect(loaded.volume).toEqual(vol);
    const second = await collect(dumpVolume(to, name));
    expect(body(second)).toEqual(body(first));
    expect(await answers(to.volume(vol.id))).toEqual(await answers(from.volume(vol.id)));
    expect(await to.checkNamespace(vol.id)).toEqual([]);
    const parents = await linkParentsOfF(from, vol.id) as { d: number; parent: number; linkParents: unknown; parents: number[]; owned: number[] };
    expect(parents.parent).toBe(parents.d);
    expect(parents.linkParents).toEqual([[1, 1], [parents.d, 1]]); // /hardlink and d/again besides d/f
    expect(parents.parents).toEqual([1, parents.d].sort());
    expect(parents.owned).toEqual([1]);
    expect(await linkParentsOfF(to, vol.id)).toEqual(parents);
    // And back again into the first engine's kind, through a gzip file on disk.
    const file = join(dir.path, `${name}.ndjson.gz`);
    await writeDump(dumpVolume(to, name), { path: file, gzip: true });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await loadVolume(back, readDump(file), { name: `${name}-back` });
    const third = await collect(dumpVolume(back, `${name}-back`));
    const renamed = body(first).map((r) => (r.kind === 'volume' ? { ...r, volume: { ...r.volume, settings: { ...r.volume.settings, name: `${name}-back` } } } : r));
    expect(body(third)).toEqual(renamed);
    expect(await linkParentsOfF(back, (await back.getVolume(`${name}-back`))!.id)).toEqual(parents);
    // New ids on the target never collide with the stored ones.
    const m = to.volume(vol.id);
    const fresh = await m.create(1, 'after-load', 0o644, ROOT);
    const maxIno = Math.max(...first.flatMap((r) => (r.kind === 'inode' ? [r.ino] : [])));
    const maxBlock = Math.max(...first.flatMap((r) => (r.kind === 'inode' ? (r.blocks ?? []).map((b) => b[1]) : r.kind === 'gc' ? [r.blockId] : [])));
    expect(fresh.ino).toBeGreaterThan(maxIno);
    expect(await m.allocIds(1, ROOT)).toBeGreaterThan(maxBlock);
    await m.unlink(1, 'after-load', ROOT);

  }

  it('sqlite → redis (→ sqlite again): equal dumps and equal answers', async () => {
    await roundTrip(sqliteA, redisEngine, sqliteB, 'from-sqlite');
  }, 300_000);

  it('redis → sqlite (→ sqlite again): equal dumps and equal answers', async () => {
    await roundTrip(redisEngine, sqliteA, sqliteB, 'from-redis');
  }, 300_000);

  it('rebuilds the parents of files from a dump made before they were kept (no parent on non-directories)', async () => {
    const vol = await populate(sqliteA, 'legacy');
    const expected = await linkParentsOfF(sqliteA, vol.id);
    const old = (await collect(dumpVolume(sqliteA, 'legacy'))).map((r) => {
      if (r.kind !== 'inode' || r.type === 'dir') return r;
      const { parent: _p, ...rest } = r;
      return rest;
    });
    await loadVolume(redisEngine, numbered(old));
    // which name `parent` stands for is the loader's choice: the directories of all names are not
    const names = (p: unknown) => {
      const { parent, linkParents, ...rest } = p as { parent: number; linkParents: [number, number][] };
      return { ...rest, names: [parent, ...linkParents.flatMap(([d, n]) => Array<number>(n).fill(d))].sort() };
    };
    expect(names(await linkParentsOfF(redisEngine, vol.id))).toEqual(names(expected));
    expect(await redisEngine.checkNamespace(vol.id)).toEqual([]);
  }, 300_000);

  it('keeps encryption parameters (the wrapped key only) and the name-encryption flag', async () => {
    const { params, dataKey } = await createEncryption('correct horse battery staple');
    const vol = await sqliteA.createVolume({ name: 'sealed', blockStore: { url: 'file:///tmp/x', blockUser: 'AK', blockPass: 'SECRET-KEY' }, encryption: params });
    const dump = await collect(dumpVolume(sqliteA, 'sealed'));
    const text = dump.map((r) => JSON.stringify(r)).join('\n');
    expect(text).not.toContain(dataKey.toString('base64'));
    expect(text).not.toContain('SECRET-KEY');
    const loaded = await loadVolume(redisEngine, numbered(dump));
    const { blockUser: _u, blockPass: _p, ...blockStore } = vol.blockStore;
    expect(loaded.volume).toEqual({ ...vol, blockStore });
    expect(loaded.volume.nameEncryption).toBe(1);
    expect(loaded.volume.encryption?.wrappedKey).toBe(params.wrappedKey);
  });

  it('refuses a dump whose end is missing or does not add up, and keeps nothing of it', async () => {
    await populate(sqliteA, 'cut');
    const dump = await collect(dumpVolume(sqliteA, 'cut'));
    await sqliteA.deleteVolume('cut', true); // so the same id may be loaded back here
    await expect(loadVolume(sqliteA, numbered(dump.slice(0, -1)))).rejects.toThrow(/no end record: it was cut short.*removed/);
    expect(await sqliteA.getVolume('cut')).toBeNull();
    const lying = dump.map((r) => (r.kind === 'end' ? { ...r, counts: { ...r.counts, entries: r.counts.entries + 1 } } : r));
    await expect(loadVolume(redisEngine, numbered(lying))).rejects.toThrow(/damaged.*entries.*removed/);
    expect(await redisEngine.getVolume('cut')).toBeNull();
    const future = dump.map((r) => (r.kind === 'header' ? { ...r, version: 99 } : r));
    const file = join(dir.path, 'future.ndjson');
    await writeFile(file, future.map((r) => JSON.stringify(r) + '\n').join(''));
    await expect(loadVolume(sqliteA, readDump(file))).rejects.toThrow(/version 99; this meta.flexfs reads version 1/);
    // Loaded whole, it works: the failures above left nothing in the way.
    expect((await loadVolume(sqliteA, numbered(dump))).counts.entries).toBe(ENTRIES);
  }, 300_000);

  describe('the CLI', () => {
    const cli = (args: string[], stdin?: string) => runCommand(process.execPath, [META_MAIN, ...args,
      '--credsFile', join(dir.path, 'no-creds')], { timeoutMs: 120_000, stdin });
    const cliDb = () => join(dir.path, 'cli');

    beforeAll(async () => {
      await ensureBuilt([META_MAIN]);
      const e = await openSqliteEngine({ file: join(cliDb(), 'meta.db') });
      try { await populate(e, 'clivol'); } finally { await e.close(); }
    }, 300_000);

    it('dumps to a 0600 gzip file and loads it into redis; a second load is refused', async () => {
      const file = join(dir.path, 'cli.ndjson.gz');
      const d = await cli(['dump', 'clivol', file, '--dbFolder', cliDb(), '--progress']);
      expect(d.stderr).toMatch(/dumped \d+ records \(\d+\/s\)/);
      expect(d.code).toBe(0);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const lines = gunzipSync(await readFile(file)).toString().trim().split('\n').map((l) => JSON.parse(l) as DumpRecord);
      expect(lines[0]).toMatchObject({ kind: 'header', format: 'flexfs-meta-dump', version: 1, engine: 'sqlite' });
      const l = await cli(['load', file, '--engine', redis.url]);
      expect(l.stderr).toBe('');
      expect(l.code).toBe(0);
      expect(l.stdout).toMatch(new RegExp(`loaded volume clivol .*: ${INODES} inodes, ${ENTRIES} entries, 3 queued blocks`));
      const again = await cli(['load', file, '--engine', redis.url]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/already exists/);
      await redisEngine.deleteVolume('clivol', true);
    }, 300_000);

    it('a truncated dump (plain or gzip) fails with exit 1 and loads nothing', async () => {
      const d = await cli(['dump', 'clivol', '--dbFolder', cliDb()]);
      expect(d.code).toBe(0);
      const text = d.stdout;
      const plain = join(dir.path, 'cut.ndjson');
      await writeFile(plain, text.slice(0, Math.floor(text.length * 0.6)));
      const a = await cli(['load', plain, '--engine', redis.url]);
      expect(a.code).toBe(1);
      expect(a.stderr).toMatch(/cut short|not a JSON record/);
      expect(await redisEngine.getVolume('clivol')).toBeNull();
      const gz = gzipSync(Buffer.from(text));
      const cutGz = join(dir.path, 'cut.gz');
      await writeFile(cutGz, gz.subarray(0, Math.floor(gz.length * 0.7)));
      const b = await cli(['load', cutGz, '--engine', redis.url]);
      expect(b.code).toBe(1);
      expect(b.stderr).toMatch(/gzip stream ends early: the dump was cut short/);
      expect(await redisEngine.getVolume('clivol')).toBeNull();
      // From stdin, whole: loads.
      const c = await cli(['load', '-', '--engine', redis.url, '--name', 'fromstdin'], text);
      expect(c.code).toBe(0);
      expect(await redisEngine.getVolume('fromstdin')).not.toBeNull();
    }, 300_000);

    it('usage errors exit 2', async () => {
      expect((await cli(['dump'])).code).toBe(2);
      const bad = await cli(['dump', 'clivol', '--engine', 'mysql://x']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--engine mysql:\/\/x: expected sqlite or a redis:\/\/ URL/);
      const missing = await cli(['dump', 'nosuch', '--dbFolder', cliDb()]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/no volume "nosuch"/);
    }, 120_000);
  });
});
