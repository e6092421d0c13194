import { FsError } from '../../errors/index.js';
import type { Attr, InodeType } from '../types.js';
import {
  S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
} from '../../util/mode.js';
import type { InodeRec } from './tx.js';
import { SEAL_OVERHEAD } from '../../codec/names.js';

/** Shared namespace rules: names, modes, times. */

export const NAME_MAX = 255;
export const PATH_MAX = 4096;
export const XATTR_NAME_MAX = 255;
export const XATTR_SIZE_MAX = 65536;
/** Most names (hard links) one inode may have; link() past it gets EMLINK. */
export const LINK_MAX = 65_000;

const TYPE_BITS: Record<InodeType, number> = {
  file: S_IFREG, dir: S_IFDIR, symlink: S_IFLNK, fifo: S_IFIFO, chr: S_IFCHR, blk: S_IFBLK, sock: S_IFSOCK,
};

export function typeBits(t: InodeType): number { return TYPE_BITS[t]; }

/** Inode type from st_mode type bits; a mode without type bits means a regular file (mknod(2)). */
export function typeOfMode(mode: number): InodeType | null {
  const bits = mode & S_IFMT;
  if (bits === 0) return 'file';
  for (const [t, b] of Object.entries(TYPE_BITS)) if (b === bits) return t as InodeType;
  return null;
}

/**
 * Volumes with encrypted names (settings.nameEncryption) hold every entry name, xattr name and
 * symlink target in the form the mount seals them (src/codec/names.ts, docs/FORMAT.md):
 * base64url(nonce 12 ‖ ciphertext ‖ tag 16), no padding. The server checks that form and applies
 * the length limits to the plaintext length it encodes.
 */
const SEALED_RE = /^[A-Za-z0-9_-]+$/;

/** Plaintext bytes a sealed string encodes; -1 when it is not in the sealed form. */
export function sealedPlainLength(stored: string): number {
  if (typeof stored !== 'string' || !SEALED_RE.test(stored) || stored.length % 4 === 1) return -1;
  const n = Math.floor((stored.length * 3) / 4) - SEAL_OVERHEAD;
  return n >= 0 ? n : -1;
}

/** Characters of the sealed form of a `plainBytes`-byte plaintext (unpadded base64url). */
export function sealedLength(plainBytes: number): number {
  return Math.ceil(((plainBytes + SEAL_OVERHEAD) * 4) / 3);
}

function notSealed(what: string): FsError {
  return new FsError('EINVAL', `${what} is not in the encrypted form this volume stores (names are encrypted by the mount: is the mount client older than the volume?)`);
}

/**
 * A directory entry name: non-empty, no '/', no NUL, not '.'/'..' (EINVAL), ≤ 255 bytes
 * (ENAMETOOLONG). On a volume with encrypted names (`sealed`): the sealed form of such a name.
 */
export function checkName(name: string, sealed = false): void {
  if (sealed) {
    const n = sealedPlainLength(name);
    if (n < 1) throw notSealed('file name');
    if (n > NAME_MAX) throw new FsError('ENAMETOOLONG', `file name longer than ${NAME_MAX} bytes`);
    return;
  }
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new FsError('EINVAL', `invalid file name ${JSON.stringify(String(name).slice(0, 64))}`);
  }
  if (Buffer.byteLength(name, 'utf8') > NAME_MAX) throw new FsError('ENAMETOOLONG', `file name longer than ${NAME_MAX} bytes`);
}

export function checkXattrName(name: string, sealed = false): void {
  if (sealed) {
    const n = sealedPlainLength(name);
    if (n < 1) throw notSealed('xattr name');
    if (n > XATTR_NAME_MAX) throw new FsError('ERANGE', `xattr name longer than ${XATTR_NAME_MAX} bytes`);
    return;
  }
  if (typeof name !== 'string' || name === '' || name.includes('\0')) throw new FsError('ERANGE', 'invalid xattr name');
  if (Buffer.byteLength(name, 'utf8') > XATTR_NAME_MAX) throw new FsError('ERANGE', `xattr name longer than ${XATTR_NAME_MAX} bytes`);
}

/** An xattr value: ≤ 64 KiB; sealed, the same plus the nonce and tag. */
export function checkXattrValue(value: Buffer, sealed = false): void {
  if (sealed && value.length < SEAL_OVERHEAD) throw notSealed('xattr value');
  const max = XATTR_SIZE_MAX + (sealed ? SEAL_OVERHEAD : 0);
  if (value.length > max) throw new FsError('E2BIG', `xattr value larger than ${XATTR_SIZE_MAX} bytes`);
}

/** A symlink target: non-empty, no NUL, < PATH_MAX bytes. Returns the length st_size reports. */
export function checkTarget(target: string, sealed = false): number {
  if (typeof target !== 'string' || target === '') throw new FsError('ENOENT', 'empty symlink target');
  let len: number;
  if (sealed) {
    len = sealedPlainLength(target);
    if (len < 1) throw notSealed('symlink target');
  } else {
    if (target.includes('\0')) throw new FsError('EINVAL', 'symlink target contains NUL');
    len = Buffer.byteLength(target, 'utf8');
  }
  if (len >= PATH_MAX) throw new FsError('ENAMETOOLONG', `symlink target longer than ${PATH_MAX - 1} bytes`);
  return len;
}

/** A numeric argument from a caller: a safe integer ≥ min, else EINVAL naming it. */
export function checkInt(v: unknown, what: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new FsError('EINVAL', `${what} must be an integer ≥ ${min}`);
  return v;
}

let lastNs = 0n;

/**
 * The wall clock in ns, for file times: the realtime clock's milliseconds (so a long-running
 * server follows NTP's corrections, as a kernel's file times do; `performance.timeOrigin +
 * performance.now()` is monotonic from process start and drifts from it), with the sub-ms part
 * from the monotonic clock, and strictly increasing within the process.
 */
export function nowNs(): bigint {
  let t = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  if (t <= lastNs) t = lastNs + 1n;
  lastNs = t;
  return t;
}

export function toAttr(r: InodeRec): Attr {
  return {
    ino: r.ino, type: r.type, mode: r.mode, uid: r.uid, gid: r.gid, nlink: r.nlink, size: r.size, rdev: r.rdev,
    atime: r.atime, mtime: r.mtime, ctime: r.ctime, btime: r.btime, generation: r.generation,
  };
}

/** JSON form of an InodeRec with bigint times as decimal strings (redis values, op results). */
export function encodeInode(r: InodeRec): string {
  return JSON.stringify([r.ino, r.type, r.mode, r.uid, r.gid, r.nlink, r.size, r.rdev, String(r.atime), String(r.mtime),
    String(r.ctime), String(r.btime), r.generation, r.parent ?? null, r.target ?? null]);
}

export function decodeInode(s: string): InodeRec {
  const a = JSON.parse(s) as [number, InodeType, number, number, number, number, number, number, string, string, string, string, number, number | null, string | null];
  const r: InodeRec = {
    ino: a[0], type: a[1], mode: a[2], uid: a[3], gid: a[4], nlink: a[5], size: a[6], rdev: a[7],
    atime: BigInt(a[8]), mtime: BigInt(a[9]), ctime: BigInt(a[10]), btime: BigInt(a[11]), generation: a[12],
  };
  if (a[13] !== null) r.parent = a[13];
  if (a[14] !== null) r.target = a[14];
  return r;
}

/** Results recorded for operation ids: undefined or an Attr. */
export function encodeResult(v: unknown): string {
  if (v === undefined) return 'u';
  return 'a' + encodeInode(v as InodeRec);
}

export function decodeResult(s: string): unknown {
  if (s === 'u') return undefined;
  return toAttr(decodeInode(s.slice(1)));
}

/** An operation-id record: the session that applied the operation, and its result. */
export function encodeOpRecord(sessionId: string, result: unknown): string {
  return `${sessionId}\n${encodeResult(result)}`;
}

export function decodeOpRecord(s: string): { sessionId: string; result: unknown } {
  const cut = s.indexOf('\n');
  // Records written before the session was part of them hold only the result.
  if (cut < 0) return { sessionId: '', result: decodeResult(s) };
  return { sessionId: s.slice(0, cut), result: decodeResult(s.slice(cut + 1)) };
}
