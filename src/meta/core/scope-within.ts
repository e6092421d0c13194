import { ROOT_INO } from '../types.js';
import type { InodeRec, MetaTx } from './tx.js';

/**
 * Is `ino` in the subtree of directory `dir` (or `dir` itself)? What a scoped token's session
 * may name (server/session-scope.ts). A directory by its parent chain; any other inode by the
 * directory it was made in or moved to (`InodeRec.parent`). Inodes with no known parent answer
 * false: a scope never lets through what it cannot place.
 */
const MAX_DEPTH = 100_000;

async function dirWithin(tx: MetaTx, start: InodeRec, dir: number): Promise<boolean> {
  let cur: InodeRec | null = start;
  for (let depth = 0; cur && depth < MAX_DEPTH; depth++) {
    if (cur.ino === dir) return true;
    if (cur.ino === ROOT_INO || cur.parent === undefined || cur.parent === cur.ino) return false;
    cur = await tx.getInode(cur.parent);
  }
  return false;
}

export async function withinScope(tx: MetaTx, ino: number, dir: number): Promise<boolean> {
  if (ino === dir) return true;
  const rec = await tx.getInode(ino);
  if (!rec) return false;
  if (rec.type === 'dir') return dirWithin(tx, rec, dir);
  if (rec.parent === undefined) return false;
  const p = await tx.getInode(rec.parent);
  return p !== null && p.type === 'dir' && dirWithin(tx, p, dir);
}
