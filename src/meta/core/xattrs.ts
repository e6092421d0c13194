import { FsError } from '../../errors/index.js';
import { XATTR_CREATE, XATTR_REPLACE } from '../types.js';
import { checkXattrName, checkXattrValue } from './rules.js';
import type { Op } from './op.js';

/** Extended attributes: get, set (XATTR_CREATE / XATTR_REPLACE), list, remove; changes bump ctime. */

export async function getxattr(op: Op, ino: number, name: string): Promise<Buffer> {
  await op.must(ino);
  checkXattrName(name, op.sealed);
  const v = await op.tx.getXattr(ino, name);
  if (v === null) throw new FsError('ENODATA', 'no such attribute');
  return v;
}

export async function setxattr(op: Op, ino: number, name: string, value: Buffer, flags: number): Promise<void> {
  const r = await op.must(ino);
  checkXattrName(name, op.sealed);
  if (!Buffer.isBuffer(value)) throw new FsError('EINVAL', 'xattr value must be bytes');
  checkXattrValue(value, op.sealed);
  if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0 || flags === (XATTR_CREATE | XATTR_REPLACE)) {
    throw new FsError('EINVAL', 'bad xattr flags');
  }
  const cur = await op.tx.getXattr(ino, name);
  if (flags & XATTR_CREATE && cur !== null) throw new FsError('EEXIST', 'attribute exists');
  if (flags & XATTR_REPLACE && cur === null) throw new FsError('ENODATA', 'no such attribute');
  op.tx.setXattr(ino, name, Buffer.from(value));
  r.ctime = op.now;
  op.touch(r);
}

export async function listxattr(op: Op, ino: number): Promise<string[]> {
  await op.must(ino);
  return (await op.tx.listXattrs(ino)).sort();
}

export async function removexattr(op: Op, ino: number, name: string): Promise<void> {
  const r = await op.must(ino);
  checkXattrName(name, op.sealed);
  if ((await op.tx.getXattr(ino, name)) === null) throw new FsError('ENODATA', 'no such attribute');
  op.tx.delXattr(ino, name);
  r.ctime = op.now;
  op.touch(r);
}
