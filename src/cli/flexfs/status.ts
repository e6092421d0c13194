import type { Command } from 'commander';
import { resolve } from 'node:path';
import { findFuseMount } from '../../fuse/mountinfo.js';
import { openExistingEngine } from '../../ops/engine-access.js';
import { formatMountStatus, formatVolumeStatus, liveMountStatuses, volumeStatus } from '../../ops/status.js';
import { defaultDbFolder } from '../meta/common.js';

interface StatusFlags { engine: string; dbFolder?: string; local?: string; json?: boolean }

export function registerStatus(program: Command): void {
  program.command('status <target>')
    .description('status of a mountpoint (dirty bytes, cache hit rates, from the mount\'s status file) or of a volume (usage, sessions, gc queue, local mounts; reads the metadata engine directly)')
    .option('--engine <engine>', 'metadata engine for a volume: sqlite or redis://…', 'sqlite')
    .option('--dbFolder <dir>', 'sqlite database folder (default ~/.flexfs/meta/db)')
    .option('--local <dir>', 'the folder of an embedded (--local) volume')
    .option('--json', 'machine-readable output')
    .action((target: string, flags: StatusFlags) => statusCommand(target, flags).then((code) => process.exit(code), (e: unknown) => {
      process.stderr.write(`flexfs: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(2);
    }));
}

/** 0 shown, 1 a mountpoint with no live flexfs mount; errors (2) propagate. */
export async function statusCommand(target: string, flags: StatusFlags, out: { write(s: string): unknown } = process.stdout): Promise<number> {
  // A mountpoint? Decided from /proc/self/mountinfo, never by touching the path (a hung mount).
  const path = resolve(target);
  const mounted = await findFuseMount(path);
  if (mounted || target.includes('/') || target === '.' || target === '..') {
    const s = (await liveMountStatuses()).filter((m) => m.mountpoint === path).sort((a, b) => b.updatedAt - a.updatedAt)[0];
    if (!s) {
      out.write(flags.json ? 'null\n' : `${path}: ${mounted ? 'a FUSE mount, but no flexfs mount of this user reports on it' : 'not mounted'}\n`);
      return 1;
    }
    out.write(flags.json ? JSON.stringify(s, null, 2) + '\n' : formatMountStatus(s));
    return 0;
  }
  const engine = await openExistingEngine({ engine: flags.local ? 'sqlite' : flags.engine, dbFolder: flags.local ?? flags.dbFolder ?? defaultDbFolder() });
  try {
    const s = await volumeStatus(engine, target);
    out.write(flags.json ? JSON.stringify(s, null, 2) + '\n' : formatVolumeStatus(s));
    return 0;
  } finally {
    await engine.close();
  }
}
