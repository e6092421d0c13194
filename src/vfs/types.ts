import type { Attr, ChangeListener, DirEntry, StatFs } from '../meta/types.js';

/**
 * The mount client's POSIX core has two faces:
 * - `InodeFs`, the core itself: every operation by inode number and file handle, which is what
 *   the low-level FUSE protocol speaks (src/fuse/kernel-ops.ts maps requests onto it);
 * - `PosixFs`, a thin path layer over it (src/vfs/path-fs.ts) for the path-based callers: the
 *   VFS test suites and benches that drive the core without a kernel.
 * Every method is async and throws FsError (src/errors) with the errno to answer. No method may
 * block the event loop.
 *
 * `caller` is who performs the operation (from the FUSE request). File handles are small
 * integers (< 2^31) allocated by the core.
 */
export interface Caller {
  uid: number;
  gid: number;
  pid: number;
  /**
   * The creating process's umask, on create/mknod/mkdir when the kernel leaves applying it to the
   * filesystem (FUSE_CAP_DONT_MASK: so a default ACL can replace it, POSIX.1e). Absent: the mode
   * arrives masked already.
   */
  umask?: number;
  /** Supplementary groups, when the caller's identity was replaced (vfs/squash.ts); absent: read from /proc. */
  groups?: number[];
}

export type { DirEntry } from '../meta/types.js';

/** setattr's fields; only those present change. Times in ns, 'now' for UTIME_NOW. */
export interface AttrChanges {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: bigint | 'now';
  mtime?: bigint | 'now';
  /**
   * The times are the kernel's own (a writeback-cache mount flushing the mtime it kept for a
   * writer, FUSE setattr with ctime): allowed to anyone who may write the file, like "now".
   */
  kernelTimes?: boolean;
}

/** What open/create answer besides the handle. */
export interface OpenResult {
  fh: number;
  /**
   * The file's data is unchanged since this mount last opened it (same mtime and size): the
   * kernel may keep its page cache (what libfuse 2's auto_cache decided).
   */
  keepCache: boolean;
}

/** rename(2) flags as renameat2 passes them. */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

export interface InodeFs {
  /** Open caches, check the root. Before any other call. */
  init(): Promise<void>;
  /**
   * Optional: hear what other mounts change, after the core dropped it from its own caches (the
   * FUSE layer drops it from the kernel's). Returns the unsubscribe function.
   */
  watchOthers?(listener: ChangeListener): () => void;
  /** Optional: true while watchOthers' listeners hear every change (caches may then trust long). */
  hearsOthers?(): boolean;

  lookup(parent: number, name: string, caller: Caller): Promise<Attr>;
  /** With `fh`: the attributes through that open handle (an unlinked file still answers). */
  getattr(ino: number, caller: Caller, fh?: number): Promise<Attr>;
  /** chmod, chown, truncate (ftruncate with `fh`) and utimens in one call, as FUSE sends them. */
  setattr(ino: number, changes: AttrChanges, caller: Caller, fh?: number): Promise<Attr>;
  access(ino: number, mask: number, caller: Caller): Promise<void>;
  statfs(caller: Caller, ino?: number): Promise<StatFs>;
  readlink(ino: number, caller: Caller): Promise<string>;

  mknod(parent: number, name: string, mode: number, rdev: number, caller: Caller): Promise<Attr>;
  mkdir(parent: number, name: string, mode: number, caller: Caller): Promise<Attr>;
  symlink(parent: number, name: string, target: string, caller: Caller): Promise<Attr>;
  /** A new name `newName` in `newParent` for inode `ino`. */
  link(ino: number, newParent: number, newName: string, caller: Caller): Promise<Attr>;
  unlink(parent: number, name: string, caller: Caller): Promise<void>;
  rmdir(parent: number, name: string, caller: Caller): Promise<void>;
  /** `flags`: RENAME_NOREPLACE | RENAME_EXCHANGE. */
  rename(parent: number, name: string, newParent: number, newName: string, flags: number, caller: Caller): Promise<void>;

  open(ino: number, flags: number, caller: Caller): Promise<OpenResult>;
  /** Create and open; without O_EXCL an existing name is opened instead. */
  create(parent: number, name: string, mode: number, flags: number, caller: Caller): Promise<OpenResult & { attr: Attr }>;
  /**
   * Up to `length` bytes at `position` (fewer at the end of the file). May be a view of a cached
   * block, which is never written again: the caller copies it out (into the kernel) or keeps it.
   * `fill`: the kernel filling its page cache (writeback cache), allowed on a write-only handle.
   */
  read(fh: number, length: number, position: number, caller: Caller, fill?: boolean): Promise<Uint8Array>;
  /** `data` is only valid during the call: the core copies what it keeps. Returns bytes written. */
  write(fh: number, data: Buffer, position: number, caller: Caller): Promise<number>;
  flush(fh: number, caller: Caller): Promise<void>;
  fsync(fh: number, datasync: boolean, caller: Caller): Promise<void>;
  release(fh: number, caller: Caller): Promise<void>;
  /**
   * fallocate(2) through handle `fh` of `ino`: mode 0 and FALLOC_FL_KEEP_SIZE (1), PUNCH_HOLE (2,
   * with KEEP_SIZE), ZERO_RANGE (0x10); anything else EOPNOTSUPP.
   */
  fallocate(ino: number, fh: number, mode: number, offset: number, length: number, caller: Caller): Promise<void>;
  /** lseek(2) SEEK_DATA (3) / SEEK_HOLE (4) from `offset`: the new offset, ENXIO past the data. */
  lseek(ino: number, fh: number, offset: number, whence: number, caller: Caller): Promise<number>;

  opendir(ino: number, flags: number, caller: Caller): Promise<number>;
  /**
   * The directory's entries (without "." and "..") with attributes, as of the handle's listing:
   * read from the metadata server when `fromStart` (offset 0, rewinddir) or not read yet, so
   * offsets into it stay stable while a reader pages through.
   */
  readdir(fh: number, fromStart: boolean, caller: Caller): Promise<DirEntry[]>;
  releasedir(fh: number, caller: Caller): Promise<void>;
  fsyncdir(fh: number, datasync: boolean, caller: Caller): Promise<void>;

  setxattr(ino: number, name: string, value: Buffer, flags: number, caller: Caller): Promise<void>;
  getxattr(ino: number, name: string, caller: Caller): Promise<Buffer>;
  listxattr(ino: number, caller: Caller): Promise<string[]>;
  removexattr(ino: number, name: string, caller: Caller): Promise<void>;

  /** Flush every dirty file and release resources (unmount, SIGTERM). */
  destroy(): Promise<void>;

  /**
   * Locks, optional. A core without them leaves POSIX and flock locks to each kernel (local to
   * one mount); one that has them gets every lock request of the mount (src/fuse/kernel-ops.ts
   * wires them only when present). FsCore has them: shared by every mount of the volume through
   * the metadata server (vfs/locks.ts). `owner` is the kernel's lock owner (a process's files
   * for fcntl locks, an open file for flock).
   */
  getlk?(ino: number, fh: number, owner: number, lock: RecordLock, caller: Caller): Promise<RecordLock>;
  /** F_SETLK (`wait` false: EAGAIN on a conflict) / F_SETLKW (`wait` true); type F_UNLCK unlocks. */
  setlk?(ino: number, fh: number, owner: number, lock: RecordLock, wait: boolean, caller: Caller): Promise<void>;
  /** flock(2): LOCK_SH 1, LOCK_EX 2, LOCK_UN 8, | LOCK_NB 4. */
  flock?(ino: number, fh: number, owner: number, operation: number, caller: Caller): Promise<void>;
  /** A descriptor closed: drop `owner`'s fcntl locks on the inode ('posix', at flush) or its flock ('flock', at the last release). */
  releaseLocks?(ino: number, owner: number, kind: 'posix' | 'flock', caller: Caller): Promise<void>;
}

/** A record lock as fcntl(2) carries it: type F_RDLCK 0 / F_WRLCK 1 / F_UNLCK 2, from `start` for `len` bytes (0: to the end), held by `pid`. */
export interface RecordLock {
  type: number;
  start: number;
  len: number;
  pid: number;
}

/** The path layer (src/vfs/path-fs.ts): each path is resolved to an inode, then the core runs. */
export interface PosixFs {
  init(): Promise<void>;
  getattr(path: string, caller: Caller): Promise<Attr>;
  fgetattr(path: string, fh: number, caller: Caller): Promise<Attr>;
  access(path: string, mode: number, caller: Caller): Promise<void>;
  statfs(path: string, caller: Caller): Promise<StatFs>;

  opendir(path: string, flags: number, caller: Caller): Promise<number>;
  /** Names with attributes, without "." and "..". */
  readdir(path: string, caller: Caller): Promise<{ name: string; attr: Attr }[]>;
  releasedir(path: string, fh: number, caller: Caller): Promise<void>;
  fsyncdir(path: string, fh: number, datasync: boolean, caller: Caller): Promise<void>;

  mkdir(path: string, mode: number, caller: Caller): Promise<void>;
  rmdir(path: string, caller: Caller): Promise<void>;
  mknod(path: string, mode: number, rdev: number, caller: Caller): Promise<void>;
  create(path: string, mode: number, flags: number, caller: Caller): Promise<number>;
  open(path: string, flags: number, caller: Caller): Promise<number>;
  /** Copy `length` bytes at `position` into `buf`; returns bytes read. */
  read(path: string, fh: number, buf: Buffer, length: number, position: number, caller: Caller): Promise<number>;
  /** `buf` is only valid during the call: implementations copy what they keep. Returns bytes written. */
  write(path: string, fh: number, buf: Buffer, length: number, position: number, caller: Caller): Promise<number>;
  flush(path: string, fh: number, caller: Caller): Promise<void>;
  fsync(path: string, fh: number, datasync: boolean, caller: Caller): Promise<void>;
  release(path: string, fh: number, caller: Caller): Promise<void>;
  truncate(path: string, size: number, caller: Caller): Promise<void>;
  ftruncate(path: string, fh: number, size: number, caller: Caller): Promise<void>;

  unlink(path: string, caller: Caller): Promise<void>;
  rename(src: string, dest: string, caller: Caller): Promise<void>;
  link(target: string, path: string, caller: Caller): Promise<void>;
  symlink(target: string, path: string, caller: Caller): Promise<void>;
  readlink(path: string, caller: Caller): Promise<string>;

  chmod(path: string, mode: number, caller: Caller): Promise<void>;
  chown(path: string, uid: number, gid: number, caller: Caller): Promise<void>;
  /** Times in ns; 'now' for UTIME_NOW; undefined for UTIME_OMIT. */
  utimens(path: string, atime: bigint | 'now' | undefined, mtime: bigint | 'now' | undefined, caller: Caller): Promise<void>;

  setxattr(path: string, name: string, value: Buffer, flags: number, caller: Caller): Promise<void>;
  getxattr(path: string, name: string, caller: Caller): Promise<Buffer>;
  listxattr(path: string, caller: Caller): Promise<string[]>;
  removexattr(path: string, name: string, caller: Caller): Promise<void>;

  destroy(): Promise<void>;
}
