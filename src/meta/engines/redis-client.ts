import type { Cluster, Redis } from 'ioredis';
import { FsError, isFsError } from '../../errors/index.js';

/**
 * The client the redis engine talks through: one server (or replication primary) or a Redis
 * Cluster. Both run the same commands, scripts (defineCommand) and MULTI; the Cluster client
 * routes each to the node owning its keys' slot, which works because every script and MULTI
 * touches keys of one hash tag only (redis-keys.ts). What differs is SCAN: it walks one node.
 */
export type RedisClient = Redis | Cluster;

/** The servers that hold keys: every primary of a cluster, or the one server. */
export function keyServers(r: RedisClient): Redis[] {
  if (!r.isCluster) return [r as Redis];
  const masters = (r as Cluster).nodes('master');
  if (masters.length === 0) throw new Error('redis cluster: no primary node known');
  return masters;
}

/**
 * SCAN every key matching `pattern`, in batches, on every server that holds keys (all primaries
 * of a cluster: a volume's keys live in its hash tag's slot, on whichever primary owns it).
 * As with any SCAN, a key may come twice and keys made meanwhile may be missed.
 */
export async function* scanKeys(r: RedisClient, pattern: string, count = 1000): AsyncIterable<string[]> {
  for (const node of keyServers(r)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      yield keys;
    } while (cursor !== '0');
  }
}

/** A client or server failure as the EIO the engine reports; FsErrors pass through. */
export function asFsError(e: unknown): unknown {
  if (isFsError(e)) return e;
  return new FsError('EIO', `redis: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}
