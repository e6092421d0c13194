import { FsError } from '../errors/index.js';

/**
 * What a volume token may do besides naming its volume (docs/SEMANTICS.md "Scoped tokens"):
 * read only, one subtree mounted as the root, an expiry, and the identities the server puts on
 * the caller of every operation (root squash, all squash). Stored with the token by both engines;
 * enforced by meta.flexfs for every operation of a session (server/session-scope.ts).
 */
export interface IdPair {
  uid: number;
  gid: number;
}

export interface TokenScope {
  /** Every mutating operation answers EROFS. */
  readOnly?: boolean;
  /** The subtree's path when the token was made (for display; the inode below is what counts). */
  subdir?: string;
  /** The subtree's directory inode, resolved when the token was made: the session's root. */
  subdirIno?: number;
  /** ms since the epoch: from then on the token is refused and its sessions are closed. */
  expiresAt?: number;
  /** Callers with uid 0 act as this uid:gid (no supplementary groups). */
  rootSquash?: IdPair;
  /** Every caller acts as this uid:gid (no supplementary groups). */
  allSquash?: IdPair;
}

export const SCOPE_FIELDS = ['readOnly', 'subdir', 'subdirIno', 'expiresAt', 'rootSquash', 'allSquash'] as const;

/** True when the token carries any restriction a session must enforce (expiry aside). */
export function hasSessionScope(s: TokenScope): boolean {
  return s.readOnly === true || s.subdirIno !== undefined || s.rootSquash !== undefined || s.allSquash !== undefined;
}

export function tokenExpired(s: TokenScope, now = Date.now()): boolean {
  return s.expiresAt !== undefined && now >= s.expiresAt;
}

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff_fffe;
const isPair = (v: unknown): v is IdPair =>
  typeof v === 'object' && v !== null && isId((v as IdPair).uid) && isId((v as IdPair).gid);

/**
 * The scope fields of a token spec, checked (EINVAL naming the field) and copied without
 * anything else; what the engines store. A scope needs a volume token (an admin token mounts any
 * volume and drives the admin API: no subtree or squash applies to it), except the expiry.
 */
export function checkTokenScope(spec: TokenScope & { admin?: boolean; volume?: string }): TokenScope {
  const out: TokenScope = {};
  if (spec.readOnly !== undefined && spec.readOnly !== false) {
    if (spec.readOnly !== true) throw new FsError('EINVAL', 'token readOnly must be true or false');
    out.readOnly = true;
  }
  if (spec.subdirIno !== undefined || spec.subdir !== undefined) {
    if (!isId(spec.subdirIno) || spec.subdirIno < 1) throw new FsError('EINVAL', 'token subdirIno must be a directory inode number');
    if (typeof spec.subdir !== 'string' || !spec.subdir.startsWith('/')) throw new FsError('EINVAL', 'token subdir must be an absolute path');
    if (spec.subdirIno !== 1) { out.subdir = spec.subdir; out.subdirIno = spec.subdirIno; }
  }
  if (spec.expiresAt !== undefined) {
    if (!Number.isSafeInteger(spec.expiresAt) || spec.expiresAt <= 0) throw new FsError('EINVAL', 'token expiresAt must be a time in ms since the epoch');
    out.expiresAt = spec.expiresAt;
  }
  for (const k of ['rootSquash', 'allSquash'] as const) {
    if (spec[k] === undefined) continue;
    if (!isPair(spec[k])) throw new FsError('EINVAL', `token ${k} must be {uid, gid} with whole numbers`);
    out[k] = { uid: spec[k].uid, gid: spec[k].gid };
  }
  if (out.rootSquash && out.allSquash) throw new FsError('EINVAL', 'a token takes rootSquash or allSquash, not both');
  if (spec.admin && hasSessionScope(out)) {
    throw new FsError('EINVAL', 'readOnly, subdir and squash apply to volume tokens (--volume), not admin tokens');
  }
  return out;
}

/** The scope fields of a stored record (anything else dropped). */
export function scopeOf(rec: TokenScope): TokenScope {
  const out: TokenScope = {};
  for (const k of SCOPE_FIELDS) if (rec[k] !== undefined) (out as Record<string, unknown>)[k] = rec[k];
  return out;
}
