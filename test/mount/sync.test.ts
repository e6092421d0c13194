import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { StartedMount } from '../harness/mount.js';
import { freePort, waitFor } from '../harness/ports.js';
import { buildMountClient, mountLocal, run, spawnScript, workDir } from './helpers.js';
import { covers } from './semantics-doc.js';

const CALLS = join(import.meta.dirname, 'sync-calls.mjs');

/**
 * fdatasync and fsyncdir through a real mount (served by a child process), made by a helper
 * child that holds its descriptor open: what fdatasync acknowledged is committed (a second mount
 * of the volume reads it while the writer still has the file open, unlike a plain write), and
 * fsyncdir reaches the file system (counted by the mount's per-operation metrics) and succeeds.
 */
describe('fdatasync and fsyncdir through a real mount (--local)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let a: StartedMount;
  let b: StartedMount;
  let metricsPort: number;

  beforeAll(async () => {
    await buildMountClient();
    dir = await workDir('flexfs-msync-');
    const local = join(dir.path, 'local');
    const home = join(dir.path, 'home');
    metricsPort = await freePort();
    a = await mountLocal(join(dir.path, 'a'), { local, home, args: ['--metricsPort', `127.0.0.1:${metricsPort}`] });
    b = await mountLocal(join(dir.path, 'b'), { local, home });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await dir?.cleanup();
  });

  /** Sum of a metric's samples whose labels include `labels`. */
  async function metric(name: string, labels: Record<string, string>): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
      if (m && m[1] === name && Object.entries(labels).every(([k, v]) => m[2].includes(`${k}="${v}"`))) sum += Number(m[3]);
    }
    return sum;
  }

  it('fdatasync commits: another client reads the bytes while the writer keeps the file open', async () => {
    covers('fdatasync');
    const text = 'acknowledged by fdatasync, not yet closed';
    const control = spawnScript(CALLS, ['write', join(a.mountpoint, 'plain'), 'written, never synced']);
    const synced = spawnScript(CALLS, ['fdatasync', join(a.mountpoint, 'datasynced'), text]);
    try {
      await waitFor(() => control.lines.includes('written'), 20_000, 'the plain writer');
      await waitFor(() => synced.lines.length > 0, 20_000, 'the fdatasync writer');
      expect(synced.lines).toEqual(['synced']);
      // B opens after the calls returned: it sees the fdatasync'ed bytes, and nothing of the
      // plain write (close-to-open: not committed until a flush).
      expect(await fsp.readFile(join(b.mountpoint, 'datasynced'), 'utf8')).toBe(text);
      expect((await fsp.readFile(join(b.mountpoint, 'plain'))).length).toBe(0);
      expect(await metric('flexfs_mount_op_seconds_count', { op: 'fsync' })).toBeGreaterThanOrEqual(1);
    } finally {
      control.kill();
      synced.kill();
      await Promise.all([control.exited, synced.exited]);
    }
  });

  it('fsyncdir reaches the file system and succeeds; the entries it covers are visible elsewhere', async () => {
    covers('fsyncdir');
    const d = join(a.mountpoint, 'dir');
    await fsp.mkdir(d);
    await fsp.writeFile(join(d, 'entry'), 'x');
    const before = await metric('flexfs_mount_op_seconds_count', { op: 'fsyncdir' });
    const r = await run(process.execPath, [CALLS, 'fsyncdir', d]);
    expect(r.stdout.trim(), r.stderr).toBe('OK');
    expect(r.code).toBe(0);
    expect(await metric('flexfs_mount_op_seconds_count', { op: 'fsyncdir' })).toBeGreaterThan(before);
    expect(await metric('flexfs_mount_op_errors_total', { op: 'fsyncdir' })).toBe(0);
    expect(await fsp.readdir(join(b.mountpoint, 'dir'))).toEqual(['entry']);
  });
});
