import { FsError } from '../../errors/index.js';
import type { Attr, BlockRef, BlockWrite, CommitRequest } from '../types.js';
import { checkInt, toAttr } from './rules.js';
import type { Op } from './op.js';
import type { InodeRec } from './tx.js';
import * as quota from './quota.js';

/**
 * File data in the metadata: block maps (commit, truncate, reads of the map), the capacity
 * limit, and the gc queue that every block no inode references any more goes to.
 */

/** ENOSPC when growing the files by `growth` bytes would pass the volume's capacity. */
export async function checkCapacity(op: Op, growth: number): Promise<void> {
  if (growth <= 0) return;
  if (op.capacityBytes > 0 && (await op.tx.getCounter('usedBytes')) + growth > op.capacityBytes) {
    throw new FsError('ENOSPC', 'volume capacity reached');
  }
}

/** A size change of `r` to `size` charges its directory quotas (EDQUOT past one). */
export async function chargeSize(op: Op, r: InodeRec, size: number): Promise<void> {
  if (size !== r.size) await quota.charge(op, await quota.quotasOf(op, r), { bytes: size - r.size, inodes: 0 });
}

/** A write's new blocks and size: replaced blocks and blocks past the new end go to the gc queue. */
export async function commit(op: Op, req: CommitRequest): Promise<Attr> {
  const r = await op.must(req.ino);
  if (r.type === 'dir') throw new FsError('EISDIR', 'cannot write a directory');
  if (r.type !== 'file') throw new FsError('EINVAL', 'can only write regular files');
  const size = checkInt(req.size, 'size');
  if (typeof req.mtime !== 'bigint') throw new FsError('EINVAL', 'mtime must be a bigint (ns)');
  if (!Array.isArray(req.writes)) throw new FsError('EINVAL', 'writes must be a list');
  for (const w of req.writes) {
    checkInt(w.index, 'block index');
    if (isHoleWrite(w)) continue; // { blockId: 0, length: 0 }: the slot becomes a hole (punch)
    checkInt(w.blockId, 'block id', 1);
    checkInt(w.length, 'block length', 1);
    if (w.length > op.blockSize) throw new FsError('EINVAL', `block length ${w.length} exceeds the block size`);
  }
  await checkCapacity(op, size - r.size);
  await chargeSize(op, r, size);
  const slots = new Map((await op.tx.getSlots(r.ino)).map((s) => [s.index, s]));
  const queuedAt = Date.now();
  for (const w of req.writes) {
    const old = slots.get(w.index);
    if (isHoleWrite(w)) {
      if (old) {
        op.tx.gcPush(r.ino, old.index, old.blockId, queuedAt);
        op.tx.delSlot(r.ino, old.index);
        slots.delete(w.index);
      }
      continue;
    }
    if (old && old.blockId === w.blockId && old.length === w.length) continue;
    if (old && old.blockId !== w.blockId) op.tx.gcPush(r.ino, old.index, old.blockId, queuedAt);
    const ref = { index: w.index, blockId: w.blockId, length: w.length };
    slots.set(w.index, ref);
    op.tx.putSlot(r.ino, ref);
  }
  clipSlots(op, r.ino, [...slots.values()], size, queuedAt);
  op.tx.addCounter('usedBytes', size - r.size);
  r.size = size;
  r.mtime = req.mtime;
  r.ctime = op.now;
  op.touch(r);
  return toAttr(r);
}

/** A commit write that makes its slot a hole (blockId 0, length 0: fallocate's punch). */
function isHoleWrite(w: BlockWrite): boolean {
  return w.blockId === 0 && w.length === 0;
}

/** The block map slots [fromIndex, fromIndex + count) of an inode. */
export async function blocks(op: Op, ino: number, fromIndex: number, count: number): Promise<BlockRef[]> {
  await op.must(ino);
  return count === 0 ? [] : op.tx.getSlotRange(ino, fromIndex, count);
}

/** Slots at or past `size` go to the gc queue; a slot straddling it keeps its block, shorter. */
function clipSlots(op: Op, ino: number, slots: BlockRef[], size: number, queuedAt: number): void {
  const bs = op.blockSize;
  for (const s of slots) {
    const start = s.index * bs;
    if (start >= size) {
      op.tx.gcPush(ino, s.index, s.blockId, queuedAt);
      op.tx.delSlot(ino, s.index);
    } else if (start + s.length > size) {
      op.tx.putSlot(ino, { index: s.index, blockId: s.blockId, length: size - start });
    }
  }
}

/** Shrinking a file clips its block map (growing leaves a hole, no slots). */
export async function truncateSlots(op: Op, r: InodeRec, size: number): Promise<void> {
  if (size >= r.size) return;
  clipSlots(op, r.ino, await op.tx.getSlots(r.ino), size, Date.now());
}

/** The inode is gone for good: its blocks go to the gc queue, counters drop. */
export async function freeInode(op: Op, r: InodeRec): Promise<void> {
  if (r.type === 'file') {
    const queuedAt = Date.now();
    for (const s of await op.tx.getSlots(r.ino)) op.tx.gcPush(r.ino, s.index, s.blockId, queuedAt);
    op.tx.addCounter('usedBytes', -r.size);
  }
  op.drop(r.ino);
  op.tx.addCounter('inodes', -1);
}
