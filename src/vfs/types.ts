import type { Attr, StatFs } from '../meta/types.js';

/**
 * PosixFs: what the FUSE adapter (src/fuse/) calls. Path-based because fuse-native's high-level
 * API is; the implementation resolves paths to inodes (with short-TTL caches) and works by inode
 * below that. Every method is async and throws FsError (src/errors) with the errno to answer.
 * No method may block the event loop.
 *
 * `caller` is who performs the operation (from fuse_get_context via the patched fuse-native).
 * File handles are small integers (< 2^32) allocated by the implementation.
 */
export interface Caller {
  uid: number;
  gid: number;
  pid: number;
}

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
  /** Copy `length` bytes at `position` into `buf` (which the caller reuses); returns bytes read. */
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

  /** Flush every dirty file and release resources (unmount, SIGTERM). */
  destroy(): Promise<void>;
}
