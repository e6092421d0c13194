import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { findFuseMount } from '../../src/fuse/mountinfo.js';
import { waitFor } from '../harness/ports.js';
import { buildMountClient, MOUNT_ENTRY, mountLocal, run, workDir } from '../mount/helpers.js';

/**
 * kill -9 of a mount leaves its mountpoint dead (every access is ENOTCONN). `mount.flexfs start`
 * on that mountpoint detaches the dead mount and mounts again, so a systemd Restart= or the
 * mount@ unit recovers by itself; the data fsync'd before the kill is there.
 */
describe('mount.flexfs start over a mountpoint left dead by kill -9', () => {
  let dir: { path: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    await buildMountClient();
    dir = await workDir('flexfs-dead-');
  });
  afterAll(async () => {
    const mp = join(dir.path, 'mnt');
    if (await findFuseMount(mp)) await run('fusermount3', ['-u', '-z', mp]);
    await dir?.cleanup();
  });

  it('detaches the dead mount, mounts again, and serves what was written before the kill', async () => {
    const local = join(dir.path, 'local');
    const home = join(dir.path, 'home');
    const mp = join(dir.path, 'mnt');
    const first = await mountLocal(mp, { local, home });
    const fh = await fsp.open(join(mp, 'kept'), 'w');
    await fh.writeFile('written before the crash');
    await fh.sync();
    await fh.close();
    process.kill(first.pid, 'SIGKILL');
    await first.exited;
    expect(await findFuseMount(mp)).toBeTruthy();
    await expect(fsp.stat(mp)).rejects.toMatchObject({ code: 'ENOTCONN' });

    // the daemonizing form, as systemd runs it: no harness clean-up in between
    const r = await run(process.execPath, [MOUNT_ENTRY, 'start', 'vol', mp, '--local', local], { timeoutMs: 60_000, env: { FLEXFS_HOME: home } });
    expect(r.code, r.stderr).toBe(0);
    expect(await fsp.readFile(join(mp, 'kept'), 'utf8')).toBe('written before the crash');
    await run('fusermount3', ['-u', mp]);
    await waitFor(async () => !(await findFuseMount(mp)), 15_000, 'the second mount to go', 100);
  });

  it('a live mount is not touched: a second start on it is refused', async () => {
    const local = join(dir.path, 'local2');
    const home = join(dir.path, 'home2');
    const mp = join(dir.path, 'live');
    const live = await mountLocal(mp, { local, home });
    try {
      const r = await run(process.execPath, [MOUNT_ENTRY, 'start', 'vol', mp, '--local', local, '--foreground'], { timeoutMs: 30_000, env: { FLEXFS_HOME: home } });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/already mounted/);
      await fsp.writeFile(join(mp, 'still'), 'served');
      expect(await fsp.readFile(join(mp, 'still'), 'utf8')).toBe('served');
    } finally {
      await live.stop();
    }
  });
});
