import { access } from 'node:fs/promises';
import { readCreds } from '../config/creds.js';
import { join } from 'node:path';
import type { MetaEngine } from '../meta/engine.js';
import { openEngine } from '../meta/engines/index.js';
import type { VolumeSettings } from '../meta/types.js';

/**
 * Open an existing metadata engine for an admin job (gc, fsck, status). Unlike `start`, a missing
 * sqlite database is an error, not a new empty one. sqlite in WAL mode lets this run next to a
 * live meta.flexfs; redis engines are shared anyway.
 */
export async function openExistingEngine(spec: { engine: string; dbFolder: string; redisPassword?: string; redisSentinelPassword?: string }): Promise<MetaEngine> {
  if (spec.engine === 'sqlite' || spec.engine === '') {
    const file = join(spec.dbFolder, 'meta.db');
    if (!(await access(file).then(() => true, () => false))) {
      throw new Error(`no metadata database at ${file} (use --dbFolder, or --engine redis://…)`);
    }
  }
  return openEngine({ engine: spec.engine, dbFolder: spec.dbFolder, redisPassword: spec.redisPassword, redisSentinelPassword: spec.redisSentinelPassword });
}

/**
 * The redis passwords of a server creds file (`redisPassword`, `redisSentinelPassword`), for a
 * redis engine; none for sqlite or when the file does not exist (a redis without a password).
 */
export async function redisSecrets(engine: string, credsFile: string): Promise<{ redisPassword?: string; redisSentinelPassword?: string }> {
  if (engine === 'sqlite' || engine === '' || !(await access(credsFile).then(() => true, () => false))) return {};
  const creds = await readCreds(credsFile);
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return { redisPassword: str(creds.redisPassword), redisSentinelPassword: str(creds.redisSentinelPassword) };
}

/** The volumes named (by name or id), or all of them when none is named; unknown names are an error. */
export async function selectVolumes(engine: MetaEngine, names: string[]): Promise<VolumeSettings[]> {
  if (names.length === 0) return engine.listVolumes();
  const out: VolumeSettings[] = [];
  for (const n of names) {
    const v = await engine.getVolume(n);
    if (!v) throw new Error(`no volume "${n}"`);
    out.push(v);
  }
  return out;
}
