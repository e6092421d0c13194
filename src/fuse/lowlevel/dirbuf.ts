import type { DirReply, Entry, FuseAttr } from './types.js';

/**
 * A readdir / readdirplus reply, encoded in JavaScript in the kernel's wire format (struct
 * fuse_dirent / fuse_direntplus of <linux/fuse.h>, what libfuse's fuse_add_direntry{,_plus} write):
 *   dirent:     u64 ino, u64 off (cookie of the NEXT entry), u32 namelen, u32 type, name, pad to 8
 *   direntplus: struct fuse_entry_out (128 bytes) followed by a dirent
 * Encoding here keeps the addon thin and costs no property reads per entry in C++. Every field
 * sits at a multiple of 4 in an 8-aligned record, so the numbers go through a Uint32Array view
 * (little-endian host, as FUSE itself assumes) instead of Buffer's checked writers.
 */
const DIRENT_HEADER = 24;
const ENTRY_OUT = 128;
const S_IFMT = 0o170000;
const NS = 1_000_000_000n;
const TWO32 = 2 ** 32;

function align8(n: number): number { return (n + 7) & ~7; }

/** Seconds (fractional) → [whole seconds, nanoseconds] as fuse_entry_out wants them. */
function splitTimeout(t: number): [number, number] {
  if (!(t > 0)) return [0, 0];
  const s = Math.floor(t);
  return [s, Math.floor((t - s) * 1e9)];
}

export class DirBuffer implements DirReply {
  private readonly buf: Buffer;
  private readonly u32: Uint32Array;
  private used = 0;
  /** Entries added (for readdirplus: each with an ino is one lookup the kernel now holds). */
  count = 0;

  constructor(readonly size: number, readonly plus: boolean) {
    this.buf = Buffer.allocUnsafeSlow(align8(size)); // own ArrayBuffer at offset 0: 4-aligned view
    this.u32 = new Uint32Array(this.buf.buffer, 0, this.buf.length >>> 2);
  }

  /** u64 at byte offset p (a multiple of 4) from a non-negative safe integer. */
  private u64(p: number, v: number): void {
    const w = p >>> 2;
    this.u32[w] = v % TWO32;
    this.u32[w + 1] = Math.floor(v / TWO32);
  }

  /** A time in ns → i64 seconds at byte p, u32 nanoseconds at byte q. */
  private time(p: number, q: number, ns: bigint): void {
    const w = p >>> 2;
    if (ns === 0n) { this.u32[w] = 0; this.u32[w + 1] = 0; this.u32[q >>> 2] = 0; return; }
    let sec = ns / NS;
    let nsec = ns - sec * NS;
    if (nsec < 0n) { nsec += NS; sec -= 1n; }
    this.buf.writeBigInt64LE(sec, p);
    this.u32[q >>> 2] = Number(nsec);
  }

  /** struct fuse_attr (88 bytes) at byte p. */
  private attr(p: number, a: FuseAttr): void {
    const u = this.u32;
    this.u64(p, a.ino);
    this.u64(p + 8, a.size);
    this.u64(p + 16, a.blocks ?? Math.ceil(a.size / 512));
    this.time(p + 24, p + 48, a.atime);
    this.time(p + 32, p + 52, a.mtime);
    this.time(p + 40, p + 56, a.ctime);
    const w = p >>> 2;
    u[w + 15] = a.mode;
    u[w + 16] = a.nlink;
    u[w + 17] = a.uid;
    u[w + 18] = a.gid;
    u[w + 19] = a.rdev ?? 0;
    u[w + 20] = a.blksize ?? 0;
    u[w + 21] = 0; // flags
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
    const u = this.u32;
    let p = this.used;
    if (this.plus) {
      const [es, ens] = splitTimeout(entry.entryTimeout ?? 0);
      const [as, ans] = splitTimeout(entry.attrTimeout ?? 0);
      this.u64(p, entry.ino);
      this.u64(p + 8, entry.generation ?? 0);
      this.u64(p + 16, es);
      this.u64(p + 24, as);
      u[(p + 32) >>> 2] = ens;
      u[(p + 36) >>> 2] = ans;
      this.attr(p + 40, entry.attr);
      p += ENTRY_OUT;
    }
    this.u64(p, entry.attr.ino || entry.ino);
    this.u64(p + 8, nextOffset);
    u[(p + 16) >>> 2] = nameLen;
    u[(p + 20) >>> 2] = (entry.attr.mode & S_IFMT) >>> 12;
    u[(p + direntLen - 8) >>> 2] = 0; // zero the padding (the name overwrites what it covers)
    u[(p + direntLen - 4) >>> 2] = 0;
    this.buf.write(name, p + 24, nameLen, 'utf8');
    this.used = p + direntLen;
    this.count++;
    return true;
  }

  bytes(): Uint8Array { return this.buf.subarray(0, this.used); }
}
