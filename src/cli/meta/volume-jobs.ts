import { metaCredsPath } from '../../config/creds.js';
import { OPS_DEFAULTS } from '../../config/defaults.js';
import type { MetaEngine } from '../../meta/engine.js';
import type { VolumeSettings } from '../../meta/types.js';
import { openExistingEngine, redisSecrets, selectVolumes } from '../../ops/engine-access.js';
import { progressBar } from '../../ops/progress.js';
import type { GcProgress } from '../../ops/gc.js';
import { openVolumeStore } from '../../ops/volume-store.js';
import type { ObjectStore } from '../../store/types.js';
import { parseDuration } from '../shared/table.js';
import { defaultDbFolder } from './common.js';

/** The flags every per-volume job (gc, fsck) shares: where the engine is, bucket keys, deadline. */
export interface VolumeJobFlags {
  engine: string; dbFolder?: string; local?: string; credsFile?: string; storeDeadline?: string;
}

/** A volume the job could not finish (its bucket did not answer, its keys were refused…). */
export interface VolumeFailure { volume: string; failed: true; error: string }

/**
 * The engine a job opens: `--local DIR` is an embedded volume folder (DIR/meta.db + DIR/blocks,
 * what `mount.flexfs start --local DIR` made); otherwise --engine/--dbFolder. Both: a usage error.
 */
export function engineSpecOf(flags: VolumeJobFlags): { engine: string; dbFolder: string } {
  if (flags.local !== undefined) {
    if (flags.dbFolder !== undefined || (flags.engine !== undefined && flags.engine !== 'sqlite')) {
      throw new Error('--local DIR names the embedded volume folder (DIR/meta.db): leave out --dbFolder and --engine');
    }
    return { engine: 'sqlite', dbFolder: flags.local };
  }
  return { engine: flags.engine, dbFolder: flags.dbFolder ?? defaultDbFolder() };
}

/**
 * Run `job` on each selected volume (all when none named) with its own block store. A volume that
 * fails is reported (as a VolumeFailure) and the job goes on with the next, so one unreachable
 * bucket does not hide the others' results. Errors before any volume (no database, an unknown
 * volume name) propagate: the job could not run.
 */
export async function runOnVolumes<R>(names: string[], flags: VolumeJobFlags,
  job: (o: { engine: MetaEngine; store: ObjectStore; volume: VolumeSettings; onProgress: (p: GcProgress) => void }) => Promise<R>,
): Promise<(R | VolumeFailure)[]> {
  const deadlineMs = (flags.storeDeadline !== undefined ? parseDuration(flags.storeDeadline) : OPS_DEFAULTS.storeDeadlineSeconds) * 1000;
  if (deadlineMs <= 0) throw new Error(`--storeDeadline ${flags.storeDeadline}: must be longer than 0 s`);
  const spec = engineSpecOf(flags);
  const engine = await openExistingEngine({ ...spec, ...await redisSecrets(spec.engine, flags.credsFile ?? metaCredsPath()) });
  const results: (R | VolumeFailure)[] = [];
  try {
    for (const volume of await selectVolumes(engine, names)) {
      const bar = progressBar();
      let store: ObjectStore | undefined;
      try {
        store = await openVolumeStore(volume, flags.credsFile ?? metaCredsPath(),
          { retry: { deadlineMs } });
        results.push(await job({ engine, store, volume, onProgress: bar.update }));
      } catch (e) {
        results.push({ volume: volume.name, failed: true, error: e instanceof Error ? e.message : String(e) });
      } finally {
        bar.done();
        await store?.close().catch(() => undefined);
      }
    }
  } finally {
    await engine.close();
  }
  return results;
}

export function isFailure(r: unknown): r is VolumeFailure {
  return typeof r === 'object' && r !== null && (r as VolumeFailure).failed === true;
}

export function formatFailure(f: VolumeFailure): string {
  return `volume ${f.volume}: FAILED: ${f.error}\n`;
}
