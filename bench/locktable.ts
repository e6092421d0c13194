import { FsError } from '../src/errors/index.js';
import {
  F_UNLCK, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, conflicts, dropOwners, emptyLocks, flockConflicts, lenOf, rangeOf, setFlock, setRange,
  type LockSet,
} from '../src/meta/locks/table.js';
import type { FlockLock, FlockRequest, FlushRequest, GetlkRequest, ReleaseRequest, SetlkRequest } from '../src/fuse/lowlevel/types.js';

/**
 * A tiny in-memory lock table for test filesystems on the low-level layer (bench/llmemfs.ts with
 * `--locks`): POSIX record locks by lock owner (getlk/setlk, released by flush with the owner)
 * and flock locks by owner (released by release with flockRelease). Blocking requests (F_SETLKW,
 * flock without LOCK_NB) wait until a change lets them through. It shows the layer carries the
 * lock ops; the rules are flexfs's (src/meta/locks/table.ts), while flexfs itself keeps locks in the metadata server (meta/core/locks.ts).
 */

export class LockTable {
  /** Per inode; the rules are flexfs's own (src/meta/locks/table.ts), owners the kernel's lock owners. */
  private readonly sets = new Map<number, LockSet>();
  private waiters: (() => boolean)[] = [];

  private of(ino: number): LockSet {
    return this.sets.get(ino) ?? emptyLocks();
  }

  private retrying = false;
  private again = false;

  /** Retry waiting requests after a change (those that got through leave the list). */
  private changed(): void {
    if (this.retrying) { this.again = true; return; }
    this.retrying = true;
    try {
      do {
        this.again = false;
        this.waiters = this.waiters.filter((w) => !w());
      } while (this.again);
    } finally {
      this.retrying = false;
    }
  }

  private wait(attempt: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const w = () => {
        try {
          if (!attempt()) return false;
          resolve();
        } catch (e) {
          reject(e);
        }
        return true;
      };
      this.waiters.push(w);
    });
  }

  getlk(req: GetlkRequest): FlockLock {
    const [start, end] = rangeOf(req.lock.start, req.lock.len);
    const c = conflicts(this.of(req.ino), String(req.lockOwner), req.lock.type, start, end)[0];
    if (!c) return { ...req.lock, type: F_UNLCK };
    return { type: c.type, whence: 0, start: c.start, len: lenOf(c), pid: c.pid };
  }

  setlk(req: SetlkRequest): void | Promise<void> {
    const [start, end] = rangeOf(req.lock.start, req.lock.len);
    const owner = String(req.lockOwner);
    const attempt = (): boolean => {
      const set = this.of(req.ino);
      if (req.lock.type !== F_UNLCK && conflicts(set, owner, req.lock.type, start, end).length > 0) return false;
      this.sets.set(req.ino, setRange(set, owner, req.lock.type, start, end, req.lock.pid));
      this.changed();
      return true;
    };
    if (attempt()) return;
    if (!req.sleep) throw new FsError('EAGAIN', 'lock held by another owner');
    return this.wait(attempt);
  }

  flock(req: FlockRequest): void | Promise<void> {
    const op = req.operation & ~LOCK_NB;
    const owner = String(req.lockOwner);
    const attempt = (): boolean => {
      const set = this.of(req.ino);
      if (op !== LOCK_UN && flockConflicts(set, owner, op === LOCK_EX).length > 0) return false;
      this.sets.set(req.ino, setFlock(set, owner, op === LOCK_UN ? null : op === LOCK_EX));
      this.changed();
      return true;
    };
    if (op !== LOCK_UN && op !== LOCK_SH && op !== LOCK_EX) throw new FsError('EINVAL', `flock operation ${req.operation}`);
    if (attempt()) return;
    if (req.operation & LOCK_NB) throw new FsError('EAGAIN', 'flock held by another owner');
    return this.wait(attempt);
  }

  /** Close of a descriptor: the owner's POSIX locks on the inode go. */
  flush(req: FlushRequest): void {
    const owner = String(req.lockOwner);
    this.sets.set(req.ino, dropOwners(this.of(req.ino), (o) => o === owner, 'posix'));
    this.changed();
  }

  /** Last close of an open file: its flock goes (the kernel says so with flockRelease). */
  release(req: ReleaseRequest): void {
    const owner = String(req.lockOwner);
    if (req.flockRelease) this.sets.set(req.ino, dropOwners(this.of(req.ino), (o) => o === owner, 'flock'));
    this.changed();
  }

  /** Locks held now (for the stats). */
  held(): { posix: number; flock: number } {
    let posix = 0;
    let flock = 0;
    for (const s of this.sets.values()) { posix += s.posix.length; flock += s.flock.length; }
    return { posix, flock };
  }
}
