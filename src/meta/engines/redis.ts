import { CoreMetaStore } from '../core/store.js';
import { VolumeInfoVersions } from '../core/info-versions.js';
import { META_SERVER_DEFAULTS } from '../../config/defaults.js';
import type { MetaTx, TxRunner } from '../core/tx.js';
import type { StoredVolume } from '../core/admin.js';
import type { ChangeBus, GcEntry, MetaEngine, SessionInfo, TokenInfo, TokenSpec, VolumeDetails, VolumeRecordAccess, VolumeSpec, VolumeUpdate } from '../engine.js';
import type { MetaStore, VolumeSettings } from '../types.js';
import { defineAdminScripts, type AdminScripts } from './redis-admin-lua.js';
import { sessionRecs, storedVolume, volumeInfo } from './redis-admin-records.js';
import type { Redis } from 'ioredis';
import type { RedisClient } from './redis-client.js';
import { connectRedis } from './redis-connect.js';
import { FailoverGuard, type SentinelPolicy } from './redis-failover.js';
import { isRedisEngineUrl, parseRedisUrl } from './redis-url.js';
import { RedisChangeBus } from './redis-changes.js';
import * as fsck from './redis-fsck.js';
import { RedisRunner } from './redis-runner.js';
import * as sessions from './redis-sessions.js';
import * as tokens from './redis-tokens.js';
import * as volumes from './redis-volumes.js';
import * as history from './redis-history.js';
import { recordingRunner } from '../history/recording-tx.js';
import { AsOfMetaStore } from '../history/store.js';

/**
 * The scale-out engine (ioredis). Each MetaStore operation runs core/store.ts optimistically
 * (RedisTx records reads, buffers writes) and then ONE generic Lua script (redis-lua.ts) that
 * validates the reads and applies the writes atomically; on conflict the operation re-runs
 * (redis-runner.ts). The rules therefore stay in core/, and several metadata servers may share
 * one Redis. Admin records (volumes, tokens, sessions) change through one script each
 * (redis-admin-lua.ts; redis-volumes.ts, redis-tokens.ts, redis-sessions.ts); gc and fsck read a
 * volume's keys whole (redis-fsck.ts).
 * The client is one server (or replication primary) or a Redis Cluster (redis-client.ts): keys are
 * hash-tagged per volume (redis-keys.ts), so a volume lives in one slot and each script or MULTI
 * runs on the one node owning it; SCANs walk every primary. Or it is the primary a set of Redis
 * Sentinels names (redis+sentinel://): then every call goes through a FailoverGuard
 * (redis-failover.ts), which retries across a failover and WAITs for replicas after mutations.
 * This module wires those parts into the MetaEngine.
 */

/**
 * `redis://host:port[/db]`, `rediss://…` (one server or a primary),
 * `redis+cluster://host:port[,host:port…]` (a Redis Cluster's seed nodes) or
 * `redis+sentinel://host:port[,…]/mastername[?…]` (redis-url.ts). The passwords come separately
 * (`password` for redis, `sentinelPassword` for the Sentinels), never in the URL.
 */
export async function openRedisEngine(opts: { url: string; password?: string; sentinelPassword?: string }): Promise<RedisEngine> {
  if (!opts?.url || !isRedisEngineUrl(opts.url)) {
    throw new Error('redis engine: expected a redis://, rediss://, redis+cluster:// or redis+sentinel:// URL');
  }
  const target = parseRedisUrl(opts.url);
  return new RedisEngine(await connectRedis(opts), target.kind === 'sentinel' ? target : undefined);
}

/** How a call fares across a failover: does it write, and may it run a second time. */
const READ = { mutating: false, rerunnable: true };
const IDEMPOTENT = { mutating: true, rerunnable: true };
const ONCE = { mutating: true, rerunnable: false };

export class RedisEngine implements MetaEngine, VolumeRecordAccess {
  readonly kind = 'redis' as const;
  private readonly runner: RedisRunner;
  private readonly admin: AdminScripts;
  private readonly store = (volumeId: string): CoreMetaStore => this.volumeStore(volumeId);
  private readonly buses = new Set<RedisChangeBus>();
  private readonly infoVersions = new VolumeInfoVersions();
  private readonly pruneGroup: ReturnType<typeof history.defineHistoryScripts>;

  private readonly guard?: FailoverGuard;

  constructor(private readonly r: RedisClient, sentinel?: SentinelPolicy) {
    this.runner = new RedisRunner(r);
    this.admin = defineAdminScripts(r);
    this.pruneGroup = history.defineHistoryScripts(r);
    if (sentinel) this.guard = new FailoverGuard(r as Redis, sentinel);
  }

  /** op through the FailoverGuard on Sentinel; as is otherwise. */
  private guarded<T>(how: { mutating: boolean; rerunnable: boolean }, op: () => Promise<T>): Promise<T> {
    return this.guard ? this.guard.run(op, how) : op();
  }

  // ------------------------------------------------------------ volumes

  async createVolume(spec: VolumeSpec): Promise<VolumeSettings> {
    const v = await this.guarded(ONCE, () => volumes.createVolume(this.r, this.admin, spec));
    await this.guarded(IDEMPOTENT, () => history.markHistoryStart(this.r, v.id, Date.now()));
    return v;
  }

  listVolumes(): Promise<VolumeSettings[]> {
    return this.guarded(READ, () => volumes.listVolumes(this.r));
  }

  async getVolume(nameOrId: string): Promise<VolumeSettings | null> {
    return (await this.storedVolume(nameOrId))?.settings ?? null;
  }

  async volumeDetails(nameOrId: string): Promise<VolumeDetails | null> {
    const v = await this.storedVolume(nameOrId);
    return v ? { settings: v.settings, capacityBytes: v.capacityBytes, inodeLimit: v.inodeLimit } : null;
  }

  async updateVolume(nameOrId: string, update: VolumeUpdate): Promise<VolumeDetails> {
    const updated = await this.guarded(ONCE, () => volumes.updateVolume(this.r, this.admin, nameOrId, update));
    this.infoVersions.bump(updated.settings.id);
    return updated;
  }

  deleteVolume(nameOrId: string, force = false): Promise<void> {
    return this.guarded(ONCE, () => volumes.deleteVolume(this.r, this.admin, nameOrId, force));
  }

  async restoreVolume(v: StoredVolume): Promise<VolumeSettings> {
    const settings = await this.guarded(ONCE, () => volumes.insertVolume(this.r, this.admin, v));
    await this.guarded(IDEMPOTENT, () => history.markHistoryStart(this.r, settings.id, Date.now()));
    return settings;
  }

  storedVolume(nameOrId: string): Promise<StoredVolume | null> {
    return this.guarded(READ, () => storedVolume(this.r, nameOrId));
  }

  transactRecords<T>(volumeId: string, fn: (tx: MetaTx) => Promise<T>, readOnly?: boolean): Promise<T> {
    return this.guarded(readOnly ? READ : IDEMPOTENT, () => this.runner.transact(volumeId, fn, readOnly));
  }

  gcEntries(volumeId: string): AsyncIterable<GcEntry> {
    return fsck.gcEntries(this.r, volumeId);
  }

  volume(volumeId: string, atMs?: number): MetaStore {
    if (atMs !== undefined) return new AsOfMetaStore(this.volumeRunner(volumeId), atMs);
    return this.volumeStore(volumeId);
  }

  private volumeStore(volumeId: string): CoreMetaStore {
    return new CoreMetaStore(recordingRunner(this.volumeRunner(volumeId)));
  }

  private volumeRunner(volumeId: string): TxRunner {
    return {
      transact: <T>(fn: (tx: MetaTx) => Promise<T>, readOnly?: boolean) => this.transactRecords(volumeId, fn, readOnly),
      info: () => this.guarded(READ, () => volumeInfo(this.r, volumeId)),
      // This server's own updates apply at once; another server's within volumeLimitsRefreshMs.
      infoVersion: () => `${this.infoVersions.get(volumeId)}:${Math.floor(Date.now() / META_SERVER_DEFAULTS.volumeLimitsRefreshMs)}`,
    };
  }

  historyStart(volumeId: string): Promise<number | null> {
    return this.guarded(READ, () => history.historyStart(this.r, volumeId));
  }

  pruneHistory(volumeId: string, upToMs: number): Promise<number> {
    // each group's prune is one script and the start only rises: safe to run again after a failover
    return this.guarded(IDEMPOTENT, () => history.pruneHistory(this.r, this.pruneGroup, volumeId, upToMs));
  }

  // ------------------------------------------------------------ tokens

  createToken(spec: TokenSpec): Promise<{ id: string; secret: string }> {
    return this.guarded(ONCE, () => tokens.createToken(this.r, this.admin, spec));
  }

  listTokens(): Promise<TokenInfo[]> {
    return this.guarded(READ, () => tokens.listTokens(this.r));
  }

  revokeToken(id: string): Promise<void> {
    return this.guarded(ONCE, () => tokens.revokeToken(this.r, this.admin, id));
  }

  checkToken(secret: string, opts?: { includeExpired?: boolean }): Promise<TokenInfo | null> {
    return this.guarded(READ, () => tokens.checkToken(this.r, secret, opts));
  }

  // ------------------------------------------------------------ sessions

  openSession(volumeId: string, info: { host: string; pid: number; mountpoint?: string }, ttlSeconds: number): Promise<string> {
    return this.guarded(IDEMPOTENT, () => sessions.openSession(this.r, this.admin, volumeId, info, ttlSeconds));
  }

  heartbeat(sessionId: string, ttlSeconds: number): Promise<boolean> {
    return this.guarded(IDEMPOTENT, () => sessions.heartbeat(this.r, this.admin, sessionId, ttlSeconds));
  }

  closeSession(sessionId: string): Promise<void> {
    return this.guarded(IDEMPOTENT, () => sessions.endSession(this.r, this.store, sessionId));
  }

  expireSessions(now = Date.now()): Promise<number> {
    return this.guarded(IDEMPOTENT, () => sessions.expireSessions(this.r, this.store, now));
  }

  listSessions(volumeId?: string): Promise<SessionInfo[]> {
    return this.guarded(READ, () => sessionRecs(this.r, volumeId));
  }

  // ------------------------------------------------------------ gc and fsck

  gcQueue(volumeId: string, olderThanMs: number, limit: number): Promise<GcEntry[]> {
    return this.guarded(READ, () => fsck.gcQueue(this.r, volumeId, olderThanMs, limit));
  }

  gcDone(volumeId: string, entries: GcEntry[]): Promise<void> {
    return this.guarded(IDEMPOTENT, () => fsck.gcDone(this.r, volumeId, entries));
  }

  referencedBlocks(volumeId: string): AsyncIterable<{ ino: number; index: number; blockId: number; length: number }> {
    return fsck.referencedBlocks(this.r, volumeId);
  }

  checkNamespace(volumeId: string): Promise<string[]> {
    return this.guarded(READ, () => fsck.checkNamespace(this.r, volumeId));
  }

  /** Pub/sub between the meta.flexfs servers of this Redis (redis-changes.ts); one per server. */
  changeBus(): ChangeBus {
    const bus = new RedisChangeBus(this.r);
    this.buses.add(bus);
    return bus;
  }

  async close(): Promise<void> {
    await Promise.all([...this.buses].map((b) => b.close()));
    if (this.r.status === 'end') return;
    await this.r.quit().catch(() => this.r.disconnect());
  }
}
