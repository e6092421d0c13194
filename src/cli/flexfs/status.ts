import type { Command } from 'commander';
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { metaCredsPath } from '../../config/creds.js';
import { findFuseMount } from '../../fuse/mountinfo.js';
import { openExistingEngine, redisSecrets } from '../../ops/engine-access.js';
import { volumeStatusViaAdmin } from '../../ops/remote-status.js';
import { formatMountStatus, formatVolumeStatus, liveMountStatuses, localMountsOf, volumeStatus, type VolumeStatus } from '../../ops/status.js';
import { adminClient, defaultDbFolder } from '../meta/common.js';
import { parseMetaAddr } from '../../meta/client/address.js';
import { checked } from '../shared/flag-values.js';

export interface StatusFlags {
  engine?: string; dbFolder?: string; local?: string; json?: boolean;
  addr?: string; credsFile?: string; ca?: string; insecure?: boolean;
}

export function registerStatus(program: Command): void {
  program.command('status <target>')
    .description('status of a mountpoint (dirty bytes, cache hit rates, from the mount\'s status file) or of a volume: from the metadata engine on this host, from a meta server (--addr), or else from this host\'s mounts of it')
    .option('--engine <engine>', 'metadata engine for a volume: sqlite (default) or a redis URL (redis://…, redis+cluster://…, redis+sentinel://…; passwords from --credsFile)')
    .option('--dbFolder <dir>', 'sqlite database folder (default ~/.flexfs/meta/db)')
    .option('--local <dir>', 'the folder of an embedded (--local) volume')
    .option('--addr <host:port>', 'ask this meta.flexfs (admin API) instead of opening the engine', checked(parseMetaAddr))
    .option('--credsFile <path>', 'server creds file: with --addr its adminToken, with a redis --engine its redisPassword/redisSentinelPassword (default ~/.flexfs/meta/creds)')
    .option('--ca <pem-file>', 'with --addr: pin this server certificate (default: this host\'s ~/.flexfs/meta/tls/cert.pem)')
    .option('--insecure', 'with --addr: do not verify the server certificate')
    .option('--json', 'machine-readable output')
    .action((target: string, flags: StatusFlags) => statusCommand(target, flags).then((code) => process.exit(code), (e: unknown) => {
      process.stderr.write(`flexfs: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(2);
    }));
}

const exists = (p: string) => access(p).then(() => true, () => false);

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
  const s = await volumeStatusFor(target, flags);
  out.write(flags.json ? JSON.stringify(s, null, 2) + '\n' : formatVolumeStatus(s));
  return 0;
}

/**
 * A volume's status from the best source this host has: the meta server when --addr is given;
 * the engine when one is named (--engine/--dbFolder/--local) or the default sqlite database
 * exists; else the status files of this host's mounts of it (a client host). Nothing: an error
 * saying which of these to use.
 */
async function volumeStatusFor(volume: string, flags: StatusFlags): Promise<VolumeStatus> {
  if (flags.addr) {
    const admin = await adminClient({ addr: flags.addr, credsFile: flags.credsFile, ca: flags.ca, insecure: flags.insecure });
    return volumeStatusViaAdmin(admin, volume);
  }
  const engineKind = flags.local ? 'sqlite' : flags.engine ?? 'sqlite';
  const dbFolder = flags.local ?? flags.dbFolder ?? defaultDbFolder();
  const named = flags.local !== undefined || flags.dbFolder !== undefined || flags.engine !== undefined;
  if (!named && !(await exists(join(dbFolder, 'meta.db')))) {
    const localMounts = await localMountsOf(volume);
    if (localMounts.length > 0) return { source: 'local mounts', name: volume, localMounts };
    throw new Error(`volume "${volume}": no metadata database on this host (${join(dbFolder, 'meta.db')}) and no mount of it here. ` +
      'On a client host use `flexfs status <mountpoint>` or ask the meta server: --addr host:port (admin token from ' +
      `--credsFile, default ${metaCredsPath()}); on the metadata host name the engine (--dbFolder DIR, --engine redis://…, --local DIR)`);
  }
  const engine = await openExistingEngine({ engine: engineKind, dbFolder, ...await redisSecrets(engineKind, flags.credsFile ?? metaCredsPath()) });
  try {
    return await volumeStatus(engine, volume);
  } finally {
    await engine.close();
  }
}
