import { describe, expect, it } from 'vitest';
import { LookupCounts } from './lookup-counts.js';

describe('LookupCounts (the kernel\'s nlookup per inode)', () => {
  it('adds one per entry reply, takes n away per forget, forgets the inode at 0', () => {
    const c = new LookupCounts();
    c.add(5); c.add(5); c.add(5); c.add(7);
    expect([c.of(5), c.of(7), c.size]).toEqual([3, 1, 2]);
    c.forget(5, 2);
    expect(c.of(5)).toBe(1);
    c.forget(5, 1);
    c.forget(7, 4); // a batch forget may name more than we counted (restarted counting): never negative
    expect([c.of(5), c.of(7), c.size]).toEqual([0, 0, 0]);
    c.forget(9, 1); // an inode never counted
    expect(c.size).toBe(0);
  });
});
