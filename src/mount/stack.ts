import { createCodec, unlockDataKey } from '../codec/index.js';
import type { BlockCodec } from '../codec/types.js';
import { withNameEncryption } from '../meta/name-crypt.js';
import type { ObjectStore } from '../store/types.js';
import { FlexFileSystem, FsCore, buildCoreParts, type FileSystemOptions } from '../vfs/index.js';
import type { VolumeSettings } from '../volume/settings.js';
import { openBlockStore } from './block-store.js';
import type { MetaSource, MountLog, MountStackConfig } from './config.js';
import { openMetaSource } from './meta-source.js';
import { TIMEOUTS } from '../config/defaults.js';
import { blockKey } from '../store/keys.js';
import { VFS_DEFAULTS } from '../config/defaults.js';
import { applyRecovery, recoverCommand, RecoveryFolder } from '../recovery/index.js';

/** An open mount stack: everything below FUSE, ready for mountCore (or a test) to drive. */
export interface MountStack {
  /** The inode-level POSIX core (what the FUSE layer serves); `init()` it before use (mountCore does). */
  core: FsCore;
  /** The path layer over the same core (tests, benches, tools that speak paths). */
  fs: FlexFileSystem;
  settings: VolumeSettings;
  /** The block store the VFS writes through (proxies and SSE check included). */
  store: ObjectStore;
  sessionId?: string;
  /** Read-only: asked for (vfs.readOnly) or the metadata source allows no changes (a read-only token). */
  readOnly: boolean;
  /** PUTs the store did not encrypt although SSE was asked for (telemetry). */
  sseNotApplied(): number;
  /**
   * Flush and let go, in order: the VFS (flushes dirty data, releases holds), the codec, the
   * block store, the metadata source. Every part is closed; a failed flush is rethrown at the end.
   */
  close(): Promise<void>;
}

/**
 * The block store answers: a HEAD within the check's deadline of a block key of this volume that
 * no block has (inode 0), so proxies with a key prefix or block-key rules pass it on like any read.
 */
async function checkStore(store: ObjectStore, volume: string, volumeId: string): Promise<void> {
  try {
    await store.head(blockKey(volumeId, 0, 0, 0), { signal: AbortSignal.timeout(TIMEOUTS.storeCheckMs) });
  } catch (e) {
    throw new Error(`volume ${volume}: the block store ${store.description} cannot be used: ${(e as Error).message} `
      + '(check the endpoint, bucket and credentials; --skipStoreCheck mounts anyway)');
  }
}

const SILENT: MountLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The composition root (DESIGN.md §2): metadata source → data key → name sealing → block store
 * (proxies, SSE check) → codec → the core's block-side parts (caches, block I/O, dirty budget, block
 * ids) → FsCore (and its path layer), from typed config. The CLI maps flags and
 * credentials onto `config`; tests and benches call this the same way.
 */
export async function openMountStack(config: MountStackConfig): Promise<MountStack> {
  const log = config.log ?? SILENT;
  const { volume, secret } = config;
  const source: MetaSource = await openMetaSource(config.meta, volume, config.mountpoint, secret, log);
  let codec: BlockCodec | undefined;
  let store: ObjectStore | undefined;
  try {
    let dataKey = config.dataKey;
    if (source.settings.encryption && !dataKey) {
      if (!secret) throw new Error(`volume ${volume} is end-to-end encrypted: put its passphrase as "secret" in ${config.credsPath} (or use --secretFile)`);
      dataKey = await unlockDataKey(source.settings.encryption, secret).catch((e: Error) => {
        throw new Error(e.name === 'WrongPassphraseError' ? `wrong passphrase for volume ${volume}` : `cannot unlock volume ${volume}: ${e.message}`);
      });
    }
    const blocks = await openBlockStore(config, source.settings, log);
    store = blocks.store;
    if (config.checkStore !== false) await checkStore(store, volume, source.settings.id);
    codec = createCodec({ compression: source.settings.compression, dataKey, workers: config.codecWorkers });
    // E2E volumes created with name encryption: names, targets and xattrs are sealed here.
    const namesSealed = config.meta.kind === 'given' && config.meta.namesSealed === true;
    const meta = namesSealed ? source.meta : await withNameEncryption(source.meta, source.settings, dataKey);
    const sessionId = source.sessionId;
    const readOnly = config.vfs?.readOnly === true || source.readOnly === true;
    const recovery = config.recoveryFolder && !readOnly ? await openRecovery(config, config.recoveryFolder, source, store, log) : undefined;
    const options: FileSystemOptions = { ...config.vfs, readOnly, meta, store, codec, settings: source.settings, sessionId, recovery };
    // The block-side parts are built here, beside the store and codec they sit on, and handed to
    // the core; the core builds only its own helpers (metadata cache, ACLs, open files).
    const core = new FsCore(options, buildCoreParts(options));
    const fs = new FlexFileSystem(core);
    const openStore = store;
    const openCodec = codec;
    return {
      core, fs, settings: source.settings, store, sessionId, readOnly, sseNotApplied: blocks.sseNotApplied,
      async close() {
        let flushError: unknown;
        await core.destroy().catch((e: unknown) => { flushError = e; });
        await openCodec.close().catch(() => undefined);
        await openStore.close().catch(() => undefined);
        await source.close().catch(() => undefined);
        if (flushError !== undefined) throw flushError;
      },
    };
  } catch (e) {
    await codec?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await source.close().catch(() => undefined);
    throw e;
  }
}

/**
 * The volume's recovery folder: apply what an earlier unmount left there (frames PUT, then
 * commits; src/recovery/apply.ts for the rules), so the core serves the recovered data; a
 * failure stops the mount, the records stay for the next try. Returns it as the core's sink.
 */
async function openRecovery(config: MountStackConfig, folder: string, source: MetaSource, store: ObjectStore, log: MountLog): Promise<RecoveryFolder> {
  const { volume } = config;
  const recovery = new RecoveryFolder(folder, { id: source.settings.id, name: volume },
    `apply it with "${recoverCommand(volume, folder)}" or by mounting the volume again`, config.sse === 'require');
  try {
    const s = await applyRecovery(recovery, {
      meta: source.meta, store, volumeId: source.settings.id, log,
      ctx: { uid: 0, gid: 0, sessionId: source.sessionId },
      putDeadlineMs: config.vfs?.putDeadlineMs ?? VFS_DEFAULTS.putDeadlineMs,
    });
    const total = s.applied + s.gone + s.superseded + s.damaged + s.refused;
    if (total > 0) {
      log.info(`recovery folder ${folder}: ${s.applied} applied, ${s.gone} skipped (deleted meanwhile), ${s.superseded} superseded, ${s.damaged} damaged, ${s.refused} refused (no SSE)`,
        { folder, ...s });
    }
  } catch (e) {
    throw new Error(`volume ${volume}: the recovery folder ${folder} could not be applied, so the mount did not start: ${(e as Error).message} `
      + `(its records are kept; fix the cause and mount again, or run "${recoverCommand(volume, folder)}")`, { cause: e });
  }
  return recovery;
}
