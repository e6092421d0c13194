import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureBuilt } from '../harness/build.js';
import { startMount, type StartedMount } from '../harness/mount.js';
import { tempDir, waitFor } from '../harness/ports.js';
import type { LlMemFsStats } from '../../bench/llmemfs.js';
import { F_WRLCK, flockNb, hold, probe, release } from '../harness/locks.js';

const run = promisify(execFile);
const ENTRY = 'dist/bench/llmemfs-main.js';
const FUSE_CAP_POSIX_LOCKS = 1 << 1;
const FUSE_CAP_FLOCK_LOCKS = 1 << 10;

/**
 * The layer carries getlk/setlk/flock when the filesystem has handlers for them (llmemfs
 * --locks: a lock table in JavaScript, bench/locktable.ts): libfuse then negotiates
 * POSIX_LOCKS/FLOCK_LOCKS and every lock request reaches JavaScript. Without handlers (the plain
 * mount) the kernel keeps locks itself; conflicts between processes hold either way.
 */
describe('lock ops through the low-level layer (llmemfs with and without a lock table, real mounts)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  const mounts: Record<'table' | 'kernel', { m: StartedMount; mp: string }> = {} as never;

  const stats = async (mp: string): Promise<LlMemFsStats> =>
    JSON.parse((await run('getfattr', ['--only-values', '-n', 'user.llmemfs.stats', mp])).stdout) as LlMemFsStats;
  const want = (m: StartedMount): number => Number(/"want":(\d+)/.exec(m.output())?.[1] ?? NaN);

  beforeAll(async () => {
    await ensureBuilt([ENTRY]);
    dir = await tempDir('flexfs-lk-');
    await fsp.chmod(dir.path, 0o755);
    for (const kind of ['table', 'kernel'] as const) {
      const mp = join(dir.path, kind);
      const m = await startMount({ args: [ENTRY, mp, '--ttl', '1', ...(kind === 'table' ? ['--locks'] : [])], mountpoint: mp });
      await waitFor(async () => m.output().includes('"want"'), 10_000, 'the mount log line');
      mounts[kind] = { m, mp };
    }
  });
  afterAll(async () => {
    for (const { m } of Object.values(mounts)) await m?.stop();
    await dir?.cleanup();
  });

  it('negotiates POSIX and flock locks only when the handlers exist', () => {
    expect(want(mounts.table.m) & FUSE_CAP_POSIX_LOCKS).toBe(FUSE_CAP_POSIX_LOCKS);
    expect(want(mounts.table.m) & FUSE_CAP_FLOCK_LOCKS).toBe(FUSE_CAP_FLOCK_LOCKS);
    expect(want(mounts.kernel.m) & FUSE_CAP_POSIX_LOCKS).toBe(0);
    expect(want(mounts.kernel.m) & FUSE_CAP_FLOCK_LOCKS).toBe(0);
  });

  for (const kind of ['table', 'kernel'] as const) {
    it(`fcntl locks conflict between two processes; F_GETLK names the holder; the lock goes with its process (${kind})`, async () => {
      const { mp } = mounts[kind];
      const f = join(mp, 'posix');
      await fsp.writeFile(f, 'x'.repeat(200));
      const before = (await stats(mp)).ops;
      const h = await hold(f, 'posix');
      try {
        expect(await probe(f)).toEqual({ ex0: 'EAGAIN', ex100: 'ok', getlk: [F_WRLCK, 0, 10, h.pid] });
      } finally {
        await release(h);
      }
      const after = await probe(f);
      expect(after).toMatchObject({ ex0: 'ok', ex100: 'ok' });
      expect(after.getlk[0]).toBe(2); // F_UNLCK: nobody holds it now
      const ops = (await stats(mp)).ops;
      if (kind === 'table') {
        expect((ops.setlk ?? 0) - (before.setlk ?? 0)).toBeGreaterThanOrEqual(4); // holder, 2 probes ×2 runs (the conflict too)
        expect((ops.getlk ?? 0) - (before.getlk ?? 0)).toBe(2);
      } else {
        expect(ops.setlk ?? 0).toBe(0);
        expect(ops.getlk ?? 0).toBe(0);
      }
    });

    it(`flock -n fails while another process holds flock, succeeds after (${kind})`, async () => {
      const { mp } = mounts[kind];
      const f = join(mp, 'flocked');
      await fsp.writeFile(f, 'y');
      const before = (await stats(mp)).ops.flock ?? 0;
      const h = await hold(f, 'flock');
      try {
        expect(await flockNb(f)).toBe(1);
        expect(await flockNb(f, true)).toBe(1);
      } finally {
        await release(h);
      }
      expect(await flockNb(f)).toBe(0);
      expect(await flockNb(f, true)).toBe(0);
      const flocks = ((await stats(mp)).ops.flock ?? 0) - before;
      if (kind === 'table') expect(flocks).toBeGreaterThanOrEqual(3);
      else expect(flocks).toBe(0);
    });
  }
});
