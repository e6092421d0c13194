import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { isFsError } from '../../src/errors/index.js';
import type { MetaEngine } from '../../src/meta/engine.js';
import { openRedisEngine } from '../../src/meta/engines/redis.js';
import { openSqliteEngine } from '../../src/meta/engines/sqlite.js';
import { ROOT_INO, type MetaStore, type OpContext } from '../../src/meta/types.js';
import { tempDir } from '../harness/ports.js';
import { startRedis } from '../harness/redis.js';

/**
 * Two independent engine instances (two sqlite connections on one file; two ioredis clients on
 * one server) race create/rename/unlink/link/mkdir/rmdir/open on the same few names. Afterwards
 * the namespace must be consistent: no dangling or duplicated entries, nlink and counters right.
 */
const OPS_PER_CLIENT = 300;
const WORKERS_PER_CLIENT = 4;
const NAMES = ['a', 'b', 'c', 'd'];
const EXPECTED = new Set(['ENOENT', 'EEXIST', 'ENOTEMPTY', 'EISDIR', 'ENOTDIR', 'EPERM', 'EINVAL']);

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
}

async function client(m: MetaStore, dirs: number[], seed: number, ctx: OpContext): Promise<{ ok: number; failed: Record<string, number> }> {
  const rand = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const held: number[] = [];
  let ok = 0;
  const failed: Record<string, number> = {};
  let remaining = OPS_PER_CLIENT;
  const worker = async () => {
    while (remaining-- > 0) {
      const d1 = pick(dirs), d2 = pick(dirs), n1 = pick(NAMES), n2 = pick(NAMES);
      try {
        switch (Math.floor(rand() * 8)) {
          case 0: await m.create(d1, n1, 0o644, ctx); break;
          case 1: held.push((await m.create(d1, n1, 0o644, ctx, true)).ino); break;
          case 2: await m.unlink(d1, n1, ctx); break;
          case 3: await m.rename(d1, n1, d2, n2, ctx); break;
          case 4: await m.link((await m.lookup(d1, n1, ctx)).ino, d2, n2, ctx); break;
          case 5: await m.mkdir(d1, n1, 0o755, ctx); break;
          case 6: await m.rmdir(d1, n1, ctx); break;
          default: if (held.length) await m.release(held.shift()!, ctx); else await m.rename(d1, n1, d2, n2, ctx, { exchange: true });
        }
        ok++;
      } catch (e) {
        const code = isFsError(e) ? e.code : String(e);
        if (!EXPECTED.has(code)) throw e;
        failed[code] = (failed[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS_PER_CLIENT }, worker));
  for (const ino of held) await m.release(ino, ctx);
  return { ok, failed };
}

async function raceAndCheck(a: MetaEngine, b: MetaEngine): Promise<void> {
  const vol = await a.createVolume({ name: 'race', blockStore: { url: 'file:///tmp/unused' } });
  const ma = a.volume(vol.id);
  const mb = b.volume(vol.id);
  const root: OpContext = { uid: 0, gid: 0 };
  const x = (await ma.mkdir(ROOT_INO, 'x', 0o777, root)).ino;
  const y = (await ma.mkdir(ROOT_INO, 'y', 0o777, root)).ino;
  const [ra, rb] = await Promise.all([
    client(ma, [x, y], 1234, { uid: 1, gid: 1, sessionId: 'client-a' }),
    client(mb, [x, y], 5678, { uid: 2, gid: 2, sessionId: 'client-b' }),
  ]);
  if (process.env.FLEXFS_RACE_DEBUG) console.log(JSON.stringify({ ra, rb }));
  expect(await a.checkNamespace(vol.id)).toEqual([]);
  // The race must have done real work on both sides, not only failed.
  expect(ra.ok).toBeGreaterThan(OPS_PER_CLIENT / 5);
  expect(rb.ok).toBeGreaterThan(OPS_PER_CLIENT / 5);
  expect(await b.checkNamespace(vol.id)).toEqual([]);
  // Every listed name resolves to the inode listed, names are unique, nlink matches the names.
  const names = new Map<number, number>();
  let dirs = 0;
  for (const d of [x, y]) {
    const page = await mb.readdir(d, root);
    const listed = page.entries.map((e) => e.name);
    expect(new Set(listed).size).toBe(listed.length);
    for (const e of page.entries) {
      expect((await ma.lookup(d, e.name, root)).ino).toBe(e.attr.ino);
      names.set(e.attr.ino, (names.get(e.attr.ino) ?? 0) + 1);
      if (e.attr.type === 'dir') dirs++;
    }
  }
  for (const [ino, n] of names) {
    const attr = await ma.getattr(ino, root);
    if (attr.type !== 'dir') expect(attr.nlink).toBe(n);
  }
  const top = await ma.getattr(ROOT_INO, root);
  expect(top.nlink).toBe(4);
  const stat = await mb.statfs(root);
  // root, x, y and what is named in x and y (the racers only ever name things directly in x or y)
  expect(stat.inodes).toBe(3 + names.size);
  expect(dirs).toBe((await ma.getattr(x, root)).nlink - 2 + (await ma.getattr(y, root)).nlink - 2);
}

/**
 * POSIX rename: a name that exists before and after a rename that replaces it never looks
 * absent. Client b keeps renaming fresh files over "target" while client a looks it up (and
 * stats it by name) as fast as it can.
 */
async function renameOverNeverHidesTarget(a: MetaEngine, b: MetaEngine): Promise<void> {
  const vol = await a.createVolume({ name: 'rename-race', blockStore: { url: 'file:///tmp/unused' } });
  const ma = a.volume(vol.id);
  const mb = b.volume(vol.id);
  const root: OpContext = { uid: 0, gid: 0 };
  const first = (await ma.create(ROOT_INO, 'target', 0o644, root)).ino;
  let renaming = true;
  const seen = new Set<number>([first]);
  const renamer = (async () => {
    try {
      for (let i = 0; i < 300; i++) {
        const f = await mb.create(ROOT_INO, `tmp${i}`, 0o644, root);
        seen.add(f.ino);
        await mb.rename(ROOT_INO, `tmp${i}`, ROOT_INO, 'target', root);
      }
    } finally { renaming = false; }
  })();
  let lookups = 0;
  const looker = async () => {
    while (renaming) {
      const attr = await ma.lookup(ROOT_INO, 'target', root);
      expect(seen.has(attr.ino)).toBe(true);
      lookups++;
    }
  };
  await Promise.all([renamer, looker(), looker(), looker()]);
  expect(lookups).toBeGreaterThan(100);
  expect(await a.checkNamespace(vol.id)).toEqual([]);
}

describe('concurrent clients keep the namespace consistent', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => { for (const c of cleanups.reverse()) await c().catch(() => undefined); });

  it('sqlite: two connections on one file', async () => {
    const dir = await tempDir('flexfs-race-sqlite-');
    cleanups.push(dir.cleanup);
    const file = join(dir.path, 'meta.db');
    const a = await openSqliteEngine({ file });
    cleanups.push(() => a.close());
    const b = await openSqliteEngine({ file });
    cleanups.push(() => b.close());
    await raceAndCheck(a, b);
    await renameOverNeverHidesTarget(a, b);
  });

  it('redis: two clients on one server', async () => {
    const server = await startRedis();
    cleanups.push(server.stop);
    const a = await openRedisEngine({ url: server.url });
    cleanups.push(() => a.close());
    const b = await openRedisEngine({ url: server.url });
    cleanups.push(() => b.close());
    await raceAndCheck(a, b);
    await renameOverNeverHidesTarget(a, b);
  });
});
