import type { HistoryKind } from '../core/tx.js';
import type { RedisClient } from './redis-client.js';
import { volumeKeys } from './redis-keys.js';
import { HISTORY_DEFAULTS } from '../../config/defaults.js';

/**
 * History records on redis (layout in redis-keys.ts): one group per kind and inode/directory,
 * a zset of "at:k2" members scored by time (ZRANGEBYSCORE finds the records after an instant)
 * and a hash of their before-values; the volume's group index, scored by each group's earliest
 * record, lets gc prune without scanning every key.
 */

const KIND_CODES: Record<HistoryKind, string> = { inode: 'i', entry: 'e', slot: 's', xattr: 'x' };

export function historyGroup(kind: HistoryKind, k1: number): string { return `${KIND_CODES[kind]}:${k1}`; }
export function historyMember(at: number, k2: string): string { return `${at}:${k2}`; }
export function parseHistoryMember(m: string): { at: number; k2: string } {
  const i = m.indexOf(':');
  return { at: Number(m.slice(0, i)), k2: m.slice(i + 1) };
}
/** "-": the key did not exist; "+value": it held value. */
export function parseHistoryValue(v: string | null): string | null {
  return v === null || v === '-' ? null : v.slice(1);
}

/** Prune one group atomically: its records at or before upTo go; the index keeps its new earliest time. */
const PRUNE_GROUP_LUA = `
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for i = 1, #old, 500 do
  redis.call('HDEL', KEYS[3], unpack(old, i, math.min(i + 499, #old)))
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #first == 0 then redis.call('ZREM', KEYS[1], ARGV[2]) else redis.call('ZADD', KEYS[1], first[2], ARGV[2]) end
return #old
`;

/** Pruning moves the start (nothing before it can be seen any more); never back. */
const RAISE_START_LUA = `
local v = redis.call('GET', KEYS[1])
if not v or tonumber(v) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`;

type PruneFn = (hg: string, hz: string, hv: string, upTo: string, group: string) => Promise<number>;
type RaiseFn = (hs: string, upTo: string) => Promise<number>;
export interface HistoryScripts { prune: PruneFn; raiseStart: RaiseFn }

export function defineHistoryScripts(r: RedisClient): HistoryScripts {
  r.defineCommand('flexfsPruneHistory', { lua: PRUNE_GROUP_LUA, numberOfKeys: 3 });
  r.defineCommand('flexfsRaiseHistoryStart', { lua: RAISE_START_LUA, numberOfKeys: 1 });
  const c = r as unknown as { flexfsPruneHistory: PruneFn; flexfsRaiseHistoryStart: RaiseFn };
  return { prune: c.flexfsPruneHistory.bind(r), raiseStart: c.flexfsRaiseHistoryStart.bind(r) };
}

export async function historyStart(r: RedisClient, volumeId: string): Promise<number | null> {
  const v = await r.get(volumeKeys(volumeId).historyStart);
  return v === null ? null : Number(v);
}

export async function markHistoryStart(r: RedisClient, volumeId: string, at: number): Promise<void> {
  await r.set(volumeKeys(volumeId).historyStart, String(at), 'NX');
}

export async function pruneHistory(r: RedisClient, scripts: HistoryScripts, volumeId: string, upToMs: number): Promise<number> {
  const k = volumeKeys(volumeId);
  const prune = scripts.prune;
  await scripts.raiseStart(k.historyStart, String(upToMs)); // first: a view never reads a half-pruned past
  let removed = 0;
  for (;;) {
    const groups = await r.zrangebyscore(k.historyGroups, '-inf', String(upToMs), 'LIMIT', 0, HISTORY_DEFAULTS.pruneGroups);
    if (groups.length === 0) return removed;
    for (const g of groups) removed += await prune(k.historyGroups, k.historyTimes(g), k.historyValues(g), String(upToMs), g);
  }
}
