import { FsError } from '../../errors/index.js';
import { LOCK_DEFAULTS } from '../../config/defaults.js';
import type { LockRange } from '../types.js';
import {
  F_RDLCK, F_UNLCK, F_WRLCK, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, closesCycle, conflicts, decodeLocks, dropOwners,
  encodeLocks, flockConflicts, isEmpty, lenOf, liveWaits, rangeOf, setFlock, setRange, type LockSet, type WaitGraph,
} from '../locks/table.js';
import type { Op } from './op.js';

/**
 * Shared locks (fcntl record locks and flock), kept in the engine so every mount of the volume
 * sees them: one lock set per inode (MetaTx getLocks/putLocks, the rules in meta/locks/table.ts)
 * and one wait graph per volume (key 0) for EDEADLK. An owner is "session/kernel lock owner", so
 * a session's locks can be found and dropped when it ends. Nothing here blocks: a conflicting
 * request gets EAGAIN, and a waiting one (F_SETLKW, flock without LOCK_NB) is retried by the
 * mount when it hears the inode's locks changed (vfs/locks.ts).
 */
const WAITS = 0;

const ownerKey = (session: string, owner: string) => `${session}/${owner}`;

function check(lock: LockRange): [number, number] {
  const ok = (v: number) => Number.isSafeInteger(v) && v >= 0;
  if (![F_RDLCK, F_WRLCK, F_UNLCK].includes(lock.type)) throw new FsError('EINVAL', `lock type ${lock.type}: use F_RDLCK 0, F_WRLCK 1 or F_UNLCK 2`);
  if (!ok(lock.start) || !ok(lock.len) || !ok(lock.pid)) throw new FsError('EINVAL', 'lock start, len and pid must be non-negative integers');
  return rangeOf(lock.start, lock.len);
}

async function locksOf(op: Op, ino: number): Promise<LockSet> {
  return decodeLocks(await op.tx.getLocks(ino));
}

function store(op: Op, ino: number, set: LockSet): void {
  op.tx.putLocks(ino, isEmpty(set) ? null : encodeLocks(set));
}

/** F_GETLK: the first lock that would block `lock` (type F_UNLCK when none would). */
export async function getlk(op: Op, ino: number, session: string, owner: string, lock: LockRange): Promise<LockRange> {
  const [start, end] = check(lock);
  await op.must(ino);
  if (lock.type === F_UNLCK) throw new FsError('EINVAL', 'F_GETLK asks about F_RDLCK or F_WRLCK, not F_UNLCK');
  const c = conflicts(await locksOf(op, ino), ownerKey(session, owner), lock.type, start, end)[0];
  if (!c) return { type: F_UNLCK, start: lock.start, len: lock.len, pid: 0 };
  return { type: c.type, start: c.start, len: lenOf(c), pid: c.pid };
}

/**
 * F_SETLK / F_SETLKW: set `owner`'s lock over the range (F_UNLCK unlocks). A conflict is EAGAIN;
 * with `wait` the owner is recorded as waiting for the holders first, or EDEADLK when they
 * (transitively) wait for it. `wait` on success clears the owner's wait entry.
 */
export async function setlk(op: Op, ino: number, session: string, owner: string, lock: LockRange, wait: boolean, nowMs: number): Promise<void> {
  const [start, end] = check(lock);
  await op.must(ino);
  const me = ownerKey(session, owner);
  const set = await locksOf(op, ino);
  const blockers = lock.type === F_UNLCK ? [] : conflicts(set, me, lock.type, start, end);
  if (blockers.length === 0) {
    store(op, ino, setRange(set, me, lock.type, start, end, lock.pid));
    if (wait) await setWait(op, me, null, nowMs);
    return;
  }
  if (!wait) throw new FsError('EAGAIN', `inode ${ino}: the range is locked by another owner`);
  const on = [...new Set(blockers.map((l) => l.owner))];
  const graph = liveWaits(await waitsOf(op), nowMs);
  if (closesCycle(graph, me, on, nowMs)) {
    await setWait(op, me, null, nowMs);
    throw new FsError('EDEADLK', `inode ${ino}: waiting for this lock would deadlock`);
  }
  await setWait(op, me, on, nowMs);
  throw new FsError('EAGAIN', `inode ${ino}: the range is locked by another owner (waiting)`);
}

async function waitsOf(op: Op): Promise<WaitGraph> {
  const v = await op.tx.getLocks(WAITS);
  return v === null ? {} : (JSON.parse(v) as WaitGraph);
}

/** Record `me` waiting for `on` (null: not waiting), dropping entries past their deadline. */
async function setWait(op: Op, me: string, on: string[] | null, nowMs: number): Promise<void> {
  const before = await waitsOf(op);
  if (on === null && !(me in before)) return;
  const graph = liveWaits(before, nowMs);
  if (on === null) delete graph[me];
  else graph[me] = { on, until: nowMs + LOCK_DEFAULTS.waitTtlMs };
  op.tx.putLocks(WAITS, Object.keys(graph).length === 0 ? null : JSON.stringify(graph));
}

/** flock(2): LOCK_SH, LOCK_EX or LOCK_UN (| LOCK_NB). A conflict is EAGAIN (EWOULDBLOCK). */
export async function flock(op: Op, ino: number, session: string, owner: string, operation: number): Promise<void> {
  const kind = operation & ~LOCK_NB;
  if (kind !== LOCK_SH && kind !== LOCK_EX && kind !== LOCK_UN) {
    throw new FsError('EINVAL', `flock operation ${operation}: use LOCK_SH 1, LOCK_EX 2 or LOCK_UN 8, optionally | LOCK_NB 4`);
  }
  await op.must(ino);
  const me = ownerKey(session, owner);
  const set = await locksOf(op, ino);
  if (kind === LOCK_UN) { store(op, ino, setFlock(set, me, null)); return; }
  if (flockConflicts(set, me, kind === LOCK_EX).length > 0) throw new FsError('EAGAIN', `inode ${ino}: flock held by another owner`);
  store(op, ino, setFlock(set, me, kind === LOCK_EX));
}

/** A descriptor closed: drop `owner`'s POSIX locks on ino (at flush) or its flock (at the last release). */
export async function releaseLocks(op: Op, ino: number, session: string, owner: string, kind: 'posix' | 'flock'): Promise<void> {
  const raw = await op.tx.getLocks(ino);
  if (raw === null) return;
  const me = ownerKey(session, owner);
  store(op, ino, dropOwners(decodeLocks(raw), (o) => o === me, kind));
}

/** Every lock `session` holds on ino (its last hold went: session end, expiry, last close). */
export async function dropSession(op: Op, ino: number, session: string): Promise<void> {
  const raw = await op.tx.getLocks(ino);
  if (raw === null) return;
  const prefix = `${session}/`;
  const set = decodeLocks(raw);
  const next = dropOwners(set, (o) => o.startsWith(prefix), 'both');
  if (next.posix.length !== set.posix.length || next.flock.length !== set.flock.length) store(op, ino, next);
}
