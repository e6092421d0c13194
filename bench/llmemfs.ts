import { FsError } from '../src/errors/index.js';
import { DirBuffer } from '../src/fuse/lowlevel/dirbuf.js';
import type { LowLevelSession } from '../src/fuse/lowlevel/session.js';
import type {
  AttrReply, Caller, CreateReply, CreateRequest, Entry, ForgetRequest, FuseAttr, GetattrRequest, GetxattrRequest,
  ListxattrRequest, LookupRequest, LowLevelHandlers, MkdirRequest, OpenReply, OpenRequest, ReadRequest, ReaddirRequest,
  ReadlinkRequest, RemovexattrRequest, RenameRequest, RmdirRequest, SetattrRequest, SetxattrRequest, StatfsReply,
  SymlinkRequest, UnlinkRequest, WriteRequest, FlockLock, FlockRequest, FlushRequest, GetlkRequest, ReleaseRequest,
  SetlkRequest,
} from '../src/fuse/lowlevel/types.js';
import { LockTable } from './locktable.js';

/**
 * A small in-memory filesystem on the low-level FUSE layer, the subject of
 * test/fuse/lowlevel.test.ts: names, sizes and xattrs in memory, data discarded (reads return
 * zeros up to the size). It records what reaches JavaScript, read through the mount:
 *   getfattr --only-values -n user.llmemfs.stats MNT     JSON (LlMemFsStats)
 *   setfattr -n user.llmemfs.reset -v 1 MNT              clears them
 * Control file MNT/ctl (its own inode, so a notification never waits on a lock the control
 * request holds): setfattr -n user.llmemfs.<cmd> -v <args> MNT/ctl
 *   resize "PATH SIZE"   change a size behind the kernel's back (no notification)
 *   hide PATH            remove a name behind the kernel's back (no notification)
 *   inval-inode PATH     notify_inval_inode, then answer
 *   inval-entry PATH     notify_inval_entry for the name, then answer
 *   delete PATH          remove the name and notify_delete, then answer
 * Names starting with `hang-` are never answered on lookup (the layer's deadline answers EIO);
 * the answer is given later anyway (after `lateReplyMs`) and must be dropped.
 * `link` and `mknod` have no handler: the layer answers ENOSYS.
 */
export interface LlMemFsStats {
  ops: Record<string, number>;
  writeSizes: Record<string, number>;
  maxWrite: number;
  /** First and last 16 bytes of the last write's data, hex (the payload arrives intact). */
  lastWrite?: { size: number; head: string; tail: string };
  lookupsByParent: Record<string, number>;
  creates: { name: string; uid: number; gid: number; groups?: number[] }[];
  lastCaller: Record<string, Caller>;
  lateReplies: number;
}

interface Node {
  attr: FuseAttr;
  children?: Map<string, number>;
  target?: string;
  xattrs: Map<string, Buffer>;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const ROOT = 1;
const ZEROS = Buffer.alloc(1 << 20);
const STATS = 'user.llmemfs.stats';
const RESET = 'user.llmemfs.reset';
const CTL_PREFIX = 'user.llmemfs.';

function nowNs(): bigint { return BigInt(Date.now()) * 1_000_000n; }

export class LlMemFs implements LowLevelHandlers {
  private nodes = new Map<number, Node>();
  private nextIno = 2;
  private stats: LlMemFsStats = LlMemFs.empty();
  session?: LowLevelSession;

  /** Lock ops, only with a lock table (`locks`): without them the kernel keeps locks itself. */
  getlk?: (req: GetlkRequest) => FlockLock;
  setlk?: (req: SetlkRequest) => void | Promise<void>;
  flock?: (req: FlockRequest) => void | Promise<void>;
  private readonly locks?: LockTable;

  constructor(private readonly ttl: number, private readonly lateReplyMs: number, manyFiles = 200, locks = false) {
    if (locks) {
      const t = this.locks = new LockTable();
      this.getlk = (req) => { this.count('getlk', req); return t.getlk(req); };
      this.setlk = (req) => { this.count('setlk', req); return t.setlk(req); };
      this.flock = (req) => { this.count('flock', req); return t.flock(req); };
    }
    this.nodes.set(ROOT, { attr: this.newAttr(ROOT, S_IFDIR | 0o755, 0, 0), children: new Map(), xattrs: new Map() });
    this.nodes.get(ROOT)!.attr.nlink = 2;
    this.add(ROOT, 'ctl', S_IFREG | 0o644, 0, 0);
    const many = this.add(ROOT, 'many', S_IFDIR | 0o755, 0, 0);
    for (let i = 0; i < manyFiles; i++) this.add(many.attr.ino, `m${String(i).padStart(4, '0')}`, S_IFREG | 0o644, 0, 0);
  }

  private static empty(): LlMemFsStats {
    return { ops: {}, writeSizes: {}, maxWrite: 0, lookupsByParent: {}, creates: [], lastCaller: {}, lateReplies: 0 };
  }

  private count(op: string, c?: Caller): void {
    this.stats.ops[op] = (this.stats.ops[op] ?? 0) + 1;
    if (c) this.stats.lastCaller[op] = { uid: c.uid, gid: c.gid, pid: c.pid, groups: c.groups };
  }

  private newAttr(ino: number, mode: number, uid: number, gid: number): FuseAttr {
    const t = nowNs();
    return { ino, mode, nlink: 1, uid, gid, size: 0, atime: t, mtime: t, ctime: t, blksize: 4096 };
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

  private add(parent: number, name: string, mode: number, uid: number, gid: number): Node {
    const d = this.dir(parent);
    if (d.has(name)) throw new FsError('EEXIST', name);
    const ino = this.nextIno++;
    const n: Node = { attr: this.newAttr(ino, mode, uid, gid), xattrs: new Map() };
    if ((mode & 0o170000) === S_IFDIR) { n.children = new Map(); n.attr.nlink = 2; this.node(parent).attr.nlink++; }
    this.nodes.set(ino, n);
    d.set(name, ino);
    return n;
  }

  private entry(ino: number): Entry {
    return { ino, attr: { ...this.node(ino).attr }, attrTimeout: this.ttl, entryTimeout: this.ttl };
  }

  /** "a/b" from the root → [parent ino, name, ino]. */
  private resolve(path: string): [number, string, number] {
    const parts = path.split('/').filter(Boolean);
    let parent = ROOT;
    for (let i = 0; i < parts.length - 1; i++) {
      parent = this.dir(parent).get(parts[i]) ?? (() => { throw new FsError('ENOENT', path); })();
    }
    const name = parts[parts.length - 1];
    const ino = this.dir(parent).get(name);
    if (ino === undefined) throw new FsError('ENOENT', path);
    return [parent, name, ino];
  }

  lookup(req: LookupRequest): Entry | Promise<Entry> {
    this.count('lookup', req);
    this.stats.lookupsByParent[req.ino] = (this.stats.lookupsByParent[req.ino] ?? 0) + 1;
    if (req.name.startsWith('hang-')) {
      // Never answered in time: the layer's deadline answers EIO; this late answer must be dropped.
      return new Promise((_ok, fail) => setTimeout(() => {
        fail(new FsError('ENOENT', req.name));
        setTimeout(() => { this.stats.lateReplies = this.session?.lateReplies ?? -1; }, 10);
      }, this.lateReplyMs));
    }
    const ino = this.dir(req.ino).get(req.name);
    if (ino === undefined) throw new FsError('ENOENT', req.name);
    return this.entry(ino);
  }

  forget(req: ForgetRequest): void { this.count('forget'); void req; }

  getattr(req: GetattrRequest): AttrReply {
    this.count('getattr', req);
    return { attr: { ...this.node(req.ino).attr }, timeout: this.ttl };
  }

  setattr(req: SetattrRequest): AttrReply {
    this.count('setattr', req);
    const a = this.node(req.ino).attr;
    if (req.mode !== undefined) a.mode = (a.mode & 0o170000) | (req.mode & 0o7777);
    if (req.newUid !== undefined) a.uid = req.newUid;
    if (req.newGid !== undefined) a.gid = req.newGid;
    if (req.size !== undefined) a.size = req.size;
    if (req.atime !== undefined) a.atime = req.atime === 'now' ? nowNs() : req.atime;
    if (req.mtime !== undefined) a.mtime = req.mtime === 'now' ? nowNs() : req.mtime;
    a.ctime = nowNs();
    return { attr: { ...a }, timeout: this.ttl };
  }

  mkdir(req: MkdirRequest): Entry {
    this.count('mkdir', req);
    const n = this.add(req.ino, req.name, S_IFDIR | (req.mode & 0o7777), req.uid, req.gid);
    return this.entry(n.attr.ino);
  }

  create(req: CreateRequest): CreateReply {
    this.count('create', req);
    const n = this.add(req.ino, req.name, S_IFREG | (req.mode & 0o7777), req.uid, req.gid);
    this.stats.creates.push({ name: req.name, uid: req.uid, gid: req.gid, groups: req.groups });
    return { ...this.entry(n.attr.ino), fh: 0 };
  }

  symlink(req: SymlinkRequest): Entry {
    this.count('symlink', req);
    const n = this.add(req.ino, req.name, S_IFLNK | 0o777, req.uid, req.gid);
    n.target = req.target;
    n.attr.size = Buffer.byteLength(req.target);
    return this.entry(n.attr.ino);
  }

  readlink(req: ReadlinkRequest): string {
    this.count('readlink', req);
    const t = this.node(req.ino).target;
    if (t === undefined) throw new FsError('EINVAL', `inode ${req.ino}`);
    return t;
  }

  unlink(req: UnlinkRequest): void {
    this.count('unlink', req);
    const d = this.dir(req.ino);
    const ino = d.get(req.name);
    if (ino === undefined) throw new FsError('ENOENT', req.name);
    if (this.node(ino).children) throw new FsError('EISDIR', req.name);
    d.delete(req.name);
  }

  rmdir(req: RmdirRequest): void {
    this.count('rmdir', req);
    const d = this.dir(req.ino);
    const ino = d.get(req.name);
    if (ino === undefined) throw new FsError('ENOENT', req.name);
    if (this.dir(ino).size) throw new FsError('ENOTEMPTY', req.name);
    d.delete(req.name);
    this.node(req.ino).attr.nlink--;
  }

  rename(req: RenameRequest): void {
    this.count('rename', req);
    if (req.flags !== 0) throw new FsError('EINVAL', 'rename flags are not supported here');
    const from = this.dir(req.ino);
    const ino = from.get(req.name);
    if (ino === undefined) throw new FsError('ENOENT', req.name);
    const to = this.dir(req.newParent);
    from.delete(req.name);
    to.set(req.newName, ino);
  }

  open(req: OpenRequest): OpenReply { this.count('open', req); return { fh: 0, keepCache: true }; }
  opendir(): OpenReply { this.count('opendir'); return { fh: 0 }; }
  flush(req: FlushRequest): void { this.count('flush'); this.locks?.flush(req); }
  release(req: ReleaseRequest): void { this.count('release'); this.locks?.release(req); }
  releasedir(): void { this.count('releasedir'); }

  read(req: ReadRequest): Uint8Array {
    this.count('read', req);
    const size = this.node(req.ino).attr.size;
    return ZEROS.subarray(0, Math.max(0, Math.min(req.size, size - req.offset, ZEROS.length)));
  }

  write(req: WriteRequest): number {
    this.count('write', req);
    const n = req.data.length;
    const s = this.stats;
    s.writeSizes[n] = (s.writeSizes[n] ?? 0) + 1;
    s.maxWrite = Math.max(s.maxWrite, n);
    s.lastWrite = { size: n, head: req.data.subarray(0, 16).toString('hex'), tail: req.data.subarray(n - 16).toString('hex') };
    const a = this.node(req.ino).attr;
    a.size = Math.max(a.size, req.offset + n);
    a.mtime = a.ctime = nowNs();
    return n;
  }

  private list(req: ReaddirRequest, plus: boolean): DirBuffer {
    this.count(plus ? 'readdirplus' : 'readdir', req);
    const names = [...this.dir(req.ino).entries()];
    const out = new DirBuffer(req.size, plus);
    for (let i = req.offset; i < names.length; i++) {
      const [name, ino] = names[i];
      if (!out.add(name, this.entry(ino), i + 1)) break;
    }
    return out;
  }
  readdir(req: ReaddirRequest): DirBuffer { return this.list(req, false); }
  readdirplus(req: ReaddirRequest): DirBuffer { return this.list(req, true); }

  statfs(): StatfsReply { this.count('statfs'); return { bsize: 4096, blocks: 1 << 20, bfree: 1 << 19, files: this.nodes.size, ffree: 1 << 20 }; }

  async setxattr(req: SetxattrRequest): Promise<void> {
    this.count('setxattr', req);
    if (req.ino === ROOT && req.name === RESET) { this.stats = LlMemFs.empty(); return; }
    const ctl = this.dir(ROOT).get('ctl');
    if (req.ino === ctl && req.name.startsWith(CTL_PREFIX)) return this.control(req.name.slice(CTL_PREFIX.length), req.value.toString());
    this.node(req.ino).xattrs.set(req.name, Buffer.from(req.value));
  }

  /** Control commands (see the class comment). Notifications are awaited before answering. */
  private async control(cmd: string, arg: string): Promise<void> {
    const s = this.session;
    if (!s) throw new FsError('EIO', 'no session');
    if (cmd === 'resize') {
      const [path, size] = arg.split(' ');
      this.node(this.resolve(path)[2]).attr.size = Number(size);
    } else if (cmd === 'hide') {
      const [parent, name] = this.resolve(arg);
      this.dir(parent).delete(name);
    } else if (cmd === 'inval-inode') {
      await s.invalidateInode(this.resolve(arg)[2], -1, 0);
    } else if (cmd === 'inval-entry') {
      const parts = arg.split('/').filter(Boolean);
      const name = parts.pop()!;
      const parent = parts.length ? this.resolve(parts.join('/'))[2] : ROOT;
      await s.invalidateEntry(parent, name);
    } else if (cmd === 'delete') {
      const [parent, name, ino] = this.resolve(arg);
      this.dir(parent).delete(name);
      await s.notifyDelete(parent, ino, name);
    } else {
      throw new FsError('EINVAL', `unknown control ${cmd}`);
    }
  }

  getxattr(req: GetxattrRequest): Buffer {
    this.count('getxattr', req);
    if (req.ino === ROOT && req.name === STATS) {
      this.stats.lateReplies = this.session?.lateReplies ?? -1;
      return Buffer.from(JSON.stringify(this.stats));
    }
    const v = this.node(req.ino).xattrs.get(req.name);
    if (!v) throw new FsError('ENODATA', req.name);
    return v;
  }

  listxattr(req: ListxattrRequest): string[] { this.count('listxattr', req); return [...this.node(req.ino).xattrs.keys()]; }

  removexattr(req: RemovexattrRequest): void {
    this.count('removexattr', req);
    if (!this.node(req.ino).xattrs.delete(req.name)) throw new FsError('ENODATA', req.name);
  }
}
