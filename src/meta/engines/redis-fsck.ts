import { checkNamespaceSnapshot } from '../core/admin.js';
import { decodeInode } from '../core/rules.js';
import type { InodeRec, LinkParents } from '../core/tx.js';
import type { GcEntry } from '../engine.js';
import { volumeKeys } from './redis-keys.js';
import { scanKeys, type RedisClient } from './redis-client.js';

/**
 * The redis engine's whole-volume reads for gc and fsck: the gc queue (read, done), every block
 * the volume references, and the namespace snapshot core/admin.ts checks. They SCAN a volume's
 * keys on every primary (redis-client.ts).
 */

export async function gcQueue(r: RedisClient, volumeId: string, olderThanMs: number, limit: number): Promise<GcEntry[]> {
  const flat = await r.zrangebyscore(volumeKeys(volumeId).gc, '-inf', String(olderThanMs), 'WITHSCORES', 'LIMIT', 0, limit);
  const out: GcEntry[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const [blockId, ino, index] = flat[i].split(':').map(Number);
    out.push({ blockId, ino, index, queuedAt: Number(flat[i + 1]) });
  }
  return out;
}

/** Every queued entry, whatever its age, in pages of the zset (by queuedAt). */
export async function* gcEntries(r: RedisClient, volumeId: string): AsyncIterable<GcEntry> {
  const key = volumeKeys(volumeId).gc;
  for (let start = 0; ; start += 1000) {
    const flat = await r.zrange(key, String(start), String(start + 999), 'WITHSCORES');
    for (let i = 0; i < flat.length; i += 2) {
      const [blockId, ino, index] = flat[i].split(':').map(Number);
      yield { blockId, ino, index, queuedAt: Number(flat[i + 1]) };
    }
    if (flat.length < 2000) return;
  }
}

export async function gcDone(r: RedisClient, volumeId: string, entries: GcEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await r.zrem(volumeKeys(volumeId).gc, ...entries.map((e) => `${e.blockId}:${e.ino}:${e.index}`));
}

/** Every slot of every block map, then every queued block (length 0). */
export async function* referencedBlocks(r: RedisClient, volumeId: string): AsyncIterable<{ ino: number; index: number; blockId: number; length: number }> {
  const k = volumeKeys(volumeId);
  const prefix = k.slots(0).slice(0, -1);
  for await (const batch of scanKeys(r, `${prefix}*`)) {
    for (const key of batch) {
      const ino = Number(key.slice(prefix.length));
      const flat = (await r.call('HGETALL', key)) as string[];
      for (let i = 0; i < flat.length; i += 2) {
        const [blockId, length] = flat[i + 1].split(':').map(Number);
        yield { ino, index: Number(flat[i]), blockId, length };
      }
    }
  }
  for (let start = 0; ; start += 1000) {
    const members = await r.zrange(k.gc, String(start), String(start + 999));
    for (const m of members) {
      const [blockId, ino, index] = m.split(':').map(Number);
      yield { ino, index, blockId, length: 0 };
    }
    if (members.length < 1000) break;
  }
}

/** Inodes, entries (and whether each directory's name index matches), holds, counters → problems. */
export async function checkNamespace(r: RedisClient, volumeId: string): Promise<string[]> {
  const k = volumeKeys(volumeId);
  const inodes: InodeRec[] = [];
  const iPrefix = k.inode(0).slice(0, -1);
  for await (const batch of scanKeys(r, `${iPrefix}*`)) {
    if (batch.length === 0) continue;
    for (const v of await r.mget(...batch)) if (v !== null) inodes.push(decodeInode(v));
  }
  const entries: { parent: number; name: string; ino: number }[] = [];
  const ePrefix = k.entries(0).slice(0, -1);
  for await (const batch of scanKeys(r, `${ePrefix}*`)) {
    for (const key of batch) {
      const parent = Number(key.slice(ePrefix.length));
      const all = await r.hgetall(key);
      for (const [name, ino] of Object.entries(all)) entries.push({ parent, name, ino: Number(ino) });
      const names = await r.zcard(k.names(parent));
      if (names !== Object.keys(all).length) entries.push({ parent, name: '(name index differs from entries)', ino: -1 });
    }
  }
  const holds = new Map<number, number>();
  const hPrefix = k.holds(0).slice(0, -1);
  for await (const batch of scanKeys(r, `${hPrefix}*`)) {
    for (const key of batch) {
      const sum = Object.values(await r.hgetall(key)).reduce((a, b) => a + Number(b), 0);
      holds.set(Number(key.slice(hPrefix.length)), sum);
    }
  }
  const linkParents = new Map<number, LinkParents>();
  const pPrefix = k.linkParents(0).slice(0, -1);
  for await (const batch of scanKeys(r, `${pPrefix}*`)) {
    if (batch.length === 0) continue;
    const vals = await r.mget(...batch);
    batch.forEach((key, i) => { if (vals[i] !== null) linkParents.set(Number(key.slice(pPrefix.length)), JSON.parse(vals[i]!) as LinkParents); });
  }
  const c = await r.hmget(k.counters, 'inodes', 'usedBytes');
  return checkNamespaceSnapshot({ inodes, entries, holds, linkParents, counters: { inodes: Number(c[0] ?? 0), usedBytes: Number(c[1] ?? 0) } });
}
