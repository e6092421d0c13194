import { describe, expect, it } from 'vitest';
import {
  F_RDLCK, F_UNLCK, F_WRLCK, closesCycle, conflicts, decodeLocks, dropOwners, emptyLocks, encodeLocks, flockConflicts,
  setFlock, setRange, type LockSet,
} from './table.js';

const ranges = (s: LockSet, owner?: string) =>
  s.posix.filter((l) => owner === undefined || l.owner === owner).map((l) => [l.owner, l.type, l.start, l.end]);

describe('lock table rules', () => {
  it('merges touching locks of one type, splits on unlock, upgrades and downgrades a sub-range', () => {
    let s = setRange(emptyLocks(), 'a', F_RDLCK, 0, 10, 1);
    s = setRange(s, 'a', F_RDLCK, 10, 20, 1); // touching: one lock
    expect(ranges(s)).toEqual([['a', F_RDLCK, 0, 20]]);
    s = setRange(s, 'a', F_UNLCK, 5, 8, 1); // split
    expect(ranges(s)).toEqual([['a', F_RDLCK, 0, 5], ['a', F_RDLCK, 8, 20]]);
    s = setRange(s, 'a', F_WRLCK, 10, 12, 1); // upgrade of a sub-range: three pieces
    expect(ranges(s)).toEqual([['a', F_RDLCK, 0, 5], ['a', F_RDLCK, 8, 10], ['a', F_WRLCK, 10, 12], ['a', F_RDLCK, 12, 20]]);
    s = setRange(s, 'a', F_RDLCK, 10, 12, 1); // downgrade: merges back with its neighbours
    expect(ranges(s)).toEqual([['a', F_RDLCK, 0, 5], ['a', F_RDLCK, 8, 20]]);
    s = setRange(s, 'a', F_UNLCK, 0, Infinity, 1);
    expect(s.posix).toEqual([]);
  });

  it('conflicts: write against anything of another owner, read against write only, never with oneself', () => {
    let s = setRange(emptyLocks(), 'a', F_RDLCK, 0, 10, 1);
    s = setRange(s, 'b', F_RDLCK, 5, Infinity, 2);
    expect(conflicts(s, 'c', F_RDLCK, 0, 100)).toEqual([]);
    expect(conflicts(s, 'c', F_WRLCK, 9, 10).map((l) => l.owner)).toEqual(['a', 'b']);
    expect(conflicts(s, 'a', F_WRLCK, 0, 5)).toEqual([]);
    expect(conflicts(s, 'a', F_WRLCK, 0, 6).map((l) => l.owner)).toEqual(['b']);
    expect(conflicts(s, 'c', F_WRLCK, 10, 11).map((l) => l.owner)).toEqual(['b']); // to the end of the file
  });

  it('flock is one whole-file lock per owner, apart from POSIX locks', () => {
    let s = setRange(emptyLocks(), 'a', F_WRLCK, 0, Infinity, 1);
    expect(flockConflicts(s, 'b', true)).toEqual([]); // fcntl locks never block a flock
    s = setFlock(s, 'a', false);
    s = setFlock(s, 'b', false);
    expect(flockConflicts(s, 'c', false)).toEqual([]);
    expect(flockConflicts(s, 'a', true).map((f) => f.owner)).toEqual(['b']);
    s = setFlock(s, 'a', true); // converted, still one entry
    expect(s.flock.filter((f) => f.owner === 'a')).toEqual([{ owner: 'a', exclusive: true }]);
    s = dropOwners(s, (o) => o === 'a', 'flock');
    expect(s.flock.map((f) => f.owner)).toEqual(['b']);
    expect(s.posix).toHaveLength(1);
  });

  it('round-trips through its stored form, to-the-end ranges included', () => {
    const s = setFlock(setRange(setRange(emptyLocks(), 's1/7', F_WRLCK, 3, Infinity, 9), 's1/8', F_RDLCK, 0, 2, 10), 's2/1', true);
    expect(decodeLocks(encodeLocks(s))).toEqual(s);
    expect(decodeLocks(null)).toEqual(emptyLocks());
  });

  it('finds wait-for cycles through live waiters only', () => {
    const now = 1000;
    const g = { b: { on: ['c'], until: now + 1 }, c: { on: ['a'], until: now + 1 }, d: { on: ['a'], until: now - 1 } };
    expect(closesCycle(g, 'a', ['b'], now)).toBe(true); // a → b → c → a
    expect(closesCycle(g, 'x', ['b'], now)).toBe(false);
    expect(closesCycle(g, 'a', ['d'], now)).toBe(false); // d's wait expired
  });
});
