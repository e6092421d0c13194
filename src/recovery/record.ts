import { crc32c } from '@node-rs/crc32';
import type { PendingCommit, PendingWrite } from './types.js';

/**
 * The recovery record (docs/FORMAT.md "Recovery records"): one file per pending commit of one
 * inode. Little-endian:
 *   0  4  magic "FXR1"
 *   4  1  version (1)
 *   5  3  reserved, 0
 *   8  4  headerLength
 *   12 …  header: UTF-8 JSON (RecordHeader)
 *   …     the frames of the writes that carry one, back to back in header order
 *   end-4 4 CRC32C of every byte before it
 */
export const RECORD_MAGIC = 'FXR1';
export const RECORD_VERSION = 1;
const PREFIX = 12;
const CRC = 4;

/** What a record says besides its frames. */
export interface RecordHeader {
  /** Volume id and name the blocks belong to (the block keys carry the id). */
  volumeId: string;
  volume: string;
  ino: number;
  size: number;
  /** ns, as a decimal string (JSON has no 64-bit integers). */
  mtime: string;
  /** When it was saved (ISO 8601) and why: for the operator. */
  savedAt: string;
  reason: string;
  /**
   * 'require': saved by a mount with --sse=require; its blocks are stored only where the store
   * applies SSE (absent: as the applying mount's own --sse says).
   */
  sse?: 'require';
  /** frameLength: bytes of this write's frame in the frames area; absent: already stored. */
  writes: { index: number; blockId: number; length: number; frameLength?: number }[];
}

export interface RecoveryRecord extends PendingCommit {
  volumeId: string;
  volume: string;
  savedAt: string;
  reason: string;
  /** Its blocks may only be stored with SSE applied (RecordHeader.sse). */
  sseRequired?: boolean;
}

export class RecordFormatError extends Error {}

export function encodeRecord(r: RecoveryRecord): Buffer {
  const header: RecordHeader = {
    volumeId: r.volumeId, volume: r.volume, ino: r.ino, size: r.size, mtime: r.mtime.toString(),
    savedAt: r.savedAt, reason: r.reason, ...(r.sseRequired ? { sse: 'require' as const } : {}),
    writes: r.writes.map((w) => ({ index: w.index, blockId: w.blockId, length: w.length, ...(w.frame ? { frameLength: w.frame.length } : {}) })),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const frames = r.writes.flatMap((w) => (w.frame ? [w.frame] : []));
  const prefix = Buffer.alloc(PREFIX);
  prefix.write(RECORD_MAGIC, 0, 'latin1');
  prefix.writeUInt8(RECORD_VERSION, 4);
  prefix.writeUInt32LE(json.length, 8);
  const body = Buffer.concat([prefix, json, ...frames]);
  const crc = Buffer.alloc(CRC);
  crc.writeUInt32LE(crc32c(body) >>> 0, 0);
  return Buffer.concat([body, crc]);
}

export function decodeRecord(buf: Buffer): RecoveryRecord {
  if (buf.length < PREFIX + CRC) throw new RecordFormatError(`too short (${buf.length} bytes)`);
  if (buf.toString('latin1', 0, 4) !== RECORD_MAGIC) throw new RecordFormatError('not a flexfs recovery record (bad magic)');
  const version = buf.readUInt8(4);
  if (version !== RECORD_VERSION) throw new RecordFormatError(`record version ${version} is not supported (this flexfs reads version ${RECORD_VERSION})`);
  const end = buf.length - CRC;
  if ((crc32c(buf.subarray(0, end)) >>> 0) !== buf.readUInt32LE(end)) throw new RecordFormatError('checksum mismatch (damaged or cut short)');
  const headerLength = buf.readUInt32LE(8);
  if (PREFIX + headerLength > end) throw new RecordFormatError('header runs past the end');
  let h: RecordHeader;
  try {
    h = JSON.parse(buf.toString('utf8', PREFIX, PREFIX + headerLength)) as RecordHeader;
  } catch {
    throw new RecordFormatError('header is not JSON');
  }
  if (typeof h.volumeId !== 'string' || !Number.isSafeInteger(h.ino) || !Number.isSafeInteger(h.size) || !/^\d+$/.test(String(h.mtime)) || !Array.isArray(h.writes)) {
    throw new RecordFormatError('header fields missing or of the wrong type');
  }
  if (h.sse !== undefined && h.sse !== 'require') throw new RecordFormatError(`unknown sse demand ${JSON.stringify(h.sse)}`);
  let at = PREFIX + headerLength;
  const writes: PendingWrite[] = h.writes.map((w) => {
    if (!Number.isSafeInteger(w.index) || !Number.isSafeInteger(w.blockId) || !Number.isSafeInteger(w.length)) throw new RecordFormatError('write fields of the wrong type');
    const out: PendingWrite = { index: w.index, blockId: w.blockId, length: w.length };
    if (w.frameLength !== undefined) {
      if (!Number.isSafeInteger(w.frameLength) || w.frameLength <= 0 || at + w.frameLength > end) throw new RecordFormatError('frame runs past the end');
      out.frame = buf.subarray(at, at + w.frameLength);
      at += w.frameLength;
    }
    return out;
  });
  if (at !== end) throw new RecordFormatError(`${end - at} bytes after the last frame`);
  return {
    volumeId: h.volumeId, volume: String(h.volume ?? ''), ino: h.ino, size: h.size, mtime: BigInt(h.mtime),
    savedAt: String(h.savedAt ?? ''), reason: String(h.reason ?? ''), writes, ...(h.sse === 'require' ? { sseRequired: true } : {}),
  };
}
