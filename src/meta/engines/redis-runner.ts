import { FsError, isFsError } from '../../errors/index.js';
import type { MetaTx } from '../core/tx.js';
import { Mutex } from '../../util/mutex.js';
import { sleep } from '../../util/sleep.js';
import { packForLua, type LuaValue } from './lua-pack.js';
import { APPLY_LUA } from './redis-lua.js';
import { volumeKeys } from './redis-keys.js';
import { RedisTx } from './redis-tx.js';
import { asFsError, type RedisClient } from './redis-client.js';

/**
 * The redis engine's transaction runner (the TxRunner.transact of each volume): a core/store.ts
 * operation runs optimistically against a RedisTx (reads recorded, writes buffered), then ONE
 * generic Lua script (redis-lua.ts) validates the reads and applies the writes atomically; on a
 * conflict the operation runs again.
 */

const MAX_ATTEMPTS = 200;
/** Read-only operations with more checks than this are listings, left unvalidated (see read()). */
const MAX_VALIDATED_READS = 32;

type ApplyFn = (numKeys: number, ...args: (string | Buffer | number)[]) => Promise<number>;

/** A short random pause before retrying after a conflict; grows with the attempt, up to 50 ms. */
export function backoff(attempt: number): Promise<void> {
  return sleep(Math.random() * Math.min(50, 1 + attempt * 2));
}

export class RedisRunner {
  private readonly apply: ApplyFn;
  private readonly lanes = new Map<string, { waiting: number; mutex: Mutex }>();

  constructor(private readonly r: RedisClient) {
    r.defineCommand('flexfsApply', { lua: APPLY_LUA });
    this.apply = (r as unknown as { flexfsApply: ApplyFn }).flexfsApply.bind(r);
  }

  /**
   * Run fn optimistically, then validate+apply in one script; re-run on conflict. Operations of
   * this process that conflicted (and any that arrive while others are retrying) re-run one at a
   * time per volume: optimistic runs alone would livelock when hundreds of calls change one
   * directory at once, since every create also updates the parent's times.
   */
  async transact<T>(volumeId: string, fn: (tx: MetaTx) => Promise<T>, readOnly = false): Promise<T> {
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
          await backoff(attempt);
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
      await backoff(attempt);
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
}
