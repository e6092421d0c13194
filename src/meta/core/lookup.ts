import { FsError } from '../../errors/index.js';
import { ROOT_INO, type Attr, type DirPage, type StatFs } from '../types.js';
import { checkName, toAttr } from './rules.js';
import type { Op } from './op.js';
import { nearestQuota } from './quota.js';

/** Read-only namespace operations: lookup, getattr, readlink, readdir pages, statfs. */

export async function lookup(op: Op, parent: number, name: string): Promise<Attr> {
  const dir = await op.dir(parent);
  if (name === '.') return toAttr(dir);
  if (name === '..') return toAttr(await op.must(dir.parent ?? ROOT_INO));
  checkName(name, op.sealed);
  const ino = await op.tx.getEntry(parent, name);
  if (ino === null) throw new FsError('ENOENT', 'no such entry');
  return toAttr(await op.must(ino));
}

export async function getattr(op: Op, ino: number): Promise<Attr> {
  return toAttr(await op.must(ino));
}

export async function readlink(op: Op, ino: number): Promise<string> {
  const r = await op.must(ino);
  if (r.type !== 'symlink') throw new FsError('EINVAL', `inode ${ino} is not a symlink`);
  return r.target ?? '';
}

/** Up to `limit` entries after `cursor`; `next` is set when more follow. */
export async function readdir(op: Op, ino: number, cursor: string | undefined, limit: number): Promise<DirPage> {
  await op.dir(ino);
  const list = await op.tx.listEntries(ino, cursor || undefined, limit + 1);
  const more = list.length > limit;
  const page = more ? list.slice(0, limit) : list;
  const recs = await op.tx.getInodes(page.map((e) => e.ino));
  const entries = [];
  for (let i = 0; i < page.length; i++) {
    const r = recs[i];
    if (r) entries.push({ name: page[i].name, attr: toAttr(r) });
  }
  return more ? { entries, next: page[page.length - 1].name } : { entries };
}

export async function statfs(op: Op, ino?: number): Promise<StatFs> {
  const volume: StatFs = {
    blockSize: op.blockSize,
    usedBytes: await op.tx.getCounter('usedBytes'),
    capacityBytes: op.capacityBytes,
    inodes: await op.tx.getCounter('inodes'),
    inodeLimit: op.inodeLimit,
  };
  const q = ino === undefined ? null : await nearestQuota(op, ino);
  if (!q) return volume;
  // like XFS project quotas and JuiceFS: df inside a quota directory shows the quota
  const out = { ...volume };
  if (q.limitBytes > 0) { out.capacityBytes = q.limitBytes; out.usedBytes = q.usedBytes; }
  if (q.limitInodes > 0) { out.inodeLimit = q.limitInodes; out.inodes = q.usedInodes; }
  return out;
}
