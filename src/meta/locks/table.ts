/**
 * The lock rules, once: POSIX record locks (fcntl F_GETLK/F_SETLK/F_SETLKW, lockf) and flock(2)
 * locks of one inode, as Linux keeps them. Pure functions over a `LockSet`; the metadata core
 * (meta/core/locks.ts) stores one per inode in the engine, the llmemfs bench (bench/locktable.ts)
 * keeps them in memory.
 *
 * - POSIX locks belong to an owner (a string: the metadata core makes it "session/kernel owner"),
 *   cover [start, end) (end Infinity: to the end of the file, any size) and are read (shared) or
 *   write (exclusive). Setting a range replaces the owner's locks over it (upgrade, downgrade,
 *   unlock split what sticks out); the owner's locks of the same type that touch or overlap the
 *   new one merge with it. Locks of one owner never conflict with each other.
 * - flock locks are whole-file, one per owner (an open file description), shared or exclusive,
 *   and separate from POSIX locks: a flock never conflicts with an fcntl lock (Linux).
 */
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

export interface RangeLock {
  owner: string;
  /** F_RDLCK or F_WRLCK. */
  type: number;
  start: number;
  /** Exclusive; Infinity: to the end of the file. */
  end: number;
  pid: number;
}

export interface FlockHold {
  owner: string;
  exclusive: boolean;
}

export interface LockSet {
  posix: RangeLock[];
  flock: FlockHold[];
}

export const emptyLocks = (): LockSet => ({ posix: [], flock: [] });
export const isEmpty = (s: LockSet): boolean => s.posix.length === 0 && s.flock.length === 0;

/** [start, end) of fcntl's (start, len): len 0 reaches the end of the file. */
export function rangeOf(start: number, len: number): [number, number] {
  return [start, len === 0 ? Infinity : start + len];
}

/** The fcntl `len` of a lock's range (0: to the end). */
export const lenOf = (l: RangeLock): number => (l.end === Infinity ? 0 : l.end - l.start);

const clash = (a: number, b: number) => a === F_WRLCK || b === F_WRLCK;

/** Other owners' POSIX locks that conflict with `owner` taking `type` over [start, end). */
export function conflicts(set: LockSet, owner: string, type: number, start: number, end: number): RangeLock[] {
  return set.posix.filter((l) => l.owner !== owner && l.start < end && start < l.end && clash(l.type, type));
}

/**
 * Set `owner`'s POSIX lock over [start, end) to `type` (F_UNLCK removes it), without a conflict
 * check (the caller made it). Returns the new set; the input is not changed.
 */
export function setRange(set: LockSet, owner: string, type: number, start: number, end: number, pid: number): LockSet {
  const out: RangeLock[] = [];
  let s = start;
  let e = end;
  for (const l of set.posix) {
    if (l.owner !== owner) { out.push(l); continue; }
    if (type !== F_UNLCK && l.type === type && l.start <= e && s <= l.end) {
      // same type, touching or overlapping: merged into the new lock
      s = Math.min(s, l.start);
      e = Math.max(e, l.end);
      continue;
    }
    if (l.end <= start || end <= l.start) { out.push(l); continue; }
    if (l.start < start) out.push({ ...l, end: start });
    if (end < l.end) out.push({ ...l, start: end });
  }
  if (type !== F_UNLCK) out.push({ owner, type, start: s, end: e, pid });
  out.sort((a, b) => a.start - b.start || (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
  return { posix: out, flock: set.flock };
}

/** Other owners whose flock conflicts with `owner` taking a shared or an exclusive one. */
export function flockConflicts(set: LockSet, owner: string, exclusive: boolean): FlockHold[] {
  return set.flock.filter((f) => f.owner !== owner && (f.exclusive || exclusive));
}

/** `owner`'s flock set to shared, exclusive or none (`exclusive` null), without a conflict check. */
export function setFlock(set: LockSet, owner: string, exclusive: boolean | null): LockSet {
  const flock = set.flock.filter((f) => f.owner !== owner);
  if (exclusive !== null) flock.push({ owner, exclusive });
  return { posix: set.posix, flock };
}

/** Drop every lock whose owner `match`es, of one kind or both. */
export function dropOwners(set: LockSet, match: (owner: string) => boolean, kind: 'posix' | 'flock' | 'both'): LockSet {
  return {
    posix: kind === 'flock' ? set.posix : set.posix.filter((l) => !match(l.owner)),
    flock: kind === 'posix' ? set.flock : set.flock.filter((f) => !match(f.owner)),
  };
}

/** A stored lock set: JSON, with end Infinity as null. */
export function encodeLocks(set: LockSet): string {
  return JSON.stringify({
    p: set.posix.map((l) => [l.owner, l.type, l.start, l.end === Infinity ? null : l.end, l.pid]),
    f: set.flock.map((f) => [f.owner, f.exclusive ? 1 : 0]),
  });
}

export function decodeLocks(v: string | null): LockSet {
  if (v === null) return emptyLocks();
  const o = JSON.parse(v) as { p: [string, number, number, number | null, number][]; f: [string, number][] };
  return {
    posix: o.p.map(([owner, type, start, end, pid]) => ({ owner, type, start, end: end === null ? Infinity : end, pid })),
    flock: o.f.map(([owner, ex]) => ({ owner, exclusive: ex === 1 })),
  };
}

/**
 * Who waits for whom (F_SETLKW), for deadlock detection: waiter owner → the owners it waits for.
 * Entries carry a deadline: a waiter that went away without saying so (killed, interrupted)
 * stops counting once its entry is older than the wait TTL.
 */
export type WaitGraph = Record<string, { on: string[]; until: number }>;

/** True when `owner` waiting for `blockers` closes a cycle: some blocker waits (transitively) for `owner`. */
export function closesCycle(graph: WaitGraph, owner: string, blockers: string[], now: number): boolean {
  const seen = new Set<string>();
  const stack = [...blockers];
  while (stack.length > 0) {
    const o = stack.pop()!;
    if (o === owner) return true;
    if (seen.has(o)) continue;
    seen.add(o);
    const w = graph[o];
    if (w && w.until >= now) stack.push(...w.on);
  }
  return false;
}

/** The graph without entries past their deadline. */
export function liveWaits(graph: WaitGraph, now: number): WaitGraph {
  const out: WaitGraph = {};
  for (const [k, w] of Object.entries(graph)) if (w.until >= now) out[k] = w;
  return out;
}
