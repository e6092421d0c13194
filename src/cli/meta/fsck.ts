import type { Command } from 'commander';
import { runFsck, type FsckReport } from '../../ops/fsck.js';
import { durationFlag, parseDuration } from '../shared/table.js';
import { checked, durationValue } from '../shared/flag-values.js';
import { META_SERVER_DEFAULTS, OPS_DEFAULTS } from '../../config/defaults.js';
import { formatFailure, isFailure, runOnVolumes, type VolumeFailure, type VolumeJobFlags } from './volume-jobs.js';

export interface FsckFlags extends VolumeJobFlags { orphanAge: string; json?: boolean }

/** What fsck prints per volume: its report, or why it could not check that volume (`ok: false`). */
export type FsckResult = FsckReport | (VolumeFailure & { ok: false });

/** Exit codes: 0 consistent (orphans are gc's job, reported only), 1 damage found or a volume could not be checked, 2 could not run. */
export function registerFsckCommands(program: Command): void {
  program.command('fsck [volumes...]')
    .description('check volumes (all when none named; a volume that cannot be checked is reported and the others go on): blocks referenced but missing from the bucket, orphan objects, namespace consistency. Exit 0 consistent, 1 damage found or a volume could not be checked, 2 could not run')
    .option('--engine <engine>', 'metadata engine: sqlite or a redis URL: redis://host:port[/db], redis+cluster://…, redis+sentinel://host:port[,…]/mastername (passwords: redisPassword, redisSentinelPassword in --credsFile)', META_SERVER_DEFAULTS.engine)
    .option('--dbFolder <dir>', 'folder of the sqlite database (default ~/.flexfs/meta/db)')
    .option('--local <dir>', 'an embedded volume folder (DIR/meta.db + DIR/blocks, as made by mount.flexfs start --local DIR) instead of --engine/--dbFolder')
    .option('--credsFile <path>', 'server creds file with blockUser/blockPass, and redisPassword/redisSentinelPassword for a redis engine (default ~/.flexfs/meta/creds)')
    .option('--storeDeadline <duration>', 'give up on a volume whose bucket does not answer a request within this long, retries included (reported; the others go on)', checked(durationValue), durationFlag(OPS_DEFAULTS.storeDeadlineSeconds))
    .option('--orphanAge <duration>', 'orphans at least this old count as collectable by gc', checked(durationValue), durationFlag(OPS_DEFAULTS.orphanAgeSeconds))
    .option('--json', 'print the reports as JSON')
    .action((volumes: string[], flags: FsckFlags) => fsckCommand(volumes, flags).then((code) => process.exit(code), fatal));
}

/** The command without process.exit: returns the exit code (tests call this). */
export async function fsckCommand(names: string[], flags: FsckFlags, out: { write(s: string): unknown } = process.stdout): Promise<number> {
  const orphanAgeSeconds = parseDuration(flags.orphanAge);
  const results: FsckResult[] = (await runOnVolumes(names, flags, ({ engine, store, volume, onProgress }) =>
    runFsck({ engine, store, volume, orphanAgeSeconds, onProgress })))
    .map((r) => isFailure(r) ? { ...r, ok: false as const } : r);
  out.write(flags.json ? JSON.stringify(results, null, 2) + '\n' : results.map((r) => isFailure(r) ? formatFailure(r) : formatFsckReport(r)).join(''));
  return results.every((r) => r.ok) ? 0 : 1;
}

export function formatFsckReport(r: FsckReport): string {
  const lines = [`volume ${r.volume}: ${r.ok ? 'OK' : 'DAMAGED'}`,
    `  ${r.objects} block objects, ${r.referenced} referenced slots, ${r.queued} queued for gc (${r.queuedDue} past retention)`];
  if (r.missingCount) {
    lines.push(`  MISSING: ${r.missingCount} referenced blocks are not in the bucket (reads of them fail with EIO):`);
    for (const m of r.missing.slice(0, 20)) lines.push(`    inode ${m.ino} slot ${m.index} block ${m.blockId} (${m.key})`);
  }
  if (r.namespace.length) {
    lines.push(`  NAMESPACE: ${r.namespace.length} problems:`, ...r.namespace.slice(0, 20).map((p) => `    ${p}`));
  }
  if (r.orphanCount) lines.push(`  orphans: ${r.orphanCount} unreferenced objects (${r.orphanBytes} bytes), ${r.collectable} old enough for gc`);
  if (r.foreign.length) lines.push(`  ${r.foreign.length} non-block keys under the volume prefix (left alone)`);
  return lines.join('\n') + '\n';
}

function fatal(e: unknown): never {
  process.stderr.write(`meta.flexfs: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
}
