import { randomBytes } from 'node:crypto';
import { crc32c } from '@node-rs/crc32';
import { afterAll, describe, expect, it } from 'vitest';
import { createCodec } from './index.js';
import { CodecError, type BlockCodec } from './types.js';
import { textLike, randomData } from './testdata.js';

const MiB = 1024 * 1024;
const KEY = 'vol/0a1b/blocks/7f/12_3_99';
const dataKey = randomBytes(32);
const codecs: BlockCodec[] = [];
function codec(opts: Parameters<typeof createCodec>[0]): BlockCodec {
  const c = createCodec(opts);
  codecs.push(c);
  return c;
}
afterAll(async () => {
  await Promise.all(codecs.map((c) => c.close()));
});

/** Re-seals a frame's trailing CRC32C after a deliberate edit, so deeper checks are exercised. */
function reseal(frame: Buffer): Buffer {
  const f = Buffer.from(frame);
  f.writeUInt32LE(crc32c(f.subarray(0, f.length - 4)) >>> 0, f.length - 4);
  return f;
}

const samples: Array<[string, () => Buffer]> = [
  ['0 B', () => Buffer.alloc(0)],
  ['1 B', () => Buffer.from([0x5a])],
  ['text 100 KiB', () => textLike(100 * 1024 + 7)],
  ['random 200 KiB', () => randomData(200 * 1024 + 3)],
  ['text 4 MiB', () => textLike(4 * MiB)],
  ['random 8 MiB', () => randomData(8 * MiB)],
];

describe('round trips', () => {
  for (const mode of ['pool', 'inline'] as const) {
    for (const compression of ['lz4', 'none'] as const) {
      for (const encrypted of [false, true]) {
        const label = `${mode} ${compression} ${encrypted ? 'encrypted' : 'plain'}`;
        it(label, async () => {
          const c = codec({ compression, dataKey: encrypted ? dataKey : undefined, workers: mode === 'pool' ? 2 : 0 });
          for (const [name, make] of samples) {
            const raw = make();
            const copy = Buffer.from(raw);
            const frame = await c.encode(KEY, raw);
            expect(raw.equals(copy), `${name}: encode must not modify its input`).toBe(true);
            expect(frame.subarray(0, 4).toString('latin1')).toBe('FXB1');
            expect((frame[5] & 2) !== 0, `${name}: encrypted flag`).toBe(encrypted);
            if (compression === 'none') expect(frame[5] & 1, `${name}: never compressed`).toBe(0);
            if (compression === 'lz4' && name.startsWith('text')) {
              expect(frame.length, `${name}: lz4 shrinks text`).toBeLessThan(raw.length * 0.7);
            }
            if (name.startsWith('random')) expect(frame[5] & 1, `${name}: stored raw`).toBe(0);
            await c.verify(KEY, frame);
            const back = await c.decode(KEY, frame);
            expect(back.length, name).toBe(raw.length);
            expect(back.equals(raw), name).toBe(true);
          }
        });
      }
    }
  }

  it('nearly incompressible large blocks are stored as is; a compressible stretch anywhere still gets lz4', async () => {
    const c = codec({ compression: 'lz4', workers: 0 });
    // Random data with 8 zero bytes in every 128: lz4 saves ~3%, not worth its CPU.
    const nearly = randomData(4 * MiB);
    for (let i = 0; i < nearly.length; i += 128) nearly.fill(0, i, i + 8);
    const f1 = await c.encode(KEY, nearly);
    expect(f1[5] & 1).toBe(0);
    expect((await c.decode(KEY, f1)).equals(nearly)).toBe(true);
    // The same block with compressible text in the middle: the middle sample sees it.
    const mixed = Buffer.from(nearly);
    textLike(MiB).copy(mixed, 1.5 * MiB);
    const f2 = await c.encode(KEY, mixed);
    expect(f2[5] & 1).toBe(1);
    expect(f2.length).toBeLessThan(mixed.length * 0.9);
    expect((await c.decode(KEY, f2)).equals(mixed)).toBe(true);
    // Small blocks are not sampled: any saving is taken.
    const small = nearly.subarray(0, 256 * 1024);
    const f3 = await c.encode(KEY, small);
    expect(f3[5] & 1).toBe(1);
  });

  it('frames made inline decode through the pool and back, concurrently', async () => {
    const inline = codec({ compression: 'lz4', dataKey, workers: 0 });
    const pooled = codec({ compression: 'lz4', dataKey, workers: 2, maxQueue: 1 });
    const raws = Array.from({ length: 12 }, (_, i) => (i % 2 ? textLike(MiB + i, i + 1) : randomData(MiB - i)));
    const frames = await Promise.all(raws.map((r, i) => (i % 3 ? pooled : inline).encode(`${KEY}_${i}`, r)));
    const backs = await Promise.all(frames.map((f, i) => (i % 3 ? inline : pooled).decode(`${KEY}_${i}`, f)));
    backs.forEach((b, i) => expect(b.equals(raws[i]), `block ${i}`).toBe(true));
  });

  it('accepts views into larger buffers and leaves the caller buffer usable', async () => {
    const c = codec({ compression: 'lz4', workers: 1 });
    const big = textLike(3 * MiB);
    const view = big.subarray(12345, 12345 + 2 * MiB);
    const frame = await c.encode(KEY, view);
    expect(big.length).toBe(3 * MiB); // not detached by a transfer
    const back = await c.decode(KEY, frame.subarray(0)); // a view as well
    expect(back.equals(view)).toBe(true);
    // Returned blocks own their memory: mutating one never touches the frame.
    back.fill(0);
    expect((await c.decode(KEY, frame)).equals(view)).toBe(true);
  });
});

describe('decode with consume: the frame is handed over', () => {
  it('a frame owning its memory moves to the worker without a copy; a view is copied and kept', async () => {
    const c = codec({ compression: 'lz4', workers: 1 });
    const raw = textLike(2 * MiB);
    const encoded = await c.encode(KEY, raw);
    const owned = Buffer.from(new Uint8Array(encoded).buffer); // a frame that is its whole ArrayBuffer
    expect(owned.byteLength).toBe(owned.buffer.byteLength);
    expect((await c.decode(KEY, owned, { consume: true })).equals(raw)).toBe(true);
    expect(owned.buffer.byteLength, 'moved, not copied: the ArrayBuffer is detached').toBe(0);
    // A view into a larger buffer cannot move: it is copied and the caller's bytes stay.
    const holder = Buffer.alloc(encoded.length + 10);
    encoded.copy(holder, 5);
    const view = holder.subarray(5, 5 + encoded.length);
    expect((await c.decode(KEY, view, { consume: true })).equals(raw)).toBe(true);
    expect(view.equals(encoded)).toBe(true);
    // Without consume nothing is handed over.
    const kept = Buffer.from(new Uint8Array(encoded).buffer);
    expect((await c.decode(KEY, kept)).equals(raw)).toBe(true);
    expect(kept.equals(encoded)).toBe(true);
  });

  it('a damaged frame handed over is still CodecError', async () => {
    const c = codec({ compression: 'lz4', workers: 1 });
    const encoded = await c.encode(KEY, textLike(2 * MiB));
    const owned = Buffer.from(new Uint8Array(encoded).buffer);
    owned[owned.length >> 1] ^= 0x40;
    await expect(c.decode(KEY, owned, { consume: true })).rejects.toBeInstanceOf(CodecError);
  });
});

describe('corruption is always CodecError, never wrong bytes', () => {
  const variants = [
    { name: 'plain lz4', compression: 'lz4' as const, key: undefined, raw: () => textLike(3000, 7) },
    { name: 'plain stored', compression: 'none' as const, key: undefined, raw: () => randomData(700) },
    { name: 'encrypted lz4', compression: 'lz4' as const, key: dataKey, raw: () => textLike(3000, 9) },
    { name: 'encrypted stored', compression: 'lz4' as const, key: dataKey, raw: () => randomData(700) },
  ];
  for (const v of variants) {
    it(`${v.name}: every single-bit flip, every truncation, extra bytes`, async () => {
      const c = codec({ compression: v.compression, dataKey: v.key, workers: 0 });
      const raw = v.raw();
      const frame = await c.encode(KEY, raw);
      let failures = 0;
      for (let byte = 0; byte < frame.length; byte++) {
        for (let bit = 0; bit < 8; bit++) {
          const bad = Buffer.from(frame);
          bad[byte] ^= 1 << bit;
          await expect(c.decode(KEY, bad), `flip byte ${byte} bit ${bit}`).rejects.toBeInstanceOf(CodecError);
          await expect(c.verify(KEY, bad), `verify flip byte ${byte} bit ${bit}`).rejects.toBeInstanceOf(CodecError);
          failures++;
        }
      }
      expect(failures).toBe(frame.length * 8);
      for (let len = 0; len < frame.length; len++) {
        await expect(c.decode(KEY, frame.subarray(0, len)), `truncated to ${len}`).rejects.toBeInstanceOf(CodecError);
      }
      for (const extra of [Buffer.alloc(1), randomBytes(100), frame.subarray(frame.length - 4)]) {
        await expect(c.decode(KEY, Buffer.concat([frame, extra]))).rejects.toThrow(/trailing bytes/);
      }
      // Bit flips with the CRC re-sealed: the structural checks / lz4 / GCM must still catch them
      // in the header, nonce and tag; in a plain payload only the CRC can (no key to bind).
      for (const at of [4, 5, 6, 7, 8, 9, 12, 13, 16, 17]) {
        const bad = Buffer.from(frame);
        bad[at] ^= 0x01;
        await expect(c.decode(KEY, reseal(bad)), `resealed flip at ${at}`).rejects.toBeInstanceOf(CodecError);
      }
      expect((await c.decode(KEY, frame)).equals(raw)).toBe(true);
    });
  }

  it('flips anywhere in large pooled frames (header, nonce, payload, tag, trailer)', async () => {
    for (const key of [undefined, dataKey]) {
      const c = codec({ compression: 'lz4', dataKey: key, workers: 2 });
      for (const raw of [textLike(4 * MiB, 3), randomData(MiB)]) {
        const frame = await c.encode(KEY, raw);
        const spots = [0, 5, 10, 18, 21, 31, 40, frame.length >> 1, frame.length - 20, frame.length - 5, frame.length - 1];
        await Promise.all(spots.map(async (at) => {
          const bad = Buffer.from(frame);
          bad[at] ^= 0x80;
          await expect(c.decode(KEY, bad), `flip at ${at}`).rejects.toBeInstanceOf(CodecError);
        }));
        await expect(c.decode(KEY, frame.subarray(0, frame.length - 1))).rejects.toBeInstanceOf(CodecError);
        await expect(c.decode(KEY, Buffer.concat([frame, Buffer.alloc(8)]))).rejects.toBeInstanceOf(CodecError);
        expect((await c.decode(KEY, frame)).equals(raw)).toBe(true);
      }
    }
  });

  it('encrypted: wrong data key, frame moved to another key (even with a forged key check)', async () => {
    for (const workers of [0, 2]) {
      const c = codec({ compression: 'lz4', dataKey, workers });
      const other = codec({ compression: 'lz4', dataKey: randomBytes(32), workers });
      const raw = textLike(MiB, 5);
      const frame = await c.encode(KEY, raw);
      await expect(other.decode(KEY, frame)).rejects.toThrow(/authentication failed/);
      await expect(other.decode(KEY, frame)).rejects.toBeInstanceOf(CodecError);
      await expect(c.decode(`${KEY}0`, frame)).rejects.toThrow(/another object key/);
      // An attacker who also rewrites the key check and the CRC is stopped by GCM (key is AAD).
      const moved = Buffer.from(frame);
      moved.writeUInt32LE(crc32c(Buffer.from(`${KEY}0`)) >>> 0, 16);
      await expect(c.decode(`${KEY}0`, reseal(moved))).rejects.toThrow(/authentication failed/);
      // Tampered ciphertext with a fixed-up CRC: GCM catches it.
      const tampered = Buffer.from(frame);
      tampered[40] ^= 1;
      await expect(c.decode(KEY, reseal(tampered))).rejects.toThrow(/authentication failed/);
      // The same bytes verify (no key needed) but only under the right object key.
      await c.verify(KEY, frame);
      await expect(c.verify(`${KEY}0`, frame)).rejects.toBeInstanceOf(CodecError);
    }
  });

  it('plain frame moved to another key fails; encrypted/plain mismatches fail', async () => {
    const plain = codec({ compression: 'lz4', workers: 0 });
    const enc = codec({ compression: 'lz4', dataKey, workers: 0 });
    const raw = textLike(5000);
    const pf = await plain.encode(KEY, raw);
    const ef = await enc.encode(KEY, raw);
    await expect(plain.decode('vol/x/blocks/00/1_0_1', pf)).rejects.toThrow(/another object key/);
    await expect(plain.decode(KEY, ef)).rejects.toThrow(/no data key/);
    await expect(enc.decode(KEY, pf)).rejects.toThrow(/not encrypted but this volume is/);
  });

  it('bad magic, version, flags, codec id, reserved byte, lengths (with a valid CRC)', async () => {
    const c = codec({ compression: 'lz4', workers: 0 });
    const frame = await c.encode(KEY, textLike(5000));
    const edits: Array<[string, (f: Buffer) => void, RegExp]> = [
      ['magic', (f) => f.write('FXB2', 0, 'latin1'), /bad magic/],
      ['version', (f) => { f[4] = 2; }, /unsupported frame version 2/],
      ['flags', (f) => { f[5] |= 0x10; }, /unknown flags/],
      ['codec', (f) => { f[6] = 7; }, /unknown codec id 7/],
      ['codec/flag disagreement', (f) => { f[6] = 0; }, /disagrees/],
      ['reserved', (f) => { f[7] = 1; }, /reserved/],
      ['raw length', (f) => f.writeUInt32LE(f.readUInt32LE(8) + 1, 8), /decodes to/],
      ['huge raw length', (f) => f.writeUInt32LE(0xffffffff, 8), /exceeds/],
      ['payload length', (f) => f.writeUInt32LE(f.readUInt32LE(12) - 1, 12), /trailing bytes/],
    ];
    for (const [name, edit, message] of edits) {
      const bad = Buffer.from(frame);
      edit(bad);
      await expect(c.decode(KEY, reseal(bad)), name).rejects.toThrow(message);
    }
    await expect(c.decode(KEY, Buffer.alloc(0))).rejects.toThrow(/truncated/);
    await expect(c.decode(KEY, Buffer.from('hello, this is not a frame at all'))).rejects.toThrow(/bad magic/);
  });
});

describe('codec lifecycle and input checks', () => {
  it('plain blocks stored as is are framed and unframed on the calling thread, the block a view into the frame', async () => {
    const c = codec({ compression: 'lz4', workers: 1 });
    const raw = randomData(4 * MiB);
    const frame = await c.encode(KEY, raw);
    expect(frame[5] & 3).toBe(0);
    const back = await c.decode(KEY, frame);
    expect(back.equals(raw)).toBe(true);
    expect(back.buffer).toBe(frame.buffer); // no copy
    // Still verified: one flipped bit is refused.
    const bad = Buffer.from(frame);
    bad[2 * MiB] ^= 1;
    await expect(c.decode(KEY, bad)).rejects.toThrow(/corrupt/);
    // An encrypted volume refuses such a frame.
    await expect(codec({ compression: 'lz4', dataKey, workers: 1 }).decode(KEY, frame)).rejects.toThrow(/not encrypted/);
  });

  it('full blocks run off the event loop with workers, on it with workers: 0', async () => {
    const raw = textLike(8 * MiB, 11);
    /** Event-loop turns (setImmediate callbacks) that ran while `op` was pending. */
    const turnsDuring = async (op: () => Promise<unknown>): Promise<number> => {
      let turns = 0;
      let done = false;
      const spin = (): void => {
        if (done) return;
        turns++;
        setImmediate(spin);
      };
      const p = op();
      setImmediate(spin);
      await p;
      done = true;
      return turns;
    };
    const pooled = codec({ compression: 'lz4', dataKey, workers: 1 });
    await pooled.encode(KEY, raw); // warm-up: spawns the worker
    const inline = codec({ compression: 'lz4', dataKey, workers: 0 });
    expect(await turnsDuring(() => pooled.encode(KEY, raw))).toBeGreaterThan(0);
    const frame = await inline.encode(KEY, raw);
    expect(await turnsDuring(() => pooled.decode(KEY, frame))).toBeGreaterThan(0);
    // Inline work finishes inside the call, before any event-loop turn: the control case.
    expect(await turnsDuring(() => inline.encode(KEY, raw))).toBe(0);
  });

  it('rejects bad options and keys with clear errors', async () => {
    expect(() => createCodec({ compression: 'zstd' as never })).toThrow(/unknown compression/);
    expect(() => createCodec({ compression: 'lz4', dataKey: Buffer.alloc(16) })).toThrow(/32 bytes/);
    expect(() => createCodec({ compression: 'lz4', workers: -1 })).toThrow(/workers/);
    const c = codec({ compression: 'lz4', workers: 0 });
    await expect(c.encode('', Buffer.alloc(1))).rejects.toThrow(/object key/);
  });

  it('close() ends workers, fails queued work and later calls instead of hanging', async () => {
    const c = createCodec({ compression: 'lz4', dataKey, workers: 1, maxQueue: 2 });
    const raw = randomData(4 * MiB);
    const inFlight = Array.from({ length: 6 }, (_, i) => c.encode(`${KEY}_${i}`, raw).then(() => 'ok', (e: Error) => e.message));
    await new Promise((r) => setTimeout(r, 10));
    await c.close();
    const results = await Promise.all(inFlight);
    expect(results.some((r) => r === 'block codec is closed')).toBe(true);
    await expect(c.encode(KEY, raw)).rejects.toThrow(/closed/);
    await expect(c.decode(KEY, raw)).rejects.toThrow(/closed/);
    await c.close(); // idempotent
  });
});
