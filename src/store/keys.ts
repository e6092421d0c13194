import { StoreError } from './types.js';

/**
 * Object keys. Block objects live at `{volumeId}/blocks/{hh}/{ino}_{index}_{blockId}` under the
 * store's own prefix (DESIGN §3; the `s3://bucket/prefix` part is added by the store). `hh` is a
 * 2-hex-digit shard, FNV-1a (32-bit) of the decimal block id modulo 256, so keys spread over 256
 * key ranges (S3 partitions by key prefix) while a listing of one volume stays one prefix.
 */
export function blockKey(volumeId: string, ino: number, index: number, blockId: number): string {
  validateVolumeId(volumeId);
  for (const [name, v] of [['ino', ino], ['index', index], ['blockId', blockId]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`blockKey: ${name} must be a non-negative integer, got ${v}`);
  }
  return `${volumeId}/blocks/${blockShard(blockId)}/${ino}_${index}_${blockId}`;
}

/** The 2-hex shard folder of a block id. */
export function blockShard(blockId: number): string {
  return (fnv1a32(String(blockId)) & 0xff).toString(16).padStart(2, '0');
}

/** Prefix of all block objects of a volume (for gc/fsck listings). */
export function volumeBlocksPrefix(volumeId: string): string {
  validateVolumeId(volumeId);
  return `${volumeId}/blocks/`;
}

/** Inverse of blockKey for keys found by listing; null for keys that are not block objects. */
export function parseBlockKey(key: string): { volumeId: string; ino: number; index: number; blockId: number } | null {
  const m = /^([^/]+)\/blocks\/([0-9a-f]{2})\/(\d+)_(\d+)_(\d+)$/.exec(key);
  if (!m) return null;
  const [ino, index, blockId] = [Number(m[3]), Number(m[4]), Number(m[5])];
  if (![ino, index, blockId].every(Number.isSafeInteger) || blockShard(blockId) !== m[2]) return null;
  return { volumeId: m[1], ino, index, blockId };
}

function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function validateVolumeId(volumeId: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(volumeId)) throw new Error(`blockKey: invalid volume id "${volumeId}"`);
}

/** Marker in the names of the file store's temporary files; no key segment may contain it. */
export const TEMP_MARKER = '.flexfs-tmp-';

/**
 * Keys every store accepts: relative, '/'-separated, no empty, '.' or '..' segments, no NUL,
 * at most 1024 bytes. Throws StoreError('InvalidRequest') naming the problem (the key itself is not a secret).
 */
export function validateKey(key: string): void {
  const bad = (msg: string) => new StoreError('InvalidRequest', msg, { key: typeof key === 'string' ? key : undefined });
  if (typeof key !== 'string' || key.length === 0) throw bad('object key is empty');
  if (Buffer.byteLength(key) > 1024) throw bad(`object key is longer than 1024 bytes: "${key.slice(0, 64)}…"`);
  if (key.includes('\0')) throw bad(`object key contains a NUL byte: ${JSON.stringify(key)}`);
  if (key.startsWith('/')) throw bad(`object key must be relative, not absolute: "${key}"`);
  for (const seg of key.split('/')) {
    if (seg === '') throw bad(`object key has an empty path segment: "${key}"`);
    if (seg === '.' || seg === '..') throw bad(`object key has a "${seg}" segment: "${key}"`);
    if (seg.includes(TEMP_MARKER)) throw bad(`object key contains the reserved "${TEMP_MARKER}": "${key}"`);
  }
}
