import type { Command } from 'commander';
import { metaCredsPath } from '../../config/creds.js';
import { openExistingEngine, selectVolumes } from '../../ops/engine-access.js';
import { runFsck, type FsckReport } from '../../ops/fsck.js';
import { progressBar } from '../../ops/progress.js';
import { openVolumeStore } from '../../ops/volume-store.js';
import { durationFlag, parseDuration } from '../shared/table.js';
import { checked, durationValue } from '../shared/flag-values.js';
import { META_SERVER_DEFAULTS, OPS_DEFAULTS } from '../../config/defaults.js';
import { defaultDbFolder } from './common.js';

export interface FsckFlags { engine: string; dbFolder?: string; credsFile?: string; orphanAge: string; json?: boolean }

/** Exit codes: 0 consistent (orphans are gc's job, reported only), 1 damage found, 2 could not run. */
export function registerFsckCommands(program: Command): void {
  program.command('fsck [volumes...]')
    .description('check volumes (all when none named): blocks referenced but missing from the bucket, orphan objects, namespace consistency. Exit 0 consistent, 1 damage found, 2 could not run')
    .option('--engine <engine>', 'metadata engine: sqlite or redis://host:port[/db]', META_SERVER_DEFAULTS.engine)
    .option('--dbFolder <dir>', 'folder of the sqlite database (default ~/.flexfs/meta/db)')
    .option('--credsFile <path>', 'server creds file with blockUser/blockPass (default ~/.flexfs/meta/creds)')
    .option('--orphanAge <duration>', 'orphans at least this old count as collectable by gc', checked(durationValue), durationFlag(OPS_DEFAULTS.orphanAgeSeconds))
    .option('--json', 'print the reports as JSON')
    .action((volumes: string[], flags: FsckFlags) => fsckCommand(volumes, flags).then((code) => process.exit(code), fatal));
}

/** The command without process.exit: returns the exit code (tests call this). */
export async function fsckCommand(names: string[], flags: FsckFlags, out: { write(s: string): unknown } = process.stdout): Promise<number> {
  const orphanAgeSeconds = parseDuration(flags.orphanAge);
  const engine = await openExistingEngine({ engine: flags.engine, dbFolder: flags.dbFolder ?? defaultDbFolder() });
  const reports: FsckReport[] = [];
  try {
    for (const volume of await selectVolumes(engine, names)) {
      const store = await openVolumeStore(volume, flags.credsFile ?? metaCredsPath());
      const bar = progressBar();
      try {
        reports.push(await runFsck({ engine, store, volume, orphanAgeSeconds, onProgress: bar.update }));
      } finally {
        bar.done();
        await store.close();
      }
    }
  } finally {
    await engine.close();
  }
  out.write(flags.json ? JSON.stringify(reports, null, 2) + '\n' : reports.map(formatFsckReport).join(''));
  return reports.every((r) => r.ok) ? 0 : 1;
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
