import type { Changes, CommitRequest, SetAttrChanges } from '../types.js';
import type { MetaOpName } from './ops.js';
import { isObject } from './frames.js';

/** The frame meta.flexfs pushes, unasked, to sessions that said `watch` in their hello. */
export interface ChangesFrame extends Partial<Changes> {
  t: 'changes';
  /** Too many changes queued for this session (a slow reader): everything it caches may be stale. */
  all?: true;
}

type Rule = (args: unknown[]) => Partial<Changes>;
const ino = (v: unknown) => v as number;
const name = (v: unknown) => v as string;

/**
 * Per mutating op (arguments as on the wire, already validated): what it changes. Ops not listed
 * change nothing another mount caches (holds, id reservations, reads).
 */
export const CHANGES_OF: { readonly [K in MetaOpName]?: Rule } = {
  setattr: ([i, changes]) => ({ a: [ino(i)], d: (changes as SetAttrChanges).size !== undefined ? [ino(i)] : [] }),
  mknod: ([p, n]) => ({ e: [[ino(p), name(n)]], a: [ino(p)] }),
  create: ([p, n]) => ({ e: [[ino(p), name(n)]], a: [ino(p)] }),
  mkdir: ([p, n]) => ({ e: [[ino(p), name(n)]], a: [ino(p)] }),
  symlink: ([p, n]) => ({ e: [[ino(p), name(n)]], a: [ino(p)] }),
  link: ([i, p, n]) => ({ e: [[ino(p), name(n)]], a: [ino(i), ino(p)] }),
  unlink: ([p, n]) => ({ e: [[ino(p), name(n)]], a: [ino(p)] }),
  rmdir: ([p, n]) => ({ e: [[ino(p), name(n)]], a: [ino(p)] }),
  rename: ([p, n, np, nn]) => ({ e: [[ino(p), name(n)], [ino(np), name(nn)]], a: [ino(p), ino(np)] }),
  setxattr: ([i]) => ({ a: [ino(i)] }),
  removexattr: ([i]) => ({ a: [ino(i)] }),
  commit: ([req]) => ({ a: [(req as CommitRequest).ino], d: [(req as CommitRequest).ino] }),
  // any lock change may let a waiter through (an unlock, a downgrade, a merge that freed nothing: a spurious retry)
  setlk: ([i]) => ({ l: [ino(i)] }),
  flock: ([i]) => ({ l: [ino(i)] }),
  releaseLocks: ([i]) => ({ l: [ino(i)] }),
};

/** What the call `op(args)` changed, or undefined when it changes nothing others cache. */
export function changesOf(op: string, args: unknown[]): Partial<Changes> | undefined {
  const rule = Object.hasOwn(CHANGES_OF, op) ? CHANGES_OF[op as MetaOpName] : undefined;
  return rule?.(args);
}

/** Collects changes and hands them over as one batch (duplicates dropped). */
export class ChangeBatch {
  private entries = new Map<string, [number, string]>();
  private attrs = new Set<number>();
  private data = new Set<number>();
  private locks = new Set<number>();

  /** Entries, attributes, data and lock items queued. */
  get size(): number {
    return this.entries.size + this.attrs.size + this.data.size + this.locks.size;
  }

  get empty(): boolean {
    return this.size === 0;
  }

  add(c: Partial<Changes>): void {
    for (const [p, n] of c.e ?? []) this.entries.set(`${p}/${n}`, [p, n]);
    for (const i of c.a ?? []) this.attrs.add(i);
    for (const i of c.d ?? []) this.data.add(i);
    for (const i of c.l ?? []) this.locks.add(i);
  }

  take(): Changes {
    const out: Changes = { e: [...this.entries.values()], a: [...this.attrs], d: [...this.data] };
    if (this.locks.size > 0) out.l = [...this.locks];
    this.entries = new Map();
    this.attrs = new Set();
    this.data = new Set();
    this.locks = new Set();
    return out;
  }
}

/**
 * A changes frame off the wire: its changes, `null` for "everything may be stale" (`all`, or a
 * malformed frame: nothing it says can be trusted), undefined when `v` is not a changes frame.
 */
export function parseChangesFrame(v: unknown): Changes | null | undefined {
  if (!isObject(v) || v.t !== 'changes') return undefined;
  if (v.all === true) return null;
  const ints = (x: unknown): number[] | undefined =>
    x === undefined ? [] : Array.isArray(x) && x.every((i) => Number.isSafeInteger(i) && (i as number) > 0) ? (x as number[]) : undefined;
  const a = ints(v.a);
  const d = ints(v.d);
  const l = ints(v.l);
  const e = v.e === undefined ? [] : Array.isArray(v.e) && v.e.every((x) => Array.isArray(x) && x.length === 2
    && Number.isSafeInteger(x[0]) && typeof x[1] === 'string') ? (v.e as [number, string][]) : undefined;
  if (!a || !d || !e || !l) return null;
  return l.length > 0 ? { e, a, d, l } : { e, a, d };
}
