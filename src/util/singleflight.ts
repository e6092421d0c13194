/**
 * Singleflight: concurrent callers asking for the same key share one in-flight promise, so N
 * simultaneous misses on a block cause one fetch. The entry is dropped as soon as the promise
 * settles, so a failure is not cached and the next call starts afresh.
 */
export class SingleFlight<K, V> {
  private readonly inflight = new Map<K, Promise<V>>();

  /** Run `fn` for `key` unless a run is already in flight, in which case join it. */
  run(key: K, fn: () => Promise<V>): Promise<V> {
    const running = this.inflight.get(key);
    if (running) return running;
    // Start fn on a later microtask so the entry is registered before fn can settle (even by a
    // synchronous throw), and the finally below always removes it.
    const p = Promise.resolve()
      .then(fn)
      .finally(() => {
        if (this.inflight.get(key) === p) this.inflight.delete(key);
      });
    this.inflight.set(key, p);
    return p;
  }

  /** Whether a run for `key` is in flight. */
  has(key: K): boolean {
    return this.inflight.has(key);
  }

  /** Keys in flight right now. */
  get size(): number {
    return this.inflight.size;
  }
}
