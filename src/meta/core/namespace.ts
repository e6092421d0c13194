import { FsError } from '../../errors/index.js';
import { ROOT_INO, type Attr, type InodeType, type OpContext } from '../types.js';
import { S_ISGID, S_ISVTX } from '../../util/mode.js';
import { LINK_MAX, checkInt, checkName, checkTarget, toAttr, typeBits, typeOfMode } from './rules.js';
import { freeInode } from './data.js';
import { addName, dropName, moveName } from './ancestry.js';
import { sessionOf, type Op } from './op.js';
import type { InodeRec } from './tx.js';

/**
 * The namespace rules for names: making inodes (mknod, create, mkdir, symlink, link), removing
 * names (unlink, rmdir) and rename (noReplace, exchange). EEXIST/ENOTEMPTY/ENOTDIR/EISDIR/EINVAL,
 * the sticky bit, setgid inheritance, nlink and directory times are decided here.
 */

/** Sticky directories: only the owner of the entry, of the directory, or root may remove/rename it. */
function checkSticky(dir: InodeRec, victim: InodeRec, ctx: OpContext): void {
  if ((dir.mode & S_ISVTX) && ctx.uid !== 0 && ctx.uid !== dir.uid && ctx.uid !== victim.uid) {
    throw new FsError('EPERM', 'sticky directory: not the owner');
  }
}

// ---------------------------------------------------------------- creating

async function makeNode(op: Op, ctx: OpContext, parent: number, name: string, type: InodeType, perm: number,
  extra: { rdev?: number; target?: string; size?: number } = {}): Promise<InodeRec> {
  checkName(name, op.sealed);
  const dir = await op.dir(parent);
  if (dir.nlink === 0) throw new FsError('ENOENT', 'directory was removed');
  if ((await op.tx.getEntry(parent, name)) !== null) throw new FsError('EEXIST', 'entry exists');
  if (op.inodeLimit > 0 && (await op.tx.getCounter('inodes')) >= op.inodeLimit) throw new FsError('ENOSPC', 'inode limit reached');
  const ino = await op.tx.allocIno();
  let mode = perm & 0o7777;
  let gid = ctx.gid;
  // setgid directories: new inodes take the directory's group, new subdirectories stay setgid.
  if (dir.mode & S_ISGID) {
    gid = dir.gid;
    if (type === 'dir') mode |= S_ISGID;
  }
  const rec: InodeRec = {
    ino, type, mode: typeBits(type) | mode, uid: ctx.uid, gid, nlink: type === 'dir' ? 2 : 1,
    size: extra.size ?? 0, rdev: extra.rdev ?? 0, atime: op.now, mtime: op.now, ctime: op.now, btime: op.now,
    generation: 1, parent,
  };
  if (extra.target !== undefined) rec.target = extra.target;
  op.add(rec);
  op.tx.putEntry(parent, name, ino);
  if (type === 'dir') dir.nlink++;
  op.touchDir(dir);
  op.tx.addCounter('inodes', 1);
  return rec;
}

export async function mknod(op: Op, parent: number, name: string, mode: number, rdev: number, ctx: OpContext): Promise<Attr> {
  const type = typeOfMode(checkInt(mode, 'mode'));
  if (type === null || type === 'dir' || type === 'symlink') throw new FsError('EINVAL', 'mknod: mode must be a regular file, FIFO, device or socket');
  const dev = type === 'chr' || type === 'blk' ? checkInt(rdev, 'rdev') : 0;
  return toAttr(await makeNode(op, ctx, parent, name, type, mode, { rdev: dev }));
}

/** A regular file; `open` also takes a hold on it for the caller's session (create-and-open). */
export async function create(op: Op, parent: number, name: string, mode: number, ctx: OpContext, open?: boolean): Promise<Attr> {
  const rec = await makeNode(op, ctx, parent, name, 'file', checkInt(mode, 'mode'));
  if (open) op.tx.addHold(rec.ino, sessionOf(ctx), 1);
  return toAttr(rec);
}

export async function mkdir(op: Op, parent: number, name: string, mode: number, ctx: OpContext): Promise<Attr> {
  return toAttr(await makeNode(op, ctx, parent, name, 'dir', checkInt(mode, 'mode')));
}

export async function symlink(op: Op, parent: number, name: string, target: string, ctx: OpContext): Promise<Attr> {
  const len = checkTarget(target, op.sealed);
  return toAttr(await makeNode(op, ctx, parent, name, 'symlink', 0o777, { target, size: len }));
}

export async function link(op: Op, ino: number, newParent: number, newName: string): Promise<Attr> {
  checkName(newName, op.sealed);
  const r = await op.must(ino);
  if (r.type === 'dir') throw new FsError('EPERM', 'cannot hard-link a directory');
  if (r.nlink === 0) throw new FsError('ENOENT', 'inode was unlinked');
  if (r.nlink >= LINK_MAX) throw new FsError('EMLINK', 'too many links');
  const dir = await op.dir(newParent);
  if (dir.nlink === 0) throw new FsError('ENOENT', 'directory was removed');
  if ((await op.tx.getEntry(newParent, newName)) !== null) throw new FsError('EEXIST', 'entry exists');
  op.tx.putEntry(newParent, newName, ino);
  await addName(op, r, newParent);
  r.nlink++;
  r.ctime = op.now;
  op.touch(r);
  op.touchDir(dir);
  return toAttr(r);
}

// ---------------------------------------------------------------- removing

/** One name (in `dir`) fewer for a non-directory; the last one frees it unless a session holds it open. */
async function dropLink(op: Op, r: InodeRec, dir: number): Promise<void> {
  await dropName(op, r, dir);
  r.nlink = Math.max(0, r.nlink - 1);
  r.ctime = op.now;
  op.touch(r);
  if (r.nlink === 0 && (await op.tx.holdCount(r.ino)) === 0) await freeInode(op, r);
}

function removeDir(op: Op, parent: InodeRec, r: InodeRec): void {
  op.drop(r.ino);
  parent.nlink--;
  op.touchDir(parent);
  op.tx.addCounter('inodes', -1);
}

export async function unlink(op: Op, parent: number, name: string, ctx: OpContext): Promise<void> {
  checkName(name, op.sealed);
  const dir = await op.dir(parent);
  const ino = await op.tx.getEntry(parent, name);
  if (ino === null) throw new FsError('ENOENT', 'no such entry');
  const r = await op.must(ino);
  if (r.type === 'dir') throw new FsError('EISDIR', 'is a directory (use rmdir)');
  checkSticky(dir, r, ctx);
  op.tx.delEntry(parent, name);
  op.touchDir(dir);
  await dropLink(op, r, parent);
}

export async function rmdir(op: Op, parent: number, name: string, ctx: OpContext): Promise<void> {
  if (name === '.') throw new FsError('EINVAL', 'cannot remove "."');
  if (name === '..') throw new FsError('ENOTEMPTY', 'cannot remove ".."');
  checkName(name, op.sealed);
  const dir = await op.dir(parent);
  const ino = await op.tx.getEntry(parent, name);
  if (ino === null) throw new FsError('ENOENT', 'no such entry');
  const r = await op.must(ino);
  if (r.type !== 'dir') throw new FsError('ENOTDIR', 'not a directory');
  if (!(await op.tx.dirEmpty(ino))) throw new FsError('ENOTEMPTY', 'directory not empty');
  checkSticky(dir, r, ctx);
  op.tx.delEntry(parent, name);
  removeDir(op, dir, r);
}

// ---------------------------------------------------------------- rename

/** True when `ino` is `dir` or one of its ancestors (walks parent pointers up to the root). */
async function isAncestorOrSelf(op: Op, ino: number, dir: number): Promise<boolean> {
  let cur = dir;
  for (let depth = 0; depth < 1_000_000; depth++) {
    if (cur === ino) return true;
    if (cur === ROOT_INO) return false;
    const r = await op.must(cur);
    cur = r.parent ?? ROOT_INO;
  }
  throw new FsError('EIO', 'directory parent chain does not reach the root');
}

export async function rename(op: Op, parent: number, name: string, newParent: number, newName: string, ctx: OpContext,
  flags: { noReplace?: boolean; exchange?: boolean }): Promise<void> {
  checkName(name, op.sealed);
  checkName(newName, op.sealed);
  if (flags.noReplace && flags.exchange) throw new FsError('EINVAL', 'noReplace and exchange together');
  const pdir = await op.dir(parent);
  const ndir = await op.dir(newParent);
  const a = await op.tx.getEntry(parent, name);
  if (a === null) throw new FsError('ENOENT', 'no such entry');
  const ar = await op.must(a);
  const b = await op.tx.getEntry(newParent, newName);
  if (flags.exchange) {
    if (b === null) throw new FsError('ENOENT', 'exchange target does not exist');
  } else if (b !== null && flags.noReplace) {
    throw new FsError('EEXIST', 'target exists');
  }
  if (b === a) return; // same entry or a hard link of the same inode: nothing to do
  if (ndir.nlink === 0) throw new FsError('ENOENT', 'directory was removed');
  if (ar.type === 'dir' && (await isAncestorOrSelf(op, a, newParent))) {
    throw new FsError('EINVAL', 'cannot move a directory into its own subtree');
  }
  checkSticky(pdir, ar, ctx);
  const br = b === null ? null : await op.must(b);

  if (flags.exchange) {
    const bx = br!;
    if (bx.type === 'dir' && (await isAncestorOrSelf(op, bx.ino, parent))) {
      throw new FsError('EINVAL', 'cannot move a directory into its own subtree');
    }
    checkSticky(ndir, bx, ctx);
    op.tx.putEntry(parent, name, bx.ino);
    op.tx.putEntry(newParent, newName, ar.ino);
    if (parent !== newParent) {
      if (ar.type === 'dir') { ar.parent = newParent; pdir.nlink--; ndir.nlink++; }
      if (bx.type === 'dir') { bx.parent = parent; ndir.nlink--; pdir.nlink++; }
      await moveName(op, ar, parent, newParent);
      await moveName(op, bx, newParent, parent);
    }
    ar.ctime = op.now; op.touch(ar);
    bx.ctime = op.now; op.touch(bx);
    op.touchDir(pdir); op.touchDir(ndir);
    return;
  }

  if (br) {
    if (ar.type === 'dir' && br.type !== 'dir') throw new FsError('ENOTDIR', 'target is not a directory');
    if (ar.type !== 'dir' && br.type === 'dir') throw new FsError('EISDIR', 'target is a directory');
    if (br.type === 'dir' && !(await op.tx.dirEmpty(br.ino))) throw new FsError('ENOTEMPTY', 'target directory not empty');
    checkSticky(ndir, br, ctx);
  }
  op.tx.delEntry(parent, name);
  op.tx.putEntry(newParent, newName, a);
  if (br) {
    if (br.type === 'dir') removeDir(op, ndir, br);
    else await dropLink(op, br, newParent);
  }
  await moveName(op, ar, parent, newParent);
  if (ar.type === 'dir' && parent !== newParent) {
    ar.parent = newParent;
    pdir.nlink--;
    ndir.nlink++;
  }
  ar.ctime = op.now;
  op.touch(ar);
  op.touchDir(pdir);
  op.touchDir(ndir);
}
