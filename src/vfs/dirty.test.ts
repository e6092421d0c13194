import { describe, expect, it } from 'vitest';
import { DirtyBlock } from './dirty.js';
import { DirtyBudget } from './budget.js';

describe('DirtyBlock', () => {
  it('copies incoming data, merges ranges, grows in steps and knows when it is full', () => {
    const d = new DirtyBlock(16384);
    const src = Buffer.from('abcd');
    d.grow(d.capacityFor(104));
    d.write(100, src);
    src.write('zzzz'); // the caller reuses its buffer
    d.write(0, Buffer.from('01'));
    d.write(2, Buffer.from('23'));
    expect(d.ranges).toEqual([[0, 4], [100, 104]]);
    expect(d.capacity).toBe(4096);
    const out = Buffer.alloc(8, '.');
    d.overlay(out, 98);
    expect(out.toString()).toBe('..abcd..');
    d.clip(102);
    expect(d.ranges).toEqual([[0, 4], [100, 102]]);
    expect(d.isFull).toBe(false);
    d.grow(d.capacityFor(16384));
    d.write(0, Buffer.alloc(16384, 1));
    expect(d.isFull).toBe(true);
  });
});

describe('DirtyBlock growth', () => {
  it('doubles up to 256 KiB, then goes straight to the block size', () => {
    const bs = 4 * 2 ** 20;
    const d = new DirtyBlock(bs);
    expect(d.capacityFor(100)).toBe(4096);
    expect(d.capacityFor(131072)).toBe(131072);
    expect(d.capacityFor(262144)).toBe(262144);
    expect(d.capacityFor(262145)).toBe(bs);
    const small = new DirtyBlock(256 * 1024);
    expect(small.capacityFor(200_000)).toBe(256 * 1024);
  });
});

describe('DirtyBudget', () => {
  it('admits within the limit, makes others wait, and fails with EIO after the deadline', async () => {
    const b = new DirtyBudget(100);
    await b.reserve(80, 1000);
    let admitted = false;
    const waiting = b.reserve(50, 1000).then(() => (admitted = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(admitted).toBe(false);
    b.give(80);
    await waiting;
    expect(b.bytes).toBe(50);
    await b.reserve(50, 1000);
    await expect(b.reserve(10, 50)).rejects.toMatchObject({ code: 'EIO' });
    expect(b.bytes).toBe(100);
  });
});
