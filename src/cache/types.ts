/**
 * BlockCache: the one interface of the mount's block caches — a byte-bounded LRU of immutable
 * block bytes under a key (the memory cache keys decoded blocks by block id; the disk cache keys
 * stored frames by name). Block ids name immutable bytes, so nothing is ever invalidated: entries
 * only leave by LRU eviction or drop(). A cache never throws on the read path: a miss or a failed
 * write is just "not cached". Implementations may answer synchronously (memory) or not (disk);
 * callers await both. Every implementation passes test/cache/conformance.ts.
 */
export interface BlockCache<K> {
  /** The bytes stored under `key`, or undefined; a hit makes the entry most recently used. */
  get(key: K): Buffer | undefined | Promise<Buffer | undefined>;
  /** Store `data` under `key`, evicting least recently used entries past the capacity. An entry
   *  larger than the whole capacity is not cached (and evicts nothing). */
  put(key: K, data: Buffer): void | Promise<void>;
  /** Remove an entry (e.g. it failed verification); a missing key is fine. */
  drop(key: K): void | Promise<void>;
  /** Bytes held now (never above capacityBytes once a put has settled). */
  readonly bytes: number;
  /** Entries held now. */
  readonly count: number;
  readonly capacityBytes: number;
}
