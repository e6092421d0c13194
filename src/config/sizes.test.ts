import { describe, expect, it } from 'vitest';
import { parseSize, formatSize } from './sizes.js';

describe('parseSize', () => {
  it('reads bytes, suffixes and percentages', () => {
    expect(parseSize('1048576')).toBe(1048576);
    expect(parseSize('64M')).toBe(64 * 2 ** 20);
    expect(parseSize('10G')).toBe(10 * 2 ** 30);
    expect(parseSize('64MiB')).toBe(64 * 2 ** 20);
    expect(parseSize('4k')).toBe(4096);
    expect(parseSize('5%', 1000)).toBe(50);
  });
  it('rejects nonsense with a message naming the input', () => {
    expect(() => parseSize('lots')).toThrow(/"lots"/);
    expect(() => parseSize('5%')).toThrow(/percentage is not allowed/);
    expect(() => parseSize('150%', 10)).toThrow(/\(0, 100\]/);
    expect(() => parseSize('-1M')).toThrow();
  });
  it('formats', () => {
    expect(formatSize(512)).toBe('512 B');
    expect(formatSize(3 * 2 ** 20)).toBe('3.0 MiB');
  });
});
