import type { Command } from 'commander';
import { runGc, type GcSummary } from '../../ops/gc.js';
import { durationFlag, parseDuration } from '../shared/table.js';
import { checked, durationValue, wholeNumberValue } from '../shared/flag-values.js';
import { META_SERVER_DEFAULTS, OPS_DEFAULTS } from '../../config/defaults.js';
import { formatFailure, isFailure, runOnVolumes, type VolumeFailure, type VolumeJobFlags } from './volume-jobs.js';

export interface GcFlags extends VolumeJobFlags {
  dryRun?: boolean; orphanAge: string; retention?: string; orphans: boolean; json?: boolean; concurrency: string;
}

/** What gc prints per volume: its summary, or why it could not finish that volume. */
export type GcResult = GcSummary | VolumeFailure;

/** Exit codes: 0 done, 1 some deletions failed or a volume could not be collected (rerun later), 2 could not run. */
export function registerGcCommands(program: Command): void {
  program.command('gc [volumes...]')
    .description('delete queued superseded/deleted blocks past the volume retention, and unreferenced objects older than --orphanAge (all volumes when none named; a volume that fails is reported and the others go on). Exit 0 done, 1 some deletions failed or a volume failed, 2 could not run')
    .option('--engine <engine>', 'metadata engine: sqlite or a redis URL: redis://host:port[/db], redis+cluster://…, redis+sentinel://host:port[,…]/mastername (passwords: redisPassword, redisSentinelPassword in --credsFile)', META_SERVER_DEFAULTS.engine)
    .option('--dbFolder <dir>', 'folder of the sqlite database (default ~/.flexfs/meta/db)')
    .option('--local <dir>', 'an embedded volume folder (DIR/meta.db + DIR/blocks, as made by mount.flexfs start --local DIR) instead of --engine/--dbFolder')
    .option('--credsFile <path>', 'server creds file with blockUser/blockPass, and redisPassword/redisSentinelPassword for a redis engine (default ~/.flexfs/meta/creds)')
    .option('--storeDeadline <duration>', 'give up on a volume whose bucket does not answer a request within this long, retries included (reported; the others go on)', checked(durationValue), durationFlag(OPS_DEFAULTS.storeDeadlineSeconds))
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .option('--orphanAge <duration>', 'only delete unreferenced objects at least this old (s/m/h/d)', checked(durationValue), durationFlag(OPS_DEFAULTS.orphanAgeSeconds))
    .option('--retention <duration>', 'override the volume retention for queued blocks (s/m/h/d)', checked(durationValue))
    .option('--no-orphans', 'skip the bucket scan for unreferenced objects')
    .option('--concurrency <n>', 'parallel deletes', checked(wholeNumberValue(1)), String(OPS_DEFAULTS.gcConcurrency))
    .option('--json', 'print the summary as JSON')
    .action((volumes: string[], flags: GcFlags) => gcCommand(volumes, flags).then((code) => process.exit(code), fatal));
}

/** The command without process.exit: returns the exit code (tests call this). */
export async function gcCommand(names: string[], flags: GcFlags, out: { write(s: string): unknown } = process.stdout): Promise<number> {
  const orphanAgeSeconds = parseDuration(flags.orphanAge);
  const retentionSeconds = flags.retention !== undefined ? parseDuration(flags.retention) : undefined;
  const concurrency = Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--concurrency "${flags.concurrency}" must be a positive integer`);
  const results: GcResult[] = await runOnVolumes(names, flags, ({ engine, store, volume, onProgress }) => runGc({
    engine, store, volume, dryRun: !!flags.dryRun, orphanAgeSeconds, retentionSeconds, orphans: flags.orphans, concurrency, onProgress,
  }));
  out.write(flags.json ? JSON.stringify(results, null, 2) + '\n' : results.map((r) => isFailure(r) ? formatFailure(r) : formatGcSummary(r)).join(''));
  return results.some((r) => isFailure(r) || r.errors.length > 0) ? 1 : 0;
}

export function formatGcSummary(s: GcSummary): string {
  const verb = s.dryRun ? 'would delete' : 'deleted';
  const lines = [
    `volume ${s.volume}${s.dryRun ? ' (dry run)' : ''}:`,
    `  queued blocks: ${verb} ${s.queuedDeleted}, kept ${s.queuedKept} (inside retention)`,
    `  history records pruned: ${s.historyPruned}`,
    `  bucket: scanned ${s.scanned} objects; orphans: ${verb} ${s.orphansDeleted} (${s.orphanBytes} bytes), kept ${s.orphansYoung} younger than the safety age` +
      (s.foreign ? `; ${s.foreign} non-block keys left alone` : ''),
  ];
  if (s.errors.length) lines.push(`  ${s.errors.length} errors (rerun gc later):`, ...s.errors.slice(0, 10).map((e) => `    ${e}`));
  return lines.join('\n') + '\n';
}

function fatal(e: unknown): never {
  process.stderr.write(`meta.flexfs: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
}
