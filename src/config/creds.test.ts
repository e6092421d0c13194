import { describe, expect, it } from 'vitest';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readCreds, writeCreds, requireField, mountCredsPath } from './creds.js';
import { tempDir } from '../../test/harness/ports.js';

describe('credentials files', () => {
  it('round-trips TOML with mode 0600', async () => {
    const dir = await tempDir();
    try {
      const p = join(dir.path, 'mount', 'creds', 'vol1');
      await writeCreds(p, { metaAddr: 'localhost:8443', token: 's3cr3t-token' });
      expect((await stat(p)).mode & 0o777).toBe(0o600);
      const c = await readCreds(p);
      expect(c.metaAddr).toBe('localhost:8443');
      expect(requireField(c, 'token', p)).toBe('s3cr3t-token');
    } finally { await dir.cleanup(); }
  });
  it('errors name the file, never the secret', async () => {
    const dir = await tempDir();
    try {
      const p = join(dir.path, 'bad');
      await writeFile(p, 'token = "hunter2"\nthis is not toml', { mode: 0o600 });
      await expect(readCreds(p)).rejects.toThrow(/not valid TOML/);
      await expect(readCreds(p)).rejects.not.toThrow(/hunter2/);
      await expect(readCreds(join(dir.path, 'missing'))).rejects.toThrow(/does not exist/);
      expect(() => requireField({ token: 'x' }, 'secret', p)).toThrow(/has no "secret"/);
      expect(() => mountCredsPath('../etc')).toThrow(/invalid volume name/);
    } finally { await dir.cleanup(); }
  });
  it('refuses a file group or others may access, saying "chmod 600 FILE"', async () => {
    const dir = await tempDir();
    try {
      const p = join(dir.path, 'creds');
      await writeCreds(p, { token: 'hunter2' });
      for (const mode of [0o644, 0o640, 0o604, 0o620]) {
        await chmod(p, mode);
        const err = await readCreds(p).then(() => null, (e: Error) => e);
        expect(err?.message).toContain(`chmod 600 ${p}`);
        expect(err?.message).not.toContain('hunter2');
      }
      await chmod(p, 0o644);
      expect((await readCreds(p, { allowOpenMode: true })).token).toBe('hunter2'); // init creds rewrites it
      await chmod(p, 0o400);
      expect((await readCreds(p)).token).toBe('hunter2');
    } finally { await dir.cleanup(); }
  });
});
