import { describe, expect, it } from 'vitest';
import { blockKey, parseBlockKey, volumeBlocksPrefix, validateKey } from '../../src/store/index.js';

describe('block keys', () => {
  it('follow the DESIGN §3 layout and parse back', () => {
    const k = blockKey('vol1', 42, 7, 123456789);
    expect(k).toMatch(/^vol1\/blocks\/[0-9a-f]{2}\/42_7_123456789$/);
    expect(k.startsWith(volumeBlocksPrefix('vol1'))).toBe(true);
    expect(parseBlockKey(k)).toEqual({ volumeId: 'vol1', ino: 42, index: 7, blockId: 123456789 });
    expect(blockKey('vol1', 42, 7, 123456789)).toBe(k); // stable
    expect(parseBlockKey('vol1/blocks/zz/1_2_3')).toBeNull();
    expect(parseBlockKey(k.replace(/\/[0-9a-f]{2}\//, '/gg/'))).toBeNull();
  });
  it('spread block ids over the 256 shards', () => {
    const shards = new Set<string>();
    for (let id = 1; id <= 4096; id++) shards.add(blockKey('v', 1, 0, id).split('/')[2]);
    expect(shards.size).toBe(256);
  });
  it('reject bad parts with a clear error', () => {
    expect(() => blockKey('../x', 1, 0, 1)).toThrow(/invalid volume id/);
    expect(() => blockKey('v', -1, 0, 1)).toThrow(/ino must be a non-negative integer/);
    expect(() => blockKey('v', 1, 0.5, 1)).toThrow(/index/);
    expect(() => validateKey('a\0b')).toThrow(/NUL/);
    expect(() => validateKey('x'.repeat(1025))).toThrow(/1024 bytes/);
  });
});
