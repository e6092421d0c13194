import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { crc32c } from '@node-rs/crc32';
import { decodeRecord, encodeRecord, RecordFormatError, type RecoveryRecord } from './record.js';

const sample = (): RecoveryRecord => ({
  volumeId: 'v-123', volume: 'vol', ino: 42, size: 5_000_123, mtime: 1_765_000_000_123_456_789n,
  savedAt: '2026-12-07T06:00:00.000Z', reason: 'test',
  writes: [
    { index: 0, blockId: 7, length: 4096, frame: randomBytes(300) },
    { index: 1, blockId: 0, length: 0 },
    { index: 2, blockId: 9, length: 100 },
    { index: 3, blockId: 11, length: 1000, frame: randomBytes(64) },
  ],
});

describe('recovery record format (docs/FORMAT.md "Recovery records")', () => {
  it('round-trips every field, frames byte for byte, ns mtime exact', () => {
    const r = sample();
    const back = decodeRecord(encodeRecord(r));
    expect(back).toEqual(r);
    expect(back.mtime).toBe(1_765_000_000_123_456_789n);
  });

  it('starts with the magic and version, ends with a CRC32C', () => {
    const buf = encodeRecord(sample());
    expect(buf.toString('latin1', 0, 4)).toBe('FXR1');
    expect(buf[4]).toBe(1);
    expect(buf.readUInt32LE(8)).toBeGreaterThan(0);
  });

  it('refuses a flipped byte, a cut-short file, another version and foreign files', () => {
    const good = encodeRecord(sample());
    for (const at of [12, 100, good.length - 10, good.length - 1]) {
      const bad = Buffer.from(good);
      bad[at] ^= 0x40;
      expect(() => decodeRecord(bad)).toThrow(RecordFormatError);
    }
    expect(() => decodeRecord(good.subarray(0, good.length - 20))).toThrow(/checksum/);
    const v2 = Buffer.from(good);
    v2[4] = 2;
    expect(() => decodeRecord(v2)).toThrow(/version 2 is not supported/);
    expect(() => decodeRecord(Buffer.from('hello world, not a record'))).toThrow(/magic/);
  });

  it('carries the --sse=require demand, and refuses an unknown one', () => {
    const r = { ...sample(), sseRequired: true };
    expect(decodeRecord(encodeRecord(r))).toEqual(r);
    expect(decodeRecord(encodeRecord(sample())).sseRequired).toBeUndefined();
    const json = JSON.stringify({ volumeId: 'v', volume: 'v', ino: 1, size: 0, mtime: '1', savedAt: '', reason: '', sse: 'maybe', writes: [] });
    const body = Buffer.concat([Buffer.from('FXR1'), Buffer.from([1, 0, 0, 0]), Buffer.alloc(4), Buffer.from(json)]);
    body.writeUInt32LE(json.length, 8);
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(crc32c(body) >>> 0, 0);
    expect(() => decodeRecord(Buffer.concat([body, crc]))).toThrow(/unknown sse demand/);
  });
});
