import { join } from 'node:path';
import { isRedisEngineUrl, redactRedisUrl } from './redis-url.js';
import type { MetaEngine } from '../engine.js';
import { openSqliteEngine } from './sqlite.js';
import { openRedisEngine } from './redis.js';
import { openSqliteWorkerEngine } from './sqlite-worker-client.js';

export { openSqliteEngine } from './sqlite.js';
export { openRedisEngine } from './redis.js';
export { openSqliteWorkerEngine } from './sqlite-worker-client.js';

/** True when a redis URL carries a password (`redis://:pw@host`, `…user:pw@…`, `?sentinelPassword=`). */
export { urlHasPassword } from './redis-url.js';

export interface EngineSpec {
  engine: string;
  dbFolder?: string;
  sync?: boolean;
  redisPassword?: string;
  /** The Sentinels' password (`requirepass` in their config), for redis+sentinel:// URLs. */
  redisSentinelPassword?: string;
  worker?: boolean;
  onWorkerCrash?: (err: Error) => void;
}

/**
 * Open the engine a spec names: 'sqlite' (file `meta.db` in dbFolder) or a redis URL:
 * `redis://host:port[/db]` / `rediss://…` for ONE redis server or a replication primary, or
 * `redis+cluster://host:port[,host:port…]` for a Redis Cluster (seed nodes; keys are hash-tagged
 * per volume, so each operation stays in one slot), or
 * `redis+sentinel://host:port[,host:port…]/mastername[?db=N&minReplicas=N]` for the primary a set
 * of Redis Sentinels names (redis-url.ts). TLS to a cluster or to Sentinels is not supported yet;
 * those URLs are refused with a message saying so. The passwords come separately
 * (`redisPassword`, `redisSentinelPassword` in the creds file), never in the URL, which ends up in argv.
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
  if (isRedisEngineUrl(engine)) {
    return openRedisEngine({ url: engine, password: spec.redisPassword, sentinelPassword: spec.redisSentinelPassword });
  }
  if (/^rediss\+cluster:\/\//i.test(engine) || /^redis-clusters:\/\//i.test(engine)) {
    throw new Error('TLS to a Redis Cluster (rediss+cluster://) is not supported yet: use redis+cluster://host:port[,host:port…]');
  }
  if (/^redis-cluster:\/\//i.test(engine)) {
    throw new Error('write a Redis Cluster URL as redis+cluster://host:port[,host:port…]');
  }
  if (/^rediss\+sentinel:\/\//i.test(engine)) {
    throw new Error('TLS to Redis Sentinel (rediss+sentinel://) is not supported yet: use redis+sentinel://host:port[,host:port…]/mastername');
  }
  if (/^redis-sentinels?:\/\//i.test(engine)) {
    throw new Error('write a Redis Sentinel URL as redis+sentinel://host:port[,host:port…]/mastername');
  }
  throw new Error(`unknown metadata engine "${redactRedisUrl(engine)}": use "sqlite", a redis://, redis+cluster:// or redis+sentinel:// URL`);
}
