import { FsError } from '../../errors/index.js';
import { applyVolumeUpdate, buildVolume, rootInode, type StoredVolume } from '../core/admin.js';
import { encodeInode } from '../core/rules.js';
import type { VolumeDetails, VolumeSpec, VolumeUpdate } from '../engine.js';
import { ROOT_INO, type VolumeSettings } from '../types.js';
import type { AdminScripts } from './redis-admin-lua.js';
import { MAX_ADMIN_ATTEMPTS, sessionRecs, storedVolume, tokenRecs } from './redis-admin-records.js';
import { ADMIN, volumeKeys } from './redis-keys.js';
import { asFsError, scanKeys, type RedisClient } from './redis-client.js';

/** The redis engine's volumes: create (root inode, counters, name), list, delete with their keys. */

/**
 * The volume's own keys first (unreachable until named: a crash here leaves only stray keys
 * under a fresh id), then one script names it; a taken name removes the keys again.
 */
export async function createVolume(r: RedisClient, scripts: AdminScripts, spec: VolumeSpec): Promise<VolumeSettings> {
  // async: a spec buildVolume refuses is a rejected promise (EINVAL), never a synchronous throw.
  return insertVolume(r, scripts, buildVolume(spec));
}

/** A volume from a stored record (dump/load), keeping its id; EEXIST when the id or the name is taken. */
export async function insertVolume(r: RedisClient, scripts: AdminScripts, v: StoredVolume): Promise<VolumeSettings> {
  const id = v.settings.id;
  if (await r.hexists(ADMIN.volumes, id)) throw new FsError('EEXIST', `a volume with id "${id}" already exists`);
  const k = volumeKeys(id);
  const made = await r.multi()
    .set(k.inode(ROOT_INO), encodeInode(rootInode()))
    .hset(k.counters, 'lastIno', '1', 'lastBlock', '0', 'inodes', '1', 'usedBytes', '0')
    .exec();
  const failed = made?.find(([err]) => err)?.[0];
  if (!made || failed) throw asFsError(failed ?? new Error('transaction aborted'));
  let named: number;
  try {
    named = await scripts.createVolume(ADMIN.volumeNames, ADMIN.volumes, v.settings.name, id, JSON.stringify(v));
  } catch (e) {
    await r.del(k.inode(ROOT_INO), k.counters).catch(() => undefined);
    throw asFsError(e);
  }
  if (named !== 1) {
    await r.del(k.inode(ROOT_INO), k.counters);
    throw new FsError('EEXIST', `volume "${v.settings.name}" already exists`);
  }
  return v.settings;
}

export async function listVolumes(r: RedisClient): Promise<VolumeSettings[]> {
  const all = (await r.hvals(ADMIN.volumes)).map((j) => (JSON.parse(j) as StoredVolume).settings);
  return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Refuses (ENOTEMPTY) a volume with files unless `force`. */
export async function deleteVolume(r: RedisClient, scripts: AdminScripts, nameOrId: string, force: boolean): Promise<void> {
  const v = await storedVolume(r, nameOrId);
  if (!v) throw new FsError('ENOENT', `no volume "${nameOrId}"`);
  const id = v.settings.id;
  const k = volumeKeys(id);
  if (!force && (await r.hlen(k.entries(ROOT_INO))) > 0) throw new FsError('ENOTEMPTY', `volume "${v.settings.name}" still has files`);
  // One script forgets the volume, its name, tokens and sessions; its keys go afterwards (a
  // crash in between leaves unreachable keys, not a half-deleted volume).
  const tokens = (await tokenRecs(r)).filter((t) => t.volumeId === id).flatMap((t) => [t.id, t.hash]);
  const sessions = (await sessionRecs(r, id)).map((s) => s.id);
  await scripts.deleteVolume(ADMIN.volumes, ADMIN.volumeNames, ADMIN.tokens, ADMIN.tokenHashes, ADMIN.sessions,
    ADMIN.sessionExpiry, id, v.settings.name, tokens.length / 2, ...tokens, ...sessions);
  for await (const batch of scanKeys(r, k.all)) if (batch.length) await r.del(...batch);
}

/** Change a volume's record with compare-and-set (retried while others change it meanwhile). */
export async function updateVolume(r: RedisClient, scripts: AdminScripts, nameOrId: string, update: VolumeUpdate): Promise<VolumeDetails> {
  for (let attempt = 0; attempt < MAX_ADMIN_ATTEMPTS; attempt++) {
    const v = await storedVolume(r, nameOrId);
    if (!v) throw new FsError('ENOENT', `no volume "${nameOrId}"`);
    const read = await r.hget(ADMIN.volumes, v.settings.id);
    if (read === null) continue;
    const next = applyVolumeUpdate(JSON.parse(read) as StoredVolume, update);
    const res = await scripts.replace(ADMIN.volumes, v.settings.id, read, JSON.stringify(next)).catch((e) => { throw asFsError(e); });
    if (res === 1) return { settings: next.settings, capacityBytes: next.capacityBytes, inodeLimit: next.inodeLimit };
    if (res === 0) throw new FsError('ENOENT', `no volume "${nameOrId}"`);
  }
  throw new FsError('EAGAIN', `volume "${nameOrId}" kept changing: try again`);
}
