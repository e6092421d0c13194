/**
 * createCodec: the BlockCodec over frame.ts. Blocks of at least `INLINE_LIMIT` bytes are encoded
 * and decoded in the worker pool so lz4 + AES-GCM of a 4 MiB block never stalls the event loop;
 * small ones (and everything when `workers: 0`) run inline, where a thread hop would cost more
 * than the work.
 */
import { availableParallelism } from 'node:os';
import { DATA_KEY_LENGTH, decodeFrame, encodeFrame, parseFrame, worthCompressing, type Compression, type FrameOptions } from './frame.js';
import { CodecWorkerPool } from './pool.js';
import { CodecError, type BlockCodec } from './types.js';

/** Blocks (raw for encode, frame for decode) below this size are handled on the calling thread. */
export const INLINE_LIMIT = 64 * 1024;

export interface CodecOptions {
  compression: Compression;
  /** 32-byte data key of an end-to-end encrypted volume (from unlockDataKey). */
  dataKey?: Buffer;
  /** Worker threads for full blocks; default min(2, cpus). 0 runs everything inline. */
  workers?: number;
  /** Jobs that may wait for a worker before encode/decode callers wait; default 16 per worker. */
  maxQueue?: number;
}

/** Header says neither compressed nor encrypted (decodeFrame checks everything else). */
function storedPlain(frame: Buffer): boolean {
  return frame.length > 5 && (frame[5] & 0x03) === 0;
}

export function createCodec(opts: CodecOptions): BlockCodec {
  if (opts.compression !== 'lz4' && opts.compression !== 'none') {
    throw new Error(`unknown compression ${JSON.stringify(opts.compression)} (expected 'lz4' or 'none')`);
  }
  if (opts.dataKey !== undefined && (!Buffer.isBuffer(opts.dataKey) || opts.dataKey.length !== DATA_KEY_LENGTH)) {
    throw new Error(`data key must be ${DATA_KEY_LENGTH} bytes`);
  }
  const workers = opts.workers ?? Math.min(2, availableParallelism());
  if (!Number.isInteger(workers) || workers < 0) throw new Error(`codec workers must be a non-negative integer, got ${opts.workers}`);
  // Private copy: the caller may wipe or reuse its buffer.
  const dataKey = opts.dataKey ? Buffer.from(opts.dataKey) : undefined;
  const frameOpts: FrameOptions = { compression: opts.compression, dataKey };
  const pool = workers > 0
    ? new CodecWorkerPool({ size: workers, maxQueue: opts.maxQueue ?? workers * 16, setup: { compression: opts.compression, dataKey } })
    : undefined;
  let closed = false;
  const checkOpen = (): void => {
    if (closed) throw new Error('block codec is closed');
  };
  const checkKey = (key: unknown): void => {
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('object key must be a non-empty string');
  };

  return {
    async encode(key: string, raw: Buffer): Promise<Buffer> {
      checkOpen();
      checkKey(key);
      if (pool && raw.length >= INLINE_LIMIT) {
        // A plain block that will be stored as is costs one copy and a CRC32C: less on this
        // thread than the copy into a worker's buffer that handing it over would take.
        const compress = opts.compression === 'lz4' && worthCompressing(raw);
        if (dataKey || compress) return pool.run('encode', key, raw, compress);
        return encodeFrame(key, raw, frameOpts, false);
      }
      return encodeFrame(key, raw, frameOpts);
    },
    async decode(key: string, frame: Buffer, decodeOpts?: { consume?: boolean }): Promise<Buffer> {
      checkOpen();
      checkKey(key);
      // Plain stored frames need only their CRC32C checked: done here, and the block is a view
      // into the frame (no copy). lz4 and AES-GCM run in a worker.
      if (pool && frame.length >= INLINE_LIMIT && !storedPlain(frame)) return pool.run('decode', key, frame, undefined, decodeOpts?.consume === true);
      return decodeFrame(key, frame, dataKey, true);
    },
    async verify(key: string, frame: Buffer): Promise<void> {
      // Structure + CRC32C only: a few ms for 8 MiB, cheaper inline than a copy to a worker.
      checkOpen();
      checkKey(key);
      parseFrame(frame, key);
    },
    async close(): Promise<void> {
      closed = true;
      await pool?.close();
    },
  };
}

export { CodecError };
