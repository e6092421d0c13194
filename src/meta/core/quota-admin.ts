import { FsError } from '../../errors/index.js';
import { ROOT_INO } from '../types.js';
import { QUOTA_DEFAULTS } from '../../config/defaults.js';
import { checkName } from './rules.js';
import { walkUsage } from './quota.js';
import type { MetaTx, QuotaRec } from './tx.js';

/**
 * `meta.flexfs quota set|get|list|delete VOL PATH`: quota records by path, each call one
 * transaction over the volume's records (MetaEngine transactRecords). `set` counts the
 * directory's subtree inside that transaction, so the usage it stores is exact at its commit:
 * every later change is charged by core/quota.ts.
 */

export interface QuotaReport {
  path: string;
  ino: number;
  limits: { bytes: number; inodes: number };
  usage: { bytes: number; inodes: number };
}

export interface QuotaLimits { bytes?: number; inodes?: number }

const report = (path: string, ino: number, q: QuotaRec): QuotaReport => ({
  path, ino, limits: { bytes: q.limitBytes, inodes: q.limitInodes }, usage: { bytes: q.usedBytes, inodes: q.usedInodes },
});

/** The directory at `path` (absolute, in the volume); errors name the missing part. */
export async function resolveDir(tx: MetaTx, path: string): Promise<number> {
  if (typeof path !== 'string' || !path.startsWith('/')) throw new FsError('EINVAL', `path "${String(path)}" must start with / (the volume's root)`);
  let ino = ROOT_INO;
  let at = '';
  for (const name of path.split('/').filter(Boolean)) {
    checkName(name);
    const next = await tx.getEntry(ino, name);
    if (next === null) throw new FsError('ENOENT', `no such path: ${path} (no "${name}" in ${at || '/'})`);
    ino = next;
    at += `/${name}`;
  }
  const rec = await tx.getInode(ino);
  if (!rec) throw new FsError('ENOENT', `no such path: ${path}`);
  if (rec.type !== 'dir') throw new FsError('ENOTDIR', `${path} is not a directory: quotas are set on directories`);
  return ino;
}

/** The path of directory `ino` (its name found in each parent's listing); null when unreachable. */
export async function pathOf(tx: MetaTx, ino: number): Promise<string | null> {
  const names: string[] = [];
  for (let cur = ino, depth = 0; cur !== ROOT_INO; depth++) {
    const rec = await tx.getInode(cur);
    if (!rec || rec.parent === undefined || depth > QUOTA_DEFAULTS.maxDepth) return null;
    const name = await nameIn(tx, rec.parent, cur);
    if (name === null) return null;
    names.unshift(name);
    cur = rec.parent;
  }
  return '/' + names.join('/');
}

async function nameIn(tx: MetaTx, dir: number, ino: number): Promise<string | null> {
  for (let after: string | undefined; ;) {
    const page = await tx.listEntries(dir, after, QUOTA_DEFAULTS.walkPageEntries);
    const hit = page.find((e) => e.ino === ino);
    if (hit) return hit.name;
    if (page.length < QUOTA_DEFAULTS.walkPageEntries) return null;
    after = page[page.length - 1].name;
  }
}

function checkLimit(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new FsError('EINVAL', `${what} must be a whole number ≥ 0 (0: no limit)`);
  return v as number;
}

/** Set (or change) the limits of `path`; a limit not given stays as it was (0 on a new quota). */
export async function setQuota(tx: MetaTx, path: string, limits: QuotaLimits): Promise<QuotaReport> {
  checkLimits(limits);
  const ino = await resolveDir(tx, path);
  return report(path, ino, await setDirQuota(tx, ino, limits, path));
}

function checkLimits(limits: QuotaLimits): void {
  if (!limits || (limits.bytes === undefined && limits.inodes === undefined)) throw new FsError('EINVAL', 'a quota needs a byte limit, an inode limit or both');
  if (limits.bytes !== undefined) checkLimit(limits.bytes, 'the byte limit');
  if (limits.inodes !== undefined) checkLimit(limits.inodes, 'the inode limit');
}

/** setQuota on a directory given by inode (`what` names it in errors). */
export async function setDirQuota(tx: MetaTx, ino: number, limits: QuotaLimits, what = `directory ${ino}`): Promise<QuotaRec> {
  checkLimits(limits);
  const dir = await tx.getInode(ino);
  if (!dir || dir.type !== 'dir') throw new FsError('ENOTDIR', `${what} is not a directory`);
  const old = await tx.getQuota(ino);
  // counted again even when the quota exists: `set` also repairs a usage that went wrong
  const u = await walkUsage(tx, ino, QUOTA_DEFAULTS.setWalkInodes);
  if (!u) throw new FsError('EINVAL', `${what} holds over ${QUOTA_DEFAULTS.setWalkInodes} inodes: too many to count for a quota in one transaction`);
  const rec: QuotaRec = {
    limitBytes: limits.bytes ?? old?.limitBytes ?? 0, limitInodes: limits.inodes ?? old?.limitInodes ?? 0,
    usedBytes: u.bytes, usedInodes: u.inodes,
  };
  tx.putQuota(ino, rec);
  return rec;
}

export async function getQuota(tx: MetaTx, path: string): Promise<QuotaReport> {
  const ino = await resolveDir(tx, path);
  const q = await tx.getQuota(ino);
  if (!q) throw new FsError('ENOENT', `${path} has no quota`);
  return report(path, ino, q);
}

/** Every quota of the volume, by path (a directory no longer reachable shows as "(ino N)"). */
export async function listQuotas(tx: MetaTx): Promise<QuotaReport[]> {
  const out: QuotaReport[] = [];
  for (const dir of await tx.quotaDirs()) {
    const q = await tx.getQuota(dir);
    if (q) out.push(report((await pathOf(tx, dir)) ?? `(ino ${dir})`, dir, q));
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export async function deleteQuota(tx: MetaTx, path: string): Promise<QuotaReport> {
  const r = await getQuota(tx, path);
  tx.putQuota(r.ino, null);
  return r;
}
