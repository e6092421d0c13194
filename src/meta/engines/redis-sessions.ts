import { FsError } from '../../errors/index.js';
import { newSessionId } from '../core/admin.js';
import type { CoreMetaStore } from '../core/store.js';
import type { AdminScripts } from './redis-admin-lua.js';
import { MAX_ADMIN_ATTEMPTS, type SessionRec } from './redis-admin-records.js';
import { ADMIN, volumeKeys } from './redis-keys.js';
import type { RedisClient } from './redis-client.js';
import { backoff } from './redis-runner.js';

/**
 * The redis engine's mount sessions: open, heartbeat, and the end of a session (closed or
 * expired), whose holds are released through the core so that unlinked open files are freed.
 */

/** The namespace of a volume, as far as ending a session needs it. */
export type HoldReleaser = (volumeId: string) => Pick<CoreMetaStore, 'releaseSession'>;

export async function openSession(r: RedisClient, scripts: AdminScripts, volumeId: string,
  info: { host: string; pid: number; mountpoint?: string }, ttlSeconds: number): Promise<string> {
  const now = Date.now();
  const s: SessionRec = { id: newSessionId(), volumeId, host: String(info.host), pid: info.pid | 0, startedAt: now, expiresAt: now + ttlSeconds * 1000 };
  if (info.mountpoint !== undefined) s.mountpoint = info.mountpoint;
  if ((await scripts.openSession(ADMIN.volumes, ADMIN.sessions, ADMIN.sessionExpiry, volumeId, s.id, JSON.stringify(s), String(s.expiresAt))) !== 1) {
    throw new FsError('ENOENT', `no volume with id "${volumeId}"`);
  }
  return s.id;
}

/** One script checks the session is there and unexpired and extends it (record and zset). */
export async function heartbeat(r: RedisClient, scripts: AdminScripts, sessionId: string, ttlSeconds: number): Promise<boolean> {
  for (let attempt = 0; attempt < MAX_ADMIN_ATTEMPTS; attempt++) {
    const json = await r.hget(ADMIN.sessions, sessionId);
    if (json === null) return false;
    const s = JSON.parse(json) as SessionRec;
    const now = Date.now();
    if (s.expiresAt < now) return false;
    s.expiresAt = now + ttlSeconds * 1000;
    const res = await scripts.heartbeat(ADMIN.sessions, ADMIN.sessionExpiry, sessionId, json, JSON.stringify(s), String(now), String(s.expiresAt));
    if (res !== -1) return res === 1;
    await backoff(attempt);
  }
  throw new FsError('EAGAIN', 'session record kept changing during the heartbeat');
}

/** Release the session's holds through the core (frees unlinked inodes), then forget it. */
export async function endSession(r: RedisClient, store: HoldReleaser, sessionId: string): Promise<void> {
  const json = await r.hget(ADMIN.sessions, sessionId);
  if (json !== null) {
    const s = JSON.parse(json) as SessionRec;
    const k = volumeKeys(s.volumeId);
    const held = await r.hkeys(k.sessionHolds(sessionId));
    const volume = store(s.volumeId);
    for (const ino of held) await volume.releaseSession(Number(ino), sessionId);
    await r.del(k.sessionHolds(sessionId));
  }
  await forgetSession(r, sessionId);
}

async function forgetSession(r: RedisClient, sessionId: string): Promise<void> {
  await r.multi().hdel(ADMIN.sessions, sessionId).zrem(ADMIN.sessionExpiry, sessionId).exec();
}

/** End every session past its deadline; returns how many. */
export async function expireSessions(r: RedisClient, store: HoldReleaser, now: number): Promise<number> {
  const ids = await r.zrangebyscore(ADMIN.sessionExpiry, '-inf', `(${now}`);
  for (const id of ids) await endSession(r, store, id);
  return ids.length;
}
