import { execFile } from 'node:child_process';
import { findFuseMount } from '../../fuse/mountinfo.js';

/** How long a probe of a mountpoint may take before its mount counts as alive but busy. */
const PROBE_MS = 3000;

/**
 * Is the FUSE mount at `mountpoint` one whose daemon is gone (the kernel answers ENOTCONN)? The
 * probe runs `stat` in a child process with a timeout, so a live but hung mount cannot block this
 * process; it then counts as alive (a second mount on it is refused).
 */
function isDead(mountpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('stat', ['--', mountpoint], { timeout: PROBE_MS, env: { ...process.env, LC_ALL: 'C' } }, (err, _out, stderr) => {
      resolve(!!err && /Transport endpoint is not connected/.test(String(stderr)));
    });
  });
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, _o, stderr) => (err ? reject(new Error(String(stderr).trim() || err.message)) : resolve()));
  });
}

/**
 * A flexfs mount left at `mountpoint` by a daemon that died (kill -9, a crash) answers ENOTCONN
 * to everything, so systemd's Restart= or the mount@ unit could never mount there again. Detach
 * it (lazily, as umount -l) so the start can go on; returns whether one was cleaned. A live mount,
 * or another filesystem's, is left alone.
 */
export async function cleanDeadMount(mountpoint: string): Promise<boolean> {
  const m = await findFuseMount(mountpoint);
  if (!m || m.fstype !== 'fuse.flexfs' || !(await isDead(mountpoint))) return false;
  if (process.getuid?.() === 0) await run('umount', ['-l', mountpoint]);
  else await run('fusermount3', ['-u', '-z', mountpoint]);
  return !(await findFuseMount(mountpoint));
}
