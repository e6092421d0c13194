import type { Attr, StatFs } from '../meta/types.js';

/** st_blksize we report: the FUSE request size, so cp/dd pick 128 KiB buffers. */
export const REPORTED_BLKSIZE = 131072;
/** Fragment size df multiplies block counts by. */
const FRSIZE = 4096;
/** What an unlimited volume reports as its size (1 PiB) and inode limit. */
const UNLIMITED_BYTES = 2 ** 50;
const UNLIMITED_INODES = 2 ** 40;

/** The stat object the patched fuse-native expects (times as BigInt nanoseconds). */
export interface FuseStat {
  mode: number; uid: number; gid: number; size: number; dev: number; nlink: number; ino: number;
  rdev: number; blksize: number; blocks: number; atime: bigint; mtime: bigint; ctime: bigint;
}

/** `umask` clears permission bits in what the kernel sees (and checks, under default_permissions). */
export function attrToStat(a: Attr, umask = 0): FuseStat {
  return {
    mode: a.mode & ~(umask & 0o777),
    uid: a.uid,
    gid: a.gid,
    size: a.size,
    dev: 0,
    nlink: a.nlink,
    ino: a.ino,
    rdev: a.rdev,
    blksize: REPORTED_BLKSIZE,
    blocks: Math.ceil(a.size / 512),
    atime: a.atime,
    mtime: a.mtime,
    ctime: a.ctime,
  };
}

export interface FuseStatfs {
  bsize: number; frsize: number; blocks: number; bfree: number; bavail: number;
  files: number; ffree: number; favail: number; fsid: number; flag: number; namemax: number;
}

export function statfsToFuse(s: StatFs): FuseStatfs {
  const capacity = s.capacityBytes > 0 ? s.capacityBytes : Math.max(UNLIMITED_BYTES, s.usedBytes * 2);
  const blocks = Math.floor(capacity / FRSIZE);
  const used = Math.ceil(s.usedBytes / FRSIZE);
  const free = Math.max(0, blocks - used);
  const files = s.inodeLimit > 0 ? s.inodeLimit : Math.max(UNLIMITED_INODES, s.inodes * 2);
  const ffree = Math.max(0, files - s.inodes);
  return {
    bsize: s.blockSize || FRSIZE, frsize: FRSIZE, blocks, bfree: free, bavail: free,
    files, ffree, favail: ffree, fsid: 0, flag: 0, namemax: 255,
  };
}

/** Type bits only, for "." and ".." in readdir (the kernel uses st_mode there for d_type). */
export const DIR_ENTRY_STAT: FuseStat = {
  mode: 0o040755, uid: 0, gid: 0, size: 0, dev: 0, nlink: 2, ino: 0, rdev: 0, blksize: REPORTED_BLKSIZE,
  blocks: 0, atime: 0n, mtime: 0n, ctime: 0n,
};

/** Attributes in a low-level reply (fuse/lowlevel FuseAttr); `umask` as in attrToStat. */
export function toFuseAttr(a: Attr, umask = 0): import('./lowlevel/types.js').FuseAttr {
  return {
    ino: a.ino,
    mode: umask ? a.mode & ~(umask & 0o777) : a.mode,
    nlink: a.nlink,
    uid: a.uid,
    gid: a.gid,
    rdev: a.rdev,
    size: a.size,
    blocks: Math.ceil(a.size / 512),
    blksize: REPORTED_BLKSIZE,
    atime: a.atime,
    mtime: a.mtime,
    ctime: a.ctime,
  };
}
