import { FsError } from '../errors/index.js';

/**
 * POSIX.1e ACLs in the Linux xattr format (what getfacl/setfacl, cp -a, rsync -A and tar --acls
 * exchange through `system.posix_acl_access` / `system.posix_acl_default`), and the pure rules
 * over them: validation, the mode an ACL implies, chmod, and inheritance from a default ACL.
 * No I/O here: src/vfs/acl-store.ts keeps them on inodes, src/vfs/permissions.ts evaluates them.
 *
 * Format: u32 version (2), then entries of { u16 tag, u16 perm, u32 id }, little-endian, sorted
 * by tag and, for named entries, by id.
 */

export const ACL_ACCESS = 'system.posix_acl_access';
export const ACL_DEFAULT = 'system.posix_acl_default';

export const ACL_USER_OBJ = 0x01;
export const ACL_USER = 0x02;
export const ACL_GROUP_OBJ = 0x04;
export const ACL_GROUP = 0x08;
export const ACL_MASK = 0x10;
export const ACL_OTHER = 0x20;

const VERSION = 2;
const HEADER = 4;
const ENTRY = 8;
const UNDEFINED_ID = 0xffffffff;

export interface AclEntry {
  tag: number;
  /** rwx bits (4, 2, 1). */
  perm: number;
  /** uid or gid for ACL_USER / ACL_GROUP; UNDEFINED_ID otherwise. */
  id: number;
}

/** A valid ACL: entries in canonical order (see validateAcl). */
export type Acl = AclEntry[];

export function isAclName(name: string): boolean {
  return name === ACL_ACCESS || name === ACL_DEFAULT;
}

const bad = (what: string): FsError => new FsError('EINVAL', `malformed POSIX ACL: ${what}`);

/**
 * Parse and validate an xattr value. An empty value or a header without entries means "no ACL"
 * (null), as the kernel reads it (setfacl -b on some paths, removal).
 */
export function decodeAcl(value: Buffer): Acl | null {
  if (value.length === 0) return null;
  if (value.length < HEADER || (value.length - HEADER) % ENTRY !== 0) {
    throw bad(`${value.length} bytes is not a 4-byte header plus 8-byte entries`);
  }
  const version = value.readUInt32LE(0);
  if (version !== VERSION) throw bad(`version ${version}, expected ${VERSION}`);
  const acl: Acl = [];
  for (let off = HEADER; off < value.length; off += ENTRY) {
    const tag = value.readUInt16LE(off);
    const perm = value.readUInt16LE(off + 2);
    const id = value.readUInt32LE(off + 4);
    acl.push({ tag, perm, id: tag === ACL_USER || tag === ACL_GROUP ? id : UNDEFINED_ID });
  }
  if (acl.length === 0) return null;
  validateAcl(acl);
  return acl;
}

export function encodeAcl(acl: Acl): Buffer {
  const out = Buffer.alloc(HEADER + ENTRY * acl.length);
  out.writeUInt32LE(VERSION, 0);
  acl.forEach((e, i) => {
    const off = HEADER + i * ENTRY;
    out.writeUInt16LE(e.tag, off);
    out.writeUInt16LE(e.perm, off + 2);
    out.writeUInt32LE(e.tag === ACL_USER || e.tag === ACL_GROUP ? e.id : UNDEFINED_ID, off + 4);
  });
  return out;
}

const TAG_ORDER = [ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER];
const TAG_NAME: Record<number, string> = {
  [ACL_USER_OBJ]: 'USER_OBJ', [ACL_USER]: 'USER', [ACL_GROUP_OBJ]: 'GROUP_OBJ', [ACL_GROUP]: 'GROUP',
  [ACL_MASK]: 'MASK', [ACL_OTHER]: 'OTHER',
};

/**
 * The rules of Linux's posix_acl_valid, stricter on order: exactly one USER_OBJ, GROUP_OBJ and
 * OTHER; at most one MASK, required when there are named entries; named entries sorted by id
 * without duplicates; entries in tag order; perms within rwx. Throws EINVAL naming the problem.
 */
export function validateAcl(acl: Acl): void {
  let lastRank = -1;
  let lastId = -1;
  const seen = new Map<number, number>();
  for (const e of acl) {
    const rank = TAG_ORDER.indexOf(e.tag);
    if (rank < 0) throw bad(`unknown tag 0x${e.tag.toString(16)}`);
    if ((e.perm & ~7) !== 0) throw bad(`${TAG_NAME[e.tag]} perm ${e.perm} is more than rwx (7)`);
    if (rank < lastRank) throw bad(`${TAG_NAME[e.tag]} entry out of order (entries go USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER)`);
    const named = e.tag === ACL_USER || e.tag === ACL_GROUP;
    if (rank !== lastRank) lastId = -1;
    if (named) {
      if (e.id === lastId) throw bad(`duplicate ${TAG_NAME[e.tag]} entry for id ${e.id}`);
      if (e.id < lastId) throw bad(`${TAG_NAME[e.tag]} entries not sorted by id`);
      lastId = e.id;
    } else if (seen.has(e.tag)) {
      throw bad(`duplicate ${TAG_NAME[e.tag]} entry`);
    }
    seen.set(e.tag, (seen.get(e.tag) ?? 0) + 1);
    lastRank = rank;
  }
  for (const t of [ACL_USER_OBJ, ACL_GROUP_OBJ, ACL_OTHER]) if (!seen.has(t)) throw bad(`no ${TAG_NAME[t]} entry`);
  if ((seen.has(ACL_USER) || seen.has(ACL_GROUP)) && !seen.has(ACL_MASK)) throw bad('named entries without a MASK entry');
}

const find = (acl: Acl, tag: number): AclEntry | undefined => acl.find((e) => e.tag === tag);

/** Only the three base entries: the mode says it all (such an ACL is not stored, as on ext4). */
export function isModeEquivalent(acl: Acl): boolean {
  return acl.length === 3;
}

/** Permission bits (0o777) an access ACL implies: owner = USER_OBJ, group = MASK (else GROUP_OBJ), other = OTHER. */
export function modeOfAcl(acl: Acl): number {
  const group = find(acl, ACL_MASK) ?? find(acl, ACL_GROUP_OBJ)!;
  return (find(acl, ACL_USER_OBJ)!.perm << 6) | (group.perm << 3) | find(acl, ACL_OTHER)!.perm;
}

/**
 * The ACL with the mode's permission bits laid over (Linux posix_acl_chmod): the mode is the
 * authority for USER_OBJ, MASK (GROUP_OBJ without a mask) and OTHER.
 */
export function withMode(acl: Acl, mode: number): Acl {
  const hasMask = acl.some((e) => e.tag === ACL_MASK);
  return acl.map((e) => {
    if (e.tag === ACL_USER_OBJ) return { ...e, perm: (mode >> 6) & 7 };
    if (e.tag === ACL_MASK || (e.tag === ACL_GROUP_OBJ && !hasMask)) return { ...e, perm: (mode >> 3) & 7 };
    if (e.tag === ACL_OTHER) return { ...e, perm: mode & 7 };
    return e;
  });
}

export interface Inherited {
  /** Permission bits (0o777) of the new inode. */
  perm: number;
  /** Access ACL to store, absent when it is equivalent to the mode. */
  access?: Acl;
  /** Default ACL to store (directories only). */
  default?: Acl;
}

/**
 * What a new inode gets in a directory with default ACL `dflt` (Linux posix_acl_create): the
 * default ACL becomes its access ACL with USER_OBJ, MASK (else GROUP_OBJ) and OTHER limited by
 * the create mode, and the mode limited by those entries; a directory also inherits `dflt` as
 * its own default ACL.
 */
export function inheritAcl(dflt: Acl, createPerm: number, isDir: boolean): Inherited {
  let mode = createPerm & 0o777;
  const acl = dflt.map((e) => ({ ...e }));
  const mask = find(acl, ACL_MASK);
  for (const e of acl) {
    if (e.tag === ACL_USER_OBJ) {
      e.perm &= (mode >> 6) & 7;
      mode &= (e.perm << 6) | 0o077;
    } else if (e.tag === ACL_OTHER) {
      e.perm &= mode & 7;
      mode &= e.perm | 0o770;
    }
  }
  const group = mask ?? find(acl, ACL_GROUP_OBJ)!;
  group.perm &= (mode >> 3) & 7;
  mode &= (group.perm << 3) | 0o707;
  return {
    perm: mode,
    access: isModeEquivalent(acl) ? undefined : acl,
    default: isDir ? dflt : undefined,
  };
}
