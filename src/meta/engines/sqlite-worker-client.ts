import { Worker } from 'node:worker_threads';
import { FsError } from '../../errors/index.js';
import { workerEntry } from '../../util/worker-entry.js';
import type { GcEntry, MetaEngine, SessionInfo, TokenInfo, TokenSpec, VolumeDetails, VolumeSpec, VolumeUpdate } from '../engine.js';
import type { MetaStore, VolumeSettings } from '../types.js';
import { withOwnerOnlyFiles, type SqliteEngineOptions } from './sqlite.js';
import type { GroupCommitStats } from './sqlite-group.js';
import {
  STORE_METHODS, decodeError, toBuffer, type ControlMethod, type EngineMethod, type RefsPage, type StoreMethod,
  type WorkerCall, type WorkerReply,
} from './sqlite-worker-protocol.js';

/**
 * The sqlite engine in a worker thread, seen from the event loop: a MetaEngine (and per-volume
 * MetaStores) whose every call is a message to sqlite-worker.ts, which runs the real SqliteEngine
 * (core rules, group commit, synchronous=FULL fsyncs) there. The loop never waits for sqlite, so
 * a slow fsync does not stall operations the mount answers from its caches.
 *
 * Errors: an FsError in the worker arrives as an FsError with the same code. If the worker dies
 * (a crash, or kill()), every pending and later call fails with EIO and `onCrash` is told once.
 * close() lets the worker finish every call already sent (each one committed), then closes the
 * database and waits for the thread to end.
 */
export interface SqliteWorkerOptions extends SqliteEngineOptions {
  /** Called once if the worker dies while the engine is open. */
  onCrash?: (err: Error) => void;
}

export async function openSqliteWorkerEngine(opts: SqliteWorkerOptions): Promise<SqliteWorkerEngine> {
  return withOwnerOnlyFiles(opts?.file, async () => {
    const engine = new SqliteWorkerEngine(opts);
    await engine.ready;
    return engine;
  });
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class SqliteWorkerEngine implements MetaEngine {
  readonly kind = 'sqlite' as const;
  /** Settles once the worker has opened the database (or failed to). */
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private state: 'starting' | 'open' | 'closing' | 'closed' | 'dead' = 'starting';
  private dead?: FsError;
  private opened!: { resolve(): void; reject(e: Error): void };
  private readonly exited: Promise<void>;
  private durabilityOf: 'power-loss' | 'process-crash' = 'process-crash';

  constructor(private readonly opts: SqliteWorkerOptions) {
    if (!opts?.file) throw new Error('sqlite engine: no database file given');
    this.ready = new Promise<void>((resolve, reject) => { this.opened = { resolve, reject }; });
    const { filename, options } = workerEntry(import.meta.url, 'sqlite-worker');
    const workerData: SqliteEngineOptions = { file: opts.file, sync: opts.sync };
    this.worker = new Worker(filename, { ...options, workerData });
    this.worker.on('message', (m: WorkerReply) => this.onMessage(m));
    this.worker.on('error', (e: Error) => this.die(e));
    this.exited = new Promise<void>((resolve) => this.worker.once('exit', (code) => {
      if (this.state === 'closing') this.state = 'closed';
      else this.die(new Error(`the sqlite worker exited (code ${code})`));
      resolve();
    }));
  }

  /** What a commit survives, as the worker's connection reports it. */
  get durability(): 'power-loss' | 'process-crash' {
    return this.durabilityOf;
  }

  private onMessage(m: WorkerReply): void {
    if ('ready' in m) {
      if (m.ready) {
        this.durabilityOf = m.durability;
        this.state = 'open';
        this.worker.unref(); // only calls in flight keep the process alive, as with an in-process engine
        this.opened.resolve();
      } else {
        this.opened.reject(decodeError(m.error));
      }
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0 && this.state === 'open') this.worker.unref();
    if (m.ok) p.resolve(toBuffer(m.value));
    else p.reject(decodeError(m.error));
  }

  private die(err: Error): void {
    if (this.state === 'closed' || this.state === 'dead') return;
    if (this.state === 'starting') {
      this.state = 'dead';
      this.dead = new FsError('EIO', `the sqlite worker failed to start: ${err.message}`);
      this.opened.reject(err);
      return;
    }
    const wasOpen = this.state === 'open';
    this.state = 'dead';
    this.dead = new FsError('EIO', `the sqlite worker died: ${err.message}`, { cause: err });
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(this.dead);
    if (wasOpen) this.opts.onCrash?.(err);
  }

  private send<T>(method: StoreMethod | EngineMethod | ControlMethod, args: unknown[], vol?: string, at?: number): Promise<T> {
    if (this.state === 'dead') return Promise.reject(this.dead);
    if (this.state !== 'open') return Promise.reject(new FsError('EIO', 'metadata engine is closed'));
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const call: WorkerCall = { id, method, args };
      if (vol !== undefined) call.vol = vol;
      if (at !== undefined) call.at = at;
      // Arguments are copied, never transferred: the caller still owns its buffers.
      try { this.worker.postMessage(call); } catch (e) { reject(e as Error); return; }
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
  }

  volume(volumeId: string, atMs?: number): MetaStore {
    const store: Record<string, unknown> = { close: async () => undefined }; // the engine owns the worker
    for (const m of STORE_METHODS) store[m] = (...args: unknown[]) => this.send(m, args, volumeId, atMs);
    return store as unknown as MetaStore;
  }

  createVolume(spec: VolumeSpec): Promise<VolumeSettings> { return this.send('createVolume', [spec]); }
  listVolumes(): Promise<VolumeSettings[]> { return this.send('listVolumes', []); }
  getVolume(nameOrId: string): Promise<VolumeSettings | null> { return this.send('getVolume', [nameOrId]); }
  volumeDetails(nameOrId: string): Promise<VolumeDetails | null> { return this.send('volumeDetails', [nameOrId]); }
  updateVolume(nameOrId: string, update: VolumeUpdate): Promise<VolumeDetails> { return this.send('updateVolume', [nameOrId, update]); }
  async deleteVolume(nameOrId: string, force?: boolean): Promise<void> { await this.send('deleteVolume', [nameOrId, force]); }
  createToken(spec: TokenSpec): Promise<{ id: string; secret: string }> {
    return this.send('createToken', [spec]);
  }
  listTokens(): Promise<TokenInfo[]> { return this.send('listTokens', []); }
  async revokeToken(id: string): Promise<void> { await this.send('revokeToken', [id]); }
  checkToken(secret: string, opts?: { includeExpired?: boolean }): Promise<TokenInfo | null> { return this.send('checkToken', [secret, opts]); }
  openSession(volumeId: string, info: { host: string; pid: number; mountpoint?: string }, ttlSeconds: number): Promise<string> {
    return this.send('openSession', [volumeId, info, ttlSeconds]);
  }
  heartbeat(sessionId: string, ttlSeconds: number): Promise<boolean> { return this.send('heartbeat', [sessionId, ttlSeconds]); }
  async closeSession(sessionId: string): Promise<void> { await this.send('closeSession', [sessionId]); }
  expireSessions(now?: number): Promise<number> { return this.send('expireSessions', [now]); }
  listSessions(volumeId?: string): Promise<SessionInfo[]> { return this.send('listSessions', [volumeId]); }
  gcQueue(volumeId: string, olderThanMs: number, limit: number): Promise<GcEntry[]> {
    return this.send('gcQueue', [volumeId, olderThanMs, limit]);
  }
  async gcDone(volumeId: string, entries: GcEntry[]): Promise<void> { await this.send('gcDone', [volumeId, entries]); }
  checkNamespace(volumeId: string): Promise<string[]> { return this.send('checkNamespace', [volumeId]); }
  historyStart(volumeId: string): Promise<number | null> { return this.send('historyStart', [volumeId]); }
  pruneHistory(volumeId: string, upToMs: number): Promise<number> { return this.send('pruneHistory', [volumeId, upToMs]); }

  async *referencedBlocks(volumeId: string): AsyncIterable<{ ino: number; index: number; blockId: number; length: number }> {
    let page = await this.send<RefsPage>('refsOpen', [volumeId]);
    for (;;) {
      yield* page.items;
      if (page.done) return;
      page = await this.send<RefsPage>('refsNext', [page.iter]);
    }
  }

  /** Group-commit counters of the worker's engine (transactions vs mutations). */
  commitStats(): Promise<GroupCommitStats> { return this.send('commitStats', []); }

  /** Finish every call already sent, close the database, end the thread. */
  async close(): Promise<void> {
    this.worker.ref(); // the caller waits for the thread to end: keep the process up until it has
    if (this.state === 'starting') await this.ready.catch(() => undefined);
    if (this.state === 'open') {
      const closing = this.send('close', []);
      this.state = 'closing';
      await closing.catch(() => undefined);
    }
    if (this.state !== 'closing' && this.state !== 'closed') await this.worker.terminate();
    await this.exited;
  }

  /** Stop the worker at once, as a crash would (pending calls fail with EIO); for tests. */
  async kill(): Promise<void> {
    await this.worker.terminate();
    await this.exited;
  }
}
