/**
 * Validation of block keys arriving at the proxy. A key is used both as a bucket key and (hashed)
 * as a cache file name, so anything that could escape a folder or address objects the proxy is not
 * meant to serve is refused before it reaches either: '..' / '.' segments, absolute paths, empty
 * segments, backslashes, NUL and other control characters, and keys outside the configured prefix.
 */
import { parseBlockKey } from '../store/keys.js';

export const MAX_KEY_LENGTH = 1024;

export interface KeyRules {
  /** Only keys under `prefix/` are served ('' = no prefix rule). */
  prefix: string;
  /** Accept any well-formed key, not only block object keys `<volume>/blocks/<hh>/<ino>_<index>_<id>`. */
  anyKey?: boolean;
}

export class BadKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadKeyError';
  }
}

/** Normalise a prefix option: '' (anything) or 'a/b' without leading/trailing slashes. */
export function normalizePrefix(prefix: string | undefined): string {
  const p = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (p !== '') validateBlockKey(p, { prefix: '', anyKey: true });
  return p;
}

/** Throws BadKeyError naming the problem; returns the key when it is acceptable. */
export function validateBlockKey(key: string, rules: KeyRules): string {
  const { prefix } = rules;
  if (key.length === 0) throw new BadKeyError('empty key');
  if (Buffer.byteLength(key) > MAX_KEY_LENGTH) throw new BadKeyError(`key longer than ${MAX_KEY_LENGTH} bytes`);
  if (key.includes('\\')) throw new BadKeyError('key contains a backslash');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new BadKeyError('key contains a control character');
  if (key.startsWith('/')) throw new BadKeyError('key is an absolute path');
  for (const seg of key.split('/')) {
    if (seg === '') throw new BadKeyError('key contains an empty path segment');
    if (seg === '.' || seg === '..') throw new BadKeyError('key contains a "." or ".." segment');
  }
  if (prefix !== '' && !key.startsWith(prefix + '/')) throw new BadKeyError('key is outside the configured prefix');
  if (!rules.anyKey && !parseBlockKey(key)) throw new BadKeyError('key is not a block object key');
  return key;
}

/**
 * The key from a request path `/v1/blocks/<key>` (percent-decoded once), or a BadKeyError.
 * Decoding happens before validation, so `%2e%2e` and `%00` are caught as what they decode to.
 */
export function keyFromPath(rawPath: string, rules: KeyRules): string {
  const base = '/v1/blocks/';
  if (!rawPath.startsWith(base)) throw new BadKeyError('not a block path');
  let key: string;
  try {
    key = decodeURIComponent(rawPath.slice(base.length));
  } catch {
    throw new BadKeyError('key is not valid percent-encoding');
  }
  return validateBlockKey(key, rules);
}

/** Request path for a key: each segment percent-encoded, slashes kept. */
export function pathForKey(key: string): string {
  return '/v1/blocks/' + key.split('/').map(encodeURIComponent).join('/');
}
