import { describe, expect, it } from 'vitest';
import { DirBuffer } from '../../src/fuse/lowlevel/dirbuf.js';
import type { Entry } from '../../src/fuse/lowlevel/types.js';

// The layout libfuse's fuse_add_direntry{,_plus} write (linux/fuse.h), decoded by hand here.
function decode(bytes: Uint8Array, plus: boolean) {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = [];
  let p = 0;
  while (p < b.length) {
    let e: Record<string, unknown> = {};
    if (plus) {
      e = {
        nodeid: Number(b.readBigUInt64LE(p)), generation: Number(b.readBigUInt64LE(p + 8)),
        entryValid: Number(b.readBigUInt64LE(p + 16)), attrValid: Number(b.readBigUInt64LE(p + 24)),
        entryValidNsec: b.readUInt32LE(p + 32), attrValidNsec: b.readUInt32LE(p + 36),
        attr: {
          ino: Number(b.readBigUInt64LE(p + 40)), size: Number(b.readBigUInt64LE(p + 48)), blocks: Number(b.readBigUInt64LE(p + 56)),
          atime: b.readBigInt64LE(p + 64), mtime: b.readBigInt64LE(p + 72), ctime: b.readBigInt64LE(p + 80),
          atimensec: b.readUInt32LE(p + 88), mtimensec: b.readUInt32LE(p + 92), ctimensec: b.readUInt32LE(p + 96),
          mode: b.readUInt32LE(p + 100), nlink: b.readUInt32LE(p + 104), uid: b.readUInt32LE(p + 108), gid: b.readUInt32LE(p + 112),
          rdev: b.readUInt32LE(p + 116), blksize: b.readUInt32LE(p + 120),
        },
      };
      p += 128;
    }
    const namelen = b.readUInt32LE(p + 16);
    out.push({
      ...e, ino: Number(b.readBigUInt64LE(p)), off: Number(b.readBigUInt64LE(p + 8)), type: b.readUInt32LE(p + 20),
      name: b.toString('utf8', p + 24, p + 24 + namelen), pad: [...b.subarray(p + 24 + namelen, p + ((24 + namelen + 7) & ~7))],
    });
    p += (24 + namelen + 7) & ~7;
  }
  return out;
}

const file: Entry = {
  ino: 2 ** 40 + 5, generation: 3, attrTimeout: 1.5, entryTimeout: 3600,
  attr: {
    ino: 2 ** 40 + 5, mode: 0o100644, nlink: 2, uid: 1000, gid: 1001, rdev: 0, size: 3 * 2 ** 40, blksize: 4096,
    atime: 981173106_123456789n, mtime: -1_500_000_000n, ctime: 0n,
  },
};
const dir: Entry = { ino: 7, attr: { ino: 7, mode: 0o040755, nlink: 2, uid: 0, gid: 0, size: 0, atime: 0n, mtime: 0n, ctime: 0n } };

describe('DirBuffer (readdir / readdirplus replies encoded in JavaScript)', () => {
  it('readdirplus: fuse_entry_out + dirent per entry, 64-bit numbers, ns times (also before 1970), timeouts', () => {
    const d = new DirBuffer(4096, true);
    expect(d.add('fïle', file, 1)).toBe(true);
    expect(d.add('sub', dir, 2)).toBe(true);
    const [a, b] = decode(d.bytes(), true);
    expect(a).toMatchObject({
      nodeid: 2 ** 40 + 5, generation: 3, entryValid: 3600, entryValidNsec: 0, attrValid: 1, attrValidNsec: 500_000_000,
      attr: {
        ino: 2 ** 40 + 5, size: 3 * 2 ** 40, blocks: 3 * 2 ** 40 / 512, atime: 981173106n, atimensec: 123456789,
        mtime: -2n, mtimensec: 500_000_000, ctime: 0n, ctimensec: 0, mode: 0o100644, nlink: 2, uid: 1000, gid: 1001, blksize: 4096,
      },
      ino: 2 ** 40 + 5, off: 1, type: 8, name: 'fïle',
    });
    expect(a.pad.every((x) => x === 0)).toBe(true);
    expect(b).toMatchObject({ nodeid: 7, ino: 7, off: 2, type: 4, name: 'sub' });
    expect(d.count).toBe(2);
  });

  it('readdir: dirents only; an entry that does not fit is refused and the buffer stays valid', () => {
    const d = new DirBuffer(64, false);
    expect(d.add('abcdefgh', dir, 1)).toBe(true); // 24 + 8 = 32 bytes
    expect(d.add('abcdefghi', dir, 2)).toBe(false); // 24 + 9 → 40: 72 > 64
    expect(d.add('x', file, 3)).toBe(true); // 32 more: exactly 64
    expect(decode(d.bytes(), false).map((e) => [e.name, e.ino, e.off, e.type])).toEqual([['abcdefgh', 7, 1, 4], ['x', 2 ** 40 + 5, 3, 8]]);
    expect(d.bytes().length).toBe(64);
  });
});
