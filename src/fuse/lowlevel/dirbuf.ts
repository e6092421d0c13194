import type { DirReply, Entry, FuseAttr } from './types.js';

/**
 * A readdir / readdirplus reply, encoded in JavaScript in the kernel's wire format (struct
 * fuse_dirent / fuse_direntplus of <linux/fuse.h>, what libfuse's fuse_add_direntry{,_plus} write):
 *   dirent:     u64 ino, u64 off (cookie of the NEXT entry), u32 namelen, u32 type, name, pad to 8
 *   direntplus: struct fuse_entry_out (128 bytes) followed by a dirent
 * Encoding here keeps the addon thin and costs no property reads per entry in C++.
 */
const DIRENT_HEADER = 24;
const ENTRY_OUT = 128;
const S_IFMT = 0o170000;
const NS = 1_000_000_000n;

function align8(n: number): number { return (n + 7) & ~7; }

const TWO32 = 2 ** 32;
/** u64 from a non-negative safe integer, as two u32 (no BigInt on the per-entry path). */
function u64(b: Buffer, p: number, v: number): void {
  b.writeUInt32LE(v % TWO32, p);
  b.writeUInt32LE(Math.floor(v / TWO32), p + 4);
}
/** A time in ns → (i64 seconds at p, u32 nanoseconds at q). */
function time(b: Buffer, p: number, q: number, ns: bigint): void {
  if (ns === 0n) { b.writeUInt32LE(0, p); b.writeUInt32LE(0, p + 4); b.writeUInt32LE(0, q); return; }
  let sec = ns / NS;
  let nsec = ns - sec * NS;
  if (nsec < 0n) { nsec += NS; sec -= 1n; }
  b.writeBigInt64LE(sec, p);
  b.writeUInt32LE(Number(nsec), q);
}

/** Seconds (fractional) → [whole seconds, nanoseconds] as fuse_entry_out wants them. */
function splitTimeout(t: number): [number, number] {
  if (!(t > 0)) return [0, 0];
  const s = Math.floor(t);
  return [s, Math.floor((t - s) * 1e9)];
}

export class DirBuffer implements DirReply {
  private readonly buf: Buffer;
  private used = 0;
  /** Entries added (for readdirplus: each with an ino is one lookup the kernel now holds). */
  count = 0;

  constructor(readonly size: number, readonly plus: boolean) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /**
   * Add one entry; false (nothing written) when it does not fit: stop and reply.
   * `nextOffset` is the cookie the kernel passes back to continue after this entry.
   * readdir: `entry` needs ino and attr.mode; readdirplus: a full Entry (ino 0 = name only).
   */
  add(name: string, entry: Entry, nextOffset: number): boolean {
    const nameLen = Buffer.byteLength(name);
    const direntLen = align8(DIRENT_HEADER + nameLen);
    const len = (this.plus ? ENTRY_OUT : 0) + direntLen;
    if (this.used + len > this.size) return false;
    const b = this.buf;
    let p = this.used;
    if (this.plus) {
      const [es, ens] = splitTimeout(entry.entryTimeout ?? 0);
      const [as, ans] = splitTimeout(entry.attrTimeout ?? 0);
      u64(b, p, entry.ino);
      u64(b, p + 8, entry.generation ?? 0);
      u64(b, p + 16, es);
      u64(b, p + 24, as);
      b.writeUInt32LE(ens, p + 32);
      b.writeUInt32LE(ans, p + 36);
      writeAttr(b, p + 40, entry.attr);
      p += ENTRY_OUT;
    }
    u64(b, p, entry.attr.ino || entry.ino);
    u64(b, p + 8, nextOffset);
    b.writeUInt32LE(nameLen, p + 16);
    b.writeUInt32LE((entry.attr.mode & S_IFMT) >>> 12, p + 20);
    b.write(name, p + 24, nameLen, 'utf8');
    b.fill(0, p + 24 + nameLen, p + direntLen);
    this.used = p + direntLen;
    this.count++;
    return true;
  }

  bytes(): Uint8Array { return this.buf.subarray(0, this.used); }
}


/** struct fuse_attr (88 bytes). */
function writeAttr(b: Buffer, p: number, a: FuseAttr): void {
  u64(b, p, a.ino);
  u64(b, p + 8, a.size);
  u64(b, p + 16, a.blocks ?? Math.ceil(a.size / 512));
  time(b, p + 24, p + 48, a.atime);
  time(b, p + 32, p + 52, a.mtime);
  time(b, p + 40, p + 56, a.ctime);
  b.writeUInt32LE(a.mode, p + 60);
  b.writeUInt32LE(a.nlink, p + 64);
  b.writeUInt32LE(a.uid, p + 68);
  b.writeUInt32LE(a.gid, p + 72);
  b.writeUInt32LE(a.rdev ?? 0, p + 76);
  b.writeUInt32LE(a.blksize ?? 0, p + 80);
  b.writeUInt32LE(0, p + 84); // flags
}
