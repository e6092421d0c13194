import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chown, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { findFuseMount } from '../../src/fuse/mountinfo.js';
import { REPO_ROOT } from '../harness/mount.js';
import { waitFor } from '../harness/ports.js';
import { buildMountClient, NOBODY, run, runAs, setprivArgs, workDir } from './helpers.js';

/**
 * `mount.flexfs start --local` as an unprivileged user (nobody), mounting through the setuid
 * fusermount3: a folder, FLEXFS_HOME and a mountpoint the user owns; write and read as that user,
 * unmount with `fusermount3 -u`. fusermount3 opens /dev/fuse with the caller's own rights, so
 * this needs /dev/fuse readable and writable for the user (0666, Debian's default). Where it is
 * not (0600 root on the machine this was written on), the mount must fail with a message that
 * says so, and the mount test is skipped.
 */
describe('non-root mount through fusermount3 (mount.flexfs start --local as nobody)', async () => {
  const devFuseOpen = (await runAs(NOBODY, 'sh', ['-c', 'test -r /dev/fuse && test -w /dev/fuse'])).code === 0;
  let dir: { path: string; cleanup: () => Promise<void> };
  let mp: string;
  let local: string;
  let home: string;

  beforeAll(async () => {
    await buildMountClient();
    dir = await workDir('flexfs-mnr-');
    [mp, local, home] = ['mnt', 'local', 'home'].map((n) => join(dir.path, n));
    for (const d of [mp, local, home]) {
      await mkdir(d);
      await chown(d, NOBODY.uid, NOBODY.gid);
    }
  });
  afterAll(async () => {
    if (mp && (await findFuseMount(mp))) await runAs(NOBODY, 'fusermount3', ['-u', '-z', mp]);
    await dir?.cleanup();
  });

  /** `bin/mount.flexfs start vol MP --local DIR --foreground` under setpriv as nobody. */
  function start() {
    const child = spawn('setpriv', [...setprivArgs(NOBODY), join(REPO_ROOT, 'bin', 'mount.flexfs'), 'start', 'vol', mp, '--local', local, '--foreground'],
      { cwd: dir.path, env: { ...process.env, FLEXFS_HOME: home, NOTIFY_SOCKET: '', FLEXFS_TEST_FAULTS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    return { child, exited, output: () => out };
  }

  it.skipIf(devFuseOpen)('without access to /dev/fuse the mount fails and says why', async () => {
    const m = start();
    expect(await m.exited).not.toBe(0);
    expect(m.output()).toMatch(/\/dev\/fuse is not readable and writable for this user .*fusermount3 opens it with the caller's rights/);
    expect(await findFuseMount(mp)).toBeFalsy();
  });

  it.skipIf(!devFuseOpen)('mounts as nobody, serves that user, and fusermount3 -u unmounts it', async () => {
    const m = start();
    try {
      await waitFor(async () => {
        if (m.child.exitCode !== null) throw new Error(`mount.flexfs exited (${m.child.exitCode}):\n${m.output()}`);
        return findFuseMount(mp);
      }, 60_000, `the mount at ${mp}`, 100);
      const entry = await findFuseMount(mp);
      expect(entry).toMatchObject({ fstype: 'fuse.flexfs', source: 'vol' });
      const w = await runAs(NOBODY, 'sh', ['-c', `echo 'written by nobody' > '${mp}/f' && cat '${mp}/f' && stat -c '%u:%g' '${mp}/f'`]);
      expect(w.stdout.split('\n').slice(0, 2)).toEqual(['written by nobody', `${NOBODY.uid}:${NOBODY.gid}`]);
      // root is not let in: no allow_other for a non-root mount
      expect((await run('cat', [`${mp}/f`])).code).not.toBe(0);
      expect((await runAs(NOBODY, 'fusermount3', ['-u', mp])).code).toBe(0);
      await waitFor(async () => !(await findFuseMount(mp)), 10_000, 'the mount to go', 100);
      expect(await m.exited).toBe(0);
    } finally {
      if (m.child.exitCode === null) m.child.kill('SIGTERM');
    }
  });

  // The same walk on any machine: a private mount namespace (unshare -m) where a 0666 node of the
  // FUSE device (10:229) is bound over /dev/fuse, so the host's /dev/fuse stays as it is. The
  // mount lives in that namespace only, so the whole walk runs there (a shell script).
  it('in a private mount namespace with a 0666 /dev/fuse: mounts as nobody, serves that user, fusermount3 -u unmounts', async () => {
    const dev = join(dir.path, 'fuse-dev');
    const mnt = join(dir.path, 'mnt-ns');
    await mkdir(mnt);
    await chown(mnt, NOBODY.uid, NOBODY.gid);
    const asNobody = `setpriv ${setprivArgs(NOBODY).join(' ')}`;
    const script = [
      'set -e',
      `mknod '${dev}' c 10 229 && chmod 666 '${dev}' && mount --bind '${dev}' /dev/fuse`,
      `FLEXFS_HOME='${home}' NOTIFY_SOCKET= ${asNobody} '${join(REPO_ROOT, 'bin', 'mount.flexfs')}' start vol '${mnt}' --local '${local}' --foreground > '${dir.path}/ns.log' 2>&1 &`,
      'pid=$!',
      `for i in $(seq 1 300); do grep -q ' ${mnt} ' /proc/self/mountinfo && break; kill -0 $pid 2>/dev/null || { cat '${dir.path}/ns.log'; exit 3; }; sleep 0.1; done`,
      `grep ' ${mnt} ' /proc/self/mountinfo | sed 's/.* - //'`,
      `${asNobody} sh -c "echo 'written by nobody' > '${mnt}/f' && cat '${mnt}/f' && stat -c '%u:%g' '${mnt}/f'"`,
      `${asNobody} fusermount3 -u '${mnt}'`,
      'wait $pid; echo "exit $?"',
      `grep -c ' ${mnt} ' /proc/self/mountinfo || true`,
    ].join('\n');
    const r = await run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { timeoutMs: 90_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^fuse\.flexfs vol rw,.*user_id=65534,group_id=65534/);
    expect(lines.slice(1)).toEqual(['written by nobody', `${NOBODY.uid}:${NOBODY.gid}`, 'exit 0', '0']);
  });
});
