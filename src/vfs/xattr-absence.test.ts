import { describe, expect, it } from 'vitest';
import { FsError } from '../errors/index.js';
import { CAPABILITY_XATTR, XattrAbsenceCache } from './xattr-absence.js';

const missing = () => Promise.reject(new FsError('ENODATA', 'no such attribute'));

describe('XattrAbsenceCache', () => {
  it('remembers an absence until it expires, and only for security.capability', async () => {
    const c = new XattrAbsenceCache(10, 30_000);
    let calls = 0;
    const fetch = () => { calls++; return missing(); };
    await expect(c.get(7, CAPABILITY_XATTR, fetch)).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(c.get(7, CAPABILITY_XATTR, fetch)).rejects.toMatchObject({ code: 'ENODATA' });
    expect(calls).toBe(1);
    await expect(c.get(7, 'user.x', fetch)).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(c.get(7, 'user.x', fetch)).rejects.toMatchObject({ code: 'ENODATA' });
    expect(calls).toBe(3);
    expect(c.isAbsent(7, Date.now() + 29_000)).toBe(true);
    expect(c.isAbsent(7, Date.now() + 31_000)).toBe(false); // expired: another client may have set it
    expect(c.size).toBe(0);
  });

  it('is bounded: the oldest entries go first', () => {
    const c = new XattrAbsenceCache(3);
    for (let ino = 1; ino <= 5; ino++) c.markAbsent(ino);
    expect(c.size).toBe(3);
    expect([1, 2, 3, 4, 5].map((i) => c.isAbsent(i))).toEqual([false, false, true, true, true]);
  });

  it('does not remember an absence fetched while this mount changed xattrs', async () => {
    const c = new XattrAbsenceCache();
    let answer!: (e: Error) => void;
    const pending = c.get(9, CAPABILITY_XATTR, () => new Promise<Buffer>((_r, rej) => { answer = rej; }));
    c.forget(9); // a setxattr finished meanwhile
    answer(new FsError('ENODATA'));
    await expect(pending).rejects.toMatchObject({ code: 'ENODATA' });
    expect(c.isAbsent(9)).toBe(false);
    // A value, or another error, is never cached.
    await expect(c.get(9, CAPABILITY_XATTR, () => Promise.reject(new FsError('EIO')))).rejects.toMatchObject({ code: 'EIO' });
    expect(c.isAbsent(9)).toBe(false);
    expect((await c.get(9, CAPABILITY_XATTR, () => Promise.resolve(Buffer.from('v')))).toString()).toBe('v');
    expect(c.isAbsent(9)).toBe(false);
  });
});
