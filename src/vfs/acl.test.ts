import { describe, expect, it } from 'vitest';
import type { Attr } from '../meta/types.js';
import {
  ACL_GROUP, ACL_GROUP_OBJ, ACL_MASK, ACL_OTHER, ACL_USER, ACL_USER_OBJ, decodeAcl, encodeAcl, inheritAcl,
  isModeEquivalent, modeOfAcl, withMode, type Acl,
} from './acl.js';
import { GroupLookup, permits, R_OK, W_OK, X_OK } from './permissions.js';

const U = 0xffffffff;
/** The kernel's xattr bytes for entries [tag, perm, id], version `version`. */
function raw(entries: [number, number, number][], version = 2): Buffer {
  const b = Buffer.alloc(4 + 8 * entries.length);
  b.writeUInt32LE(version, 0);
  entries.forEach(([t, p, id], i) => {
    b.writeUInt16LE(t, 4 + i * 8);
    b.writeUInt16LE(p, 6 + i * 8);
    b.writeUInt32LE(id, 8 + i * 8);
  });
  return b;
}

const named: [number, number, number][] = [
  [ACL_USER_OBJ, 6, U], [ACL_USER, 6, 1000], [ACL_USER, 4, 1001], [ACL_GROUP_OBJ, 4, U], [ACL_GROUP, 7, 2000],
  [ACL_MASK, 6, U], [ACL_OTHER, 0, U],
];

describe('POSIX ACL codec', () => {
  it('round-trips the kernel format and knows the mode it implies', () => {
    const acl = decodeAcl(raw(named))!;
    expect(acl.map((e) => e.tag)).toEqual([ACL_USER_OBJ, ACL_USER, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER]);
    expect(encodeAcl(acl)).toEqual(raw(named));
    expect(modeOfAcl(acl)).toBe(0o660); // group bits are the mask
    expect(isModeEquivalent(acl)).toBe(false);
    const base = decodeAcl(raw([[ACL_USER_OBJ, 7, U], [ACL_GROUP_OBJ, 5, U], [ACL_OTHER, 5, U]]))!;
    expect(isModeEquivalent(base)).toBe(true);
    expect(modeOfAcl(base)).toBe(0o755);
  });

  it('an empty value or a bare header is "no ACL"', () => {
    expect(decodeAcl(Buffer.alloc(0))).toBeNull();
    expect(decodeAcl(raw([]))).toBeNull();
  });

  it.each([
    ['bad version', raw([[ACL_USER_OBJ, 6, U], [ACL_GROUP_OBJ, 4, U], [ACL_OTHER, 4, U]], 1), /version 1/],
    ['bad size', Buffer.concat([raw([[ACL_USER_OBJ, 6, U]]), Buffer.alloc(3)]), /not a 4-byte header/],
    ['no USER_OBJ', raw([[ACL_GROUP_OBJ, 4, U], [ACL_OTHER, 4, U]]), /no USER_OBJ/],
    ['no GROUP_OBJ', raw([[ACL_USER_OBJ, 6, U], [ACL_OTHER, 4, U]]), /no GROUP_OBJ/],
    ['no OTHER', raw([[ACL_USER_OBJ, 6, U], [ACL_GROUP_OBJ, 4, U]]), /no OTHER/],
    ['named without MASK', raw([[ACL_USER_OBJ, 6, U], [ACL_USER, 4, 5], [ACL_GROUP_OBJ, 4, U], [ACL_OTHER, 4, U]]), /without a MASK/],
    ['duplicate named', raw([[ACL_USER_OBJ, 6, U], [ACL_USER, 4, 5], [ACL_USER, 4, 5], [ACL_GROUP_OBJ, 4, U], [ACL_MASK, 4, U], [ACL_OTHER, 4, U]]), /duplicate USER/],
    ['duplicate base', raw([[ACL_USER_OBJ, 6, U], [ACL_USER_OBJ, 6, U], [ACL_GROUP_OBJ, 4, U], [ACL_OTHER, 4, U]]), /duplicate USER_OBJ/],
    ['unsorted ids', raw([[ACL_USER_OBJ, 6, U], [ACL_USER, 4, 9], [ACL_USER, 4, 5], [ACL_GROUP_OBJ, 4, U], [ACL_MASK, 4, U], [ACL_OTHER, 4, U]]), /not sorted/],
    ['unsorted tags', raw([[ACL_USER_OBJ, 6, U], [ACL_GROUP_OBJ, 4, U], [ACL_USER, 4, 5], [ACL_MASK, 4, U], [ACL_OTHER, 4, U]]), /out of order/],
    ['perm > 7', raw([[ACL_USER_OBJ, 8, U], [ACL_GROUP_OBJ, 4, U], [ACL_OTHER, 4, U]]), /more than rwx/],
    ['unknown tag', raw([[ACL_USER_OBJ, 6, U], [0x40, 4, U], [ACL_GROUP_OBJ, 4, U], [ACL_OTHER, 4, U]]), /unknown tag/],
  ])('%s is EINVAL', (_name, value, message) => {
    expect(() => decodeAcl(value)).toThrow(message);
    expect(() => decodeAcl(value)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

describe('POSIX ACL rules', () => {
  it('chmod sets USER_OBJ, MASK (GROUP_OBJ without one) and OTHER', () => {
    const acl = decodeAcl(raw(named))!;
    const after = withMode(acl, 0o751);
    expect(after.map((e) => e.perm)).toEqual([7, 6, 4, 4, 7, 5, 1]);
    const base = decodeAcl(raw([[ACL_USER_OBJ, 6, U], [ACL_GROUP_OBJ, 4, U], [ACL_OTHER, 4, U]]))!;
    expect(withMode(base, 0o640).map((e) => e.perm)).toEqual([6, 4, 0]);
  });

  it('inheritance masks the create mode by the default ACL and the ACL by the mode', () => {
    const dflt = decodeAcl(raw([[ACL_USER_OBJ, 7, U], [ACL_USER, 7, 1000], [ACL_GROUP_OBJ, 5, U], [ACL_MASK, 7, U], [ACL_OTHER, 0, U]]))!;
    const file = inheritAcl(dflt, 0o666, false);
    expect(file.perm).toBe(0o660);
    expect(file.access!.map((e) => e.perm)).toEqual([6, 7, 5, 6, 0]);
    expect(file.default).toBeUndefined();
    const dir = inheritAcl(dflt, 0o777, true);
    expect(dir.perm).toBe(0o770);
    expect(dir.default).toEqual(dflt);
    // A default ACL of base entries only: no access ACL stored, the mode is masked by it.
    const plain = inheritAcl(decodeAcl(raw([[ACL_USER_OBJ, 7, U], [ACL_GROUP_OBJ, 5, U], [ACL_OTHER, 1, U]]))!, 0o666, false);
    expect(plain).toEqual({ perm: 0o640, access: undefined, default: undefined });
  });

  it('permission checks: named users and groups through the mask, then other', async () => {
    const acl: Acl = decodeAcl(raw(named))!;
    const attr: Attr = {
      ino: 5, type: 'file', mode: 0o100660, uid: 0, gid: 50, nlink: 1, size: 0, rdev: 0,
      atime: 0n, mtime: 0n, ctime: 0n, btime: 0n, generation: 1,
    };
    const groups = new GroupLookup();
    const who = (uid: number, gid = uid) => ({ uid, gid, pid: 0 });
    expect(await permits(attr, R_OK | W_OK, who(1000), groups, acl)).toBe(true);
    expect(await permits(attr, W_OK, who(1001), groups, acl)).toBe(false); // entry r--
    expect(await permits(attr, X_OK, who(1000, 2000), groups, acl)).toBe(false); // named user decides, no x
    expect(await permits(attr, R_OK | W_OK, who(1002, 2000), groups, acl)).toBe(true); // group rwx & mask rw-
    expect(await permits(attr, X_OK, who(1002, 2000), groups, acl)).toBe(false); // masked
    expect(await permits(attr, R_OK, who(1002, 50), groups, acl)).toBe(true); // owning group r--
    expect(await permits(attr, W_OK, who(1002, 50), groups, acl)).toBe(false);
    expect(await permits(attr, R_OK, who(1003), groups, acl)).toBe(false); // other ---
    // The mode is the mask: chmod g-w takes write from the named user.
    expect(await permits({ ...attr, mode: 0o100640 }, W_OK, who(1000), groups, acl)).toBe(false);
    // The owner class is the mode's owner bits, root passes.
    expect(await permits({ ...attr, uid: 1000 }, X_OK, who(1000), groups, acl)).toBe(false);
    expect(await permits(attr, R_OK | W_OK, who(0), groups, acl)).toBe(true);
  });
});
