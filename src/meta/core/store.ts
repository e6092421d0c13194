import { FsError } from '../../errors/index.js';
import type {
  Attr, BlockRef, CommitRequest, DirPage, LockRange, MetaStore, OpContext, SetAttrChanges, StatFs, VolumeSettings,
} from '../types.js';
import { checkInt, decodeOpRecord, encodeOpRecord, nowNs } from './rules.js';
import { Op, sessionOf } from './op.js';
import type { TxRunner, VolumeInfo } from './tx.js';
import * as lookups from './lookup.js';
import { setattr } from './attrs.js';
import * as namespace from './namespace.js';
import * as xattrs from './xattrs.js';
import * as holds from './holds.js';
import * as data from './data.js';
import * as locks from './locks.js';

export { LOCAL_SESSION } from './op.js';

/**
 * The one implementation of the namespace rules (names, EEXIST/ENOTEMPTY/ENOTDIR/EISDIR/EINVAL,
 * sticky bit, setgid inheritance, nlink, times, holds, block maps, gc queueing, op-id dedupe).
 * Engines only supply an atomic `transact` over a small read/write interface (core/tx.ts), so
 * sqlite and redis cannot drift apart in behaviour.
 * This module runs each MetaStore operation as one transaction (op-id dedupe included); the
 * rules themselves live by job in lookup.ts, attrs.ts, namespace.ts, xattrs.ts, holds.ts and
 * data.ts, each working on the per-operation view of op.ts.
 */

const OP_RESULT_TTL_MS = 10 * 60_000;
const MAX_OWNER = 64;

function checkOwner(owner: string): string {
  if (typeof owner !== 'string' || owner.length === 0 || owner.length > MAX_OWNER) {
    throw new FsError('EINVAL', `lock owner must be a string of 1 to ${MAX_OWNER} characters`);
  }
  return owner;
}
const MAX_ALLOC = 1 << 20;

export class CoreMetaStore implements MetaStore {
  private infoCache?: { version: string | number | undefined; info: Promise<VolumeInfo> };

  constructor(private readonly runner: TxRunner, private readonly onClose?: () => Promise<void>) {}

  /** The volume's settings and limits, read again once the runner's infoVersion changes. */
  private info(): Promise<VolumeInfo> {
    const version = this.runner.infoVersion?.();
    if (!this.infoCache || this.infoCache.version !== version) {
      const entry = { version, info: this.runner.info() };
      this.infoCache = entry;
      entry.info.catch(() => { if (this.infoCache === entry) this.infoCache = undefined; });
    }
    return this.infoCache.info;
  }

  /**
   * A mutating operation: one transaction, op-id dedupe, dirty inodes written at the end.
   * `holdOf` names the inode an operation takes a hold on (open, create-and-open): a retry of
   * such an operation that arrives on a new session (the one that applied it expired, and its
   * holds went with it) takes the hold again for the new session, else the client would count a
   * hold the server does not have.
   */
  private async mutate<T>(ctx: OpContext, fn: (op: Op) => Promise<T>, holdOf?: (result: T) => number | undefined): Promise<T> {
    const info = await this.info();
    return this.runner.transact(async (tx) => {
      if (ctx.opId) {
        const prev = await tx.getOp(ctx.opId);
        if (prev !== null) {
          const { sessionId, result } = decodeOpRecord(prev);
          const ino = holdOf?.(result as T);
          if (ino !== undefined && sessionId !== sessionOf(ctx)) {
            if ((await tx.getInode(ino)) === null) throw new FsError('ENOENT', 'the file was removed while this client\'s session was lost');
            tx.addHold(ino, sessionOf(ctx), 1);
            tx.putOp(ctx.opId, encodeOpRecord(sessionOf(ctx), result), OP_RESULT_TTL_MS);
          }
          return result as T;
        }
      }
      const op = new Op(tx, nowNs(), info);
      const result = await fn(op);
      op.flush();
      if (ctx.opId) tx.putOp(ctx.opId, encodeOpRecord(sessionOf(ctx), result), OP_RESULT_TTL_MS);
      return result;
    });
  }

  private async read<T>(fn: (op: Op) => Promise<T>): Promise<T> {
    const info = await this.info();
    return this.runner.transact((tx) => fn(new Op(tx, nowNs(), info)), true);
  }

  // ---------------------------------------------------------------- lookups

  lookup(parent: number, name: string, _ctx: OpContext): Promise<Attr> {
    return this.read((op) => lookups.lookup(op, parent, name));
  }

  getattr(ino: number, _ctx: OpContext): Promise<Attr> {
    return this.read((op) => lookups.getattr(op, ino));
  }

  readlink(ino: number, _ctx: OpContext): Promise<string> {
    return this.read((op) => lookups.readlink(op, ino));
  }

  async readdir(ino: number, _ctx: OpContext, cursor?: string, limit = 1000): Promise<DirPage> {
    checkInt(limit, 'readdir limit', 1);
    return this.read((op) => lookups.readdir(op, ino, cursor, limit));
  }

  async statfs(_ctx: OpContext, ino?: number): Promise<StatFs> {
    if (ino !== undefined) checkInt(ino, 'ino');
    return this.read((op) => lookups.statfs(op, ino));
  }

  // ---------------------------------------------------------------- attributes

  setattr(ino: number, ch: SetAttrChanges, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, (op) => setattr(op, ino, ch));
  }

  // ---------------------------------------------------------------- names

  mknod(parent: number, name: string, mode: number, rdev: number, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, (op) => namespace.mknod(op, parent, name, mode, rdev, ctx));
  }

  create(parent: number, name: string, mode: number, ctx: OpContext, open?: boolean): Promise<Attr> {
    return this.mutate(ctx, (op) => namespace.create(op, parent, name, mode, ctx, open), open ? (attr) => attr.ino : undefined);
  }

  mkdir(parent: number, name: string, mode: number, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, (op) => namespace.mkdir(op, parent, name, mode, ctx));
  }

  symlink(parent: number, name: string, target: string, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, (op) => namespace.symlink(op, parent, name, target, ctx));
  }

  link(ino: number, newParent: number, newName: string, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, (op) => namespace.link(op, ino, newParent, newName));
  }

  unlink(parent: number, name: string, ctx: OpContext): Promise<void> {
    return this.mutate(ctx, (op) => namespace.unlink(op, parent, name, ctx));
  }

  rmdir(parent: number, name: string, ctx: OpContext): Promise<void> {
    return this.mutate(ctx, (op) => namespace.rmdir(op, parent, name, ctx));
  }

  rename(parent: number, name: string, newParent: number, newName: string, ctx: OpContext,
    flags: { noReplace?: boolean; exchange?: boolean } = {}): Promise<void> {
    return this.mutate(ctx, (op) => namespace.rename(op, parent, name, newParent, newName, ctx, flags));
  }

  // ---------------------------------------------------------------- xattrs

  getxattr(ino: number, name: string, _ctx: OpContext): Promise<Buffer> {
    return this.read((op) => xattrs.getxattr(op, ino, name));
  }

  setxattr(ino: number, name: string, value: Buffer, flags: number, ctx: OpContext): Promise<void> {
    return this.mutate(ctx, (op) => xattrs.setxattr(op, ino, name, value, flags));
  }

  listxattr(ino: number, _ctx: OpContext): Promise<string[]> {
    return this.read((op) => xattrs.listxattr(op, ino));
  }

  removexattr(ino: number, name: string, ctx: OpContext): Promise<void> {
    return this.mutate(ctx, (op) => xattrs.removexattr(op, ino, name));
  }

  // ---------------------------------------------------------------- open files and data

  open(ino: number, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, (op) => holds.open(op, ino, sessionOf(ctx)), (attr) => attr.ino);
  }

  release(ino: number, ctx: OpContext): Promise<void> {
    return this.mutate(ctx, (op) => holds.releaseHolds(op, ino, sessionOf(ctx), 1));
  }

  /** Drop every hold `sessionId` has on ino (session close/expiry); frees an unlinked inode. */
  releaseSession(ino: number, sessionId: string): Promise<void> {
    return this.mutate({ uid: 0, gid: 0 }, (op) => holds.releaseHolds(op, ino, sessionId, Infinity));
  }

  commit(req: CommitRequest, ctx: OpContext): Promise<Attr> {
    return this.mutate(ctx, (op) => data.commit(op, req));
  }

  async blocks(ino: number, fromIndex: number, count: number, _ctx: OpContext): Promise<BlockRef[]> {
    checkInt(fromIndex, 'fromIndex');
    checkInt(count, 'count');
    return this.read((op) => data.blocks(op, ino, fromIndex, count));
  }

  async allocIds(count: number, _ctx: OpContext): Promise<number> {
    checkInt(count, 'count', 1);
    if (count > MAX_ALLOC) throw new FsError('EINVAL', `allocIds: at most ${MAX_ALLOC} ids at once`);
    // Not deduplicated by opId: a retried allocation merely leaves a gap.
    return this.runner.transact((tx) => tx.allocBlockIds(count));
  }

  // ---------------------------------------------------------------- locks
  // Not deduplicated by opId: each is idempotent or harmless to repeat (a retried lock that
  // succeeded finds the owner's own lock; a retried unlock finds nothing to drop).

  getlk(ino: number, owner: string, lock: LockRange, ctx: OpContext): Promise<LockRange> {
    return this.read((op) => locks.getlk(op, ino, sessionOf(ctx), checkOwner(owner), lock));
  }

  setlk(ino: number, owner: string, lock: LockRange, wait: boolean, ctx: OpContext): Promise<void> {
    return this.locked((op) => locks.setlk(op, ino, sessionOf(ctx), checkOwner(owner), lock, wait, Date.now()));
  }

  flock(ino: number, owner: string, operation: number, ctx: OpContext): Promise<void> {
    return this.locked((op) => locks.flock(op, ino, sessionOf(ctx), checkOwner(owner), operation));
  }

  releaseLocks(ino: number, owner: string, kind: 'posix' | 'flock', ctx: OpContext): Promise<void> {
    if (kind !== 'posix' && kind !== 'flock') return Promise.reject(new FsError('EINVAL', `lock kind "${String(kind)}": use "posix" or "flock"`));
    return this.locked((op) => locks.releaseLocks(op, ino, sessionOf(ctx), checkOwner(owner), kind));
  }

  /**
   * A lock operation: one transaction whose writes stand even when it answers EAGAIN/EDEADLK
   * (a waiter's record), so the error is carried out of the transaction rather than thrown in it.
   */
  private async locked(fn: (op: Op) => Promise<void>): Promise<void> {
    const info = await this.info();
    const err = await this.runner.transact(async (tx) => {
      const op = new Op(tx, nowNs(), info);
      try {
        await fn(op);
        return null;
      } catch (e) {
        if (e instanceof FsError && (e.code === 'EAGAIN' || e.code === 'EDEADLK')) return e;
        throw e;
      }
    });
    if (err) throw err;
  }

  async settings(): Promise<VolumeSettings> {
    return (await this.info()).settings;
  }

  async close(): Promise<void> {
    await this.onClose?.();
  }
}
