import { FsError } from '../../errors/index.js';
import {
  ROOT_INO, XATTR_CREATE, XATTR_REPLACE,
  type Attr, type BlockRef, type BlockWrite, type CommitRequest, type DirPage, type InodeType, type MetaStore, type OpContext,
  type SetAttrChanges, type StatFs, type VolumeSettings,
} from '../types.js';
import {
  LINK_MAX, PATH_MAX, XATTR_SIZE_MAX, checkName, checkTarget, checkXattrName, checkXattrValue, decodeOpRecord,
  encodeOpRecord, nowNs, toAttr, typeBits, typeOfMode,
} from './rules.js';
import { S_IFMT, S_ISGID, S_ISUID, S_ISVTX } from '../../util/mode.js';
import type { InodeRec, MetaTx, TxRunner, VolumeInfo } from './tx.js';

/**
 * The one implementation of the namespace rules (names, EEXIST/ENOTEMPTY/ENOTDIR/EISDIR/EINVAL,
 * sticky bit, setgid inheritance, nlink, times, holds, block maps, gc queueing, op-id dedupe).
 * Engines only supply an atomic `transact` over a small read/write interface (core/tx.ts), so
 * sqlite and redis cannot drift apart in behaviour.
 */

const OP_RESULT_TTL_MS = 10 * 60_000;
const MAX_ALLOC = 1 << 20;
/** Holds taken without a session (embedded use) belong to this pseudo session. */
export const LOCAL_SESSION = 'local';

/** Per-operation view: caches inodes so one inode seen twice (parent == newParent) is one object. */
class Op {
  private readonly cache = new Map<number, InodeRec | null>();
  private readonly dirty = new Set<number>();
  /** `sealed`: the volume stores names, targets and xattrs encrypted (settings.nameEncryption). */
  constructor(readonly tx: MetaTx, readonly now: bigint, readonly blockSize: number, readonly sealed: boolean) {}

  async get(ino: number): Promise<InodeRec | null> {
    if (this.cache.has(ino)) return this.cache.get(ino)!;
    const r = Number.isSafeInteger(ino) && ino > 0 ? await this.tx.getInode(ino) : null;
    this.cache.set(ino, r);
    return r;
  }
  async must(ino: number): Promise<InodeRec> {
    const r = await this.get(ino);
    if (!r) throw new FsError('ENOENT', `no inode ${ino}`);
    return r;
  }
  async dir(ino: number): Promise<InodeRec> {
    const r = await this.must(ino);
    if (r.type !== 'dir') throw new FsError('ENOTDIR', `inode ${ino} is not a directory`);
    return r;
  }
  add(rec: InodeRec): void { this.cache.set(rec.ino, rec); this.dirty.add(rec.ino); }
  touch(rec: InodeRec): void { this.dirty.add(rec.ino); }
  /** Entry changes: mtime and ctime of the directory. */
  touchDir(rec: InodeRec): void { rec.mtime = this.now; rec.ctime = this.now; this.dirty.add(rec.ino); }
  drop(ino: number): void { this.cache.set(ino, null); this.dirty.delete(ino); this.tx.delInode(ino); }
  flush(): void {
    for (const ino of this.dirty) {
      const r = this.cache.get(ino);
      if (r) this.tx.putInode(r);
    }
    this.dirty.clear();
  }
}

function session(ctx: OpContext): string {
  return ctx.sessionId || LOCAL_SESSION;
}

/** Sticky directories: only the owner of the entry, of the directory, or root may remove/rename it. */
function checkSticky(dir: InodeRec, victim: InodeRec, ctx: OpContext): void {
  if ((dir.mode & S_ISVTX) && ctx.uid !== 0 && ctx.uid !== dir.uid && ctx.uid !== victim.uid) {
    throw new FsError('EPERM', 'sticky directory: not the owner');
  }
}

function checkInt(v: unknown, what: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new FsError('EINVAL', `${what} must be an integer ≥ ${min}`);
  return v;
}

/** `keepCtime` marks an access-time bump: atime and nothing else may change with it. */
function checkAccessOnly(ch: SetAttrChanges): void {
  const others = (['mode', 'uid', 'gid', 'size', 'mtime', 'ctime'] as const).filter((k) => ch[k] !== undefined);
  if (ch.atime === undefined || others.length > 0) {
    throw new FsError('EINVAL', `keepCtime is for an atime update alone${others.length ? `, not with ${others.join(', ')}` : ''}`);
  }
}

export class CoreMetaStore implements MetaStore {
  private infoCache?: Promise<VolumeInfo>;

  constructor(private readonly runner: TxRunner, private readonly onClose?: () => Promise<void>) {}

  private info(): Promise<VolumeInfo> {
    if (!this.infoCache) {
      this.infoCache = this.runner.info();
      this.infoCache.catch(() => { this.infoCache = undefined; });
    }
    return this.infoCache;
  }

  /**
   * A mutating operation: one transaction, op-id dedupe, dirty inodes written at the end.
   * `holdOf` names the inode an operation takes a hold on (open, create-and-open): a retry of
   * such an operation that arrives on a new session (the one that applied it expired, and its
   * holds went with it) takes the hold again for the new session, else the client would count a
   * hold the server does not have.
   */
  private async mutate<T>(ctx: OpContext, fn: (op: Op) => Promise<T>, holdOf?: (result: T) => number | undefined): Promise<T> {
    const { settings } = await this.info();
    return this.runner.transact(async (tx) => {
      if (ctx.opId) {
        const prev = await tx.getOp(ctx.opId);
        if (prev !== null) {
          const { sessionId, result } = decodeOpRecord(prev);
          const ino = holdOf?.(result as T);
          if (ino !== undefined && sessionId !== session(ctx)) {
            if ((await tx.getInode(ino)) === null) throw new FsError('ENOENT', 'the file was removed while this client\'s session was lost');
            tx.addHold(ino, session(ctx), 1);
            tx.putOp(ctx.opId, encodeOpRecord(session(ctx), result), OP_RESULT_TTL_MS);
          }
          return result as T;
        }
      }
      const op = new Op(tx, nowNs(), settings.blockSize, !!settings.nameEncryption);
      const result = await fn(op);
      op.flush();
      if (ctx.opId) tx.putOp(ctx.opId, encodeOpRecord(session(ctx), result), OP_RESULT_TTL_MS);
      return result;
    });
  }

  private async read<T>(fn: (op: Op) => Promise<T>): Promise<T> {
    const { settings } = await this.info();
    return this.runner.transact((tx) => fn(new Op(tx, nowNs(), settings.blockSize, !!settings.nameEncryption)), true);
  }

  // ---------------------------------------------------------------- lookups

  lookup(parent: number, name: string, _ctx: OpContext): Promise<Attr> {
    return this.read(async (op) => {
      const dir = await op.dir(parent);
      if (name === '.') return toAttr(dir);
      if (name === '..') return toAttr(await op.must(dir.parent ?? ROOT_INO));
      checkName(name, op.sealed);
      const ino = await op.tx.getEntry(parent, name);
      if (ino === null) throw new FsError('ENOENT', 'no such entry');
      return toAttr(await op.must(ino));
    });
  }

  getattr(ino: number, _ctx: OpContext): Promise<Attr> {
    return this.read(async (op) => toAttr(await op.must(ino)));
  }

  readlink(ino: number, _ctx: OpContext): Promise<string> {
    return this.read(async (op) => {
      const r = await op.must(ino);
      if (r.type !== 'symlink') throw new FsError('EINVAL', `inode ${ino} is not a symlink`);
      return r.target ?? '';
    });
  }

  async readdir(ino: number, _ctx: OpContext, cursor?: string, limit = 1000): Promise<DirPage> {
    checkInt(limit, 'readdir limit', 1);
    return this.read(async (op) => {
      await op.dir(ino);
      const list = await op.tx.listEntries(ino, cursor || undefined, limit + 1);
      const more = list.length > limit;
      const page = more ? list.slice(0, limit) : list;
      const recs = await op.tx.getInodes(page.map((e) => e.ino));
      const entries = [];
      for (let i = 0; i < page.length; i++) {
        const r = recs[i];
        if (r) entries.push({ name: page[i].name, attr: toAttr(r) });
      }
      return more ? { entries, next: page[page.length - 1].name } : { entries };
    });
  }

  async statfs(_ctx: OpContext): Promise<StatFs> {
    const info = await this.info();
    return this.read(async (op) => ({
      blockSize: info.settings.blockSize,
      usedBytes: await op.tx.getCounter('usedBytes'),
      capacityBytes: info.capacityBytes,
      inodes: await op.tx.getCounter('inodes'),
      inodeLimit: info.inodeLimit,
    }));
  }

  // ---------------------------------------------------------------- attributes

  setattr(ino: number, ch: SetAttrChanges, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, async (op) => {
      const r = await op.must(ino);
      if (ch.keepCtime) checkAccessOnly(ch);
      if (ch.mode !== undefined) r.mode = (r.mode & S_IFMT) | (checkInt(ch.mode, 'mode') & 0o7777);
      const owner = (ch.uid !== undefined && ch.uid !== r.uid) || (ch.gid !== undefined && ch.gid !== r.gid);
      if (ch.uid !== undefined) r.uid = checkInt(ch.uid, 'uid');
      if (ch.gid !== undefined) r.gid = checkInt(ch.gid, 'gid');
      // chown of a non-directory drops setuid, and setgid when it means "group executable".
      if (owner && ch.mode === undefined && r.type !== 'dir') {
        r.mode &= ~S_ISUID;
        if (r.mode & 0o010) r.mode &= ~S_ISGID;
      }
      if (ch.size !== undefined) {
        if (r.type === 'dir') throw new FsError('EISDIR', 'cannot truncate a directory');
        if (r.type !== 'file') throw new FsError('EINVAL', 'can only truncate regular files');
        const size = checkInt(ch.size, 'size');
        await this.checkCapacity(op, size - r.size);
        await truncateSlots(op, r, size);
        op.tx.addCounter('usedBytes', size - r.size);
        r.size = size;
        r.mtime = op.now;
      }
      if (ch.atime !== undefined) r.atime = ch.atime === 'now' ? op.now : ch.atime;
      if (ch.mtime !== undefined) r.mtime = ch.mtime === 'now' ? op.now : ch.mtime;
      if (!ch.keepCtime) r.ctime = ch.ctime ?? op.now;
      op.touch(r);
      return toAttr(r);
    });
  }

  // ---------------------------------------------------------------- creating

  private async makeNode(op: Op, ctx: OpContext, parent: number, name: string, type: InodeType, perm: number,
    extra: { rdev?: number; target?: string; size?: number } = {}): Promise<InodeRec> {
    checkName(name, op.sealed);
    const dir = await op.dir(parent);
    if (dir.nlink === 0) throw new FsError('ENOENT', 'directory was removed');
    if ((await op.tx.getEntry(parent, name)) !== null) throw new FsError('EEXIST', 'entry exists');
    const { inodeLimit } = await this.info();
    if (inodeLimit > 0 && (await op.tx.getCounter('inodes')) >= inodeLimit) throw new FsError('ENOSPC', 'inode limit reached');
    const ino = await op.tx.allocIno();
    let mode = perm & 0o7777;
    let gid = ctx.gid;
    // setgid directories: new inodes take the directory's group, new subdirectories stay setgid.
    if (dir.mode & S_ISGID) {
      gid = dir.gid;
      if (type === 'dir') mode |= S_ISGID;
    }
    const rec: InodeRec = {
      ino, type, mode: typeBits(type) | mode, uid: ctx.uid, gid, nlink: type === 'dir' ? 2 : 1,
      size: extra.size ?? 0, rdev: extra.rdev ?? 0, atime: op.now, mtime: op.now, ctime: op.now, btime: op.now,
      generation: 1,
    };
    if (type === 'dir') rec.parent = parent;
    if (extra.target !== undefined) rec.target = extra.target;
    op.add(rec);
    op.tx.putEntry(parent, name, ino);
    if (type === 'dir') dir.nlink++;
    op.touchDir(dir);
    op.tx.addCounter('inodes', 1);
    return rec;
  }

  mknod(parent: number, name: string, mode: number, rdev: number, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, async (op) => {
      const type = typeOfMode(checkInt(mode, 'mode'));
      if (type === null || type === 'dir' || type === 'symlink') throw new FsError('EINVAL', 'mknod: mode must be a regular file, FIFO, device or socket');
      const dev = type === 'chr' || type === 'blk' ? checkInt(rdev, 'rdev') : 0;
      return toAttr(await this.makeNode(op, ctx, parent, name, type, mode, { rdev: dev }));
    });
  }

  create(parent: number, name: string, mode: number, ctx: OpContext, open?: boolean): Promise<Attr> {
    return this.mutate(ctx, async (op) => {
      const rec = await this.makeNode(op, ctx, parent, name, 'file', checkInt(mode, 'mode'));
      if (open) op.tx.addHold(rec.ino, session(ctx), 1);
      return toAttr(rec);
    }, open ? (attr) => attr.ino : undefined);
  }

  mkdir(parent: number, name: string, mode: number, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, async (op) => toAttr(await this.makeNode(op, ctx, parent, name, 'dir', checkInt(mode, 'mode'))));
  }

  symlink(parent: number, name: string, target: string, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, async (op) => {
      const len = checkTarget(target, op.sealed);
      return toAttr(await this.makeNode(op, ctx, parent, name, 'symlink', 0o777, { target, size: len }));
    });
  }

  link(ino: number, newParent: number, newName: string, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, async (op) => {
      checkName(newName, op.sealed);
      const r = await op.must(ino);
      if (r.type === 'dir') throw new FsError('EPERM', 'cannot hard-link a directory');
      if (r.nlink === 0) throw new FsError('ENOENT', 'inode was unlinked');
      if (r.nlink >= LINK_MAX) throw new FsError('EMLINK', 'too many links');
      const dir = await op.dir(newParent);
      if (dir.nlink === 0) throw new FsError('ENOENT', 'directory was removed');
      if ((await op.tx.getEntry(newParent, newName)) !== null) throw new FsError('EEXIST', 'entry exists');
      op.tx.putEntry(newParent, newName, ino);
      r.nlink++;
      r.ctime = op.now;
      op.touch(r);
      op.touchDir(dir);
      return toAttr(r);
    });
  }

  // ---------------------------------------------------------------- removing

  /** One name fewer for a non-directory; the last one frees it unless a session holds it open. */
  private async dropLink(op: Op, r: InodeRec): Promise<void> {
    r.nlink = Math.max(0, r.nlink - 1);
    r.ctime = op.now;
    op.touch(r);
    if (r.nlink === 0 && (await op.tx.holdCount(r.ino)) === 0) await freeInode(op, r);
  }

  unlink(parent: number, name: string, ctx: OpContext): Promise<void> {
    return this.mutate(ctx, async (op) => {
      checkName(name, op.sealed);
      const dir = await op.dir(parent);
      const ino = await op.tx.getEntry(parent, name);
      if (ino === null) throw new FsError('ENOENT', 'no such entry');
      const r = await op.must(ino);
      if (r.type === 'dir') throw new FsError('EISDIR', 'is a directory (use rmdir)');
      checkSticky(dir, r, ctx);
      op.tx.delEntry(parent, name);
      op.touchDir(dir);
      await this.dropLink(op, r);
    });
  }

  rmdir(parent: number, name: string, ctx: OpContext): Promise<void> {
    return this.mutate(ctx, async (op) => {
      if (name === '.') throw new FsError('EINVAL', 'cannot remove "."');
      if (name === '..') throw new FsError('ENOTEMPTY', 'cannot remove ".."');
      checkName(name, op.sealed);
      const dir = await op.dir(parent);
      const ino = await op.tx.getEntry(parent, name);
      if (ino === null) throw new FsError('ENOENT', 'no such entry');
      const r = await op.must(ino);
      if (r.type !== 'dir') throw new FsError('ENOTDIR', 'not a directory');
      if (!(await op.tx.dirEmpty(ino))) throw new FsError('ENOTEMPTY', 'directory not empty');
      checkSticky(dir, r, ctx);
      op.tx.delEntry(parent, name);
      removeDir(op, dir, r);
    });
  }

  /** True when `ino` is `dir` or one of its ancestors (walks parent pointers up to the root). */
  private async isAncestorOrSelf(op: Op, ino: number, dir: number): Promise<boolean> {
    let cur = dir;
    for (let depth = 0; depth < 1_000_000; depth++) {
      if (cur === ino) return true;
      if (cur === ROOT_INO) return false;
      const r = await op.must(cur);
      cur = r.parent ?? ROOT_INO;
    }
    throw new FsError('EIO', 'directory parent chain does not reach the root');
  }

  rename(parent: number, name: string, newParent: number, newName: string, ctx: OpContext,
    flags: { noReplace?: boolean; exchange?: boolean } = {}): Promise<void> {
    return this.mutate(ctx, async (op) => {
      checkName(name, op.sealed);
      checkName(newName, op.sealed);
      if (flags.noReplace && flags.exchange) throw new FsError('EINVAL', 'noReplace and exchange together');
      const pdir = await op.dir(parent);
      const ndir = await op.dir(newParent);
      const a = await op.tx.getEntry(parent, name);
      if (a === null) throw new FsError('ENOENT', 'no such entry');
      const ar = await op.must(a);
      const b = await op.tx.getEntry(newParent, newName);
      if (flags.exchange) {
        if (b === null) throw new FsError('ENOENT', 'exchange target does not exist');
      } else if (b !== null && flags.noReplace) {
        throw new FsError('EEXIST', 'target exists');
      }
      if (b === a) return; // same entry or a hard link of the same inode: nothing to do
      if (ndir.nlink === 0) throw new FsError('ENOENT', 'directory was removed');
      if (ar.type === 'dir' && (await this.isAncestorOrSelf(op, a, newParent))) {
        throw new FsError('EINVAL', 'cannot move a directory into its own subtree');
      }
      checkSticky(pdir, ar, ctx);
      const br = b === null ? null : await op.must(b);

      if (flags.exchange) {
        const bx = br!;
        if (bx.type === 'dir' && (await this.isAncestorOrSelf(op, bx.ino, parent))) {
          throw new FsError('EINVAL', 'cannot move a directory into its own subtree');
        }
        checkSticky(ndir, bx, ctx);
        op.tx.putEntry(parent, name, bx.ino);
        op.tx.putEntry(newParent, newName, ar.ino);
        if (parent !== newParent) {
          if (ar.type === 'dir') { ar.parent = newParent; pdir.nlink--; ndir.nlink++; }
          if (bx.type === 'dir') { bx.parent = parent; ndir.nlink--; pdir.nlink++; }
        }
        ar.ctime = op.now; op.touch(ar);
        bx.ctime = op.now; op.touch(bx);
        op.touchDir(pdir); op.touchDir(ndir);
        return;
      }

      if (br) {
        if (ar.type === 'dir' && br.type !== 'dir') throw new FsError('ENOTDIR', 'target is not a directory');
        if (ar.type !== 'dir' && br.type === 'dir') throw new FsError('EISDIR', 'target is a directory');
        if (br.type === 'dir' && !(await op.tx.dirEmpty(br.ino))) throw new FsError('ENOTEMPTY', 'target directory not empty');
        checkSticky(ndir, br, ctx);
      }
      op.tx.delEntry(parent, name);
      op.tx.putEntry(newParent, newName, a);
      if (br) {
        if (br.type === 'dir') removeDir(op, ndir, br);
        else await this.dropLink(op, br);
      }
      if (ar.type === 'dir' && parent !== newParent) {
        ar.parent = newParent;
        pdir.nlink--;
        ndir.nlink++;
      }
      ar.ctime = op.now;
      op.touch(ar);
      op.touchDir(pdir);
      op.touchDir(ndir);
    });
  }

  // ---------------------------------------------------------------- xattrs

  getxattr(ino: number, name: string, _ctx: OpContext): Promise<Buffer> {
    return this.read(async (op) => {
      await op.must(ino);
      checkXattrName(name, op.sealed);
      const v = await op.tx.getXattr(ino, name);
      if (v === null) throw new FsError('ENODATA', 'no such attribute');
      return v;
    });
  }

  setxattr(ino: number, name: string, value: Buffer, flags: number, ctx: OpContext): Promise<void> {
    return this.mutate(ctx, async (op) => {
      const r = await op.must(ino);
      checkXattrName(name, op.sealed);
      if (!Buffer.isBuffer(value)) throw new FsError('EINVAL', 'xattr value must be bytes');
      checkXattrValue(value, op.sealed);
      if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0 || flags === (XATTR_CREATE | XATTR_REPLACE)) {
        throw new FsError('EINVAL', 'bad xattr flags');
      }
      const cur = await op.tx.getXattr(ino, name);
      if (flags & XATTR_CREATE && cur !== null) throw new FsError('EEXIST', 'attribute exists');
      if (flags & XATTR_REPLACE && cur === null) throw new FsError('ENODATA', 'no such attribute');
      op.tx.setXattr(ino, name, Buffer.from(value));
      r.ctime = op.now;
      op.touch(r);
    });
  }

  listxattr(ino: number, _ctx: OpContext): Promise<string[]> {
    return this.read(async (op) => {
      await op.must(ino);
      return (await op.tx.listXattrs(ino)).sort();
    });
  }

  removexattr(ino: number, name: string, ctx: OpContext): Promise<void> {
    return this.mutate(ctx, async (op) => {
      const r = await op.must(ino);
      checkXattrName(name, op.sealed);
      if ((await op.tx.getXattr(ino, name)) === null) throw new FsError('ENODATA', 'no such attribute');
      op.tx.delXattr(ino, name);
      r.ctime = op.now;
      op.touch(r);
    });
  }

  // ---------------------------------------------------------------- open files and data

  open(ino: number, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, async (op) => {
      const r = await op.must(ino);
      op.tx.addHold(ino, session(ctx), 1);
      return toAttr(r);
    }, (attr) => attr.ino);
  }

  release(ino: number, ctx: OpContext): Promise<void> {
    return this.mutate(ctx, (op) => releaseHolds(op, ino, session(ctx), 1));
  }

  /** Drop every hold `sessionId` has on ino (session close/expiry); frees an unlinked inode. */
  releaseSession(ino: number, sessionId: string): Promise<void> {
    return this.mutate({ uid: 0, gid: 0 }, (op) => releaseHolds(op, ino, sessionId, Infinity));
  }

  private async checkCapacity(op: Op, growth: number): Promise<void> {
    if (growth <= 0) return;
    const { capacityBytes } = await this.info();
    if (capacityBytes > 0 && (await op.tx.getCounter('usedBytes')) + growth > capacityBytes) {
      throw new FsError('ENOSPC', 'volume capacity reached');
    }
  }

  commit(req: CommitRequest, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, async (op) => {
      const r = await op.must(req.ino);
      if (r.type === 'dir') throw new FsError('EISDIR', 'cannot write a directory');
      if (r.type !== 'file') throw new FsError('EINVAL', 'can only write regular files');
      const size = checkInt(req.size, 'size');
      if (typeof req.mtime !== 'bigint') throw new FsError('EINVAL', 'mtime must be a bigint (ns)');
      if (!Array.isArray(req.writes)) throw new FsError('EINVAL', 'writes must be a list');
      for (const w of req.writes) {
        checkInt(w.index, 'block index');
        if (isHoleWrite(w)) continue; // { blockId: 0, length: 0 }: the slot becomes a hole (punch)
        checkInt(w.blockId, 'block id', 1);
        checkInt(w.length, 'block length', 1);
        if (w.length > op.blockSize) throw new FsError('EINVAL', `block length ${w.length} exceeds the block size`);
      }
      await this.checkCapacity(op, size - r.size);
      const slots = new Map((await op.tx.getSlots(r.ino)).map((s) => [s.index, s]));
      const queuedAt = Date.now();
      for (const w of req.writes) {
        const old = slots.get(w.index);
        if (isHoleWrite(w)) {
          if (old) {
            op.tx.gcPush(r.ino, old.index, old.blockId, queuedAt);
            op.tx.delSlot(r.ino, old.index);
            slots.delete(w.index);
          }
          continue;
        }
        if (old && old.blockId === w.blockId && old.length === w.length) continue;
        if (old && old.blockId !== w.blockId) op.tx.gcPush(r.ino, old.index, old.blockId, queuedAt);
        const ref = { index: w.index, blockId: w.blockId, length: w.length };
        slots.set(w.index, ref);
        op.tx.putSlot(r.ino, ref);
      }
      clipSlots(op, r.ino, [...slots.values()], size, queuedAt);
      op.tx.addCounter('usedBytes', size - r.size);
      r.size = size;
      r.mtime = req.mtime;
      r.ctime = op.now;
      op.touch(r);
      return toAttr(r);
    });
  }

  async blocks(ino: number, fromIndex: number, count: number, _ctx: OpContext): Promise<BlockRef[]> {
    checkInt(fromIndex, 'fromIndex');
    checkInt(count, 'count');
    return this.read(async (op) => {
      await op.must(ino);
      return count === 0 ? [] : op.tx.getSlotRange(ino, fromIndex, count);
    });
  }

  async allocIds(count: number, _ctx: OpContext): Promise<number> {
    checkInt(count, 'count', 1);
    if (count > MAX_ALLOC) throw new FsError('EINVAL', `allocIds: at most ${MAX_ALLOC} ids at once`);
    // Not deduplicated by opId: a retried allocation merely leaves a gap.
    return this.runner.transact((tx) => tx.allocBlockIds(count));
  }

  async settings(): Promise<VolumeSettings> {
    return (await this.info()).settings;
  }

  async close(): Promise<void> {
    await this.onClose?.();
  }
}

/** Slots at or past `size` go to the gc queue; a slot straddling it keeps its block, shorter. */
/** A commit write that makes its slot a hole (blockId 0, length 0: fallocate's punch). */
function isHoleWrite(w: BlockWrite): boolean {
  return w.blockId === 0 && w.length === 0;
}

function clipSlots(op: Op, ino: number, slots: BlockRef[], size: number, queuedAt: number): void {
  const bs = op.blockSize;
  for (const s of slots) {
    const start = s.index * bs;
    if (start >= size) {
      op.tx.gcPush(ino, s.index, s.blockId, queuedAt);
      op.tx.delSlot(ino, s.index);
    } else if (start + s.length > size) {
      op.tx.putSlot(ino, { index: s.index, blockId: s.blockId, length: size - start });
    }
  }
}

async function truncateSlots(op: Op, r: InodeRec, size: number): Promise<void> {
  if (size >= r.size) return;
  clipSlots(op, r.ino, await op.tx.getSlots(r.ino), size, Date.now());
}

/** The inode is gone for good: its blocks go to the gc queue, counters drop. */
async function freeInode(op: Op, r: InodeRec): Promise<void> {
  if (r.type === 'file') {
    const queuedAt = Date.now();
    for (const s of await op.tx.getSlots(r.ino)) op.tx.gcPush(r.ino, s.index, s.blockId, queuedAt);
    op.tx.addCounter('usedBytes', -r.size);
  }
  op.drop(r.ino);
  op.tx.addCounter('inodes', -1);
}

function removeDir(op: Op, parent: InodeRec, r: InodeRec): void {
  op.drop(r.ino);
  parent.nlink--;
  op.touchDir(parent);
  op.tx.addCounter('inodes', -1);
}

async function releaseHolds(op: Op, ino: number, sess: string, count: number): Promise<void> {
  // Read both counts before changing them: engines differ in whether reads see buffered writes.
  const total = await op.tx.holdCount(ino);
  const mine = await op.tx.sessionHolds(ino, sess);
  if (mine <= 0) return;
  const drop = Math.min(mine, count);
  op.tx.addHold(ino, sess, -drop);
  const r = await op.get(ino);
  if (r && r.nlink === 0 && r.type !== 'dir' && total - drop <= 0) await freeInode(op, r);
}
