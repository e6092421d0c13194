import { describe, expect, it } from 'vitest';
import { blockKey } from '../store/keys.js';
import { keyFromPath, pathForKey, validateBlockKey } from './keys.js';

const rules = { prefix: '' };

describe('proxy key validation', () => {
  const good = blockKey('vol1', 7, 3, 123456);

  it('accepts block keys and round-trips them through a request path', () => {
    expect(validateBlockKey(good, rules)).toBe(good);
    expect(keyFromPath(pathForKey(good), rules)).toBe(good);
    expect(keyFromPath(pathForKey(good), { prefix: 'vol1' })).toBe(good);
  });

  it.each([
    ['/v1/blocks/../../etc/passwd', /"\.\." segment|"\." or "\.\."/],
    ['/v1/blocks/%2e%2e/%2e%2e/etc/passwd', /"\." or "\.\."/],
    ['/v1/blocks/vol1/blocks/..%2F..%2Fetc', /"\." or "\.\."/],
    ['/v1/blocks//etc/passwd', /absolute/],
    ['/v1/blocks/%2Fetc%2Fpasswd', /absolute/],
    ['/v1/blocks/vol1\\blocks\\x', /backslash/],
    ['/v1/blocks/vol1%5Cblocks', /backslash/],
    ['/v1/blocks/vol1/blocks/%00', /control character/],
    ['/v1/blocks/vol1//blocks', /empty path segment/],
    ['/v1/blocks/%E0%A4%A', /percent-encoding/],
    ['/v1/blocks/', /empty key/],
    ['/v1/blocks/meta/backup.db', /not a block object key/],
  ])('refuses %s', (path, why) => {
    expect(() => keyFromPath(path, rules)).toThrow(why);
  });

  it('refuses keys outside the configured prefix, including look-alike prefixes', () => {
    expect(() => validateBlockKey(good, { prefix: 'vol2' })).toThrow(/outside the configured prefix/);
    expect(() => validateBlockKey(blockKey('vol10', 1, 0, 5), { prefix: 'vol1' })).toThrow(/outside/);
  });

  it('anyKey lifts only the block-shape rule', () => {
    expect(validateBlockKey('some/object', { prefix: '', anyKey: true })).toBe('some/object');
    expect(() => validateBlockKey('some/../object', { prefix: '', anyKey: true })).toThrow();
  });
});
