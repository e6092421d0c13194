import { createHash, randomBytes } from 'node:crypto';
import { FsError } from '../../errors/index.js';
import type { VolumeSpec, VolumeUpdate } from '../engine.js';
import { ROOT_INO, type VolumeSettings } from '../types.js';
import { nowNs } from './rules.js';
import type { InodeRec, LinkParents } from './tx.js';
import { VOLUME_DEFAULTS } from '../../config/defaults.js';

/** Rules shared by the engines' admin side: volume specs, token secrets, namespace checks. */

export const DEFAULT_BLOCK_SIZE = VOLUME_DEFAULTS.blockSize;
export const MIN_BLOCK_SIZE = 256 * 1024;
export const MAX_BLOCK_SIZE = 8 * 1024 * 1024;
export const DEFAULT_RETENTION_SECONDS = VOLUME_DEFAULTS.retentionSeconds;
export const VOLUME_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface StoredVolume {
  settings: VolumeSettings;
  capacityBytes: number;
  inodeLimit: number;
  createdAt: number;
}

/** Validate a spec and turn it into stored settings with a fresh id. Errors name the bad field. */
export function buildVolume(spec: VolumeSpec): StoredVolume {
  if (!spec || typeof spec !== 'object') throw new FsError('EINVAL', 'volume spec missing');
  if (typeof spec.name !== 'string' || !VOLUME_NAME_RE.test(spec.name)) {
    throw new FsError('EINVAL', 'volume name must be 1-128 characters of letters, digits, ".", "_", "-", starting with a letter or digit');
  }
  const blockSize = spec.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(blockSize) || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || (blockSize & (blockSize - 1)) !== 0) {
    throw new FsError('EINVAL', `block size ${blockSize} must be a power of two from 256 KiB to 8 MiB`);
  }
  const compression = spec.compression ?? 'lz4';
  if (compression !== 'lz4' && compression !== 'none') throw new FsError('EINVAL', `compression must be "lz4" or "none", not "${String(compression)}"`);
  const url = spec.blockStore?.url;
  if (typeof url !== 'string' || !/^(file|s3):\/\/./.test(url)) throw new FsError('EINVAL', 'blockStore.url must be a file:// or s3:// URL');
  const retentionSeconds = spec.retentionSeconds ?? DEFAULT_RETENTION_SECONDS;
  if (!Number.isInteger(retentionSeconds) || retentionSeconds < 0) throw new FsError('EINVAL', 'retentionSeconds must be an integer ≥ 0');
  const capacityBytes = spec.capacityBytes ?? 0;
  if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 0) throw new FsError('EINVAL', 'capacityBytes must be an integer ≥ 0');
  const inodeLimit = spec.inodeLimit ?? 0;
  if (!Number.isSafeInteger(inodeLimit) || inodeLimit < 0) throw new FsError('EINVAL', 'inodeLimit must be an integer ≥ 0');
  if (spec.proxies !== undefined && (!Array.isArray(spec.proxies) || spec.proxies.some((p) => typeof p !== 'string' || !/^[^\s/]+:\d+$/.test(p)))) {
    throw new FsError('EINVAL', 'proxies must be a list of host:port');
  }
  if (spec.encryption !== undefined) {
    const e = spec.encryption;
    if (e.kdf !== 'scrypt' || !e.salt || !e.wrappedKey || !e.verifier) throw new FsError('EINVAL', 'encryption params incomplete');
  }
  const settings: VolumeSettings = {
    id: randomBytes(8).toString('hex'), name: spec.name, blockSize, compression,
    blockStore: { ...spec.blockStore }, retentionSeconds,
  };
  // Every new E2E volume encrypts its names too (the format flag; older volumes lack it).
  if (spec.encryption) { settings.encryption = { ...spec.encryption }; settings.nameEncryption = 1; }
  if (spec.proxies) settings.proxies = [...spec.proxies];
  return { settings, capacityBytes, inodeLimit, createdAt: Date.now() };
}

const UPDATABLE = new Set(['capacityBytes', 'inodeLimit', 'retentionSeconds', 'proxies', 'sse']);

/**
 * A stored volume with `update` applied (a new object); errors name the bad field. Block size,
 * compression, encryption and the store stay as the volume was created: its blocks are stored
 * that way (a new volume and a copy change them).
 */
export function applyVolumeUpdate(v: StoredVolume, update: VolumeUpdate): StoredVolume {
  if (!update || typeof update !== 'object') throw new FsError('EINVAL', 'volume update missing');
  const fixed = Object.keys(update).filter((k) => !UPDATABLE.has(k));
  if (fixed.length) {
    throw new FsError('EINVAL', `${fixed.join(', ')} cannot change on an existing volume (only capacityBytes, inodeLimit, retentionSeconds, proxies, sse can): ` +
      'block size, compression, encryption and the block store are how its blocks are stored; create a new volume and copy the files');
  }
  const out: StoredVolume = { ...v, settings: { ...v.settings, blockStore: { ...v.settings.blockStore } } };
  const count = (name: string, n: unknown) => {
    if (!Number.isSafeInteger(n) || (n as number) < 0) throw new FsError('EINVAL', `${name} must be an integer ≥ 0`);
    return n as number;
  };
  if (update.capacityBytes !== undefined) out.capacityBytes = count('capacityBytes', update.capacityBytes);
  if (update.inodeLimit !== undefined) out.inodeLimit = count('inodeLimit', update.inodeLimit);
  if (update.retentionSeconds !== undefined) out.settings.retentionSeconds = count('retentionSeconds', update.retentionSeconds);
  if (update.proxies !== undefined) {
    if (!Array.isArray(update.proxies) || update.proxies.some((p) => typeof p !== 'string' || !/^[^\s/]+:\d+$/.test(p))) {
      throw new FsError('EINVAL', 'proxies must be a list of host:port');
    }
    if (update.proxies.length) out.settings.proxies = [...update.proxies];
    else delete out.settings.proxies;
  }
  if (update.sse !== undefined) {
    if (typeof update.sse !== 'boolean') throw new FsError('EINVAL', 'sse must be true or false');
    if (update.sse) out.settings.blockStore.sse = true;
    else delete out.settings.blockStore.sse;
  }
  return out;
}

/** A non-directory's `parent` and link-parents record name the directories its names are in. */
function checkParents(r: InodeRec, dirs: number[], extra: LinkParents | undefined, problems: string[]): void {
  if (r.parent === undefined) {
    // made before parents were kept: unknown, and nothing may claim otherwise
    if (extra) problems.push(`inode ${r.ino} has a link-parents record but no parent`);
    return;
  }
  if (dirs.length === 0) {
    if (extra) problems.push(`unlinked inode ${r.ino} still has a link-parents record`);
    return;
  }
  const want = [...dirs].sort((a, b) => a - b);
  const have = [r.parent, ...(extra ?? []).flatMap(([d, n]) => Array<number>(n).fill(d))].sort((a, b) => a - b);
  if (want.join(',') !== have.join(',')) problems.push(`inode ${r.ino} parents [${have.join(', ')}] but its names are in [${want.join(', ')}]`);
}

export function rootInode(): InodeRec {
  const now = nowNs();
  // World-writable like other network filesystems' roots, so a fresh volume is usable by anyone.
  return {
    ino: ROOT_INO, type: 'dir', mode: 0o040777, uid: 0, gid: 0, nlink: 2, size: 0, rdev: 0,
    atime: now, mtime: now, ctime: now, btime: now, generation: 1, parent: ROOT_INO,
  };
}

export function newTokenSecret(): { id: string; secret: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { id: randomBytes(6).toString('hex'), secret, hash: hashSecret(secret) };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(String(secret)).digest('hex');
}

export function newSessionId(): string {
  return randomBytes(12).toString('base64url');
}

/** Everything checkNamespace looks at, streamed or in memory. */
export interface NamespaceSnapshot {
  inodes: Iterable<InodeRec>;
  entries: Iterable<{ parent: number; name: string; ino: number }>;
  /** ino → total holds */
  holds: Map<number, number>;
  counters: { inodes: number; usedBytes: number };
  /** ino → link-parents record (core/ancestry.ts); absent: not checked. */
  linkParents?: Map<number, LinkParents>;
}

/** Dangling entries, wrong nlink, orphan inodes, wrong parent pointers, counter drift. */
export function checkNamespaceSnapshot(s: NamespaceSnapshot): string[] {
  const problems: string[] = [];
  const inodes = new Map<number, InodeRec>();
  for (const r of s.inodes) inodes.set(r.ino, r);
  const links = new Map<number, number>();
  const subdirs = new Map<number, number>();
  const dirParent = new Map<number, number>();
  const nameDirs = new Map<number, number[]>(); // non-directories: the directory of each name
  for (const e of s.entries) {
    const r = inodes.get(e.ino);
    const p = inodes.get(e.parent);
    if (!p) problems.push(`entry "${e.name}" in missing directory ${e.parent}`);
    else if (p.type !== 'dir') problems.push(`entry "${e.name}" in non-directory ${e.parent}`);
    if (!r) { problems.push(`dangling entry "${e.name}" in ${e.parent} → missing inode ${e.ino}`); continue; }
    links.set(e.ino, (links.get(e.ino) ?? 0) + 1);
    if (r.type === 'dir') {
      subdirs.set(e.parent, (subdirs.get(e.parent) ?? 0) + 1);
      if (dirParent.has(e.ino)) problems.push(`directory ${e.ino} has more than one name`);
      dirParent.set(e.ino, e.parent);
    } else {
      nameDirs.set(e.ino, [...(nameDirs.get(e.ino) ?? []), e.parent]);
    }
  }
  let usedBytes = 0;
  for (const r of inodes.values()) {
    if (r.type === 'file') usedBytes += r.size;
    const n = links.get(r.ino) ?? 0;
    if (r.type === 'dir') {
      const want = 2 + (subdirs.get(r.ino) ?? 0);
      if (r.nlink !== want) problems.push(`directory ${r.ino} has nlink ${r.nlink}, expected ${want}`);
      if (r.ino !== ROOT_INO) {
        if (n === 0) problems.push(`orphan directory ${r.ino}`);
        else if (r.parent !== dirParent.get(r.ino)) problems.push(`directory ${r.ino} parent pointer ${r.parent} but it is named in ${dirParent.get(r.ino)}`);
      }
    } else {
      if (r.nlink !== n) problems.push(`inode ${r.ino} has nlink ${r.nlink}, expected ${n}`);
      if (n === 0 && !(s.holds.get(r.ino) ?? 0)) problems.push(`orphan inode ${r.ino} (no names, not open)`);
      if (s.linkParents) checkParents(r, nameDirs.get(r.ino) ?? [], s.linkParents.get(r.ino), problems);
    }
  }
  for (const ino of s.linkParents?.keys() ?? []) {
    if (!inodes.has(ino)) problems.push(`link-parents record of missing inode ${ino}`);
  }
  if (!inodes.has(ROOT_INO)) problems.push('root directory missing');
  if (s.counters.inodes !== inodes.size) problems.push(`inode counter ${s.counters.inodes}, actual ${inodes.size}`);
  if (s.counters.usedBytes !== usedBytes) problems.push(`used-bytes counter ${s.counters.usedBytes}, actual ${usedBytes}`);
  return problems;
}
