import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BlockCache } from './types.js';
import { namedLayout, type FrameLayout } from './frame-layout.js';

export { frameCacheName, hashedLayout, namedLayout, type FrameLayout } from './frame-layout.js';

export interface DiskFrameCacheOptions {
  /** Where the files go (default: the mount's layout; the proxy passes hashedLayout). */
  layout?: FrameLayout;
  /** Called with the bytes of each evicted frame (metrics). */
  onEvict?: (bytes: number) => void;
}

interface Entry {
  size: number;
  /** The file's mtime as last set or seen: hits refresh it at most once a minute. */
  touchedMs: number;
}

const TOUCH_INTERVAL_MS = 60_000;
/** Stats and unlinks at start-up go in batches: thousands at once would only queue in libuv. */
const SCAN_BATCH = 64;

/**
 * The disk cache of stored frames, used by mounts and by proxy.flexfs: exactly the bytes of the
 * object (so ciphertext on E2E volumes), under a byte quota with LRU eviction. The caller
 * verifies what it reads (codec.decode, or BlockCodec.verify on the proxy) and drops a frame
 * that fails, then refetches. Async fs only: it sits on the read path.
 *
 * Restart-safe: writes go to a temporary name and are renamed into place (a crash never leaves a
 * partial frame under a real name; leftovers are removed at start); the index (file → size, in
 * LRU order) is rebuilt from the files at start, ordered by mtime, and hits refresh a file's
 * mtime at most once a minute so the order survives restarts approximately. A smaller quota than
 * last time trims at start. Folders are 0700, files 0600. Names come from the caller and are
 * immutable (block ids are never reused), so nothing is ever invalidated.
 */
export class DiskFrameCache implements BlockCache<string> {
  private readonly index = new Map<string, Entry>(); // file name → entry; Map order = LRU order
  private readonly layout: FrameLayout;
  private used = 0;
  private evictedCount = 0;
  private ready: Promise<void> | undefined;
  /** Called with the bytes of each evicted frame (the proxy hooks its metrics here). */
  onEvict?: (bytes: number) => void;

  constructor(readonly folder: string, readonly quotaBytes: number, options: DiskFrameCacheOptions = {}) {
    if (!(quotaBytes > 0)) throw new Error(`disk cache quota must be positive (got ${quotaBytes})`);
    this.layout = options.layout ?? namedLayout;
    this.onEvict = options.onEvict;
  }

  /** A cache whose folder is created and indexed (what init() does) before it is returned. */
  static async open(folder: string, quotaBytes: number, options: DiskFrameCacheOptions = {}): Promise<DiskFrameCache> {
    const cache = new DiskFrameCache(folder, quotaBytes, options);
    await cache.init();
    return cache;
  }

  /** Create the folders and index what a previous run left there (oldest mtime evicted first). */
  init(): Promise<void> {
    this.ready ??= this.scan();
    return this.ready;
  }

  get bytes(): number {
    return this.used;
  }

  get count(): number {
    return this.index.size;
  }

  get capacityBytes(): number {
    return this.quotaBytes;
  }

  /** Frames evicted to keep the quota since open. */
  get evictions(): number {
    return this.evictedCount;
  }

  /** Whether a frame is indexed now (after init). */
  has(key: string): boolean {
    return this.index.has(this.layout.fileName(key));
  }

  /** The cached frame, or undefined. A file that vanished underneath counts as a miss. */
  async get(key: string): Promise<Buffer | undefined> {
    await this.init();
    const name = this.layout.fileName(key);
    const entry = this.index.get(name);
    if (!entry) return undefined;
    let data: Buffer;
    try {
      data = await readFile(this.pathOf(name));
    } catch {
      if (this.index.get(name) === entry) this.forget(name);
      return undefined;
    }
    // Evicted (or replaced) while the read ran: do not put it back (its bytes are no longer
    // counted, and its file is gone or going); the caller still gets the bytes it read.
    if (this.index.get(name) !== entry) return data;
    this.index.delete(name);
    this.index.set(name, entry); // most recently used goes to the end of the map's order
    const now = Date.now();
    if (now - entry.touchedMs > TOUCH_INTERVAL_MS) {
      entry.touchedMs = now;
      const t = new Date(now);
      utimes(this.pathOf(name), t, t).catch(() => undefined);
    }
    return data;
  }

  /** Store a frame; failures (disk full, permissions) only mean the frame is not cached. */
  async put(key: string, frame: Buffer): Promise<void> {
    await this.write(key, frame).catch(() => undefined);
  }

  /**
   * put() that rejects when the frame could not be written (the proxy logs why). A frame larger
   * than the whole quota, or one already cached (same immutable bytes), is not written.
   */
  async write(key: string, frame: Buffer): Promise<void> {
    await this.init();
    const name = this.layout.fileName(key);
    if (frame.length > this.quotaBytes || this.index.has(name)) return;
    const path = this.pathOf(name);
    const tmp = this.layout.tmpPath(this.folder, path, name);
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await writeFile(tmp, frame, { mode: 0o600 });
      await rename(tmp, path);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    if (!this.index.has(name)) {
      this.index.set(name, { size: frame.length, touchedMs: Date.now() });
      this.used += frame.length;
    }
    await this.evict();
  }

  /** Remove a frame (e.g. it failed verification); a missing key is fine. */
  async drop(key: string): Promise<void> {
    await this.init();
    const name = this.layout.fileName(key);
    if (!this.index.has(name)) return;
    this.forget(name);
    await unlink(this.pathOf(name)).catch(() => undefined);
  }

  private forget(name: string): void {
    const entry = this.index.get(name);
    if (!entry) return;
    this.index.delete(name);
    this.used -= entry.size;
  }

  private async evict(): Promise<void> {
    while (this.used > this.quotaBytes) {
      const oldest = this.index.entries().next();
      if (oldest.done) break;
      const [name, entry] = oldest.value;
      this.forget(name);
      this.evictedCount++;
      this.onEvict?.(entry.size);
      await unlink(this.pathOf(name)).catch(() => undefined);
    }
  }

  private pathOf(name: string): string {
    return join(this.layout.framesDir(this.folder), this.layout.fanOut(name), name);
  }

  private async scan(): Promise<void> {
    const root = this.layout.framesDir(this.folder);
    await mkdir(root, { recursive: true, mode: 0o700 });
    await this.layout.prepare(this.folder);
    const found: { name: string; size: number; mtimeMs: number }[] = [];
    for (const dir of await readdir(root)) {
      if (!/^[0-9a-f]{2}$/.test(dir)) continue;
      const names = await readdir(join(root, dir)).catch(() => [] as string[]);
      for (let i = 0; i < names.length; i += SCAN_BATCH) {
        const batch = names.slice(i, i + SCAN_BATCH);
        const seen = await Promise.all(batch.map(async (name) => {
          const kind = this.layout.classify(dir, name);
          const p = join(root, dir, name);
          if (kind === 'leftover') await unlink(p).catch(() => undefined); // a crash mid-write left it
          if (kind !== 'frame') return undefined;
          const st = await stat(p).catch(() => undefined);
          return st?.isFile() ? { name, size: st.size, mtimeMs: st.mtimeMs } : undefined;
        }));
        for (const f of seen) if (f) found.push(f);
      }
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const f of found) {
      this.index.set(f.name, { size: f.size, touchedMs: f.mtimeMs });
      this.used += f.size;
    }
    await this.evict(); // a smaller quota than last time: trim now
  }
}
