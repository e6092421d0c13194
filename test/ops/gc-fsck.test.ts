import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fsckCommand } from '../../src/cli/meta/fsck.js';
import { gcCommand } from '../../src/cli/meta/gc.js';
import type { MetaEngine } from '../../src/meta/engine.js';
import { openSqliteEngine } from '../../src/meta/engines/sqlite.js';
import { openRedisEngine } from '../../src/meta/engines/redis.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import type { MetaStore, VolumeSettings } from '../../src/meta/types.js';
import { runFsck } from '../../src/ops/fsck.js';
import { runGc } from '../../src/ops/gc.js';
import { blockKey, openStore, type ObjectStore } from '../../src/store/index.js';
import { ctx, keysOf, putAndCommit, writeFile } from './helpers.js';
import { tempDir } from '../harness/ports.js';

// Real sqlite engine + real file:// store. "Age" is moved with `now`, never by sleeping.
const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe.each(['sqlite', 'redis'] as const)('gc and fsck over the %s engine and a file:// store', (kind) => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let engine: MetaEngine;
  let store: ObjectStore;
  let vol: VolumeSettings;
  let meta: MetaStore;
  let redis: RedisServer | undefined;

  beforeAll(async () => {
    dir = await tempDir('flexfs-ops-gc-');
    await mkdir(join(dir.path, 'db'));
    if (kind === 'redis') {
      redis = await startRedis();
      engine = await openRedisEngine({ url: redis.url });
    } else {
      engine = await openSqliteEngine({ file: join(dir.path, 'db', 'meta.db'), sync: false });
    }
    vol = await engine.createVolume({ name: 'v1', blockSize: 256 * 1024, blockStore: { url: `file://${join(dir.path, 'blocks')}` } });
    store = openStore(vol.blockStore);
    meta = engine.volume(vol.id);
  });
  afterAll(async () => {
    await store?.close().catch(() => undefined);
    await engine?.close().catch(() => undefined);
    await redis?.stop();
    await dir?.cleanup();
  });

  it('deletes queued blocks and orphans only after their age, never referenced blocks', async () => {
    const a = await writeFile(meta, store, vol, 'a', 3);
    const b = await writeFile(meta, store, vol, 'b', 2);
    // Overwrite slot 0 of a: its old block is superseded and queued.
    const [a0new] = await putAndCommit(meta, store, vol, a.ino, [0]);
    // Delete b: both its blocks are queued.
    await meta.unlink(1, 'b', ctx);
    // An orphan (uploaded, never committed) and a key that is not a block object.
    const [orphanId] = [await meta.allocIds(1, ctx)];
    const orphanKey = blockKey(vol.id, a.ino, 7, orphanId);
    await store.put(orphanKey, Buffer.alloc(50));
    const foreignKey = `${vol.id}/blocks/zz/readme.txt`;
    await store.put(foreignKey, Buffer.from('not a block'));
    const referenced = [a0new, a.ids[1], a.ids[2]].map((id, i) => blockKey(vol.id, a.ino, [0, 1, 2][i], id));
    const queued = [blockKey(vol.id, a.ino, 0, a.ids[0]), ...b.ids.map((id, i) => blockKey(vol.id, b.ino, i, id))];
    const all = [...referenced, ...queued, orphanKey, foreignKey].sort();
    expect(await keysOf(store, vol)).toEqual(all);

    // Now: everything is young. Nothing goes.
    const young = await runGc({ engine, store, volume: vol });
    expect(young).toMatchObject({ queuedDeleted: 0, queuedKept: 3, orphansDeleted: 0, orphansYoung: 1, foreign: 1, errors: [] });
    expect(await keysOf(store, vol)).toEqual(all);

    // Past the queue's retention (default 24 h) but orphans still inside a 3-day safety age.
    const later = Date.now() + DAY + HOUR;
    const dry = await runGc({ engine, store, volume: vol, now: later, orphanAgeSeconds: 3 * 86400, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, queuedDeleted: 3, queuedKept: 0, orphansDeleted: 0, orphansYoung: 1 });
    expect(await keysOf(store, vol)).toEqual(all);

    const queueOnly = await runGc({ engine, store, volume: vol, now: later, orphanAgeSeconds: 3 * 86400 });
    expect(queueOnly).toMatchObject({ queuedDeleted: 3, queuedKept: 0, orphansDeleted: 0, orphansYoung: 1, errors: [] });
    expect(await keysOf(store, vol)).toEqual([...referenced, orphanKey, foreignKey].sort());
    expect(await engine.gcQueue(vol.id, Number.MAX_SAFE_INTEGER, 100)).toEqual([]);

    // Past the safety age too: the orphan goes; referenced blocks and the foreign key stay.
    const much = await runGc({ engine, store, volume: vol, now: Date.now() + 4 * DAY, orphanAgeSeconds: 3 * 86400 });
    expect(much).toMatchObject({ queuedDeleted: 0, orphansDeleted: 1, orphanBytes: 50, foreign: 1, scanned: 4 });
    expect(await keysOf(store, vol)).toEqual([...referenced, foreignKey].sort());
    // The surviving file still reads back: every slot's object is there.
    for (const ref of await meta.blocks(a.ino, 0, 10, ctx)) {
      expect((await store.get(blockKey(vol.id, a.ino, ref.index, ref.blockId))).length).toBe(100);
    }
  });

  it('respects each queued block\'s own queue time and the volume retention', async () => {
    const c = await writeFile(meta, store, vol, 'c', 1);
    const t0 = Date.now();
    await meta.unlink(1, 'c', ctx);
    const key = blockKey(vol.id, c.ino, 0, c.ids[0]);
    // One second before retention ends for this entry: kept.
    const early = await runGc({ engine, store, volume: vol, now: t0 + vol.retentionSeconds * 1000 - 1000, orphans: false });
    expect(early.queuedDeleted).toBe(0);
    expect(await store.head(key)).not.toBeNull();
    // A shorter retention override collects it.
    const late = await runGc({ engine, store, volume: vol, retentionSeconds: 0, now: Date.now() + 1000, orphans: false });
    expect(late.queuedDeleted).toBe(1);
    expect(await store.head(key)).toBeNull();
  });

  it('fsck finds a block deleted behind its back, orphans and a clean volume', async () => {
    const clean = await runFsck({ engine, store, volume: vol });
    expect(clean).toMatchObject({ ok: true, missingCount: 0, orphanCount: 0, namespace: [] });
    expect(clean.referenced).toBe(3);

    const d = await writeFile(meta, store, vol, 'd', 2);
    const victim = blockKey(vol.id, d.ino, 1, d.ids[1]);
    await store.delete(victim);
    const orphan = blockKey(vol.id, d.ino, 5, await meta.allocIds(1, ctx));
    await store.put(orphan, Buffer.alloc(10));
    const r = await runFsck({ engine, store, volume: vol, now: Date.now() + 2 * DAY });
    expect(r.ok).toBe(false);
    expect(r.missingCount).toBe(1);
    expect(r.missing).toEqual([{ ino: d.ino, index: 1, blockId: d.ids[1], key: victim }]);
    expect(r).toMatchObject({ orphanCount: 1, orphans: [orphan], collectable: 1, orphanBytes: 10 });

    // gc must not "repair" by deleting anything referenced; fsck still sees the same damage after.
    await runGc({ engine, store, volume: vol, now: Date.now() + 2 * DAY });
    expect(await store.head(blockKey(vol.id, d.ino, 0, d.ids[0]))).not.toBeNull();
    expect(await store.head(orphan)).toBeNull();
    const again = await runFsck({ engine, store, volume: vol });
    expect(again).toMatchObject({ ok: false, missingCount: 1, orphanCount: 0 });
  });

  it('CLI commands: exit codes, summaries, unknown volume and missing database', async () => {
    const engineFlag = kind === 'redis' ? redis!.url : 'sqlite';
    const out: string[] = [];
    const w = { write: (s: string) => out.push(s) };
    const dbFolder = join(dir.path, 'db');
    const base = { engine: engineFlag, dbFolder, credsFile: join(dir.path, 'no-creds'), orphanAge: '24h' };
    // The damage from the previous test is still there: fsck exits 1 and names the block.
    expect(await fsckCommand(['v1'], base, w)).toBe(1);
    expect(out.join('')).toMatch(/volume v1: DAMAGED[\s\S]*MISSING: 1 referenced blocks/);
    out.length = 0;
    expect(await fsckCommand([], { ...base, json: true }, w)).toBe(1);
    expect(JSON.parse(out.join(''))[0]).toMatchObject({ volume: 'v1', missingCount: 1 });
    out.length = 0;
    expect(await gcCommand(['v1'], { ...base, orphans: true, concurrency: '4', dryRun: true }, w)).toBe(0);
    expect(out.join('')).toMatch(/volume v1 \(dry run\):\n {2}queued blocks: would delete 0/);
    await expect(gcCommand(['nope'], { ...base, orphans: true, concurrency: '4' }, w)).rejects.toThrow(/no volume "nope"/);
    if (kind === 'sqlite') await expect(fsckCommand([], { ...base, dbFolder: join(dir.path, 'empty') }, w)).rejects.toThrow(/no metadata database at/);
    await expect(gcCommand([], { ...base, orphanAge: 'soon', orphans: true, concurrency: '4' }, w)).rejects.toThrow(/duration "soon"/);
  });
});
