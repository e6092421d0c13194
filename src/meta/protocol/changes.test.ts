import { describe, expect, it } from 'vitest';
import { ChangeBatch, CHANGES_OF, changesOf, parseChangesFrame } from './changes.js';
import { META_OPS } from './ops.js';

describe('what each mutating op tells other sessions (CHANGES_OF)', () => {
  it('every op that changes what a mount caches has a rule; reads have none', () => {
    const mutating = Object.entries(META_OPS).filter(([, s]) => s.mutating).map(([op]) => op).sort();
    // holds and id reservations change nothing another mount caches
    expect(mutating.filter((op) => !(op in CHANGES_OF))).toEqual(['allocIds', 'open', 'release']);
    for (const [op, s] of Object.entries(META_OPS)) if (!s.mutating) expect(op in CHANGES_OF, op).toBe(false);
  });

  it('names the entries, attributes and data each op changes', () => {
    expect(changesOf('rename', [1, 'a', 7, 'b', {}])).toEqual({ e: [[1, 'a'], [7, 'b']], a: [1, 7] });
    expect(changesOf('link', [9, 2, 'n', {}])).toEqual({ e: [[2, 'n']], a: [9, 2] });
    expect(changesOf('setattr', [5, { mode: 0o600 }, {}])).toEqual({ a: [5], d: [] });
    expect(changesOf('setattr', [5, { size: 0 }, {}])).toEqual({ a: [5], d: [5] });
    expect(changesOf('commit', [{ ino: 8, writes: [], size: 1, mtime: 0n }, {}])).toEqual({ a: [8], d: [8] });
    expect(changesOf('lookup', [1, 'a', {}])).toBeUndefined();
    expect(changesOf('constructor', [])).toBeUndefined();
  });
});

describe('ChangeBatch and the changes frame', () => {
  it('drops duplicates and empties on take', () => {
    const b = new ChangeBatch();
    b.add({ e: [[1, 'x']], a: [1] });
    b.add({ e: [[1, 'x'], [2, 'y']], a: [1, 3], d: [3] });
    expect(b.size).toBe(5);
    expect(b.take()).toEqual({ e: [[1, 'x'], [2, 'y']], a: [1, 3], d: [3] });
    expect(b.empty).toBe(true);
  });

  it('parses what the server sends; "all" and malformed frames mean everything is suspect', () => {
    expect(parseChangesFrame({ t: 'changes', e: [[1, 'n']], a: [2] })).toEqual({ e: [[1, 'n']], a: [2], d: [] });
    expect(parseChangesFrame({ t: 'changes', all: true })).toBeNull();
    expect(parseChangesFrame({ t: 'changes', a: ['x'] })).toBeNull();
    expect(parseChangesFrame({ t: 'changes', e: [[1]] })).toBeNull();
    expect(parseChangesFrame({ id: 3, ok: null })).toBeUndefined();
  });
});
