import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { findFuseMount, readMounts } from '../../src/fuse/mountinfo.js';
import { REPO_ROOT } from './build.js';
import { waitFor } from './ports.js';

export { ensureBuilt, REPO_ROOT } from './build.js';

/**
 * Real FUSE mounts for tests: the mount is served by a CHILD process (never by the test process,
 * which drives it: a process touching its own mount deadlocks). Children run the compiled code
 * under dist/ (ensureBuilt, from ./build.ts, compiles when sources are newer).
 */

export interface StartedMount {
  mountpoint: string;
  pid: number;
  /** SIGTERM and wait; then `fusermount -u -z`; then SIGKILL. Never throws, never hangs. */
  stop(): Promise<void>;
  /** stdout+stderr of the child so far (for assertions and failure messages). */
  output(): string;
  readonly exited: Promise<number | null>;
}

export interface StartMountOptions {
  /** argv after `node`, e.g. ['dist/bench/nullfs-main.js', mountpoint]; relative to REPO_ROOT. */
  args: string[];
  mountpoint: string;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the mount to appear in /proc/self/mountinfo (default 30 s). */
  timeoutMs?: number;
}

function execFileOk(cmd: string, args: string[], timeoutMs = 10_000): Promise<boolean> {
  return new Promise((ok) => execFile(cmd, args, { timeout: timeoutMs }, (err) => ok(!err)));
}

/** Lazily unmount FUSE mounts under the temp folder whose daemon is gone (ENOTCONN). */
export async function cleanStaleMounts(): Promise<void> {
  const base = tmpdir();
  for (const m of await readMounts()) {
    if (!m.fstype.startsWith('fuse') || !m.mountpoint.startsWith(base + '/')) continue;
    const dead = await Promise.race([
      stat(m.mountpoint).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ENOTCONN'),
      new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
    ]);
    if (dead) await execFileOk('fusermount', ['-u', '-z', m.mountpoint]);
  }
}

export async function startMount(opts: StartMountOptions): Promise<StartedMount> {
  const mountpoint = resolve(opts.mountpoint);
  await cleanStaleMounts();
  if (await findFuseMount(mountpoint)) await execFileOk('fusermount', ['-u', '-z', mountpoint]);
  await mkdir(mountpoint, { recursive: true });

  let out = '';
  const child: ChildProcess = spawn(process.execPath, opts.args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((r) => child.on('exit', (code, sig) => {
    exitCode = code ?? (sig ? -1 : null);
    r(exitCode);
  }));
  const pid = child.pid!;

  const stop = async (): Promise<void> => {
    const gone = (ms: number) => Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
    if (exitCode === undefined) child.kill('SIGTERM');
    if (!(await gone(15_000))) {
      await execFileOk('fusermount', ['-u', '-z', mountpoint]);
      if (!(await gone(3_000))) {
        child.kill('SIGKILL');
        await gone(5_000);
      }
    }
    if (await findFuseMount(mountpoint)) await execFileOk('fusermount', ['-u', '-z', mountpoint]);
  };

  try {
    await waitFor(async () => {
      if (exitCode !== undefined) throw new Error(`mount process exited (${exitCode}) before the mount was live:\n${out}`);
      return findFuseMount(mountpoint);
    }, opts.timeoutMs ?? 30_000, `FUSE mount at ${mountpoint}`, 50);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n--- mount output ---\n${out}`);
  }
  return { mountpoint, pid, stop, output: () => out, exited };
}
