import { constants } from 'node:fs';

/** st_mode bits, written once (Linux values, as node:fs reports them). */
export const S_IFMT = constants.S_IFMT;
export const S_IFREG = constants.S_IFREG;
export const S_IFDIR = constants.S_IFDIR;
export const S_IFLNK = constants.S_IFLNK;
export const S_IFIFO = constants.S_IFIFO;
export const S_IFCHR = constants.S_IFCHR;
export const S_IFBLK = constants.S_IFBLK;
export const S_IFSOCK = constants.S_IFSOCK;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;
