import { join } from 'node:path';
import { hideUserInfo } from '../../store/redact.js';
import type { MetaEngine } from '../engine.js';
import { openSqliteEngine } from './sqlite.js';
import { openRedisEngine } from './redis.js';
import { openSqliteWorkerEngine } from './sqlite-worker-client.js';

export { openSqliteEngine } from './sqlite.js';
export { openRedisEngine } from './redis.js';
export { openSqliteWorkerEngine } from './sqlite-worker-client.js';

/** True when a redis URL carries a password (`redis://:pw@host` or `redis://user:pw@host`). */
export function urlHasPassword(url: string): boolean {
  return /^[a-z+]+:\/\/[^/@]*:[^/@]*@/i.test(url);
}

export interface EngineSpec {
  engine: string;
  dbFolder?: string;
  sync?: boolean;
  redisPassword?: string;
  worker?: boolean;
  onWorkerCrash?: (err: Error) => void;
}

/**
 * Open the engine a spec names: 'sqlite' (file `meta.db` in dbFolder) or a redis URL:
 * `redis://host:port[/db]` / `rediss://…` for ONE redis server or a replication primary, or
 * `redis+cluster://host:port[,host:port…]` for a Redis Cluster (seed nodes; keys are hash-tagged
 * per volume, so each operation stays in one slot). Redis Sentinel is not supported yet, nor TLS
 * to a cluster; their URLs are refused with a message saying so. The redis password comes
 * separately (`redisPassword` in the creds file), never in the URL, which ends up in argv.
 * `worker` runs sqlite in a worker thread (sqlite-worker-client.ts) instead of on the caller's
 * event loop; `onWorkerCrash` hears if that thread dies.
 */
export async function openEngine(spec: EngineSpec): Promise<MetaEngine> {
  const engine = String(spec?.engine ?? '');
  if (engine === 'sqlite' || engine === '') {
    const file = join(spec.dbFolder ?? '.', 'meta.db');
    if (spec.worker) return openSqliteWorkerEngine({ file, sync: spec.sync, onCrash: spec.onWorkerCrash });
    return openSqliteEngine({ file, sync: spec.sync });
  }
  if (/^(rediss?|redis\+cluster):\/\//i.test(engine)) return openRedisEngine({ url: engine, password: spec.redisPassword });
  if (/^rediss\+cluster:\/\//i.test(engine) || /^redis-clusters:\/\//i.test(engine)) {
    throw new Error('TLS to a Redis Cluster (rediss+cluster://) is not supported yet: use redis+cluster://host:port[,host:port…]');
  }
  if (/^redis-cluster:\/\//i.test(engine)) {
    throw new Error('write a Redis Cluster URL as redis+cluster://host:port[,host:port…]');
  }
  if (/^rediss?\+sentinel:\/\//i.test(engine) || /^redis-sentinels?:\/\//i.test(engine)) {
    throw new Error('Redis Sentinel is not supported yet: point --engine at the primary (redis://host:port[/db]) or at a Redis Cluster (redis+cluster://host:port[,host:port…])');
  }
  throw new Error(`unknown metadata engine "${hideUserInfo(engine)}": use "sqlite", a redis:// or a redis+cluster:// URL`);
}
