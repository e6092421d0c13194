import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBuilt, REPO_ROOT } from '../harness/build.js';
import { FsError, isFsError } from '../../src/errors/index.js';
import { openSqliteEngine } from '../../src/meta/engines/sqlite.js';
import { openSqliteWorkerEngine, type SqliteWorkerEngine } from '../../src/meta/engines/sqlite-worker-client.js';
import { ROOT_INO, type MetaStore } from '../../src/meta/types.js';
import { tempDir } from '../harness/ports.js';

/**
 * The --local engine: sqlite (synchronous=FULL) in a worker thread with group commit. The
 * conformance and engine suites run on it too (sqlite.test.ts, engines.test.ts); this file checks
 * what only the worker and group commit do.
 */
const ROOT = { uid: 0, gid: 0 };
const blockStore = { url: 'file:///tmp/flexfs-unused' };

async function settled<T>(ps: Promise<T>[]): Promise<{ ok: T[]; errors: unknown[] }> {
  const rs = await Promise.allSettled(ps);
  return {
    ok: rs.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    errors: rs.flatMap((r) => (r.status === 'rejected' ? [r.reason] : [])),
  };
}

/** Names in the root directory, read with a fresh in-process engine (what a remount would see). */
async function namesOnDisk(file: string, volumeId: string): Promise<string[]> {
  const e = await openSqliteEngine({ file });
  try {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await e.volume(volumeId).readdir(ROOT_INO, ROOT, cursor, 1000);
      names.push(...page.entries.map((x) => x.name));
      cursor = page.next;
    } while (cursor);
    return names;
  } finally { await e.close(); }
}

describe('sqlite engine in a worker thread', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => { dir = await tempDir('flexfs-sqlite-worker-'); });
  afterAll(async () => { await dir?.cleanup(); });

  let n = 0;
  async function open(): Promise<{ engine: SqliteWorkerEngine; store: MetaStore; file: string; volumeId: string; crashes: Error[] }> {
    const file = join(dir.path, `meta-${n++}.db`);
    const crashes: Error[] = [];
    const engine = await openSqliteWorkerEngine({ file, sync: true, onCrash: (e) => crashes.push(e) });
    const vol = await engine.createVolume({ name: 'w', blockStore });
    return { engine, store: engine.volume(vol.id), file, volumeId: vol.id, crashes };
  }
  // One worker for the tests that do not end it (starting one from TS sources takes seconds).
  let shared: Awaited<ReturnType<typeof open>> | undefined;
  const sharedVolume = async (name: string) => {
    shared ??= await open();
    const vol = await shared.engine.createVolume({ name, blockStore });
    return { engine: shared.engine, store: shared.engine.volume(vol.id), file: shared.file, volumeId: vol.id };
  };
  afterAll(async () => { await shared?.engine.close(); });

  it('groups concurrent mutations into few transactions; a failing one does not poison its group', async () => {
    const { engine, store, file, volumeId } = await sharedVolume('group');
    // Every tenth mkdir repeats an earlier name, so it fails with EEXIST inside a group of good ones.
    const names = Array.from({ length: 600 }, (_, i) => (i % 10 === 5 ? `d${i - 5}` : `d${i}`));
    const before = await engine.commitStats();
    const { ok, errors } = await settled(names.map((name) => store.mkdir(ROOT_INO, name, 0o755, ROOT)));
    const stats = await engine.commitStats();
    expect(errors).toHaveLength(60);
    for (const e of errors) expect(isFsError(e, 'EEXIST'), String(e)).toBe(true);
    expect(ok).toHaveLength(540);
    const mutations = stats.mutations - before.mutations;
    const commits = stats.commits - before.commits;
    expect(mutations).toBe(600);
    expect(commits).toBeGreaterThan(0);
    expect(commits).toBeLessThan(mutations / 10);
    expect(stats.largestGroup).toBeGreaterThan(10);
    // Every acknowledged mkdir is in the file; none of the failed ones undid its neighbours.
    const expected = [...new Set(names)].sort();
    expect((await namesOnDisk(file, volumeId)).sort()).toEqual(expected);
  });

  it('carries FsError codes, Buffers and bigint times across the thread boundary', async () => {
    const { engine, store } = await sharedVolume('types');
    {
      const err = await store.getattr(987654, ROOT).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FsError);
      expect((err as FsError).code).toBe('ENOENT');
      expect((err as FsError).message).toBe('ENOENT: no inode 987654');
      expect(await engine.deleteVolume('nope').catch((e: unknown) => (e as FsError).code)).toBe('ENOENT');

      const f = await store.create(ROOT_INO, 'f', 0o644, ROOT);
      const value = Buffer.from('pooled small buffer'); // shares Node's pool: must be copied, not moved
      await store.setxattr(f.ino, 'user.k', value, 0, ROOT);
      expect(value.toString()).toBe('pooled small buffer');
      const got = await store.getxattr(f.ino, 'user.k', ROOT);
      expect(Buffer.isBuffer(got)).toBe(true);
      expect(got.toString()).toBe('pooled small buffer');

      const mtime = 1_700_000_000_123_456_789n;
      const a = await store.setattr(f.ino, { mtime }, ROOT);
      expect(a.mtime).toBe(mtime);
      expect((await store.getattr(f.ino, ROOT)).mtime).toBe(mtime);
    }
  });

  it('keeps the event loop free during a large batch of commits, and reads overtake queued mutations', async () => {
    const { engine, store } = await sharedVolume('busy');
    {
      let ticks = 0;
      let readsAnswered = 0;
      let writesDone = 0;
      let readsBeforeLastWrite = 0;
      const reads: Promise<unknown>[] = [];
      const timer = setInterval(() => {
        ticks++;
        reads.push(store.getattr(ROOT_INO, ROOT).then(() => { readsAnswered++; if (writesDone < 3000) readsBeforeLastWrite++; }));
      }, 1);
      const writes = Array.from({ length: 3000 }, (_, i) => store.mkdir(ROOT_INO, `b${i}`, 0o755, ROOT).then(() => { writesDone++; }));
      let ticksDuringBatch = -1;
      await Promise.all(writes).finally(() => { ticksDuringBatch = ticks; clearInterval(timer); });
      await Promise.all(reads);
      // The engine on the loop (before the worker) ran such a batch without giving the loop back.
      expect(ticksDuringBatch).toBeGreaterThan(0);
      expect(readsAnswered).toBe(reads.length);
      expect(readsBeforeLastWrite).toBeGreaterThan(0);
      expect((await engine.commitStats()).commits).toBeGreaterThan(1);
    }
  });

  it('close() answers and commits every call already sent, then ends the thread', async () => {
    const { engine, store, file, volumeId } = await open();
    const pending = Array.from({ length: 200 }, (_, i) => store.mkdir(ROOT_INO, `c${i}`, 0o755, ROOT));
    const closed = engine.close();
    const { ok, errors } = await settled(pending);
    await closed;
    expect(errors).toEqual([]);
    expect(ok).toHaveLength(200);
    expect(await store.getattr(ROOT_INO, ROOT).catch((e: FsError) => e.code)).toBe('EIO');
    expect(await namesOnDisk(file, volumeId)).toHaveLength(200);
  });

  it('a dead worker fails every pending and later call with EIO and reports the crash once', async () => {
    const { engine, store, file, crashes } = await open();
    // Another connection holds the write lock, so the worker keeps retrying BEGIN: calls stay pending.
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    const pending = Array.from({ length: 100 }, (_, i) => store.mkdir(ROOT_INO, `k${i}`, 0o755, ROOT));
    await new Promise((r) => setTimeout(r, 50)); // (not a timing assertion: the calls stay pending either way)
    await engine.kill();
    other.exec('ROLLBACK');
    other.close();
    const { ok, errors } = await settled(pending);
    expect(ok).toEqual([]);
    expect(errors).toHaveLength(100);
    for (const e of errors) expect(isFsError(e, 'EIO'), String(e)).toBe(true);
    const later = await store.lookup(ROOT_INO, 'k0', ROOT).catch((e: unknown) => e);
    expect(isFsError(later, 'EIO')).toBe(true);
    expect(crashes).toHaveLength(1);
    await engine.close(); // after a crash: resolves, does not throw
  });

  it('compiled: a process with nothing else to do stays up until close() has closed the database', async () => {
    const client = join(REPO_ROOT, 'dist/src/meta/engines/sqlite-worker-client.js');
    await ensureBuilt([client, join(REPO_ROOT, 'dist/src/meta/engines/sqlite-worker.js')]);
    const file = join(dir.path, 'child.db');
    const script = `
      const { openSqliteWorkerEngine } = await import(${JSON.stringify(pathToFileURL(client).href)});
      const e = await openSqliteWorkerEngine({ file: ${JSON.stringify(file)}, sync: true });
      await e.createVolume({ name: 'child', blockStore: { url: 'file:///tmp/x' } });
      await e.close();
      console.log('closed');`;
    const scriptFile = join(dir.path, 'child.mjs');
    await writeFile(scriptFile, script);
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, [scriptFile], { timeout: 60_000 }, (_err, stdout) => resolve({ code: child.exitCode, stdout }));
    });
    expect(out).toEqual({ code: 0, stdout: 'closed\n' });
    const e = await openSqliteEngine({ file });
    try { expect((await e.listVolumes()).map((v) => v.name)).toEqual(['child']); } finally { await e.close(); }
  });

  it('refuses to start on a database it cannot open, with sqlite\'s reason', async () => {
    await expect(openSqliteWorkerEngine({ file: join(dir.path, 'no', 'such', 'dir', 'meta.db') })).rejects.toThrow(/directory does not exist|unable to open/);
  });
});
