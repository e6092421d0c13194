import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { BlockCache } from './types.js';

/**
 * Disk cache of stored frames (exactly the bytes of the object, so ciphertext on E2E volumes),
 * under a byte quota with LRU eviction. The caller verifies what it reads (codec.decode) and
 * calls drop() on a frame that fails, then refetches. Async fs only: it sits on the read path.
 *
 * Layout: <folder>/<2 hex fan-out>/<name>. Names are made by the caller from volume id and
 * block id (immutable contents, so a name never needs invalidation).
 */
export class DiskFrameCache implements BlockCache<string> {
  private readonly index = new Map<string, number>(); // name → bytes; Map order = LRU order
  private used = 0;
  private ready: Promise<void> | undefined;

  constructor(readonly folder: string, readonly quotaBytes: number) {
    if (!(quotaBytes > 0)) throw new Error(`disk cache quota must be positive (got ${quotaBytes})`);
  }

  /** Create the folder and index what a previous run left there (oldest mtime evicted first). */
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

  async get(name: string): Promise<Buffer | undefined> {
    await this.init();
    const size = this.index.get(name);
    if (size === undefined) return undefined;
    try {
      const data = await readFile(this.pathOf(name));
      // Evicted while the read ran: do not put it back (its bytes are no longer counted, and
      // its file is gone or going); the caller still gets the bytes it read.
      if (this.index.get(name) === size) this.touch(name, size);
      return data;
    } catch {
      this.forget(name);
      return undefined;
    }
  }

  /** Store a frame; failures (disk full, permissions) only mean the frame is not cached. */
  async put(name: string, frame: Buffer): Promise<void> {
    await this.init();
    if (frame.length > this.quotaBytes || this.index.has(name)) return;
    const path = this.pathOf(name);
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(join(this.folder, fanOut(name)), { recursive: true, mode: 0o700 });
      await writeFile(tmp, frame, { mode: 0o600 });
      await rename(tmp, path);
    } catch {
      await unlink(tmp).catch(() => undefined);
      return;
    }
    if (!this.index.has(name)) {
      this.index.set(name, frame.length);
      this.used += frame.length;
    }
    await this.evict();
  }

  /** Remove a frame (e.g. it failed verification). */
  async drop(name: string): Promise<void> {
    await this.init();
    if (!this.index.has(name)) return;
    this.forget(name);
    await unlink(this.pathOf(name)).catch(() => undefined);
  }

  private touch(name: string, size: number): void {
    this.index.delete(name);
    this.index.set(name, size);
  }

  private forget(name: string): void {
    const size = this.index.get(name);
    if (size === undefined) return;
    this.index.delete(name);
    this.used -= size;
  }

  private async evict(): Promise<void> {
    while (this.used > this.quotaBytes) {
      const oldest = this.index.keys().next();
      if (oldest.done) break;
      const name = oldest.value;
      this.forget(name);
      await unlink(this.pathOf(name)).catch(() => undefined);
    }
  }

  private pathOf(name: string): string {
    return join(this.folder, fanOut(name), name);
  }

  private async scan(): Promise<void> {
    await mkdir(this.folder, { recursive: true, mode: 0o700 });
    const found: { name: string; size: number; mtimeMs: number }[] = [];
    for (const sub of await readdir(this.folder)) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      const dir = join(this.folder, sub);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const p = join(dir, name);
        if (name.endsWith('.tmp')) {
          await unlink(p).catch(() => undefined); // a crash mid-write left it
          continue;
        }
        const st = await stat(p).catch(() => undefined);
        if (st?.isFile()) found.push({ name, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const f of found) {
      this.index.set(f.name, f.size);
      this.used += f.size;
    }
    await this.evict();
  }
}

/** Two hex digits spreading names over 256 folders (FNV-1a of the name). */
function fanOut(name: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return ((h >>> 0) & 0xff).toString(16).padStart(2, '0');
}

/** A file-name-safe cache name for one block of one volume. */
export function frameCacheName(volumeId: string, blockId: number): string {
  return `${volumeId.replace(/[^A-Za-z0-9_-]/g, '_')}-${blockId}`;
}
