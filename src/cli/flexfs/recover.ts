import type { Command } from 'commander';
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { mountCredsPath, readCreds, type Creds } from '../../config/creds.js';
import { VFS_DEFAULTS } from '../../config/defaults.js';
import { openBlockStore, openMetaSource, type MetaSourceConfig, type MountLog } from '../../mount/index.js';
import { applyRecovery, RecoveryFolder, recoveryFolderFor, recoverCommand } from '../../recovery/index.js';
import { remoteSource } from '../mount/start.js';
import { parseStoreDeadline } from '../mount/flags.js';
import { durationFlag } from '../shared/table.js';

export interface RecoverFlags {
  volume?: string; local?: string; credsFile?: string; diskFolder?: string; storeDeadline?: string;
}

/** Bad input: exit 2. */
class UsageError extends Error {}

export function registerRecover(program: Command): void {
  program.command('recover [folder]')
    .description('upload and commit what an unmount saved to a recovery folder (the next mount of the volume does the same); default folder: the one mount.flexfs uses for --volume')
    .option('--volume <name>', 'the volume (default: the one the records name)')
    .option('--local <dir>', 'the folder of an embedded (--local) volume')
    .option('--credsFile <path>', 'mount credentials file (default ~/.flexfs/mount/creds/<volume>)')
    .option('--diskFolder <dir>', 'the mount\'s --diskFolder: its recovery folder is DIR/recovery/<volume>')
    .option('--storeDeadline <duration>', 'how long one block upload may retry, e.g. 90s, 5m', durationFlag(VFS_DEFAULTS.putDeadlineMs / 1000))
    .action((folder: string | undefined, flags: RecoverFlags) => recoverCommandLine(folder, flags).then((code) => process.exit(code), (e: unknown) => {
      process.stderr.write(`flexfs recover: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(e instanceof UsageError ? 2 : 1);
    }));
}

const cliLog: MountLog = {
  info: (msg) => { process.stdout.write(`${msg}\n`); },
  warn: (msg) => { process.stderr.write(`warning: ${msg}\n`); },
  error: (msg) => { process.stderr.write(`error: ${msg}\n`); },
};

/** 0: everything applied or skipped by the rules; 1: something was kept (superseded, damaged, refused). */
export async function recoverCommandLine(folderArg: string | undefined, flags: RecoverFlags): Promise<number> {
  if (!folderArg && !flags.volume) throw new UsageError('name the recovery folder or the volume (--volume V): flexfs recover [--volume V] [FOLDER]');
  let putDeadlineMs: number = VFS_DEFAULTS.putDeadlineMs;
  try {
    if (flags.storeDeadline !== undefined) putDeadlineMs = parseStoreDeadline(flags.storeDeadline);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const folder = folderArg ? resolve(folderArg) : recoveryFolderFor(flags.volume!, flags.diskFolder);
  // The records name their volume: the folder alone is enough.
  const probe = new RecoveryFolder(folder, { id: '', name: '' }, '');
  const entries = await probe.list();
  if (entries.length === 0) {
    cliLog.info(`nothing to recover in ${folder}`);
    return 0;
  }
  const volume = flags.volume ?? (await probe.read(entries[0]).catch(() => undefined))?.volume;
  if (!volume) throw new UsageError(`the first record in ${folder} does not say its volume: name it with --volume V`);

  let meta: MetaSourceConfig;
  let creds: Creds | undefined;
  const credsPath = flags.credsFile ? resolve(flags.credsFile) : mountCredsPath(volume);
  if (flags.local) {
    const dir = resolve(flags.local);
    // Never create a volume here (openMetaSource would, for a mount's first use).
    if (!(await access(join(dir, 'meta.db')).then(() => true, () => false))) throw new UsageError(`--local ${dir}: no volume there (no meta.db)`);
    meta = { kind: 'local', dir };
    creds = await access(credsPath).then(() => readCreds(credsPath), () => undefined);
  } else {
    creds = await readCreds(credsPath);
    meta = remoteSource(credsPath, creds);
  }
  const source = await openMetaSource(meta, volume, undefined, undefined, cliLog);
  try {
    const config = { volume, meta, credsPath, proxyCreds: creds, vfs: { putDeadlineMs, getDeadlineMs: putDeadlineMs } };
    const { store } = await openBlockStore(config, source.settings, cliLog);
    try {
      const recovery = new RecoveryFolder(folder, { id: source.settings.id, name: volume }, `apply it with "${recoverCommand(volume, folder)}"`);
      const s = await applyRecovery(recovery, {
        meta: source.meta, store, volumeId: source.settings.id, log: cliLog, putDeadlineMs,
        ctx: { uid: 0, gid: 0, sessionId: source.sessionId },
      });
      cliLog.info(`${folder}: ${s.applied} applied, ${s.gone} skipped (deleted meanwhile), ${s.superseded} superseded (kept), ${s.damaged} damaged (kept), ${s.refused} refused for want of SSE (kept)`);
      return s.superseded + s.damaged + s.refused > 0 ? 1 : 0;
    } finally {
      await store.close().catch(() => undefined);
    }
  } finally {
    await source.close().catch(() => undefined);
  }
}
