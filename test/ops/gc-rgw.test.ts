import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeCreds } from '../../src/config/creds.js';
import type { MetaEngine } from '../../src/meta/engine.js';
import { openSqliteEngine } from '../../src/meta/engines/sqlite.js';
import type { VolumeSettings } from '../../src/meta/types.js';
import { runFsck } from '../../src/ops/fsck.js';
import { runGc } from '../../src/ops/gc.js';
import { openVolumeStore } from '../../src/ops/volume-store.js';
import { blockKey, type ObjectStore } from '../../src/store/index.js';
import { sharedRgw, type Rgw } from '../harness/rgw.js';
import { tempDir } from '../harness/ports.js';
import { ctx, keysOf, putAndCommit, writeFile } from './helpers.js';

const DAY = 86_400_000;

/**
 * gc/fsck against a real S3 server (Ceph RGW, the run's shared cluster): S3 listing with
 * LastModified as the object age, the bucket keys taken from the server's creds file (the volume
 * settings carry none, as in a real deployment).
 */
describe('gc and fsck on RGW', () => {
  let rgw: Rgw;
  let dir: { path: string; cleanup: () => Promise<void> };
  let engine: MetaEngine;
  let store: ObjectStore;
  let vol: VolumeSettings;

  beforeAll(async () => {
    rgw = await sharedRgw();
    const bucket = `ops-gc-${randomBytes(4).toString('hex')}`;
    await rgw.createBucket(bucket);
    dir = await tempDir('flexfs-ops-rgw-');
    await mkdir(join(dir.path, 'db'));
    engine = await openSqliteEngine({ file: join(dir.path, 'db', 'meta.db'), sync: false });
    vol = await engine.createVolume({ name: 'r1', blockSize: 256 * 1024, blockStore: { url: `s3://${bucket}/vols`, endpoint: rgw.endpoint, region: rgw.region } });
    const creds = join(dir.path, 'meta-creds');
    await writeCreds(creds, { blockUser: rgw.accessKey, blockPass: rgw.secretKey });
    store = await openVolumeStore(vol, creds);
  }, 180_000);
  afterAll(async () => {
    await store?.close().catch(() => undefined);
    await engine?.close().catch(() => undefined);
    await dir?.cleanup();
    await rgw?.stop();
  });

  it('removes queued blocks and old orphans, keeps referenced ones; fsck sees a missing block', async () => {
    const meta = engine.volume(vol.id);
    const a = await writeFile(meta, store, vol, 'a', 2);
    const [a1new] = await putAndCommit(meta, store, vol, a.ino, [1]);
    const orphan = blockKey(vol.id, a.ino, 9, await meta.allocIds(1, ctx));
    await store.put(orphan, Buffer.alloc(10));
    const live = [blockKey(vol.id, a.ino, 0, a.ids[0]), blockKey(vol.id, a.ino, 1, a1new)];

    const young = await runGc({ engine, store, volume: vol });
    expect(young).toMatchObject({ queuedDeleted: 0, orphansDeleted: 0, orphansYoung: 1, scanned: 4, errors: [] });

    const old = await runGc({ engine, store, volume: vol, now: Date.now() + 2 * DAY });
    expect(old).toMatchObject({ queuedDeleted: 1, orphansDeleted: 1, errors: [] });
    expect(await keysOf(store, vol)).toEqual(live.sort());

    await store.delete(live[0]);
    const r = await runFsck({ engine, store, volume: vol });
    expect(r).toMatchObject({ ok: false, missingCount: 1, orphanCount: 0 });
    expect(r.missing[0]).toMatchObject({ ino: a.ino, index: 0, blockId: a.ids[0] });
  });
});
