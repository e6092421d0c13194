import type { Command } from 'commander';
import { access, mkdir } from 'node:fs/promises';
import { metaCredsPath } from '../../config/creds.js';
import { META_SERVER_DEFAULTS } from '../../config/defaults.js';
import type { MetaEngine } from '../../meta/engine.js';
import { openEngine, urlHasPassword } from '../../meta/engines/index.js';
import { isRedisEngineUrl } from '../../meta/engines/redis-url.js';
import { dumpVolume } from '../../ops/dump.js';
import { readDump, rateProgress, writeDump } from '../../ops/dump-stream.js';
import { openExistingEngine, redisSecrets } from '../../ops/engine-access.js';
import { loadVolume } from '../../ops/load.js';
import { defaultDbFolder } from './common.js';

/**
 * `meta.flexfs dump <volume> [file]` and `meta.flexfs load [file]`: a volume's metadata to a
 * streamed NDJSON dump and back, into the same or the other engine (docs/OPERATIONS.md, "Dump and
 * load"). Exit codes: 0 done, 1 failed (nothing half-loaded is kept), 2 usage error.
 */

interface EngineFlags { engine: string; dbFolder?: string; credsFile?: string }
interface DumpFlags extends EngineFlags { gzip?: boolean; progress?: boolean }
interface LoadFlags extends EngineFlags { name?: string; progress?: boolean }

class UsageError extends Error {}

function addEngineOptions(cmd: Command): Command {
  return cmd
    .option('--engine <engine>', 'metadata engine: sqlite, redis://host:port[/db], redis+cluster://… or redis+sentinel://host:port[,…]/mastername (passwords: redisPassword, redisSentinelPassword in the creds file)', META_SERVER_DEFAULTS.engine)
    .option('--dbFolder <dir>', 'folder of the sqlite database (default ~/.flexfs/meta/db)')
    .option('--credsFile <path>', 'creds file with redisPassword, when the redis server needs one (default ~/.flexfs/meta/creds)')
    .option('--progress', 'print records done and their rate on stderr even when it is not a terminal');
}

export function registerDumpCommands(program: Command): void {
  addEngineOptions(program.command('dump <volume> [file]')
    .description('write a volume\'s metadata as a streamed JSON dump (NDJSON) to file (0600) or "-"/nothing for stdout; loadable into either engine. Exit 0 done, 1 failed, 2 usage error')
    .option('--gzip', 'compress (also when file ends in .gz)'))
    .action((volume: string, file: string | undefined, flags: DumpFlags) => run(() => dumpCommand(volume, file ?? '-', flags)));

  addEngineOptions(program.command('load [file]')
    .description('load a dump (file, or "-"/nothing for stdin; gzip is detected) into a NEW volume of the engine, keeping its id. Exit 0 done, 1 failed (the half-loaded volume is removed), 2 usage error')
    .option('--name <name>', 'name of the new volume (default: the dumped name)'))
    .action((file: string | undefined, flags: LoadFlags) => run(() => loadCommand(file ?? '-', flags)));
}

export async function dumpCommand(volume: string, file: string, flags: DumpFlags): Promise<void> {
  checkEngineFlag(flags.engine);
  const gzip = !!flags.gzip || file.endsWith('.gz');
  const engine = await openEngineFor(flags, false);
  const bar = rateProgress('dumped', !!flags.progress);
  try {
    const n = await writeDump(dumpVolume(engine, volume), { path: file, gzip }, bar.update);
    bar.done();
    process.stderr.write(`dumped volume ${volume}: ${n} records${file === '-' ? '' : ` to ${file}`}\n`);
  } finally {
    await engine.close();
  }
}

export async function loadCommand(file: string, flags: LoadFlags): Promise<void> {
  checkEngineFlag(flags.engine);
  if (file !== '-' && !(await access(file).then(() => true, () => false))) throw new Error(`no dump file ${file}`);
  const engine = await openEngineFor(flags, true);
  const bar = rateProgress('loaded', !!flags.progress);
  try {
    const s = await loadVolume(engine, readDump(file), { name: flags.name, onProgress: bar.update });
    bar.done();
    process.stdout.write(`loaded volume ${s.volume.name} (id ${s.volume.id}): ${s.counts.inodes} inodes, ${s.counts.entries} entries, ${s.counts.gc} queued blocks, ${s.counts.quotas ?? 0} quotas\n`);
  } finally {
    await engine.close();
  }
}

function checkEngineFlag(engine: string): void {
  if (urlHasPassword(engine)) throw new UsageError('--engine: the redis URL carries a password, which every user of this host can read in the process list; put it in the creds file as redisPassword');
  if (engine !== 'sqlite' && !isRedisEngineUrl(engine)) throw new UsageError(`--engine ${engine}: expected sqlite or a redis:// URL`);
}

/** dump reads an existing engine; load may start a new sqlite database (like `start`). */
async function openEngineFor(flags: EngineFlags, create: boolean): Promise<MetaEngine> {
  const dbFolder = flags.dbFolder ?? defaultDbFolder();
  const credsFile = flags.credsFile ?? metaCredsPath();
  if (flags.engine === 'sqlite' && create) {
    await mkdir(dbFolder, { recursive: true, mode: 0o700 });
    return openEngine({ engine: 'sqlite', dbFolder });
  }
  return openExistingEngine({ engine: flags.engine, dbFolder, ...await redisSecrets(flags.engine, credsFile) });
}

function run(fn: () => Promise<void>): void {
  fn().then(() => process.exit(0), (e: unknown) => {
    process.stderr.write(`meta.flexfs: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}
