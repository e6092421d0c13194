import { FsError } from '../../errors/index.js';
import { hashSecret, newTokenSecret } from '../core/admin.js';
import type { TokenInfo, TokenSpec } from '../engine.js';
import { checkTokenScope, tokenExpired } from '../token-scope.js';
import type { AdminScripts } from './redis-admin-lua.js';
import { MAX_ADMIN_ATTEMPTS, storedVolume, tokenInfo, tokenRecs, type TokenRec } from './redis-admin-records.js';
import { ADMIN } from './redis-keys.js';
import type { RedisClient } from './redis-client.js';
import { backoff } from './redis-runner.js';

/** The redis engine's access tokens: create (secret stored hashed), list, revoke, check a secret. */

export async function createToken(r: RedisClient, scripts: AdminScripts,
  spec: TokenSpec): Promise<{ id: string; secret: string }> {
  const scope = checkTokenScope(spec);
  let volumeId: string | undefined;
  if (spec.volume !== undefined) {
    const v = await storedVolume(r, spec.volume);
    if (!v) throw new FsError('ENOENT', `no volume "${spec.volume}"`);
    volumeId = v.settings.id;
  }
  if (!spec.admin && volumeId === undefined) throw new FsError('EINVAL', 'a token needs a volume or admin rights');
  const t = newTokenSecret();
  const rec: TokenRec = { id: t.id, admin: !!spec.admin, createdAt: Date.now(), revoked: false, hash: t.hash };
  if (volumeId !== undefined) rec.volumeId = volumeId;
  if (spec.label !== undefined) rec.label = spec.label;
  Object.assign(rec, scope);
  // The volume is checked again in the same step, so a token never outlives a deleted volume.
  if ((await scripts.createToken(ADMIN.volumes, ADMIN.tokens, ADMIN.tokenHashes, volumeId ?? '', t.id, JSON.stringify(rec), t.hash)) !== 1) {
    throw new FsError('ENOENT', `no volume "${spec.volume}"`);
  }
  return { id: t.id, secret: t.secret };
}

export async function listTokens(r: RedisClient): Promise<TokenInfo[]> {
  return (await tokenRecs(r)).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).map(tokenInfo);
}

/** Compare-and-set: a token deleted meanwhile (with its volume) is not written back. */
export async function revokeToken(r: RedisClient, scripts: AdminScripts, id: string): Promise<void> {
  for (let attempt = 0; attempt < MAX_ADMIN_ATTEMPTS; attempt++) {
    const json = await r.hget(ADMIN.tokens, id);
    if (json === null) break;
    const t = JSON.parse(json) as TokenRec;
    if (t.revoked) return;
    t.revoked = true;
    const res = await scripts.replace(ADMIN.tokens, id, json, JSON.stringify(t));
    if (res === 1) return;
    if (res === 0) break;
    await backoff(attempt);
  }
  throw new FsError('ENOENT', `no token "${id}"`);
}

export async function checkToken(r: RedisClient, secret: string, opts?: { includeExpired?: boolean }): Promise<TokenInfo | null> {
  if (typeof secret !== 'string' || secret === '') return null;
  const id = await r.hget(ADMIN.tokenHashes, hashSecret(secret));
  if (id === null) return null;
  const json = await r.hget(ADMIN.tokens, id);
  if (json === null) return null;
  const t = JSON.parse(json) as TokenRec;
  if (t.revoked || (tokenExpired(t) && !opts?.includeExpired)) return null;
  return tokenInfo(t);
}
