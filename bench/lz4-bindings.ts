/**
 * The lz4 bindings bench:codec compares, each behind the same two calls on the raw lz4 block
 * format flexfs stores (docs/FORMAT.md): `lz4` (in use) and `lz4-napi` (the maintained napi-rs
 * candidate, a devDependency only for this comparison).
 */
import lz4 from 'lz4';
import lz4napi from 'lz4-napi';

export interface Lz4Binding {
  name: string;
  /** Raw lz4 block of `raw` (no size prefix, no lz4 frame header). */
  compress(raw: Buffer): Buffer;
  /** Decodes a raw lz4 block that holds exactly `rawLength` bytes; throws on malformed input. */
  decompress(block: Buffer, rawLength: number): Buffer;
}

const SIZE_PREFIX = 4;

export const LZ4_BINDINGS: Lz4Binding[] = [
  {
    name: 'lz4 0.6.5 (NAN, in use)',
    compress(raw) {
      const out = Buffer.allocUnsafe(lz4.encodeBound(raw.length));
      const n = lz4.encodeBlock(raw, out);
      if (n <= 0) throw new Error('lz4: block does not fit the bound');
      return out.subarray(0, n);
    },
    decompress(block, rawLength) {
      const out = Buffer.allocUnsafe(rawLength);
      const n = lz4.decodeBlock(block, out);
      if (n !== rawLength) throw new Error(`lz4: decoded ${n} bytes, expected ${rawLength}`);
      return out;
    },
  },
  {
    // lz4_flex's block API with a 4-byte little-endian size in front: stripped after compress,
    // put back (one copy) before decompress.
    name: 'lz4-napi 2.10.0 (napi-rs, lz4_flex)',
    compress(raw) {
      return lz4napi.compressSync(raw).subarray(SIZE_PREFIX);
    },
    decompress(block, rawLength) {
      const prefixed = Buffer.allocUnsafe(SIZE_PREFIX + block.length);
      prefixed.writeUInt32LE(rawLength, 0);
      block.copy(prefixed, SIZE_PREFIX);
      const out = lz4napi.uncompressSync(prefixed);
      if (out.length !== rawLength) throw new Error(`lz4-napi: decoded ${out.length} bytes, expected ${rawLength}`);
      return out;
    },
  },
];

/** Whether `decoder` turns `encoder`'s block of `raw` back into exactly `raw`. */
export function crossDecodes(encoder: Lz4Binding, decoder: Lz4Binding, raw: Buffer): boolean {
  try {
    return decoder.decompress(encoder.compress(raw), raw.length).equals(raw);
  } catch {
    return false;
  }
}
