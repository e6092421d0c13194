import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The proxy's disk cache of stored frames (exactly the bytes in the bucket, so ciphertext for E2E
 * volumes). Layout under `folder`:
 *   blocks/<hh>/<sha256(key)>   one file per cached object (name hashed: any key is a safe name)
 *   tmp/                        writes land here first and are renamed into place (atomic)
 * The index (file → size, in least-recently-used order) lives in memory and is rebuilt from the
 * files at open, ordered by mtime; hits refresh the mtime (at most once a minute per file) so the
 * order survives restarts approximately. The quota counts file bytes; the least recently used
 * files go first when a put would exceed it.
 */
export interface DiskCacheOptions {
  folder: string;
  quotaBytes: number;
  /** Called with the bytes of each evicted object (metrics). */
  onEvict?: (bytes: number) => void;
}

interface Entry {
  size: number;
  touchedMs: number;
}

const TOUCH_INTERVAL_MS = 60_000;

export class DiskCache {
  private readonly index = new Map<string, Entry>();
  private total = 0;
  private evictedCount = 0;

  /** Called with the bytes of each evicted object (the server hooks its metrics here). */
  onEvict?: (bytes: number) => void;

  private constructor(private readonly opts: DiskCacheOptions) {
    this.onEvict = opts.onEvict;
  }

  /** Open (creating folders) and rebuild the index from the files present. */
  static async open(opts: DiskCacheOptions): Promise<DiskCache> {
    if (!(opts.quotaBytes > 0)) throw new Error(`disk cache quota must be positive (got ${opts.quotaBytes})`);
    const cache = new DiskCache(opts);
    await rm(join(opts.folder, 'tmp'), { recursive: true, force: true });
    await mkdir(join(opts.folder, 'tmp'), { recursive: true, mode: 0o700 });
    await mkdir(join(opts.folder, 'blocks'), { recursive: true, mode: 0o700 });
    await cache.rebuild();
    return cache;
  }

  get bytes(): number { return this.total; }
  get count(): number { return this.index.size; }
  get quota(): number { return this.opts.quotaBytes; }
  get evictions(): number { return this.evictedCount; }

  /** The cached frame, or null. A file that vanished underneath counts as a miss. */
  async get(key: string): Promise<Buffer | null> {
    const name = nameOf(key);
    const entry = this.index.get(name);
    if (!entry) return null;
    let data: Buffer;
    try {
      data = await readFile(this.pathOf(name));
    } catch {
      this.forget(name);
      return null;
    }
    // Most recently used goes to the end of the map's order.
    this.index.delete(name);
    this.index.set(name, entry);
    const now = Date.now();
    if (now - entry.touchedMs > TOUCH_INTERVAL_MS) {
      entry.touchedMs = now;
      const t = new Date(now);
      utimes(this.pathOf(name), t, t).catch(() => undefined);
    }
    return data;
  }

  has(key: string): boolean {
    return this.index.has(nameOf(key));
  }

  /** Store a frame; objects larger than the whole quota are not cached. */
  async put(key: string, frame: Buffer): Promise<void> {
    if (frame.length > this.opts.quotaBytes) return;
    const name = nameOf(key);
    const tmp = join(this.opts.folder, 'tmp', `${name}.${randomBytes(6).toString('hex')}`);
    await mkdir(join(this.opts.folder, 'blocks', name.slice(0, 2)), { recursive: true, mode: 0o700 });
    await writeFile(tmp, frame, { mode: 0o600 });
    try {
      await rename(tmp, this.pathOf(name));
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    this.forget(name);
    this.index.set(name, { size: frame.length, touchedMs: Date.now() });
    this.total += frame.length;
    await this.evictToQuota();
  }

  /** Drop a key (e.g. a frame that failed verification). */
  async delete(key: string): Promise<void> {
    const name = nameOf(key);
    this.forget(name);
    await unlink(this.pathOf(name)).catch(() => undefined);
  }

  private forget(name: string): void {
    const e = this.index.get(name);
    if (!e) return;
    this.index.delete(name);
    this.total -= e.size;
  }

  private async evictToQuota(): Promise<void> {
    while (this.total > this.opts.quotaBytes && this.index.size > 0) {
      const [name, entry] = this.index.entries().next().value as [string, Entry];
      this.forget(name);
      this.evictedCount++;
      this.onEvict?.(entry.size);
      await unlink(this.pathOf(name)).catch(() => undefined);
    }
  }

  private pathOf(name: string): string {
    return join(this.opts.folder, 'blocks', name.slice(0, 2), name);
  }

  private async rebuild(): Promise<void> {
    const root = join(this.opts.folder, 'blocks');
    const found: { name: string; size: number; mtimeMs: number }[] = [];
    for (const dir of await readdir(root)) {
      if (!/^[0-9a-f]{2}$/.test(dir)) continue;
      const names = await readdir(join(root, dir)).catch(() => [] as string[]);
      // Stat in modest batches: thousands of concurrent stats would only queue in libuv anyway.
      for (let i = 0; i < names.length; i += 64) {
        const batch = names.slice(i, i + 64).filter((n) => /^[0-9a-f]{64}$/.test(n) && n.startsWith(dir));
        const stats = await Promise.all(batch.map((n) => stat(join(root, dir, n)).catch(() => null)));
        stats.forEach((st, j) => {
          if (st?.isFile()) found.push({ name: batch[j], size: st.size, mtimeMs: st.mtimeMs });
        });
      }
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const f of found) {
      this.index.set(f.name, { size: f.size, touchedMs: f.mtimeMs });
      this.total += f.size;
    }
    // A smaller quota than last time: trim now.
    await this.evictToQuota();
  }
}

function nameOf(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
