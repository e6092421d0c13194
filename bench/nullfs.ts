import { posix } from 'node:path';
import { FsError, type ErrnoName } from '../src/errors/index.js';
import type { Attr, StatFs } from '../src/meta/types.js';
import type { Caller, PosixFs } from '../src/vfs/types.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../src/util/mode.js';

/**
 * Null filesystem: a PosixFs that keeps the namespace in memory and throws file data away (reads
 * return zeros up to the recorded size). Mounted through the same adapter and options as flexfs,
 * it is the ceiling for benchmarks and the subject of the FUSE adapter tests.
 *
 * Introspection through the mount (the test process must not share memory with the mount):
 *   getfattr -n user.nullfs.stats <root>   JSON: write sizes, creates with their caller uid/gid
 *   setfattr -n user.nullfs.reset -v 1 <root>   clears the statistics
 * Fault names: creating/making `fail-<ERRNO>` (e.g. fail-EACCES) throws FsError(ERRNO);
 * `fail-crash` throws a plain Error (answers EIO).
 */
export const STATS_XATTR = 'user.nullfs.stats';
export const RESET_XATTR = 'user.nullfs.reset';

interface Node {
  attr: Attr;
  xattrs: Map<string, Buffer>;
  children?: Set<string>;
  target?: string;
}

export interface NullFsStats {
  writes: number;
  writeBytes: number;
  maxWrite: number;
  /** write size → count */
  writeSizes: Record<string, number>;
  reads: number;
  maxRead: number;
  /** Last creates (files, dirs, nodes, symlinks) with who made them. */
  creates: { path: string; uid: number; gid: number; pid: number }[];
}

const MAX_CREATES_KEPT = 1000;

function nowNs(): bigint { return BigInt(Date.now()) * 1_000_000n; }

export class NullFs implements PosixFs {
  private nodes = new Map<string, Node>();
  private nextIno = 2;
  private nextFh = 1;
  private stats: NullFsStats = NullFs.emptyStats();

  constructor() {
    this.nodes.set('/', { attr: this.newAttr(1, S_IFDIR | 0o777, { uid: 0, gid: 0, pid: 0 }), xattrs: new Map(), children: new Set() });
    this.nodes.get('/')!.attr.nlink = 2;
  }

  private static emptyStats(): NullFsStats {
    return { writes: 0, writeBytes: 0, maxWrite: 0, writeSizes: {}, reads: 0, maxRead: 0, creates: [] };
  }

  private newAttr(ino: number, mode: number, c: Caller): Attr {
    const t = nowNs();
    const type = (mode & S_IFMT) === S_IFDIR ? 'dir' : (mode & S_IFMT) === S_IFLNK ? 'symlink' : 'file';
    return { ino, type, mode, uid: c.uid, gid: c.gid, nlink: 1, size: 0, rdev: 0, atime: t, mtime: t, ctime: t, btime: t, generation: 0 };
  }

  private get(path: string): Node {
    const n = this.nodes.get(path);
    if (!n) throw new FsError('ENOENT', path);
    return n;
  }

  private parentDir(path: string): Node {
    const p = this.get(posix.dirname(path));
    if (!p.children) throw new FsError('ENOTDIR', path);
    return p;
  }

  /** fail-<ERRNO> names make the op throw that errno (errno passthrough tests). */
  private checkFault(path: string): void {
    const m = /^fail-(.+)$/.exec(posix.basename(path));
    if (!m) return;
    if (m[1] === 'crash') throw new Error('nullfs: injected non-FsError failure');
    throw new FsError(m[1] as ErrnoName, `nullfs: injected for ${path}`);
  }

  private add(path: string, mode: number, c: Caller, target?: string): Node {
    this.checkFault(path);
    const parent = this.parentDir(path);
    if (this.nodes.has(path)) throw new FsError('EEXIST', path);
    const node: Node = { attr: this.newAttr(this.nextIno++, mode, c), xattrs: new Map() };
    if ((mode & S_IFMT) === S_IFDIR) { node.children = new Set(); node.attr.nlink = 2; parent.attr.nlink++; }
    if (target !== undefined) { node.target = target; node.attr.size = Buffer.byteLength(target); }
    this.nodes.set(path, node);
    parent.children!.add(posix.basename(path));
    parent.attr.mtime = parent.attr.ctime = nowNs();
    this.stats.creates.push({ path, uid: c.uid, gid: c.gid, pid: c.pid });
    if (this.stats.creates.length > MAX_CREATES_KEPT) this.stats.creates.shift();
    return node;
  }

  private remove(path: string): Node {
    const node = this.get(path);
    const parent = this.parentDir(path);
    this.nodes.delete(path);
    parent.children!.delete(posix.basename(path));
    if (node.children) parent.attr.nlink--;
    parent.attr.mtime = parent.attr.ctime = nowNs();
    return node;
  }

  async init(): Promise<void> {}
  async destroy(): Promise<void> {}

  async getattr(path: string): Promise<Attr> { return { ...this.get(path).attr }; }
  async fgetattr(path: string): Promise<Attr> { return this.getattr(path); }
  async access(path: string): Promise<void> { this.get(path); }
  async statfs(): Promise<StatFs> {
    let used = 0;
    for (const n of this.nodes.values()) used += n.attr.size;
    return { blockSize: 4 * 2 ** 20, usedBytes: used, capacityBytes: 0, inodes: this.nodes.size, inodeLimit: 0 };
  }

  async opendir(path: string): Promise<number> {
    if (!this.get(path).children) throw new FsError('ENOTDIR', path);
    return this.nextFh++;
  }
  async readdir(path: string): Promise<{ name: string; attr: Attr }[]> {
    const dir = this.get(path);
    if (!dir.children) throw new FsError('ENOTDIR', path);
    return [...dir.children].sort().map((name) => ({ name, attr: { ...this.get(posix.join(path, name)).attr } }));
  }
  async releasedir(): Promise<void> {}
  async fsyncdir(): Promise<void> {}

  async mkdir(path: string, mode: number, c: Caller): Promise<void> { this.add(path, S_IFDIR | (mode & 0o7777), c); }
  async rmdir(path: string): Promise<void> {
    const n = this.get(path);
    if (!n.children) throw new FsError('ENOTDIR', path);
    if (n.children.size) throw new FsError('ENOTEMPTY', path);
    this.remove(path);
  }
  async mknod(path: string, mode: number, rdev: number, c: Caller): Promise<void> {
    this.add(path, mode, c).attr.rdev = rdev;
  }
  async create(path: string, mode: number, _flags: number, c: Caller): Promise<number> {
    this.add(path, S_IFREG | (mode & 0o7777), c);
    return this.nextFh++;
  }
  async open(path: string): Promise<number> {
    if (this.get(path).children) throw new FsError('EISDIR', path);
    return this.nextFh++;
  }

  async read(path: string, _fh: number, buf: Buffer, length: number, position: number): Promise<number> {
    const n = this.get(path);
    this.stats.reads++;
    this.stats.maxRead = Math.max(this.stats.maxRead, length);
    const count = Math.max(0, Math.min(length, n.attr.size - position));
    buf.fill(0, 0, count);
    return count;
  }
  async write(path: string, _fh: number, _buf: Buffer, length: number, position: number): Promise<number> {
    const n = this.get(path);
    const s = this.stats;
    s.writes++;
    s.writeBytes += length;
    s.maxWrite = Math.max(s.maxWrite, length);
    s.writeSizes[length] = (s.writeSizes[length] ?? 0) + 1;
    n.attr.size = Math.max(n.attr.size, position + length);
    n.attr.mtime = n.attr.ctime = nowNs();
    return length;
  }
  async flush(): Promise<void> {}
  async fsync(): Promise<void> {}
  async release(): Promise<void> {}
  async truncate(path: string, size: number): Promise<void> {
    const n = this.get(path);
    n.attr.size = size;
    n.attr.mtime = n.attr.ctime = nowNs();
  }
  async ftruncate(path: string, _fh: number, size: number): Promise<void> { return this.truncate(path, size); }

  async unlink(path: string): Promise<void> {
    if (this.get(path).children) throw new FsError('EISDIR', path);
    this.remove(path);
  }
  async rename(src: string, dest: string): Promise<void> {
    const node = this.get(src);
    this.checkFault(dest);
    const existing = this.nodes.get(dest);
    if (existing?.children?.size) throw new FsError('ENOTEMPTY', dest);
    if (existing) this.remove(dest);
    this.remove(src);
    const parent = this.parentDir(dest);
    // Move the subtree: every key under src/ gets the dest/ prefix.
    for (const [p, n] of [...this.nodes]) {
      if (p.startsWith(src + '/')) { this.nodes.delete(p); this.nodes.set(dest + p.slice(src.length), n); }
    }
    this.nodes.set(dest, node);
    parent.children!.add(posix.basename(dest));
    if (node.children) parent.attr.nlink++;
  }
  async link(target: string, path: string): Promise<void> {
    const node = this.get(target);
    if (node.children) throw new FsError('EPERM', target);
    const parent = this.parentDir(path);
    if (this.nodes.has(path)) throw new FsError('EEXIST', path);
    node.attr.nlink++;
    this.nodes.set(path, node);
    parent.children!.add(posix.basename(path));
  }
  async symlink(target: string, path: string, c: Caller): Promise<void> { this.add(path, S_IFLNK | 0o777, c, target); }
  async readlink(path: string): Promise<string> {
    const n = this.get(path);
    if (n.target === undefined) throw new FsError('EINVAL', path);
    return n.target;
  }

  async chmod(path: string, mode: number): Promise<void> {
    const a = this.get(path).attr;
    a.mode = (a.mode & S_IFMT) | (mode & 0o7777);
    a.ctime = nowNs();
  }
  async chown(path: string, uid: number, gid: number): Promise<void> {
    const a = this.get(path).attr;
    if (uid >= 0) a.uid = uid;
    if (gid >= 0) a.gid = gid;
    a.ctime = nowNs();
  }
  async utimens(path: string, atime: bigint | 'now' | undefined, mtime: bigint | 'now' | undefined): Promise<void> {
    const a = this.get(path).attr;
    if (atime !== undefined) a.atime = atime === 'now' ? nowNs() : atime;
    if (mtime !== undefined) a.mtime = mtime === 'now' ? nowNs() : mtime;
    a.ctime = nowNs();
  }

  async setxattr(path: string, name: string, value: Buffer): Promise<void> {
    if (path === '/' && name === RESET_XATTR) { this.stats = NullFs.emptyStats(); return; }
    this.get(path).xattrs.set(name, Buffer.from(value));
  }
  async getxattr(path: string, name: string): Promise<Buffer> {
    if (path === '/' && name === STATS_XATTR) return Buffer.from(JSON.stringify(this.stats));
    const v = this.get(path).xattrs.get(name);
    if (!v) throw new FsError('ENODATA', `${path} ${name}`);
    return v;
  }
  async listxattr(path: string): Promise<string[]> { return [...this.get(path).xattrs.keys()]; }
  async removexattr(path: string, name: string): Promise<void> {
    if (!this.get(path).xattrs.delete(name)) throw new FsError('ENODATA', `${path} ${name}`);
  }
}
