import { FsError } from '../../errors/index.js';
import type { StoredVolume } from '../core/admin.js';
import type { VolumeInfo } from '../core/tx.js';
import type { SessionInfo, TokenInfo } from '../engine.js';
import { ADMIN } from './redis-keys.js';
import { asFsError, type RedisClient } from './redis-client.js';

/**
 * The redis engine's admin records (volumes, tokens, sessions: JSON under the {flexfs} hash tag,
 * redis-keys.ts) and how they are read. Changes go through the scripts of redis-admin-lua.ts,
 * from redis-volumes.ts, redis-tokens.ts and redis-sessions.ts.
 */

/** Compare-and-set retries of an admin record that others keep changing. */
export const MAX_ADMIN_ATTEMPTS = 50;

export interface SessionRec extends SessionInfo {}
export interface TokenRec extends TokenInfo { hash: string }

/** A volume's stored record by id or by name; null when there is none. */
export async function storedVolume(r: RedisClient, nameOrId: string): Promise<StoredVolume | null> {
  let json = await r.hget(ADMIN.volumes, nameOrId);
  if (json === null) {
    const id = await r.hget(ADMIN.volumeNames, nameOrId);
    if (id !== null) json = await r.hget(ADMIN.volumes, id);
  }
  return json === null ? null : (JSON.parse(json) as StoredVolume);
}

/** What the core needs of a volume (its TxRunner.info): settings and limits, by id. */
export async function volumeInfo(r: RedisClient, volumeId: string): Promise<VolumeInfo> {
  const json = await r.hget(ADMIN.volumes, volumeId).catch((e) => { throw asFsError(e); });
  if (json === null) throw new FsError('ENOENT', `no volume with id "${volumeId}"`);
  const v = JSON.parse(json) as StoredVolume;
  return { settings: v.settings, capacityBytes: v.capacityBytes, inodeLimit: v.inodeLimit };
}

export async function tokenRecs(r: RedisClient): Promise<TokenRec[]> {
  return (await r.hvals(ADMIN.tokens)).map((j) => JSON.parse(j) as TokenRec);
}

/** A token record without its secret's hash. */
export function tokenInfo(t: TokenRec): TokenInfo {
  const { hash: _hash, ...info } = t;
  return info;
}

/** Sessions (of one volume, or all), oldest first. */
export async function sessionRecs(r: RedisClient, volumeId?: string): Promise<SessionRec[]> {
  const all = (await r.hvals(ADMIN.sessions)).map((j) => JSON.parse(j) as SessionRec);
  return all.filter((s) => volumeId === undefined || s.volumeId === volumeId).sort((a, b) => a.startedAt - b.startedAt);
}
