import { StoreError, type StoreErrorKind, type ObjectStore, type RequestOptions } from './types.js';

export type StoreOp = 'put' | 'get' | 'head' | 'delete' | 'list';

export interface FaultConfig {
  /** Probability (0..1) that an operation fails with `errorKind` (default 0). */
  errorRate?: number;
  /** Kind of the injected errors (default 'Unavailable', which is retryable). */
  errorKind?: StoreErrorKind;
  /**
   * Probability (0..1) that an injected error happens AFTER the real operation ran (the answer
   * was lost: a put that "failed" but stored the object). Default 0: errors replace the operation.
   */
  errorAfterRate?: number;
  /** Added latency per operation: fixed ms, or [min, max] uniformly. */
  latencyMs?: number | [number, number];
  /** Probability (0..1) that an operation hangs until its signal fires (default 0). */
  hangRate?: number;
  /** Operations affected (default all). */
  ops?: StoreOp[];
  /** Random source in [0, 1) (default Math.random), for reproducible runs. */
  random?: () => number;
}

/** A store with faults injected; `faults` may be changed at any time, `counts` tells what happened. */
export interface FaultyStore extends ObjectStore {
  faults: FaultConfig;
  readonly counts: { calls: number; errors: number; hangs: number };
}

/**
 * Fault-injection decorator around a real store, for tests: random errors, added latency, and
 * hangs. A hang waits for the request's signal and then rejects with Aborted (the retry decorator
 * turns its own deadline into Timeout); without a signal it hangs for good, like a dead peer.
 */
export function withFaults(inner: ObjectStore, faults: FaultConfig = {}): FaultyStore {
  const counts = { calls: 0, errors: 0, hangs: 0 };
  const store: FaultyStore = {
    faults,
    counts,
    description: `${inner.description} (faults)`,
    put: (key, body, options) => run('put', key, options, () => inner.put(key, body, options)),
    get: (key, options) => run('get', key, options, () => inner.get(key, options)),
    head: (key, options) => run('head', key, options, () => inner.head(key, options)),
    delete: (key, options) => run('delete', key, options, () => inner.delete(key, options)),
    list: (prefix, options) => run('list', prefix, options, () => inner.list(prefix, options)),
    close: () => inner.close(),
  };

  async function run<T>(op: StoreOp, key: string, options: RequestOptions | undefined, fn: () => Promise<T>): Promise<T> {
    const f = store.faults;
    const rnd = f.random ?? Math.random;
    counts.calls++;
    if (f.ops && !f.ops.includes(op)) return fn();
    const signal = options?.signal;
    const lat = Array.isArray(f.latencyMs) ? f.latencyMs[0] + rnd() * (f.latencyMs[1] - f.latencyMs[0]) : f.latencyMs ?? 0;
    if (lat > 0) await delay(lat, signal, key);
    if ((f.hangRate ?? 0) > 0 && rnd() < f.hangRate!) {
      counts.hangs++;
      await delay(Infinity, signal, key);
    }
    const fail = (f.errorRate ?? 0) > 0 && rnd() < f.errorRate!;
    if (!fail) return fn();
    counts.errors++;
    const err = () => new StoreError(f.errorKind ?? 'Unavailable', `${op} ${key}: injected fault`, { key });
    if ((f.errorAfterRate ?? 0) > 0 && rnd() < f.errorAfterRate!) {
      await fn();
      throw err();
    }
    throw err();
  }
  return store;
}

/** Wait `ms` (Infinity: forever) unless the signal fires first, which rejects with Aborted. */
function delay(ms: number, signal: AbortSignal | undefined, key: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new StoreError('Aborted', `${key}: aborted`, { key }));
    const t = Number.isFinite(ms) ? setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms) : undefined;
    function onAbort() {
      if (t) clearTimeout(t);
      reject(new StoreError('Aborted', `${key}: aborted`, { key }));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
