import type { StoredVolume } from '../meta/core/admin.js';
import type { IdCounters, InodeRec } from '../meta/core/tx.js';
import type { GcEntry } from '../meta/engine.js';
import type { BlockRef, InodeType } from '../meta/types.js';

/**
 * The metadata dump format (docs/OPERATIONS.md, "Dump and load"): NDJSON, one record per line,
 * in this order: `header`, `volume`, then `inode` and `entry` records (an inode before the
 * entries of the directory it is), `quota` records (limits only: load counts the usage again),
 * `gc` records, and a closing `end` that counts what came
 * before and carries the volume's counters. A dump without its `end` record is truncated.
 * Times are decimal strings of nanoseconds; xattr values are base64 (binary-safe).
 */

export const DUMP_FORMAT = 'flexfs-meta-dump';
export const DUMP_VERSION = 1;

export interface HeaderRecord { kind: 'header'; format: typeof DUMP_FORMAT; version: number; engine: string; dumpedAt: string }
export interface VolumeRecord { kind: 'volume'; volume: StoredVolume }
export interface InodeRecord {
  kind: 'inode'; ino: number; type: InodeType; mode: number; uid: number; gid: number; nlink: number; size: number;
  rdev: number; atime: string; mtime: string; ctime: string; btime: string; generation: number;
  parent?: number; target?: string;
  /** name → base64 value */
  xattrs?: Record<string, string>;
  /** [index, blockId, length] of every stored slot; missing indexes are holes. */
  blocks?: [number, number, number][];
}
export interface EntryRecord { kind: 'entry'; parent: number; name: string; ino: number }
/** A directory quota's limits (core/quota.ts); its usage is counted again at load. */
export interface QuotaDumpRecord { kind: 'quota'; dir: number; limitBytes: number; limitInodes: number }
export interface GcRecord { kind: 'gc'; blockId: number; ino: number; index: number; queuedAt: number }
/** `quotas`: absent in dumps made before quotas were dumped (read as 0). */
export interface Counts { inodes: number; entries: number; gc: number; quotas?: number }
export interface EndRecord {
  kind: 'end'; counts: Counts;
  counters: IdCounters & { inodes: number; usedBytes: number };
}

export type DumpRecord = HeaderRecord | VolumeRecord | InodeRecord | EntryRecord | QuotaDumpRecord | GcRecord | EndRecord;

export interface InodeData { rec: InodeRec; xattrs: [string, Buffer][]; blocks: BlockRef[] }

export function inodeRecord({ rec, xattrs, blocks }: InodeData): InodeRecord {
  const out: InodeRecord = {
    kind: 'inode', ino: rec.ino, type: rec.type, mode: rec.mode, uid: rec.uid, gid: rec.gid, nlink: rec.nlink,
    size: rec.size, rdev: rec.rdev, atime: String(rec.atime), mtime: String(rec.mtime), ctime: String(rec.ctime),
    btime: String(rec.btime), generation: rec.generation,
  };
  if (rec.parent !== undefined) out.parent = rec.parent;
  if (rec.target !== undefined) out.target = rec.target;
  if (xattrs.length) out.xattrs = Object.fromEntries(xattrs.map(([n, v]) => [n, v.toString('base64')]));
  if (blocks.length) out.blocks = blocks.map((b) => [b.index, b.blockId, b.length]);
  return out;
}

export function gcRecord(e: GcEntry): GcRecord {
  return { kind: 'gc', blockId: e.blockId, ino: e.ino, index: e.index, queuedAt: e.queuedAt };
}

/** A line of the dump that is not what the format says; `line` is 1-based. */
export class DumpFormatError extends Error {
  constructor(line: number, problem: string) {
    super(`dump line ${line}: ${problem}`);
  }
}

const INODE_TYPES: ReadonlySet<string> = new Set(['file', 'dir', 'symlink', 'fifo', 'chr', 'blk', 'sock']);
const KINDS: ReadonlySet<string> = new Set(['header', 'volume', 'inode', 'entry', 'quota', 'gc', 'end']);

/** Parse and check one line: the shape of its record (types of every field), not its place. */
export function parseRecord(text: string, line: number): DumpRecord {
  let v: unknown;
  try { v = JSON.parse(text); } catch { throw new DumpFormatError(line, 'not a JSON record (is the dump corrupt or cut short?)'); }
  const bad = (what: string): never => { throw new DumpFormatError(line, what); };
  if (!v || typeof v !== 'object' || Array.isArray(v)) bad('not a JSON object');
  const r = v as Record<string, unknown>;
  if (typeof r.kind !== 'string' || !KINDS.has(r.kind)) bad(`unknown record kind ${JSON.stringify(r.kind)}`);
  const uint = (name: string, o: Record<string, unknown> = r) => {
    if (!Number.isSafeInteger(o[name]) || (o[name] as number) < 0) bad(`${r.kind} record: "${name}" must be a whole number ≥ 0`);
  };
  const ns = (name: string) => { if (typeof r[name] !== 'string' || !/^-?\d+$/.test(r[name] as string)) bad(`inode record: "${name}" must be nanoseconds as a decimal string`); };
  switch (r.kind) {
    case 'header':
      if (r.format !== DUMP_FORMAT) bad(`not a flexfs metadata dump (format ${JSON.stringify(r.format)})`);
      if (r.version !== DUMP_VERSION) bad(`dump format version ${String(r.version)}; this meta.flexfs reads version ${DUMP_VERSION} (use the release that wrote it)`);
      break;
    case 'volume': {
      const vol = r.volume as Record<string, unknown> | undefined;
      if (!vol || typeof vol !== 'object' || !vol.settings || typeof vol.settings !== 'object') bad('volume record without settings');
      break;
    }
    case 'inode':
      for (const f of ['ino', 'mode', 'uid', 'gid', 'nlink', 'size', 'rdev', 'generation']) uint(f);
      if (typeof r.type !== 'string' || !INODE_TYPES.has(r.type)) bad(`inode record: unknown type ${JSON.stringify(r.type)}`);
      for (const f of ['atime', 'mtime', 'ctime', 'btime']) ns(f);
      if (r.parent !== undefined) uint('parent');
      if (r.target !== undefined && typeof r.target !== 'string') bad('inode record: "target" must be a string');
      if (r.xattrs !== undefined) {
        if (!r.xattrs || typeof r.xattrs !== 'object' || Array.isArray(r.xattrs)) bad('inode record: "xattrs" must be an object');
        for (const val of Object.values(r.xattrs as object)) if (typeof val !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(val)) bad('inode record: xattr values must be base64');
      }
      if (r.blocks !== undefined) {
        if (!Array.isArray(r.blocks)) bad('inode record: "blocks" must be a list');
        for (const b of r.blocks as unknown[]) {
          if (!Array.isArray(b) || b.length !== 3 || !b.every((x) => Number.isSafeInteger(x) && x >= 0)) bad('inode record: each block is [index, blockId, length]');
        }
      }
      break;
    case 'entry':
      uint('parent'); uint('ino');
      if (typeof r.name !== 'string' || r.name === '') bad('entry record: "name" must be a non-empty string');
      break;
    case 'quota':
      for (const f of ['dir', 'limitBytes', 'limitInodes']) uint(f);
      break;
    case 'gc':
      for (const f of ['blockId', 'ino', 'index', 'queuedAt']) uint(f);
      break;
    case 'end': {
      const c = r.counts as Record<string, unknown> | undefined;
      const k = r.counters as Record<string, unknown> | undefined;
      if (!c || typeof c !== 'object' || !k || typeof k !== 'object') bad('end record without counts and counters');
      for (const f of ['inodes', 'entries', 'gc']) uint(f, c);
      if (c!.quotas !== undefined) uint('quotas', c);
      for (const f of ['nextIno', 'nextBlock', 'inodes', 'usedBytes']) uint(f, k);
      break;
    }
  }
  return v as DumpRecord;
}

export function inodeFromRecord(r: InodeRecord): InodeData {
  const rec: InodeRec = {
    ino: r.ino, type: r.type, mode: r.mode, uid: r.uid, gid: r.gid, nlink: r.nlink, size: r.size, rdev: r.rdev,
    atime: BigInt(r.atime), mtime: BigInt(r.mtime), ctime: BigInt(r.ctime), btime: BigInt(r.btime), generation: r.generation,
  };
  if (r.parent !== undefined) rec.parent = r.parent;
  if (r.target !== undefined) rec.target = r.target;
  return {
    rec,
    xattrs: Object.entries(r.xattrs ?? {}).map(([n, v]) => [n, Buffer.from(v, 'base64')]),
    blocks: (r.blocks ?? []).map(([index, blockId, length]) => ({ index, blockId, length })),
  };
}
