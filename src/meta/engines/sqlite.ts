import Database from 'better-sqlite3';
import { chmod, open } from 'node:fs/promises';
import { FsError } from '../../errors/index.js';
import { applyVolumeUpdate, buildVolume, checkNamespaceSnapshot, hashSecret, newSessionId, newTokenSecret, rootInode, type StoredVolume } from '../core/admin.js';
import { CoreMetaStore } from '../core/store.js';
import { VolumeInfoVersions } from '../core/info-versions.js';
import type { LinkParents, MetaTx, QuotaRec, TxRunner, VolumeInfo } from '../core/tx.js';
import type { GcEntry, MetaEngine, SessionInfo, TokenInfo, TokenSpec, VolumeDetails, VolumeRecordAccess, VolumeSpec, VolumeUpdate } from '../engine.js';
import { checkTokenScope, scopeOf, tokenExpired, type TokenScope } from '../token-scope.js';
import type { MetaStore, VolumeSettings } from '../types.js';
import { GroupCommitter, isBusy, type GroupCommitStats } from './sqlite-group.js';
import { SCHEMA, SqliteTx, prepareStatements, putInode, rowToInode, type Statements } from './sqlite-tx.js';
import { TIMEOUTS } from '../../config/defaults.js';
import { recordingRunner } from '../history/recording-tx.js';
import { AsOfMetaStore } from '../history/store.js';

/**
 * The embedded engine: one sqlite file (WAL) holds every volume. Each operation is one job of
 * sqlite-group.ts: reads in their own snapshot transaction, mutations in a SAVEPOINT of a group
 * transaction committed once for all the mutations queued together (group commit), each answered
 * after that COMMIT. busy_timeout is 0 so another connection's lock never blocks the thread: BEGIN
 * is retried asynchronously instead. better-sqlite3 is synchronous, so a commit's fsync holds the
 * thread it runs on: `--local` mounts therefore run this engine in a worker thread
 * (sqlite-worker.ts), meta.flexfs runs it in-process.
 */

const BUSY_DEADLINE_MS = TIMEOUTS.sqliteBusyMs;

export interface SqliteEngineOptions {
  file: string;
  /** synchronous=FULL (every commit durable) instead of NORMAL. */
  sync?: boolean;
  /**
   * Wait one event-loop turn before each group so that calls arriving as separate events share a
   * commit (set in the worker thread, where each call is a message; see sqlite-group.ts).
   */
  gatherEvents?: boolean;
}

export async function openSqliteEngine(opts: SqliteEngineOptions): Promise<SqliteEngine> {
  return withOwnerOnlyFiles(opts?.file, async () => new SqliteEngine(opts));
}

/**
 * Open a database with `open` so that it and its -wal/-shm are mode 0600: meta.db holds token
 * hashes, wrapped data keys and maybe bucket keys. sqlite makes -wal/-shm with the database's
 * mode, so 0600 first, then the side files explicitly as well. Used in-process and by the worker
 * client (sqlite-worker-client.ts), whose thread opens the file.
 */
export async function withOwnerOnlyFiles<T>(file: string | undefined, open: () => Promise<T>): Promise<T> {
  const onDisk = !!file && file !== ':memory:' && !file.startsWith('file:');
  if (onDisk) await restrictToOwner(file, true);
  const engine = await open();
  if (onDisk) for (const side of ['-wal', '-shm']) await restrictToOwner(file + side, false);
  return engine;
}

/**
 * Make `path` mode 0600 (creating it empty when `create`). A file or folder not ours to create or
 * chmod (read-only access, missing folder) is left alone: sqlite then opens it or says why not.
 */
async function restrictToOwner(path: string, create: boolean): Promise<void> {
  const leaveAlone = (e: NodeJS.ErrnoException) => {
    if (!['ENOENT', 'EPERM', 'EACCES', 'EROFS'].includes(e.code ?? '')) throw e;
  };
  if (create) {
    try { await (await open(path, 'a', 0o600)).close(); } catch (e) { leaveAlone(e as NodeJS.ErrnoException); return; }
  }
  await chmod(path, 0o600).catch(leaveAlone);
}

type VolumeRow = { id: string; name: string; settings: string; capacity: number; inode_limit: number; created_at: number };
type TokenRow = { id: string; hash: string; volume_id: string | null; admin: number; label: string | null; created_at: number; revoked: number };
/** A token's scope (token-scope.ts) as JSON, in a table of its own; tokens without one have no row. */
const TOKEN_SCOPE_SCHEMA = 'CREATE TABLE IF NOT EXISTS token_scopes (id TEXT PRIMARY KEY, scope TEXT NOT NULL) WITHOUT ROWID;';
type TokenScopeRow = { scope: string | null };
type SessionRow = { id: string; volume_id: string; host: string; pid: number; mountpoint: string | null; started_at: number; expires_at: number };

export class SqliteEngine implements MetaEngine, VolumeRecordAccess {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly s: Statements;
  private readonly group: GroupCommitter;
  private readonly txs = new Map<string, SqliteTx>();
  private readonly infoVersions = new VolumeInfoVersions();

  constructor(opts: SqliteEngineOptions) {
    if (!opts?.file) throw new Error('sqlite engine: no database file given');
    // Start-up only: opening and schema creation are synchronous by nature of better-sqlite3.
    this.db = new Database(opts.file, { timeout: 0 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.sync ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('foreign_keys = OFF');
    this.withBusyRetrySync(() => this.db.exec(SCHEMA));
    this.withBusyRetrySync(() => this.db.exec(TOKEN_SCOPE_SCHEMA));
    this.s = prepareStatements(this.db);
    this.group = new GroupCommitter(this.db, opts.gatherEvents);
  }

  /** Group-commit counters (transactions vs mutations), for tests and benchmarks. */
  async commitStats(): Promise<GroupCommitStats> {
    return { ...this.group.stats };
  }

  /** What a commit survives: 'power-loss' (synchronous=FULL) or 'process-crash' (NORMAL). */
  get durability(): 'power-loss' | 'process-crash' {
    return this.db.pragma('synchronous', { simple: true }) === 2 ? 'power-loss' : 'process-crash';
  }

  private withBusyRetrySync(fn: () => void): void {
    const deadline = Date.now() + BUSY_DEADLINE_MS;
    for (;;) {
      try { fn(); return; } catch (e) {
        if (!isBusy(e) || Date.now() > deadline) throw e;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // start-up only
      }
    }
  }

  /** One job of the group committer (see sqlite-group.ts); rejects with FsError. */
  private run<T>(fn: () => Promise<T> | T, readOnly = false): Promise<T> {
    return this.group.run(fn, readOnly);
  }

  private tx(vol: string): SqliteTx {
    let t = this.txs.get(vol);
    if (!t) { t = new SqliteTx(this.s, vol); this.txs.set(vol, t); }
    return t;
  }

  // ------------------------------------------------------------ volumes

  private findVolume(nameOrId: string): VolumeRow | undefined {
    return this.db.prepare('SELECT * FROM volumes WHERE id = ? OR name = ?').get(nameOrId, nameOrId) as VolumeRow | undefined;
  }

  async createVolume(spec: VolumeSpec): Promise<VolumeSettings> {
    return this.insertVolume(buildVolume(spec));
  }

  async restoreVolume(v: StoredVolume): Promise<VolumeSettings> {
    return this.insertVolume(v);
  }

  private insertVolume(v: StoredVolume): Promise<VolumeSettings> {
    return this.run(() => {
      if (this.findVolume(v.settings.name)) throw new FsError('EEXIST', `volume "${v.settings.name}" already exists`);
      const id = v.settings.id;
      if (this.findVolume(id)) throw new FsError('EEXIST', `a volume with id "${id}" already exists`);
      this.db.prepare('INSERT INTO volumes (id, name, settings, capacity, inode_limit, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(id, v.settings.name, JSON.stringify(v.settings), v.capacityBytes, v.inodeLimit, v.createdAt);
      putInode(this.s, id, rootInode());
      this.s.histStartSet.run(id, Date.now());
      for (const [name, value] of [['nextIno', 2], ['nextBlock', 1], ['inodes', 1], ['usedBytes', 0]] as const) {
        this.s.counterInit.run(id, name, value);
      }
      return v.settings;
    });
  }

  async listVolumes(): Promise<VolumeSettings[]> {
    return this.run(() => (this.db.prepare('SELECT settings FROM volumes ORDER BY name').all() as { settings: string }[])
      .map((r) => JSON.parse(r.settings) as VolumeSettings), true);
  }

  async getVolume(nameOrId: string): Promise<VolumeSettings | null> {
    return this.run(() => {
      const row = this.findVolume(nameOrId);
      return row ? (JSON.parse(row.settings) as VolumeSettings) : null;
    }, true);
  }

  async storedVolume(nameOrId: string): Promise<StoredVolume | null> {
    return this.run(() => {
      const row = this.findVolume(nameOrId);
      return row ? { settings: JSON.parse(row.settings) as VolumeSettings, capacityBytes: row.capacity, inodeLimit: row.inode_limit, createdAt: row.created_at } : null;
    }, true);
  }

  transactRecords<T>(volumeId: string, fn: (tx: MetaTx) => Promise<T>, readOnly?: boolean): Promise<T> {
    return this.run(() => fn(this.tx(volumeId)), readOnly);
  }

  async *gcEntries(volumeId: string): AsyncIterable<GcEntry> {
    for (let after = 0; ;) {
      const page = await this.run(() => this.s.gcAfter.all(volumeId, after, 1000) as GcEntry[], true);
      yield* page;
      if (page.length < 1000) return;
      after = page[page.length - 1].blockId;
    }
  }

  async volumeDetails(nameOrId: string): Promise<VolumeDetails | null> {
    return this.run(() => {
      const row = this.findVolume(nameOrId);
      return row ? { settings: JSON.parse(row.settings) as VolumeSettings, capacityBytes: row.capacity, inodeLimit: row.inode_limit } : null;
    }, true);
  }

  async updateVolume(nameOrId: string, update: VolumeUpdate): Promise<VolumeDetails> {
    const updated = await this.run(() => {
      const row = this.findVolume(nameOrId);
      if (!row) throw new FsError('ENOENT', `no volume "${nameOrId}"`);
      const v = applyVolumeUpdate({ settings: JSON.parse(row.settings) as VolumeSettings, capacityBytes: row.capacity, inodeLimit: row.inode_limit, createdAt: row.created_at }, update);
      this.db.prepare('UPDATE volumes SET settings = ?, capacity = ?, inode_limit = ? WHERE id = ?')
        .run(JSON.stringify(v.settings), v.capacityBytes, v.inodeLimit, row.id);
      return { settings: v.settings, capacityBytes: v.capacityBytes, inodeLimit: v.inodeLimit };
    });
    // after the commit: this engine's open stores (every session's) enforce the new limits
    this.infoVersions.bump(updated.settings.id);
    return updated;
  }

  async deleteVolume(nameOrId: string, force = false): Promise<void> {
    await this.run(() => {
      const row = this.findVolume(nameOrId);
      if (!row) throw new FsError('ENOENT', `no volume "${nameOrId}"`);
      if (!force && this.s.entryAny.get(row.id, 1) !== undefined) throw new FsError('ENOTEMPTY', `volume "${row.name}" still has files`);
      for (const t of ['counters', 'inodes', 'entries', 'xattrs', 'slots', 'holds', 'locks', 'link_parents', 'quotas', 'gc', 'ops', 'history', 'history_start']) {
        this.db.prepare(`DELETE FROM ${t} WHERE vol = ?`).run(row.id);
      }
      this.db.prepare('DELETE FROM sessions WHERE volume_id = ?').run(row.id);
      this.db.prepare('DELETE FROM token_scopes WHERE id IN (SELECT id FROM tokens WHERE volume_id = ?)').run(row.id);
      this.db.prepare('DELETE FROM tokens WHERE volume_id = ?').run(row.id);
      this.db.prepare('DELETE FROM volumes WHERE id = ?').run(row.id);
      this.txs.delete(row.id);
    });
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
      info: () => this.run((): VolumeInfo => {
        const row = this.db.prepare('SELECT * FROM volumes WHERE id = ?').get(volumeId) as VolumeRow | undefined;
        if (!row) throw new FsError('ENOENT', `no volume with id "${volumeId}"`);
        return { settings: JSON.parse(row.settings) as VolumeSettings, capacityBytes: row.capacity, inodeLimit: row.inode_limit };
      }, true),
      infoVersion: () => this.infoVersions.get(volumeId),
    };
  }

  // ------------------------------------------------------------ history

  async historyStart(volumeId: string): Promise<number | null> {
    return this.run(() => (this.s.histStartGet.get(volumeId) as { startedAt: number } | undefined)?.startedAt ?? null, true);
  }

  async pruneHistory(volumeId: string, upToMs: number): Promise<number> {
    return this.run(() => {
      this.s.histStartRaise.run(volumeId, upToMs);
      return this.s.histPrune.run(volumeId, upToMs).changes;
    });
  }

  // ------------------------------------------------------------ tokens

  async createToken(spec: TokenSpec): Promise<{ id: string; secret: string }> {
    const scope = checkTokenScope(spec);
    return this.run(() => {
      let volumeId: string | null = null;
      if (spec.volume !== undefined) {
        const row = this.findVolume(spec.volume);
        if (!row) throw new FsError('ENOENT', `no volume "${spec.volume}"`);
        volumeId = row.id;
      }
      if (!spec.admin && volumeId === null) throw new FsError('EINVAL', 'a token needs a volume or admin rights');
      const t = newTokenSecret();
      this.db.prepare('INSERT INTO tokens (id, hash, volume_id, admin, label, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(t.id, t.hash, volumeId, spec.admin ? 1 : 0, spec.label ?? null, Date.now());
      if (Object.keys(scope).length > 0) this.db.prepare('INSERT INTO token_scopes (id, scope) VALUES (?, ?)').run(t.id, JSON.stringify(scope));
      return { id: t.id, secret: t.secret };
    });
  }

  private tokenInfo(r: TokenRow & TokenScopeRow): TokenInfo {
    const t: TokenInfo = { id: r.id, admin: r.admin === 1, createdAt: r.created_at, revoked: r.revoked === 1 };
    if (r.volume_id !== null) t.volumeId = r.volume_id;
    if (r.label !== null) t.label = r.label;
    if (r.scope) Object.assign(t, scopeOf(JSON.parse(r.scope) as TokenScope));
    return t;
  }

  async listTokens(): Promise<TokenInfo[]> {
    return this.run(() => (this.db.prepare('SELECT t.*, s.scope FROM tokens t LEFT JOIN token_scopes s ON s.id = t.id ORDER BY t.created_at, t.id')
      .all() as Array<TokenRow & TokenScopeRow>).map((r) => this.tokenInfo(r)), true);
  }

  async revokeToken(id: string): Promise<void> {
    await this.run(() => {
      if (this.db.prepare('UPDATE tokens SET revoked = 1 WHERE id = ?').run(id).changes === 0) throw new FsError('ENOENT', `no token "${id}"`);
    });
  }

  async checkToken(secret: string, opts?: { includeExpired?: boolean }): Promise<TokenInfo | null> {
    if (typeof secret !== 'string' || secret === '') return null;
    return this.run(() => {
      const row = this.db.prepare('SELECT t.*, s.scope FROM tokens t LEFT JOIN token_scopes s ON s.id = t.id WHERE t.hash = ?')
        .get(hashSecret(secret)) as (TokenRow & TokenScopeRow) | undefined;
      if (!row || row.revoked !== 0) return null;
      const info = this.tokenInfo(row);
      return tokenExpired(info) && !opts?.includeExpired ? null : info;
    }, true);
  }

  // ------------------------------------------------------------ sessions

  async openSession(volumeId: string, info: { host: string; pid: number; mountpoint?: string }, ttlSeconds: number): Promise<string> {
    return this.run(() => {
      if (!this.db.prepare('SELECT 1 FROM volumes WHERE id = ?').get(volumeId)) throw new FsError('ENOENT', `no volume with id "${volumeId}"`);
      const id = newSessionId();
      const now = Date.now();
      this.db.prepare('INSERT INTO sessions (id, volume_id, host, pid, mountpoint, started_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(id, volumeId, String(info.host), info.pid | 0, info.mountpoint ?? null, now, now + ttlSeconds * 1000);
      return id;
    });
  }

  async heartbeat(sessionId: string, ttlSeconds: number): Promise<boolean> {
    return this.run(() => {
      const now = Date.now();
      return this.db.prepare('UPDATE sessions SET expires_at = ? WHERE id = ? AND expires_at >= ?')
        .run(now + ttlSeconds * 1000, sessionId, now).changes > 0;
    });
  }

  /** Release every hold of a session (each through the core, so unlinked inodes get freed), then forget it. */
  private async endSession(sessionId: string): Promise<void> {
    const held = await this.run(() => this.s.holdsOfSession.all(sessionId) as { vol: string; ino: number }[], true);
    for (const h of held) await this.volumeStore(h.vol).releaseSession(h.ino, sessionId);
    await this.run(() => { this.db.prepare('DELETE FROM sessions WHERE id = ?').run(sessionId); });
  }

  async closeSession(sessionId: string): Promise<void> {
    await this.endSession(sessionId);
  }

  async expireSessions(now = Date.now()): Promise<number> {
    const ids = await this.run(() => (this.db.prepare('SELECT id FROM sessions WHERE expires_at < ?').all(now) as { id: string }[]).map((r) => r.id), true);
    for (const id of ids) await this.endSession(id);
    return ids.length;
  }

  async listSessions(volumeId?: string): Promise<SessionInfo[]> {
    return this.run(() => {
      const rows = (volumeId === undefined
        ? this.db.prepare('SELECT * FROM sessions ORDER BY started_at').all()
        : this.db.prepare('SELECT * FROM sessions WHERE volume_id = ? ORDER BY started_at').all(volumeId)) as SessionRow[];
      return rows.map((r) => {
        const s: SessionInfo = { id: r.id, volumeId: r.volume_id, host: r.host, pid: r.pid, startedAt: r.started_at, expiresAt: r.expires_at };
        if (r.mountpoint !== null) s.mountpoint = r.mountpoint;
        return s;
      });
    }, true);
  }

  // ------------------------------------------------------------ gc and fsck

  async gcQueue(volumeId: string, olderThanMs: number, limit: number): Promise<GcEntry[]> {
    return this.run(() => this.s.gcList.all(volumeId, olderThanMs, limit) as GcEntry[], true);
  }

  async gcDone(volumeId: string, entries: GcEntry[]): Promise<void> {
    await this.run(() => { for (const e of entries) this.s.gcDel.run(volumeId, e.blockId); });
  }

  async *referencedBlocks(volumeId: string): AsyncIterable<{ ino: number; index: number; blockId: number; length: number }> {
    let last = { ino: -1, index: -1 };
    for (;;) {
      const page = await this.run(() => this.s.slotsPage.all(volumeId, last.ino, last.ino, last.index, 1000) as
        { ino: number; index: number; blockId: number; length: number }[], true);
      yield* page;
      if (page.length < 1000) break;
      last = page[page.length - 1];
    }
    let lastId = 0;
    for (;;) {
      const page = await this.run(() => this.s.gcPage.all(volumeId, lastId, 1000) as { ino: number; index: number; blockId: number }[], true);
      for (const g of page) yield { ...g, length: 0 };
      if (page.length < 1000) break;
      lastId = page[page.length - 1].blockId;
    }
  }

  async checkNamespace(volumeId: string): Promise<string[]> {
    return this.run(() => {
      const inodes = (this.s.allInodes.all(volumeId) as Parameters<typeof rowToInode>[0][]).map(rowToInode);
      const entries = this.s.allEntries.all(volumeId) as { parent: number; name: string; ino: number }[];
      const holds = new Map((this.s.holdsOfVolume.all(volumeId) as { ino: number; n: number }[]).map((h) => [h.ino, h.n]));
      const counter = (name: string) => (this.s.counterGet.get(volumeId, name) as { value: number } | undefined)?.value ?? 0;
      const linkParents = new Map((this.db.prepare('SELECT ino, data FROM link_parents WHERE vol = ?').all(volumeId) as { ino: number; data: string }[])
        .map((row) => [row.ino, JSON.parse(row.data) as LinkParents]));
      const quotas = new Map((this.db.prepare('SELECT dir, data FROM quotas WHERE vol = ?').all(volumeId) as { dir: number; data: string }[])
        .map((row) => [row.dir, JSON.parse(row.data) as QuotaRec]));
      return checkNamespaceSnapshot({ inodes, entries, holds, linkParents, quotas, counters: { inodes: counter('inodes'), usedBytes: counter('usedBytes') } });
    }, true);
  }

  async close(): Promise<void> {
    await this.group.close();
  }
}
