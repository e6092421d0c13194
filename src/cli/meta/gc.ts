import type { Command } from 'commander';
import { metaCredsPath } from '../../config/creds.js';
import { openExistingEngine, selectVolumes } from '../../ops/engine-access.js';
import { runGc, type GcSummary } from '../../ops/gc.js';
import { progressBar } from '../../ops/progress.js';
import { openVolumeStore } from '../../ops/volume-store.js';
import { durationFlag, parseDuration } from '../shared/table.js';
import { checked, durationValue, wholeNumberValue } from '../shared/flag-values.js';
import { META_SERVER_DEFAULTS, OPS_DEFAULTS } from '../../config/defaults.js';
import { defaultDbFolder } from './common.js';

export interface GcFlags {
  engine: string; dbFolder?: string; credsFile?: string; dryRun?: boolean; orphanAge: string;
  retention?: string; orphans: boolean; json?: boolean; concurrency: string;
}

/** Exit codes: 0 done, 1 some deletions failed (rerun later), 2 could not run. */
export function registerGcCommands(program: Command): void {
  program.command('gc [volumes...]')
    .description('delete queued superseded/deleted blocks past the volume retention, and unreferenced objects older than --orphanAge (all volumes when none named). Exit 0 done, 1 some deletions failed, 2 could not run')
    .option('--engine <engine>', 'metadata engine: sqlite or redis://host:port[/db]', META_SERVER_DEFAULTS.engine)
    .option('--dbFolder <dir>', 'folder of the sqlite database (default ~/.flexfs/meta/db)')
    .option('--credsFile <path>', 'server creds file with blockUser/blockPass (default ~/.flexfs/meta/creds)')
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
  const engine = await openExistingEngine({ engine: flags.engine, dbFolder: flags.dbFolder ?? defaultDbFolder() });
  const summaries: GcSummary[] = [];
  try {
    for (const volume of await selectVolumes(engine, names)) {
      const store = await openVolumeStore(volume, flags.credsFile ?? metaCredsPath());
      const bar = progressBar();
      try {
        summaries.push(await runGc({
          engine, store, volume, dryRun: !!flags.dryRun, orphanAgeSeconds, retentionSeconds,
          orphans: flags.orphans, concurrency, onProgress: bar.update,
        }));
      } finally {
        bar.done();
        await store.close();
      }
    }
  } finally {
    await engine.close();
  }
  out.write(flags.json ? JSON.stringify(summaries, null, 2) + '\n' : summaries.map(formatGcSummary).join(''));
  return summaries.some((s) => s.errors.length > 0) ? 1 : 0;
}

export function formatGcSummary(s: GcSummary): string {
  const verb = s.dryRun ? 'would delete' : 'deleted';
  const lines = [
    `volume ${s.volume}${s.dryRun ? ' (dry run)' : ''}:`,
    `  queued blocks: ${verb} ${s.queuedDeleted}, kept ${s.queuedKept} (inside retention)`,
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
