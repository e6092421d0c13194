import type { Attr, StatFs } from '../meta/types.js';
import type { FuseAttr } from './lowlevel/types.js';

/** st_blksize we report: the FUSE request size, so cp and dd pick 1 MiB buffers. */
export const REPORTED_BLKSIZE = 1 << 20;
/** Fragment size df multiplies block counts by. */
const FRSIZE = 4096;
/** What an unlimited volume reports as its size (1 PiB) and inode limit. */
const UNLIMITED_BYTES = 2 ** 50;
const UNLIMITED_INODES = 2 ** 40;

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

/** Attributes in a low-level reply (fuse/lowlevel FuseAttr); `umask` clears permission bits in what the kernel sees. */
export function toFuseAttr(a: Attr, umask = 0): FuseAttr {
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
