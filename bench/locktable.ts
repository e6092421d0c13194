import { FsError } from '../src/errors/index.js';
import type { FlockLock, FlockRequest, FlushRequest, GetlkRequest, ReleaseRequest, SetlkRequest } from '../src/fuse/lowlevel/types.js';

/**
 * A tiny in-memory lock table for test filesystems on the low-level layer (bench/llmemfs.ts with
 * `--locks`): POSIX record locks by lock owner (getlk/setlk, released by flush with the owner)
 * and flock locks by owner (released by release with flockRelease). Blocking requests (F_SETLKW,
 * flock without LOCK_NB) wait until a change lets them through. It shows the layer carries the
 * lock ops; it is not flexfs's lock manager (that is the distributed-locks issue).
 */
const F_RDLCK = 0;
const F_WRLCK = 1;
const F_UNLCK = 2;
const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

interface Posix { owner: number; pid: number; type: number; start: number; end: number }

export class LockTable {
  private readonly posix = new Map<number, Posix[]>();
  private readonly flocks = new Map<number, Map<number, number>>();
  private waiters: (() => boolean)[] = [];

  private range(l: FlockLock): [number, number] {
    return [l.start, l.len === 0 ? Infinity : l.start + l.len];
  }

  private conflict(ino: number, owner: number, type: number, start: number, end: number): Posix | undefined {
    return (this.posix.get(ino) ?? []).find((l) => l.owner !== owner && l.start < end && start < l.end && (l.type === F_WRLCK || type === F_WRLCK));
  }

  /** Remove `owner`'s locks on [start, end) of `ino` (splitting those that stick out). */
  private cut(ino: number, owner: number, start: number, end: number): void {
    const out: Posix[] = [];
    for (const l of this.posix.get(ino) ?? []) {
      if (l.owner !== owner || l.end <= start || end <= l.start) { out.push(l); continue; }
      if (l.start < start) out.push({ ...l, end: start });
      if (end < l.end) out.push({ ...l, start: end });
    }
    this.posix.set(ino, out);
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
    const [start, end] = this.range(req.lock);
    const c = this.conflict(req.ino, req.lockOwner, req.lock.type, start, end);
    if (!c) return { ...req.lock, type: F_UNLCK };
    return { type: c.type, whence: 0, start: c.start, len: c.end === Infinity ? 0 : c.end - c.start, pid: c.pid };
  }

  setlk(req: SetlkRequest): void | Promise<void> {
    const [start, end] = this.range(req.lock);
    const attempt = (): boolean => {
      if (req.lock.type !== F_UNLCK && this.conflict(req.ino, req.lockOwner, req.lock.type, start, end)) return false;
      this.cut(req.ino, req.lockOwner, start, end);
      if (req.lock.type !== F_UNLCK) this.posix.get(req.ino)!.push({ owner: req.lockOwner, pid: req.lock.pid, type: req.lock.type, start, end });
      this.changed();
      return true;
    };
    if (attempt()) return;
    if (!req.sleep) throw new FsError('EAGAIN', 'lock held by another owner');
    return this.wait(attempt);
  }

  flock(req: FlockRequest): void | Promise<void> {
    const op = req.operation & ~LOCK_NB;
    let held = this.flocks.get(req.ino);
    if (!held) this.flocks.set(req.ino, held = new Map());
    const table = held;
    const attempt = (): boolean => {
      if (op === LOCK_UN) {
        table.delete(req.lockOwner);
      } else {
        for (const [owner, kind] of table) if (owner !== req.lockOwner && (kind === LOCK_EX || op === LOCK_EX)) return false;
        table.set(req.lockOwner, op === LOCK_EX ? LOCK_EX : LOCK_SH);
      }
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
    this.cut(req.ino, req.lockOwner, 0, Infinity);
    this.changed();
  }

  /** Last close of an open file: its flock goes (the kernel says so with flockRelease). */
  release(req: ReleaseRequest): void {
    if (req.flockRelease) this.flocks.get(req.ino)?.delete(req.lockOwner);
    this.changed();
  }

  /** Locks held now (for the stats). */
  held(): { posix: number; flock: number } {
    let posix = 0;
    let flock = 0;
    for (const l of this.posix.values()) posix += l.length;
    for (const f of this.flocks.values()) flock += f.size;
    return { posix, flock };
  }
}
