import { FsError, type ErrnoName } from '../src/errors/index.js';
import { DirBuffer } from '../src/fuse/lowlevel/dirbuf.js';
import type {
  AttrReply, CreateReply, CreateRequest, Entry, ForgetRequest, FuseAttr, GetattrRequest,
  GetxattrRequest, LinkRequest, ListxattrRequest, LookupRequest, LowLevelHandlers, MkdirRequest, MknodRequest,
  OpendirRequest, OpenReply, OpenRequest, ReadRequest, ReaddirRequest, ReadlinkRequest, ReleasedirRequest,
  ReleaseRequest, RemovexattrRequest, RenameRequest, RmdirRequest, SetattrRequest, SetxattrRequest, StatfsReply,
  SymlinkRequest, UnlinkRequest, WriteRequest,
} from '../src/fuse/lowlevel/types.js';
import { REPORTED_BLKSIZE, statfsToFuse } from '../src/fuse/stat.js';

/**
 * Null filesystem on flexfs's low-level FUSE layer (src/fuse/lowlevel, inode-based): the namespace
 * (names, modes, owners, times, sizes, links, xattrs) lives in memory, file data is thrown away
 * (reads return zeros up to the recorded size). Mounted by bench/nullfs-main.ts with the options
 * the real mount uses (src/fuse/kernel-mount.ts), it is the ceiling row of `npm run bench` and
 * the subject of test/fuse/nullfs.test.ts.
 *
 * Introspection through the mount (the test process must not share memory with the mount):
 *   getfattr --only-values -n user.nullfs.stats <root>   JSON (NullFsStats)
 *   setfattr -n user.nullfs.reset -v 1 <root>             clears the statistics
 * Fault names: creating/making/renaming to `fail-<ERRNO>` (e.g. fail-EACCES) throws
 * FsError(ERRNO); `fail-crash` throws a plain Error (answers EIO).
 *
 * Inodes are counted like the kernel holds them: every entry reply (lookup, create, mkdir, mknod,
 * symlink, link, each readdirplus entry) is one lookup, `forget` drops them; an inode with no name
 * left (nlink 0) is freed when the kernel holds none. Inode numbers are never reused.
 */
export const STATS_XATTR = 'user.nullfs.stats';
export const RESET_XATTR = 'user.nullfs.reset';

export interface NullFsStats {
  writes: number;
  writeBytes: number;
  maxWrite: number;
  /** write size → count */
  writeSizes: Record<string, number>;
  reads: number;
  maxRead: number;
  /** Last creates (files, dirs, nodes, symlinks) with who made them; `path` from the root. */
  creates: { path: string; uid: number; gid: number; pid: number }[];
  /** Inodes alive right now (root included): named ones and unnamed ones the kernel still holds. */
  inodes: number;
  forgets: number;
}

export interface NullFsOptions {
  /** Seconds the kernel may cache attributes / names (as the session's defaults; readdirplus entries carry them). */
  attrTimeout?: number;
  entryTimeout?: number;
}

interface Node {
  attr: FuseAttr;
  /** Lookups the kernel holds. */
  lookups: number;
  /** Directories: name → inode. */
  children?: Map<string, number>;
  /** Directories: where they sit (for ".." and the paths in the statistics). */
  parent?: number;
  name?: string;
  target?: string;
  xattrs?: Map<string, Buffer>;
  /** mtime and size at the last open: the page cache is kept when they did not change (auto_cache). */
  openedMtime?: bigint;
  openedSize?: number;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_IXGRP = 0o010;
const O_APPEND = 0o2000;
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
const ROOT = 1;
const ZEROS = Buffer.alloc(1 << 20);
const MAX_CREATES_KEPT = 1000;

function nowNs(): bigint { return BigInt(Date.now()) * 1_000_000n; }

/** setuid always, setgid when group-executable (what a write, truncate or chown clears). */
function privBits(mode: number): number {
  return (mode & S_ISUID) | ((mode & S_ISGID) && (mode & S_IXGRP) ? S_ISGID : 0);
}

export class NullFs implements LowLevelHandlers {
  private readonly nodes = new Map<number, Node>();
  private nextIno = 2;
  private nextFh = 1;
  /** Handles opened with O_APPEND (their writes go to the end). */
  private readonly appendFhs = new Set<number>();
  /** Directory handles → the listing taken at offset 0 (offsets index into it). */
  private readonly listings = new Map<number, [string, number][]>();
  private stats = NullFs.emptyStats();
  private forgets = 0;
  private readonly attrTimeout: number;
  private readonly entryTimeout: number;

  constructor(o: NullFsOptions = {}) {
    this.attrTimeout = o.attrTimeout ?? 0;
    this.entryTimeout = o.entryTimeout ?? 0;
    const root: Node = { attr: this.newAttr(ROOT, S_IFDIR | 0o777, 0, 0), lookups: 1, children: new Map(), parent: ROOT, name: '' };
    root.attr.nlink = 2;
    this.nodes.set(ROOT, root);
  }

  private static emptyStats(): Omit<NullFsStats, 'inodes' | 'forgets'> {
    return { writes: 0, writeBytes: 0, maxWrite: 0, writeSizes: {}, reads: 0, maxRead: 0, creates: [] };
  }

  private newAttr(ino: number, mode: number, uid: number, gid: number): FuseAttr {
    const t = nowNs();
    return { ino, mode, nlink: 1, uid, gid, rdev: 0, size: 0, blksize: REPORTED_BLKSIZE, atime: t, mtime: t, ctime: t };
  }

  private node(ino: number): Node {
    const n = this.nodes.get(ino);
    if (!n) throw new FsError('ENOENT', `inode ${ino}`);
    return n;
  }

  private dir(ino: number): Map<string, number> {
    const d = this.node(ino).children;
    if (!d) throw new FsError('ENOTDIR', `inode ${ino}`);
    return d;
  }

  /** An entry reply: the kernel now holds one more lookup of the inode. */
  private entry(ino: number, n: Node = this.node(ino)): Entry {
    n.lookups++;
    return { ino, attr: { ...n.attr }, attrTimeout: this.attrTimeout, entryTimeout: this.entryTimeout };
  }

  /** Free an inode once it has no name and the kernel holds no lookup. */
  private maybeFree(ino: number, n: Node): void {
    if (ino !== ROOT && n.attr.nlink === 0 && n.lookups <= 0) this.nodes.delete(ino);
  }

  private pathOf(dirIno: number): string {
    const parts: string[] = [];
    for (let ino = dirIno; ino !== ROOT;) {
      const n = this.nodes.get(ino);
      if (!n) break;
      parts.push(n.name ?? '?');
      ino = n.parent ?? ROOT;
    }
    return '/' + parts.reverse().join('/');
  }

  /** fail-<ERRNO> names make the op throw that errno (errno passthrough tests). */
  private checkFault(name: string, where: number): void {
    if (!name.startsWith('fail-')) return;
    const what = name.slice(5);
    if (what === 'crash') throw new Error('nullfs: injected non-FsError failure');
    throw new FsError(what as ErrnoName, `nullfs: injected for ${this.pathOf(where)}/${name}`);
  }

  private touchDir(n: Node): void { n.attr.mtime = n.attr.ctime = nowNs(); }

  /** A new inode named `name` in `parent`; mode has its type and the permission bits already masked. */
  private add(parent: number, name: string, mode: number, req: { uid: number; gid: number; pid: number }): [number, Node] {
    this.checkFault(name, parent);
    const p = this.node(parent);
    const d = this.dir(parent);
    if (d.has(name)) throw new FsError('EEXIST', name);
    // A setgid directory passes its group on, and to directories its setgid bit (BSD semantics).
    const sgid = (p.attr.mode & S_ISGID) !== 0;
    const isDir = (mode & S_IFMT) === S_IFDIR;
    const ino = this.nextIno++;
    const n: Node = {
      attr: this.newAttr(ino, isDir && sgid ? mode | S_ISGID : mode, req.uid, sgid ? p.attr.gid : req.gid),
      lookups: 0,
    };
    if (isDir) {
      n.children = new Map();
      n.parent = parent;
      n.name = name;
      n.attr.nlink = 2;
      p.attr.nlink++;
    }
    this.nodes.set(ino, n);
    d.set(name, ino);
    this.touchDir(p);
    const c = this.stats.creates;
    c.push({ path: `${parent === ROOT ? '' : this.pathOf(parent)}/${name}`, uid: req.uid, gid: req.gid, pid: req.pid });
    if (c.length > MAX_CREATES_KEPT) c.shift();
    return [ino, n];
  }

  /** One name of `n` is gone (unlink, rmdir, replaced by a rename) from directory `parent`. */
  private dropName(parent: Node, ino: number, n: Node): void {
    if (n.children) {
      n.attr.nlink = 0;
      parent.attr.nlink--;
    } else {
      n.attr.nlink--;
    }
    n.attr.ctime = nowNs();
    this.maybeFree(ino, n);
  }

  /** What `user.nullfs.stats` answers. */
  statistics(): NullFsStats {
    return { ...this.stats, inodes: this.nodes.size, forgets: this.forgets };
  }

  // ---------------------------------------------------------------- inodes

  lookup(req: LookupRequest): Entry {
    const ino = this.dir(req.ino).get(req.name);
    if (ino === undefined) throw new FsError('ENOENT', req.name);
    return this.entry(ino);
  }

  forget(req: ForgetRequest): void {
    this.forgets++;
    const n = this.nodes.get(req.ino);
    if (!n) return;
    n.lookups -= req.nlookup;
    this.maybeFree(req.ino, n);
  }

  getattr(req: GetattrRequest): AttrReply {
    return { attr: { ...this.node(req.ino).attr }, timeout: this.attrTimeout };
  }

  setattr(req: SetattrRequest): AttrReply {
    const n = this.node(req.ino);
    const a = n.attr;
    const now = nowNs();
    if (req.mode !== undefined) a.mode = (a.mode & S_IFMT) | (req.mode & 0o7777);
    if (req.newUid !== undefined || req.newGid !== undefined) {
      if (req.newUid !== undefined) a.uid = req.newUid;
      if (req.newGid !== undefined) a.gid = req.newGid;
      // chown of a non-directory clears setuid/setgid (unless this very request sets the mode).
      if (!n.children && req.mode === undefined) a.mode &= ~privBits(a.mode);
    }
    if (req.size !== undefined) {
      if (n.children) throw new FsError('EISDIR', `inode ${req.ino}`);
      a.size = req.size;
      a.mtime = now;
      if (req.uid !== 0 && req.mode === undefined) a.mode &= ~privBits(a.mode);
    }
    if (req.atime !== undefined) a.atime = req.atime === 'now' ? now : req.atime;
    if (req.mtime !== undefined) a.mtime = req.mtime === 'now' ? now : req.mtime;
    a.ctime = req.ctime ?? now;
    return { attr: { ...a }, timeout: this.attrTimeout };
  }

  readlink(req: ReadlinkRequest): string {
    const t = this.node(req.ino).target;
    if (t === undefined) throw new FsError('EINVAL', `inode ${req.ino}`);
    return t;
  }

  statfs(): StatfsReply {
    let used = 0;
    for (const n of this.nodes.values()) used += n.attr.size;
    return statfsToFuse({ blockSize: 4 * 2 ** 20, usedBytes: used, capacityBytes: 0, inodes: this.nodes.size, inodeLimit: 0 });
  }

  // ---------------------------------------------------------------- names

  mknod(req: MknodRequest): Entry {
    const type = (req.mode & S_IFMT) || S_IFREG;
    if (type === S_IFDIR) throw new FsError('EINVAL', 'mknod cannot make a directory');
    const [ino, n] = this.add(req.ino, req.name, type | (req.mode & 0o7777 & ~req.umask), req);
    n.attr.rdev = req.rdev;
    return this.entry(ino, n);
  }

  mkdir(req: MkdirRequest): Entry {
    const [ino, n] = this.add(req.ino, req.name, S_IFDIR | (req.mode & 0o7777 & ~req.umask), req);
    return this.entry(ino, n);
  }

  symlink(req: SymlinkRequest): Entry {
    const [ino, n] = this.add(req.ino, req.name, S_IFLNK | 0o777, req);
    n.target = req.target;
    n.attr.size = Buffer.byteLength(req.target);
    return this.entry(ino, n);
  }

  link(req: LinkRequest): Entry {
    const n = this.node(req.ino);
    if (n.children) throw new FsError('EPERM', 'hard link to a directory');
    this.checkFault(req.name, req.newParent);
    const d = this.dir(req.newParent);
    if (d.has(req.name)) throw new FsError('EEXIST', req.name);
    d.set(req.name, req.ino);
    n.attr.nlink++;
    n.attr.ctime = nowNs();
    this.touchDir(this.node(req.newParent));
    return this.entry(req.ino, n);
  }

  unlink(req: UnlinkRequest): void {
    const d = this.dir(req.ino);
    const ino = d.get(req.name);
    if (ino === undefined) throw new FsError('ENOENT', req.name);
    const n = this.node(ino);
    if (n.children) throw new FsError('EISDIR', req.name);
    d.delete(req.name);
    const p = this.node(req.ino);
    this.touchDir(p);
    this.dropName(p, ino, n);
  }

  rmdir(req: RmdirRequest): void {
    const d = this.dir(req.ino);
    const ino = d.get(req.name);
    if (ino === undefined) throw new FsError('ENOENT', req.name);
    const n = this.node(ino);
    if (!n.children) throw new FsError('ENOTDIR', req.name);
    if (n.children.size) throw new FsError('ENOTEMPTY', req.name);
    d.delete(req.name);
    const p = this.node(req.ino);
    this.touchDir(p);
    this.dropName(p, ino, n);
  }

  rename(req: RenameRequest): void {
    if ((req.flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) || req.flags === (RENAME_NOREPLACE | RENAME_EXCHANGE)) {
      throw new FsError('EINVAL', `rename flags ${req.flags}`);
    }
    const fromP = this.node(req.ino), toP = this.node(req.newParent);
    const from = this.dir(req.ino), to = this.dir(req.newParent);
    const ino = from.get(req.name);
    if (ino === undefined) throw new FsError('ENOENT', req.name);
    this.checkFault(req.newName, req.newParent);
    const n = this.node(ino);
    const other = to.get(req.newName);
    const now = nowNs();
    if (req.flags & RENAME_EXCHANGE) {
      if (other === undefined) throw new FsError('ENOENT', req.newName);
      const o = this.node(other);
      from.set(req.name, other);
      to.set(req.newName, ino);
      this.moved(n, fromP, toP, req.newParent, req.newName);
      this.moved(o, toP, fromP, req.ino, req.name);
      n.attr.ctime = o.attr.ctime = now;
    } else {
      if (other !== undefined && req.flags & RENAME_NOREPLACE) throw new FsError('EEXIST', req.newName);
      if (other === ino) return; // two names of one inode: nothing to do (POSIX)
      if (other !== undefined) {
        const o = this.node(other);
        if (o.children) {
          if (!n.children) throw new FsError('EISDIR', req.newName);
          if (o.children.size) throw new FsError('ENOTEMPTY', req.newName);
        } else if (n.children) {
          throw new FsError('ENOTDIR', req.newName);
        }
        to.delete(req.newName);
        this.dropName(toP, other, o);
      }
      from.delete(req.name);
      to.set(req.newName, ino);
      this.moved(n, fromP, toP, req.newParent, req.newName);
      n.attr.ctime = now;
    }
    fromP.attr.mtime = fromP.attr.ctime = now;
    toP.attr.mtime = toP.attr.ctime = now;
  }

  /** `n` now sits in `to` (inode toIno) as `name`: a directory's "..", name and the parents' link counts follow. */
  private moved(n: Node, from: Node, to: Node, toIno: number, name: string): void {
    if (!n.children) return;
    n.parent = toIno;
    n.name = name;
    if (from !== to) { from.attr.nlink--; to.attr.nlink++; }
  }

  // ---------------------------------------------------------------- files

  create(req: CreateRequest): CreateReply {
    const [ino, n] = this.add(req.ino, req.name, S_IFREG | (req.mode & 0o7777 & ~req.umask), req);
    const fh = this.nextFh++;
    if (req.flags & O_APPEND) this.appendFhs.add(fh);
    n.openedMtime = n.attr.mtime;
    n.openedSize = n.attr.size;
    return { ...this.entry(ino, n), fh, keepCache: true };
  }

  open(req: OpenRequest): OpenReply {
    const n = this.node(req.ino);
    if (n.children) throw new FsError('EISDIR', `inode ${req.ino}`);
    const fh = this.nextFh++;
    if (req.flags & O_APPEND) this.appendFhs.add(fh);
    // auto_cache: keep the kernel's pages unless the file changed since the last open.
    const keepCache = n.openedMtime === n.attr.mtime && n.openedSize === n.attr.size;
    n.openedMtime = n.attr.mtime;
    n.openedSize = n.attr.size;
    return { fh, keepCache };
  }

  read(req: ReadRequest): Uint8Array {
    const n = this.node(req.ino);
    const s = this.stats;
    s.reads++;
    if (req.size > s.maxRead) s.maxRead = req.size;
    return ZEROS.subarray(0, Math.max(0, Math.min(req.size, n.attr.size - req.offset, ZEROS.length)));
  }

  write(req: WriteRequest): number {
    const a = this.node(req.ino).attr;
    const len = req.data.length;
    const s = this.stats;
    s.writes++;
    s.writeBytes += len;
    if (len > s.maxWrite) s.maxWrite = len;
    s.writeSizes[len] = (s.writeSizes[len] ?? 0) + 1;
    const offset = this.appendFhs.has(req.fh) ? a.size : req.offset;
    if (offset + len > a.size) a.size = offset + len;
    // FUSE_CAP_HANDLE_KILLPRIV: a write by an unprivileged caller clears setuid/setgid here.
    if (req.uid !== 0 && privBits(a.mode)) a.mode &= ~privBits(a.mode);
    a.mtime = a.ctime = nowNs();
    return len;
  }

  flush(): void {}
  fsync(): void {}
  release(req: ReleaseRequest): void { this.appendFhs.delete(req.fh); }

  // ---------------------------------------------------------------- directories

  opendir(req: OpendirRequest): OpenReply {
    this.dir(req.ino);
    return { fh: this.nextFh++ };
  }

  /**
   * Offsets: 0 ".", 1 "..", 2 + i the i-th name of the listing taken at offset 0 (sorted). A name
   * removed since is skipped; one added since shows up after the next rewind.
   */
  private list(req: ReaddirRequest, plus: boolean): DirBuffer {
    const d = this.dir(req.ino);
    let names = this.listings.get(req.fh);
    if (!names || req.offset === 0) {
      names = [...d].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      this.listings.set(req.fh, names);
    }
    const out = new DirBuffer(req.size, plus);
    for (let i = req.offset; i < names.length + 2; i++) {
      if (i < 2) {
        // "." and "..": names only (no lookup counted for them in readdirplus).
        const ino = i === 0 ? req.ino : this.node(req.ino).parent ?? ROOT;
        const dot: Entry = { ino: 0, attr: { ino, mode: S_IFDIR, nlink: 2, uid: 0, gid: 0, size: 0, atime: 0n, mtime: 0n, ctime: 0n } };
        if (!out.add(i === 0 ? '.' : '..', dot, i + 1)) break;
        continue;
      }
      const [name, ino] = names[i - 2];
      const n = this.nodes.get(ino);
      if (!n || d.get(name) !== ino) continue;
      const e: Entry = plus
        ? { ino, attr: n.attr, attrTimeout: this.attrTimeout, entryTimeout: this.entryTimeout }
        : { ino, attr: n.attr };
      if (!out.add(name, e, i + 1)) break;
      if (plus) n.lookups++;
    }
    return out;
  }

  readdir(req: ReaddirRequest): DirBuffer { return this.list(req, false); }
  readdirplus(req: ReaddirRequest): DirBuffer { return this.list(req, true); }
  releasedir(req: ReleasedirRequest): void { this.listings.delete(req.fh); }
  fsyncdir(): void {}

  // ---------------------------------------------------------------- xattrs

  setxattr(req: SetxattrRequest): void {
    if (req.ino === ROOT && req.name === RESET_XATTR) {
      this.stats = NullFs.emptyStats();
      this.forgets = 0;
      return;
    }
    const n = this.node(req.ino);
    const x = (n.xattrs ??= new Map());
    if (req.flags & XATTR_CREATE && x.has(req.name)) throw new FsError('EEXIST', req.name);
    if (req.flags & XATTR_REPLACE && !x.has(req.name)) throw new FsError('ENODATA', req.name);
    x.set(req.name, Buffer.from(req.value));
    n.attr.ctime = nowNs();
  }

  getxattr(req: GetxattrRequest): Uint8Array {
    if (req.ino === ROOT && req.name === STATS_XATTR) return Buffer.from(JSON.stringify(this.statistics()));
    const v = this.node(req.ino).xattrs?.get(req.name);
    if (!v) throw new FsError('ENODATA', req.name);
    return v;
  }

  listxattr(req: ListxattrRequest): string[] { return [...(this.node(req.ino).xattrs?.keys() ?? [])]; }

  removexattr(req: RemovexattrRequest): void {
    const n = this.node(req.ino);
    if (!n.xattrs?.delete(req.name)) throw new FsError('ENODATA', req.name);
    n.attr.ctime = nowNs();
  }
}
