import type { Attr } from '../types.js';
import { toAttr } from './rules.js';
import { freeInode } from './data.js';
import type { Op } from './op.js';
import { dropSession } from './locks.js';

/**
 * Open-file holds: a session holds an inode open, and an inode whose last name is gone lives on
 * until its last hold is released (then its blocks go to the gc queue).
 */

export async function open(op: Op, ino: number, session: string): Promise<Attr> {
  const r = await op.must(ino);
  op.tx.addHold(ino, session, 1);
  return toAttr(r);
}

/** Drop up to `count` of `sess`'s holds on ino; the last hold of an unlinked inode frees it. */
export async function releaseHolds(op: Op, ino: number, sess: string, count: number): Promise<void> {
  // Read both counts before changing them: engines differ in whether reads see buffered writes.
  const total = await op.tx.holdCount(ino);
  const mine = await op.tx.sessionHolds(ino, sess);
  if (mine <= 0) return;
  const drop = Math.min(mine, count);
  op.tx.addHold(ino, sess, -drop);
  // no open file of the session on ino any more: none of its processes can hold a lock on it
  if (drop === mine) await dropSession(op, ino, sess);
  const r = await op.get(ino);
  if (r && r.nlink === 0 && r.type !== 'dir' && total - drop <= 0) await freeInode(op, r);
}
