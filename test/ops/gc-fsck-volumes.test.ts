import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openSqliteEngine } from '../../src/meta/engines/sqlite.js';
import { blockKey, openStore } from '../../src/store/index.js';
import { ensureBuilt } from '../harness/build.js';
import { freePort, tempDir } from '../harness/ports.js';
import { runCommand } from '../harness/run-command.js';
import { META_MAIN } from '../meta-server/harness.js';
import { ctx, writeFile } from './helpers.js';

const SECRET = 'gc-test-secret-key-never-printed';

/**
 * gc and fsck over several volumes when one of them cannot be reached: the real CLI over a real
 * sqlite database, one volume on a file:// store and one on an S3 endpoint nothing listens on
 * (a bucket that is down). Both volumes' results are printed (text and --json), the reachable one
 * is collected, and the exit code is 1. And both jobs on an embedded --local volume folder.
 */
describe('meta.flexfs gc / fsck: every volume reported, a failing one does not stop the rest', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let dbFolder: string;
  let local: string;
  let queuedKey: string;
  let blocks: string;

  beforeAll(async () => {
    await ensureBuilt([META_MAIN]);
    dir = await tempDir('flexfs-gc-volumes-');
    dbFolder = join(dir.path, 'db');
    blocks = join(dir.path, 'blocks');
    await mkdir(dbFolder);
    const deadPort = await freePort(); // nothing listens there: connection refused, as in an outage
    const engine = await openSqliteEngine({ file: join(dbFolder, 'meta.db'), sync: false });
    try {
      const down = await engine.createVolume({ name: 'a-down', blockSize: 256 * 1024, blockStore: {
        url: 's3://flexfs-test/down', endpoint: `http://127.0.0.1:${deadPort}`, pathStyle: true, blockUser: 'AKIATEST', blockPass: SECRET,
      } });
      await engine.volume(down.id).create(1, 'f', 0o100644, ctx); // metadata only: its blocks are unreachable
      const up = await engine.createVolume({ name: 'b-up', blockSize: 256 * 1024, blockStore: { url: `file://${blocks}` } });
      const store = openStore(up.blockStore);
      const meta = engine.volume(up.id);
      await writeFile(meta, store, up, 'keep', 1);
      const gone = await writeFile(meta, store, up, 'gone', 1);
      await meta.unlink(1, 'gone', ctx);
      queuedKey = blockKey(up.id, gone.ino, 0, gone.ids[0]);
      await store.close();
    } finally {
      await engine.close();
    }

    // An embedded volume folder as `mount.flexfs start --local DIR` lays it out: DIR/meta.db, DIR/blocks.
    local = join(dir.path, 'local');
    await mkdir(join(local, 'blocks'), { recursive: true });
    const le = await openSqliteEngine({ file: join(local, 'meta.db'), sync: false });
    try {
      const v = await le.createVolume({ name: 'lv', blockSize: 256 * 1024, blockStore: { url: `file://${join(local, 'blocks')}` } });
      const store = openStore(v.blockStore);
      await writeFile(le.volume(v.id), store, v, 'x', 2);
      await store.close();
    } finally {
      await le.close();
    }
  }, 120_000);

  afterAll(async () => { await dir?.cleanup(); });

  const cli = (args: string[]) => runCommand(process.execPath, [META_MAIN, ...args], { timeoutMs: 120_000 });
  const db = () => ['--dbFolder', dbFolder, '--credsFile', join(dir.path, 'no-creds'), '--storeDeadline', '2s'];

  it('gc collects the reachable volume, reports the unreachable one, exits 1 (text and --json)', async () => {
    const r = await cli(['gc', ...db(), '--retention', '0', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const results = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(results.map((x) => x.volume)).toEqual(['a-down', 'b-up']);
    expect(results[0]).toMatchObject({ volume: 'a-down', failed: true });
    expect(String(results[0].error)).toMatch(/\S/);
    expect(results[1]).toMatchObject({ volume: 'b-up', queuedDeleted: 1, errors: [] });
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    const { FileObjectStore } = await import('../../src/store/file.js');
    expect(await new FileObjectStore(blocks).head(queuedKey)).toBeNull();

    const text = await cli(['gc', ...db(), '--dry-run']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^volume a-down: FAILED: .+$/m);
    expect(text.stdout).toMatch(/^volume b-up \(dry run\):$/m);
    expect(text.stdout + text.stderr).not.toContain(SECRET);
  }, 120_000);

  it('fsck checks the reachable volume, reports the unreachable one, exits 1', async () => {
    const r = await cli(['fsck', ...db(), '--json']);
    expect(r.code, r.stderr).toBe(1);
    const results = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(results).toHaveLength(2);
    expect(results[0]).toMatchObject({ volume: 'a-down', ok: false, failed: true });
    expect(results[1]).toMatchObject({ volume: 'b-up', ok: true, missingCount: 0 });
    const text = await cli(['fsck', ...db()]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^volume a-down: FAILED: /m);
    expect(text.stdout).toMatch(/^volume b-up: OK$/m);
    // Only the reachable one named: consistent, exit 0.
    expect((await cli(['fsck', 'b-up', ...db()])).code).toBe(0);
  }, 120_000);

  it('gc and fsck work on an embedded --local volume folder; --local with --dbFolder is refused', async () => {
    const f = await cli(['fsck', '--local', local, '--json']);
    expect(f.code, f.stderr).toBe(0);
    expect(JSON.parse(f.stdout)).toMatchObject([{ volume: 'lv', ok: true, referenced: 2, objects: 2 }]);
    const g = await cli(['gc', '--local', local]);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toMatch(/^volume lv:\n {2}queued blocks: deleted 0/);
    const both = await cli(['gc', '--local', local, '--dbFolder', dbFolder]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--local DIR names the embedded volume folder/);
    const missing = await cli(['fsck', '--local', join(dir.path, 'nothing')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no metadata database at .*nothing\/meta\.db/);
  }, 120_000);
});
