/**
 * Passphrase → data key for end-to-end encrypted volumes (docs/FORMAT.md, "Key handling"):
 * scrypt(passphrase NFC, salt) → 64 bytes = key-encryption key (32) ‖ verifier key (32).
 * The random 256-bit data key is wrapped with AES-256-GCM under the KEK; the verifier is
 * HMAC-SHA256(verifier key, VERIFIER_LABEL), so a wrong passphrase is named as such.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { EncryptionParams } from '../volume/settings.js';
import { DATA_KEY_LENGTH } from './frame.js';

export const DEFAULT_SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_LENGTH = 16;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
const WRAPPED_LENGTH = NONCE_LENGTH + DATA_KEY_LENGTH + TAG_LENGTH;
const VERIFIER_LENGTH = 32;
const WRAP_AAD = Buffer.from('flexfs data key v1', 'utf8');
const VERIFIER_LABEL = Buffer.from('flexfs passphrase verifier v1', 'utf8');
/** Upper bound on scrypt memory (128·N·r): stored parameters come from the server, so they are bounded. */
const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024;

export class WrongPassphraseError extends Error {
  constructor() {
    super('wrong passphrase for this volume');
    this.name = 'WrongPassphraseError';
  }
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

function checkScrypt({ N, r, p }: ScryptParams): void {
  const pow2 = Number.isInteger(N) && N >= 2 ** 10 && N <= 2 ** 22 && (N & (N - 1)) === 0;
  if (!pow2) throw new Error(`scrypt N must be a power of two between 2^10 and 2^22, got ${N}`);
  if (!Number.isInteger(r) || r < 1 || r > 32) throw new Error(`scrypt r must be an integer 1..32, got ${r}`);
  if (!Number.isInteger(p) || p < 1 || p > 16) throw new Error(`scrypt p must be an integer 1..16, got ${p}`);
  if (128 * N * r > MAX_SCRYPT_MEMORY) throw new Error(`scrypt N=${N} r=${r} needs more than ${MAX_SCRYPT_MEMORY} bytes`);
}

function checkPassphrase(passphrase: unknown): string {
  if (typeof passphrase !== 'string' || passphrase.length === 0) throw new Error('passphrase must be a non-empty string');
  return passphrase.normalize('NFC');
}

async function deriveKeys(passphrase: string, salt: Buffer, params: ScryptParams): Promise<{ kek: Buffer; verifierKey: Buffer }> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r * 2 };
  const out = await new Promise<Buffer>((resolve, reject) => {
    scrypt(Buffer.from(passphrase, 'utf8'), salt, 64, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
  return { kek: out.subarray(0, 32), verifierKey: out.subarray(32, 64) };
}

function verifierOf(verifierKey: Buffer): Buffer {
  return createHmac('sha256', verifierKey).update(VERIFIER_LABEL).digest();
}

/** Wraps an existing data key under a passphrase (new salt, new nonce): used to change a passphrase. */
export async function wrapDataKey(dataKey: Buffer, passphrase: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<EncryptionParams> {
  if (!Buffer.isBuffer(dataKey) || dataKey.length !== DATA_KEY_LENGTH) throw new Error(`data key must be ${DATA_KEY_LENGTH} bytes`);
  const pass = checkPassphrase(passphrase);
  checkScrypt(params);
  const salt = randomBytes(SALT_LENGTH);
  const { kek, verifierKey } = await deriveKeys(pass, salt, params);
  const nonce = randomBytes(NONCE_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', kek, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(WRAP_AAD);
  const wrapped = Buffer.concat([nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  return {
    kdf: 'scrypt',
    salt: salt.toString('base64'),
    N: params.N,
    r: params.r,
    p: params.p,
    wrappedKey: wrapped.toString('base64'),
    verifier: verifierOf(verifierKey).toString('base64'),
  };
}

/** New random data key for a volume, wrapped under `passphrase`. */
export async function createEncryption(passphrase: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<{ params: EncryptionParams; dataKey: Buffer }> {
  const dataKey = randomBytes(DATA_KEY_LENGTH);
  return { params: await wrapDataKey(dataKey, passphrase, params), dataKey };
}

function decodeField(params: EncryptionParams, name: 'salt' | 'wrappedKey' | 'verifier', length?: number): Buffer {
  const value = params[name];
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new Error(`encryption parameters: ${name} is not base64`);
  const buf = Buffer.from(value, 'base64');
  if (length !== undefined ? buf.length !== length : buf.length < SALT_LENGTH) {
    throw new Error(`encryption parameters: ${name} has ${buf.length} bytes, expected ${length ?? `at least ${SALT_LENGTH}`}`);
  }
  return buf;
}

/** Unwraps the volume's data key. Throws WrongPassphraseError ("wrong passphrase for this volume"). */
export async function unlockDataKey(params: EncryptionParams, passphrase: string): Promise<Buffer> {
  if (!params || params.kdf !== 'scrypt') throw new Error(`encryption parameters: unsupported kdf ${JSON.stringify(params?.kdf)}`);
  const pass = checkPassphrase(passphrase);
  const scryptParams = { N: params.N, r: params.r, p: params.p };
  checkScrypt(scryptParams);
  const salt = decodeField(params, 'salt');
  const wrapped = decodeField(params, 'wrappedKey', WRAPPED_LENGTH);
  const verifier = decodeField(params, 'verifier', VERIFIER_LENGTH);
  const { kek, verifierKey } = await deriveKeys(pass, salt, scryptParams);
  if (!timingSafeEqual(verifierOf(verifierKey), verifier)) throw new WrongPassphraseError();
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, wrapped.subarray(0, NONCE_LENGTH), { authTagLength: TAG_LENGTH });
    decipher.setAAD(WRAP_AAD);
    decipher.setAuthTag(wrapped.subarray(NONCE_LENGTH + DATA_KEY_LENGTH));
    return Buffer.concat([decipher.update(wrapped.subarray(NONCE_LENGTH, NONCE_LENGTH + DATA_KEY_LENGTH)), decipher.final()]);
  } catch {
    // The passphrase is right (verifier matched) but the wrapped key was altered.
    throw new Error('encryption parameters are damaged: the data key does not unwrap');
  }
}
