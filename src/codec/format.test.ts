/**
 * Pins docs/FORMAT.md: frames written byte by byte from the documented layout must decode, and
 * encode() must put every header field at its documented offset. If this test has to change,
 * the format changed: bump the frame version and update docs/FORMAT.md.
 */
import { createCipheriv } from 'node:crypto';
import { crc32c } from '@node-rs/crc32';
import { afterAll, describe, expect, it } from 'vitest';
import { createCodec, verifyFrame } from './index.js';
import { textLike } from './testdata.js';

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

describe('docs/FORMAT.md, by hand', () => {
  it('crc32c is CRC-32C (Castagnoli): check value of "123456789"', () => {
    expect(crc32c(Buffer.from('123456789')) >>> 0).toBe(0xe3069283);
    expect(crc32c(Buffer.from(KEY)) >>> 0).toBe(0xfdefc913);
  });

  it('plain, stored: "hello"', async () => {
    const frame = hex(`
      46 58 42 31  01  00  00  00      # magic FXB1, version 1, flags 0, codec 0 (none), reserved
      05 00 00 00  05 00 00 00         # raw length 5, payload length 5
      ${KEY_CHECK}                     # crc32c(object key)
      68 65 6c 6c 6f                   # payload "hello"
      de 05 1b 1b                      # crc32c of the 25 bytes before
    `.replace(/#.*$/gm, ''));
    expect((await plain.decode(KEY, frame)).toString()).toBe('hello');
    expect(verifyFrame(frame, KEY)).toMatchObject({ version: 1, compressed: false, encrypted: false, codec: 0, rawLength: 5, payloadLength: 5, payloadOffset: 20 });
  });

  it('plain, lz4: 32 x "a" from a hand-written lz4 block', async () => {
    const frame = hex(`
      46 58 42 31  01  01  01  00      # flags 0x01 compressed, codec 1 (lz4)
      20 00 00 00  0b 00 00 00         # raw length 32, payload length 11
      ${KEY_CHECK}
      1f 61 01 00 07                   # lz4 sequence: 1 literal "a", match offset 1, length 4+15+7 = 26
      50 61 61 61 61 61                # last sequence: 5 literals
      24 e8 1e 95                      # crc32c
    `.replace(/#.*$/gm, ''));
    expect((await plain.decode(KEY, frame)).toString()).toBe('a'.repeat(32));
  });

  it('encrypted, stored: "hello" under data key 00..1f, nonce 01..0c', async () => {
    const header = hex(`46 58 42 31 01 02 00 00 05 00 00 00 05 00 00 00 ${KEY_CHECK}`);
    const nonce = hex('01 02 03 04 05 06 07 08 09 0a 0b 0c');
    // Built from the documented steps: AES-256-GCM, 96-bit nonce, 128-bit tag, AAD = header ‖ key.
    const cipher = createCipheriv('aes-256-gcm', dataKey, nonce);
    cipher.setAAD(Buffer.concat([header, Buffer.from(KEY, 'utf8')]));
    const ct = Buffer.concat([cipher.update('hello'), cipher.final()]);
    const body = Buffer.concat([header, nonce, ct, cipher.getAuthTag()]);
    const trailer = Buffer.alloc(4);
    trailer.writeUInt32LE(crc32c(body) >>> 0);
    const frame = Buffer.concat([body, trailer]);
    // ...and the same bytes written out, so the test also pins the cipher's output.
    expect(frame.toString('hex')).toBe(hex(`
      46 58 42 31 01 02 00 00 05 00 00 00 05 00 00 00 13 c9 ef fd
      01 02 03 04 05 06 07 08 09 0a 0b 0c
      6d 8f 36 b9 83
      f6 eb a8 16 fe c0 5f b7 c1 ae f7 10 68 f5 fe c6
      c4 4a b3 a6`).toString('hex'));
    expect((await encrypted.decode(KEY, frame)).toString()).toBe('hello');
    expect(verifyFrame(frame)).toMatchObject({ encrypted: true, compressed: false, rawLength: 5, payloadLength: 5, payloadOffset: 32 });
  });
});

describe('encode() writes the documented fields at the documented offsets', () => {
  it('plain lz4 text', async () => {
    const raw = textLike(100_000);
    const f = await plain.encode(KEY, raw);
    expect(f.subarray(0, 4).toString('latin1')).toBe('FXB1');
    expect(f[4]).toBe(1);
    expect(f[5]).toBe(0x01);
    expect(f[6]).toBe(1);
    expect(f[7]).toBe(0);
    expect(f.readUInt32LE(8)).toBe(100_000);
    const payloadLength = f.readUInt32LE(12);
    expect(payloadLength).toBeLessThan(100_000);
    expect(f.subarray(16, 20)).toEqual(hex(KEY_CHECK));
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
