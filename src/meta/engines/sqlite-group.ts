import type Database from 'better-sqlite3';
import { FsError, isFsError } from '../../errors/index.js';
import { sleep } from '../../util/sleep.js';
import { TIMEOUTS } from '../../config/defaults.js';

/**
 * Group commit for the sqlite engine. Every engine call is a job; jobs queue and are drained one
 * batch at a time (a batch = every queued read and at most GROUP_MAX queued mutations):
 * - read-only jobs run first, each in its own deferred (snapshot) transaction, and are answered
 *   at once: they never wait behind a group's fsync. A read may overtake mutations queued before
 *   it; that is a valid order, since those are not acknowledged yet.
 * - mutating jobs run one by one inside ONE `BEGIN IMMEDIATE … COMMIT`, each in its own SAVEPOINT:
 *   a job that fails is rolled back to its savepoint alone and the others go on. Every job of the
 *   group is answered only after the COMMIT returned, so with synchronous=FULL an acknowledged
 *   mutation is on disk; several mutations share one WAL fsync.
 * With `gatherEvents` (the worker thread) the drain starts on setImmediate: every message that
 * arrived while the last COMMIT was fsyncing is delivered before the check phase, so they form
 * one group. Without it (in-process) the drain starts on a microtask, which groups only calls made
 * in the same turn but adds no loop turn to each call. Jobs run strictly one at a time (the core
 * awaits between statements, and a connection has one transaction).
 */

const BUSY_DEADLINE_MS = TIMEOUTS.sqliteBusyMs;
const GROUP_MAX = 512;

interface Job {
  fn: () => unknown;
  readOnly: boolean;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export interface GroupCommitStats {
  /** Write transactions committed. */
  commits: number;
  /** Mutating jobs that ran inside them (failed ones included). */
  mutations: number;
  /** Largest group so far. */
  largestGroup: number;
}

export function isBusy(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_BUSY_SNAPSHOT';
}

export function asFsError(e: unknown): unknown {
  if (isFsError(e)) return e;
  return new FsError('EIO', `sqlite: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

export class GroupCommitter {
  private queue: Job[] = [];
  private draining: Promise<void> | null = null;
  private closed = false;
  readonly stats: GroupCommitStats = { commits: 0, mutations: 0, largestGroup: 0 };

  constructor(private readonly db: Database.Database, private readonly gatherEvents = false) {}

  /** Run fn as one job (see above); rejects with FsError. */
  run<T>(fn: () => Promise<T> | T, readOnly: boolean): Promise<T> {
    if (this.closed) return Promise.reject(new FsError('EIO', 'metadata engine is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, readOnly, resolve: resolve as (v: unknown) => void, reject });
      if (!this.draining) {
        this.draining = new Promise<void>((done) => {
          const start = () => { void this.drain().finally(done); };
          if (this.gatherEvents) setImmediate(start); else queueMicrotask(start);
        });
      }
    });
  }

  /** Refuse new jobs, finish the queued ones, then close the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.draining) await this.draining;
    this.db.close();
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        // Every queued read, then up to GROUP_MAX mutations in queue order; later ones wait.
        const reads = this.queue.filter((j) => j.readOnly);
        const writes = this.queue.filter((j) => !j.readOnly);
        this.queue = writes.splice(GROUP_MAX);
        for (const job of reads) settle(job, await this.readJob(job));
        if (writes.length > 0) await this.writeGroup(writes);
        // Worker: let the messages that arrived meanwhile in (reads among them go first) before the
        // next group. In-process, calls made meanwhile are queued already, and a loop turn here
        // would only let callers on other connections run ahead of this one's.
        if (this.gatherEvents && this.queue.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.draining = null;
    }
  }

  private async readJob(job: Job): Promise<Outcome> {
    try {
      await this.begin('BEGIN');
    } catch (e) {
      return { ok: false, error: asFsError(e) };
    }
    try {
      const value = await job.fn();
      this.db.exec('COMMIT');
      return { ok: true, value };
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      return { ok: false, error: asFsError(e) };
    }
  }

  private async writeGroup(jobs: Job[]): Promise<void> {
    const outcomes: Outcome[] = [];
    /** Index of the first job in the open transaction (earlier ones are settled or lost). */
    let txStart = 0;
    let open = false;
    for (let i = 0; i < jobs.length; i++) {
      if (!open) {
        try {
          await this.begin('BEGIN IMMEDIATE');
          open = true;
          txStart = i;
        } catch (e) {
          outcomes[i] = { ok: false, error: asFsError(e) };
          continue;
        }
      }
      // A group of one needs no savepoint: if it fails, the whole transaction is rolled back.
      outcomes[i] = jobs.length === 1 ? await this.soleJob(jobs[i]) : await this.savepointJob(jobs[i]);
      if (!this.db.inTransaction) {
        // sqlite rolled the whole transaction back itself (disk full, I/O error…): the jobs before
        // this one in the group are lost, so they fail too; the rest start a new transaction.
        for (let k = txStart; k < i; k++) {
          if (outcomes[k].ok) outcomes[k] = { ok: false, error: new FsError('EIO', 'sqlite rolled back the group this operation was committed in') };
        }
        open = false;
      }
    }
    if (open) {
      try {
        await this.commit();
        this.stats.commits++;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        const error = asFsError(e);
        for (let k = txStart; k < jobs.length; k++) if (outcomes[k].ok) outcomes[k] = { ok: false, error };
      }
    }
    this.stats.mutations += jobs.length;
    this.stats.largestGroup = Math.max(this.stats.largestGroup, jobs.length);
    jobs.forEach((job, i) => settle(job, outcomes[i]));
  }

  private async soleJob(job: Job): Promise<Outcome> {
    try {
      return { ok: true, value: await job.fn() };
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      return { ok: false, error: asFsError(e) };
    }
  }

  private async savepointJob(job: Job): Promise<Outcome> {
    try {
      this.db.exec('SAVEPOINT op');
    } catch (e) {
      return { ok: false, error: asFsError(e) };
    }
    try {
      const value = await job.fn();
      this.db.exec('RELEASE op');
      return { ok: true, value };
    } catch (e) {
      if (this.db.inTransaction) {
        try { this.db.exec('ROLLBACK TO op'); this.db.exec('RELEASE op'); } catch { this.db.exec('ROLLBACK'); }
      }
      return { ok: false, error: asFsError(e) };
    }
  }

  /** BEGIN, retried asynchronously while another process holds the lock (busy_timeout is 0). */
  private async begin(sql: 'BEGIN' | 'BEGIN IMMEDIATE'): Promise<void> {
    const deadline = Date.now() + BUSY_DEADLINE_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        this.db.exec(sql);
        return;
      } catch (e) {
        if (!isBusy(e)) throw e;
        if (Date.now() > deadline) throw new FsError('EIO', 'sqlite database stayed locked by another process');
        await sleep(Math.min(50, 1 + attempt) * Math.random() + 1);
      }
    }
  }

  private async commit(): Promise<void> {
    const deadline = Date.now() + BUSY_DEADLINE_MS;
    for (;;) {
      try { this.db.exec('COMMIT'); return; } catch (e) {
        if (!isBusy(e) || Date.now() > deadline) throw e;
        await sleep(2);
      }
    }
  }
}

function settle(job: Job, o: Outcome): void {
  if (o.ok) job.resolve(o.value);
  else job.reject(o.error);
}
