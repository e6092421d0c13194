import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants as C } from 'node:fs';
import { FsError } from '../../src/errors/index.js';
import type { MetaStore } from '../../src/meta/types.js';
import { ACL_ACCESS, ACL_DEFAULT, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER, ACL_USER, ACL_USER_OBJ, decodeAcl, encodeAcl } from '../../src/vfs/acl.js';
import type { FlexFileSystem } from '../../src/vfs/index.js';
import { ALICE, makeVolume, ROOT, type TestVolume } from './volume.js';

const U = 0xffffffff;
/** u::rw-, u:1000:rw-, g::r--, m::rw-, o::--- (mode 0660). */
const ALICE_RW = encodeAcl([
  { tag: ACL_USER_OBJ, perm: 6, id: U }, { tag: ACL_USER, perm: 6, id: 1000 }, { tag: ACL_GROUP_OBJ, perm: 4, id: U },
  { tag: ACL_MASK, perm: 6, id: U }, { tag: ACL_OTHER, perm: 0, id: U },
]);

/**
 * ACL ordering against a real sqlite engine, through a fault-injecting wrapper that fails the
 * ACL xattr write: the state left behind must never grant more than before or after.
 */
describe('VFS ACLs: mode and ACL in two metadata calls', () => {
  let vol: TestVolume;
  let fs: FlexFileSystem;
  let failXattr = false;

  beforeAll(async () => {
    vol = await makeVolume();
    const faulty = new Proxy(vol.meta, {
      get(target, prop, receiver) {
        if (prop === 'setxattr') {
          return (...args: Parameters<MetaStore['setxattr']>) => {
            if (failXattr && String(args[1]).startsWith('system.posix_acl')) return Promise.reject(new FsError('EIO', 'injected'));
            return target.setxattr(...args);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    fs = await vol.mount({ meta: faulty });
    await fs.chmod('/', 0o777, ROOT);
  });
  afterAll(async () => {
    await vol?.cleanup();
  });

  async function mode(path: string): Promise<number> {
    return (await fs.getattr(path, ROOT)).mode & 0o7777;
  }

  it('setting an ACL narrows the mode first: a failed ACL write leaves less than either state', async () => {
    const fh = await fs.create('/f', 0o604, C.O_WRONLY | C.O_CREAT, ROOT);
    await fs.release('/f', fh, ROOT);
    failXattr = true;
    await expect(fs.setxattr('/f', ACL_ACCESS, ALICE_RW, 0, ROOT)).rejects.toMatchObject({ code: 'EIO' });
    failXattr = false;
    expect(await mode('/f')).toBe(0o600); // 0604 ∩ 0660: others lost r, the group has not gained it
    await expect(fs.open('/f', C.O_RDONLY, ALICE)).rejects.toMatchObject({ code: 'EACCES' });
    await fs.setxattr('/f', ACL_ACCESS, ALICE_RW, 0, ROOT);
    expect(await mode('/f')).toBe(0o660);
    await fs.release('/f', await fs.open('/f', C.O_RDWR, ALICE), ALICE);
    // The stored value follows chmod; reads answer it with the mode laid over.
    await fs.chmod('/f', 0o640, ROOT);
    const stored = decodeAcl(await vol.meta.getxattr((await fs.getattr('/f', ROOT)).ino, ACL_ACCESS, ROOT))!;
    expect(stored.find((e) => e.tag === ACL_MASK)!.perm).toBe(4);
    await expect(fs.open('/f', C.O_RDWR, ALICE)).rejects.toMatchObject({ code: 'EACCES' });
  });

  it('a new inode under a default ACL starts owner-only until its ACLs are written', async () => {
    await fs.mkdir('/d', 0o777, ROOT);
    await fs.setxattr('/d', ACL_DEFAULT, ALICE_RW, 0, ROOT);
    failXattr = true;
    await expect(fs.create('/d/f', 0o666, C.O_WRONLY | C.O_CREAT, ROOT)).rejects.toMatchObject({ code: 'EIO' });
    failXattr = false;
    expect(await mode('/d/f')).toBe(0o600);
    await fs.release('/d/g', await fs.create('/d/g', 0o666, C.O_WRONLY | C.O_CREAT, ROOT), ROOT);
    expect(await mode('/d/g')).toBe(0o660);
    expect(decodeAcl(await fs.getxattr('/d/g', ACL_ACCESS, ROOT))).toEqual(decodeAcl(ALICE_RW));
    await fs.release('/d/g', await fs.open('/d/g', C.O_WRONLY, ALICE), ALICE);
  });

  it('with acl off the names are EOPNOTSUPP and hidden from listxattr', async () => {
    const off = await vol.mount({ acl: false });
    await expect(off.getxattr('/f', ACL_ACCESS, ROOT)).rejects.toMatchObject({ code: 'ENOTSUP' });
    await expect(off.setxattr('/f', ACL_ACCESS, ALICE_RW, 0, ROOT)).rejects.toMatchObject({ code: 'ENOTSUP' });
    expect(await off.listxattr('/f', ROOT)).toEqual([]);
    expect(await fs.listxattr('/f', ROOT)).toEqual([ACL_ACCESS]);
  });
});
