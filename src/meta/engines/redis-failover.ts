import type { Redis } from 'ioredis';
import { REDIS_SENTINEL_DEFAULTS } from '../../config/defaults.js';
import { FsError } from '../../errors/index.js';
import { sleep } from '../../util/sleep.js';
import { asFsError } from './redis-client.js';

/**
 * The redis engine on Redis Sentinel: riding out a failover, and not acknowledging what a
 * failover could lose.
 * - run(): an operation that fails because the primary is gone (connection refused or reset,
 *   ioredis giving up on a request, READONLY from a demoted primary, LOADING…) runs again, with
 *   growing pauses, until the promoted replica answers or failoverWaitMs have passed since the
 *   first such failure (then EIO). ioredis asks the Sentinels for the primary on each reconnect.
 * - confirm(): after a mutation, `WAIT minReplicas replicaWaitMs` on the same connection; fewer
 *   replicas in time answers EIO (the change is on the primary but not yet anywhere a failover
 *   would keep it, so it is not acknowledged). A reconnect between the operation and its WAIT
 *   means the WAIT would not cover the operation's writes: the operation runs again (namespace
 *   operations, which re-validate what they read) or fails with EIO (admin records).
 */

export interface SentinelPolicy {
  minReplicas: number;
  replicaWaitMs: number;
  failoverWaitMs: number;
}

const FAILOVER_ERRORS = [
  'READONLY', 'LOADING', 'MASTERDOWN', 'TRYAGAIN', 'NOREPLICAS', 'Connection is closed', 'max retries per request',
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'All sentinels are unreachable',
  "Stream isn't writeable", 'Command timed out', 'Socket closed unexpectedly', 'Command aborted due to connection close',
];

/** True when e (or what it wraps) says the primary is unreachable or no longer the primary. */
export function isFailoverError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 4; cur = (cur as { cause?: unknown }).cause, depth++) {
    if (cur instanceof FinalError) return false;
    // ioredis' AbortError: a command cut off by a closed connection (or too many reconnects)
    if ((cur as Error)?.name === 'AbortError' || (cur as Error)?.name === 'MaxRetriesPerRequestError') return true;
    const msg = String((cur as Error)?.message ?? cur);
    // Case matters: redis' codes are upper case (READONLY …), and our own messages may say "readOnly".
    if (FAILOVER_ERRORS.some((m) => msg.includes(m))) return true;
  }
  return false;
}

/**
 * An EIO that no retry may undo: too few replicas confirmed a mutation applied on the primary,
 * a failover wait ran out (an outer guard must not start another), or a run-once op was cut off.
 */
export class FinalError extends FsError {
  constructor(message: string, cause?: unknown) { super('EIO', message, cause === undefined ? undefined : { cause }); }
}

/** One reconnect happened while an attempt ran: its WAIT proves nothing about its writes. */
class ReconnectedError extends Error {
  constructor() { super('Connection is closed: the client reconnected during the operation'); }
}

export class FailoverGuard {
  /** Counts connections made ready; a change means a reconnect (maybe to another primary). */
  private epoch = 0;

  constructor(private readonly r: Redis, private readonly policy: SentinelPolicy) {
    r.on('ready', () => { this.epoch++; });
  }

  /**
   * Run op (again while the primary is gone, see above); then, for a mutation, confirm it on
   * minReplicas replicas. `rerunnable` false (admin records whose second run would not be the
   * same as the first, e.g. creating a volume): never runs op twice; a failover error fails at
   * once with EIO.
   */
  async run<T>(op: () => Promise<T>, opts: { mutating: boolean; rerunnable: boolean }): Promise<T> {
    let firstFailure = 0;
    let pause: number = REDIS_SENTINEL_DEFAULTS.retryPauseMs;
    for (;;) {
      const epoch = this.epoch;
      let applied = false;
      try {
        const result = await op();
        applied = true;
        if (opts.mutating) await this.confirm(epoch);
        return result;
      } catch (e) {
        const reconnected = e instanceof ReconnectedError;
        if (!reconnected && !isFailoverError(e)) throw e;
        if (!opts.rerunnable) {
          throw new FinalError(applied
            ? 'redis: the primary went away before replicas confirmed this change; it may or may not have been applied'
            : `redis: the primary is unreachable: ${(e as Error)?.message ?? String(e)}`, e);
        }
        const now = Date.now();
        if (firstFailure === 0) firstFailure = now;
        if (now - firstFailure >= this.policy.failoverWaitMs) {
          throw new FinalError(`redis: no primary answered within ${this.policy.failoverWaitMs} ms: ${(e as Error)?.message ?? String(e)}`, e);
        }
        await sleep(pause);
        pause = Math.min(pause * 2, REDIS_SENTINEL_DEFAULTS.maxRetryPauseMs);
      }
    }
  }

  /**
   * `WAIT minReplicas replicaWaitMs` for everything this connection wrote so far. The connection
   * must be the one the attempt that began at `epoch` ran on.
   */
  private async confirm(epoch: number): Promise<void> {
    if (this.policy.minReplicas === 0) return;
    let acked: number;
    try {
      acked = Number(await this.r.call('WAIT', this.policy.minReplicas, this.policy.replicaWaitMs));
    } catch (e) {
      if (isFailoverError(e)) throw e;
      throw asFsError(e);
    }
    if (this.epoch !== epoch) throw new ReconnectedError();
    if (acked < this.policy.minReplicas) {
      throw new FinalError(`redis: only ${acked} of ${this.policy.minReplicas} replica(s) confirmed this change within `
        + `${this.policy.replicaWaitMs} ms; it is on the primary but not acknowledged (a failover now could lose it)`);
    }
  }
}
