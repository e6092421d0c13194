import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as C } from 'node:fs';
import { makeVolume, ROOT, type TestVolume } from './volume.js';
import type { FlexFileSystem } from '../../src/vfs/index.js';
import { ROOT_INO, XATTR_CREATE, type MetaStore } from '../../src/meta/types.js';
import { createNameCipher } from '../../src/codec/names.js';

const errno = (code: string) => expect.objectContaining({ code });

/**
 * Encrypted names at the VFS level: a real sqlite engine under the name-encryption decorator,
 * as a mount composes it. The engine's own view (`raw`) must never hold a plaintext name,
 * target or xattr, and everything must still work by name through the VFS.
 */
describe('E2E volume: names, targets and xattrs are sealed before the metadata engine', () => {
  let vol: TestVolume;
  let fs: FlexFileSystem;
  let raw: MetaStore;

  beforeAll(async () => {
    vol = await makeVolume({ encrypted: true });
    fs = await vol.mount();
    raw = vol.engine.volume(vol.settings.id);
  });
  afterAll(async () => {
    await vol?.cleanup();
  });

  async function put(path: string, text: string): Promise<void> {
    const fh = await fs.create(path, 0o644, C.O_WRONLY | C.O_CREAT, ROOT);
    await fs.write(path, fh, Buffer.from(text), Buffer.byteLength(text), 0, ROOT);
    await fs.release(path, fh, ROOT);
  }
  async function cat(path: string): Promise<string> {
    const fh = await fs.open(path, C.O_RDONLY, ROOT);
    const buf = Buffer.alloc(1 << 16);
    const n = await fs.read(path, fh, buf, buf.length, 0, ROOT);
    await fs.release(path, fh, ROOT);
    return buf.subarray(0, n).toString();
  }
  /** Every name, target and xattr the engine holds, walked from the root through the raw store. */
  async function rawStrings(ino = ROOT_INO, out: string[] = []): Promise<string[]> {
    let cursor: string | undefined;
    do {
      const page = await raw.readdir(ino, ROOT, cursor);
      for (const e of page.entries) {
        out.push(e.name);
        if (e.attr.type === 'symlink') out.push(await raw.readlink(e.attr.ino, ROOT));
        for (const x of await raw.listxattr(e.attr.ino, ROOT)) {
          out.push(x, (await raw.getxattr(e.attr.ino, x, ROOT)).toString('latin1'));
        }
        if (e.attr.type === 'dir') await rawStrings(e.attr.ino, out);
      }
      cursor = page.next;
    } while (cursor);
    return out;
  }

  it('the new E2E volume carries the format flag', () => {
    expect(vol.settings.nameEncryption).toBe(1);
  });

  it('names (unicode, 255 bytes), rename across directories, symlinks, hard links and xattrs round-trip; the engine sees none of them', async () => {
    const long = 'L'.repeat(250) + 'ongxx';
    const uni = 'Grüße-文件-😀.txt';
    await fs.mkdir('/secret-dir-alpha', 0o755, ROOT);
    await fs.mkdir('/secret-dir-beta', 0o755, ROOT);
    await put(`/secret-dir-alpha/${uni}`, 'unicode body');
    await put(`/secret-dir-alpha/${long}`, 'long body');
    await expect(put(`/secret-dir-alpha/${long}x`, 'too long')).rejects.toEqual(errno('ENAMETOOLONG'));
    await put('/secret-dir-alpha/same-name', 'in alpha');
    await put('/secret-dir-beta/same-name', 'in beta');
    await fs.symlink('../secret-target-gamma/over/there', '/secret-dir-alpha/secret-link-delta', ROOT);
    await fs.link(`/secret-dir-alpha/${uni}`, '/secret-dir-beta/secret-hardlink-eta', ROOT);
    await fs.setxattr(`/secret-dir-alpha/${uni}`, 'user.secret-xattr-epsilon', Buffer.from('secret-value-zeta'), XATTR_CREATE, ROOT);
    await fs.setxattr('/secret-dir-beta', 'user.secret-xattr-epsilon', Buffer.from('secret-value-zeta'), 0, ROOT);

    // Readable by name.
    expect((await fs.readdir('/secret-dir-alpha', ROOT)).map((e) => e.name).sort())
      .toEqual([long, uni, 'same-name', 'secret-link-delta'].sort());
    expect(await cat(`/secret-dir-alpha/${uni}`)).toBe('unicode body');
    expect(await cat(`/secret-dir-alpha/${long}`)).toBe('long body');
    expect(await cat('/secret-dir-beta/same-name')).toBe('in beta');
    expect(await fs.readlink('/secret-dir-alpha/secret-link-delta', ROOT)).toBe('../secret-target-gamma/over/there');
    // st_size of a symlink is its plaintext target's length.
    expect((await fs.getattr('/secret-dir-alpha/secret-link-delta', ROOT)).size).toBe('../secret-target-gamma/over/there'.length);
    expect((await fs.getxattr(`/secret-dir-alpha/${uni}`, 'user.secret-xattr-epsilon', ROOT)).toString()).toBe('secret-value-zeta');
    expect(await fs.listxattr(`/secret-dir-alpha/${uni}`, ROOT)).toEqual(['user.secret-xattr-epsilon']);
    await expect(fs.setxattr(`/secret-dir-alpha/${uni}`, 'user.secret-xattr-epsilon', Buffer.from('x'), XATTR_CREATE, ROOT))
      .rejects.toEqual(errno('EEXIST'));

    // Rename across directories re-seals the name for the new parent, and replaces by name.
    await fs.rename(`/secret-dir-alpha/${uni}`, '/secret-dir-beta/moved-name-theta', ROOT);
    await fs.rename('/secret-dir-alpha/same-name', '/secret-dir-beta/same-name', ROOT);
    expect(await cat('/secret-dir-beta/moved-name-theta')).toBe('unicode body');
    expect(await cat('/secret-dir-beta/same-name')).toBe('in alpha');
    await expect(fs.getattr(`/secret-dir-alpha/${uni}`, ROOT)).rejects.toEqual(errno('ENOENT'));
    expect((await fs.readdir('/secret-dir-beta', ROOT)).map((e) => e.name).sort())
      .toEqual(['moved-name-theta', 'same-name', 'secret-hardlink-eta']);
    // A second client (fresh caches) finds everything by name.
    const other = await vol.mount();
    expect((await other.getattr('/secret-dir-beta/moved-name-theta', ROOT)).type).toBe('file');
    expect((await other.getxattr('/secret-dir-beta/secret-hardlink-eta', 'user.secret-xattr-epsilon', ROOT)).toString()).toBe('secret-value-zeta');
    await fs.removexattr('/secret-dir-beta/moved-name-theta', 'user.secret-xattr-epsilon', ROOT);
    expect(await fs.listxattr('/secret-dir-beta/moved-name-theta', ROOT)).toEqual([]);
    await fs.unlink('/secret-dir-beta/secret-hardlink-eta', ROOT);
    await fs.unlink('/secret-dir-alpha/secret-link-delta', ROOT);
    await fs.symlink('secret-target-iota', '/secret-dir-alpha/secret-link-delta', ROOT);
    await fs.rmdir('/secret-dir-alpha', ROOT).catch(() => undefined); // not empty: the long name is still there

    const stored = (await rawStrings()).join('\n');
    for (const word of ['secret', 'same-name', 'moved', 'Grüße', 'LLLL', 'xattr', 'value', 'target', 'hardlink', 'epsilon']) {
      expect(stored).not.toContain(word);
    }
    // The control: the engine itself holds what the decorator gave it (base64url strings).
    expect(stored.length).toBeGreaterThan(0);
  });

  it('a sealed entry the server moved to another directory, or damaged, is EIO, never garbage', async () => {
    await fs.mkdir('/d1', 0o755, ROOT);
    await fs.mkdir('/d2', 0o755, ROOT);
    await put('/d1/victim', 'v');
    const d1 = (await fs.getattr('/d1', ROOT)).ino;
    const d2 = (await fs.getattr('/d2', ROOT)).ino;
    const [entry] = (await raw.readdir(d1, ROOT)).entries;
    // What a hostile or broken server could do: rename the sealed entry as is into /d2.
    await raw.rename(d1, entry.name, d2, entry.name, ROOT);
    const fresh = await vol.mount();
    await expect(fresh.readdir('/d2', ROOT)).rejects.toEqual(errno('EIO'));
    await expect(fresh.getattr('/d2/victim', ROOT)).rejects.toEqual(errno('ENOENT'));
    // A symlink whose stored target was swapped for another sealed string.
    await fs.symlink('t', '/d1/ln', ROOT);
    const cipher = await createNameCipher(vol.dataKey!);
    const lnName = cipher.sealName(d1, 'ln');
    await raw.unlink(d1, lnName, ROOT);
    await raw.symlink(d1, lnName, cipher.sealName(1, 'not a target'), ROOT);
    await expect(fresh.readlink('/d1/ln', ROOT)).rejects.toEqual(errno('EIO'));
  });

  it('the engine refuses plaintext names on a volume with encrypted names (an older client)', async () => {
    await expect(raw.create(ROOT_INO, 'plain-name', 0o644, ROOT)).rejects.toEqual(errno('EINVAL'));
    await expect(raw.symlink(ROOT_INO, (await createNameCipher(vol.dataKey!)).sealName(1, 'ok'), '/plain/target', ROOT))
      .rejects.toEqual(errno('EINVAL'));
  });
});

describe('an older E2E volume (no nameEncryption flag) keeps plaintext names', () => {
  it('the decorator is not used and names are stored as given', async () => {
    const vol = await makeVolume({ encrypted: true, oldFormat: true });
    try {
      expect(vol.settings.nameEncryption).toBeUndefined();
      const fs = await vol.mount();
      await fs.mkdir('/old-style-dir', 0o755, ROOT);
      const raw = vol.engine.volume(vol.settings.id);
      expect((await raw.readdir(ROOT_INO, ROOT)).entries.map((e) => e.name)).toEqual(['old-style-dir']);
      expect((await fs.readdir('/', ROOT)).map((e) => e.name)).toEqual(['old-style-dir']);
    } finally {
      await vol.cleanup();
    }
  });
});
