import type { VolumeSettings } from '../volume/settings.js';

/**
 * MetaStore: the namespace of ONE volume (inodes, directory entries, symlinks, xattrs, block maps,
 * open-file holds). Implemented by the engines (sqlite, redis) through the shared rules in core.ts,
 * and by RemoteMetaStore, which forwards every call to meta.flexfs. The mount client (vfs/) only
 * ever talks to this interface.
 *
 * Conventions
 * - Inode numbers and block ids are JS numbers (< 2^53). The root directory is ino 1.
 * - Times are bigint nanoseconds since the epoch.
 * - `mode` always holds the full st_mode: file type bits (S_IFREG, S_IFDIR…) | permission bits.
 * - Every failure a caller can act on is an FsError with its errno (src/errors); the engines
 *   never throw raw driver errors for user mistakes.
 * - `ctx` says who asks: uid/gid of the caller (used for ownership of new inodes and sticky-bit
 *   checks), the session that holds open files, and an operation id that makes a retried
 *   non-idempotent call apply once.
 */

export const ROOT_INO = 1;

export type InodeType = 'file' | 'dir' | 'symlink' | 'fifo' | 'chr' | 'blk' | 'sock';

export interface Attr {
  ino: number;
  type: InodeType;
  /** Full st_mode (type bits | permissions incl. setuid/setgid/sticky). */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  /** Bytes for files, target length for symlinks, 0 (or entry count) for dirs. */
  size: number;
  /** Device number for chr/blk, else 0. */
  rdev: number;
  atime: bigint;
  mtime: bigint;
  ctime: bigint;
  /** Creation time. */
  btime: bigint;
  /** Bumped when an inode number is reused; part of NFS-style handles. */
  generation: number;
}

export interface OpContext {
  uid: number;
  gid: number;
  /** Supplementary groups of the caller, when known. */
  groups?: number[];
  pid?: number;
  /** Session whose open-file holds this call creates or releases. Set by the server for remote calls. */
  sessionId?: string;
  /** Unique per logical operation; a retry with the same id returns the first result. */
  opId?: string;
}

export interface SetAttrChanges {
  mode?: number;          // permission bits only; type bits are ignored
  uid?: number;
  gid?: number;
  size?: number;          // truncate or extend (sparse); superseded blocks go to the gc queue
  atime?: bigint | 'now';
  mtime?: bigint | 'now';
  ctime?: bigint;         // normally set by the store itself
  /**
   * An access-time bump (a read under relatime), not a status change: ctime stays as it is.
   * Only valid with `atime` alone (EINVAL otherwise); explicit times (utimensat) do change ctime.
   */
  keepCtime?: boolean;
}

export interface DirEntry {
  name: string;
  attr: Attr;
}

export interface DirPage {
  entries: DirEntry[];
  /** Opaque cursor to resume after the last entry, absent at the end. */
  next?: string;
}

/** One block slot written by a flush: slot `index` now holds object `blockId` of `length` raw bytes. */
export interface BlockWrite {
  index: number;
  blockId: number;
  length: number;
}

export interface BlockRef extends BlockWrite {}

export interface StatFs {
  blockSize: number;
  /** Bytes stored in files (sum of sizes). */
  usedBytes: number;
  /** Capacity limit, or 0 when unlimited (reported as a large number to df). */
  capacityBytes: number;
  inodes: number;
  inodeLimit: number;
}

export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

export interface CommitRequest {
  ino: number;
  writes: BlockWrite[];
  /** File size after the writer's changes. */
  size: number;
  mtime: bigint;
}

/**
 * A POSIX record lock as fcntl(2) carries it: type F_RDLCK 0 / F_WRLCK 1 / F_UNLCK 2, from
 * `start` for `len` bytes (0: to the end of the file), taken by process `pid`.
 */
export interface LockRange {
  type: number;
  start: number;
  len: number;
  pid: number;
}

// Volume settings live in a leaf module (store/ and codec/ import them too, not meta/).
export type { BlockStoreSettings, EncryptionParams, VolumeSettings } from '../volume/settings.js';

/**
 * What other sessions' mutations made stale (coherent caching, docs/SEMANTICS.md):
 * - `e`: directory entries (parent ino, name) that appeared, went or point elsewhere now; a cache
 *   that maps one of them to an inode drops that inode's attributes too (unlink, rename);
 * - `a`: inodes whose attributes or xattrs changed (an ACL is both);
 * - `d`: inodes whose data changed (a commit, a truncate): cached pages of them are stale;
 * - `l`: inodes whose locks changed (an unlock, a close): a waiting F_SETLKW or flock retries.
 */
export interface Changes {
  e: [parent: number, name: string][];
  a: number[];
  d: number[];
  l?: number[];
}

/** Hears `Changes` made by other sessions; `null`: some may have been missed, all caches are suspect. */
export type ChangeListener = (changes: Changes | null) => void;

export interface MetaStore {
  lookup(parent: number, name: string, ctx: OpContext): Promise<Attr>;
  getattr(ino: number, ctx: OpContext): Promise<Attr>;
  setattr(ino: number, changes: SetAttrChanges, ctx: OpContext): Promise<Attr>;

  /** Any non-directory type: regular, FIFO, chr/blk device, socket. `mode` includes type bits. */
  mknod(parent: number, name: string, mode: number, rdev: number, ctx: OpContext): Promise<Attr>;
  /** Regular file; EEXIST when the name exists. Opens it (a hold for ctx.sessionId) when `open` is true. */
  create(parent: number, name: string, mode: number, ctx: OpContext, open?: boolean): Promise<Attr>;
  mkdir(parent: number, name: string, mode: number, ctx: OpContext): Promise<Attr>;
  symlink(parent: number, name: string, target: string, ctx: OpContext): Promise<Attr>;
  readlink(ino: number, ctx: OpContext): Promise<string>;
  link(ino: number, newParent: number, newName: string, ctx: OpContext): Promise<Attr>;
  unlink(parent: number, name: string, ctx: OpContext): Promise<void>;
  rmdir(parent: number, name: string, ctx: OpContext): Promise<void>;
  /** Atomic; replaces a file or an empty dir; EINVAL for a dir into its own subtree. */
  rename(parent: number, name: string, newParent: number, newName: string, ctx: OpContext,
    flags?: { noReplace?: boolean; exchange?: boolean }): Promise<void>;
  /** Entries other than "." and "..", sorted by name, with attributes. */
  readdir(ino: number, ctx: OpContext, cursor?: string, limit?: number): Promise<DirPage>;
  /**
   * Usage and limits: the volume's, or with `ino`, those of the nearest directory quota above it
   * (a quota directory: its own), the volume's for a limit the quota leaves unset (core/quota.ts).
   */
  statfs(ctx: OpContext, ino?: number): Promise<StatFs>;

  getxattr(ino: number, name: string, ctx: OpContext): Promise<Buffer>;
  setxattr(ino: number, name: string, value: Buffer, flags: number, ctx: OpContext): Promise<void>;
  listxattr(ino: number, ctx: OpContext): Promise<string[]>;
  removexattr(ino: number, name: string, ctx: OpContext): Promise<void>;

  /** Take a hold on ino for ctx.sessionId (an unlinked inode lives while held). */
  open(ino: number, ctx: OpContext): Promise<Attr>;
  /** Drop one hold; the last release of an unlinked inode frees it and queues its blocks for gc. */
  release(ino: number, ctx: OpContext): Promise<void>;

  /**
   * Atomically map the written slots, set size and mtime/ctime; superseded blocks go to gc. A write
   * `{ blockId: 0, length: 0 }` makes its slot a hole (fallocate's punch/zero of whole blocks).
   */
  commit(req: CommitRequest, ctx: OpContext): Promise<Attr>;
  /** Block map slots in [fromIndex, fromIndex+count), holes omitted, sorted by index. */
  blocks(ino: number, fromIndex: number, count: number, ctx: OpContext): Promise<BlockRef[]>;
  /** Reserve `count` fresh block ids: returns the first; ids first..first+count-1 are the caller's. */
  allocIds(count: number, ctx: OpContext): Promise<number>;

  /**
   * Shared locks (docs/SEMANTICS.md "Locks"). `owner` is the mount's kernel lock owner; the lock
   * belongs to (ctx.sessionId, owner), and goes when the session ends or drops its last hold on
   * the inode. None of these block: a conflict is EAGAIN and the caller retries.
   * getlk: the first lock that would conflict with `lock`, or `lock` with type F_UNLCK.
   */
  getlk(ino: number, owner: string, lock: LockRange, ctx: OpContext): Promise<LockRange>;
  /**
   * F_SETLK; `wait` (F_SETLKW): on a conflict, record the owner as waiting for the holders (or
   * EDEADLK when they wait for it) before answering EAGAIN; a later success clears the record.
   */
  setlk(ino: number, owner: string, lock: LockRange, wait: boolean, ctx: OpContext): Promise<void>;
  /** flock(2) operation LOCK_SH 1 / LOCK_EX 2 / LOCK_UN 8; EAGAIN on a conflict. */
  flock(ino: number, owner: string, operation: number, ctx: OpContext): Promise<void>;
  /** Drop `owner`'s POSIX locks ('posix', a descriptor closed) or its flock ('flock', last close). */
  releaseLocks(ino: number, owner: string, kind: 'posix' | 'flock', ctx: OpContext): Promise<void>;

  /** The volume's settings (block size, compression, encryption params, block store). */
  settings(): Promise<VolumeSettings>;
  close(): Promise<void>;
  /**
   * Optional: tell `listener` what other sessions change (a remote store on meta.flexfs does;
   * an embedded one has no other sessions). Names in `Changes` are this store's names (opened by
   * the name-sealing decorator). Returns the unsubscribe function.
   */
  watch?(listener: ChangeListener): () => void;
  /**
   * Optional, with `watch`: true while the watchers hear every change other sessions make (the
   * session's connection is up). While false, caches must not trust anything for long.
   */
  hearsChanges?(): boolean;
}
