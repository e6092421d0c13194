import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createCodec, createEncryption, DEFAULT_SCRYPT, unlockDataKey, wrapDataKey, WrongPassphraseError } from './index.js';
import type { EncryptionParams } from '../volume/settings.js';

const FAST = { N: 2 ** 10, r: 8, p: 1 }; // for tests that are not about the defaults
const PASS = 'correct horse battery staple';

describe('passphrase → data key', () => {
  it('default parameters: scrypt N=2^15 r=8 p=1, base64 fields, round trip', async () => {
    const { params, dataKey } = await createEncryption(PASS);
    expect(params).toMatchObject({ kdf: 'scrypt', N: 2 ** 15, r: 8, p: 1 });
    expect(DEFAULT_SCRYPT).toEqual({ N: 2 ** 15, r: 8, p: 1 });
    expect(Buffer.from(params.salt, 'base64').length).toBe(16);
    expect(Buffer.from(params.wrappedKey, 'base64').length).toBe(12 + 32 + 16);
    expect(Buffer.from(params.verifier, 'base64').length).toBe(32);
    expect(dataKey.length).toBe(32);
    // The wrapped key is not the data key in the clear.
    expect(Buffer.from(params.wrappedKey, 'base64').includes(dataKey)).toBe(false);
    const unlocked = await unlockDataKey(JSON.parse(JSON.stringify(params)) as EncryptionParams, PASS);
    expect(unlocked.equals(dataKey)).toBe(true);
  });

  it('wrong passphrase is a clear error that does not echo any secret', async () => {
    const { params } = await createEncryption(PASS, FAST);
    const err = await unlockDataKey(params, 'correct horse battery stapler').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WrongPassphraseError);
    expect((err as Error).message).toBe('wrong passphrase for this volume');
    expect((err as Error).message).not.toContain('staple');
  });

  it('fresh salt and data key every time; passphrase is NFC-normalized', async () => {
    const a = await createEncryption('caf\u00e9', FAST);
    const b = await createEncryption('caf\u00e9', FAST);
    expect(a.params.salt).not.toBe(b.params.salt);
    expect(a.dataKey.equals(b.dataKey)).toBe(false);
    expect((await unlockDataKey(a.params, 'cafe\u0301')).equals(a.dataKey)).toBe(true);
  });

  it('re-wrapping keeps the data key (passphrase change)', async () => {
    const { params, dataKey } = await createEncryption(PASS, FAST);
    const key = await unlockDataKey(params, PASS);
    const next = await wrapDataKey(key, 'new passphrase', FAST);
    expect((await unlockDataKey(next, 'new passphrase')).equals(dataKey)).toBe(true);
    await expect(unlockDataKey(next, PASS)).rejects.toThrow('wrong passphrase for this volume');
  });

  it('damaged or hostile parameters are refused with errors naming the problem', async () => {
    const { params } = await createEncryption(PASS, FAST);
    const wrapped = Buffer.from(params.wrappedKey, 'base64');
    wrapped[20] ^= 1;
    await expect(unlockDataKey({ ...params, wrappedKey: wrapped.toString('base64') }, PASS)).rejects.toThrow(/damaged/);
    await expect(unlockDataKey({ ...params, verifier: randomBytes(32).toString('base64') }, PASS)).rejects.toThrow(WrongPassphraseError);
    await expect(unlockDataKey({ ...params, wrappedKey: 'AAAA' }, PASS)).rejects.toThrow(/wrappedKey has 3 bytes/);
    await expect(unlockDataKey({ ...params, salt: '!!' }, PASS)).rejects.toThrow(/salt is not base64/);
    await expect(unlockDataKey({ ...params, N: 2 ** 30 }, PASS)).rejects.toThrow(/scrypt N/);
    await expect(unlockDataKey({ ...params, N: 1000 }, PASS)).rejects.toThrow(/power of two/);
    await expect(unlockDataKey({ ...params, r: 0 }, PASS)).rejects.toThrow(/scrypt r/);
    await expect(unlockDataKey({ ...params, kdf: 'argon2id' as 'scrypt' }, PASS)).rejects.toThrow(/unsupported kdf/);
    await expect(unlockDataKey(params, '')).rejects.toThrow(/non-empty/);
    await expect(createEncryption('')).rejects.toThrow(/non-empty/);
  });

  it('an unlocked key drives the codec; a key unlocked elsewhere reads the same frames', async () => {
    const { params, dataKey } = await createEncryption(PASS, FAST);
    const writer = createCodec({ compression: 'lz4', dataKey, workers: 0 });
    const reader = createCodec({ compression: 'lz4', dataKey: await unlockDataKey(params, PASS), workers: 0 });
    try {
      const frame = await writer.encode('k/1', Buffer.from('secret text '.repeat(100)));
      expect(frame.includes(Buffer.from('secret'))).toBe(false);
      expect((await reader.decode('k/1', frame)).toString()).toBe('secret text '.repeat(100));
    } finally {
      await writer.close();
      await reader.close();
    }
  });
});

describe('scrypt runs off the event loop', () => {
  let stop = (): void => {};
  afterAll(() => stop());
  it('timers keep firing during a default-strength derivation', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    stop = () => clearInterval(timer);
    await createEncryption(PASS);
    stop();
    expect(ticks).toBeGreaterThan(0);
  });
});
