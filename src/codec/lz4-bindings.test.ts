/**
 * The lz4 bindings bench:codec compares (bench/lz4-bindings.ts) speak the same stored format: the
 * raw lz4 block of docs/FORMAT.md. Each decodes the document's example block and every block the
 * other one writes, byte for byte, and refuses a malformed one. This is the compatibility a switch
 * of binding needs (docs/FORMAT.md, "Compression"); bench:codec measures the speed.
 */
import { describe, expect, it } from 'vitest';
import { crossDecodes, LZ4_BINDINGS } from '../../bench/lz4-bindings.js';
import { randomData, textLike } from './testdata.js';

// docs/FORMAT.md, the plain-lz4 example: 32 × "a" as one block of two sequences.
const DOC_BLOCK = Buffer.from('1f 61 01 00 07 50 61 61 61 61 61'.replace(/ /g, ''), 'hex');
const DOC_RAW = Buffer.alloc(32, 'a');

describe('lz4 bindings: one stored format', () => {
  it('there are two to compare', () => {
    expect(LZ4_BINDINGS.map((b) => b.name)).toEqual([expect.stringMatching(/^lz4 /), expect.stringMatching(/^lz4-napi /)]);
  });

  for (const binding of LZ4_BINDINGS) {
    it(`${binding.name}: decodes the docs/FORMAT.md block and refuses a truncated one`, () => {
      expect(binding.decompress(DOC_BLOCK, DOC_RAW.length).equals(DOC_RAW)).toBe(true);
      expect(() => binding.decompress(DOC_BLOCK.subarray(0, 6), DOC_RAW.length)).toThrow();
    });
  }

  it('each decodes the blocks the other writes, text-like and random, small to 4 MiB', () => {
    const samples = [textLike(1000, 3), textLike(64 * 1024 + 3, 5), textLike(4 * 1024 * 1024, 7), randomData(256 * 1024)];
    for (const raw of samples) {
      for (const encoder of LZ4_BINDINGS) {
        for (const decoder of LZ4_BINDINGS) {
          expect(crossDecodes(encoder, decoder, raw), `${encoder.name} → ${decoder.name}, ${raw.length} B`).toBe(true);
        }
      }
    }
  });
});
