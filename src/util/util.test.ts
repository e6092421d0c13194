import { describe, expect, it } from 'vitest';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './mode.js';
import { Mutex } from './mutex.js';
import { SingleFlight } from './singleflight.js';

describe('SingleFlight', () => {
  it('shares one run among concurrent callers and does not cache failures', async () => {
    const sf = new SingleFlight<string, number>();
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const calls = Array.from({ length: 10 }, () => sf.run('k', async () => { runs++; await gate; return 42; }));
    expect(sf.size).toBe(1);
    release();
    expect(await Promise.all(calls)).toEqual(Array(10).fill(42));
    expect(runs).toBe(1);
    await expect(sf.run('e', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await sf.run('e', async () => 7)).toBe(7);
    expect(sf.size).toBe(0);
  });

  it('a synchronous throw is a rejection and leaves no stale entry', async () => {
    const sf = new SingleFlight<number, number>();
    await expect(sf.run(1, () => { throw new Error('sync throw'); })).rejects.toThrow('sync throw');
    expect(sf.size).toBe(0);
    expect(await sf.run(1, async () => 3)).toBe(3);
  });
});

describe('Mutex', () => {
  it('runs sections one at a time in call order, past a failing one', async () => {
    const m = new Mutex();
    const log: string[] = [];
    let inside = 0;
    const section = (name: string, fail = false) => m.run(async () => {
      inside++;
      expect(inside).toBe(1);
      log.push(`${name}<`);
      await new Promise((r) => setImmediate(r));
      log.push(`>${name}`);
      inside--;
      if (fail) throw new Error(name);
      return name;
    });
    const results = await Promise.allSettled([section('a'), section('b', true), section('c')]);
    expect(log).toEqual(['a<', '>a', 'b<', '>b', 'c<', '>c']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });
});

describe('mode bits', () => {
  it('are the Linux st_mode values', () => {
    expect([S_IFMT, S_IFREG, S_IFDIR, S_IFLNK]).toEqual([0o170000, 0o100000, 0o040000, 0o120000]);
  });
});
