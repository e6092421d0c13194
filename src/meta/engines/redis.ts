import { FsError, isFsError } from '../../errors/index.js';
import { buildVolume, checkNamespaceSnapshot, hashSecret, newSessionId, newTokenSecret, rootInode, type StoredVolume } from '../core/admin.js';
import { decodeInode, encodeInode } from '../core/rules.js';
import { CoreMetaStore } from '../core/store.js';
import type { InodeRec, MetaTx, VolumeInfo } from '../core/tx.js';
import type { GcEntry, MetaEngine, SessionInfo, TokenInfo, VolumeSpec } from '../engine.js';
import { ROOT_INO, type MetaStore, type VolumeSettings } from '../types.js';
import { Mutex } from '../../util/mutex.js';
import { sleep } from '../../util/sleep.js';
import { packForLua, type LuaValue } from './lua-pack.js';
import { APPLY_LUA } from './redis-lua.js';
import { defineAdminScripts, type AdminScripts } from './redis-admin-lua.js';
import { ADMIN, volumeKeys } from './redis-keys.js';
import { RedisTx } from './redis-tx.js';
import { scanKeys, type RedisClient } from './redis-client.js';
import { connectRedis } from './redis-connect.js';

/**
 * The scale-out engine (ioredis). Each MetaStore operation runs core/store.ts optimistically
 * (RedisTx records reads, buffers writes) and then ONE generic Lua script (redis-lua.ts) that
 * validates the reads and applies the writes atomically; on conflict the operation re-runs.
 * The rules therefore stay in core.ts, and several metadata servers may share one Redis.
 * Admin records (volumes, tokens, sessions) change through one script each (redis-admin-lua.ts).
 * The client is one server (or replication primary) or a Redis Cluster (redis-client.ts): keys are
 * hash-tagged per volume (redis-keys.ts), so a volume lives in one slot and each script or MULTI
 * runs on the one node owning it; SCANs walk every primary. Sentinel is not supported yet.
 */

const MAX_ATTEMPTS = 200;
/** Compare-and-set retries of an admin record that others keep changing. */
const MAX_ADMIN_ATTEMPTS = 50;
/** Read-only operations with more checks than this are listings, left unvalidated (see read()). */
const MAX_VALIDATED_READS = 32;

type ApplyFn = (numKeys: number, ...args: (string | Buffer | number)[]) => Promise<number>;

function asFsError(e: unknown): unknown {
  if (isFsError(e)) return e;
  return new FsError('EIO', `redis: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/**
 * `redis://host:port[/db]`, `rediss://…` (one server or a primary) or
 * `redis+cluster://host:port[,host:port…]` (a Redis Cluster's seed nodes). The password comes
 * separately, never in a cluster URL.
 */
export async function openRedisEngine(opts: { url: string; password?: string }): Promise<RedisEngine> {
  if (!opts?.url || !/^(rediss?|redis\+cluster):\/\//i.test(opts.url)) {
    throw new Error('redis engine: expected a redis://, rediss:// or redis+cluster:// URL');
  }
  return new RedisEngine(await connectRedis(opts));
}

interface SessionRec extends SessionInfo {}
interface TokenRec extends TokenInfo { hash: string }

export class RedisEngine implements MetaEngine {
  readonly kind = 'redis' as const;
  private readonly apply: ApplyFn;
  private readonly admin: AdminScripts;
  private readonly lanes = new Map<string, { waiting: number; mutex: Mutex }>();

  constructor(private readonly r: RedisClient) {
    r.defineCommand('flexfsApply', { lua: APPLY_LUA });
    this.apply = (r as unknown as { flexfsApply: ApplyFn }).flexfsApply.bind(r);
    this.admin = defineAdminScripts(r);
  }

  /**
   * Run fn optimistically, then validate+apply in one script; re-run on conflict. Operations of
   * this process that conflicted (and any that arrive while others are retrying) re-run one at a
   * time per volume: optimistic runs alone would livelock when hundreds of calls change one
   * directory at once, since every create also updates the parent's times.
   */
  private async transact<T>(volumeId: string, fn: (tx: MetaTx) => Promise<T>, readOnly = false): Promise<T> {
    if (readOnly) return this.read(volumeId, fn);
    let lane = this.lanes.get(volumeId);
    if (!lane) { lane = { waiting: 0, mutex: new Mutex() }; this.lanes.set(volumeId, lane); }
    if (lane.waiting === 0) {
      const first = await this.attempt(volumeId, fn);
      if (first.done) return first.result as T;
    }
    lane.waiting++;
    try {
      return await lane.mutex.run(async () => {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
          const r = await this.attempt(volumeId, fn);
          if (r.done) return r.result as T;
          await this.backoff(attempt);
        }
        throw new FsError('EAGAIN', 'metadata operation kept conflicting with concurrent changes');
      });
    } finally {
      lane.waiting--;
    }
  }

  /**
   * A read-only operation. A read of one key is atomic by itself; a read of several (lookup
   * reads the entry, then the inode) is validated by the script with no writes, so a rename in
   * between cannot make an existing name look absent. Listings (readdir pages read hundreds of
   * keys) are not validated: POSIX leaves readdir under concurrent change unspecified.
   */
  private async read<T>(volumeId: string, fn: (tx: MetaTx) => Promise<T>): Promise<T> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const tx = new RedisTx(this.r, volumeKeys(volumeId));
      let result: T | undefined;
      let error: unknown;
      try { result = await fn(tx); } catch (e) {
        if (!isFsError(e)) throw asFsError(e);
        error = e;
      }
      if (tx.checks.length <= 1 || tx.checks.length > MAX_VALIDATED_READS || (await this.submit(tx, false))) {
        if (error !== undefined) throw error;
        return result as T;
      }
      await this.backoff(attempt);
    }
    throw new FsError('EAGAIN', 'metadata read kept conflicting with concurrent changes');
  }

  /** One optimistic run: done with a result, thrown error, or not done (conflict). */
  private async attempt<T>(volumeId: string, fn: (tx: MetaTx) => Promise<T>): Promise<{ done: boolean; result?: T }> {
    const tx = new RedisTx(this.r, volumeKeys(volumeId));
    let result: T;
    try {
      result = await fn(tx);
    } catch (e) {
      // An error decided on reads that have since changed may be wrong: re-run in that case.
      if (!isFsError(e)) throw asFsError(e);
      if (tx.checks.length === 0 || (await this.submit(tx, false))) throw e;
      return { done: false };
    }
    if (tx.writes.length === 0 && tx.checks.length <= 1) return { done: true, result };
    if (await this.submit(tx, tx.writes.length > 0)) return { done: true, result };
    return { done: false };
  }

  private async submit(tx: RedisTx, withWrites: boolean): Promise<boolean> {
    const arg = packForLua([tx.checks as LuaValue[], withWrites ? (tx.writes as LuaValue[]) : []]);
    try {
      return (await this.apply(tx.keys.length, ...tx.keys, arg)) === 1;
    } catch (e) {
      throw asFsError(e);
    }
  }

  private backoff(attempt: number): Promise<void> {
    return sleep(Math.random() * Math.min(50, 1 + attempt * 2));
  }

  // ------------------------------------------------------------ volumes

  private async stored(nameOrId: string): Promise<StoredVolume | null> {
    let json = await this.r.hget(ADMIN.volumes, nameOrId);
    if (json === null) {
      const id = await this.r.hget(ADMIN.volumeNames, nameOrId);
      if (id !== null) json = await this.r.hget(ADMIN.volumes, id);
    }
    return json === null ? null : (JSON.parse(json) as StoredVolume);
  }

  /**
   * The volume's own keys first (unreachable until named: a crash here leaves only stray keys
   * under a fresh id), then one script names it; a taken name removes the keys again.
   */
  async createVolume(spec: VolumeSpec): Promise<VolumeSettings> {
    const v = buildVolume(spec);
    const id = v.settings.id;
    const k = volumeKeys(id);
    const made = await this.r.multi()
      .set(k.inode(ROOT_INO), encodeInode(rootInode()))
      .hset(k.counters, 'lastIno', '1', 'lastBlock', '0', 'inodes', '1', 'usedBytes', '0')
      .exec();
    const failed = made?.find(([err]) => err)?.[0];
    if (!made || failed) throw asFsError(failed ?? new Error('transaction aborted'));
    let named: number;
    try {
      named = await this.admin.createVolume(ADMIN.volumeNames, ADMIN.volumes, v.settings.name, id, JSON.stringify(v));
    } catch (e) {
      await this.r.del(k.inode(ROOT_INO), k.counters).catch(() => undefined);
      throw asFsError(e);
    }
    if (named !== 1) {
      await this.r.del(k.inode(ROOT_INO), k.counters);
      throw new FsError('EEXIST', `volume "${spec.name}" already exists`);
    }
    return v.settings;
  }

  async listVolumes(): Promise<VolumeSettings[]> {
    const all = (await this.r.hvals(ADMIN.volumes)).map((j) => (JSON.parse(j) as StoredVolume).settings);
    return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async getVolume(nameOrId: string): Promise<VolumeSettings | null> {
    return (await this.stored(nameOrId))?.settings ?? null;
  }

  async deleteVolume(nameOrId: string, force = false): Promise<void> {
    const v = await this.stored(nameOrId);
    if (!v) throw new FsError('ENOENT', `no volume "${nameOrId}"`);
    const id = v.settings.id;
    const k = volumeKeys(id);
    if (!force && (await this.r.hlen(k.entries(ROOT_INO))) > 0) throw new FsError('ENOTEMPTY', `volume "${v.settings.name}" still has files`);
    // One script forgets the volume, its name, tokens and sessions; its keys go afterwards (a
    // crash in between leaves unreachable keys, not a half-deleted volume).
    const tokens = (await this.tokenRecs()).filter((t) => t.volumeId === id).flatMap((t) => [t.id, t.hash]);
    const sessions = (await this.listSessions(id)).map((s) => s.id);
    await this.admin.deleteVolume(ADMIN.volumes, ADMIN.volumeNames, ADMIN.tokens, ADMIN.tokenHashes, ADMIN.sessions,
      ADMIN.sessionExpiry, id, v.settings.name, tokens.length / 2, ...tokens, ...sessions);
    for await (const batch of this.scan(k.all)) if (batch.length) await this.r.del(...batch);
  }

  /** Keys matching `pattern`, in batches, from every primary (redis-client.ts). */
  private scan(pattern: string): AsyncIterable<string[]> {
    return scanKeys(this.r, pattern);
  }

  volume(volumeId: string): MetaStore {
    return this.volumeStore(volumeId);
  }

  private volumeStore(volumeId: string): CoreMetaStore {
    return new CoreMetaStore({
      transact: <T>(fn: (tx: MetaTx) => Promise<T>, readOnly?: boolean) => this.transact(volumeId, fn, readOnly),
      info: async (): Promise<VolumeInfo> => {
        const json = await this.r.hget(ADMIN.volumes, volumeId).catch((e) => { throw asFsError(e); });
        if (json === null) throw new FsError('ENOENT', `no volume with id "${volumeId}"`);
        const v = JSON.parse(json) as StoredVolume;
        return { settings: v.settings, capacityBytes: v.capacityBytes, inodeLimit: v.inodeLimit };
      },
    });
  }

  // ------------------------------------------------------------ tokens

  async createToken(spec: { volume?: string; admin?: boolean; label?: string }): Promise<{ id: string; secret: string }> {
    let volumeId: string | undefined;
    if (spec.volume !== undefined) {
      const v = await this.stored(spec.volume);
      if (!v) throw new FsError('ENOENT', `no volume "${spec.volume}"`);
      volumeId = v.settings.id;
    }
    if (!spec.admin && volumeId === undefined) throw new FsError('EINVAL', 'a token needs a volume or admin rights');
    const t = newTokenSecret();
    const rec: TokenRec = { id: t.id, admin: !!spec.admin, createdAt: Date.now(), revoked: false, hash: t.hash };
    if (volumeId !== undefined) rec.volumeId = volumeId;
    if (spec.label !== undefined) rec.label = spec.label;
    // The volume is checked again in the same step, so a token never outlives a deleted volume.
    if ((await this.admin.createToken(ADMIN.volumes, ADMIN.tokens, ADMIN.tokenHashes, volumeId ?? '', t.id, JSON.stringify(rec), t.hash)) !== 1) {
      throw new FsError('ENOENT', `no volume "${spec.volume}"`);
    }
    return { id: t.id, secret: t.secret };
  }

  private async tokenRecs(): Promise<TokenRec[]> {
    return (await this.r.hvals(ADMIN.tokens)).map((j) => JSON.parse(j) as TokenRec);
  }

  private static info(t: TokenRec): TokenInfo {
    const { hash: _hash, ...info } = t;
    return info;
  }

  async listTokens(): Promise<TokenInfo[]> {
    return (await this.tokenRecs()).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).map(RedisEngine.info);
  }

  /** Compare-and-set: a token deleted meanwhile (with its volume) is not written back. */
  async revokeToken(id: string): Promise<void> {
    for (let attempt = 0; attempt < MAX_ADMIN_ATTEMPTS; attempt++) {
      const json = await this.r.hget(ADMIN.tokens, id);
      if (json === null) break;
      const t = JSON.parse(json) as TokenRec;
      if (t.revoked) return;
      t.revoked = true;
      const r = await this.admin.replace(ADMIN.tokens, id, json, JSON.stringify(t));
      if (r === 1) return;
      if (r === 0) break;
      await this.backoff(attempt);
    }
    throw new FsError('ENOENT', `no token "${id}"`);
  }

  async checkToken(secret: string): Promise<TokenInfo | null> {
    if (typeof secret !== 'string' || secret === '') return null;
    const id = await this.r.hget(ADMIN.tokenHashes, hashSecret(secret));
    if (id === null) return null;
    const json = await this.r.hget(ADMIN.tokens, id);
    if (json === null) return null;
    const t = JSON.parse(json) as TokenRec;
    return t.revoked ? null : RedisEngine.info(t);
  }

  // ------------------------------------------------------------ sessions

  async openSession(volumeId: string, info: { host: string; pid: number; mountpoint?: string }, ttlSeconds: number): Promise<string> {
    const now = Date.now();
    const s: SessionRec = { id: newSessionId(), volumeId, host: String(info.host), pid: info.pid | 0, startedAt: now, expiresAt: now + ttlSeconds * 1000 };
    if (info.mountpoint !== undefined) s.mountpoint = info.mountpoint;
    if ((await this.admin.openSession(ADMIN.volumes, ADMIN.sessions, ADMIN.sessionExpiry, volumeId, s.id, JSON.stringify(s), String(s.expiresAt))) !== 1) {
      throw new FsError('ENOENT', `no volume with id "${volumeId}"`);
    }
    return s.id;
  }

  /** One script checks the session is there and unexpired and extends it (record and zset). */
  async heartbeat(sessionId: string, ttlSeconds: number): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_ADMIN_ATTEMPTS; attempt++) {
      const json = await this.r.hget(ADMIN.sessions, sessionId);
      if (json === null) return false;
      const s = JSON.parse(json) as SessionRec;
      const now = Date.now();
      if (s.expiresAt < now) return false;
      s.expiresAt = now + ttlSeconds * 1000;
      const r = await this.admin.heartbeat(ADMIN.sessions, ADMIN.sessionExpiry, sessionId, json, JSON.stringify(s), String(now), String(s.expiresAt));
      if (r !== -1) return r === 1;
      await this.backoff(attempt);
    }
    throw new FsError('EAGAIN', 'session record kept changing during the heartbeat');
  }

  /** Release the session's holds through the core (frees unlinked inodes), then forget it. */
  private async endSession(sessionId: string): Promise<void> {
    const json = await this.r.hget(ADMIN.sessions, sessionId);
    if (json !== null) {
      const s = JSON.parse(json) as SessionRec;
      const k = volumeKeys(s.volumeId);
      const held = await this.r.hkeys(k.sessionHolds(sessionId));
      const store = this.volumeStore(s.volumeId);
      for (const ino of held) await store.releaseSession(Number(ino), sessionId);
      await this.r.del(k.sessionHolds(sessionId));
    }
    await this.forgetSession(sessionId);
  }

  private async forgetSession(sessionId: string): Promise<void> {
    await this.r.multi().hdel(ADMIN.sessions, sessionId).zrem(ADMIN.sessionExpiry, sessionId).exec();
  }

  async closeSession(sessionId: string): Promise<void> {
    await this.endSession(sessionId);
  }

  async expireSessions(now = Date.now()): Promise<number> {
    const ids = await this.r.zrangebyscore(ADMIN.sessionExpiry, '-inf', `(${now}`);
    for (const id of ids) await this.endSession(id);
    return ids.length;
  }

  async listSessions(volumeId?: string): Promise<SessionInfo[]> {
    const all = (await this.r.hvals(ADMIN.sessions)).map((j) => JSON.parse(j) as SessionRec);
    return all.filter((s) => volumeId === undefined || s.volumeId === volumeId).sort((a, b) => a.startedAt - b.startedAt);
  }

  // ------------------------------------------------------------ gc and fsck

  async gcQueue(volumeId: string, olderThanMs: number, limit: number): Promise<GcEntry[]> {
    const flat = await this.r.zrangebyscore(volumeKeys(volumeId).gc, '-inf', String(olderThanMs), 'WITHSCORES', 'LIMIT', 0, limit);
    const out: GcEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const [blockId, ino, index] = flat[i].split(':').map(Number);
      out.push({ blockId, ino, index, queuedAt: Number(flat[i + 1]) });
    }
    return out;
  }

  async gcDone(volumeId: string, entries: GcEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.r.zrem(volumeKeys(volumeId).gc, ...entries.map((e) => `${e.blockId}:${e.ino}:${e.index}`));
  }

  async *referencedBlocks(volumeId: string): AsyncIterable<{ ino: number; index: number; blockId: number; length: number }> {
    const k = volumeKeys(volumeId);
    const prefix = k.slots(0).slice(0, -1);
    for await (const batch of this.scan(`${prefix}*`)) {
      for (const key of batch) {
        const ino = Number(key.slice(prefix.length));
        const flat = (await this.r.call('HGETALL', key)) as string[];
        for (let i = 0; i < flat.length; i += 2) {
          const [blockId, length] = flat[i + 1].split(':').map(Number);
          yield { ino, index: Number(flat[i]), blockId, length };
        }
      }
    }
    for (let start = 0; ; start += 1000) {
      const members = await this.r.zrange(k.gc, String(start), String(start + 999));
      for (const m of members) {
        const [blockId, ino, index] = m.split(':').map(Number);
        yield { ino, index, blockId, length: 0 };
      }
      if (members.length < 1000) break;
    }
  }

  async checkNamespace(volumeId: string): Promise<string[]> {
    const k = volumeKeys(volumeId);
    const inodes: InodeRec[] = [];
    const iPrefix = k.inode(0).slice(0, -1);
    for await (const batch of this.scan(`${iPrefix}*`)) {
      if (batch.length === 0) continue;
      for (const v of await this.r.mget(...batch)) if (v !== null) inodes.push(decodeInode(v));
    }
    const entries: { parent: number; name: string; ino: number }[] = [];
    const ePrefix = k.entries(0).slice(0, -1);
    for await (const batch of this.scan(`${ePrefix}*`)) {
      for (const key of batch) {
        const parent = Number(key.slice(ePrefix.length));
        const all = await this.r.hgetall(key);
        for (const [name, ino] of Object.entries(all)) entries.push({ parent, name, ino: Number(ino) });
        const names = await this.r.zcard(k.names(parent));
        if (names !== Object.keys(all).length) entries.push({ parent, name: '(name index differs from entries)', ino: -1 });
      }
    }
    const holds = new Map<number, number>();
    const hPrefix = k.holds(0).slice(0, -1);
    for await (const batch of this.scan(`${hPrefix}*`)) {
      for (const key of batch) {
        const sum = Object.values(await this.r.hgetall(key)).reduce((a, b) => a + Number(b), 0);
        holds.set(Number(key.slice(hPrefix.length)), sum);
      }
    }
    const c = await this.r.hmget(k.counters, 'inodes', 'usedBytes');
    return checkNamespaceSnapshot({ inodes, entries, holds, counters: { inodes: Number(c[0] ?? 0), usedBytes: Number(c[1] ?? 0) } });
  }

  async close(): Promise<void> {
    if (this.r.status === 'end') return;
    await this.r.quit().catch(() => this.r.disconnect());
  }
}
