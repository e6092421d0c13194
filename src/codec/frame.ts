/**
 * The stored block frame (docs/FORMAT.md is the normative description; keep the two in step):
 *
 *   header (20 B) | [nonce 12 B] | payload | [GCM tag 16 B] | CRC32C (4 B) of all bytes before it
 *
 * Synchronous and CPU-bound: runs inline for small blocks and inside the codec worker threads for
 * full blocks. Every function here either returns correct bytes or throws CodecError.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { crc32c } from '@node-rs/crc32';
import lz4 from 'lz4';
import { CodecError } from './types.js';

export const FRAME_MAGIC = Buffer.from('FXB1', 'latin1');
export const FRAME_VERSION = 1;
export const HEADER_LENGTH = 20;
export const NONCE_LENGTH = 12;
export const TAG_LENGTH = 16;
export const CRC_LENGTH = 4;
export const FLAG_COMPRESSED = 0x01;
export const FLAG_ENCRYPTED = 0x02;
export const CODEC_NONE = 0;
export const CODEC_LZ4 = 1;
/** Largest raw block a frame may carry (volume blocks are at most 8 MiB; this bounds allocations). */
export const MAX_RAW_LENGTH = 64 * 1024 * 1024;
export const DATA_KEY_LENGTH = 32;

export type Compression = 'lz4' | 'none';

export interface FrameOptions {
  compression: Compression;
  /** 32-byte AES-256-GCM data key; frames are encrypted when present. */
  dataKey?: Buffer;
}

/** What a frame's header says, after the frame passed structure, length, CRC and key checks. */
export interface FrameInfo {
  version: number;
  compressed: boolean;
  encrypted: boolean;
  codec: number;
  rawLength: number;
  payloadLength: number;
  /** Offset of the payload (ciphertext when encrypted) inside the frame. */
  payloadOffset: number;
}

/** CRC32C of the object key's UTF-8 bytes, stored in the header so a moved frame is caught without a data key. */
export function keyCheck(key: string): number {
  return crc32c(Buffer.from(key, 'utf8')) >>> 0;
}

/** Bytes that GCM authenticates besides the payload: the 20 header bytes followed by the object key. */
export function frameAad(header: Uint8Array, key: string): Buffer {
  return Buffer.concat([header, Buffer.from(key, 'utf8')]);
}

const SAMPLE_BYTES = 32 * 1024;
/** A sample that does not shrink below this share of its size predicts a block not worth compressing. */
const SAMPLE_WORTH = 15 / 16;

/**
 * Early abort for nearly incompressible blocks: lz4 spends about 1 ms per MiB on data it can only
 * shrink by a few percent (already compressed media, fio's buffers), for a saving that does not
 * pay for the CPU. Large blocks are first sampled at their start, middle and end (32 KiB each);
 * when no sample shrinks to 15/16 of its size the block is stored as is.
 */
export function worthCompressing(raw: Uint8Array): boolean {
  if (raw.length < 16 * SAMPLE_BYTES) return true;
  const scratch = Buffer.allocUnsafe(lz4.encodeBound(SAMPLE_BYTES));
  for (const at of [0, (raw.length - SAMPLE_BYTES) >> 1, raw.length - SAMPLE_BYTES]) {
    const n = lz4.encodeBlock(raw.subarray(at, at + SAMPLE_BYTES), scratch);
    if (n > 0 && n < SAMPLE_BYTES * SAMPLE_WORTH) return true;
  }
  return false;
}

/** `compress`: the caller already decided with worthCompressing() (skips sampling twice). */
export function encodeFrame(key: string, raw: Uint8Array, opts: FrameOptions, compress?: boolean): Buffer {
  if (raw.length > MAX_RAW_LENGTH) {
    throw new RangeError(`block of ${raw.length} bytes exceeds the frame limit of ${MAX_RAW_LENGTH} bytes`);
  }
  let payload: Uint8Array = raw;
  let codec = CODEC_NONE;
  if (opts.compression === 'lz4' && raw.length > 0 && (compress ?? worthCompressing(raw))) {
    const scratch = Buffer.allocUnsafe(lz4.encodeBound(raw.length));
    const n = lz4.encodeBlock(raw, scratch);
    // Stored raw unless compression actually shrinks the block.
    if (n > 0 && n < raw.length) {
      payload = scratch.subarray(0, n);
      codec = CODEC_LZ4;
    }
  }
  const encrypted = opts.dataKey !== undefined;
  const payloadOffset = HEADER_LENGTH + (encrypted ? NONCE_LENGTH : 0);
  const total = payloadOffset + payload.length + (encrypted ? TAG_LENGTH : 0) + CRC_LENGTH;
  // allocUnsafeSlow: the frame owns its whole ArrayBuffer, so it can be transferred between threads.
  const frame = Buffer.allocUnsafeSlow(total);
  FRAME_MAGIC.copy(frame, 0);
  frame[4] = FRAME_VERSION;
  frame[5] = (codec !== CODEC_NONE ? FLAG_COMPRESSED : 0) | (encrypted ? FLAG_ENCRYPTED : 0);
  frame[6] = codec;
  frame[7] = 0;
  frame.writeUInt32LE(raw.length, 8);
  frame.writeUInt32LE(payload.length, 12);
  frame.writeUInt32LE(keyCheck(key), 16);
  if (encrypted) {
    const dataKey = opts.dataKey as Buffer;
    const nonce = randomBytes(NONCE_LENGTH);
    nonce.copy(frame, HEADER_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', dataKey, nonce, { authTagLength: TAG_LENGTH });
    cipher.setAAD(frameAad(frame.subarray(0, HEADER_LENGTH), key));
    const ct = cipher.update(payload);
    const rest = cipher.final();
    if (ct.length + rest.length !== payload.length) throw new Error('AES-GCM produced an unexpected ciphertext length');
    ct.copy(frame, payloadOffset);
    rest.copy(frame, payloadOffset + ct.length);
    cipher.getAuthTag().copy(frame, payloadOffset + payload.length);
  } else {
    frame.set(payload, payloadOffset);
  }
  frame.writeUInt32LE(crc32c(frame.subarray(0, total - CRC_LENGTH)) >>> 0, total - CRC_LENGTH);
  return frame;
}

/**
 * Checks everything that can be checked without the data key: header fields, exact length, the
 * trailing CRC32C and (when `key` is given) the header's key check. Throws CodecError.
 */
export function parseFrame(frame: Uint8Array, key?: string): FrameInfo {
  const bad = (why: string): never => {
    throw new CodecError(`corrupt block frame${key !== undefined ? ` ${key}` : ''}: ${why}`, { key });
  };
  const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (buf.length < HEADER_LENGTH + CRC_LENGTH) bad(`truncated (${buf.length} bytes)`);
  if (!buf.subarray(0, 4).equals(FRAME_MAGIC)) bad('bad magic (not a flexfs block frame)');
  const version = buf[4];
  if (version !== FRAME_VERSION) bad(`unsupported frame version ${version}`);
  const flags = buf[5];
  if ((flags & ~(FLAG_COMPRESSED | FLAG_ENCRYPTED)) !== 0) bad(`unknown flags 0x${flags.toString(16)}`);
  const compressed = (flags & FLAG_COMPRESSED) !== 0;
  const encrypted = (flags & FLAG_ENCRYPTED) !== 0;
  const codec = buf[6];
  if (codec !== CODEC_NONE && codec !== CODEC_LZ4) bad(`unknown codec id ${codec}`);
  if (compressed !== (codec !== CODEC_NONE)) bad(`compressed flag disagrees with codec id ${codec}`);
  if (buf[7] !== 0) bad('reserved header byte is not zero');
  const rawLength = buf.readUInt32LE(8);
  const payloadLength = buf.readUInt32LE(12);
  if (rawLength > MAX_RAW_LENGTH) bad(`raw length ${rawLength} exceeds ${MAX_RAW_LENGTH}`);
  if (compressed ? !(payloadLength > 0 && payloadLength < rawLength) : payloadLength !== rawLength) {
    bad(`payload length ${payloadLength} impossible for raw length ${rawLength}`);
  }
  const payloadOffset = HEADER_LENGTH + (encrypted ? NONCE_LENGTH : 0);
  const expected = payloadOffset + payloadLength + (encrypted ? TAG_LENGTH : 0) + CRC_LENGTH;
  if (buf.length < expected) bad(`truncated (${buf.length} of ${expected} bytes)`);
  if (buf.length > expected) bad(`${buf.length - expected} unexpected trailing bytes`);
  const stored = buf.readUInt32LE(expected - CRC_LENGTH);
  if ((crc32c(buf.subarray(0, expected - CRC_LENGTH)) >>> 0) !== stored) bad('CRC32C mismatch');
  if (key !== undefined && buf.readUInt32LE(16) !== keyCheck(key)) bad('frame belongs to another object key');
  return { version, compressed, encrypted, codec, rawLength, payloadLength, payloadOffset };
}

/** Full decode: parse + decrypt (GCM, header and key as AAD) + decompress + raw length check. */
/**
 * `share`: a plain, uncompressed frame's block is returned as a view into `frame` instead of a
 * copy (the caller must then not modify the frame).
 */
export function decodeFrame(key: string, frame: Uint8Array, dataKey?: Buffer, share = false): Buffer {
  const info = parseFrame(frame, key);
  const bad = (why: string, cause?: unknown): never => {
    throw new CodecError(`corrupt block frame ${key}: ${why}`, { key, cause });
  };
  const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  let payload: Buffer = buf.subarray(info.payloadOffset, info.payloadOffset + info.payloadLength);
  if (info.encrypted) {
    if (!dataKey) bad('frame is encrypted but this volume has no data key');
    const nonce = buf.subarray(HEADER_LENGTH, HEADER_LENGTH + NONCE_LENGTH);
    const tagAt = info.payloadOffset + info.payloadLength;
    try {
      const decipher = createDecipheriv('aes-256-gcm', dataKey as Buffer, nonce, { authTagLength: TAG_LENGTH });
      decipher.setAAD(frameAad(buf.subarray(0, HEADER_LENGTH), key));
      decipher.setAuthTag(buf.subarray(tagAt, tagAt + TAG_LENGTH));
      const head = decipher.update(payload);
      const tail = decipher.final(); // throws unless the tag authenticates header, key and ciphertext
      payload = tail.length === 0 ? head : Buffer.concat([head, tail]);
    } catch (e) {
      bad('authentication failed (wrong data key, frame moved from another key, or damaged)', e);
    }
  } else if (dataKey) {
    // An encrypted volume must not accept plaintext frames: anyone with bucket access could forge them.
    bad('frame is not encrypted but this volume is');
  }
  if (share && !info.compressed && !info.encrypted) return payload;
  const raw = Buffer.allocUnsafeSlow(info.rawLength);
  if (info.compressed) {
    let n: number;
    try {
      n = lz4.decodeBlock(payload, raw);
    } catch (e) {
      return bad('lz4 payload does not decode', e);
    }
    if (n !== info.rawLength) bad(`lz4 payload decodes to ${n} bytes, header says ${info.rawLength}`);
  } else {
    payload.copy(raw);
  }
  return raw;
}
