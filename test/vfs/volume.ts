import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { tempDir } from '../harness/ports.js';
import { openStore, withFaults, withRetry, type FaultyStore } from '../../src/store/index.js';
import { createEncryption } from '../../src/codec/index.js';
import type { MetaEngine } from '../../src/meta/engine.js';
import { withNameEncryption } from '../../src/meta/name-crypt.js';
import type { MetaStore, VolumeSettings } from '../../src/meta/types.js';
import type { ObjectStore } from '../../src/store/types.js';
import { openMountStack } from '../../src/mount/index.js';
import type { FlexFileSystem, FileSystemOptions } from '../../src/vfs/index.js';
import type { Caller } from '../../src/vfs/types.js';

export const ROOT: Caller = { uid: 0, gid: 0, pid: 0 };
export const ALICE: Caller = { uid: 1000, gid: 1000, pid: 0 };
export const BOB: Caller = { uid: 1001, gid: 1001, pid: 0 };

/**
 * A real volume for VFS tests: the sqlite metadata engine in a temp dir, a file:// block store
 * (wrapped in the fault decorator, faults off unless a test turns them on), the real codec.
 * `mount()` makes a FileSystem on it through the mount's composition root (openMountStack, with
 * this volume's metadata, store and data key injected); call it twice for two clients on one volume.
 */
export interface TestVolume {
  dir: string;
  engine: MetaEngine;
  settings: VolumeSettings;
  meta: MetaStore;
  /** What the VFS uses: retry decorator over the fault injector over the real file store. */
  store: ObjectStore;
  faults: FaultyStore;
  rawStore: ObjectStore;
  dataKey?: Buffer;
  mount(extra?: Partial<FileSystemOptions>): Promise<FlexFileSystem>;
  cleanup(): Promise<void>;
}

/**
 * `oldFormat`: an E2E volume as created before names were encrypted (no nameEncryption flag in
 * its stored settings), made by removing the flag from the stored row.
 */
export async function makeVolume(opts: { blockSize?: number; encrypted?: boolean; compression?: 'lz4' | 'none'; oldFormat?: boolean } = {}): Promise<TestVolume> {
  const tmp = await tempDir('flexfs-vfs-');
  const { openEngine } = await import('../../src/meta/engines/index.js');
  const dbFolder = join(tmp.path, 'meta');
  await mkdir(dbFolder, { recursive: true });
  const engine = await openEngine({ engine: 'sqlite', dbFolder });
  let dataKey: Buffer | undefined;
  let encryption: VolumeSettings['encryption'];
  if (opts.encrypted) {
    const e = await createEncryption('test passphrase, not a secret');
    dataKey = e.dataKey;
    encryption = e.params;
  }
  const settings = await engine.createVolume({
    name: 'vol' + Math.floor(Math.random() * 1e6),
    blockSize: opts.blockSize ?? 256 * 1024,
    compression: opts.compression ?? 'lz4',
    encryption,
    blockStore: { url: `file://${join(tmp.path, 'blocks')}` },
  });
  if (opts.oldFormat) {
    delete settings.nameEncryption;
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(dbFolder, 'meta.db'));
    db.prepare('UPDATE volumes SET settings = ? WHERE id = ?').run(JSON.stringify(settings), settings.id);
    db.close();
  }
  await mkdir(join(tmp.path, 'blocks'), { recursive: true });
  const rawStore = openStore(settings.blockStore, { retry: false });
  const faults = withFaults(rawStore, {});
  const store = withRetry(faults, { maxAttempts: 10, baseDelayMs: 2, maxDelayMs: 20, attemptTimeoutMs: 2_000 });
  // What a mount uses: on E2E volumes names are sealed by the decorator (src/meta/name-crypt.ts).
  const meta = await withNameEncryption(engine.volume(settings.id), settings, dataKey);
  const mounted: FlexFileSystem[] = [];
  return {
    dir: tmp.path, engine, settings, meta, store, faults, rawStore, dataKey,
    async mount(extra = {}) {
      // `meta` / `store` in `extra` replace the volume's (fault-injecting wrappers around them).
      const { meta: m = meta, store: s = store, ...vfs } = extra;
      const { fs } = await openMountStack({
        volume: settings.name, dataKey, codecWorkers: 1,
        // The harness owns the engine and the store: cleanup() closes them once.
        meta: { kind: 'given', source: { meta: m, settings, close: async () => undefined }, namesSealed: true },
        openStore: () => s,
        vfs: { memCapacity: 64 * 2 ** 20, ...vfs },
      });
      await fs.init();
      mounted.push(fs);
      return fs;
    },
    async cleanup() {
      for (const fs of mounted) await fs.destroy().catch(() => undefined);
      await store.close().catch(() => undefined);
      await engine.close().catch(() => undefined);
      await tmp.cleanup();
    },
  };
}
