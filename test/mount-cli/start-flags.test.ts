import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { constants as C, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { findFuseMount } from '../../src/fuse/mountinfo.js';
import { liveMountStatuses } from '../../src/ops/status.js';
import { REPO_ROOT, type StartedMount } from '../harness/mount.js';
import { waitFor } from '../harness/ports.js';
import {
  ALICE, buildMountClient, expectCode, MOUNT_ENTRY, mountLocal, patternBytes, run, runAs, sha256, spawnScript, workDir,
} from '../mount/helpers.js';

const MiB = 2 ** 20;

/** Records of a mount's pino log (JSON lines on stderr); lines that are not JSON are skipped. */
function records(output: string): { level: number; msg: string }[] {
  return output.split('\n').flatMap((l) => {
    try { return [JSON.parse(l) as { level: number; msg: string }]; } catch { return []; }
  });
}

/**
 * `mount.flexfs start` flags end to end: each mount is a real FUSE mount served by a child
 * process (`start … --local DIR --foreground`), and each flag is judged by what a program on the
 * mount sees (errnos, modes, atimes, exec, setuid), by /proc/self/mountinfo, by the mount's status
 * file and cache folder, or by its log. A mount without the flag is the control where it matters.
 */
describe('mount.flexfs start flags (real mounts, --local)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let local: string;
  let home: string;
  let plain: StartedMount;
  const extra: StartedMount[] = [];

  const mount = async (name: string, args: string[], env?: NodeJS.ProcessEnv): Promise<StartedMount> => {
    const m = await mountLocal(join(dir.path, name), { local, home, args, env });
    extra.push(m);
    return m;
  };
  const options = async (mp: string) => (await findFuseMount(mp))!.options.split(',');

  beforeAll(async () => {
    await buildMountClient();
    dir = await workDir('flexfs-flags-');
    local = join(dir.path, 'local');
    home = join(dir.path, 'home');
    plain = await mountLocal(join(dir.path, 'plain'), { local, home });
    await fsp.chmod(plain.mountpoint, 0o755);
    await fsp.writeFile(join(plain.mountpoint, 'script.sh'), '#!/bin/sh\necho ran\n', { mode: 0o755 });
    await fsp.copyFile('/usr/bin/id', join(plain.mountpoint, 'suid-id'));
    await fsp.chmod(join(plain.mountpoint, 'suid-id'), 0o4755);
    await fsp.writeFile(join(plain.mountpoint, 'data'), 'some data');
  });
  afterAll(async () => {
    for (const m of extra) await m.stop();
    await plain?.stop();
    await dir?.cleanup();
  });

  it('--ro: every write is EROFS, reads work, the kernel mount is ro', async () => {
    const m = await mount('ro', ['--ro']);
    expect((await options(m.mountpoint))[0]).toBe('ro');
    expect(await fsp.readFile(join(m.mountpoint, 'data'), 'utf8')).toBe('some data');
    await expectCode(fsp.writeFile(join(m.mountpoint, 'new'), 'x'), 'EROFS');
    await expectCode(fsp.appendFile(join(m.mountpoint, 'data'), 'x'), 'EROFS');
    await expectCode(fsp.mkdir(join(m.mountpoint, 'd')), 'EROFS');
    await expectCode(fsp.rm(join(m.mountpoint, 'data')), 'EROFS');
    expect(await fsp.readFile(join(plain.mountpoint, 'data'), 'utf8')).toBe('some data');
  });

  it('--noExec: exec of a script is EACCES (it runs from a mount without the flag)', async () => {
    const m = await mount('noexec', ['--noExec']);
    expect(await options(m.mountpoint)).toContain('noexec');
    expect(await options(plain.mountpoint)).not.toContain('noexec');
    expect((await run(join(plain.mountpoint, 'script.sh'), [])).stdout).toBe('ran\n');
    const refused = await new Promise<{ code?: unknown } | null>((r) => execFile(join(m.mountpoint, 'script.sh'), [], (e) => r(e)));
    expect(refused?.code).toBe('EACCES');
    expect(await fsp.readFile(join(m.mountpoint, 'script.sh'), 'utf8')).toMatch(/echo ran/); // reading is fine
  });

  // Masked by the adapter (libfuse's own umask= would replace the bits, not mask them).
  it('--umask 077: group/other bits are masked from the modes the mount reports', async () => {
    const m = await mount('umask', ['--umask', '077']);
    expect((await fsp.stat(join(m.mountpoint, 'script.sh'))).mode & 0o777).toBe(0o700);
    expect((await fsp.stat(m.mountpoint)).mode & 0o777).toBe(0o700);
    expect((await fsp.stat(join(plain.mountpoint, 'data'))).mode & 0o777).toBe(0o644); // stored mode unchanged
    expect((await fsp.stat(join(m.mountpoint, 'data'))).mode & 0o777).toBe(0o600);
  });

  it('--noSUID, --noATime: setuid is ignored, reads never move atime', async () => {
    const m = await mount('nosuid', ['--noSUID', '--noATime']);
    const opts = await options(m.mountpoint);
    expect(opts).toContain('nosuid');
    expect(opts).toContain('noatime');
    expect(await options(plain.mountpoint)).not.toContain('noatime');
    // A setuid-root binary run by alice does not get root's euid. (libfuse mounts nosuid unless
    // told `suid`, so the plain mount is no control here: see the report on --noSUID.)
    const id = await runAs(ALICE, join(m.mountpoint, 'suid-id'), []);
    expect(id.code, id.stderr).toBe(0);
    expect(id.stdout).toMatch(/^uid=1000\b/);
    expect(id.stdout).not.toMatch(/euid=0\b/);
    // noatime: a read never moves atime; relatime on the plain mount does (atime < mtime).
    const f = join(plain.mountpoint, 'atime');
    await fsp.writeFile(f, 'x');
    await fsp.utimes(f, 1_000_000, 2_000_000);
    await fsp.readFile(join(m.mountpoint, 'atime'));
    await new Promise((r) => setTimeout(r, 1500)); // past the attribute TTL
    expect(Math.round((await fsp.stat(join(m.mountpoint, 'atime'))).atimeMs / 1000)).toBe(1_000_000);
    await fsp.readFile(f);
    await waitFor(async () => (await fsp.stat(f)).atimeMs > Date.now() - 60_000, 10_000, 'relatime update on the plain mount', 100);
  });

  /** Bytes of frame files in a disk cache folder (files being written, *.tmp, left out). */
  const cachedBytes = async (folder: string) => {
    let n = 0;
    for (const e of await fsp.readdir(folder, { recursive: true, withFileTypes: true })) {
      if (e.isFile() && !e.name.endsWith('.tmp')) n += (await fsp.stat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size;
    }
    return n;
  };
  /** Read `name` through a mount with a 5M memory cache and a 10M disk cache; the settled status. */
  const readThroughSmallCaches = async (name: string, diskFolder: string) => {
    const data = patternBytes(7, 24 * MiB); // 6 blocks of 4 MiB, random: stored raw, ~4 MiB frames
    await fsp.writeFile(join(plain.mountpoint, name), data);
    const m = await mount(`cached-${name}`, ['--memCapacity', '5M', '--diskFolder', diskFolder, '--diskQuota', '10M']);
    expect(sha256(await fsp.readFile(join(m.mountpoint, name)))).toBe(sha256(data));
    // Frames are stored in the background: wait until the folder stops changing.
    let bytes = -1;
    await waitFor(async () => {
      const now = await cachedBytes(diskFolder);
      const still = now === bytes;
      bytes = now;
      return still && now > 0;
    }, 15_000, 'the disk cache to settle', 300);
    const runDir = join(home, 'mount', 'run');
    const status = await waitFor(async () => (await liveMountStatuses(runDir)).find((x) => x.pid === m.pid && x.blockGets >= 6 && x.updatedAt > Date.now() - 2000),
      15_000, 'a fresh status file after the read');
    return { bytes, status };
  };

  it('--memCapacity, --diskFolder, --diskQuota: a read fills the disk cache with frames; both tiers report within their limits', async () => {
    const diskFolder = join(dir.path, 'disk-cache');
    const { bytes, status } = await readThroughSmallCaches('big', diskFolder);
    expect(bytes).toBeGreaterThan(4 * MiB); // at least one whole block frame on disk
    expect(status.memCacheBytes).toBeGreaterThan(0);
    expect(status.memCacheBytes).toBeLessThanOrEqual(5 * MiB); // the default (>= 64 MiB) would hold all 24
    expect(status.diskCacheBytes).toBeGreaterThan(4 * MiB);
    expect(status.diskCacheBytes).toBeLessThanOrEqual(10 * MiB);
  });

  // An entry evicted while its read ran used to be put back without its bytes being counted.
  it('--diskQuota: the frames on disk stay within the quota', async () => {
    const diskFolder = join(dir.path, 'disk-cache-2');
    const { bytes, status } = await readThroughSmallCaches('big2', diskFolder);
    expect(status.diskCacheBytes).toBe(bytes);
    expect(bytes).toBeLessThanOrEqual(10 * MiB);
  });

  it('--verbose: a failing operation is logged as a debug record; without it no debug records', async () => {
    await fsp.writeFile(join(plain.mountpoint, 'unreadable'), patternBytes(9, MiB));
    const faults = JSON.stringify({ errorRate: 1, errorKind: 'Unavailable', ops: ['get'], retry: { maxAttempts: 1 }, getDeadlineMs: 2000 });
    const quiet = await mount('quiet', [], { FLEXFS_TEST_FAULTS: faults });
    const verbose = await mount('verbose', ['--verbose'], { FLEXFS_TEST_FAULTS: faults });
    for (const m of [quiet, verbose]) await expectCode(fsp.readFile(join(m.mountpoint, 'unreadable')), 'EIO');
    await new Promise((r) => setTimeout(r, 500));
    expect(records(quiet.output()).filter((r) => r.level < 30)).toEqual([]);
    const debug = records(verbose.output()).filter((r) => r.level === 20);
    expect(debug.some((r) => /read/.test(r.msg))).toBe(true);
  });

  it('--metricsPort that is taken or malformed fails the start, naming the flag; nothing is mounted', async () => {
    const taken = createServer();
    await new Promise<void>((ok) => taken.listen(0, '127.0.0.1', () => ok()));
    const port = (taken.address() as { port: number }).port;
    try {
      // taken: a runtime failure (1); malformed: a usage error (2), refused before anything starts
      for (const [value, why, code] of [[`127.0.0.1:${port}`, /--metricsPort 127\.0\.0\.1:\d+: .*the port is taken/, 1],
        ['nonsense:port', /--metricsPort "nonsense:port": expected \[host:\]port/, 2]] as const) {
        const mp = join(dir.path, `metrics-${value.length}`);
        await fsp.mkdir(mp, { recursive: true });
        const r = await run(process.execPath, [MOUNT_ENTRY, 'start', 'vol', mp, '--local', local, '--foreground', '--metricsPort', value],
          { timeoutMs: 60_000, env: { FLEXFS_HOME: home, NOTIFY_SOCKET: '' } });
        expect(r.code).toBe(code);
        expect(r.stderr).toMatch(why);
        expect(await findFuseMount(mp)).toBeFalsy();
      }
    } finally {
      await new Promise<void>((ok) => taken.close(() => ok()));
    }
  });

  it('SIGINT flushes a file still open for writing and unmounts, like SIGTERM', async () => {
    const m = await mount('sigint', []);
    const data = patternBytes(11, 5 * MiB + 3);
    const src = join(dir.path, 'sigint-src');
    await fsp.writeFile(src, data);
    const holder = spawnScript(join(REPO_ROOT, 'test/mount/hold-open.mjs'), [join(m.mountpoint, 'pending'), src]);
    try {
      await waitFor(() => holder.lines.includes('written'), 30_000, 'the holder to write');
      process.kill(m.pid, 'SIGINT');
      const code = await Promise.race([m.exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
      expect(code).toBe(0);
    } finally {
      holder.kill();
      await holder.exited;
    }
    expect(m.output()).toMatch(/SIGINT: flushing and unmounting/);
    expect(m.output()).not.toMatch(/flush failed/);
    expect(await findFuseMount(m.mountpoint)).toBeUndefined();
    expect(sha256(await fsp.readFile(join(plain.mountpoint, 'pending')))).toBe(sha256(data));
  });

  it('version, --version, and init/deinit creds', async () => {
    const pkg = JSON.parse(await fsp.readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const env = { FLEXFS_HOME: home };
    const v = await run(process.execPath, [MOUNT_ENTRY, 'version'], { env });
    expect(v.code).toBe(0);
    // One line on all four binaries: `<binary> <version> (node <v>)` (src/cli/shared/version.ts).
    expect(v.stdout.trim()).toBe(`mount.flexfs ${pkg.version} (node ${process.version})`);
    expect((await run(process.execPath, [MOUNT_ENTRY, '--version'], { env })).stdout.trim()).toBe(v.stdout.trim());

    const creds = join(home, 'mount', 'creds', 'gone');
    const init = await run(process.execPath, [MOUNT_ENTRY, 'init', 'creds', 'gone', '--metaAddr', 'localhost:1'], { env, input: 'token=t-1\n' });
    expect(init.code, init.stderr).toBe(0);
    await fsp.access(creds, C.R_OK);
    const de = await run(process.execPath, [MOUNT_ENTRY, 'deinit', 'creds', 'gone'], { env });
    expect(de.code, de.stderr).toBe(0);
    expect(de.stdout).toContain(`removed ${creds}`);
    await expectCode(fsp.access(creds), 'ENOENT');
    const other = join(dir.path, 'other.creds');
    await run(process.execPath, [MOUNT_ENTRY, 'init', 'creds', 'x', '--metaAddr', 'h:1', '--credsFile', other], { env, input: 'token=t-2\n' });
    await fsp.access(other);
    expect((await run(process.execPath, [MOUNT_ENTRY, 'deinit', 'creds', 'x', '--credsFile', other], { env })).code).toBe(0);
    await expectCode(fsp.access(other), 'ENOENT');
  });
});
