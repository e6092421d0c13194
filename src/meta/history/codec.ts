import type { BlockRef } from '../types.js';
import type { InodeRec } from '../core/tx.js';
import { decodeInode, encodeInode } from '../core/rules.js';

/**
 * How the before-values of history records are written down (one string per record, so engines
 * store them as they are): inodes as rules.ts encodes them, entries as the inode number, slots as
 * "blockId:length", xattr values in base64.
 */
export const historyCodec = {
  inode: { enc: (r: InodeRec): string => encodeInode(r), dec: (s: string): InodeRec => decodeInode(s) },
  entry: { enc: (ino: number): string => String(ino), dec: (s: string): number => Number(s) },
  slot: {
    enc: (r: BlockRef): string => `${r.blockId}:${r.length}`,
    dec: (index: number, s: string): BlockRef => {
      const [blockId, length] = s.split(':').map(Number);
      return { index, blockId, length };
    },
  },
  xattr: { enc: (v: Buffer): string => v.toString('base64'), dec: (s: string): Buffer => Buffer.from(s, 'base64') },
};
