import { join } from 'node:path';
import type { MetaEngine } from '../engine.js';
import { openSqliteEngine } from './sqlite.js';
import { openRedisEngine } from './redis.js';

export { openSqliteEngine } from './sqlite.js';
export { openRedisEngine } from './redis.js';

/**
 * Open the engine a spec names: 'sqlite' (file `meta.db` in dbFolder) or a redis URL
 * (`redis://`, `rediss://`, or `redis+sentinel://` forms that ioredis understands).
 */
export async function openEngine(spec: { engine: string; dbFolder?: string; sync?: boolean }): Promise<MetaEngine> {
  const engine = String(spec?.engine ?? '');
  if (engine === 'sqlite' || engine === '') {
    return openSqliteEngine({ file: join(spec.dbFolder ?? '.', 'meta.db'), sync: spec.sync });
  }
  if (/^rediss?:\/\//.test(engine)) return openRedisEngine({ url: engine });
  throw new Error(`unknown metadata engine "${engine.replace(/\/\/[^@/]*@/, '//***@')}": use "sqlite" or a redis:// URL`);
}
