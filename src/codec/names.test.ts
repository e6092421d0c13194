import { describe, expect, it } from 'vitest';
import { createCipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { createNameCipher, SEAL_OVERHEAD, SealError } from './names.js';
import { checkName, checkTarget, checkXattrName, checkXattrValue, sealedLength, sealedPlainLength } from '../meta/core/rules.js';

const dataKey = Buffer.from(Array.from({ length: 32 }, (_, i) => i));

describe('name encryption (src/codec/names.ts)', () => {
  it('is the construction docs/FORMAT.md gives byte by byte', async () => {
    const c = await createNameCipher(dataKey);
    // Recomputed here from the documented steps with node:crypto directly.
    const okm = Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), Buffer.from('flexfs names v1'), 64));
    const ctx = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 42]); // kind 1 (entry name) ‖ u64be(42)
    const plain = Buffer.from('hello.txt');
    const nonce = createHmac('sha256', okm.subarray(32)).update(ctx).update(plain).digest().subarray(0, 12);
    const gcm = createCipheriv('aes-256-gcm', okm.subarray(0, 32), nonce, { authTagLength: 16 });
    gcm.setAAD(ctx);
    const want = Buffer.concat([nonce, gcm.update(plain), gcm.final(), gcm.getAuthTag()]).toString('base64url');
    expect(c.sealName(42, 'hello.txt')).toBe(want);
    // The test vector printed in docs/FORMAT.md.
    expect(want).toBe('wj29ce4afD2V4rg7f8fgdCh4wJeg1uxbPWvTEJi3I665uyHPzg');
    expect(c.sealName(43, 'hello.txt')).toBe('Orv26kFAHYc2tg4dTAIH94mLEGmrQoFzvcuCtzdNdKV819Nz0g');
    expect(c.openName(42, want)).toBe('hello.txt');
  });

  it('entry names: deterministic, bound to the parent, plaintext never in the stored form', async () => {
    const c = await createNameCipher(dataKey);
    const a = c.sealName(7, 'report.pdf');
    expect(c.sealName(7, 'report.pdf')).toBe(a);
    expect(c.sealName(8, 'report.pdf')).not.toBe(a);
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(a).not.toContain('report');
    expect(() => c.openName(8, a)).toThrow(SealError); // moved to another directory
    const other = await createNameCipher(randomBytes(32));
    expect(() => other.openName(7, a)).toThrow(SealError); // another volume's key
    // Any flipped byte is refused, never garbage.
    const raw = Buffer.from(a, 'base64url');
    for (const i of [0, 11, 12, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[i] ^= 1;
      expect(() => c.openName(7, bad.toString('base64url'))).toThrow(SealError);
    }
    expect(() => c.openName(7, 'not/base64')).toThrow(SealError);
    // A non-canonical spelling of the same bytes (stray low bits in the last character) is refused.
    const last = a[a.length - 1];
    const alias = a.slice(0, -1) + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(last)) ^ 1];
    expect(Buffer.from(alias, 'base64url')).toEqual(Buffer.from(a, 'base64url'));
    expect(() => c.openName(7, alias)).toThrow(SealError);
    expect(() => c.openName(7, 'abc')).toThrow(SealError);
  });

  it('unicode and the longest names round-trip; the sealed form passes the server rules', async () => {
    const c = await createNameCipher(dataKey);
    for (const name of ['ü', 'Ωmega-文件-😀', 'x'.repeat(255), 'é'.repeat(127) + 'x', '😀'.repeat(63) + 'abc']) {
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
      const s = c.sealName(1, name);
      expect(c.openName(1, s)).toBe(name);
      expect(sealedPlainLength(s)).toBe(Buffer.byteLength(name));
      expect(() => checkName(s, true)).not.toThrow();
      expect(() => checkXattrName(c.sealXattrName(5, name), true)).not.toThrow();
    }
    const longest = c.sealName(1, 'y'.repeat(255));
    expect(longest.length).toBe(sealedLength(255));
    expect(longest.length).toBe(378);
    expect(() => checkName(c.sealName(1, 'y'.repeat(256)), true)).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }));
    // Plaintext names are refused on a volume with encrypted names (an old client, a bug).
    expect(() => checkName('hello.txt', true)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => checkName('', true)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('symlink targets and xattr values are randomized and bound; targets report their plaintext length', async () => {
    const c = await createNameCipher(dataKey);
    const t = '../some/where/τ';
    const s1 = c.sealTarget(t);
    expect(c.sealTarget(t)).not.toBe(s1);
    expect(c.openTarget(s1)).toBe(t);
    expect(checkTarget(s1, true)).toBe(Buffer.byteLength(t));
    const long = 'p'.repeat(4095);
    expect(checkTarget(c.sealTarget(long), true)).toBe(4095);
    expect(() => checkTarget(c.sealTarget(long + 'p'), true)).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }));

    const v = Buffer.from('value bytes');
    const sv = c.sealXattrValue(9, 'user.k', v);
    expect(sv.length).toBe(v.length + SEAL_OVERHEAD);
    expect(c.openXattrValue(9, 'user.k', sv)).toEqual(v);
    expect(() => c.openXattrValue(10, 'user.k', sv)).toThrow(SealError); // other inode
    expect(() => c.openXattrValue(9, 'user.j', sv)).toThrow(SealError); // other name
    expect(c.openXattrValue(9, 'user.e', c.sealXattrValue(9, 'user.e', Buffer.alloc(0)))).toEqual(Buffer.alloc(0));
    const big = c.sealXattrValue(9, 'user.big', Buffer.alloc(65536, 1));
    expect(() => checkXattrValue(big, true)).not.toThrow();
    expect(() => checkXattrValue(big, false)).toThrow(expect.objectContaining({ code: 'E2BIG' }));
    // Xattr names are deterministic per inode.
    expect(c.sealXattrName(9, 'user.k')).toBe(c.sealXattrName(9, 'user.k'));
    expect(c.sealXattrName(9, 'user.k')).not.toBe(c.sealXattrName(10, 'user.k'));
    expect(c.sealXattrName(9, 'user.k')).not.toBe(c.sealName(9, 'user.k'));
  });
});
