import { ROOT_INO } from '../types.js';
import { Op } from './op.js';
import type { InodeRec, LinkParents, MetaTx } from './tx.js';

/**
 * Which directories an inode is in. A directory has one parent (`InodeRec.parent`). Any other
 * inode has `InodeRec.parent` (the directory of one of its names) and, when hard-linked into
 * more than one place, a link-parents record with the directories of its other names
 * (MetaTx.getLinkParents: dir → how many names there). Together they hold one directory per
 * name, so for a file with nlink n: 1 + the counts = n.
 *
 * Inodes made before parents were kept have no `parent` on non-directories: their parents are
 * unknown and `isWithin` answers false for them (never "inside" by accident). A rename of such a
 * file with one name learns its parent; a hard-linked one stays unknown until a dump and load.
 *
 * Reads take a transaction or an operation (whose inode cache holds what it changed so far).
 */

type Source = MetaTx | Op;

const getInode = (src: Source, ino: number): Promise<InodeRec | null> =>
  (src instanceof Op ? src.get(ino) : src.getInode(ino));
const txOf = (src: Source): MetaTx => (src instanceof Op ? src.tx : src);

/** Deepest directory chain a walk follows before it gives up (a damaged chain must not spin). */
const MAX_DEPTH = 100_000;

/**
 * The distinct directories holding a name of `ino`, `InodeRec.parent` first; [] for the root,
 * a missing inode or one whose parents are unknown (made before parents were kept).
 */
export async function parentsOf(src: Source, ino: number): Promise<number[]> {
  const rec = await getInode(src, ino);
  if (!rec || rec.ino === ROOT_INO || rec.parent === undefined) return [];
  if (rec.type === 'dir') return [rec.parent];
  const out = [rec.parent];
  for (const [dir] of (await txOf(src).getLinkParents(ino)) ?? []) if (!out.includes(dir)) out.push(dir);
  return out;
}

/**
 * True when `ino` is `dirIno` or lies below it: a directory by its parent chain, any other inode
 * when one of its names is in a directory within `dirIno`. False when a chain is broken or the
 * parents are unknown.
 */
export async function isWithin(src: Source, ino: number, dirIno: number): Promise<boolean> {
  if (ino === dirIno) return true;
  const rec = await getInode(src, ino);
  if (!rec) return false;
  if (rec.type === 'dir') return dirWithin(src, rec, dirIno);
  for (const p of await parentsOf(src, ino)) {
    const dir = await getInode(src, p);
    if (dir && dir.type === 'dir' && (await dirWithin(src, dir, dirIno))) return true;
  }
  return false;
}

async function dirWithin(src: Source, dir: InodeRec, dirIno: number): Promise<boolean> {
  let cur: InodeRec | null = dir;
  for (let depth = 0; cur && depth < MAX_DEPTH; depth++) {
    if (cur.ino === dirIno) return true;
    if (cur.ino === ROOT_INO || cur.parent === undefined) return false;
    cur = await getInode(src, cur.parent);
  }
  return false;
}

// ---------------------------------------------------------------- keeping them (namespace.ts)

function bump(list: LinkParents, dir: number, delta: number): LinkParents {
  const out = list.map(([d, n]): [number, number] => [d, d === dir ? n + delta : n]).filter(([, n]) => n > 0);
  if (delta > 0 && !list.some(([d]) => d === dir)) out.push([dir, delta]);
  return out.sort((a, b) => a[0] - b[0]);
}

async function linkParents(op: Op, ino: number): Promise<LinkParents> {
  return (await op.tx.getLinkParents(ino)) ?? [];
}

function store(op: Op, ino: number, list: LinkParents): void {
  op.tx.putLinkParents(ino, list.length ? list : null);
}

/** A new name of the non-directory `rec` in `dir` (link). Unknown parents stay unknown. */
export async function addName(op: Op, rec: InodeRec, dir: number): Promise<void> {
  if (rec.type === 'dir' || rec.parent === undefined) return;
  store(op, rec.ino, bump(await linkParents(op, rec.ino), dir, 1));
}

/**
 * A name of the non-directory `rec` in `dir` goes (unlink, replaced by a rename). The last name
 * leaves `parent` as it was: an unlinked file still open remembers the directory it was in.
 */
export async function dropName(op: Op, rec: InodeRec, dir: number): Promise<void> {
  if (rec.type === 'dir' || rec.parent === undefined || rec.nlink <= 1) return;
  const list = await linkParents(op, rec.ino);
  if (list.some(([d]) => d === dir)) {
    store(op, rec.ino, bump(list, dir, -1));
  } else if (rec.parent === dir && list.length > 0) {
    // the primary name goes: one of the others takes its place
    rec.parent = list[0][0];
    op.touch(rec);
    store(op, rec.ino, bump(list, list[0][0], -1));
  }
}

/** A name of the non-directory `rec` moves from `from` to `to` (rename, exchange). */
export async function moveName(op: Op, rec: InodeRec, from: number, to: number): Promise<void> {
  if (rec.type === 'dir' || from === to) return;
  if (rec.parent === undefined) {
    // made before parents were kept: with one name, where it goes is its one parent
    if (rec.nlink === 1) { rec.parent = to; op.touch(rec); }
    return;
  }
  if (rec.parent === from) {
    rec.parent = to;
    op.touch(rec);
    return;
  }
  const list = await linkParents(op, rec.ino);
  if (list.some(([d]) => d === from)) store(op, rec.ino, bump(bump(list, from, -1), to, 1));
}
