import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { findFuseMount } from '../src/fuse/mountinfo.js';
import { waitFor } from '../test/harness/ports.js';

/**
 * A FUSE daemon serving one mount, started in the foreground as a child of the bench (never the
 * bench process itself: a process touching its own mount deadlocks). Works for any command
 * (node entries, s3fs -f, rclone mount). Secrets go in `env` or files, never in `args`.
 */
export interface MountDaemon {
  mountpoint: string;
  pid: number;
  /** SIGTERM and wait; then `fusermount -u -z`; then SIGKILL. Never throws, never hangs. */
  stop(): Promise<void>;
  output(): string;
  exited: Promise<number | null>;
}

function execOk(cmd: string, args: string[], timeoutMs = 10_000): Promise<boolean> {
  return new Promise((ok) => execFile(cmd, args, { timeout: timeoutMs }, (err) => ok(!err)));
}

export async function startDaemon(opts: {
  cmd: string; args: string[]; mountpoint: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number;
}): Promise<MountDaemon> {
  const { mountpoint } = opts;
  if (await findFuseMount(mountpoint)) await execOk('fusermount', ['-u', '-z', mountpoint]);
  await mkdir(mountpoint, { recursive: true });
  let out = '';
  const child: ChildProcess = spawn(opts.cmd, opts.args, {
    cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (d: Buffer) => { out = (out + d.toString()).slice(-20_000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let code: number | null | undefined;
  const exited = new Promise<number | null>((r) => child.on('exit', (c, sig) => { code = c ?? (sig ? -1 : null); r(code); }));
  child.on('error', (e) => { out += `\nspawn failed: ${e.message}`; });
  const gone = (ms: number) => Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

  const stop = async (): Promise<void> => {
    if (code === undefined) child.kill('SIGTERM');
    // A flexfs mount flushes everything before it exits: give it time.
    if (!(await gone(120_000))) {
      await execOk('fusermount', ['-u', '-z', mountpoint]);
      if (!(await gone(5_000))) { child.kill('SIGKILL'); await gone(5_000); }
    }
    if (await findFuseMount(mountpoint)) await execOk('fusermount', ['-u', '-z', mountpoint]);
  };
  try {
    await waitFor(async () => {
      if (code !== undefined) throw new Error(`${opts.cmd} exited (${code}) before the mount was live`);
      return findFuseMount(mountpoint);
    }, opts.timeoutMs ?? 60_000, `FUSE mount at ${mountpoint}`, 50);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n--- output ---\n${out}`);
  }
  return { mountpoint, pid: child.pid!, stop, output: () => out, exited };
}

/** Peak resident set size (VmHWM) of a live process, in bytes; undefined when it is gone. */
export async function peakRss(pid: number): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /^VmHWM:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Drop the kernel's page, dentry and inode caches (root only); false when not allowed. */
export async function dropCaches(): Promise<boolean> {
  return execOk('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches']);
}
