import { describe, expect, it } from 'vitest';
import { FilePrefetch, type ListedFile } from './file-prefetch.js';

const ctx = { uid: 0, gid: 0 };
const files = (n: number, size = 10): ListedFile[] => Array.from({ length: n }, (_, i) => ({ ino: 100 + i, size }));

/** A FilePrefetch whose warm() records what it was asked for and finishes when told. */
function recorder(o = { ahead: 3, concurrency: 2, firstBytes: 1, maxTracked: 1000, mapsKept: 1 }) {
  const asked: number[] = [];
  const pending: (() => void)[] = [];
  const p = new FilePrefetch((f) => { asked.push(f.ino); return new Promise<void>((r) => pending.push(r)); }, o);
  const settle = async () => { while (pending.length) { pending.shift()!(); await new Promise((r) => setImmediate(r)); } };
  return { p, asked, pending, settle };
}

describe('FilePrefetch (files fetched ahead of a reader walking a listing in order)', () => {
  it('a single open fetches nothing; the second consecutive open fetches the next `ahead` files, each once', async () => {
    const { p, asked, settle } = recorder();
    p.listed(1, files(10));
    p.opened(100, ctx);
    expect(asked).toEqual([]);
    p.opened(101, ctx);
    await settle();
    expect(asked).toEqual([102, 103, 104]);
    p.opened(102, ctx);
    await settle();
    expect(asked, 'each open extends the window by one, nothing twice').toEqual([102, 103, 104, 105]);
  });

  it('at most `concurrency` fetches run at once', async () => {
    const { p, asked, pending, settle } = recorder();
    p.listed(1, files(10));
    p.opened(100, ctx);
    p.opened(101, ctx);
    expect(asked).toEqual([102, 103]);
    expect(pending).toHaveLength(2);
    await settle();
    expect(asked).toEqual([102, 103, 104]);
  });

  it('out-of-order opens, files of unlisted directories and empty files fetch nothing', async () => {
    const { p, asked, settle } = recorder();
    const list = files(10);
    list[3].size = 0;
    p.listed(1, list);
    p.opened(105, ctx);
    p.opened(101, ctx);
    p.opened(107, ctx);
    p.opened(999, ctx);
    await settle();
    expect(asked).toEqual([]);
    p.opened(102, ctx);
    p.opened(103, ctx);
    await settle();
    expect(asked, 'the empty file is skipped').toEqual([104, 105, 106]);
  });

  it('a new listing of the directory starts over; stop() ends everything', async () => {
    const { p, asked, settle } = recorder();
    p.listed(1, files(10));
    p.opened(100, ctx);
    p.listed(1, files(4));
    p.opened(101, ctx);
    await settle();
    expect(asked, 'the open before the new listing does not count').toEqual([]);
    p.opened(102, ctx);
    await settle();
    expect(asked).toEqual([103]);
    p.stop();
    p.listed(2, files(5));
    p.opened(100, ctx);
    p.opened(101, ctx);
    await settle();
    expect(asked).toEqual([103]);
  });

  it('remembers at most maxTracked files: the oldest listings are forgotten', async () => {
    const { p, asked, settle } = recorder({ ahead: 3, concurrency: 2, firstBytes: 1, maxTracked: 12, mapsKept: 1 });
    p.listed(1, files(10));
    p.listed(2, files(10).map((f) => ({ ...f, ino: f.ino + 1000 })));
    p.opened(100, ctx);
    p.opened(101, ctx);
    await settle();
    expect(asked, 'directory 1 was forgotten').toEqual([]);
    p.opened(1100, ctx);
    p.opened(1101, ctx);
    await settle();
    expect(asked).toEqual([1102, 1103, 1104]);
  });
});
