import { FsError } from '../errors/index.js';
import { ROOT_INO, type Attr, type MetaStore, type OpContext } from '../meta/types.js';

interface Timed<T> {
  value: T;
  expires: number;
}

/** Longest name of one path component (bytes), as on Linux. */
export const NAME_MAX = 255;

/**
 * Path → inode resolution for fuse-native's path API, with short-TTL caches of directory entries
 * (parent ino + name → ino) and attributes (ino → Attr). Our own mutations invalidate what they
 * touch; changes by other clients show up within the TTL (and at open: close-to-open).
 */
export class Resolver {
  private readonly entries = new Map<string, Timed<number>>();
  private readonly attrs = new Map<number, Timed<Attr>>();

  constructor(
    private readonly meta: MetaStore,
    private readonly ttlMs: number,
    private readonly call: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
  ) {}

  /** Split "/a/b/c" into components, validating each. */
  static split(path: string): string[] {
    if (typeof path !== 'string' || !path.startsWith('/')) throw new FsError('EINVAL', `path must be absolute: ${JSON.stringify(path)}`);
    const parts = path.split('/').filter((p) => p.length > 0 && p !== '.');
    for (const p of parts) {
      if (Buffer.byteLength(p) > NAME_MAX) throw new FsError('ENAMETOOLONG', `name longer than ${NAME_MAX} bytes`);
      if (p === '..') throw new FsError('EINVAL', 'path contains ".."');
    }
    return parts;
  }

  /** Directories along the way, then the target: `visit` may refuse traversal (search permission). */
  async resolve(path: string, ctx: OpContext, visit?: (dir: Attr) => Promise<void>): Promise<Attr> {
    const parts = Resolver.split(path);
    let cur = await this.getattr(ROOT_INO, ctx);
    for (const name of parts) {
      if (cur.type !== 'dir') throw new FsError('ENOTDIR', `${path}: a component is not a directory`);
      if (visit) await visit(cur);
      cur = await this.lookup(cur.ino, name, ctx);
    }
    return cur;
  }

  /** The parent directory's attributes and the last name (ENOENT/ENOTDIR along the way). */
  async resolveParent(path: string, ctx: OpContext, visit?: (dir: Attr) => Promise<void>): Promise<{ parent: Attr; name: string }> {
    const parts = Resolver.split(path);
    if (parts.length === 0) throw new FsError('EBUSY', 'the root directory has no parent entry');
    const name = parts[parts.length - 1];
    const parent = await this.resolve('/' + parts.slice(0, -1).join('/'), ctx, visit);
    if (parent.type !== 'dir') throw new FsError('ENOTDIR', `${path}: parent is not a directory`);
    if (visit) await visit(parent);
    return { parent, name };
  }

  async lookup(parent: number, name: string, ctx: OpContext): Promise<Attr> {
    const now = Date.now();
    const e = this.entries.get(key(parent, name));
    if (e && e.expires > now) {
      const a = this.attrs.get(e.value);
      if (a && a.expires > now) return a.value;
      return this.getattr(e.value, ctx);
    }
    const attr = await this.call('lookup', () => this.meta.lookup(parent, name, ctx));
    this.putEntry(parent, name, attr);
    return attr;
  }

  async getattr(ino: number, ctx: OpContext, fresh = false): Promise<Attr> {
    const a = this.attrs.get(ino);
    if (!fresh && a && a.expires > Date.now()) return a.value;
    const attr = await this.call('getattr', () => this.meta.getattr(ino, ctx));
    this.putAttr(attr);
    return attr;
  }

  putEntry(parent: number, name: string, attr: Attr): void {
    if (this.ttlMs <= 0) return;
    this.bound(this.entries);
    this.entries.set(key(parent, name), { value: attr.ino, expires: Date.now() + this.ttlMs });
    this.putAttr(attr);
  }

  putAttr(attr: Attr): void {
    if (this.ttlMs <= 0) return;
    this.bound(this.attrs);
    this.attrs.set(attr.ino, { value: attr, expires: Date.now() + this.ttlMs });
  }

  dropEntry(parent: number, name: string): void {
    this.entries.delete(key(parent, name));
  }

  dropAttr(ino: number): void {
    this.attrs.delete(ino);
  }

  /** Keep the caches bounded: past the cap, forget expired entries, then everything. */
  private bound<K, V>(m: Map<K, Timed<V>>): void {
    if (m.size < 100_000) return;
    const now = Date.now();
    for (const [k, v] of m) if (v.expires <= now) m.delete(k);
    if (m.size >= 100_000) m.clear();
  }
}

function key(parent: number, name: string): string {
  return `${parent}/${name}`;
}
