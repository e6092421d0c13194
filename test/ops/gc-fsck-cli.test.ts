import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, chown, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteEngine } from '../../src/meta/engines/sqlite.js';
import { blockKey, openStore } from '../../src/store/index.js';
import { ensureBuilt } from '../harness/build.js';
import { tempDir } from '../harness/ports.js';
import { runCommand, type CommandResult } from '../harness/run-command.js';
import { META_MAIN } from '../meta-server/harness.js';
import { ctx, writeFile } from './helpers.js';

const ALICE = { uid: 1000, gid: 1000 };

/**
 * `meta.flexfs gc` and `meta.flexfs fsck` as the operator runs them: real processes over a real
 * sqlite database and file:// store, judged by their exit codes (gc: 0 done, 1 deletions failed,
 * 2 could not run; fsck: 0 consistent, 1 damaged, 2 could not run) and what they print.
 * Failing deletes are real: gc runs as an unprivileged user who may write the database but not
 * the root-owned block folders, so every unlink is EACCES.
 */
describe('meta.flexfs gc / fsck: exit codes through the real CLI', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let dbFolder: string;
  let blocks: string;
  let victim: string;
  let queuedKeys: string[];
  let nsIno: number;
  let nsVolId: string;

  const cli = (args: string[], as?: { uid: number; gid: number }): Promise<CommandResult> => {
    const argv = [META_MAIN, ...args, '--dbFolder', dbFolder, '--credsFile', join(dir.path, 'no-creds')];
    return as
      ? runCommand('setpriv', [`--reuid=${as.uid}`, `--regid=${as.gid}`, '--clear-groups', process.execPath, ...argv], { timeoutMs: 60_000 })
      : runCommand(process.execPath, argv, { timeoutMs: 60_000 });
  };
  const objects = async () => (await readdir(blocks, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(blocks.length + 1)).sort();

  beforeAll(async () => {
    await ensureBuilt([META_MAIN]);
    dir = await tempDir('flexfs-gcfsck-cli-');
    await chmod(dir.path, 0o755); // mkdtemp makes 0700: the unprivileged gc must get to the database
    dbFolder = join(dir.path, 'db');
    blocks = join(dir.path, 'blocks');
    await mkdir(dbFolder);
    const engine = await openSqliteEngine({ file: join(dbFolder, 'meta.db'), sync: false });
    try {
      const vol = await engine.createVolume({ name: 'cv', blockSize: 256 * 1024, blockStore: { url: `file://${blocks}` } });
      const store = openStore(vol.blockStore);
      const meta = engine.volume(vol.id);
      const keep = await writeFile(meta, store, vol, 'keep', 2);
      const gone = await writeFile(meta, store, vol, 'gone', 3);
      await meta.unlink(1, 'gone', ctx); // its 3 blocks are queued for gc
      queuedKeys = gone.ids.map((id, i) => blockKey(vol.id, gone.ino, i, id)).sort();
      victim = blockKey(vol.id, keep.ino, 1, keep.ids[1]);
      // A second volume whose namespace gets damaged below (its blocks are all fine).
      const nv = await engine.createVolume({ name: 'nv', blockSize: 256 * 1024, blockStore: { url: `file://${blocks}` } });
      const nf = await writeFile(engine.volume(nv.id), store, nv, 'n', 1);
      nsIno = nf.ino;
      nsVolId = nv.id;
      await store.close();
    } finally {
      await engine.close();
    }
  });
  afterAll(async () => { await dir?.cleanup(); });

  it('fsck of consistent volumes exits 0 and says OK', async () => {
    const r = await cli(['fsck']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/volume cv: OK/);
    expect(r.stdout).toMatch(/volume nv: OK/);
    expect(r.stdout).toMatch(/3 queued for gc/);
  });

  it('gc exits 1 when deletions fail, keeps the failed blocks queued, and a rerun that can delete exits 0', async () => {
    expect(process.getuid?.(), 'the test makes deletes fail by running gc as another user: needs root').toBe(0);
    // Alice may write the database (gc drops what it deleted from the queue) but not the blocks.
    for (const e of await readdir(dbFolder)) await chown(join(dbFolder, e), ALICE.uid, ALICE.gid);
    await chown(dbFolder, ALICE.uid, ALICE.gid);
    const before = await objects();
    expect(before).toEqual(expect.arrayContaining(queuedKeys));

    const failed = await cli(['gc', 'cv', '--retention', '0s'], ALICE);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stdout).toMatch(/queued blocks: deleted 0, kept 3/);
    expect(failed.stdout).toMatch(/3 errors \(rerun gc later\):\n {4}delete queued block \d+: /);
    expect(await objects()).toEqual(before);

    const json = await cli(['gc', 'cv', '--retention', '0s', '--json'], ALICE);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)[0]).toMatchObject({ volume: 'cv', queuedDeleted: 0, queuedKept: 3 });

    // Root can delete: the same blocks are still queued, and go now.
    const ok = await cli(['gc', 'cv', '--retention', '0s']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/queued blocks: deleted 3, kept 0/);
    const after = await objects();
    for (const k of queuedKeys) expect(after).not.toContain(k);
    expect(after.length).toBe(before.length - 3);
  });

  it('fsck exits 1 with DAMAGED for a missing block and for a namespace problem; 2 when it cannot run', async () => {
    const store = openStore({ url: `file://${blocks}` });
    await store.delete(victim);
    await store.close();
    let r = await cli(['fsck', 'cv']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/volume cv: DAMAGED\n[\s\S]*MISSING: 1 referenced blocks/);
    expect(r.stdout).toContain(victim);

    // Namespace damage the engine's check must find: a link count that no entry backs.
    const db = new Database(join(dbFolder, 'meta.db'));
    try {
      expect(db.prepare('UPDATE inodes SET nlink = 7 WHERE vol = ? AND ino = ?').run(nsVolId, nsIno).changes).toBe(1);
    } finally {
      db.close();
    }
    r = await cli(['fsck', 'nv']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/volume nv: DAMAGED\n[\s\S]*NAMESPACE: 1 problems:\n {4}inode \d+ has nlink 7, expected 1/);
    expect(r.stdout).not.toMatch(/MISSING/);
    r = await cli(['fsck', 'nv', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ volume: 'nv', ok: false, missingCount: 0, namespace: [expect.stringMatching(/nlink 7/)] });

    // Could not run: exit 2 and a one-line reason, for both commands.
    for (const cmd of ['fsck', 'gc']) {
      const unknown = await cli([cmd, 'nope']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/no volume "nope"/);
      const noDb = await runCommand(process.execPath, [META_MAIN, cmd, '--dbFolder', join(dir.path, 'empty')], { timeoutMs: 60_000 });
      expect(noDb.code).toBe(2);
      expect(noDb.stderr).toMatch(/no metadata database at .*empty\/meta\.db/);
      const badFlag = await cli([cmd, '--orphanAge', 'soon']);
      expect(badFlag.code).toBe(2);
      expect(badFlag.stderr).toMatch(/duration "soon"/);
      // A usage error (unknown option) is "could not run" too, never 1 (which means something).
      const unknownFlag = await cli([cmd, '--frobnicate']);
      expect(unknownFlag.code).toBe(2);
      expect(unknownFlag.stderr).toMatch(/unknown option '--frobnicate'/);
    }
  });
});
