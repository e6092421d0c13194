/**
 * Name encryption for end-to-end encrypted volumes (docs/FORMAT.md, "Encrypted names"): entry
 * names, symlink targets, xattr names and values are sealed in the mount so the metadata server
 * never sees them.
 *
 * Keys: HKDF-SHA256(data key, salt = empty, info = "flexfs names v1") → 64 bytes =
 * encryption key (32, AES-256-GCM) ‖ nonce key (32, HMAC-SHA256). The data key itself never
 * encrypts a name.
 *
 * Deterministic seal (entry names, xattr names), so a lookup by name finds the entry:
 *   nonce = HMAC-SHA256(nonce key, context ‖ plaintext)[0..12]
 *   ct ‖ tag = AES-256-GCM(encryption key, nonce, plaintext, AAD = context)
 *   stored = base64url(nonce ‖ ct ‖ tag), no padding
 * where context = kind (1 byte) ‖ inode (8 bytes, big-endian): the parent directory for a name,
 * the inode for an xattr name. Equal names in different directories therefore differ, and an
 * entry moved to another directory by the server does not open. Opening re-derives the nonce
 * from the plaintext and compares, so each plaintext has exactly one valid stored form.
 *
 * Randomized seal (symlink targets, xattr values): a random 12-byte nonce, same layout.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdf, randomBytes, timingSafeEqual } from 'node:crypto';
import { DATA_KEY_LENGTH } from './frame.js';

export const NAME_NONCE_LENGTH = 12;
export const NAME_TAG_LENGTH = 16;
/** Bytes a seal adds to its plaintext (before base64url). */
export const SEAL_OVERHEAD = NAME_NONCE_LENGTH + NAME_TAG_LENGTH;
const HKDF_INFO = Buffer.from('flexfs names v1', 'utf8');

/** What a sealed string belongs to: its first context byte (docs/FORMAT.md). */
export const SealKind = {
  entryName: 1,
  xattrName: 2,
  xattrValue: 3,
  symlinkTarget: 4,
} as const;
type Kind = (typeof SealKind)[keyof typeof SealKind];

/** A stored string or value that does not open: damaged, moved, or sealed under another key. */
export class SealError extends Error {
  constructor(what: string) {
    super(`${what} does not decrypt (damaged, moved by the server, or sealed with another key)`);
    this.name = 'SealError';
  }
}

/** context = kind ‖ u64be(ino); xattr values also bind the plaintext xattr name. */
function context(kind: Kind, ino: number, extra?: Buffer): Buffer {
  const c = Buffer.alloc(9);
  c[0] = kind;
  c.writeBigUInt64BE(BigInt(ino), 1);
  return extra ? Buffer.concat([c, extra]) : c;
}

export interface NameCipher {
  /** Deterministic: the stored (base64url) form of an entry name in directory `parent`. */
  sealName(parent: number, name: string): string;
  openName(parent: number, stored: string): string;
  sealXattrName(ino: number, name: string): string;
  openXattrName(ino: number, stored: string): string;
  /** Randomized; bound to the inode and the xattr's plaintext name. */
  sealXattrValue(ino: number, name: string, value: Buffer): Buffer;
  openXattrValue(ino: number, name: string, sealed: Buffer): Buffer;
  /** Randomized; see docs/FORMAT.md for why a target is not bound to its inode. */
  sealTarget(target: string): string;
  openTarget(stored: string): string;
}

/** Derive the name keys from a volume's 32-byte data key. */
export async function createNameCipher(dataKey: Buffer): Promise<NameCipher> {
  if (!Buffer.isBuffer(dataKey) || dataKey.length !== DATA_KEY_LENGTH) throw new Error(`data key must be ${DATA_KEY_LENGTH} bytes`);
  const okm = await new Promise<Buffer>((resolve, reject) => {
    hkdf('sha256', dataKey, Buffer.alloc(0), HKDF_INFO, 64, (err, key) => (err ? reject(err) : resolve(Buffer.from(key))));
  });
  const encKey = okm.subarray(0, 32);
  const nonceKey = okm.subarray(32, 64);

  const syntheticNonce = (ctx: Buffer, plain: Buffer): Buffer =>
    createHmac('sha256', nonceKey).update(ctx).update(plain).digest().subarray(0, NAME_NONCE_LENGTH);

  const seal = (nonce: Buffer, ctx: Buffer, plain: Buffer): Buffer => {
    const c = createCipheriv('aes-256-gcm', encKey, nonce, { authTagLength: NAME_TAG_LENGTH });
    c.setAAD(ctx);
    return Buffer.concat([nonce, c.update(plain), c.final(), c.getAuthTag()]);
  };
  const open = (ctx: Buffer, sealed: Buffer, what: string): Buffer => {
    if (sealed.length < SEAL_OVERHEAD) throw new SealError(what);
    try {
      const d = createDecipheriv('aes-256-gcm', encKey, sealed.subarray(0, NAME_NONCE_LENGTH), { authTagLength: NAME_TAG_LENGTH });
      d.setAAD(ctx);
      d.setAuthTag(sealed.subarray(sealed.length - NAME_TAG_LENGTH));
      return Buffer.concat([d.update(sealed.subarray(NAME_NONCE_LENGTH, sealed.length - NAME_TAG_LENGTH)), d.final()]);
    } catch {
      throw new SealError(what);
    }
  };
  const decode = (stored: string, what: string): Buffer => {
    if (typeof stored !== 'string' || !/^[A-Za-z0-9_-]+$/.test(stored) || stored.length % 4 === 1) throw new SealError(what);
    const bytes = Buffer.from(stored, 'base64url');
    // Canonical encoding only (no stray low bits in the last character): one stored form per seal.
    if (bytes.toString('base64url') !== stored) throw new SealError(what);
    return bytes;
  };
  const sealDeterministic = (ctx: Buffer, text: string): string => {
    const plain = Buffer.from(text, 'utf8');
    return seal(syntheticNonce(ctx, plain), ctx, plain).toString('base64url');
  };
  const openDeterministic = (ctx: Buffer, stored: string, what: string): string => {
    const sealed = decode(stored, what);
    const plain = open(ctx, sealed, what);
    // One valid stored form per plaintext: the nonce must be the one the plaintext derives.
    if (!timingSafeEqual(syntheticNonce(ctx, plain), sealed.subarray(0, NAME_NONCE_LENGTH))) throw new SealError(what);
    return plain.toString('utf8');
  };

  return {
    sealName: (parent, name) => sealDeterministic(context(SealKind.entryName, parent), name),
    openName: (parent, stored) => openDeterministic(context(SealKind.entryName, parent), stored, `an entry name in directory ${parent}`),
    sealXattrName: (ino, name) => sealDeterministic(context(SealKind.xattrName, ino), name),
    openXattrName: (ino, stored) => openDeterministic(context(SealKind.xattrName, ino), stored, `an xattr name of inode ${ino}`),
    sealXattrValue: (ino, name, value) =>
      seal(randomBytes(NAME_NONCE_LENGTH), context(SealKind.xattrValue, ino, Buffer.from(name, 'utf8')), value),
    openXattrValue: (ino, name, sealed) =>
      open(context(SealKind.xattrValue, ino, Buffer.from(name, 'utf8')), sealed, `the value of an xattr of inode ${ino}`),
    sealTarget: (target) => seal(randomBytes(NAME_NONCE_LENGTH), Buffer.from([SealKind.symlinkTarget]), Buffer.from(target, 'utf8')).toString('base64url'),
    openTarget: (stored) => open(Buffer.from([SealKind.symlinkTarget]), decode(stored, 'a symlink target'), 'a symlink target').toString('utf8'),
  };
}
