import { join } from 'node:path';
import type { MetaEngine } from '../engine.js';
import { openSqliteEngine } from './sqlite.js';
import { openRedisEngine } from './redis.js';

export { openSqliteEngine } from './sqlite.js';
export { openRedisEngine } from './redis.js';

/** True when a redis URL carries a password (`redis://:pw@host` or `redis://user:pw@host`). */
export function urlHasPassword(url: string): boolean {
  return /^[a-z+]+:\/\/[^/@]*:[^/@]*@/i.test(url);
}

/**
 * Open the engine a spec names: 'sqlite' (file `meta.db` in dbFolder) or a redis URL
 * (`redis://` or `rediss://`) of ONE redis server or a replication primary. Redis Sentinel and
 * Redis Cluster are not supported yet (the keys are already hash-tagged per volume for Cluster,
 * but the client is a single-node connection); their URLs are refused with a message saying so.
 * The redis password comes separately (`redisPassword` in the creds file), never in the URL,
 * which ends up in argv.
 */
export async function openEngine(spec: { engine: string; dbFolder?: string; sync?: boolean; redisPassword?: string }): Promise<MetaEngine> {
  const engine = String(spec?.engine ?? '');
  if (engine === 'sqlite' || engine === '') {
    return openSqliteEngine({ file: join(spec.dbFolder ?? '.', 'meta.db'), sync: spec.sync });
  }
  if (/^rediss?:\/\//.test(engine)) return openRedisEngine({ url: engine, password: spec.redisPassword });
  if (/^redis(s)?\+(sentinel|cluster):\/\//i.test(engine) || /^redis-(sentinel|cluster)s?:\/\//i.test(engine)) {
    throw new Error('Redis Sentinel and Redis Cluster are not supported yet: point --engine at one redis server or the primary (redis://host:port[/db])');
  }
  throw new Error(`unknown metadata engine "${engine.replace(/\/\/[^@/]*@/, '//***@')}": use "sqlite" or a redis:// URL`);
}
