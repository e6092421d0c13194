/**
 * Pins docs/FORMAT.md: the example frames in the document (written byte by byte from its layout)
 * must decode, and encode() must put every header field at the offset the document's table gives. If this test has to change,
 * the format changed: bump the frame version and update docs/FORMAT.md.
 */
import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { crc32c } from '@node-rs/crc32';
import { afterAll, describe, expect, it } from 'vitest';
import { createCodec, verifyFrame } from './index.js';
import { textLike } from './testdata.js';

const DOC = readFileSync(new URL('../../docs/FORMAT.md', import.meta.url), 'utf8');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const KEY = 'v/blocks/00/1_0_1';
// crc32c("v/blocks/00/1_0_1") = 0xfdefc913, stored little-endian at offset 16.
const KEY_CHECK = '13 c9 ef fd';
const dataKey = Buffer.from(Array.from({ length: 32 }, (_, i) => i)); // 00 01 .. 1f

const plain = createCodec({ compression: 'lz4', workers: 0 });
const encrypted = createCodec({ compression: 'lz4', dataKey, workers: 0 });
afterAll(async () => {
  await plain.close();
  await encrypted.close();
});

/** The layout table of docs/FORMAT.md: field → offset and size (fixed-offset fields only). */
function layoutFromDoc(): Map<string, { offset: number; size: number }> {
  const block = /```\noffset\s+size\s+field\n([\s\S]*?)```/.exec(DOC)?.[1];
  if (!block) throw new Error('docs/FORMAT.md: no layout table');
  const fields = new Map<string, { offset: number; size: number }>();
  for (const line of block.split('\n')) {
    const m = /^(\d+)\s+(\d+)\s+(\w+)/.exec(line);
    if (m) fields.set(m[3], { offset: Number(m[1]), size: Number(m[2]) });
  }
  return fields;
}

/** The example frames of docs/FORMAT.md: `<!-- frame: name key=… raw=hex [dataKey=hex] -->` + a hex block. */
function examplesFromDoc(): { name: string; key: string; raw: Buffer; dataKey?: Buffer; frame: Buffer }[] {
  const out = [];
  for (const m of DOC.matchAll(/<!-- frame: (\S+) ([^>]*?) -->\n```hex\n([\s\S]*?)```/g)) {
    const attrs = Object.fromEntries(m[2].split(/\s+/).map((kv) => kv.split('=') as [string, string]));
    out.push({
      name: m[1], key: attrs.key, raw: Buffer.from(attrs.raw, 'hex'),
      dataKey: attrs.dataKey ? Buffer.from(attrs.dataKey, 'hex') : undefined,
      frame: hex(m[3].replace(/#.*$/gm, '')),
    });
  }
  return out;
}

describe('docs/FORMAT.md, read from the document', () => {
  it('crc32c is CRC-32C (Castagnoli): check value of "123456789"', () => {
    expect(crc32c(Buffer.from('123456789')) >>> 0).toBe(0xe3069283);
    expect(crc32c(Buffer.from(KEY)) >>> 0).toBe(0xfdefc913);
  });

  it('the layout table names every header field at its offset', () => {
    const f = layoutFromDoc();
    expect(Object.fromEntries(f)).toEqual({
      magic: { offset: 0, size: 4 }, version: { offset: 4, size: 1 }, flags: { offset: 5, size: 1 },
      codec: { offset: 6, size: 1 }, reserved: { offset: 7, size: 1 }, rawLength: { offset: 8, size: 4 },
      payloadLength: { offset: 12, size: 4 }, keyCheck: { offset: 16, size: 4 }, nonce: { offset: 20, size: 12 },
    });
  });

  it('the three example frames decode to the bytes their comments name', async () => {
    const examples = examplesFromDoc();
    expect(examples.map((e) => e.name)).toEqual(['plain-stored', 'plain-lz4', 'encrypted-stored']);
    for (const e of examples) {
      const codec = createCodec({ compression: 'lz4', dataKey: e.dataKey, workers: 0 });
      try {
        expect((await codec.decode(e.key, e.frame)).equals(e.raw), e.name).toBe(true);
        expect(verifyFrame(e.frame, e.key)).toMatchObject({ rawLength: e.raw.length, encrypted: !!e.dataKey });
        // One flipped bit anywhere in a documented frame is refused.
        const bad = Buffer.from(e.frame);
        bad[bad.length >> 1] ^= 0x10;
        await expect(codec.decode(e.key, bad)).rejects.toThrow();
      } finally {
        await codec.close();
      }
    }
  });

  it('the encrypted example is what the documented steps produce (AES-256-GCM, AAD = header ‖ key)', () => {
    const e = examplesFromDoc().find((x) => x.name === 'encrypted-stored')!;
    const header = e.frame.subarray(0, 20);
    const nonce = e.frame.subarray(20, 32);
    const cipher = createCipheriv('aes-256-gcm', e.dataKey!, nonce);
    cipher.setAAD(Buffer.concat([header, Buffer.from(e.key, 'utf8')]));
    const ct = Buffer.concat([cipher.update(e.raw), cipher.final()]);
    const body = Buffer.concat([header, nonce, ct, cipher.getAuthTag()]);
    const trailer = Buffer.alloc(4);
    trailer.writeUInt32LE(crc32c(body) >>> 0);
    expect(Buffer.concat([body, trailer]).equals(e.frame)).toBe(true);
  });
});

describe('encode() writes the documented fields at the documented offsets', () => {
  it('plain lz4 text', async () => {
    const raw = textLike(100_000);
    const f = await plain.encode(KEY, raw);
    const at = (field: string) => { const l = layoutFromDoc().get(field)!; return f.subarray(l.offset, l.offset + l.size); };
    expect(at('magic').toString('latin1')).toBe('FXB1');
    expect(at('version')[0]).toBe(1);
    expect(at('flags')[0]).toBe(0x01);
    expect(at('codec')[0]).toBe(1);
    expect(at('reserved')[0]).toBe(0);
    expect(at('rawLength').readUInt32LE()).toBe(100_000);
    const payloadLength = at('payloadLength').readUInt32LE();
    expect(payloadLength).toBeLessThan(100_000);
    expect(at('keyCheck')).toEqual(hex(KEY_CHECK));
    expect(f.length).toBe(20 + payloadLength + 4);
    expect(f.readUInt32LE(f.length - 4)).toBe(crc32c(f.subarray(0, f.length - 4)) >>> 0);
  });

  it('encrypted incompressible block: stored, nonce, tag, trailer', async () => {
    const raw = Buffer.from(Array.from({ length: 16 }, (_, i) => (i * 73) & 0xff));
    const f = await encrypted.encode(KEY, raw);
    expect(f[5]).toBe(0x02);
    expect(f[6]).toBe(0);
    expect(f.readUInt32LE(8)).toBe(16);
    expect(f.readUInt32LE(12)).toBe(16);
    expect(f.length).toBe(20 + 12 + 16 + 16 + 4);
    expect(f.readUInt32LE(f.length - 4)).toBe(crc32c(f.subarray(0, f.length - 4)) >>> 0);
    // Independent decryption with the documented parameters.
    const { createDecipheriv } = await import('node:crypto');
    const d = createDecipheriv('aes-256-gcm', dataKey, f.subarray(20, 32));
    d.setAAD(Buffer.concat([f.subarray(0, 20), Buffer.from(KEY)]));
    d.setAuthTag(f.subarray(48, 64));
    expect(Buffer.concat([d.update(f.subarray(32, 48)), d.final()])).toEqual(raw);
    // Two encodes of the same block use different nonces.
    const g = await encrypted.encode(KEY, raw);
    expect(g.subarray(20, 32).equals(f.subarray(20, 32))).toBe(false);
  });
});
