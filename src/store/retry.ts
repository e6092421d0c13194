import { StoreError, type ObjectStore, type RequestOptions } from './types.js';
import { STORE_DEFAULTS, TIMEOUTS } from '../config/defaults.js';

export interface RetryPolicy {
  /** Attempts in total, including the first (default unbounded: the deadline bounds retries). */
  maxAttempts?: number;
  /** First backoff ceiling; doubles per attempt (default 100 ms). */
  baseDelayMs?: number;
  /** Backoff ceiling cap (default 5 s). */
  maxDelayMs?: number;
  /** Deadline of one attempt; a hung attempt is cut off and counts as Timeout (default 60 s). */
  attemptTimeoutMs?: number;
  /** Deadline of the whole operation, retries included (default 120 s). */
  deadlineMs?: number;
  /** Called before each retry (for logs/metrics). */
  onRetry?: (info: { op: string; key?: string; attempt: number; delayMs: number; error: StoreError }) => void;
  /** Called when a call succeeds after retries (for logs: the store answers again). */
  onRecovered?: (info: { op: string; key?: string; attempts: number; elapsedMs: number }) => void;
}

const DEFAULTS = {
  maxAttempts: STORE_DEFAULTS.retryMaxAttempts, baseDelayMs: STORE_DEFAULTS.retryBaseDelayMs,
  maxDelayMs: STORE_DEFAULTS.retryMaxDelayMs, attemptTimeoutMs: TIMEOUTS.retryAttemptMs, deadlineMs: TIMEOUTS.retryDeadlineMs,
};

/**
 * Retry decorator: retries retryable StoreErrors (Throttled, Unavailable, Timeout) with exponential
 * backoff and full jitter (delay = random(0, min(max, base·2^n))), bounded by attempts and a total
 * deadline. Each attempt runs under the caller's signal plus an attempt deadline; an attempt cut
 * off by that deadline is a Timeout, whatever the inner store threw. The caller's signal firing
 * gives Aborted at once. Giving up throws the last error's kind with the attempt count added.
 */
export function withRetry(inner: ObjectStore, policy: RetryPolicy = {}): ObjectStore {
  const p = { ...DEFAULTS, ...policy };
  async function attempt<T>(op: string, key: string | undefined, options: RequestOptions | undefined,
    fn: (o: RequestOptions) => Promise<T>): Promise<T> {
    const caller = options?.signal;
    const started = Date.now();
    for (let n = 1; ; n++) {
      if (caller?.aborted) throw new StoreError('Aborted', `${op}${key ? ` ${key}` : ''}: aborted by caller`, { key });
      const left = p.deadlineMs - (Date.now() - started);
      const attemptDeadline = AbortSignal.timeout(Math.max(1, Math.min(p.attemptTimeoutMs, left)));
      const signal = caller ? AbortSignal.any([caller, attemptDeadline]) : attemptDeadline;
      let error: StoreError;
      try {
        const result = await raceSignal(fn({ ...options, signal }), signal);
        if (n > 1) p.onRecovered?.({ op, key, attempts: n, elapsedMs: Date.now() - started });
        return result;
      } catch (e) {
        if (caller?.aborted) throw new StoreError('Aborted', `${op}${key ? ` ${key}` : ''}: aborted by caller`, { key, cause: e });
        if (attemptDeadline.aborted) {
          error = new StoreError('Timeout', `${op}${key ? ` ${key}` : ''}: ${inner.description} did not answer within ${Math.round(Math.min(p.attemptTimeoutMs, left))} ms`, { key, cause: e });
        } else if (e instanceof StoreError) {
          error = e;
        } else {
          throw e;
        }
      }
      if (!error.retryable) throw error;
      const elapsed = Date.now() - started;
      const delay = Math.random() * Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (n - 1));
      if (n >= p.maxAttempts || elapsed + delay >= p.deadlineMs) {
        throw new StoreError(error.kind, `${error.message} (gave up after ${n} attempt${n > 1 ? 's' : ''} in ${elapsed} ms)`,
          { key: error.key, status: error.status, cause: error });
      }
      p.onRetry?.({ op, key, attempt: n, delayMs: delay, error });
      await sleep(delay, caller);
    }
  }
  return {
    description: inner.description,
    put: (key, body, options) => attempt('put', key, options, (o) => inner.put(key, body, o)),
    get: (key, options) => attempt('get', key, options, (o) => inner.get(key, o)),
    head: (key, options) => attempt('head', key, options, (o) => inner.head(key, o)),
    delete: (key, options) => attempt('delete', key, options, (o) => inner.delete(key, o)),
    list: (prefix, options) => attempt('list', prefix, options, (o) => inner.list(prefix, o)),
    close: () => inner.close(),
  };
}

/**
 * Settle when `work` does or when `signal` fires, whichever is first, so an inner store that
 * ignores its signal still cannot hold the caller past the deadline.
 */
function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => undefined);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
