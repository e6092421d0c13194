import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findFuseMount } from '../../src/fuse/mountinfo.js';
import { fsckCommand } from '../../src/cli/meta/fsck.js';
import { liveMountStatuses } from '../../src/ops/status.js';
import { ensureBuilt, REPO_ROOT } from '../harness/build.js';
import { freePort, tempDir, waitFor } from '../harness/ports.js';

const run = promisify(execFile);
const HELPER = '/sbin/mount.flexfs';
const ENTRIES = ['dist/src/cli/mount/main.js', 'dist/src/cli/flexfs/main.js'];

function flexfsCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/src/cli/flexfs/main.js'), ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr }); });
  });
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/**
 * mount -T <temporary fstab> through the real mount(8) and /sbin/mount.flexfs (a symlink to this
 * checkout's bin/mount.flexfs, made for the test when absent and removed afterwards), then
 * `flexfs status` on the live mount and on its volume, the mount's Prometheus port, and umount.
 */
describe('fstab mount with mount -T, flexfs status, mount metrics', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let madeHelper = false;
  let mp = '';
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    await ensureBuilt(ENTRIES);
    dir = await tempDir('flexfs-fstab-');
    mp = join(dir.path, 'mnt');
    await mkdir(mp);
    env = { FLEXFS_HOME: join(dir.path, 'home'), NOTIFY_SOCKET: '' };
    const current = await readlink(HELPER).catch(() => undefined);
    if (current === undefined) {
      await symlink(join(REPO_ROOT, 'bin/mount.flexfs'), HELPER);
      madeHelper = true;
    }
  });

  afterAll(async () => {
    if (mp && await findFuseMount(mp)) await run('umount', ['-l', mp]).catch(() => run('fusermount', ['-u', '-z', mp]).catch(() => undefined));
    // A mount daemon left behind by a failed run: its status file names it.
    if (dir) for (const s of await liveMountStatuses(join(dir.path, 'home', 'mount', 'run'))) {
      try { process.kill(s.pid, 'SIGTERM'); } catch { /* gone */ }
      await waitFor(() => !alive(s.pid), 20_000, `mount daemon ${s.pid} to exit`).catch(() => { try { process.kill(s.pid, 'SIGKILL'); } catch { /* gone */ } });
    }
    if (madeHelper && (await readlink(HELPER).catch(() => '')) === join(REPO_ROOT, 'bin/mount.flexfs')) await rm(HELPER, { force: true });
    await dir?.cleanup();
  });

  it('mounts from a temporary fstab, reports status and metrics, unmounts with umount', async () => {
    const port = await freePort();
    const local = join(dir.path, 'vol');
    const fstab = join(dir.path, 'fstab');
    await writeFile(fstab, `# test fstab\nopsvol ${mp} flexfs _netdev,nofail,local=${local},metricsPort=127.0.0.1:${port} 0 0\n`);
    const m = await run('mount', ['-T', fstab, mp], { env: { ...process.env, ...env }, timeout: 90_000 }).catch((e: { stderr?: string }) => {
      throw new Error(`mount -T failed: ${e.stderr ?? String(e)}`);
    });
    expect(m.stderr).not.toMatch(/error/i);
    const entry = await findFuseMount(mp);
    expect(entry?.fstype).toBe('fuse.flexfs');

    // Drive the mount from this process (it is served by the daemonized child).
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    await writeFile(join(mp, 'f.bin'), data);
    expect((await readFile(join(mp, 'f.bin'))).equals(data)).toBe(true);

    // Status by mountpoint: from the mount's status file (refreshed every 5 s).
    const st = await waitFor(async () => {
      const r = await flexfsCli(['status', mp, '--json'], env);
      const s = r.code === 0 ? JSON.parse(r.stdout) : undefined;
      return s && s.blockPuts >= 1 ? s : undefined;
    }, 30_000, 'a status file showing the upload');
    expect(st).toMatchObject({ volume: 'opsvol', mountpoint: mp, dirtyBytes: 0, metricsAddr: `127.0.0.1:${port}` });
    const text = await flexfsCli(['status', mp], env);
    expect(text.stdout).toMatch(/dirty bytes: +0 B/);
    expect(text.stdout).toMatch(/cache hit rate:/);

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/flexfs_mount_block_requests_total\{op="put",volume="opsvol"\} [1-9]/);
    expect(metrics).toMatch(/flexfs_mount_dirty_bytes\{volume="opsvol"\} 0/);
    // Per-operation latencies, bytes through the mount, and errors by errno.
    await expect(readFile(join(mp, 'no-such-file'))).rejects.toMatchObject({ code: 'ENOENT' });
    const ops = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    /** The value of a metric whose labels include all of `labels` (label order is prom-client's). */
    const value = (name: string, labels: Record<string, string>): number | undefined => {
      for (const line of ops.split('\n')) {
        const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
        if (!m || m[1] !== name) continue;
        if (Object.entries(labels).every(([k, v]) => m[2].includes(`${k}="${v}"`))) return Number(m[3]);
      }
      return undefined;
    };
    expect(value('flexfs_mount_op_seconds_count', { op: 'write', volume: 'opsvol' })).toBeGreaterThan(0);
    expect(value('flexfs_mount_op_seconds_count', { op: 'create' })).toBe(1);
    expect(value('flexfs_mount_bytes_total', { direction: 'written' })).toBe(data.length);
    expect(value('flexfs_mount_op_errors_total', { op: 'lookup', errno: 'ENOENT' })).toBeGreaterThan(0);

    // Status by volume (embedded engine), while mounted: one session, the file's bytes.
    const vol = await flexfsCli(['status', 'opsvol', '--local', local, '--json'], env);
    expect(vol.code).toBe(0);
    const vs = JSON.parse(vol.stdout);
    expect(vs.sessions).toHaveLength(1);
    expect(vs.usage.usedBytes).toBe(data.length);
    expect(vs.localMounts[0]?.pid).toBe(st.pid);

    await run('umount', [mp], { timeout: 60_000 });
    expect(await findFuseMount(mp)).toBeUndefined();
    await waitFor(() => !alive(st.pid), 30_000, 'the mount process to exit after umount');
    const after = await flexfsCli(['status', mp], env);
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/not mounted/);

    // The volume is consistent after the round trip (fsck over the same embedded database).
    const out: string[] = [];
    expect(await fsckCommand(['opsvol'], { engine: 'sqlite', dbFolder: local, orphanAge: '24h' }, { write: (s) => out.push(s) })).toBe(0);
    expect(out.join('')).toMatch(/volume opsvol: OK/);
  });

  it('mount.flexfs init fstab --now adds the line and mounts it through mount(8) and the helper', async () => {
    const mp2 = join(dir.path, 'mnt-now');
    await mkdir(mp2);
    const fstab = join(dir.path, 'fstab-now');
    await writeFile(fstab, '# other entries\n/dev/sda1 / ext4 defaults 0 1\n');
    const local = join(dir.path, 'vol-now');
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/src/cli/mount/main.js'), 'init', 'fstab', 'nowvol', mp2,
        '--mountOptions', `local=${local}`, '--now'], { env: { ...process.env, ...env, FLEXFS_FSTAB: fstab } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
    try {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`mounted ${mp2}`);
      expect(await readFile(fstab, 'utf8')).toBe(`# other entries\n/dev/sda1 / ext4 defaults 0 1\nnowvol ${mp2} flexfs _netdev,nofail,local=${local} 0 0\n`);
      expect(await findFuseMount(mp2)).toMatchObject({ fstype: 'fuse.flexfs', source: 'nowvol' });
      await writeFile(join(mp2, 'hello'), 'mounted by init fstab --now');
      expect(await readFile(join(mp2, 'hello'), 'utf8')).toBe('mounted by init fstab --now');
    } finally {
      if (await findFuseMount(mp2)) await run('umount', [mp2], { timeout: 60_000 });
    }
    expect(await findFuseMount(mp2)).toBeUndefined();
  });
});
