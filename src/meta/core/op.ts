import { FsError } from '../../errors/index.js';
import type { OpContext } from '../types.js';
import type { InodeRec, MetaTx, VolumeInfo } from './tx.js';

/**
 * The per-operation view the namespace rules work on: one transaction (core/tx.ts), the
 * operation's clock, the volume's settings and limits, and an inode cache so that one inode seen
 * twice (parent == newParent) is one object; dirty inodes are written once, at the end.
 */

/** Holds taken without a session (embedded use) belong to this pseudo session. */
export const LOCAL_SESSION = 'local';

/** The session an operation's holds belong to. */
export function sessionOf(ctx: OpContext): string {
  return ctx.sessionId || LOCAL_SESSION;
}

export class Op {
  private readonly cache = new Map<number, InodeRec | null>();
  private readonly dirty = new Set<number>();
  readonly blockSize: number;
  /** The volume stores names, targets and xattrs encrypted (settings.nameEncryption). */
  readonly sealed: boolean;
  /** 0 = unlimited. */
  readonly capacityBytes: number;
  /** 0 = unlimited. */
  readonly inodeLimit: number;

  constructor(readonly tx: MetaTx, readonly now: bigint, info: VolumeInfo) {
    this.blockSize = info.settings.blockSize;
    this.sealed = !!info.settings.nameEncryption;
    this.capacityBytes = info.capacityBytes;
    this.inodeLimit = info.inodeLimit;
  }

  /** The volume's quota directories, read once per operation (core/quota.ts). */
  quotaDirs?: Promise<Set<number>>;

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
