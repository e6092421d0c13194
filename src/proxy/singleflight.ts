/**
 * Concurrent calls for the same key share one in-flight promise: N simultaneous cache misses on a
 * block cause one upstream fetch. The entry is dropped when the call settles, so a later call (for
 * example after a failure) starts afresh.
 */
export class Singleflight<V> {
  private readonly inflight = new Map<string, Promise<V>>();

  /** Run `fn` for `key` unless a run is already in flight, in which case join it. */
  do(key: string, fn: () => Promise<V>): Promise<V> {
    const running = this.inflight.get(key);
    if (running) return running;
    // Start fn on a later microtask so the entry is registered before fn can settle (even a
    // synchronous throw), and the finally below always removes it.
    const p = Promise.resolve()
      .then(fn)
      .finally(() => {
        if (this.inflight.get(key) === p) this.inflight.delete(key);
      });
    this.inflight.set(key, p);
    return p;
  }

  get size(): number {
    return this.inflight.size;
  }
}
