import { createConnection } from 'node:net';
import { realpath } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { readMounts } from '../../fuse/mountinfo.js';
import type { ControlRequest } from '../../ops/mount-control.js';
import { liveMountStatuses } from '../../ops/status.js';
import type { MountStatus } from '../../ops/mount-telemetry.js';

/**
 * The `flexfs` CLI's side of a mount's control socket (ops/mount-control.ts): which live flexfs
 * mount of this user serves a path, and one request to it.
 */

/** A runtime failure the CLI reports with exit code 1 (nothing mounted there, the mount said no). */
export class ToolError extends Error {}

/** The live flexfs mount `path` lies on (the innermost FUSE mount above it) and its status. */
export async function mountOf(path: string): Promise<MountStatus> {
  const abs = await realpath(resolve(path)).catch((e: NodeJS.ErrnoException) => {
    throw new ToolError(`${path}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
  });
  const fuse = (await readMounts()).filter((m) => m.fstype.startsWith('fuse') && (abs === m.mountpoint || abs.startsWith(m.mountpoint === '/' ? '/' : `${m.mountpoint}/`)));
  const innermost = fuse.sort((a, b) => b.mountpoint.length - a.mountpoint.length)[0];
  if (!innermost) throw new ToolError(`${path}: not on a FUSE mount (flexfs mounts: ${await mountList()})`);
  return statusOfMountpoint(innermost.mountpoint);
}

/** The live flexfs mount at `mountpoint` that reports a control socket. */
export async function statusOfMountpoint(mountpoint: string): Promise<MountStatus> {
  const s = (await liveMountStatuses()).filter((m) => m.mountpoint === mountpoint).sort((a, b) => b.updatedAt - a.updatedAt)[0];
  if (!s) throw new ToolError(`${mountpoint}: no flexfs mount of this user serves it (flexfs mounts: ${await mountList()}); run the tool as the user who mounted it, with the same FLEXFS_HOME`);
  if (!s.controlSocket) throw new ToolError(`${mountpoint}: the mount (pid ${s.pid}) has no control socket: it is older than this tool or could not open one (see its log); remount to use it`);
  return s;
}

async function mountList(): Promise<string> {
  const all = (await liveMountStatuses()).map((m) => m.mountpoint);
  return all.length ? all.join(', ') : 'none';
}

/**
 * Send one request to the mount and return its result; `onProgress` hears the progress lines.
 * The mount's error answer becomes a ToolError.
 */
export function ask<T>(mount: MountStatus, req: ControlRequest, onProgress?: (p: unknown) => void): Promise<T> {
  return new Promise<T>((done, fail) => {
    const sock = createConnection(mount.controlSocket!);
    let answered = false;
    sock.on('error', (e: NodeJS.ErrnoException) => fail(new ToolError(`the mount at ${mount.mountpoint} (pid ${mount.pid}) does not answer on ${mount.controlSocket}: ${e.code ?? e.message}`)));
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    const lines = createInterface({ input: sock });
    lines.on('line', (line) => {
      const m = JSON.parse(line) as { progress?: unknown; ok?: boolean; result?: T; error?: string };
      if (m.progress !== undefined) { onProgress?.(m.progress); return; }
      answered = true;
      if (m.ok) done(m.result as T);
      else fail(new ToolError(`the mount at ${mount.mountpoint}: ${m.error}`));
    });
    lines.on('close', () => { if (!answered) fail(new ToolError(`the mount at ${mount.mountpoint} closed the control connection without an answer`)); });
  });
}
