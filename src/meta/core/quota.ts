import { FsError } from '../../errors/index.js';
import { ROOT_INO } from '../types.js';
import { QUOTA_DEFAULTS } from '../../config/defaults.js';
import type { Op } from './op.js';
import type { InodeRec, QuotaRec } from './tx.js';

/**
 * Directory quotas, charged in the one transaction of each operation (so every mount of the
 * volume, on any server, is held to them). A quota on directory Q counts every inode below Q
 * (Q itself not counted), and the bytes of the regular files among them, as statfs counts
 * bytes. An inode is below Q when one of its names is (core/ancestry.ts parents); a file with
 * no names left (unlinked, still open) is below nothing: unlink takes it off its quotas.
 *
 * Every change of an inode's usage or of where it is charges the difference here: creating
 * (+1 inode), removing (−1), size changes (±bytes), rename across quota boundaries (the inode,
 * or a directory's whole subtree, leaves the quotas only on the old path and joins those only
 * on the new one). Growth past a limit is EDQUOT and the operation changes nothing.
 */

export interface Usage { bytes: number; inodes: number }

/** The volume's quota directories (cached per operation; empty on a volume without quotas). */
export function quotaDirs(op: Op): Promise<Set<number>> {
  return (op.quotaDirs ??= op.tx.quotaDirs().then((dirs) => new Set(dirs)));
}

/** What one inode counts in its quotas. */
export function usageOf(rec: InodeRec): Usage {
  return { bytes: rec.type === 'file' ? rec.size : 0, inodes: 1 };
}

/** Quota directories on the chain from `dir` (itself included) up to the root. */
export async function chainQuotas(op: Op, dir: number, out: Set<number> = new Set()): Promise<Set<number>> {
  const q = await quotaDirs(op);
  if (q.size === 0) return out;
  let cur: number | undefined = dir;
  for (let depth = 0; cur !== undefined && depth < QUOTA_DEFAULTS.maxDepth; depth++) {
    if (q.has(cur)) out.add(cur);
    if (cur === ROOT_INO) break;
    cur = (await op.get(cur))?.parent;
  }
  return out;
}

/** The quotas that charge `rec` now: those above any of its names (none once it has no names). */
export async function quotasOf(op: Op, rec: InodeRec): Promise<Set<number>> {
  const out = new Set<number>();
  if ((await quotaDirs(op)).size === 0 || rec.ino === ROOT_INO || rec.parent === undefined || rec.nlink === 0) return out;
  await chainQuotas(op, rec.parent, out);
  if (rec.type !== 'dir') for (const [dir] of (await op.tx.getLinkParents(rec.ino)) ?? []) await chainQuotas(op, dir, out);
  return out;
}

/** Add `u` (negative: remove) to each quota of `dirs`; growth past a limit is EDQUOT. */
export async function charge(op: Op, dirs: Iterable<number>, u: Usage): Promise<void> {
  if (u.bytes === 0 && u.inodes === 0) return;
  for (const dir of dirs) {
    const rec = await op.tx.getQuota(dir);
    if (!rec) continue;
    if (u.bytes > 0 && rec.limitBytes > 0 && rec.usedBytes + u.bytes > rec.limitBytes) {
      throw new FsError('EDQUOT', `directory quota reached: ${rec.usedBytes + u.bytes} bytes of ${rec.limitBytes}`);
    }
    if (u.inodes > 0 && rec.limitInodes > 0 && rec.usedInodes + u.inodes > rec.limitInodes) {
      throw new FsError('EDQUOT', `directory quota reached: ${rec.usedInodes + u.inodes} inodes of ${rec.limitInodes}`);
    }
    op.tx.putQuota(dir, { ...rec, usedBytes: rec.usedBytes + u.bytes, usedInodes: rec.usedInodes + u.inodes });
  }
}

const neg = (u: Usage): Usage => ({ bytes: -u.bytes, inodes: -u.inodes });

/** Usage `u` moves from the quotas `before` to the quotas `after` (only the difference changes). */
export async function move(op: Op, before: Set<number>, after: Set<number>, u: Usage): Promise<void> {
  await charge(op, [...before].filter((d) => !after.has(d)), neg(u));
  await charge(op, [...after].filter((d) => !before.has(d)), u);
}

export const sameSet = (a: Set<number>, b: Set<number>): boolean => a.size === b.size && [...a].every((x) => b.has(x));

/**
 * Everything a directory holds, itself included, for a rename across quota boundaries: its own
 * quota's usage when it has one, else counted inside the transaction up to
 * QUOTA_DEFAULTS.renameWalkInodes inodes, past which the rename is EXDEV (mv copies instead).
 */
export async function subtreeUsage(op: Op, dir: InodeRec): Promise<Usage> {
  if ((await quotaDirs(op)).has(dir.ino)) {
    const q = await op.tx.getQuota(dir.ino);
    if (q) return { bytes: q.usedBytes, inodes: q.usedInodes + 1 };
  }
  const u = await walkUsage(op.tx, dir.ino, QUOTA_DEFAULTS.renameWalkInodes);
  if (!u) throw new FsError('EXDEV', `directory holds over ${QUOTA_DEFAULTS.renameWalkInodes} inodes: too many to move between directory quotas in one step (mv copies it)`);
  return { bytes: u.bytes, inodes: u.inodes + 1 };
}

/**
 * The usage below `dir` (itself not counted; hard-linked inodes once), or null past `max` inodes.
 * Reads through the transaction, so it is exact at its commit.
 */
export async function walkUsage(tx: Op['tx'], dir: number, max: number): Promise<Usage | null> {
  const seen = new Set<number>();
  const u: Usage = { bytes: 0, inodes: 0 };
  const dirs = [dir];
  for (let d = dirs.pop(); d !== undefined; d = dirs.pop()) {
    await tx.dirEmpty(d); // recorded (redis): a name added or removed meanwhile retries the transaction
    for (let after: string | undefined; ;) {
      const page = await tx.listEntries(d, after, QUOTA_DEFAULTS.walkPageEntries);
      const recs = await tx.getInodes(page.map((e) => e.ino));
      for (const r of recs) {
        if (!r || seen.has(r.ino)) continue;
        seen.add(r.ino);
        if (r.type !== 'dir' && r.parent === undefined) continue; // parents unknown: below no quota (ancestry.ts)
        if (++u.inodes > max) return null;
        if (r.type === 'file') u.bytes += r.size;
        if (r.type === 'dir') dirs.push(r.ino);
      }
      if (page.length < QUOTA_DEFAULTS.walkPageEntries) break;
      after = page[page.length - 1].name;
    }
  }
  return u;
}

/** The quota nearest `ino` (itself, for a quota directory), for statfs; null: none. */
export async function nearestQuota(op: Op, ino: number): Promise<QuotaRec | null> {
  const q = await quotaDirs(op);
  if (q.size === 0) return null;
  const rec = await op.get(ino);
  if (!rec) return null;
  let cur: number | undefined = rec.type === 'dir' ? rec.ino : rec.parent;
  for (let depth = 0; cur !== undefined && depth < QUOTA_DEFAULTS.maxDepth; depth++) {
    if (q.has(cur)) return op.tx.getQuota(cur);
    if (cur === ROOT_INO) break;
    cur = (await op.get(cur))?.parent;
  }
  return null;
}
